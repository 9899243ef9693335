"""The wire between a serving engine and its clients: versioned msgspec messages, JSON lines.

Every message is one JSON object on one line, tagged by its ``t`` field. A client sends
``Hello`` first; the server answers ``Welcome`` and a ``Snapshot`` of the whole state, then
incremental events: ``OrderUpdate``, ``AlertUpdate``, ``ConnUpdate``, ``AccountUpdate``, ``QualityUpdate`` and
conflated ``Quotes``. Requests carry an ``id`` the ``Reply`` repeats. docs/PROTOCOL.md is
the reference for people writing other clients; this module is the reference for the code.

Money stays exact on the wire: msgspec writes ``Decimal`` as a JSON string.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from workstation.api import AccountSnapshot, EngineInfo
from workstation.dataquality import QualityChanged
from workstation.model import (
    AlertRaised,
    ConnectionState,
    Instrument,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    OrderRequest,
    OrderSubmitted,
    Quote,
)

VERSION = 1
MAX_LINE = 16 * 1024 * 1024  # one message (a snapshot of a large account) fits


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


class History(Request, tag="history"):
    symbol: str
    seconds: int
    count: int


class GetInstrument(Request, tag="instrument"):
    symbol: str


class GetStatus(Request, tag="status"):
    """The document ``main.py status --json`` prints."""


class GetOrders(Request, tag="orders"):
    all: bool = False


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
    | GetOrders | AckAlerts | Kill | Ping | StrategyOp | RiskSet | ResetBreaker | AlertRule | AlertAck
)

# --------------------------------------------------------------------------- server -> client

OrderEventMsg = OrderSubmitted | OrderAccepted | OrderRejected | OrderCanceled | OrderExpired | OrderReplaced | OrderFilled


class Welcome(Msg, tag="welcome"):
    v: int
    client_id: str  # this connection, as the journal records it ("tui#3")
    pid: int  # the serving process
    info: EngineInfo


class Snapshot(Msg, tag="snapshot"):
    ts: float  # the engine's clock when the snapshot was taken
    orders: list[Order]
    account: AccountSnapshot
    quotes: list[Quote]
    connection: ConnectionState | None
    alerts: list[AlertRaised]  # the most recent, oldest first
    unread: int
    instruments: list[Instrument]
    clients: list[str]
    strategies: StrategiesUpdate | None = None  # None: this engine runs no strategy desk
    quality: dict[str, list[str]] = {}  # data-quality badges per symbol (only symbols that have one)


class StrategiesUpdate(Msg, tag="strategies"):
    """The strategy instances (rows as the Strategies pane shows them) and their parameters."""

    rows: list[dict[str, Any]]
    params: dict[str, list[dict[str, Any]]]


class Quotes(Msg, tag="quotes"):
    """The latest quote per symbol since the last batch: intermediate ticks are dropped."""

    quotes: list[Quote]


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


class Bye(Msg, tag="bye"):
    """The server is closing this connection, and why (refused, too slow, shutting down)."""

    reason: str


ServerMsg = (
    Welcome | Snapshot | Quotes | OrderUpdate | AlertUpdate | Unread | ConnUpdate | AccountUpdate | StrategiesUpdate | QualityUpdate
    | Reply | Bye
)


class ProtocolError(Exception):
    """A peer sent something that is not a message of this version."""


def encoder() -> msgspec.json.Encoder:
    return msgspec.json.Encoder()


def line(enc: msgspec.json.Encoder, msg: Msg) -> bytes:
    return enc.encode(msg) + b"\n"


def raw(enc: msgspec.json.Encoder, value: Any) -> msgspec.Raw:
    return msgspec.Raw(enc.encode(value))


client_decoder = msgspec.json.Decoder(ClientMsg).decode
server_decoder = msgspec.json.Decoder(ServerMsg).decode
