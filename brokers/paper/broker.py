"""The paper broker: a matching engine over the simulated market or a replayed file.

``SimBroker`` implements ``brokers.base.Broker`` with ``name = "paper"``. Its quotes come
from ``SimMarket`` (``brokers.paper.market``: a deterministic price process for any symbol)
or, for one symbol, from a ``ReplayFeed`` (``brokers.paper.replay``: bars from a file). Every
``1 / tick_hz`` seconds ``step()`` computes the quote of every subscribed symbol and of
every symbol with a working order, hands each to ``on_quote`` and matches the working
orders against it. Tests call ``step(t)`` themselves with a ``SimClock``. The paper
account (cash, positions) is the engine's journal, so ``positions()`` is empty and
``account()`` is ``None``.

Matching rules
--------------
* **Reports.** Every accepted order gets ``BrokerAccepted(client_id, broker_id)`` before
  any fill; reports are emitted synchronously from ``submit``, ``replace``, ``restore``
  and ``step`` (so they may arrive before ``submit`` returns), always after the book has
  been updated. ``broker_id`` is ``paper-<client_id>``; a fill's ``exec_id`` is
  ``sim-<client_id>-<cumulative filled qty>``, unique per order even across a restart.
* **Universe.** ``instrument``, ``subscribe`` and ``history`` raise ``BrokerError`` for a
  symbol the paper market's universe (``brokers.paper.universe``) does not list today: an
  unknown name ("APPL is not in the paper market's universe; did you mean AAPL?"), an
  expired or non-listed contract, an option expiry or strike that is not listed.
  ``snapshot`` answers ``None`` for it. A replayed file's symbol is always listed.
* **Rejection.** ``BrokerRejected`` with a readable reason for a malformed or unlisted symbol, a
  quantity that is not a positive whole number of lots, a missing or off-tick price, a
  trailing stop without exactly one positive trail, and, under the ``"nyse"`` calendar,
  a DAY, IOC or FOK order for an instrument whose market is closed (a GTC order is
  accepted and rests until the market opens). Submitting a client id that is already
  working raises ``BrokerError``.
* **Prices.** Fill prices are ``Decimal`` on the instrument's tick. Quantities come from
  the book's (or the quote's) displayed sizes rounded down to whole lots (at least one lot).
* **The paper book** (``depth = true``, the default, with ``partial_fills``): every quote has
  a book around it (``brokers.paper.depth``: the touch is the quote, 20 levels each side).
  Orders that take liquidity walk it: one fill per level, each at the level's price (plus
  slippage), what they take gone for the next order until the next quote. A limit that rests
  queues behind the size displayed at its level on arrival (none when it improves the touch);
  tape prints at its price from the other side use that size up, then fill it at its limit; a
  print through its price fills it up to the print's size. The broker streams books and tapes
  (``DepthFeed``) of subscribed symbols only. ``depth = false`` gives the top-of-book rules
  below (``Market``, ``Limit``, ``Partial fills``) unchanged.
* **Market.** A buy fills at the ask, a sell at the bid, moved against the trader by the
  slippage (``slippage_bps`` of the price plus ``slippage_ticks`` ticks), rounded to the
  tick against the trader (a buy up, a sell down; never below one tick). On the paper book
  it walks the levels from the touch on; what 20 levels do not hold waits for the next quote.
* **Limit.** On arrival (submit, replace, or a stop-limit's trigger), a marketable limit
  (a buy with ask <= limit, a sell with bid >= limit) fills at the touch plus slippage,
  never worse than the limit (on the paper book: walks the levels up to the limit, and the
  rest rests in the queue). Otherwise it rests, and fills at the limit price on a
  later quote that reaches it (ask <= limit for a buy, bid >= limit for a sell).
* **Stop.** Triggers when the market trades through the stop (a buy when ask >= stop, a
  sell when bid <= stop), on arrival or on a later quote, then fills as a market order.
  A **stop-limit** triggers the same way, then behaves as a limit at its limit price
  arriving at that moment (it may rest).
* **Trailing stop** (``trail_amount`` or ``trail_percent``). Tracks the best price since
  acceptance (a sell: the highest bid; a buy: the lowest ask); the stop is the best
  less the amount (or times ``1 - pct/100``) for a sell, rounded down to the tick, and
  the best plus the amount (or times ``1 + pct/100``) for a buy, rounded up. It then
  triggers as a stop. ``open_orders`` reports the current stop.
* **Partial fills.** With ``partial_fills`` on, an order fills at most the displayed
  size (``ask_size`` for a buy, ``bid_size`` for a sell) per quote, the rest on later
  quotes; each order sees the whole displayed size (orders do not queue behind each
  other). With it off, an order fills completely at once at the touch, with or without the
  paper book (no walk, no queue: the setting keeps its meaning).
* **Time in force.** IOC fills what it can on arrival and cancels the rest
  (``BrokerCanceled`` with the reason); FOK fills completely on arrival or is canceled
  whole (on the paper book: when the levels within its limit hold its quantity); DAY
  expires (``BrokerExpired``) at the end of the trading day (``day_end``: 16:00 New York
  for NYSE-session instruments under ``"nyse"``, otherwise the 17:00 New York day roll);
  GTC rests until canceled. Expiry is checked before matching.
* **Closed markets.** Under ``"nyse"``, quotes keep flowing outside trading hours (the
  process never stops) but nothing matches until the market opens. A replayed symbol
  is always open: its file plays whenever the clock runs.
* **Replay.** With ``feed=ReplayFeed(...)``, that symbol's quotes come from the file
  (four per bar: open, the two extremes, close; ``speed`` bars per clock second) and
  orders on it match against them; other symbols still come from ``SimMarket``.
* **Commission** per fill: ``max(commission_min, commission_per_share * qty)`` when the
  per-share rate is positive, plus ``commission_pct`` percent of the notional
  (``price * qty * multiplier``), rounded to the cent.
* **Cancel** emits ``BrokerCanceled``; an order that is not working raises
  ``BrokerError("order X is not working")``. **Replace** updates the resting order in
  place (a new quantity must exceed what is already filled; prices must be on tick,
  else ``BrokerError`` and the order is unchanged), emits ``BrokerReplaced``, then
  matches it as an arrival (it loses its place, as on an exchange).
* **Restore.** ``restore(orders)`` puts working orders from the journal back in the book
  without ``BrokerAccepted`` and matches them at once as resting orders: DAY orders
  whose day has ended expire, an IOC or FOK order is canceled, a partly filled stop is
  taken as triggered, and a trailing stop starts tracking from the current quote.
* **Lookup.** ``lookup(client_id)`` answers from the book, or from the final state of
  an order that ended in this session (filled, canceled, expired, rejected).
* **Estimates.** ``estimate_commission(inst, qty, price)`` applies the commission model
  to a prospective fill, for the order manager's pre-trade checks.
* Brackets and OCO groups are the order manager's business: the sim matches plain orders.
* **Combos** (``Order.legs``, ``supports_combos``) rest in their own book and fill
  atomically, every leg at its own touch or none (``brokers.paper.combos``).

Why one module: the paper matching engine is one book: admission, matching, trailing,
expiry and restore act on the same working orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

import msgspec

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
    QuoteSink,
    ReportSink,
    StateSink,
)
from brokers.paper import depth as paper_depth
from brokers.paper import surface
from brokers.paper.chains import paper_chain
from brokers.paper.combos import ComboBook
from brokers.paper.market import CALENDARS, NEW_YORK, SimMarket, day_end, is_open
from brokers.paper.market import session as market_session
from brokers.paper.universe import Universe, UniverseError
from workstation.core.book import BookDelta, BookLevel, BookSnapshot, BookView, TradePrint
from workstation.core.chain import OptionChain
from workstation.core.clock import Clock
from workstation.core.model import (
    BUY,
    ONE,
    ZERO,
    Account,
    AssetClass,
    Bar,
    ConnectionState,
    Instrument,
    ModelError,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    TimeInForce,
    money,
    plain,
    to_decimal,
)
from workstation.core.sessions import SessionKind
from workstation.core.symbols import parse_symbol

__all__ = ["NotListed", "ReplayError", "ReplayFeed", "SimBroker", "SimConfig", "SimMarket"]

if TYPE_CHECKING:
    from brokers.base import BookSink, TradeSink
    from brokers.paper.replay import ReplayError, ReplayFeed


def __getattr__(name: str):
    """``ReplayError`` and ``ReplayFeed`` on first use: a replay's file readers are imported by
    the code that opens one, not by every command that only builds a paper broker."""
    if name in ("ReplayError", "ReplayFeed"):
        from brokers.paper import replay

        return getattr(replay, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

log = logging.getLogger(__name__)

_HUNDRED = Decimal(100)
_NO_FEE = money(ZERO)  # what a commission-free fill books (as money() gives it)
_BPS = Decimal(10_000)
_STOPS = (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP)
# members read on every order, as module constants (an enum member looked up on its class is
# ten times slower than a global in Python 3.11)
_MARKET = OrderType.MARKET
_LIMITS = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_DAY, _GTC = TimeInForce.DAY, TimeInForce.GTC
_IOC_FOK = (TimeInForce.IOC, TimeInForce.FOK)


class NotListed(BrokerError, ModelError):
    """A symbol the paper market does not list: the broker's refusal (a ``BrokerError``) of
    bad input (a ``ModelError``: one line, exit code 2 in the CLI)."""


class SimConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Settings of the simulated market and paper broker."""

    seed: int = 0
    tick_hz: float = 2.0  # quote updates per second per symbol
    calendar: str = "always"  # "always", "exchange" or "nyse" (brokers.paper.market)
    slippage_bps: Decimal = Decimal(0)
    slippage_ticks: int = 0
    commission_per_share: Decimal = Decimal(0)
    commission_min: Decimal = Decimal(0)
    commission_pct: Decimal = Decimal(0)
    partial_fills: bool = True
    depth: bool = True  # orders walk the paper book and resting limits queue (brokers.paper.depth)

    def __post_init__(self) -> None:
        if not self.tick_hz > 0:
            raise ValueError(f"tick_hz must be positive, got {self.tick_hz}")
        if self.calendar not in CALENDARS:
            raise ValueError(f"calendar must be one of {', '.join(CALENDARS)}, got {self.calendar!r}")
        for name in ("slippage_bps", "commission_per_share", "commission_min", "commission_pct"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {plain(getattr(self, name))}")
        if self.slippage_ticks < 0:
            raise ValueError(f"slippage_ticks must not be negative, got {self.slippage_ticks}")
        if not isinstance(self.depth, bool):
            raise ValueError(f"depth must be true or false, got {self.depth!r}")


class _Working(msgspec.Struct):
    """An order in the book, with the matching engine's state."""

    order: Order
    inst: Instrument
    broker_id: str
    qty: Decimal
    filled: Decimal
    limit: Decimal | None
    stop: Decimal | None
    expires: float | None  # DAY orders: when they expire
    triggered: bool = False  # stop types: the stop has been touched
    best: Decimal | None = None  # trailing stops: the best price since acceptance
    ahead: float | None = None  # resting limits on the paper book: the size still ahead in the queue
    since: float = 0.0  # ... and when it joined the queue (prints after it count)

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled

    @property
    def buy(self) -> bool:
        return self.order.side is BUY

    def state(self, status: OrderStatus | None = None) -> BrokerOrderState:
        if status is None:
            status = OrderStatus.PARTIALLY_FILLED if self.filled else OrderStatus.ACCEPTED
        return BrokerOrderState(
            client_id=self.order.client_id, broker_id=self.broker_id, symbol=self.inst.symbol,
            side=self.order.side.value, qty=self.qty, filled_qty=self.filled, status=status.value,
            limit_price=self.limit, stop_price=self.stop,
        )


def _ignore(_: object) -> None:
    return None


class _Feed(msgspec.Struct):
    """One symbol's depth stream: its levels, the next sequence number, what was last sent."""

    inst: Instrument
    levels: int
    seq: int = 0
    bids: dict[float, float] = msgspec.field(default_factory=dict)
    asks: dict[float, float] = msgspec.field(default_factory=dict)


def _levels_of(book: paper_depth.PaperBook, bid: bool) -> Iterator[tuple[int, float]]:
    """The touch of one side of a paper book, then (built only when asked for) the deeper levels."""
    yield book.touch(bid)
    for ticks, size in book.levels(bid)[1:]:
        yield ticks, size


def _changed(old: dict[float, float], new: dict[float, float]) -> tuple[BookLevel, ...]:
    out = [BookLevel(p, s) for p, s in new.items() if old.get(p) != s]
    out += [BookLevel(p, 0.0) for p in old if p not in new]
    return tuple(out)


def _on_tick(inst: Instrument, price: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """``Instrument.round_price`` in plain notation (``10``, not ``1E+1``), for reports and journals."""
    d = inst.round_price(price, rounding)
    exponent = d.as_tuple().exponent
    return d.quantize(ONE) if isinstance(exponent, int) and exponent > 0 else d


class SimBroker:
    """The paper broker (see the module docstring for the matching rules)."""

    name = "paper"
    keeps_account = False
    supports_combos = True  # spreads fill atomically (``brokers.paper.combos``)

    def __init__(
        self,
        clock: Clock,
        config: SimConfig | None = None,
        market: SimMarket | None = None,
        feed: ReplayFeed | None = None,
        universe: Universe | None = None,
    ) -> None:
        self.clock = clock
        self.config = config or SimConfig()
        self.market = market if market is not None else SimMarket(self.config.seed, universe)
        self.universe = universe if universe is not None else self.market.universe
        self.feed = feed
        self._listed: dict[str, tuple[date, Instrument]] = {}  # symbol -> (the day it was checked, instrument)
        self._on_report: ReportSink = _ignore
        self._on_quote: QuoteSink = _ignore
        self._on_state: StateSink = _ignore
        self._subscribed: dict[str, None] = {}
        self._book: dict[str, _Working] = {}
        # final states, for lookup(): a finished book entry is kept as it was (with its final
        # status) and only turned into a BrokerOrderState when asked for
        self._done: dict[str, BrokerOrderState | tuple[_Working, OrderStatus]] = {}
        self._fills: list[BrokerFill] = []
        self._last: dict[str, Quote] = {}
        self._tick_s = 1.0 / self.config.tick_hz if self.config.tick_hz > 0 else 0.0
        self._day_ends: dict[str, tuple[float, float]] = {}  # symbol -> (asked at, day end): see _day_end
        self._free = not (self.config.commission_per_share > 0 or self.config.commission_pct > 0)
        self._slips = bool(self.config.slippage_bps or self.config.slippage_ticks)
        self._task: asyncio.Task[None] | None = None
        self._combos = ComboBook(self)
        # the paper book (brokers.paper.depth): walks and queues when depth and partial fills are on
        self._deep = self.config.depth and self.config.partial_fills
        self._pbooks: dict[str, paper_depth.PaperBook] = {}
        self._bkeys: dict[str, int] = {}
        self._tkeys: dict[str, int] = {}
        self._on_book: BookSink = _ignore
        self._on_trade: TradeSink = _ignore
        self._depth: dict[str, _Feed] = {}  # symbols whose book is streamed
        self._trades: dict[str, Instrument] = {}  # symbols whose tape is streamed
        self._tape_since: dict[str, float] = {}  # symbol -> the time its tape was printed up to

    # ------------------------------------------------------------------ wiring

    def attach(self, on_report: ReportSink, on_quote: QuoteSink, on_state: StateSink) -> None:
        self._on_report, self._on_quote, self._on_state = on_report, on_quote, on_state

    async def connect(self) -> None:
        """Announce the connection and start stepping the market every ``1 / tick_hz`` s."""
        if self._task is not None and not self._task.done():
            return
        if self.feed is not None:
            detail = f"replaying {self.feed.source or self.feed.symbol}"
        else:
            detail = f"simulated market, seed {self.config.seed}"
        self._on_state(ConnectionState(broker=self.name, state="connected", detail=detail, ts=self.clock.time()))
        self._task = asyncio.create_task(self._run(), name="sim-market")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._on_state(ConnectionState(broker=self.name, state="disconnected", ts=self.clock.time()))

    async def _run(self) -> None:
        period = 1.0 / self.config.tick_hz
        while True:
            began = self.clock.monotonic()
            try:
                self.step()
            except Exception:
                log.exception("simulated market step failed")
            elapsed = self.clock.monotonic() - began
            await asyncio.sleep(min(max(period - elapsed, 0.0), period))

    # ------------------------------------------------------------------ market data

    async def instrument(self, symbol: str) -> Instrument:
        return self._instrument(symbol)

    async def subscribe(self, symbols: list[str]) -> None:
        for s in symbols:
            self._subscribed[self._instrument(s).symbol] = None

    async def unsubscribe(self, symbols: list[str]) -> None:
        for s in symbols:
            self._subscribed.pop(self._instrument(s).symbol, None)

    @property
    def subscribed(self) -> list[str]:
        return list(self._subscribed)

    # ------------------------------------------------------------------ depth and the tape

    def attach_depth(self, on_book: BookSink, on_trade: TradeSink) -> None:
        self._on_book, self._on_trade = on_book, on_trade

    async def subscribe_depth(self, symbols: list[str], levels: int = paper_depth.LEVELS) -> None:
        """Stream each symbol's paper book (``levels`` each side): a snapshot on the next step,
        then deltas of the levels that changed. BrokerError, one line, with ``depth = false``."""
        insts = [self._instrument(s) for s in symbols]
        if not self.config.depth:
            names = ", ".join(i.symbol for i in insts)
            raise BrokerError(f"{names}: the paper market's book is off (sim depth = false)")
        n = max(1, min(int(levels), paper_depth.LEVELS))
        for inst in insts:
            feed = self._depth.get(inst.symbol)
            if feed is None or feed.levels != n:
                self._depth[inst.symbol] = _Feed(inst, n)

    async def unsubscribe_depth(self, symbols: list[str]) -> None:
        for s in symbols:
            self._depth.pop(self._instrument(s).symbol, None)

    async def subscribe_trades(self, symbols: list[str]) -> None:
        """Stream each symbol's tape from now on (the trades printed after this call)."""
        t = self.clock.time()
        for s in symbols:
            inst = self._instrument(s)
            if inst.symbol not in self._trades:
                self._trades[inst.symbol] = inst
                self._tape_since.setdefault(inst.symbol, t)

    async def unsubscribe_trades(self, symbols: list[str]) -> None:
        for s in symbols:
            self._trades.pop(self._instrument(s).symbol, None)

    def depth_view(self, symbol: str, levels: int = paper_depth.LEVELS) -> BookView:
        """The paper book of ``symbol`` now (at the quote orders match against), less what this
        broker's orders took from it."""
        inst = self._instrument(symbol)
        return self._paper_book(inst, self._quote_now(inst.symbol, self.clock.time())).view(levels)

    def trades(self, symbol: str, start: float, end: float) -> list[TradePrint]:
        """The paper market's tape of ``symbol`` in ``(start, end]`` (``brokers.paper.depth.tape``)."""
        inst = self._instrument(symbol)
        return paper_depth.tape(self.market, [inst.symbol], start, end, {inst.symbol: inst}, self._tkeys)

    def _paper_book(self, inst: Instrument, q: Quote) -> paper_depth.PaperBook:
        """The book at quote ``q`` (with what orders took from it since ``q`` came)."""
        sym = inst.symbol
        book = self._pbooks.get(sym)
        if book is None or book.quote is not q:
            key = self._bkeys.get(sym)
            if key is None:
                key = self._bkeys[sym] = paper_depth.book_key(sym, self.market.seed)
            book = self._pbooks[sym] = paper_depth.PaperBook(q, inst, key)
        return book

    def _stream_books(self, quotes: dict[str, Quote]) -> None:
        if not self._depth:
            return
        books = {sym: self._paper_book(feed.inst, q) for sym, feed in self._depth.items() if (q := quotes.get(sym))}
        paper_depth.PaperBook.build_all(list(books.values()))
        for sym, book in books.items():
            feed = self._depth[sym]
            q = book.quote
            bids = {lv.price: lv.size for lv in book.side_view(True, feed.levels)}
            asks = {lv.price: lv.size for lv in book.side_view(False, feed.levels)}
            if feed.seq == 0:
                feed.seq = 1
                msg: BookSnapshot | BookDelta = BookSnapshot(
                    symbol=sym, ts=q.ts, seq=1, bids=tuple(BookLevel(p, z) for p, z in bids.items()),
                    asks=tuple(BookLevel(p, z) for p, z in asks.items()),
                )
            else:
                changed_bids, changed_asks = _changed(feed.bids, bids), _changed(feed.asks, asks)
                if not changed_bids and not changed_asks:
                    continue
                feed.seq += 1
                msg = BookDelta(symbol=sym, ts=q.ts, seq=feed.seq, bids=changed_bids, asks=changed_asks)
            feed.bids, feed.asks = bids, asks
            self._on_book(msg)

    def _print_tape(self, quotes: dict[str, Quote], t: float) -> None:
        """Print the tape since the last step of streamed symbols and of symbols with queued
        orders, and let the prints fill the queues."""
        queued = {w.inst.symbol: w.inst for w in self._book.values() if w.ahead is not None}
        insts = {**self._trades, **queued}
        if self.feed is not None:
            insts.pop(self.feed.symbol, None)  # a replayed file prints no tape
        if not insts:
            self._tape_since.clear()
            return
        since = self._tape_since
        for sym in list(since):
            if sym not in insts:
                del since[sym]
        symbols = list(insts)
        start = min(since.setdefault(sym, t) for sym in symbols)
        start = max(start, t - paper_depth.MAX_TAPE_SECONDS)
        known = None
        if t * paper_depth.MICRO_HZ == int(t * paper_depth.MICRO_HZ) and all(s in quotes for s in symbols):
            known = {t: [quotes[s] for s in symbols]}
        prints = paper_depth.tape(self.market, symbols, start, t, insts, self._tkeys, known)
        for p in prints:
            if p.ts <= since[p.symbol]:
                continue
            if p.symbol in self._trades:
                self._on_trade(p)
            if p.symbol in queued:
                self._queue_fill(p)
        for sym in symbols:
            since[sym] = t

    def snapshot(self, symbol: str) -> Quote | None:
        try:
            inst = self._instrument(symbol)
        except BrokerError:
            return None
        return self._quote_now(inst.symbol, self.clock.time())

    async def option_chain(self, underlying: str, expiry: date | None = None) -> OptionChain:
        """The listed contracts of ``underlying`` for ``expiry`` (None: the nearest listed), as
        quoted now (``brokers.paper.chains``); NotListed, one line, for an underlying without
        options or an expiry that is not listed."""
        t = self.clock.time()
        today = datetime.fromtimestamp(t, NEW_YORK).date()
        try:
            return paper_chain(self.market, self.universe, underlying, expiry, today, t, lambda s: self._quotes_now(s, t))
        except (UniverseError, ModelError) as e:
            raise NotListed(str(e)) from None

    @staticmethod
    def dividend_yield(underlying: str) -> float:
        """The continuous dividend yield the paper market prices ``underlying``'s options with."""
        return surface.dividend_yield(underlying)

    def _quotes_now(self, symbols: Sequence[str], t: float) -> list[Quote]:
        """``_quote_now`` of many symbols, the missing ones in one vectorized call."""
        fresh = {s: q for s in symbols if (q := self._last.get(s)) is not None and 0.0 <= t - q.ts < self._tick_s}
        stale = [s for s in symbols if s not in fresh]
        for q in self.market.quotes(stale, t) if stale else ():
            self._last[q.symbol] = fresh[q.symbol] = q
        return [fresh[s] for s in symbols]

    async def history(self, symbol: str, seconds: int, start: float, end: float) -> list[Bar]:
        sym = self._instrument(symbol).symbol
        if self.feed is not None and sym == self.feed.symbol:
            return self.feed.history(seconds, start, end)
        try:
            return self.market.bars(sym, seconds, start, end, self.config.calendar)
        except ValueError as e:
            raise BrokerError(str(e)) from None

    def step(self, t: float | None = None) -> list[Quote]:
        """Quote every subscribed symbol and every symbol with a working order at ``t``
        (default: now), hand each quote to ``on_quote`` and match the book against it."""
        t = self.clock.time() if t is None else float(t)
        self._expire(t)
        feed_sym = self.feed.symbol if self.feed is not None else None
        self._combos.expire(t)
        wanted = dict.fromkeys([*self._subscribed, *(w.inst.symbol for w in self._book.values()), *self._combos.symbols()])
        wanted.pop(feed_sym or "", None)
        if self._depth or self._trades:
            wanted.update(dict.fromkeys([*self._depth, *self._trades]))
            wanted.pop(feed_sym or "", None)
        quotes = self.feed.advance(t) if self.feed is not None else []
        quotes += self.market.quotes(list(wanted), t)
        for q in quotes:
            self._last[q.symbol] = q
            self._on_quote(q)
            self._match_symbol(q, t)
        self._combos.match(t)
        if self._depth or self._trades or self._tape_since or (self._deep and self._book):
            by_symbol = {q.symbol: q for q in quotes}
            self._stream_books(by_symbol)
            if self._deep or self._trades:
                self._print_tape(by_symbol, t)
        return quotes

    def _quote_now(self, symbol: str, t: float) -> Quote:
        if self.feed is not None and symbol == self.feed.symbol:
            return self.feed.current(t)
        q = self._last.get(symbol)
        if q is not None and 0.0 <= t - q.ts < self._tick_s:
            return q  # the book does not change between ticks
        q = self.market.quote(symbol, t)
        self._last[symbol] = q
        return q

    # ------------------------------------------------------------------ orders

    async def submit(self, order: Order) -> None:
        cid = order.client_id
        if cid in self._book or cid in self._combos:
            raise BrokerError(f"order {cid} is already working")
        t = self.clock.time()
        if order.legs:
            self._combos.submit(order, t)
            return
        try:
            w = self._admit(order, t)
        except ModelError as e:
            self._done[cid] = BrokerOrderState(
                client_id=cid, broker_id=None, symbol=order.symbol, side=order.side.value, qty=order.qty,
                filled_qty=order.filled_qty, status=OrderStatus.REJECTED.value,
                limit_price=order.limit_price, stop_price=order.stop_price,
            )
            self._emit(BrokerRejected(client_id=cid, ts=t, reason=str(e)))
            return
        self._book[cid] = w
        self._emit(BrokerAccepted(client_id=cid, ts=t, broker_id=w.broker_id))
        if self._open(w, t):
            self._arrive(w, t)

    async def cancel(self, order: Order) -> None:
        w = self._book.get(order.client_id)
        if w is None:
            if self._combos.cancel(order.client_id, self.clock.time()):
                return
            raise BrokerError(f"order {order.client_id} is not working")
        self._cancel(w, self.clock.time(), "canceled by request")

    async def replace(
        self, order: Order, qty: Decimal, limit_price: Decimal | None, stop_price: Decimal | None
    ) -> None:
        cid = order.client_id
        t = self.clock.time()
        self._expire(t)
        w = self._book.get(cid)
        if w is None:
            if cid in self._combos:
                raise BrokerError(f"order {cid} is a combo: cancel it and send a new one")
            raise BrokerError(f"order {cid} is not working")
        kind = w.order.type
        try:
            new_qty = w.inst.check_qty(qty)
            if new_qty <= w.filled:
                raise ModelError(f"new quantity {plain(new_qty)} must exceed the {plain(w.filled)} already filled")
            new_limit = w.limit
            if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
                if limit_price is None:
                    raise ModelError(f"a {kind.value.replace('_', '-')} order needs a limit price")
                new_limit = w.inst.check_price(limit_price, "limit price")
            new_stop = w.stop
            if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
                if stop_price is None:
                    raise ModelError(f"a {kind.value.replace('_', '-')} order needs a stop price")
                new_stop = w.inst.check_price(stop_price, "stop price")
        except ModelError as e:
            raise BrokerError(f"cannot replace order {cid}: {e}") from None
        w.qty, w.limit, w.stop = new_qty, new_limit, new_stop
        w.ahead = None  # a replaced order loses its place in the queue
        self._emit(BrokerReplaced(client_id=cid, ts=t, qty=w.qty, limit_price=w.limit, stop_price=w.stop))
        if self._open(w, t):
            self._arrive(w, t)

    def restore(self, orders: list[Order]) -> None:
        """Put working orders from the journal back in the book (no ``BrokerAccepted``),
        then match them against the current market. Orders that are not working, or
        whose client id is already in the book, are ignored."""
        t = self.clock.time()
        restored: list[_Working] = []
        for order in orders:
            if not order.status.is_working or order.client_id in self._book:
                continue
            if order.legs:
                self._combos.restore(order, t)
                continue
            try:
                inst = parse_symbol(order.symbol)
            except ModelError as e:
                self._emit(BrokerCanceled(client_id=order.client_id, ts=t, reason=f"cannot restore: {e}"))
                continue
            w = self._working(order, inst, order.created or t)
            w.filled = order.filled_qty
            w.triggered = order.type in _STOPS and order.filled_qty > 0
            self._book[order.client_id] = w
            restored.append(w)
        self._expire(t)
        for w in restored:
            if w.order.client_id not in self._book:
                continue
            if w.order.tif in (TimeInForce.IOC, TimeInForce.FOK):
                self._cancel(w, t, f"{w.order.tif.value.upper()} order restored after a restart")
            elif self._open(w, t):
                self._match(w, self._quote_now(w.inst.symbol, t), t, arriving=False)

    async def open_orders(self) -> list[BrokerOrderState]:
        return [w.state() for w in self._book.values()] + self._combos.states()

    def trail_trigger(self, client_id: str) -> Decimal | None:
        """Where a working trailing stop would trigger now (None: not a working trailing stop)."""
        w = self._book.get(client_id)
        if w is None or w.order.type is not OrderType.TRAILING_STOP:
            return None
        return w.stop

    async def fills_since(self, ts: float) -> list[BrokerFill]:
        return [f for f in self._fills if f.ts >= ts]

    async def lookup(self, client_id: str) -> BrokerOrderState | None:
        """The state of an order this broker has seen in this session (working or final)."""
        w = self._book.get(client_id)
        if w is not None:
            return w.state()
        done = self._done.get(client_id)
        if isinstance(done, tuple):
            return done[0].state(done[1])
        return done if done is not None else self._combos.lookup(client_id)

    async def positions(self) -> list[Position]:
        return []

    async def account(self) -> Account | None:
        return None

    def estimate_commission(self, inst: Instrument, qty: Decimal, price: Decimal) -> Decimal:
        """The commission of one fill of ``qty`` at ``price`` (see the module docstring)."""
        if self._free:
            return _NO_FEE
        c = self.config
        fee = ZERO
        if c.commission_per_share > 0:
            fee = max(c.commission_min, c.commission_per_share * qty)
        if c.commission_pct > 0:
            fee += price * qty * inst.multiplier * c.commission_pct / _HUNDRED
        return money(fee)

    # ------------------------------------------------------------------ admission

    def _instrument(self, symbol: str) -> Instrument:
        """The instrument, if the paper market's universe lists it today (a replayed file's
        symbol always: the file defines the series); else BrokerError naming the problem."""
        try:
            return self._listing(symbol)
        except ModelError as e:
            raise NotListed(str(e)) from None

    def _listing(self, symbol: str) -> Instrument:
        """``_instrument`` raising ModelError (an order's rejection reason)."""
        today = datetime.fromtimestamp(self.clock.time(), NEW_YORK).date()
        known = self._listed.get(symbol)
        if known is not None and known[0] == today:
            return known[1]
        if self.feed is not None and parse_symbol(symbol).symbol == self.feed.symbol:
            inst = parse_symbol(symbol)
        else:
            try:
                inst = self.universe.check(symbol, today)
            except UniverseError as e:
                raise ModelError(str(e)) from None
        if len(self._listed) > 10_000:
            self._listed.clear()
        self._listed[symbol] = (today, inst)
        return inst

    def _day_end(self, inst: Instrument, t: float) -> float:
        """``day_end`` of ``inst`` at ``t``, remembered: the day end is the first session
        boundary after ``t``, so it is the same for every time from one asked before up to it."""
        known = self._day_ends.get(inst.symbol)
        if known is not None and known[0] <= t < known[1]:
            return known[1]
        end = day_end(inst, t, self.config.calendar)
        self._day_ends[inst.symbol] = (t, end)
        return end

    def forget(self, client_ids: Iterable[str]) -> None:
        """Let finished orders go (a backtest does, once its order manager has: nobody looks
        them up again); ``order_state`` no longer knows them."""
        done = self._done
        for cid in client_ids:
            entry = done.get(cid)
            if entry is not None and (type(entry) is not tuple or entry[1].is_terminal):
                del done[cid]

    def _working(self, order: Order, inst: Instrument, accepted: float) -> _Working:
        expires = self._day_end(inst, accepted) if order.tif is _DAY else None
        if order.extended and expires is not None and self.config.calendar != "always":
            from workstation.core.sessions import venue_of

            if venue_of(inst) == "XNYS":  # an extended DAY order works through the post-market (4 hours after the close)
                expires += 4 * 3600
        # (by position, in the fields' order: no keyword matching, once per order)
        return _Working(
            order, inst, order.broker_id or f"paper-{order.client_id}", order.qty, ZERO, order.limit_price,
            order.stop_price, expires,
        )

    def _admit(self, order: Order, t: float) -> _Working:
        """Validate a new order into a book entry; a ModelError says why it is rejected."""
        inst = self._listing(order.symbol)
        if inst.asset_class is AssetClass.INDEX:
            raise ModelError(f"{inst.symbol} is an index: it is quoted but cannot be traded (trade its options, a future or an ETF)")
        self._check(inst, order)
        if order.tif is not _GTC and not self._is_open(inst, t) and not self._waits(order, inst, t):
            raise ModelError(f"the market for {inst.symbol} is closed; only a GTC order can wait for the open")
        w = self._working(order, inst, t)
        w.filled = order.filled_qty
        return w

    @staticmethod
    def _check(inst: Instrument, order: Order) -> None:
        """Lot, tick and the prices each order type needs; a ModelError says what is wrong."""
        inst.check_qty(order.qty)
        kind = order.type
        if kind is _MARKET:
            return
        if kind in _LIMITS:
            if order.limit_price is None:
                raise ModelError(f"a {kind.value.replace('_', '-')} order needs a limit price")
            inst.check_price(order.limit_price, "limit price")
        if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
            if order.stop_price is None:
                raise ModelError(f"a {kind.value.replace('_', '-')} order needs a stop price")
            inst.check_price(order.stop_price, "stop price")
        if kind is OrderType.TRAILING_STOP:
            amount, pct = order.trail_amount, order.trail_percent
            if (amount is None) == (pct is None):
                raise ModelError("a trailing stop needs exactly one of a trail amount and a trail percent")
            if amount is not None and amount <= 0:
                raise ModelError(f"trail amount must be positive, got {plain(amount)}")
            if pct is not None and not 0 < pct < 100:
                raise ModelError(f"trail percent must be between 0 and 100, got {plain(pct)}")

    # ------------------------------------------------------------------ matching

    def _open(self, w: _Working, t: float) -> bool:
        return self._is_open(w.inst, t) or (w.order.extended and self._extended(w.inst, t))

    def _extended(self, inst: Instrument, t: float) -> bool:
        """In the pre- or post-market: where an order marked extended trades."""
        return self.session(inst.symbol, t) in ("pre", "post")

    def _waits(self, order: Order, inst: Instrument, t: float) -> bool:
        """A DAY order outside the regular session that waits for its session: any in the
        pre- or post-market, an extended one also while closed (for the next pre-market)."""
        return order.extended or self._extended(inst, t)

    def _is_open(self, inst: Instrument, t: float) -> bool:
        if self.feed is not None and inst.symbol == self.feed.symbol:
            return True  # a replayed file trades whenever it plays
        return is_open(inst, t, self.config.calendar)

    def session(self, symbol: str, t: float) -> SessionKind:
        """The session ``symbol`` is in at ``t`` under the calendar: pre, regular, post or
        closed (always "regular" under "always", and for a replayed file)."""
        inst = parse_symbol(symbol)
        if self.feed is not None and inst.symbol == self.feed.symbol:
            return "regular"
        return market_session(inst, t, self.config.calendar)

    def _expire(self, t: float) -> None:
        for cid, w in list(self._book.items()):
            if w.expires is not None and t >= w.expires and self._book.get(cid) is w:
                self._finish(w, OrderStatus.EXPIRED)
                self._emit(BrokerExpired(client_id=cid, ts=t))

    def _match_symbol(self, q: Quote, t: float) -> None:
        working = [w for w in self._book.values() if w.inst.symbol == q.symbol]
        if not working:
            return
        regular = self._is_open(working[0].inst, t)
        if regular or any(w.order.extended for w in working):  # extended orders trade pre- and post-market too
            extended = regular or self._extended(working[0].inst, t)
            for w in working:
                if (regular or (extended and w.order.extended)) and self._book.get(w.order.client_id) is w:
                    self._match(w, q, t, arriving=False)

    def _arrive(self, w: _Working, t: float) -> None:
        """Match a new (or replaced) order, applying IOC and FOK."""
        q = self._quote_now(w.inst.symbol, t)
        tif = w.order.tif
        if tif is TimeInForce.FOK:
            shortfall = self._fok_shortfall(w, q)
            if shortfall:
                self._cancel(w, t, f"FOK: {shortfall}")
                return
        self._match(w, q, t, arriving=True)
        if tif in (TimeInForce.IOC, TimeInForce.FOK) and self._book.get(w.order.client_id) is w:
            self._cancel(w, t, f"IOC: {plain(w.remaining)} of {plain(w.qty)} unfilled")

    def _fok_shortfall(self, w: _Working, q: Quote) -> str:
        """Why a fill-or-kill order cannot fill completely now ("" when it can)."""
        bid, ask = self._touch(w.inst, q)
        touch = ask if w.buy else bid
        if w.order.type in _STOPS:
            self._trail(w, bid, ask)
            assert w.stop is not None
            if not (ask >= w.stop if w.buy else bid <= w.stop):
                return f"the stop at {plain(w.stop)} is not triggered"
        if w.order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            assert w.limit is not None
            if not (touch <= w.limit if w.buy else touch >= w.limit):
                return f"the {'ask' if w.buy else 'bid'} {plain(touch)} does not reach the limit {plain(w.limit)}"
        if self._deep:
            limit = w.limit if w.order.type in _LIMITS else None
            available = self._book_size(w, q, limit)
            if available < w.remaining:
                where = f"within {plain(limit)}" if limit is not None else "in the book"
                return f"only {plain(available)} of {plain(w.remaining)} available {where}"
            return ""
        available = self._displayed(w, q)
        if self.config.partial_fills and available < w.remaining:
            return f"only {plain(available)} of {plain(w.remaining)} available at {plain(touch)}"
        return ""

    def _book_size(self, w: _Working, q: Quote, limit: Decimal | None) -> Decimal:
        """What the paper book offers ``w`` now at prices within ``limit`` (all levels: None)."""
        book = self._paper_book(w.inst, q)
        bid_side = not w.buy
        total = ZERO
        for ticks, size in book.levels(bid_side):
            price = book.decimal_price(ticks)
            if limit is not None and (price > limit if w.buy else price < limit):
                break
            left = book.available(bid_side, ticks, size)
            if left > 0:
                total += w.inst.round_qty(to_decimal(left, "size"))
        return total

    def _walk(self, w: _Working, q: Quote, t: float, touch: Decimal, limit: Decimal | None) -> None:
        """Fill ``w`` level by level down the paper book at ``q``, each level at its own price
        (plus slippage, never past ``limit``), taking what it fills from the book."""
        book = self._paper_book(w.inst, q)
        bid_side = not w.buy
        top, size = book.touch(bid_side)
        left = size - book.taken.get((bid_side, top), 0.0) if book.taken else size
        remaining = w.remaining
        if left >= float(remaining):  # the touch holds it all (the caller checked the limit)
            fill_price = self._slipped(w, touch)
            if limit is not None:
                fill_price = min(fill_price, limit) if w.buy else max(fill_price, limit)
            book.take(bid_side, top, float(remaining))
            self._fill(w, remaining, fill_price, t)
            return
        for i, (ticks, size) in enumerate(_levels_of(book, bid_side)):
            price = touch if i == 0 else book.decimal_price(ticks)
            if limit is not None and (price > limit if w.buy else price < limit):
                return
            left = book.available(bid_side, ticks, size)
            qty = min(w.remaining, w.inst.round_qty(to_decimal(left, "size"))) if left > 0 else ZERO
            if qty <= 0:
                continue
            fill_price = self._slipped(w, price)
            if limit is not None:
                fill_price = min(fill_price, limit) if w.buy else max(fill_price, limit)
            book.take(bid_side, ticks, float(qty))
            self._fill(w, qty, fill_price, t)
            if self._book.get(w.order.client_id) is not w:
                return

    def _join(self, w: _Working, q: Quote, t: float) -> None:
        """A limit that rests on the paper book joins the queue at its level: the size ahead is
        the level's displayed size (none when it improves the touch)."""
        if self.feed is not None and w.inst.symbol == self.feed.symbol:
            return  # a replayed file has no book
        assert w.limit is not None
        book = self._paper_book(w.inst, q)
        ticks = int(w.limit / w.inst.tick_size)
        w.ahead = book.size_at(w.buy, ticks)
        w.since = t
        since = self._tape_since.get(w.inst.symbol)
        if since is None or since > t:
            self._tape_since[w.inst.symbol] = t  # the tape counts from here for this queue

    def _queue_fill(self, p: TradePrint) -> None:
        """A print on the tape: it fills queued limits at its price once the size ahead of them
        has traded, and those it trades through (up to its size)."""
        for w in [w for w in self._book.values() if w.ahead is not None and w.inst.symbol == p.symbol]:
            if self._book.get(w.order.client_id) is not w or p.ts <= w.since or not self._open(w, p.ts):
                continue
            assert w.limit is not None
            price = _on_tick(w.inst, to_decimal(p.price, "price"))
            size = p.size
            if price < w.limit if w.buy else price > w.limit:
                w.ahead = 0.0
            elif price == w.limit and p.aggressor == ("sell" if w.buy else "buy"):
                used = min(w.ahead, size)
                w.ahead -= used
                size -= used
            else:
                continue
            qty = min(w.remaining, w.inst.round_qty(to_decimal(size, "size")))
            if qty > 0:
                self._fill(w, qty, w.limit, p.ts)

    def _touch(self, inst: Instrument, q: Quote) -> tuple[Decimal, Decimal]:
        return _on_tick(inst, to_decimal(q.bid, "bid")), _on_tick(inst, to_decimal(q.ask, "ask"))

    def _displayed(self, w: _Working, q: Quote) -> Decimal:
        shown = w.inst.round_qty(to_decimal(q.ask_size if w.buy else q.bid_size, "size"))
        return max(shown, w.inst.lot_size)

    def _trail(self, w: _Working, bid: Decimal, ask: Decimal) -> None:
        """Move a trailing stop with the best price since acceptance."""
        o = w.order
        if o.type is not OrderType.TRAILING_STOP or w.triggered:
            return
        price = ask if w.buy else bid
        if w.best is not None and (price >= w.best if w.buy else price <= w.best):
            return
        w.best = price
        sign = 1 if w.buy else -1
        if o.trail_amount is not None:
            raw = price + sign * o.trail_amount
        else:
            assert o.trail_percent is not None
            raw = price * (ONE + sign * o.trail_percent / _HUNDRED)
        stop = _on_tick(w.inst, raw, ROUND_CEILING if w.buy else ROUND_FLOOR)
        w.stop = max(stop, w.inst.tick_size)

    def _slipped(self, w: _Working, touch: Decimal) -> Decimal:
        if not self._slips:
            return touch
        c = self.config
        move = touch * c.slippage_bps / _BPS + c.slippage_ticks * w.inst.tick_size
        if w.buy:
            return _on_tick(w.inst, touch + move, ROUND_CEILING)
        return max(_on_tick(w.inst, touch - move, ROUND_FLOOR), w.inst.tick_size)

    def _match(self, w: _Working, q: Quote, t: float, arriving: bool) -> None:
        """Match one order against one quote (the rules are in the module docstring)."""
        bid, ask = self._touch(w.inst, q)
        kind = w.order.type
        if kind in _STOPS and not w.triggered:
            self._trail(w, bid, ask)
            assert w.stop is not None
            if not (ask >= w.stop if w.buy else bid <= w.stop):
                return
            w.triggered = arriving = True
        touch = ask if w.buy else bid
        if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            limit = w.limit
            assert limit is not None
            if not (touch <= limit if w.buy else touch >= limit):
                if self._deep and w.ahead is None:
                    self._join(w, q, t)
                return
            if arriving and self._deep:
                self._walk(w, q, t, touch, limit)
                if w.ahead is None and self._book.get(w.order.client_id) is w:
                    self._join(w, q, t)
                return
            if arriving:
                slipped = self._slipped(w, touch)
                price = min(slipped, limit) if w.buy else max(slipped, limit)
            else:
                price = limit
        elif self._deep:
            self._walk(w, q, t, touch, None)
            return
        else:
            price = self._slipped(w, touch)
        qty = min(w.remaining, self._displayed(w, q)) if self.config.partial_fills else w.remaining
        if qty > 0:
            self._fill(w, qty, price, t)

    def _fill(self, w: _Working, qty: Decimal, price: Decimal, t: float) -> None:
        cid = w.order.client_id
        w.filled += qty
        fill = BrokerFill(
            client_id=cid, ts=t, exec_id=f"sim-{cid}-{plain(w.filled)}", qty=qty, price=price,
            commission=_NO_FEE if self._free else self.estimate_commission(w.inst, qty, price), symbol=w.inst.symbol,
            side=w.order.side._value_,  # (``.value``, without the enum property's call)
        )
        if w.filled >= w.qty:
            self._finish(w, OrderStatus.FILLED)
        self._fills.append(fill)
        self._emit(fill)

    def _finish(self, w: _Working, status: OrderStatus) -> None:
        del self._book[w.order.client_id]
        self._done[w.order.client_id] = (w, status)

    def _cancel(self, w: _Working, t: float, reason: str) -> None:
        self._finish(w, OrderStatus.CANCELED)
        self._emit(BrokerCanceled(client_id=w.order.client_id, ts=t, reason=reason))

    def _emit(self, report: BrokerReport) -> None:
        self._on_report(report)
