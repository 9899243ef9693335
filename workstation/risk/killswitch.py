"""The kill switch: stop everything, now.

``KillSwitch.engage`` trips the circuit breaker first (so a strategy flooding orders is
refused from that instant), stops every strategy through the injected ``stop_strategies``
callable, cancels every working order, then flattens every position with market orders
that go through the order manager like any other order (as the kill switch's source,
which the order-flow limits let through). Everything it does is journaled and
summarised in one ``KillReport``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable

import msgspec

from workstation.risk.breaker import CircuitBreaker
from workstation.core.bus import Bus
from workstation.core.clock import Clock
from workstation.core.journal import Journal
from workstation.core.model import AlertRaised, ModelError, OrderRequest, OrderStatus, OrderType, Side, plain
from workstation.trading.oms import OrderManager
from workstation.trading.portfolio import Portfolio
from workstation.risk.checks import KILL_SOURCE

log = logging.getLogger(__name__)

StopStrategies = Callable[[], Awaitable[object] | object]


class KillReport(msgspec.Struct, frozen=True, kw_only=True):
    reason: str
    strategies_stopped: bool
    canceled: list[str]
    flatten_orders: list[str]  # ids of the market orders sent to flatten
    errors: list[str]
    ts: float


class KillSwitch:
    def __init__(
        self,
        *,
        oms: OrderManager,
        portfolio: Portfolio,
        breaker: CircuitBreaker,
        journal: Journal,
        bus: Bus,
        clock: Clock,
        stop_strategies: StopStrategies | None = None,
    ) -> None:
        self.oms = oms
        self.portfolio = portfolio
        self.breaker = breaker
        self.journal = journal
        self.bus = bus
        self.clock = clock
        self.stop_strategies = stop_strategies

    async def engage(self, reason: str = "kill switch", who: str = "user") -> KillReport:
        now = self.clock.time()
        self.journal.append("risk.kill", {"state": "engaged", "reason": reason, "by": who}, now)
        self.breaker.trip(f"kill switch: {reason}", source="kill-switch")
        errors: list[str] = []
        stopped = False
        if self.stop_strategies is not None:
            try:
                result = self.stop_strategies()
                if inspect.isawaitable(result):
                    await result
                stopped = True
            except Exception as exc:
                errors.append(f"stopping strategies failed: {exc}")
        canceled: list[str] = []
        for _sweep in range(2):  # the second sweep catches orders slipped in while the first ran
            for order in list(self.oms.working()):
                if order.id in canceled:
                    continue
                try:
                    canceled.append((await self.oms.cancel(order.id, reason=f"kill switch: {reason}")).id)
                except ModelError as exc:
                    errors.append(str(exc))
        flatten: list[str] = []
        for pos in self.portfolio.positions():
            if pos.qty == 0:
                continue
            side = Side.SELL if pos.qty > 0 else Side.BUY
            req = OrderRequest(symbol=pos.symbol, side=side, qty=abs(pos.qty), type=OrderType.MARKET, source=KILL_SOURCE)
            try:
                order = await self.oms.submit(req)
            except ModelError as exc:
                errors.append(f"flatten {pos.symbol}: {exc}")
                continue
            flatten.append(order.id)
            if order.status is OrderStatus.REJECTED:
                errors.append(f"flatten {pos.symbol} {plain(abs(pos.qty))} rejected: {order.reason}")
        await self.oms.drain()
        report = KillReport(
            reason=reason, strategies_stopped=stopped, canceled=canceled, flatten_orders=flatten, errors=errors,
            ts=self.clock.time(),
        )
        self.journal.append("risk.kill", {"state": "done", **msgspec.structs.asdict(report)}, report.ts)
        self.bus.publish(AlertRaised(
            title="Kill switch engaged",
            message=f"{reason}: {len(canceled)} orders canceled, {len(flatten)} positions flattened at market"
            + (f"; {len(errors)} problems: {errors[0]}" if errors else ""),
            priority="critical", source="risk", ts=report.ts, key=f"kill-{report.ts}",
        ))
        return report

