"""The paper broker's combo book: spreads matched atomically, every leg or none.

A combo order (``Order.legs``) rests here, beside the book of plain orders, and is matched
on every step against the current quote of each of its legs:

* **Price.** Each leg trades at its own touch for the side it trades (a leg bought at the
  ask, a leg sold at the bid), moved against the trader by the configured slippage. The
  combo's net at those prices is ``sum(leg.side.sign * ratio * price)`` per unit
  (``workstation.trading.combos``). A **market** combo fills at once; a **limit** combo
  fills when that net is at or better than its limit (a buy: net <= limit, the most debit it
  pays; a sell: net >= limit, the least credit it takes), on arrival or on a later step.
* **Atomic.** All legs fill together, for the whole remaining quantity, in one pass: one
  ``BrokerFill`` per leg (``symbol`` the leg's, ``side`` its effective side, ``qty`` units x
  ratio, ``exec_id`` ``sim-<client_id>-<leg symbol>-<units filled>``), emitted only after the
  book is updated; never one leg without the others. (The displayed sizes do not split a
  combo: it fills whole.)
* **Admission.** Every leg must be listed today and on its tick; the quantity a positive whole
  number; a limit (any sign) on the finest leg tick; DAY or GTC. Under ``"nyse"`` a DAY combo
  is refused while a leg's market is closed (GTC waits) and nothing matches until every leg's
  market is open. DAY combos expire at the first leg's day end.
* Cancel, lookup, open orders and restore after a restart work as for plain orders; a combo
  cannot be replaced (cancel it and send a new one).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

import msgspec

from brokers.base import (
    BrokerAccepted,
    BrokerCanceled,
    BrokerExpired,
    BrokerFill,
    BrokerOrderState,
    BrokerRejected,
)
from workstation.core.model import BUY, ZERO, Instrument, Leg, ModelError, Order, OrderStatus, OrderType, TimeInForce, plain

if TYPE_CHECKING:
    from brokers.paper.broker import SimBroker

_BPS = Decimal(10_000)


class _Combo(msgspec.Struct):
    order: Order
    legs: list[tuple[Leg, Instrument]]
    broker_id: str
    filled: Decimal
    expires: float | None

    @property
    def remaining(self) -> Decimal:
        return self.order.qty - self.filled

    def state(self, status: OrderStatus | None = None) -> BrokerOrderState:
        if status is None:
            status = OrderStatus.PARTIALLY_FILLED if self.filled else OrderStatus.ACCEPTED
        o = self.order
        return BrokerOrderState(
            client_id=o.client_id, broker_id=self.broker_id, symbol=o.symbol, side=o.side.value, qty=o.qty,
            filled_qty=self.filled, status=status.value, limit_price=o.limit_price,
        )


class ComboBook:
    """The working combos of one ``SimBroker`` (see the module docstring)."""

    def __init__(self, broker: SimBroker) -> None:
        self._broker = broker
        self._book: dict[str, _Combo] = {}
        self._done: dict[str, BrokerOrderState] = {}

    def __contains__(self, client_id: str) -> bool:
        return client_id in self._book

    def symbols(self) -> list[str]:
        """Every leg symbol of a working combo (the market quotes them each step)."""
        return [inst.symbol for c in self._book.values() for _, inst in c.legs]

    # ------------------------------------------------------------------ orders

    def submit(self, order: Order, t: float) -> None:
        b = self._broker
        try:
            c = self._admit(order, t)
        except ModelError as e:
            self._done[order.client_id] = BrokerOrderState(
                client_id=order.client_id, broker_id=None, symbol=order.symbol, side=order.side.value, qty=order.qty,
                filled_qty=order.filled_qty, status=OrderStatus.REJECTED.value, limit_price=order.limit_price,
            )
            b._emit(BrokerRejected(client_id=order.client_id, ts=t, reason=str(e)))
            return
        self._book[order.client_id] = c
        b._emit(BrokerAccepted(client_id=order.client_id, ts=t, broker_id=c.broker_id))
        self._match(c, t)

    def _admit(self, order: Order, t: float) -> _Combo:
        b = self._broker
        legs = [(leg, b._listing(leg.symbol)) for leg in order.legs]
        if len({inst.symbol for _, inst in legs}) != len(legs) or len(legs) < 2:
            raise ModelError("a combo needs two or more distinct legs")
        if order.qty <= 0 or order.qty != order.qty.to_integral_value():
            raise ModelError(f"quantity must be a positive whole number of combos, got {plain(order.qty)}")
        for leg, _ in legs:
            if leg.ratio < 1:
                raise ModelError(f"leg {leg.symbol}: the ratio must be a positive whole number")
        if order.type is OrderType.LIMIT:
            tick = min(inst.tick_size for _, inst in legs)
            if order.limit_price is None or order.limit_price % tick:
                raise ModelError(f"a limit combo needs a net price on the {plain(tick)} tick")
        elif order.type is not OrderType.MARKET:
            raise ModelError("a combo is a market or a limit order")
        if order.tif not in (TimeInForce.DAY, TimeInForce.GTC):
            raise ModelError("a combo's time in force is day or gtc")
        if order.tif is not TimeInForce.GTC and not self._open(legs, t):
            raise ModelError("a leg's market is closed; only a GTC combo can wait for the open")
        first = legs[0][1]
        expires = b._day_end(first, t) if order.tif is TimeInForce.DAY else None
        return _Combo(order, legs, order.broker_id or f"paper-{order.client_id}", order.filled_qty, expires)

    def cancel(self, client_id: str, t: float, reason: str = "canceled by request") -> bool:
        """Cancel a working combo; False when ``client_id`` is not one."""
        c = self._book.pop(client_id, None)
        if c is None:
            return False
        self._done[client_id] = c.state(OrderStatus.CANCELED)
        self._broker._emit(BrokerCanceled(client_id=client_id, ts=t, reason=reason))
        return True

    def restore(self, order: Order, t: float) -> None:
        """Put a working combo from the journal back (no ``BrokerAccepted``) and match it."""
        if order.client_id in self._book:
            return
        try:
            c = self._admit(msgspec.structs.replace(order, tif=TimeInForce.GTC), t)
        except ModelError as e:
            self._broker._emit(BrokerCanceled(client_id=order.client_id, ts=t, reason=f"cannot restore: {e}"))
            return
        c.expires = self._broker._day_end(c.legs[0][1], order.created or t) if order.tif is TimeInForce.DAY else None
        self._book[order.client_id] = c
        self.expire(t)
        if order.client_id in self._book:
            self._match(c, t)

    def states(self) -> list[BrokerOrderState]:
        return [c.state() for c in self._book.values()]

    def lookup(self, client_id: str) -> BrokerOrderState | None:
        c = self._book.get(client_id)
        return c.state() if c is not None else self._done.get(client_id)

    # ------------------------------------------------------------------ matching

    def expire(self, t: float) -> None:
        for cid, c in list(self._book.items()):
            if c.expires is not None and t >= c.expires:
                del self._book[cid]
                self._done[cid] = c.state(OrderStatus.EXPIRED)
                self._broker._emit(BrokerExpired(client_id=cid, ts=t))

    def match(self, t: float) -> None:
        """Match every working combo against its legs' current quotes."""
        for c in list(self._book.values()):
            if self._book.get(c.order.client_id) is c:
                self._match(c, t)

    def _open(self, legs: list[tuple[Leg, Instrument]], t: float) -> bool:
        return all(self._broker._is_open(inst, t) for _, inst in legs)

    def _match(self, c: _Combo, t: float) -> None:
        if not self._open(c.legs, t) or c.remaining <= 0:
            return
        b = self._broker
        buy = c.order.side is BUY
        prices: dict[str, Decimal] = {}
        net = ZERO
        for leg, inst in c.legs:
            q = b._quote_now(inst.symbol, t)
            bid, ask = b._touch(inst, q)
            bought = (leg.side is BUY) == buy
            touch = ask if bought else bid
            if touch <= 0:
                return  # a leg without a price on that side: nothing fills
            price = self._slipped(inst, touch, bought)
            prices[inst.symbol] = price
            net += leg.side.sign * leg.ratio * price
        limit = c.order.limit_price
        if c.order.type is OrderType.LIMIT and limit is not None and not (net <= limit if buy else net >= limit):
            return
        units = c.remaining
        c.filled += units
        cid = c.order.client_id
        fills = []
        for leg, inst in c.legs:
            qty = units * leg.ratio
            side = leg.side if buy else leg.side.opposite
            price = prices[inst.symbol]
            fee = b.estimate_commission(inst, qty, price)
            fills.append(BrokerFill(
                client_id=cid, ts=t, exec_id=f"sim-{cid}-{inst.symbol}-{plain(c.filled)}", qty=qty, price=price,
                commission=fee, symbol=inst.symbol, side=side.value,
            ))
        if c.filled >= c.order.qty:
            del self._book[cid]
            self._done[cid] = c.state(OrderStatus.FILLED)
        for fill in fills:
            b._fills.append(fill)
        for fill in fills:
            b._emit(fill)

    def _slipped(self, inst: Instrument, touch: Decimal, bought: bool) -> Decimal:
        c = self._broker.config
        if not (c.slippage_bps or c.slippage_ticks):
            return touch
        move = touch * c.slippage_bps / _BPS + c.slippage_ticks * inst.tick_size
        if bought:
            return inst.round_price(touch + move, ROUND_CEILING)
        return max(inst.round_price(touch - move, ROUND_FLOOR), inst.tick_size)

