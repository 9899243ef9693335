"""Alpaca's JSON and alpaca-py's request models <-> ``workstation.core.model``, exactly. Pure: no I/O.

Numbers from Alpaca are read from their JSON text into ``Decimal``; numbers going out pass
through the SDK's float fields only when the float's shortest text is the same number.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from alpaca.trading.enums import OrderClass, OrderSide
from alpaca.trading.enums import TimeInForce as AlpacaTIF
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)

from brokers.base import (
    BrokerAccepted,
    BrokerCanceled,
    BrokerError,
    BrokerExpired,
    BrokerFill,
    BrokerOrderState,
    BrokerRejected,
    BrokerReplaced,
    BrokerReport,
    exact,
)
from workstation.core.model import AssetClass, Instrument, ModelError, Order, OrderType, TimeInForce, plain
from workstation.core.symbols import parse_symbol

REPLACE_MARK = ".r"
OCO_MARK = "+"
OCO_PAIR_WAIT_S = 2.0
FRACTIONAL_LOT = Decimal("0.000000001")
CRYPTO_QUOTES = ("USDT", "USDC", "USD", "BTC")
OPEN_STATUSES = {"new", "accepted", "pending_new", "partially_filled", "pending_replace", "pending_cancel", "accepted_for_bidding", "held", "calculated"}



def dec(value: object) -> Decimal:
    """A number from Alpaca's JSON (a string, or a number json gave us as float) as Decimal."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return exact(value)  # its shortest form, binary noise rounded away
    return Decimal(str(value))


def opt_dec(value: object) -> Decimal | None:
    return None if value is None or value == "" else dec(value)


def to_float(d: Decimal, what: str) -> float:
    """The SDK's request models hold floats: refuse a value a float cannot carry exactly."""
    f = float(d)
    if Decimal(repr(f)) != d:
        raise BrokerError(f"{what} {plain(d)} has more digits than Alpaca's SDK can send exactly")
    return f


def our_client_id(client_order_id: str) -> str:
    """Ours from Alpaca's: ``<ours>.r<hex>`` after a replace, ``<take-profit>+<stop-loss>`` for an OCO."""
    return client_order_id.split(REPLACE_MARK, 1)[0].split(OCO_MARK, 1)[0]


def our_symbol(symbol: str, asset_class: str | None) -> str:
    """Alpaca names crypto BTC/USD in orders and streams but BTCUSD in positions; options by OCC symbol."""
    if asset_class == "us_option":
        try:
            return parse_symbol(symbol).symbol
        except ModelError:
            return symbol
    if asset_class == "crypto" and "/" not in symbol:
        for quote in CRYPTO_QUOTES:
            if symbol.endswith(quote) and len(symbol) > len(quote):
                return f"{symbol[: -len(quote)]}/{quote}"
    return symbol


def exec_id(order_id: object, cum_qty: object) -> str:
    """The same text for a fill seen on the stream and in the FILL activities."""
    return f"{order_id}@{plain(dec(cum_qty))}"


def parse_time(value: object) -> float:
    if value is None:
        return 0.0
    if isinstance(value, datetime):
        return value.timestamp()
    if hasattr(value, "to_unix"):  # a msgpack Timestamp from the data stream
        return float(value.to_unix())
    text = str(value).replace("Z", "+00:00")
    if "." in text:  # Alpaca sends nanoseconds; datetime takes at most microseconds
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    return datetime.fromisoformat(text).timestamp()


def instrument_from_asset(symbol: str, asset: Mapping[str, Any]) -> Instrument:
    """Our Instrument from an Alpaca asset: tick and lot from the venue."""
    if asset.get("status") != "active" or not asset.get("tradable"):
        raise BrokerError(f"{symbol} is not tradable at Alpaca (status {asset.get('status')})")
    parsed = parse_symbol(symbol)
    if asset.get("class") == "crypto":
        tick = opt_dec(asset.get("price_increment")) or Decimal("0.01")
        lot = opt_dec(asset.get("min_trade_increment")) or FRACTIONAL_LOT
        return Instrument(
            symbol=parsed.symbol, asset_class=AssetClass.CRYPTO, currency=parsed.currency, base=parsed.base,
            tick_size=tick, lot_size=lot, exchange="ALPACA",
        )
    lot = FRACTIONAL_LOT if asset.get("fractionable") else Decimal(1)
    return Instrument(
        symbol=parsed.symbol, asset_class=AssetClass.EQUITY, currency="USD", tick_size=Decimal("0.01"),
        lot_size=lot, exchange=asset.get("exchange"),
    )


_TIF = {TimeInForce.DAY: AlpacaTIF.DAY, TimeInForce.GTC: AlpacaTIF.GTC, TimeInForce.IOC: AlpacaTIF.IOC, TimeInForce.FOK: AlpacaTIF.FOK}


