"""The capacity curve: the same strategy run again at larger sizes under the same fill model.

``capacity_curve`` reruns a backtest at each size ``k`` (1x, 10x, 100x by default) with the
starting cash and every strategy's ``qty`` parameter multiplied by ``k`` (a strategy that
sizes by a fraction of equity grows with the cash alone), each run journaled in memory. Under
``next_open`` the returns are the same at every size; under volume participation and impact
they fall as the orders grow against the bars' volume: the figure a quant reads to see how much
money the strategy can run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec

from workstation.research.backtest import Backtest, BacktestConfig, BarSeries, StrategySpec

SIZES = (1, 10, 100)


def scaled(spec: StrategySpec, k: int) -> StrategySpec:
    """``spec`` with its strategy's ``qty`` parameter (given or default) multiplied by ``k``."""
    param = spec.cls.parameters().get("qty")
    if param is None or k == 1:
        return spec
    qty = Decimal(str(spec.params.get("qty", param.default)))
    return StrategySpec(spec.cls, {**spec.params, "qty": qty * k}, spec.symbols, spec.name, spec.allocation)


def capacity_curve(
    series: Sequence[BarSeries], specs: Sequence[StrategySpec], config: BacktestConfig,
    sizes: Sequence[int] = SIZES, *, warmup: Sequence[BarSeries] = (), first: Any = None,
) -> list[dict[str, Any]]:
    """One row per size: its return and costs (money as Decimal strings). ``warmup``: the bars
    before the run the 1x run had (so every size sees the same history); ``first``: the 1x
    result when it was already run (it is not run again)."""
    from workstation.research.figures import costs

    rows: list[dict[str, Any]] = []
    for k in sizes:
        if k == 1 and first is not None:
            result = first
        else:
            cfg = msgspec.structs.replace(config, cash=config.cash * k)
            result = asyncio.run(Backtest(list(series), [scaled(s, k) for s in specs], cfg, warmup=warmup).run())
        c = costs(result)
        ret = float(result.final_equity / result.initial_cash - 1)
        rows.append({
            "size": k, "cash": str(result.initial_cash), "final_equity": str(result.final_equity),
            "total_return": ret, "fills": result.fill_count,
            **{name: str(c[name]) for name in ("commission", "spread", "impact", "total")},
        })
    return rows


__all__ = ["SIZES", "capacity_curve", "scaled"]
