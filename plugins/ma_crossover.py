"""Moving-average crossover, long only: buy on a cross up, sell to flat on a cross down."""

from __future__ import annotations

from decimal import Decimal

from workstation.core.indicators import SMACross
from workstation.core.model import ZERO, Bar
from workstation.strategies.api import Param, Strategy


class MaCrossover(Strategy):
    """Buy ``qty`` when the fast SMA of closes crosses above the slow one; sell to flat when it
    crosses back below. One position per symbol, long only."""

    name = "ma_crossover"
    fast = Param(10, min=1, max=10_000, description="fast SMA length, in bars")
    slow = Param(30, min=2, max=10_000, description="slow SMA length, in bars")
    qty = Param(Decimal(100), min=Decimal("0.00000001"), description="units bought on a cross up")
    bar_seconds = Param(60, min=1, max=86_400, description="bar size in seconds")
    fraction = Param(Decimal(0), min=Decimal(0), max=Decimal(1), description="fraction of capital per entry (0: use qty)")

    @classmethod
    def check(cls, p):
        if p["fast"] >= p["slow"]:
            return f"fast ({p['fast']}) must be shorter than slow ({p['slow']})"
        return None

    def on_start(self) -> None:
        self.averages = {s: SMACross(self.fast, self.slow) for s in self.ctx.symbols}
        self.above: dict[str, bool | None] = {s: None for s in self.ctx.symbols}
        for symbol in self.ctx.symbols:  # warm up on history, so the first live bar can signal
            for bar in self.ctx.history(symbol, self.bar_seconds, self.slow + 1):
                self._cross(bar)
        self.ctx.subscribe(self.ctx.symbols, bars=self.bar_seconds, quotes=False)

    def _cross(self, bar: Bar) -> bool | None:
        """Update the averages; the new side (True: fast above slow) when they crossed."""
        averages = self.averages[bar.symbol]
        diff = averages.update(bar.close)  # fast - slow: NaN while warming up
        if (diff > 0) == self.above[bar.symbol]:
            return None
        return self._side_change(bar.symbol, diff, averages)

    def _side_change(self, symbol: str, diff: float, averages: SMACross) -> bool | None:
        """The averages are not on their stored side: store the new one (unless they are equal
        or not ready yet); it is a cross when there was a side before."""
        if diff != diff:
            return None  # not ready
        was = self.above[symbol]
        if was is not None and abs(diff) <= 1e-12 * abs(averages.slow):
            return None  # equal averages (up to float noise in their sums) keep the previous side
        above = self.above[symbol] = diff > 0
        return above if was is not None else None

    def on_bar(self, bar: Bar) -> None:
        averages = self.averages[bar.symbol]
        diff = averages.update(bar.close)
        if (diff > 0) == self.above[bar.symbol]:  # the usual case: the same side (``_cross``, inline)
            return
        above = self._side_change(bar.symbol, diff, averages)
        if above is None:
            return
        f, s = averages.fast, averages.slow
        heading = self.ctx.qty(bar.symbol) + self.ctx.pending(bar.symbol)
        if above and heading <= ZERO:
            if self.fraction > ZERO:
                qty = self.ctx.sizing.fraction_of_capital(bar.symbol, self.fraction, bar.close)
            else:
                qty = self.ctx.sizing.fixed(bar.symbol, self.qty)
            if qty > ZERO:
                self.ctx.log(f"{bar.symbol} fast SMA {f:.4f} crossed above slow {s:.4f}: buy {qty}")
                self.ctx.buy(bar.symbol, qty)
        elif not above and heading > ZERO:
            self.ctx.log(f"{bar.symbol} fast SMA {f:.4f} crossed below slow {s:.4f}: sell {heading}")
            self.ctx.sell(bar.symbol, heading)
