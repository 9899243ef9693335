"""Execution benchmarks: each algorithm's parent order against its arrival price and the interval VWAP.

A parent is the work of one execution-algorithm instance (TWAP, VWAP, POV, or any strategy
with the parent-order parameters ``side``, ``qty`` and ``duration``): its fills in its one
symbol. For each, the average fill price is compared with

- the arrival price: the mid when the parent started, that is the decision price of its first
  child (the quote's mid live; in a backtest the last close, the only price there is);
- the interval VWAP: the market's volume-weighted average price over the execution, from
  the first child to the last fill, on the bars that opened in that interval (each bar at its
  typical price, (high + low + close) / 3, weighted by its volume). None when no bar with
  volume is at hand (a live journal without bars, or bars without volume).

Costs are in basis points of the benchmark, signed so that positive is a cost: a buy above
its benchmark, a sell below it. Prices and quantities are Decimal; the VWAP comes from market
data (floats) and the bps are figures (floats).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from workstation.core.model import Bar, Fill, Order, Side, iso

PARENT_PARAMS = ("side", "qty", "duration")  # what every execution algorithm's parent order declares
_PLACES = Decimal("1e-8")
BarsFor = Callable[[str, float, float], Sequence[Bar]]  # (symbol, start, end) -> bars


@dataclass(frozen=True, slots=True)
class ParentExecution:
    """One algorithm's parent order as executed, with its benchmarks."""

    strategy: str
    algorithm: str
    symbol: str
    side: Side
    target: Decimal  # the parent's quantity
    filled: Decimal
    avg_price: Decimal | None
    start: float  # the first child's creation
    end: float  # the last fill (the start when nothing filled)
    arrival: Decimal | None
    vs_arrival_bps: float | None
    interval_vwap: float | None
    vs_vwap_bps: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy, "algorithm": self.algorithm, "symbol": self.symbol, "side": self.side.value,
            "target": self.target, "filled": self.filled, "avg_price": self.avg_price, "start": iso(self.start),
            "end": iso(self.end), "arrival": self.arrival, "vs_arrival_bps": self.vs_arrival_bps,
            "interval_vwap": self.interval_vwap, "vs_vwap_bps": self.vs_vwap_bps,
        }


def cost_bps(side: Side, price: Decimal, benchmark: Decimal | float | None) -> float | None:
    """``price`` against ``benchmark`` in basis points, positive when it cost: a buy above it, a sell below."""
    if benchmark is None:
        return None
    bench = benchmark if isinstance(benchmark, Decimal) else Decimal(repr(float(benchmark)))
    if bench <= 0:
        return None
    return float((price - bench) / bench * 10_000 * side.sign)


def interval_vwap(bars: Iterable[Bar], start: float, end: float) -> float | None:
    """The volume-weighted typical price of the bars that opened from ``start`` to ``end``."""
    value = volume = 0.0
    for b in bars:
        if start <= b.ts <= end and b.volume > 0:
            value += (b.high + b.low + b.close) / 3.0 * b.volume
            volume += b.volume
    return value / volume if volume > 0 else None


def is_algorithm(params: Mapping[str, Any]) -> bool:
    return all(p in params for p in PARENT_PARAMS)


def parents(
    algorithms: Mapping[str, tuple[str, Mapping[str, Any]]],
    orders: Iterable[Order],
    fills: Iterable[Fill],
    bars: BarsFor | None = None,
) -> list[ParentExecution]:
    """Each algorithm's parent (``algorithms``: strategy name -> (plugin, params)) from its
    orders and fills; ``bars(symbol, start, end)`` gives the market's bars for the interval VWAP."""
    first: dict[str, Order] = {}
    for o in orders:
        if o.strategy in algorithms and (o.strategy not in first or o.created < first[o.strategy].created):
            first[o.strategy] = o
    qty: dict[str, Decimal] = {}
    notional: dict[str, Decimal] = {}
    last: dict[str, float] = {}
    for f in fills:
        if f.strategy in algorithms:
            qty[f.strategy] = qty.get(f.strategy, Decimal(0)) + f.qty
            notional[f.strategy] = notional.get(f.strategy, Decimal(0)) + f.qty * f.price
            last[f.strategy] = max(last.get(f.strategy, f.ts), f.ts)
    found = []
    for name, (plugin, params) in algorithms.items():
        o = first.get(name)
        if o is None:
            continue
        side = Side(str(params.get("side", o.side.value)))
        filled = qty.get(name, Decimal(0))
        avg = (notional[name] / filled).quantize(_PLACES) if filled else None  # (to 8 decimals)
        end = last.get(name, o.created)
        vwap = interval_vwap(bars(o.symbol, o.created, end), o.created, end) if bars is not None and filled else None
        found.append(ParentExecution(
            strategy=name, algorithm=plugin, symbol=o.symbol, side=side, target=Decimal(str(params["qty"])),
            filled=filled, avg_price=avg, start=o.created, end=end, arrival=o.decision_price,
            vs_arrival_bps=cost_bps(side, avg, o.decision_price) if avg is not None else None,
            interval_vwap=vwap, vs_vwap_bps=cost_bps(side, avg, vwap) if avg is not None else None,
        ))
    return found


