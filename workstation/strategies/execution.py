"""Execution algorithms: work one parent order in child orders over a time window.

``ScheduledExecution`` is the shared engine of the shipped TWAP and VWAP plugins. The window
is cut into ``slices``; by the end of slice ``k`` the algorithm aims to have executed the
cumulative share ``w[0] + ... + w[k]`` of the parent quantity (``weights``: equal for TWAP,
the historical volume profile for VWAP). On every quote and every slice timer it sends
what is missing -- the target less what has filled and what is still working -- as one child:
a market order, or a limit order at the parent's limit price when one is set (so no child
ever trades through the limit; what does not fill keeps working). When the window has ended
and one more slice has passed, it cancels what is still working and reports what it did.
Stopping the instance cancels its working children: the parent is canceled cleanly.

A refused child is not sent again on every quote: the first refusal is retried on the next
event (a passing condition, such as no price yet), and after the ``k``-th refusal in a row
the algorithm waits ``backoff * 2**(k-2)`` seconds of the clock (at most ``backoff_max``)
before it sends again. The first refusal raises one alert, and after ``max_refusals`` in a
row the parent stops itself (its working children canceled) with the last refusal's reason.
"""

from __future__ import annotations

from decimal import Decimal

from workstation.core.model import ZERO, OrderEvent, OrderStatus, Side
from workstation.strategies.api import Param, ParamError, Strategy


class ScheduledExecution(Strategy):
    side = Param("buy", choices=("buy", "sell"), description="the parent order's side")
    qty = Param(Decimal(1000), min=Decimal("0.00000001"), description="the parent order's quantity")
    duration = Param(600.0, min=1.0, max=7 * 86_400.0, description="window length in seconds")
    slices = Param(10, min=1, max=10_000, description="number of child slices")
    limit = Param(Decimal(0), min=Decimal(0), description="limit price for every child; 0 for none (market)")
    max_refusals = Param(8, min=1, max=1_000, description="children refused in a row before the parent stops")
    backoff = Param(1.0, min=0.001, max=3_600.0, description="seconds to wait after the second refusal in a row (doubling after each)")
    backoff_max = Param(300.0, min=0.001, max=86_400.0, description="longest wait between refused children, seconds")

    def weights(self) -> list[float]:
        """Relative size of each slice (equal by default)."""
        return [1.0] * self.slices

    def on_start(self) -> None:
        if len(self.ctx.symbols) != 1:
            raise ParamError(f"{self.plugin_name()} works one symbol at a time, got {len(self.ctx.symbols)}")
        self.symbol = self.ctx.symbols[0]
        self.inst = self.ctx.instrument(self.symbol)
        self.sign = Side(self.side).sign
        self.start = self.ctx.time()
        self.interval = self.duration / self.slices
        self.finished = False
        self.refusals = 0  # refused children in a row
        self.retry_at = float("-inf")
        self.alerted = False
        w = self.weights()
        total = Decimal(repr(float(sum(w))))
        running = ZERO
        self.targets: list[Decimal] = []
        for x in w:
            running += Decimal(repr(float(x)))
            self.targets.append(self.inst.round_qty(self.qty * running / total))
        self.targets[-1] = self.inst.round_qty(self.qty)
        self.ctx.subscribe(self.symbol)
        self.ctx.set_timer("slice", self.interval)
        self.ctx.log(f"{self.side} {self.qty} {self.symbol} over {self.duration:g}s in {self.slices} slices")
        self._work()

    def on_quote(self, quote) -> None:
        self._work()

    def on_timer(self, name: str) -> None:
        self._work()

    def on_order(self, event: OrderEvent) -> None:
        order = event.order
        if self.finished or order.symbol != self.symbol or order.parent_id is not None:
            return
        if order.status is OrderStatus.REJECTED:
            self._refused(order.reason or "refused")
        elif order.status is OrderStatus.ACCEPTED or order.filled_qty > 0:
            self.refusals = 0

    def _refused(self, reason: str) -> None:
        self.refusals += 1
        wait = 0.0 if self.refusals == 1 else min(self.backoff * 2 ** min(self.refusals - 2, 60), self.backoff_max)
        self.retry_at = self.ctx.time() + wait
        if self.refusals >= self.max_refusals:
            message = f"stopped: {self.refusals} child orders refused in a row ({reason}); {self.filled} of {self.qty} {self.symbol} done"
            self.finished = True
            self.ctx.cancel_all(self.symbol)
            self.ctx.log(message)
            self.ctx.stop(message)
            return
        self.ctx.log(f"child refused ({reason}): next try in {wait:g}s")
        if not self.alerted:
            self.alerted = True
            self.ctx.alert(
                f"{self.plugin_name()} {self.symbol} child refused",
                f"{reason}; backing off (stops after {self.max_refusals} refusals in a row)", "normal",
            )

    @property
    def filled(self) -> Decimal:
        return self.ctx.qty(self.symbol) * self.sign

    def _work(self) -> None:
        if self.finished:
            return
        elapsed = self.ctx.time() - self.start
        filled = self.filled
        if filled >= self.targets[-1]:
            self._finish(f"complete: {filled} {self.symbol} {'bought' if self.sign > 0 else 'sold'}")
            return
        if elapsed >= self.duration + self.interval:
            self.ctx.cancel_all(self.symbol)
            self._finish(f"window over: {filled} of {self.qty} {self.symbol} done, the rest canceled")
            return
        if self.ctx.time() < self.retry_at:  # backing off after a refused child
            return
        k = min(self.slices, int(elapsed // self.interval) + 1)
        working = self.ctx.pending(self.symbol) * self.sign
        need = self.inst.round_qty(self.targets[k - 1] - filled - working)
        if need <= ZERO:
            return
        kw = {"limit": self.limit} if self.limit > 0 else {}
        if self.sign > 0:
            self.ctx.buy(self.symbol, need, **kw)
        else:
            self.ctx.sell(self.symbol, need, **kw)

    def _finish(self, message: str) -> None:
        self.finished = True
        self.ctx.log(message)
        self.ctx.alert(f"{self.plugin_name()} {self.symbol}", message, "low")

    def on_stop(self) -> None:
        if not self.finished:
            self.ctx.cancel_all(self.symbol)
            self.ctx.log(f"canceled: {self.filled} of {self.qty} {self.symbol} done")
