"""Execution algorithms: work one parent order in child orders, by the clock or by the volume.

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

``ParticipationExecution`` (the shipped POV plugin) trades a share ``rate`` of the *others'*
volume as it prints: participation is ``own / (market - own)``, so its own fills never feed
its target. Live the volume is the growth of the quotes' cumulative ``volume``; in a backtest,
where no quotes come, each bar's volume. A backtest's bars and the paper market's volume do not
hold our fills; a venue's tape does, and with ``volume_has_own`` what the parent has filled since
it started is taken out of the volume it counted. By every print its target is ``rate`` times the
others' volume counted since it started, and it sends what is missing (at least ``min_child``, unless
that is all the parent has left, at most ``max_child``). With a limit price every child is a
limit at it, and while the market is through the limit (live: the ask above a buy's limit,
the bid below a sell's; a bar: its low above, its high below) nothing is sent and that
volume does not count. At the deadline (``duration`` seconds after the start) it stops,
cancels what is working and reports what is left; with ``finish`` it sends the remainder at
once instead (at market, or at the limit: never through it) and reports when it is done.
Both kinds of parent share the refusal handling above.
"""

from __future__ import annotations

from decimal import Decimal

from workstation.core.model import ZERO, OrderEvent, OrderStatus, Side
from workstation.strategies.api import Param, ParamError, Strategy


class _ParentOrder(Strategy):
    """What every execution algorithm does with a refused child (see the module's docstring).
    A subclass sets ``symbol``, ``qty``, ``sign`` and the refusal state in ``on_start``."""

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

    def _send(self, qty: Decimal) -> None:
        kw = {"limit": self.limit} if self.limit > 0 else {}
        if self.sign > 0:
            self.ctx.buy(self.symbol, qty, **kw)
        else:
            self.ctx.sell(self.symbol, qty, **kw)

    def _finish(self, message: str) -> None:
        self.finished = True
        self.ctx.log(message)
        self.ctx.alert(f"{self.plugin_name()} {self.symbol}", message, "low")

    def on_stop(self) -> None:
        if not self.finished:
            self.ctx.cancel_all(self.symbol)
            self.ctx.log(f"canceled: {self.filled} of {self.qty} {self.symbol} done")


class ScheduledExecution(_ParentOrder):
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
        self._send(need)



