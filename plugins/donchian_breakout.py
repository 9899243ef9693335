"""Donchian channel breakout, long only: buy a new high, sell a new low."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from workstation.core.model import Bar
from workstation.strategies.api import Param, Strategy


class DonchianBreakout(Strategy):
    """Buy ``qty`` when a bar closes above the highest high of the previous ``entry`` bars;
    sell to flat when one closes below the lowest low of the previous ``exit`` bars."""

    name = "donchian_breakout"
    entry = Param(20, min=1, max=10_000, description="breakout channel length, in bars")
    exit = Param(10, min=1, max=10_000, description="exit channel length, in bars")
    qty = Param(Decimal(100), min=Decimal("0.00000001"), description="units bought on a breakout")
    bar_seconds = Param(60, min=1, max=86_400, description="bar size in seconds")

    def on_start(self) -> None:
        size = max(self.entry, self.exit)
        self.bars: dict[str, deque[Bar]] = {
            s: deque(self.ctx.history(s, self.bar_seconds, size), maxlen=size) for s in self.ctx.symbols
        }
        self.ctx.subscribe(self.ctx.symbols, bars=self.bar_seconds, quotes=False)

    def on_bar(self, bar: Bar) -> None:
        past = self.bars[bar.symbol]
        heading = self.ctx.qty(bar.symbol) + self.ctx.pending(bar.symbol)
        if len(past) >= self.entry and heading <= 0:
            high = max(b.high for b in list(past)[-self.entry:])
            if bar.close > high:
                qty = self.ctx.sizing.fixed(bar.symbol, self.qty)
                if qty > 0:
                    self.ctx.log(f"{bar.symbol} closed {bar.close} above the {self.entry}-bar high {high}: buy {qty}")
                    self.ctx.buy(bar.symbol, qty)
        elif len(past) >= self.exit and heading > 0:
            low = min(b.low for b in list(past)[-self.exit:])
            if bar.close < low:
                self.ctx.log(f"{bar.symbol} closed {bar.close} below the {self.exit}-bar low {low}: sell {heading}")
                self.ctx.sell(bar.symbol, heading)
        past.append(bar)
