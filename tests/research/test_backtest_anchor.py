"""Correctness anchor: our backtest of a long-only SMA crossover equals backtrader's to the cent.

backtrader (a test-only dependency) with its default broker: market orders fill at the next
bar's open, no commission; ``SMA`` indicators and ``CrossOver`` (a cross when the sign of
fast - slow changes; a zero difference keeps the previous sign). Ours: the shipped
``ma_crossover`` plugin through the order manager, risk, portfolio and the bar-matching
simulated broker.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

bt = pytest.importorskip("backtrader")

from plugins.ma_crossover import MaCrossover  # noqa: E402
from workstation.research.backtest import StrategySpec, load_series, run_backtest  # noqa: E402

DATA = Path(__file__).parents[1] / "data" / "orcl-1995-2014.txt"


class _Cross(bt.Strategy):
    params = (("fast", 10), ("slow", 30))

    def __init__(self) -> None:
        self.cross = bt.ind.CrossOver(bt.ind.SMA(period=self.p.fast), bt.ind.SMA(period=self.p.slow))
        self.trades: list[tuple[str, str, float, float]] = []

    def next(self) -> None:
        if not self.position and self.cross > 0:
            self.buy(size=100)
        elif self.position and self.cross < 0:
            self.close()

    def notify_order(self, order) -> None:
        if order.status == order.Completed:
            day = bt.num2date(order.executed.dt).date().isoformat()
            side = "buy" if order.isbuy() else "sell"
            self.trades.append((day, side, order.executed.size, order.executed.price))


def _backtrader(fast: int, slow: int) -> tuple[list[tuple[str, str, Decimal, Decimal]], Decimal]:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname=str(DATA), adjclose=False, round=False))
    cerebro.addstrategy(_Cross, fast=fast, slow=slow)
    cerebro.broker.setcash(100_000.0)
    strat = cerebro.run()[0]
    fills = [(d, s, Decimal(abs(int(q))), Decimal(repr(p)).quantize(Decimal("0.000001"))) for d, s, q, p in strat.trades]
    return fills, Decimal(repr(cerebro.broker.getvalue())).quantize(Decimal("0.01"))


@pytest.mark.parametrize(("fast", "slow"), [(10, 30), (5, 20)])
def test_sma_crossover_matches_backtrader_to_the_cent(fast: int, slow: int) -> None:
    theirs, their_equity = _backtrader(fast, slow)
    result = run_backtest([load_series(DATA)], [StrategySpec(MaCrossover, {"fast": fast, "slow": slow, "qty": 100})])
    ours = [
        (datetime.fromtimestamp(f.ts, tz=timezone.utc).date().isoformat(), f.side.value, f.qty, f.price)
        for f in result.fills
    ]
    assert len(ours) > 50
    assert ours == theirs
    assert result.final_equity.quantize(Decimal("0.01")) == their_equity
    assert result.positions.get("ORCL", Decimal(0)) in (Decimal(0), Decimal(100))  # the last position stays open
