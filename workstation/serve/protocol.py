"""The wire between a serving engine and its clients: versioned msgspec messages, JSON lines.

Every message is one JSON object on one line, tagged by its ``t`` field. A client sends
``Hello`` first; the server answers ``Welcome`` and a ``Snapshot`` (the working orders, the
account, a bounded window of recent orders and alerts: its size does not grow with the
day's history; older orders come by ``GetOrders`` in pages), then incremental events: ``OrderUpdate``, ``AlertUpdate``, ``ConnUpdate``, ``AccountUpdate``, ``QualityUpdate`` and
conflated ``Quotes``; after ``WatchDepth``, conflated ``Books`` and batched ``Trades``. Requests carry an ``id`` the ``Reply`` repeats. docs/PROTOCOL.md is
the reference for people writing other clients; this module is the reference for the code.

Money stays exact on the wire: msgspec writes ``Decimal`` as a JSON string.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import msgspec

from workstation.api import AccountSnapshot, EngineInfo
from workstation.core.book import BookView, TradePrint
from workstation.risk.dataquality import QualityChanged
from workstation.core.model import (
    AlertRaised,
    ConnectionState,
    Instrument,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderUnknown,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    OrderRequest,
    OrderSubmitted,
    Quote,
)

VERSION = 3  # 2: the snapshot's orders are a window; ``orders`` answers a page (OrdersPage); 3: orders can be unknown (OrderUnknown)
MAX_LINE = 16 * 1024 * 1024  # what a client reads in one message (the server's are far smaller)
HELLO_MAX = 4 * 1024  # the server reads at most this much before a client is authenticated
REQUEST_MAX = 1024 * 1024  # a request line from an authenticated client
SNAPSHOT_ORDERS = 500  # the most recent orders (by id) in a snapshot, besides every working one
SNAPSHOT_ALERTS = 200  # the most recent alerts in a snapshot
PAGE_MAX = 1_000  # orders in one ``orders`` reply at most (the server caps ``limit``)
HISTORY_MAX = 20_000  # bars in one ``history`` reply at most
TAPE_REPLY = 200  # the engine's latest prints per symbol in a ``watch_depth`` reply
TRADES_MAX = 10_000  # undelivered prints one client may hold; past it the oldest are dropped (counted)


class Msg(msgspec.Struct, frozen=True, kw_only=True, tag_field="t"):
    """Base of every message."""


# --------------------------------------------------------------------------- client -> server


class Hello(Msg, tag="hello"):
    v: int = VERSION
    kind: str = "client"  # tui, web, cli, bench...: recorded with every order the client sends
    name: str = ""  # free text for the journal (user@host, pid)
    token: str | None = None  # required on the TCP listener only
    quotes: bool = True  # False: never send quotes (one-shot commands)


class Request(Msg):
    id: int


class Submit(Request, tag="submit"):
    request: OrderRequest
    wait: bool = False  # reply once the broker's immediate answer is in (the CLI prints it)


class Review(Request, tag="review"):
    request: OrderRequest


class Cancel(Request, tag="cancel"):
    order_id: str


class CancelAll(Request, tag="cancel_all"):
    wait: bool = False


class Replace(Request, tag="replace"):
    order_id: str
    qty: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


class Flatten(Request, tag="flatten"):
    symbol: str | None = None


class Watch(Request, tag="watch"):
    symbols: list[str]


class WatchDepth(Request, tag="watch_depth"):
    """Books and tapes of ``symbols`` (the best ``levels`` each side): answered by a
    ``DepthWatched``, then ``Books`` and ``Trades`` follow until ``UnwatchDepth`` or the
    client leaves."""

    symbols: list[str]
    levels: int = 20


class UnwatchDepth(Request, tag="unwatch_depth"):
    symbols: list[str]


class History(Request, tag="history"):
    symbol: str
    seconds: int
    count: int


class GetChain(Request, tag="chain"):
    """An option chain with IV and Greeks (an ``OptionChain``): ``expiry`` None for the nearest
    listed, ``strikes`` the count nearest the money (None: every listed strike)."""

    underlying: str
    expiry: date | None = None
    strikes: int | None = None


class GetRiskReport(Request, tag="risk_report"):
    """The portfolio risk report (a ``PortfolioReport``): ``methods`` None for every one,
    ``lookback`` days of returns, ``decay`` the EWMA lambda (None: equal weights)."""

    methods: list[str] | None = None
    lookback: int = 250
    decay: float | None = None
    replays: list[str] | None = None  # ad-hoc START..END windows replayed after the configured ones


class GetInstrument(Request, tag="instrument"):
    symbol: str


class GetStatus(Request, tag="status"):
    """The document ``main.py status --json`` prints."""


class GetOrders(Request, tag="orders"):
    """One page of orders, newest first chosen, returned oldest first (an ``OrdersPage``).

    ``all``: every order in the journal, else the engine's orders of the day (working ones and
    those of the last 24 hours). ``before``: only orders whose id is below this one (the first
    id of the previous page); None: the newest. ``limit``: capped at ``PAGE_MAX`` by the server.
    """

    all: bool = False
    before: str | None = None
    limit: int = PAGE_MAX


class AckAlerts(Request, tag="ack_alerts"):
    """The person has seen the alerts: the unread count goes to zero for every client."""


class Kill(Request, tag="kill"):
    reason: str = "kill switch"


class Ping(Request, tag="ping"):
    pass


class RiskSet(Request, tag="risk_set"):
    """Change one risk limit now (``off``, ``default`` or a value); journaled by the engine."""

    name: str
    value: str
    strategy: str | None = None


class ResetBreaker(Request, tag="reset_breaker"):
    """Reset a tripped circuit breaker (refused while the breach persists)."""


class AlertRule(Request, tag="alert_rule"):
    op: str  # "add" (text: the rule) or "rm" (text: the rule id)
    text: str


class AlertAck(Request, tag="alert_ack"):
    ids: list[int] | None = None  # None: every unacknowledged alert


class StrategyOp(Request, tag="strategy"):
    """Start, stop, pause (toggles pause/resume) or re-parameterise one strategy instance."""

    op: str  # start, stop, pause, set_params
    name: str
    params: dict[str, str] = {}


ClientMsg = (
    Hello | Submit | Review | Cancel | CancelAll | Replace | Flatten | Watch | History | GetInstrument | GetStatus
    | GetOrders | AckAlerts | Kill | Ping | StrategyOp | RiskSet | ResetBreaker | AlertRule | AlertAck | GetChain
    | GetRiskReport | WatchDepth | UnwatchDepth
)

# --------------------------------------------------------------------------- server -> client

OrderEventMsg = OrderSubmitted | OrderAccepted | OrderRejected | OrderCanceled | OrderExpired | OrderReplaced | OrderFilled | OrderUnknown


class Welcome(Msg, tag="welcome"):
    v: int
    client_id: str  # this connection, as the journal records it ("tui#3")
    pid: int  # the serving process
    info: EngineInfo


class Snapshot(Msg, tag="snapshot"):
    ts: float  # the engine's clock when the snapshot was taken
    orders: list[Order]  # every working order and the SNAPSHOT_ORDERS most recent of the day, oldest first
    account: AccountSnapshot
    quotes: list[Quote]
    connection: ConnectionState | None
    alerts: list[AlertRaised]  # the most recent, oldest first
    unread: int
    instruments: list[Instrument]
    clients: list[str]
    strategies: StrategiesUpdate | None = None  # None: this engine runs no strategy desk
    quality: dict[str, list[str]] = {}  # data-quality badges per symbol (only symbols that have one)
    orders_more: bool = False  # the day has older orders than the window: ``GetOrders`` pages them


class StrategiesUpdate(Msg, tag="strategies"):
    """The strategy instances (rows as the Strategies pane shows them) and their parameters."""

    rows: list[dict[str, Any]]
    params: dict[str, list[dict[str, Any]]]


class Quotes(Msg, tag="quotes"):
    """The latest quote per symbol since the last batch: intermediate ticks are dropped."""

    quotes: list[Quote]


class Books(Msg, tag="books"):
    """The latest ``BookView`` per watched symbol since the last batch (intermediate views are
    dropped), each cut to the levels this client asked for."""

    books: list[BookView]


class Trades(Msg, tag="trades"):
    """Prints of the watched symbols since the last batch, oldest first, never reordered.
    ``dropped``: prints this client lost (the oldest undelivered ones) since the previous batch
    because it fell more than ``TRADES_MAX`` behind."""

    trades: list[TradePrint]
    dropped: int = 0


class OrderUpdate(Msg, tag="order"):
    event: OrderEventMsg


class AlertUpdate(Msg, tag="alert"):
    alert: AlertRaised
    unread: int


class Unread(Msg, tag="unread"):
    unread: int


class ConnUpdate(Msg, tag="conn"):
    state: ConnectionState


class QualityUpdate(Msg, tag="quality"):
    """A symbol's data-quality badges changed (crossed, locked, spike, gap, stale)."""

    event: QualityChanged


