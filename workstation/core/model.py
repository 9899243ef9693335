"""Domain types: instruments, quotes, bars, orders, fills, positions, accounts and events.

Money is exact: prices, quantities, cash and P&L are ``Decimal``; rounding to an
instrument's tick and lot happens here and nowhere else (``Instrument.round_price``,
``Instrument.check_price``, ``Instrument.check_qty``). Market data (``Quote``, ``Bar``)
carries floats, as feeds do; the conversion to ``Decimal`` happens at the order boundary.

Every type is a frozen msgspec Struct: cheap to build (quotes arrive by the hundred
thousand), immutable, and encodable to JSON for the journal and the wire.
Instruments, market data, order requests, orders, fills and order events hold only numbers,
text, dates, enum members and each other, so none can be part of a reference cycle: they are left out of the
cyclic garbage collector's scans (``gc=False``; a backtest makes millions of them).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation

import msgspec

ZERO = Decimal(0)
_CENT = Decimal("0.01")
ONE = Decimal(1)


class ModelError(ValueError):
    """Bad input at the domain boundary; the message is one line a user can read."""


class IntentError(ModelError):
    """An intent the engine refused before doing anything; one line for a person (every face
    raises it; ``workstation.api`` re-exports it)."""


# --------------------------------------------------------------------------- numbers


MAX_DIGITS = 15
"""Numbers read from text (the command line, settings, forms) stay below 10 ** MAX_DIGITS."""


def to_decimal(value: object, what: str = "value") -> Decimal:
    """Parse ``value`` into a finite Decimal or raise ModelError naming ``what``.

    Text is read by one rule, on every face: ASCII digits only (``١٠٠`` and ``１００`` are
    refused, naming the character), an optional sign, point and exponent, ``,`` or ``_``
    between digits, and a magnitude below ``1e15`` with at most 30 decimal places."""
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, bool):
        raise ModelError(f"{what} must be a number, not {value!r}")
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        d = Decimal(repr(value))
    else:
        raw = str(value)
        shown = raw.strip() if len(raw) <= 40 else raw.strip()[:40] + "…"
        odd = next((ch for ch in raw if not ch.isascii() or not (ch.isprintable() or ch in " \t")), None)
        if odd is not None:
            raise ModelError(f"{what} must be written with ASCII digits 0-9, got {_char_name(odd)} in {shown!r}")
        text = raw.strip().replace(",", "").replace("_", "")
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise ModelError(f"{what} must be a number, got {shown!r}") from None
        if not d.is_finite():
            raise ModelError(f"{what} must be a finite number, got {shown!r}")
        if d:  # typed by a person: no price or size is that big, or that fine
            if d.adjusted() >= MAX_DIGITS:
                raise ModelError(f"{what} {shown} is out of range (below 1e{MAX_DIGITS})")
            if d.as_tuple().exponent < -_MAX_PLACES:  # type: ignore[operator]
                raise ModelError(f"{what} {shown} has too many decimal places (at most {_MAX_PLACES})")
    if not d.is_finite():
        raise ModelError(f"{what} must be a finite number, got {value!r}")
    return d


_MAX_PLACES = 30


def _char_name(ch: str) -> str:
    """``'١' (U+0661 ARABIC-INDIC DIGIT ONE)``: a character a user cannot see named so they can."""
    import unicodedata

    name = unicodedata.name(ch, "")
    return f"{ch!r} (U+{ord(ch):04X}{' ' + name if name else ''})"


def plain(d: Decimal | int | float | None) -> str | None:
    """Plain notation for output: ``120``, ``185.5``, never ``1.2E+2``."""
    if d is None:
        return None
    if not isinstance(d, Decimal):
        d = to_decimal(d)
    if d == 0:
        return "0"
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def money(d: Decimal) -> Decimal:
    """Round an amount of money to the cent (banker's rounding), for display and reports."""
    return d.quantize(_CENT, ROUND_HALF_EVEN)  # (the rounding passed by position: no keyword parsing)


# --------------------------------------------------------------------------- enums


class AssetClass(str, enum.Enum):
    EQUITY = "equity"
    CRYPTO = "crypto"
    FOREX = "forex"
    FUTURE = "future"
    OPTION = "option"
    INDEX = "index"  # a cash index (SPX, NDX, RUT): quoted, underlies cash-settled options


class Right(str, enum.Enum):
    CALL = "C"
    PUT = "P"


class Side(str, enum.Enum):
    BUY = "buy"
    SELL = "sell"

    # plain attributes of each member, set below (read several times per order: no call).
    # (In Python 3.11 an enum member looked up on its class costs ten times a global: the
    # order path keeps the members it compares against in module constants.)
    sign: int  # +1 for a buy, -1 for a sell
    opposite: Side


Side.BUY.sign, Side.SELL.sign = 1, -1
Side.BUY.opposite, Side.SELL.opposite = Side.SELL, Side.BUY
BUY, SELL = Side.BUY, Side.SELL


class OrderType(str, enum.Enum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(str, enum.Enum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(str, enum.Enum):
    NEW = "new"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    # A submit went unanswered and nothing proves what became of it: it may be working or
    # filled at the broker. It counts as working (held buying power, open orders, worst-case
    # position) until evidence (a report, a lookup, the resync) settles it. Never resent.
    UNKNOWN = "unknown"

    # plain attributes of each member, set below (read several times per order: no call)
    is_terminal: bool
    is_working: bool


_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED})
_WORKING = frozenset({OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNKNOWN})
for _status in OrderStatus:
    _status.is_terminal = _status in _TERMINAL
    _status.is_working = _status in _WORKING
del _status

# The one order state machine. A transition not listed here is refused.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NEW: frozenset({OrderStatus.SUBMITTED, OrderStatus.REJECTED, OrderStatus.CANCELED}),
    OrderStatus.SUBMITTED: frozenset(
        {
            OrderStatus.ACCEPTED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
            OrderStatus.UNKNOWN,  # the submit went unanswered and the lookup failed
        }
    ),
    OrderStatus.ACCEPTED: frozenset(
        {
            OrderStatus.ACCEPTED,  # a replace acknowledged
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
            OrderStatus.UNKNOWN,  # gone from the broker's open orders and the lookup failed
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.UNKNOWN}
    ),
    # settled only by evidence: whatever the broker reports or a lookup shows
    OrderStatus.UNKNOWN: frozenset(
        {
            OrderStatus.ACCEPTED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}


class IllegalTransition(ModelError):
    """An order was asked to move between two states the state machine does not join."""


def check_transition(old: OrderStatus, new: OrderStatus) -> None:
    if new not in TRANSITIONS[old]:
        raise IllegalTransition(f"order cannot go from {old.value} to {new.value}")


# --------------------------------------------------------------------------- instruments


class Instrument(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A tradable thing, named by the engine's one symbol syntax (see ``workstation.core.symbols``)."""

    symbol: str
    asset_class: AssetClass
    currency: str = "USD"  # the currency prices are quoted in
    base: str | None = None  # crypto and forex: the base asset (BTC in BTC/USD)
    tick_size: Decimal = Decimal("0.01")
    lot_size: Decimal = ONE
    multiplier: Decimal = ONE
    underlying: str | None = None
    expiry: date | None = None
    strike: Decimal | None = None
    right: Right | None = None
    exchange: str | None = None

    # -- rounding in one place
    def round_price(self, price: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        """Nearest multiple of the tick (direction by ``rounding``)."""
        ticks = (price / self.tick_size).quantize(ONE, rounding)
        return ticks * self.tick_size if ticks else ZERO

    def round_qty(self, qty: Decimal) -> Decimal:
        """Round a quantity down to whole lots."""
        lots = (qty / self.lot_size).quantize(ONE, ROUND_DOWN)
        return lots * self.lot_size

    def check_price(self, price: object, what: str = "price") -> Decimal:
        """Return the price as Decimal if positive and on the tick, else raise a readable error."""
        d = to_decimal(price, what)
        if d <= 0:
            raise ModelError(f"{what} must be positive, got {plain(d)}")
        if d % self.tick_size != 0:
            raise ModelError(f"{what} {plain(d)} is off the {plain(self.tick_size)} tick for {self.symbol}")
        return d

    def check_qty(self, qty: object) -> Decimal:
        """Return the quantity as Decimal if positive and a whole number of lots."""
        d = qty if type(qty) is Decimal and qty.is_finite() else to_decimal(qty, "quantity")
        if d <= ZERO:
            raise ModelError(f"quantity must be positive, got {plain(d)}")
        if d % self.lot_size:
            if self.lot_size == 1:
                raise ModelError(f"quantity must be a positive whole number, got {plain(d)}")
            raise ModelError(f"quantity {plain(d)} is not a multiple of the {plain(self.lot_size)} lot for {self.symbol}")
        return d

    @property
    def is_derivative(self) -> bool:
        return self.asset_class in (AssetClass.FUTURE, AssetClass.OPTION)

    @property
    def settles_notional(self) -> bool:
        """Whether buying moves the full notional out of cash (false for futures: P&L only)."""
        return self.asset_class is not AssetClass.FUTURE


# --------------------------------------------------------------------------- market data


class Quote(msgspec.Struct, frozen=True, gc=False):
    """Top of book plus last trade. Floats: this is market data, not money."""

    symbol: str
    ts: float  # epoch seconds
    bid: float
    ask: float
    last: float
    bid_size: float = 0.0
    ask_size: float = 0.0
    volume: float = 0.0
    prev_close: float = 0.0

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0

    @property
    def change(self) -> float:
        return self.last - self.prev_close if self.prev_close else 0.0

    @property
    def change_pct(self) -> float:
        return (self.last / self.prev_close - 1.0) * 100.0 if self.prev_close else 0.0


class Bar(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    ts: float  # epoch seconds of the bar's open
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    seconds: int = 60


# --------------------------------------------------------------------------- orders


def infer_order_type(limit: object, stop: object, trailing: bool = False) -> OrderType:
    """The order type the given prices imply: both is a stop-limit, neither a market order."""
    if trailing:
        return OrderType.TRAILING_STOP
    if limit is not None and stop is not None:
        return OrderType.STOP_LIMIT
    if limit is not None:
        return OrderType.LIMIT
    if stop is not None:
        return OrderType.STOP
    return OrderType.MARKET


class Leg(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One leg of a combo order (a spread), for one unit of the combo bought: ``side`` ``ratio``
    of ``symbol``. Selling the combo reverses every leg."""

    symbol: str
    side: Side
    ratio: int = 1


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An intent to trade, from any source. The order manager turns it into an Order."""

    symbol: str
    side: Side
    qty: Decimal
    type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    take_profit: Decimal | None = None  # bracket: a limit that closes at a profit
    stop_loss: Decimal | None = None  # bracket: a stop that closes at a loss
    oco_with: str | None = None  # pair this order with a working one: one fills, the other cancels
    strategy: str | None = None
    source: str = "cli"
    decision_price: Decimal | None = None
    legs: tuple[Leg, ...] = ()  # a combo: one order of several legs, priced as a net debit (buy) or credit (sell)
    extended: bool = False  # may trade in the pre- and post-market sessions (a DAY limit order; IB outsideRth, Alpaca extended_hours)


class Order(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One order's full state. Changes produce a new Order (``msgspec.structs.replace``)."""

    id: str
    client_id: str
    symbol: str
    side: Side
    qty: Decimal
    type: OrderType
    tif: TimeInForce
    status: OrderStatus = OrderStatus.NEW
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None
    filled_qty: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    reason: str | None = None
    strategy: str | None = None
    source: str = "cli"
    parent_id: str | None = None  # bracket children name their entry
    oco_group: str | None = None  # orders sharing a group cancel each other once one fills
    role: str | None = None  # "entry", "take_profit", "stop_loss" for brackets
    broker_id: str | None = None
    created: float = 0.0
    updated: float = 0.0
    decision_price: Decimal | None = None
    legs: tuple[Leg, ...] = ()  # a combo order's legs (its fills name each leg's symbol)
    extended: bool = False  # may trade in the pre- and post-market sessions (OrderRequest.extended)

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled_qty

    @property
    def is_working(self) -> bool:
        return self.status.is_working


class Fill(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An execution. ``exec_id`` is unique per broker: a duplicated report is dropped by it."""

    exec_id: str
    order_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    commission: Decimal = ZERO
    ts: float = 0.0
    strategy: str | None = None

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side is BUY else -self.qty


class Position(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    qty: Decimal = ZERO  # signed: negative is short
    avg_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    multiplier: Decimal = ONE
    currency: str = "USD"


class Account(msgspec.Struct, frozen=True, kw_only=True):
    """Account figures in the base currency."""

    currency: str
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    market_value: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    commissions: Decimal = ZERO
    # Figures only a real broker knows (None on the paper market, or when the broker does
    # not report them). ``from_broker`` says whose buying power this is.
    from_broker: bool = False
    initial_margin: Decimal | None = None
    maintenance_margin: Decimal | None = None
    excess_liquidity: Decimal | None = None
    day_trades_left: int | None = None
    day_trade_count: int | None = None
    pattern_day_trader: bool | None = None


# --------------------------------------------------------------------------- events
# Commands come in (OrderRequest), events go out. Everything on the bus is one of these
# or a Quote/Bar.


class OrderEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base of order events: the order's state after the change."""

    order: Order
    ts: float = 0.0


class OrderSubmitted(OrderEvent, frozen=True, kw_only=True, gc=False, tag="submitted"):
    pass


class OrderAccepted(OrderEvent, frozen=True, kw_only=True, gc=False, tag="accepted"):
    pass


class OrderRejected(OrderEvent, frozen=True, kw_only=True, gc=False, tag="rejected"):
    pass


class OrderCanceled(OrderEvent, frozen=True, kw_only=True, gc=False, tag="canceled"):
    pass


class OrderExpired(OrderEvent, frozen=True, kw_only=True, gc=False, tag="expired"):
    pass


class OrderUnknown(OrderEvent, frozen=True, kw_only=True, gc=False, tag="unknown"):
    """The order's fate cannot be proven (its submit went unanswered): do not resend it."""


class OrderReplaced(OrderEvent, frozen=True, kw_only=True, gc=False, tag="replaced"):
    pass


class OrderFilled(OrderEvent, frozen=True, kw_only=True, gc=False, tag="filled"):
    """A fill moved the order to partially filled or filled; ``fill`` is the execution."""

    fill: Fill


class AlertRaised(msgspec.Struct, frozen=True, kw_only=True):
    """Something a person should see: a rejection, a disconnect, a breach."""

    title: str
    message: str
    priority: str = "normal"  # low, normal, high, critical
    source: str = "engine"
    ts: float = 0.0
    key: str | None = None
    alert_id: int = 0  # the alert engine's journaled id (0: not journaled); ``alert ack ID`` takes it
    acked: bool = False  # acknowledged (journaled: still so after a restart)


class ConnectionState(msgspec.Struct, frozen=True, kw_only=True):
    broker: str
    state: str  # "connecting", "connected", "disconnected", "reconnecting"
    detail: str = ""
    ts: float = 0.0


ORDER_EVENT_TYPES: tuple[type[OrderEvent], ...] = (
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderCanceled,
    OrderExpired,
    OrderReplaced,
    OrderFilled,
    OrderUnknown,
)


def iso(ts: float) -> str:
    """ISO-8601 UTC with milliseconds, for output."""
    from datetime import timezone

    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
