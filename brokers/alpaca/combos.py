"""Combo orders (spreads) at Alpaca: one multi-leg option order (``order_class`` ``mleg``).

A combo (``Order.legs``, the convention of ``workstation.trading.combos``) goes out as ONE
order: ``qty`` the combo units, ``legs`` one ``OptionLegRequest`` per leg (the leg's OCC
symbol, its ``ratio_qty`` and the side it trades), ``type`` market or limit, ``time_in_force``
day or gtc. Alpaca's mleg order has no side of its own, so selling a combo sends every leg
reversed; its ``limit_price`` is the net price with Alpaca's sign (positive a debit paid,
negative a credit received): a buy's net limit as is, a sell's negated (selling for at
least 2.90 is buying the reversed legs for at most -2.90).

Alpaca answers with the parent order and its legs nested (each leg an order of its own with
its id, OCC symbol, side, ``ratio_qty`` and fills). Fills are per leg: a trade update on a
leg order names its execution (``qty``, ``price``); a trade update on the parent carries
the legs with their cumulative ``filled_qty`` and ``filled_avg_price``. Either way each leg
execution becomes ONE ``BrokerFill`` with the combo's client id, the leg's engine symbol and
side, and the exec id ``<leg order id>@<leg filled qty>`` (the same text the FILL activities
give, so a fill seen twice, or again after a reconnect, is booked once). The parent's own
fill (its net price) is never booked. Other events on a leg (new, canceled) are the
combo's to report and are dropped; the parent's become the combo's reports as any order's.

Options reach the adapter only as a spread's legs: ``option_instrument`` checks the contract
at Alpaca (``GET /v2/options/contracts/{symbol}``: active, tradable, its size as the multiplier).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import msgspec
from alpaca.trading.enums import OrderClass, OrderSide
from alpaca.trading.enums import TimeInForce as AlpacaTIF
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest, OptionLegRequest

from brokers.alpaca.translate import dec, exec_id, our_client_id, parse_time, report_from_update, to_float
from brokers.base import BrokerError, BrokerFill, BrokerReport, average
from workstation.core.model import BUY, ZERO, Instrument, ModelError, Order, OrderType, TimeInForce
from workstation.core.symbols import occ_symbol, parse_symbol

MLEG = "mleg"
_TIF = {TimeInForce.DAY: AlpacaTIF.DAY, TimeInForce.GTC: AlpacaTIF.GTC}
_FILLS = ("fill", "partial_fill")


def mleg_request(order: Order) -> LimitOrderRequest | MarketOrderRequest:
    """The alpaca-py request for combo ``order`` (see the module docstring)."""
    if order.tif not in _TIF:
        raise BrokerError(f"Alpaca takes multi-leg orders as day or gtc, not {order.tif.value}")
    legs = []
    for leg in order.legs:
        side = leg.side if order.side is BUY else leg.side.opposite
        try:
            occ = occ_symbol(parse_symbol(leg.symbol))
        except ModelError:
            raise BrokerError(f"Alpaca's multi-leg orders take options only, not {leg.symbol}") from None
        legs.append(OptionLegRequest(symbol=occ, ratio_qty=float(leg.ratio), side=OrderSide(side.value)))
    common: dict[str, Any] = dict(qty=to_float(order.qty, "quantity"), time_in_force=_TIF[order.tif], order_class=OrderClass.MLEG,
                                  legs=legs, client_order_id=order.client_id)
    if order.type is OrderType.MARKET:
        return MarketOrderRequest(**common)
    if order.type is not OrderType.LIMIT or order.limit_price is None:
        raise BrokerError("Alpaca's multi-leg orders are market or limit orders")
    net = order.limit_price if order.side is BUY else -order.limit_price
    return LimitOrderRequest(**common, limit_price=to_float(net, "net price"))


async def option_instrument(inst: Instrument, fetch: Callable[[str], Awaitable[Any]]) -> Instrument:
    """An option leg checked at Alpaca; ``fetch(occ)`` returns its contract JSON (a BrokerError if unknown)."""
    occ = occ_symbol(inst)
    try:
        contract = await fetch(occ)
    except BrokerError as exc:
        if "404" in str(exc) or "not found" in str(exc).lower():
            raise BrokerError(f"Alpaca lists no option {inst.symbol} ({occ})") from None
        raise
    if contract.get("status") != "active" or not contract.get("tradable"):
        raise BrokerError(f"{inst.symbol} is not tradable at Alpaca (status {contract.get('status')})")
    size = contract.get("size") or contract.get("multiplier")
    return msgspec.structs.replace(inst, multiplier=dec(size) if size else inst.multiplier, exchange="OPRA")


def _our(occ: str) -> str:
    try:
        return parse_symbol(occ).symbol
    except ModelError:
        return occ


class MlegBook:
    """Which Alpaca orders are our combos' legs, and how much of each has been reported.

    It writes the adapter's maps (Alpaca order id -> our client id, and -> our symbol), so that
    the FILL activities of a leg (``fills_since``) name the combo and the leg's engine symbol."""

    def __init__(self, client_of: dict[str, str], symbol_of: dict[str, str]) -> None:
        self._client_of = client_of
        self._symbol_of = symbol_of
        self._legs: set[str] = set()  # Alpaca ids of our combos' leg orders
        self._cum: dict[str, tuple[Decimal, Decimal]] = {}  # leg id -> (filled qty, average price) reported
        self._reported: set[str] = set()

    @staticmethod
    def is_parent(o: Mapping[str, Any]) -> bool:
        return o.get("order_class") == MLEG and bool(o.get("legs"))

    def learn(self, o: Mapping[str, Any], cid: str) -> None:
        """Remember a multi-leg order's legs as the combo ``cid``'s (no-op for other orders)."""
        if not self.is_parent(o):
            return
        for leg in o.get("legs") or []:
            lid = str(leg["id"])
            self._legs.add(lid)
            self._client_of[lid] = cid
            if leg.get("symbol"):
                self._symbol_of[lid] = _our(str(leg["symbol"]))

    def reports(self, data: Mapping[str, Any], clock_ts: float, learn: Callable[[Mapping[str, Any]], str]) -> list[BrokerReport] | None:
        """The engine's reports for one trade update, or None when it is not a combo's (the caller's)."""
        o = data["order"]
        oid = str(o["id"])
        ts = parse_time(data.get("timestamp")) or clock_ts
        if self.is_parent(o):
            cid = learn(o)
            if data.get("event") not in _FILLS:
                report = report_from_update(data, clock_ts, cid)
                return [report] if report is not None else []
            return [f for leg in o["legs"] if (f := self._from_cumulative(cid, leg, ts)) is not None]
        if oid not in self._legs and o.get("order_class") != MLEG:
            return None
        if oid not in self._legs or data.get("event") not in _FILLS:
            return []  # a leg's own status (the parent's report stands for the combo), or a leg not yet known
        cid = self._client_of[oid]
        cum = dec(o.get("filled_qty") or 0)
        fill = self._fill(cid, o, cum, dec(data["qty"]), dec(data["price"]), ts)
        self._cum[oid] = (cum, dec(o.get("filled_avg_price") or data["price"]))
        return [fill] if fill is not None else []

    def _from_cumulative(self, cid: str, leg: Mapping[str, Any], ts: float) -> BrokerFill | None:
        """A leg's execution since the last report, from its cumulative fill on the parent's update."""
        lid = str(leg["id"])
        cum = dec(leg.get("filled_qty") or 0)
        was, was_avg = self._cum.get(lid, (ZERO, ZERO))
        if cum <= was or leg.get("filled_avg_price") in (None, ""):
            return None
        avg = dec(leg["filled_avg_price"])
        qty = cum - was
        price = average((avg * cum - was_avg * was) / qty)
        self._cum[lid] = (cum, avg)
        return self._fill(cid, leg, cum, qty, price, ts)

    def _fill(self, cid: str, leg: Mapping[str, Any], cum: Decimal, qty: Decimal, price: Decimal, ts: float) -> BrokerFill | None:
        eid = exec_id(leg["id"], cum)
        if eid in self._reported or qty <= 0:
            return None
        self._reported.add(eid)
        self._client_of.setdefault(str(leg["id"]), our_client_id(cid))
        return BrokerFill(client_id=cid, exec_id=eid, qty=qty, price=price, symbol=_our(str(leg.get("symbol") or "")),
                          side=str(leg.get("side") or "") or None, ts=ts)