def for_backtest(result: Any) -> list[ParentExecution]:
    """The parents of a ``BacktestResult``'s execution algorithms, benchmarked on its bars."""
    algos = {n: (s["plugin"], s["params"]) for n, s in result.strategies.items() if is_algorithm(s["params"])}
    if not algos:
        return []
    series = {s.symbol: s for s in result.series}

    def bars(symbol: str, start: float, end: float) -> list[Bar]:
        s = series.get(symbol)
        if s is None:
            return []
        lo, hi = int(np.searchsorted(s.ts, start, "left")), int(np.searchsorted(s.ts, end, "right"))
        return [s.bar(i) for i in range(lo, hi)]

    return parents(algos, result.iter_orders(), result.iter_fills(), bars)


def document(found: Sequence[ParentExecution]) -> list[dict[str, Any]]:
    return [p.as_dict() for p in found]


def table(found: Sequence[ParentExecution]) -> Any:
    """A Rich table of the parents (None when there are none)."""
    if not found:
        return None
    from rich.table import Table

    t = Table(title="Execution algorithms vs benchmarks (bps > 0 is a cost)", title_justify="left")
    for col in ("strategy", "symbol", "side", "filled", "avg price", "arrival", "bps", "interval VWAP", "bps"):
        t.add_column(col, justify="left" if col in ("strategy", "symbol", "side") else "right")

    def bps(v: float | None) -> str:
        return "-" if v is None else f"{v:+,.2f}"

    for p in found:
        t.add_row(
            f"{p.strategy} ({p.algorithm})" if p.algorithm != p.strategy else p.strategy, p.symbol, p.side.value,
            f"{p.filled:,} of {p.target:,}", "-" if p.avg_price is None else f"{p.avg_price:,.4f}",
            "-" if p.arrival is None else f"{p.arrival:,.4f}", bps(p.vs_arrival_bps),
            "-" if p.interval_vwap is None else f"{p.interval_vwap:,.4f}", bps(p.vs_vwap_bps),
        )
    return t


def journal_algorithms(journal: Any) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """The execution algorithms a journal saw started (its ``strategy.start`` events): name -> (plugin, params)."""
    found: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for _seq, _ts, _kind, _ref, data in journal.events("strategy.start"):
        if isinstance(data, dict) and isinstance(data.get("params"), dict) and is_algorithm(data["params"]):
            found[str(data.get("name"))] = (str(data.get("plugin")), data["params"])
    return found


def paper_bars(profile: Any) -> BarsFor | None:
    """The paper market's own bars for a paper (``sim``) profile: it is deterministic, so the bars
    over a past interval are those its quotes printed (1-second bars for an execution of up to an
    hour, else 1-minute). None for any other broker (its history is not read here)."""
    if getattr(profile, "broker", None) != "sim":
        return None
    from brokers.factory import create_broker
    from workstation.core.clock import SimClock

    from workstation.core.config import ConfigError

    try:
        market = create_broker(profile, SimClock(0.0)).market  # (a broker never connected: no task, no network)
    except ConfigError:
        return None

    def bars(symbol: str, start: float, end: float) -> list[Bar]:
        seconds = 1 if end - start <= 3_600 else 60
        try:
            return market.bars(symbol, seconds, start, end + seconds / 2)
        except (ValueError, KeyError, LookupError):  # a symbol the paper market does not make
            return []

    return bars
