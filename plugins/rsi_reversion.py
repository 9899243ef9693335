"""RSI mean reversion, long only: buy when oversold, sell when the RSI recovers."""

from __future__ import annotations

from decimal import Decimal

from workstation.core.indicators import RSI
from workstation.core.model import Bar
from workstation.strategies.api import Param, Strategy


class RsiReversion(Strategy):
    """Buy ``qty`` when Wilder's RSI closes below ``oversold``; sell to flat when it closes
    above ``exit_level``. Long only, one position per symbol."""

    name = "rsi_reversion"
    period = Param(14, min=2, max=1_000, description="RSI period, in bars")
    oversold = Param(30.0, min=0.0, max=100.0, description="buy below this RSI")
    exit_level = Param(55.0, min=0.0, max=100.0, description="sell above this RSI")
    qty = Param(Decimal(100), min=Decimal("0.00000001"), description="units bought when oversold")
    bar_seconds = Param(60, min=1, max=86_400, description="bar size in seconds")

    @classmethod
    def check(cls, p):
        if p["oversold"] >= p["exit_level"]:
            return f"oversold ({p['oversold']}) must be below exit_level ({p['exit_level']})"
        return None

    def on_start(self) -> None:
        self.rsi = {s: RSI(self.period) for s in self.ctx.symbols}
        for symbol in self.ctx.symbols:  # warm up on history
            for bar in self.ctx.history(symbol, self.bar_seconds, self.period + 1):
                self.rsi[symbol].update(bar.close)
        self.ctx.subscribe(self.ctx.symbols, bars=self.bar_seconds, quotes=False)

    def on_bar(self, bar: Bar) -> None:
        value = self.rsi[bar.symbol].update(bar.close)
        if value != value:  # still warming up (NaN)
            return
        heading = self.ctx.qty(bar.symbol) + self.ctx.pending(bar.symbol)
        if value < self.oversold and heading <= 0:
            qty = self.ctx.sizing.fixed(bar.symbol, self.qty)
            if qty > 0:
                self.ctx.log(f"{bar.symbol} RSI {value:.1f} < {self.oversold}: buy {qty}")
                self.ctx.buy(bar.symbol, qty)
        elif value > self.exit_level and heading > 0:
            self.ctx.log(f"{bar.symbol} RSI {value:.1f} > {self.exit_level}: sell {heading}")
            self.ctx.sell(bar.symbol, heading)
