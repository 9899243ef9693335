"""A tiny deterministic paper broker for UI tests: quotes move only when the test says so,
market orders fill at once at the touch, marketable limits fill at their limit, the rest rest.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from brokers.base import BrokerAccepted, BrokerCanceled, BrokerFill, BrokerRejected, BrokerReplaced
from workstation.core.model import ConnectionState, Instrument, Order, OrderType, Quote, Side
from workstation.core.symbols import parse_symbol

BASE_PRICES = {"AAPL": 185.0, "MSFT": 410.0, "NVDA": 120.0, "TSLA": 250.0, "SPY": 560.0, "BTC/USD": 65000.0, "EUR/USD": 1.085}


class InstantBroker:
    name = "paper"
    keeps_account = False

    def __init__(self, prices: dict[str, float] | None = None, ts: float = 1_790_000_000.0) -> None:
        self.prices = dict(BASE_PRICES if prices is None else prices)
        self.ts = ts
        self.quotes: dict[str, Quote] = {}
        self.resting: dict[str, Order] = {}
        self.subscribed: list[str] = []
        self._exec = itertools.count(1)
        self.reject_next: str | None = None  # the next order is rejected with this reason

    def attach(self, on_report, on_quote, on_state) -> None:
        self.report, self.quote_sink, self.state = on_report, on_quote, on_state

    async def connect(self) -> None:
        self.state(ConnectionState(broker=self.name, state="connected", ts=self.ts))

    async def close(self) -> None: ...

    async def instrument(self, symbol: str) -> Instrument:
        return parse_symbol(symbol)

    async def subscribe(self, symbols) -> None:
        for s in symbols:
            if s not in self.subscribed:
                self.subscribed.append(s)

    async def unsubscribe(self, symbols) -> None: ...

    def _make(self, symbol: str, last: float) -> Quote:
        digits = 5 if last < 10 else 2
        spread = max(last * 0.0001, 10**-digits)
        base = self.prices.get(symbol, last)
        return Quote(
            symbol=symbol, ts=self.ts, bid=round(last - spread, digits), ask=round(last + spread, digits), last=last,
            bid_size=100, ask_size=100, volume=1_000_000, prev_close=base,
        )

    def snapshot(self, symbol: str) -> Quote | None:
        q = self.quotes.get(symbol)
        if q is None and symbol in self.prices:
            q = self.quotes[symbol] = self._make(symbol, self.prices[symbol])
        return q

    def move(self, symbol: str, last: float) -> Quote:
        """Publish a new quote for ``symbol`` (and match resting orders against it)."""
        q = self.quotes[symbol] = self._make(symbol, last)
        self.quote_sink(q)
        for order in list(self.resting.values()):
            if order.symbol == symbol:
                self._match(order)
        return q

    async def submit(self, order: Order) -> None:
        if self.reject_next:
            reason, self.reject_next = self.reject_next, None
            self.report(BrokerRejected(client_id=order.client_id, reason=reason, ts=self.ts))
            return
        self.report(BrokerAccepted(client_id=order.client_id, broker_id=f"p-{order.id}", ts=self.ts))
        self.resting[order.client_id] = order
        self._match(order)

    def _match(self, order: Order) -> None:
        q = self.snapshot(order.symbol)
        if q is None:
            return
        touch = Decimal(str(q.ask if order.side is Side.BUY else q.bid))
        price = None
        if order.type is OrderType.MARKET:
            price = touch
        elif order.type is OrderType.LIMIT and order.limit_price is not None:
            if (order.side is Side.BUY and touch <= order.limit_price) or (order.side is Side.SELL and touch >= order.limit_price):
                price = order.limit_price
        if price is None:
            return
        self.resting.pop(order.client_id, None)
        self.report(BrokerFill(client_id=order.client_id, exec_id=f"e{next(self._exec)}", qty=order.qty - order.filled_qty, price=price, ts=self.ts))

    async def cancel(self, order: Order) -> None:
        self.resting.pop(order.client_id, None)
        self.report(BrokerCanceled(client_id=order.client_id, reason="canceled by user", ts=self.ts))

    async def replace(self, order, qty, limit_price, stop_price) -> None:
        if order.client_id in self.resting:
            self.resting[order.client_id] = order.__class__(**{**{f: getattr(order, f) for f in order.__struct_fields__}, "qty": qty, "limit_price": limit_price, "stop_price": stop_price})
        self.report(BrokerReplaced(client_id=order.client_id, qty=qty, limit_price=limit_price, stop_price=stop_price, ts=self.ts))

    async def open_orders(self):
        return []

    async def fills_since(self, ts):
        return []

    async def positions(self):
        return []

    async def account(self):
        return None

    async def history(self, symbol, seconds, start, end):
        return []
