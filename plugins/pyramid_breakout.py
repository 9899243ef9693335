"""A channel breakout that adds to a winner and takes profit in parts (long only).

The example of ``workstation.sizing``'s ``Pyramid`` and ``ScaleOut``: the helpers say how
much and when; every order still goes through ``ctx`` (the order manager and risk checks).
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from workstation.core.model import Bar
from workstation.strategies.api import Param, Strategy
from workstation.sizing import Pyramid, ScaleOut


class PyramidBreakout(Strategy):
    """Buy ``qty`` when a bar closes above the highest high of the previous ``entry`` bars,
    with a stop at the lowest low of the previous ``stop_bars`` bars (that distance is 1R).
    Add ``step`` each time the close has gained ``trigger`` percent since the last add (at
    most ``max_adds`` adds, ``max_qty`` in all) until the first target; exit a third at
    ``target1`` R, a third at ``target2`` R and the rest at ``final`` R, or (``final`` 0) on a
    stop trailing ``trail`` R behind the best close; the stop moves to the entry after the
    first target. A close at or below the stop sells everything."""

    name = "pyramid_breakout"
    entry = Param(20, min=1, max=10_000, description="breakout channel length, in bars")
    stop_bars = Param(10, min=1, max=10_000, description="the first stop: the lowest low of this many bars")
    qty = Param(Decimal(100), min=Decimal("0.00000001"), description="units bought on a breakout")
    step = Param(Decimal(50), min=Decimal("0.00000001"), description="units added each time")
    trigger = Param(Decimal(2), min=Decimal("0.01"), max=Decimal(100), description="percent gained since the last add before the next")
    max_adds = Param(2, min=0, max=100, description="adds at most")
    max_qty = Param(Decimal(200), min=Decimal("0.00000001"), description="units held at most, adds included")
    target1 = Param(Decimal(1), min=Decimal("0.1"), max=Decimal(100), description="first target, in R")
    target2 = Param(Decimal(2), min=Decimal("0.1"), max=Decimal(100), description="second target, in R")
    final = Param(Decimal(0), min=Decimal(0), max=Decimal(100), description="the rest's target in R (0: trail instead)")
    trail = Param(Decimal(1), min=Decimal("0.1"), max=Decimal(100), description="trailing stop for the rest, in R")
    bar_seconds = Param(60, min=1, max=86_400, description="bar size in seconds")

    @classmethod
    def check(cls, params: dict) -> str | None:
        if params["target2"] <= params["target1"]:
            return "target2 must be beyond target1"
        if params["final"] and params["final"] <= params["target2"]:
            return "final must be beyond target2 (or 0)"
        if params["max_qty"] < params["qty"]:
            return "max_qty must be at least qty"
        return None

    def on_start(self) -> None:
        size = max(self.entry, self.stop_bars)
        self.bars: dict[str, deque[Bar]] = {
            s: deque(self.ctx.history(s, self.bar_seconds, size), maxlen=size) for s in self.ctx.symbols
        }
        self.pyramids: dict[str, Pyramid | None] = {}
        self.exits: dict[str, ScaleOut | None] = {}
        self.ctx.subscribe(self.ctx.symbols, bars=self.bar_seconds, quotes=False)

    def _plan(self, symbol: str, entry: Decimal, stop: Decimal, held: Decimal) -> ScaleOut:
        return ScaleOut.plan(self.ctx.instrument(symbol), "long", entry, stop, held, at=(self.target1, self.target2),
                             final=self.final or None, trail=None if self.final else self.trail)

    def on_bar(self, bar: Bar) -> None:
        past = self.bars[bar.symbol]
        try:
            self._decide(bar, past)
        finally:
            past.append(bar)

    def _decide(self, bar: Bar, past: deque[Bar]) -> None:
        sym = bar.symbol
        heading = self.ctx.qty(sym) + self.ctx.pending(sym)
        plan = self.exits.get(sym)
        if heading <= 0:
            self.pyramids[sym] = self.exits[sym] = plan = None
        if plan is None:
            if heading > 0 or len(past) < max(self.entry, self.stop_bars):
                return
            high = max(b.high for b in list(past)[-self.entry:])
            stop = min(b.low for b in list(past)[-self.stop_bars:])
            qty = self.ctx.sizing.fixed(sym, self.qty)
            if bar.close <= high or stop >= bar.close or qty <= 0:
                return
            inst = self.ctx.instrument(sym)
            self.pyramids[sym] = Pyramid.start(inst, "long", bar.close, qty, step=self.step, trigger=self.trigger,
                                               max_adds=self.max_adds, max_qty=self.max_qty)
            self.exits[sym] = self._plan(sym, bar.close, stop, qty)
            self.ctx.log(f"{sym} closed {bar.close} above the {self.entry}-bar high {high}: buy {qty}, stop {stop}")
            self.ctx.buy(sym, qty)
            return
        plan, out = plan.decide(bar.close)
        self.exits[sym] = plan
        if out.qty > 0:
            self.pyramids[sym] = None  # no more adds once profit is being taken
            qty = heading if plan.remaining <= 0 else min(out.qty, heading)
            self.ctx.log(f"{sym} closed {bar.close}: {out.reason}, sell {qty}")
            self.ctx.sell(sym, qty)
            return
        pyramid = self.pyramids.get(sym)
        if pyramid is None:
            return
        pyramid, add = pyramid.decide(bar.close)
        self.pyramids[sym] = pyramid
        if add > 0:
            self.exits[sym] = self._plan(sym, plan.entry, plan.stop, pyramid.held)
            self.ctx.log(f"{sym} closed {bar.close}, {self.trigger}% above the last add: add {add}")
            self.ctx.buy(sym, add)
