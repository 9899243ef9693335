"""The protocol every broker adapter implements, and the reports a broker sends back.

An adapter translates between its SDK and ``workstation.core.model``. The engine talks to it
only through ``Broker``; the adapter talks back only through the three sinks given to
``attach``: execution reports (``BrokerReport`` subclasses), quotes, and connection state.
Sinks are plain callables that must be invoked on the engine's event loop thread (an
adapter whose SDK calls back on another thread hops with ``loop.call_soon_threadsafe``).

Reports are keyed by our ``client_id``; a broker that sends the same execution twice
sends the same ``exec_id``, and the order manager drops the duplicate.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol, runtime_checkable

import msgspec

from workstation.core.book import BookDelta, BookSnapshot, TradePrint
from workstation.core.model import Account, Bar, ConnectionState, Instrument, Order, Position, Quote


class BrokerError(Exception):
    """A broker could not do what was asked; the message is one line for a person."""


class BrokerUnavailable(BrokerError):
    """The broker cannot be reached or refuses our credentials."""


class BrokerTimeout(BrokerError):
    """A request went out but its answer did not come back: its outcome is unknown."""


# --------------------------------------------------------------------------- reports


class BrokerReport(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str
    ts: float = 0.0


class BrokerAccepted(BrokerReport, frozen=True, kw_only=True, tag="accepted"):
    broker_id: str | None = None


class BrokerFill(BrokerReport, frozen=True, kw_only=True, tag="fill"):
    exec_id: str
    qty: Decimal
    price: Decimal
    commission: Decimal = Decimal(0)
    symbol: str | None = None  # for fills of orders we do not know (placed elsewhere)
    side: str | None = None


class BrokerCanceled(BrokerReport, frozen=True, kw_only=True, tag="canceled"):
    reason: str | None = None


class BrokerRejected(BrokerReport, frozen=True, kw_only=True, tag="rejected"):
    reason: str


class BrokerExpired(BrokerReport, frozen=True, kw_only=True, tag="expired"):
    pass


class BrokerReplaced(BrokerReport, frozen=True, kw_only=True, tag="replaced"):
    qty: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


class BrokerOrderState(msgspec.Struct, frozen=True, kw_only=True):
    """An order as the broker sees it, for resynchronisation after a reconnect."""

    client_id: str
    broker_id: str | None
    symbol: str
    side: str
    qty: Decimal
    filled_qty: Decimal
    status: str
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


ReportSink = Callable[[BrokerReport], None]
QuoteSink = Callable[[Quote], None]
StateSink = Callable[[ConnectionState], None]


@runtime_checkable
class Broker(Protocol):
    name: str
    """Short name shown to the user: "paper", "alpaca-paper", "ib-paper", ..."""

    keeps_account: bool
    """True when the broker's account (cash, positions) is the truth; False for the paper
    broker, whose account lives in our journal."""

    supports_combos: bool
    """True when the venue takes a combo (a spread: ``Order.legs``) as ONE order and fills it
    atomically, reporting one ``BrokerFill`` per leg per execution with the leg's ``symbol``
    and effective ``side`` (the paper broker; IB and Alpaca natively). False: the order
    manager refuses combos with one line before anything is sent. (Read with
    ``getattr(broker, "supports_combos", False)``: an adapter without it takes none.)"""

    def attach(self, on_report: ReportSink, on_quote: QuoteSink, on_state: StateSink) -> None: ...

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def instrument(self, symbol: str) -> Instrument:
        """The venue's metadata for a symbol; raises BrokerError for an unknown one."""

    async def subscribe(self, symbols: list[str]) -> None: ...

    async def unsubscribe(self, symbols: list[str]) -> None: ...

    async def submit(self, order: Order) -> None:
        """Send an order. Reports arrive through the sink (possibly before this returns)."""

    async def cancel(self, order: Order) -> None: ...

    async def replace(
        self, order: Order, qty: Decimal, limit_price: Decimal | None, stop_price: Decimal | None
    ) -> None: ...

    async def open_orders(self) -> list[BrokerOrderState]: ...

    async def fills_since(self, ts: float) -> list[BrokerFill]: ...

    async def lookup(self, client_id: str) -> BrokerOrderState | None:
        """The broker's view of one of our orders by client order id (None if it has none).

        Used to resolve a submit whose answer was lost, instead of sending it again."""

    async def positions(self) -> list[Position]: ...

    async def account(self) -> Account | None: ...

    async def history(self, symbol: str, seconds: int, start: float, end: float) -> list[Bar]: ...

    def snapshot(self, symbol: str) -> Quote | None:
        """The latest quote the broker has for a symbol, without waiting."""


