"""A broker for tests that does only what the test tells it to (no market, no matching)."""

from __future__ import annotations

from decimal import Decimal

from brokers.base import BrokerAccepted, BrokerCanceled, BrokerError, BrokerFill, BrokerReplaced
from workstation.core.model import Instrument, Order, Quote
from workstation.core.symbols import parse_symbol


class ScriptedBroker:
    name = "scripted"
    keeps_account = False

    def __init__(self, auto_accept: bool = True) -> None:
        self.auto_accept = auto_accept
        self.sent: list[Order] = []
        self.canceled: list[str] = []
        self.replaced: list[tuple[str, Decimal]] = []
        self.quotes: dict[str, Quote] = {}
        self._fills = 0

    def attach(self, on_report, on_quote, on_state) -> None:
        self.report, self.quote, self.state = on_report, on_quote, on_state

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def instrument(self, symbol: str) -> Instrument:
        return parse_symbol(symbol)

    async def subscribe(self, symbols) -> None: ...

    async def unsubscribe(self, symbols) -> None: ...

    async def submit(self, order: Order) -> None:
        self.sent.append(order)
        if self.auto_accept:
            self.report(BrokerAccepted(client_id=order.client_id, broker_id=f"b-{order.id}"))

    async def cancel(self, order: Order) -> None:
        self.canceled.append(order.id)
        self.report(BrokerCanceled(client_id=order.client_id))

    async def replace(self, order, qty, limit_price, stop_price) -> None:
        self.replaced.append((order.id, qty))
        self.report(BrokerReplaced(client_id=order.client_id, qty=qty, limit_price=limit_price, stop_price=stop_price))

    async def open_orders(self):
        return []

    async def fills_since(self, ts):
        return []

    async def lookup(self, client_id):
        return None

    async def positions(self):
        return []

    async def account(self):
        return None

    async def history(self, symbol, seconds, start, end):
        return []

    def snapshot(self, symbol: str):
        return self.quotes.get(symbol)

    # test controls
    def set_quote(self, symbol: str, bid: float, ask: float, last: float | None = None) -> None:
        q = Quote(symbol=symbol, ts=0.0, bid=bid, ask=ask, last=last if last is not None else (bid + ask) / 2, bid_size=100, ask_size=100)
        self.quotes[symbol] = q
        if hasattr(self, "quote"):
            self.quote(q)

    def fill(self, order: Order, qty, price, exec_id: str | None = None, commission="0") -> str:
        self._fills += 1
        exec_id = exec_id or f"x{self._fills}"
        self.report(BrokerFill(client_id=order.client_id, exec_id=exec_id, qty=Decimal(str(qty)), price=Decimal(str(price)), commission=Decimal(commission)))
        return exec_id


def failing_broker_error(msg: str) -> BrokerError:
    return BrokerError(msg)