class AccountUpdate(Msg, tag="account"):
    snapshot: AccountSnapshot


class Reply(Msg, tag="reply"):
    id: int
    ok: bool = True
    error: str | None = None
    result: msgspec.Raw = msgspec.Raw(b"null")


class Watched(msgspec.Struct, frozen=True, kw_only=True):
    """The result of ``watch``: the instruments (tick, lot) and the quotes at hand."""

    instruments: list[Instrument]
    quotes: list[Quote]


class DepthWatched(msgspec.Struct, frozen=True, kw_only=True):
    """The result of ``watch_depth``: the books at hand (symbols with no snapshot yet have none)
    and each symbol's latest ``TAPE_REPLY`` prints, oldest first."""

    books: list[BookView]
    prints: list[TradePrint]


class OrdersPage(msgspec.Struct, frozen=True, kw_only=True):
    """The result of ``orders``: one page, oldest first, and whether older orders remain."""

    orders: list[Order]
    more: bool


class Bye(Msg, tag="bye"):
    """The server is closing this connection, and why (refused, too slow, shutting down)."""

    reason: str


ServerMsg = (
    Welcome | Snapshot | Quotes | OrderUpdate | AlertUpdate | Unread | ConnUpdate | AccountUpdate | StrategiesUpdate | QualityUpdate
    | Reply | Bye | Books | Trades
)