BookSink = Callable[[BookSnapshot | BookDelta], None]
TradeSink = Callable[[TradePrint], None]


@runtime_checkable
class DepthFeed(Protocol):
    """What a broker with market depth and a tape adds to ``Broker`` (optional: the engine asks
    ``isinstance(broker, DepthFeed)``; without it, depth and the tape are said to be unavailable
    in one line).

    ``attach_depth`` gives the sinks, called on the engine's loop thread like the others: book
    messages (a ``BookSnapshot`` first, then ``BookDelta`` with consecutive ``seq``; after a gap
    the adapter sends a fresh snapshot) and trades (``TradePrint``, in the venue's order).
    ``subscribe_depth`` starts a symbol's book (``levels`` each side, as the venue allows);
    ``subscribe_trades`` its tape. Both are idempotent; an unknown symbol raises BrokerError."""

    def attach_depth(self, on_book: BookSink, on_trade: TradeSink) -> None: ...

    async def subscribe_depth(self, symbols: list[str], levels: int = 20) -> None: ...

    async def unsubscribe_depth(self, symbols: list[str]) -> None: ...

    async def subscribe_trades(self, symbols: list[str]) -> None: ...

    async def unsubscribe_trades(self, symbols: list[str]) -> None: ...


# --------------------------------------------------------------------------- redaction

_SIGNED_URL = re.compile(r"(?i)\b((?:https?|wss?)://[^\s?#\"'<>]+)\?[^\s\"'<>]*")
_SECRET_PARAM = re.compile(r"(?i)\b(signature|timestamp|api_?key|key|secret|token)=[^&\s\"',;)]+")
_SECRET_HEADER = re.compile(
    r"(?i)\b(authorization|x-mbx-apikey|apca-api-[a-z-]+)(['\"]?\s*[:=]\s*['\"]?)((?:bearer|basic)\s+)?[^\s'\",;}&]+"
)


def redact(text: str) -> str:
    """``text`` safe to show or store: URLs lose their query strings (a signed request's
    timestamp, signature and key), ``signature=``, ``timestamp=``, ``apiKey=`` / ``api_key=``,
    ``key=``, ``secret=`` and ``token=`` lose their values, and so do the ``Authorization``,
    ``X-MBX-APIKEY`` and ``APCA-API-*`` headers. Applied wherever an SDK's error becomes a
    ``BrokerError``, a report's reason or a connection state's detail."""
    text = _SIGNED_URL.sub(r"\1", text)
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=***", text)
    return _SECRET_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


def redact_report(report: BrokerReport) -> BrokerReport:
    """The report with its reason (a rejection's or a cancel's) redacted."""
    reason = getattr(report, "reason", None)
    if isinstance(reason, str):
        cleaned = redact(reason)
        if cleaned != reason:
            return msgspec.structs.replace(report, reason=cleaned)  # type: ignore[type-var]
    return report


# --------------------------------------------------------------------------- floats from SDKs

SIGNIFICANT_DIGITS = 12
"""A float an SDK hands over carries at most this many significant digits of meaning: more is
binary noise (``-0.1399999999998`` is ``-0.14``)."""

AVERAGE_PLACES = Decimal("0.00000001")
"""Average prices (a position's cost) are rounded to 8 decimal places."""


def _tidy(d: Decimal) -> Decimal:
    """Without trailing zeros, and never in exponent form (``60000``, not ``6E+4``)."""
    return Decimal(format(d.normalize(), "f"))


def exact(value: float | int | str | Decimal) -> Decimal:
    """A number from an SDK as the decimal it stands for. A float is read from its shortest
    form (``repr``, never its binary expansion) and rounded to ``SIGNIFICANT_DIGITS``."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, float):
        return Decimal(str(value))
    d = Decimal(repr(value))
    if not d.is_finite() or d == 0:
        return d
    places = SIGNIFICANT_DIGITS - d.adjusted() - 1
    return _tidy(d.quantize(Decimal(1).scaleb(-places))) if places < -d.as_tuple().exponent else _tidy(d)


def average(value: Decimal) -> Decimal:
    """An average price rounded to ``AVERAGE_PLACES`` (a division's 28 digits say nothing more)."""
    return _tidy(value.quantize(AVERAGE_PLACES)) if value.is_finite() else value


# A position's ``avg_price`` of 0 from ``Broker.positions`` means the broker cannot tell its
# cost (the ccxt adapter, when an exchange's trades do not account for a balance): never a
# made-up cost; the portfolio keeps the average it knows (``Portfolio.adopt``).