def order_request(order: Order, crypto: bool) -> Any:
    """An alpaca-py order request for one of our orders (our client id goes along)."""
    tif = order.tif
    if crypto and tif is TimeInForce.DAY:
        tif = TimeInForce.GTC  # a market that never closes: day means good till canceled (as on ccxt)
    if crypto and tif not in (TimeInForce.GTC, TimeInForce.IOC):
        raise BrokerError(f"Alpaca takes crypto orders as gtc or ioc, not {tif.value}")
    common: dict[str, Any] = {
        "symbol": order.symbol, "qty": to_float(order.qty, "quantity"), "side": OrderSide(order.side.value),
        "time_in_force": _TIF[tif], "client_order_id": order.client_id,
    }
    t = order.type
    if t is OrderType.MARKET:
        return MarketOrderRequest(**common)
    if t is OrderType.LIMIT:
        if order.extended and not crypto:  # (crypto trades around the clock: nothing to opt into)
            common["extended_hours"] = True  # Alpaca: a DAY limit order may fill pre- and post-market
        return LimitOrderRequest(**common, limit_price=to_float(order.limit_price, "limit price"))
    if t is OrderType.STOP:
        return StopOrderRequest(**common, stop_price=to_float(order.stop_price, "stop price"))
    if t is OrderType.STOP_LIMIT:
        return StopLimitOrderRequest(
            **common, limit_price=to_float(order.limit_price, "limit price"), stop_price=to_float(order.stop_price, "stop price")
        )
    if t is OrderType.TRAILING_STOP:
        if crypto:
            raise BrokerError("Alpaca has no trailing stops for crypto")
        if order.trail_percent is not None:
            return TrailingStopOrderRequest(**common, trail_percent=to_float(order.trail_percent, "trail percent"))
        return TrailingStopOrderRequest(**common, trail_price=to_float(order.trail_amount, "trail amount"))
    raise BrokerError(f"Alpaca cannot take a {t.value} order")


def oco_request(tp: Order, sl: Order) -> LimitOrderRequest:
    """A bracket's exits as Alpaca's native OCO: the take-profit limit with the stop-loss as its leg."""
    tif = tp.tif if tp.tif in (TimeInForce.DAY, TimeInForce.GTC) else TimeInForce.GTC
    return LimitOrderRequest(
        symbol=tp.symbol, qty=to_float(tp.qty, "quantity"), side=OrderSide(tp.side.value), time_in_force=_TIF[tif],
        order_class=OrderClass.OCO, client_order_id=f"{tp.client_id}{OCO_MARK}{sl.client_id}",
        take_profit=TakeProfitRequest(limit_price=to_float(tp.limit_price, "take-profit price")),
        stop_loss=StopLossRequest(stop_price=to_float(sl.stop_price, "stop-loss price")),
    )


def order_state(o: Mapping[str, Any]) -> BrokerOrderState:
    return BrokerOrderState(
        client_id=our_client_id(o["client_order_id"]), broker_id=str(o["id"]),
        symbol=our_symbol(o.get("symbol") or "", o.get("asset_class")), side=str(o.get("side")),
        qty=dec(o.get("qty") or 0), filled_qty=dec(o.get("filled_qty") or 0), status=str(o.get("status")),
        limit_price=opt_dec(o.get("limit_price")), stop_price=opt_dec(o.get("stop_price")),
    )


def report_from_update(data: Mapping[str, Any], clock_ts: float, client_id: str | None = None) -> BrokerReport | None:
    """A BrokerReport for one ``trade_updates`` event (None for events we need not act on)."""
    event = data.get("event")
    o = data["order"]
    cid = client_id or our_client_id(o["client_order_id"])
    ts = parse_time(data.get("timestamp")) or clock_ts
    if event in ("new", "accepted", "pending_new"):
        return BrokerAccepted(client_id=cid, broker_id=str(o["id"]), ts=ts)
    if event in ("fill", "partial_fill"):
        return BrokerFill(
            client_id=cid, exec_id=exec_id(o["id"], o["filled_qty"]), qty=dec(data["qty"]), price=dec(data["price"]),
            symbol=our_symbol(o.get("symbol") or "", o.get("asset_class")), side=o.get("side"), ts=ts,
        )
    if event == "canceled":
        return BrokerCanceled(client_id=cid, reason=data.get("reason"), ts=ts)
    if event == "expired":
        return BrokerExpired(client_id=cid, ts=ts)
    if event == "rejected":
        reason = data.get("reason") or o.get("reject_reason") or "rejected by Alpaca"
        return BrokerRejected(client_id=cid, reason=f"Alpaca: {reason}", ts=ts)
    if event == "replaced" and not o.get("replaced_by"):
        return BrokerReplaced(client_id=cid, qty=dec(o["qty"]), limit_price=opt_dec(o.get("limit_price")), stop_price=opt_dec(o.get("stop_price")), ts=ts)
    return None


def timeframe(seconds: int) -> TimeFrame:
    for unit, size in ((TimeFrameUnit.Day, 86_400), (TimeFrameUnit.Hour, 3_600), (TimeFrameUnit.Minute, 60)):
        if seconds % size == 0:
            return TimeFrame(seconds // size, unit)
    raise BrokerError(f"Alpaca has no {seconds}-second bars (use whole minutes, hours or days)")