class ProtocolError(Exception):
    """A peer sent something that is not a message of this version."""


class LineTooLong(Exception):
    """A peer sent more than the limit without ending its line."""


def size_text(n: int) -> str:
    """``16 MiB``, ``4 KiB``: a limit as a person reads it."""
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    return f"{max(1, n // 1024)} KiB"


class LineReader:
    """Lines from a stream, each at most ``max_bytes`` (newline included), read in chunks.

    Unlike ``StreamReader.readline`` the bound is per call (a hello gets 4 KiB, a request
    1 MiB) and a peer that never ends its line costs at most that bound plus one chunk:
    ``LineTooLong`` comes as soon as the bound is passed, not when the line finally ends.
    """

    CHUNK = 64 * 1024

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._buf = bytearray()
        self._pos = 0  # start of the unread part of _buf

    async def readline(self, max_bytes: int) -> bytes:
        """The next line (with its newline); b"" at the end of the stream."""
        buf = self._buf
        scan = self._pos
        while True:
            i = buf.find(b"\n", scan)
            if i >= 0:
                if i + 1 - self._pos > max_bytes:
                    raise LineTooLong(max_bytes)
                out = bytes(buf[self._pos : i + 1])
                self._pos = i + 1
                if self._pos == len(buf):
                    buf.clear()
                    self._pos = 0
                return out
            if len(buf) - self._pos >= max_bytes:
                raise LineTooLong(max_bytes)
            if self._pos:
                del buf[: self._pos]
                self._pos = 0
            scan = len(buf)
            chunk = await self._reader.read(self.CHUNK)
            if not chunk:
                return b""
            buf += chunk


def encoder() -> msgspec.json.Encoder:
    return msgspec.json.Encoder()


def line(enc: msgspec.json.Encoder, msg: Msg) -> bytes:
    return enc.encode(msg) + b"\n"


def raw(enc: msgspec.json.Encoder, value: Any) -> msgspec.Raw:
    return msgspec.Raw(enc.encode(value))


client_decoder = msgspec.json.Decoder(ClientMsg).decode
server_decoder = msgspec.json.Decoder(ServerMsg).decode
