"""Strategies for the process-worker tests (importable by name in the child process)."""

import os

from workstation.strategies.api import Param, Strategy


class HeavyBuyer(Strategy):
    name = "heavy"
    process = True
    qty = Param(5, min=1)

    def on_start(self):
        self.ctx.log(f"pid {os.getpid()}")
        bars = self.ctx.history(self.ctx.symbols[0], 60, 3)
        self.ctx.log(f"history {[b.close for b in bars]}")
        self.ctx.subscribe(self.ctx.symbols)

    def on_quote(self, q):
        sum(i * i for i in range(20_000))  # CPU work that would hold the GIL in a thread
        if q.last > 200:
            raise RuntimeError("price too high for this test")
        if self.ctx.qty(q.symbol) + self.ctx.pending(q.symbol) == 0:
            self.ctx.buy(q.symbol, self.qty)

    def on_fill(self, fill):
        self.ctx.log(f"filled {fill.qty} at {fill.price}; position {self.ctx.qty(fill.symbol)}")