class ParticipationExecution(_ParentOrder):
    side = Param("buy", choices=("buy", "sell"), description="the parent order's side")
    qty = Param(Decimal(1000), min=Decimal("0.00000001"), description="the parent order's quantity")
    rate = Param(0.1, min=0.001, max=1.0, description="share of the market's volume to trade (0.1: 10%)")
    limit = Param(Decimal(0), min=Decimal(0), description="limit price for every child; 0 for none (market)")
    duration = Param(3_600.0, min=1.0, max=7 * 86_400.0, description="deadline, seconds after the start")
    finish = Param(False, description="at the deadline send what is left at once (else stop and report it)")
    min_child = Param(Decimal(0), min=Decimal(0), description="smallest child (unless it is all that is left); 0 for one lot")
    max_child = Param(Decimal(0), min=Decimal(0), description="largest child; 0 for no cap")
    bar_seconds = Param(60, min=1, max=86_400, description="bars whose volume counts when quotes carry none (backtests)")
    volume_has_own = Param(False, description=(
        "the feed's volume counts our own fills (a venue's tape: Alpaca, IB, an exchange; not the paper market "
        "nor a backtest's bars): they are taken out, so rate stays a share of the others' volume"
    ))
    max_refusals = Param(8, min=1, max=1_000, description="children refused in a row before the parent stops")
    backoff = Param(1.0, min=0.001, max=3_600.0, description="seconds to wait after the second refusal in a row (doubling after each)")
    backoff_max = Param(300.0, min=0.001, max=86_400.0, description="longest wait between refused children, seconds")

    @classmethod
    def check(cls, params):
        if params["max_child"] > 0 and params["min_child"] > params["max_child"]:
            return f"min_child {params['min_child']} is above max_child {params['max_child']}"
        return None

    def on_start(self) -> None:
        if len(self.ctx.symbols) != 1:
            raise ParamError(f"{self.plugin_name()} works one symbol at a time, got {len(self.ctx.symbols)}")
        self.symbol = self.ctx.symbols[0]
        self.inst = self.ctx.instrument(self.symbol)
        self.sign = Side(self.side).sign
        self.total = self.inst.round_qty(self.qty)
        self.smallest = max(self.min_child, self.inst.lot_size)
        self.deadline = self.ctx.time() + self.duration
        self.volume = 0.0  # market volume counted since the start (only what printed within the limit)
        self.already = self.filled  # (the position before the start: not this parent's fills)
        self.last_cum: float | None = None  # the last quote's cumulative volume
        self.from_quotes = False  # True once quotes carry volume: bars are then not counted again
        self.finished = False
        self.finishing = False  # the deadline has passed with ``finish``: the remainder is out
        self.refusals = 0
        self.retry_at = float("-inf")
        self.alerted = False
        self.ctx.subscribe(self.symbol, bars=self.bar_seconds)
        self.ctx.set_timer("deadline", self.duration)
        limit = f" at {self.limit} or better" if self.limit > 0 else ""
        self.ctx.log(f"{self.side} {self.qty} {self.symbol}{limit}: {self.rate:.1%} of the volume for up to {self.duration:g}s")

    def _within(self, price: float) -> bool:
        """Whether ``price`` is at or inside the limit (always, without one)."""
        if self.limit <= 0:
            return True
        lim = float(self.limit)
        return price <= lim if self.sign > 0 else price >= lim

    def on_quote(self, quote) -> None:
        if self.finished or quote.symbol != self.symbol:
            return
        cum = quote.volume
        if cum > 0:
            self.from_quotes = True
            if self.last_cum is not None:
                printed = cum - self.last_cum if cum >= self.last_cum else cum  # (a new day starts from zero)
                if printed > 0 and self._within(quote.last) and self.ctx.time() < self.deadline:
                    self.volume += printed
            self.last_cum = cum
        touch = quote.ask if self.sign > 0 else quote.bid
        self._work(through=touch > 0 and not self._within(touch))

    def on_bar(self, bar) -> None:
        if self.finished or self.from_quotes or bar.symbol != self.symbol:
            return
        reach = bar.low if self.sign > 0 else bar.high  # the best price the bar traded at
        inside = self._within(reach)
        if inside and self.ctx.time() < self.deadline:  # (what prints at the deadline is not answered)
            self.volume += bar.volume
        self._work(through=not inside)

    def on_timer(self, name: str) -> None:
        self._work()

    def on_order(self, event: OrderEvent) -> None:
        super().on_order(event)
        if not self.finished and event.order.symbol == self.symbol and self.filled >= self.total:
            self._work()

    def _work(self, through: bool = False) -> None:
        if self.finished:
            return
        filled = self.filled
        if filled >= self.total:
            self.ctx.set_timer("deadline", 0)
            self._finish(f"complete: {filled} {self.symbol} {'bought' if self.sign > 0 else 'sold'}")
            return
        if not self.finishing and self.ctx.time() >= self.deadline:
            self._deadline(filled)
            return
        if self.ctx.time() < self.retry_at:  # backing off after a refused child
            return
        working = self.ctx.pending(self.symbol) * self.sign
        left = self.total - filled - working  # not yet sent
        if left <= ZERO:
            return
        if self.finishing:
            self._send(left)
            return
        if through:  # the market is through the limit: a child would only rest
            return
        target = min(self.total, self.inst.round_qty(Decimal(repr(self.rate * self.others(filled)))))
        need = target - filled - working
        if self.max_child > 0:
            need = min(need, self.inst.round_qty(self.max_child))
        if need <= ZERO or (need < self.smallest and need < left):
            return
        self._send(need)

    def others(self, filled: Decimal) -> float:
        """The others' volume counted since the start: all of it, less this parent's fills when
        the feed's volume holds them (``volume_has_own``)."""
        if not self.volume_has_own:
            return self.volume
        return max(self.volume - float(filled - self.already), 0.0)

    def _deadline(self, filled: Decimal) -> None:
        self.ctx.set_timer("deadline", 0)
        left = self.qty - filled
        if self.finish:
            self.finishing = True
            self.ctx.log(f"deadline: {filled} of {self.qty} {self.symbol} done; sending the {left} left at once")
            self._work()
            return
        self.ctx.cancel_all(self.symbol)
        self._finish(f"deadline: {filled} of {self.qty} {self.symbol} done, {left} left (canceled)")
