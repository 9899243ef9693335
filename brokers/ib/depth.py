"""Interactive Brokers market depth (``reqMktDepth``) and tick-by-tick trades (``reqTickByTickData``).

**Depth.** TWS sends a book as rows by *position*, not by price: each message inserts,
updates or deletes the row at position ``p`` of one side (0 the best). An insert shifts the
rows below it down, a delete shifts them up, an update overwrites the row. ``RowBook`` keeps
those rows per side exactly as TWS numbers them; after each batch of messages (one socket
read) ``IBDepth`` turns the rows into price levels (rows at the same price, from different
exchanges in a SMART book, are summed) and emits what changed: the first batch after a
request (or after TWS's error 317, "market depth data has been RESET") as a ``BookSnapshot``,
every later one as a ``BookDelta`` holding only the price levels whose size changed (size 0:
the level is gone). IB's depth has no sequence numbers, so ``seq`` is ours, per symbol,
consecutive (a re-request after a reconnect starts with a snapshot at the next number).

A contract routed through SMART (stocks, ETFs, options) is asked with ``isSmartDepth``: TWS
then aggregates the book of every exchange it routes to, which is the book a SMART order
meets. Other contracts (futures on their exchange, IDEALPRO FX, crypto) get their exchange's
own book.

**Trades.** ``reqTickByTickData(contract, "AllLast")`` gives every trade (including odd lots
and off-exchange prints) as a ``TradePrint``, in venue order. IB does not say which side was
the aggressor, so it is *inferred*: a print at or above the best ask (from the symbol's book
when depth is watched, else its quote) was a buy, at or below the best bid a sell, anything
between (or with no book or quote yet) "". The book used is the one before the same batch's
depth changes, since a trade is what usually removes the level it traded at.

**Limits.** IB allows few simultaneous depth subscriptions (3 on a plain account; error 309,
"max number of market depth requests has been reached") and tick-by-tick ones (error 10190).
``subscribe_depth`` and ``subscribe_trades`` wait up to ``answer_wait`` seconds for the first
data or an error, and turn such an error into one ``BrokerError`` line naming the symbol;
a refusal that comes later is logged and the symbol is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ib_async import IB, Contract, TickByTickAllLast

from brokers.base import BookSink, BrokerError, TradeSink
from workstation.core.book import BookDelta, BookLevel, BookSnapshot, TradePrint
from workstation.core.clock import Clock
from workstation.core.model import Quote

__all__ = ["IBDepth", "RowBook", "aggressor"]

log = logging.getLogger(__name__)

INSERT, UPDATE, DELETE = 0, 1, 2
ASK, BID = 0, 1
DEPTH_REFUSED = {309: "IB allows no more market depth subscriptions", 10092: "IB has no market depth for it"}
TRADES_REFUSED = {10190: "IB allows no more tick-by-tick subscriptions"}
RESET = 317  # "Market depth data has been RESET. Please empty deep book contents before applying any new entries."


class RowBook:
    """One side's rows by position, as TWS numbers them; ``levels`` sums them by price."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: list[tuple[float, float]] = []

    def apply(self, operation: int, position: int, price: float, size: float) -> None:
        rows = self.rows
        if operation == INSERT:
            rows.insert(min(position, len(rows)), (price, size))
        elif operation == UPDATE:
            if position < len(rows):
                rows[position] = (price, size)
            else:  # an update past the end: TWS would have inserted; keep the row
                rows.append((price, size))
        elif operation == DELETE and position < len(rows):
            del rows[position]

    def levels(self) -> dict[float, float]:
        out: dict[float, float] = {}
        for price, size in self.rows:
            if size > 0:
                out[price] = out.get(price, 0.0) + size
        return out


@dataclass(slots=True)
class _Depth:
    symbol: str
    contract: Contract
    levels: int
    smart: bool
    bids: RowBook = field(default_factory=RowBook)
    asks: RowBook = field(default_factory=RowBook)
    sent_bids: dict[float, float] = field(default_factory=dict)
    sent_asks: dict[float, float] = field(default_factory=dict)
    seq: int = 0
    fresh: bool = True  # the next batch goes out as a snapshot
    reset_at: int | None = None  # TWS reset the book (317) after this many of the batch's rows
    req_id: int = 0
    answered: asyncio.Future[str] | None = None  # "" on first data, else the refusal


@dataclass(slots=True)
class _Tape:
    symbol: str
    contract: Contract
    req_id: int = 0
    answered: asyncio.Future[str] | None = None


def aggressor(price: float, bid: float | None, ask: float | None) -> Literal["buy", "sell", ""]:
    """The side a print took, inferred: at or above the ask a buy, at or below the bid a sell."""
    if ask is not None and ask > 0 and price >= ask:
        return "buy"
    if bid is not None and bid > 0 and price <= bid:
        return "sell"
    return ""


def _changes(sent: dict[float, float], now: dict[float, float]) -> tuple[BookLevel, ...]:
    out = [BookLevel(p, s) for p, s in now.items() if sent.get(p) != s]
    out += [BookLevel(p, 0.0) for p in sent if p not in now]
    return tuple(out)


class IBDepth:
    """The depth and tape half of the IB adapter: requests, row books, and the sinks."""

    def __init__(self, ib: IB, clock: Clock, *, resolve: Callable[[str], Awaitable[Contract]],
                 online: Callable[[], Awaitable[None]], quote_of: Callable[[str], Quote | None],
                 answer_wait: Callable[[], float]) -> None:
        self._ib = ib
        self._clock = clock
        self._resolve = resolve
        self._online = online
        self._quote_of = quote_of
        self._answer_wait = answer_wait
        self._on_book: BookSink = lambda m: None
        self._on_trade: TradeSink = lambda t: None
        self._books: dict[str, _Depth] = {}
        self._tapes: dict[str, _Tape] = {}
        self._depth_ids: dict[int, str] = {}  # reqId -> symbol
        self._tape_ids: dict[int, str] = {}
        self._by_ticker: dict[int, str] = {}  # id(ticker) -> symbol
        ib.pendingTickersEvent += self._on_tickers
        ib.errorEvent += self._on_error

    def attach(self, on_book: BookSink, on_trade: TradeSink) -> None:
        self._on_book, self._on_trade = on_book, on_trade

    # ------------------------------------------------------------------ requests
    async def subscribe_depth(self, symbols: list[str], levels: int = 20) -> None:
        """Start each symbol's book (``levels`` rows each side); a symbol already watched at other
        levels is cancelled and asked again. BrokerError (one line) if TWS refuses."""
        waiting: list[_Depth] = []
        levels = max(1, int(levels))
        for symbol in symbols:
            known = self._books.get(symbol)
            if known is not None and known.levels == levels:
                continue
            if known is not None:  # other levels: TWS takes numRows only with a new request
                await self.unsubscribe_depth([symbol])
            contract = await self._resolve(symbol)
            await self._online()
            book = _Depth(symbol, contract, levels, smart=contract.exchange == "SMART")
            self._books[symbol] = book
            self._request_depth(book)
            waiting.append(book)
        await self._await_answers(waiting)

    async def subscribe_trades(self, symbols: list[str]) -> None:
        waiting: list[_Tape] = []
        for symbol in symbols:
            if symbol in self._tapes:
                continue
            contract = await self._resolve(symbol)
            await self._online()
            tape = _Tape(symbol, contract)
            self._tapes[symbol] = tape
            self._request_trades(tape)
            waiting.append(tape)
        await self._await_answers(waiting)

    async def unsubscribe_depth(self, symbols: list[str]) -> None:
        for symbol in symbols:
            book = self._books.pop(symbol, None)
            if book is None:
                continue
            self._depth_ids.pop(book.req_id, None)
            if self._ib.isConnected():
                self._ib.cancelMktDepth(book.contract, book.smart)
            self._forget_ticker(symbol)

    async def unsubscribe_trades(self, symbols: list[str]) -> None:
        for symbol in symbols:
            tape = self._tapes.pop(symbol, None)
            if tape is None:
                continue
            self._tape_ids.pop(tape.req_id, None)
            if self._ib.isConnected():
                self._ib.cancelTickByTickData(tape.contract, "AllLast")
            self._forget_ticker(symbol)

    def request_again(self) -> None:
        """After a reconnect (or TWS's 1101, data lost): ask for every book and tape again; each
        book restarts with a snapshot. Nobody waits: a refusal now is logged."""
        self._by_ticker.clear()  # a new connection has new tickers
        self._depth_ids.clear()
        self._tape_ids.clear()
        for book in self._books.values():
            self._request_depth(book, wait=False)
        for tape in self._tapes.values():
            self._request_trades(tape, wait=False)

    def _request_depth(self, book: _Depth, wait: bool = True) -> None:
        book.bids, book.asks, book.fresh = RowBook(), RowBook(), True
        book.answered = asyncio.get_running_loop().create_future() if wait else None
        ticker = self._ib.reqMktDepth(book.contract, numRows=book.levels, isSmartDepth=book.smart)
        book.req_id = self._ib.wrapper.ticker2ReqId["mktDepth"].get(ticker, 0)
        self._depth_ids[book.req_id] = book.symbol
        self._by_ticker[id(ticker)] = book.symbol

    def _request_trades(self, tape: _Tape, wait: bool = True) -> None:
        tape.answered = asyncio.get_running_loop().create_future() if wait else None
        ticker = self._ib.reqTickByTickData(tape.contract, "AllLast")
        tape.req_id = self._ib.wrapper.ticker2ReqId["AllLast"].get(ticker, 0)
        self._tape_ids[tape.req_id] = tape.symbol
        self._by_ticker[id(ticker)] = tape.symbol

    def _forget_ticker(self, symbol: str) -> None:
        if symbol in self._books or symbol in self._tapes:
            return
        for key, sym in list(self._by_ticker.items()):
            if sym == symbol:
                del self._by_ticker[key]

    async def _await_answers(self, waiting: list[Any]) -> None:
        """Wait (up to ``answer_wait``) for first data or a refusal; a refusal is one line."""
        pending = [item.answered for item in waiting if item.answered is not None]
        wait = self._answer_wait()
        if pending and wait > 0:
            await asyncio.wait(pending, timeout=wait)
        refused = []
        for item in waiting:
            fut, item.answered = item.answered, None  # the wait is over: a later refusal is logged
            if fut is not None and fut.done() and fut.result():
                refused.append(f"{item.symbol}: {fut.result()}")
        if refused:
            raise BrokerError("; ".join(refused))

    # ------------------------------------------------------------------ events
    def _on_error(self, req_id: int, code: int, text: str, contract: Any) -> None:
        if req_id in self._depth_ids:
            symbol = self._depth_ids[req_id]
            book = self._books.get(symbol)
            if code == RESET and book is not None:
                # start again from an empty book: the rows this batch held so far are void
                ticker = self._ib.wrapper.reqId2Ticker.get(req_id)
                book.reset_at = len(ticker.domTicks) if ticker is not None else 0
                return
            if code < 2100 or code >= 2200:  # 21xx are TWS's notices (2152: which exchanges have depth)
                self._refuse(self._books, self._depth_ids, req_id, symbol, code, DEPTH_REFUSED.get(code, "IB refused market depth"), text)
        elif req_id in self._tape_ids:
            if code < 2100 or code >= 2200:
                symbol = self._tape_ids[req_id]
                self._refuse(self._tapes, self._tape_ids, req_id, symbol, code, TRADES_REFUSED.get(code, "IB refused tick-by-tick trades"), text)

    def _refuse(self, table: dict[str, Any], ids: dict[int, str], req_id: int, symbol: str, code: int, why: str, text: str) -> None:
        item = table.pop(symbol, None)
        ids.pop(req_id, None)
        line = f"{why} (IB error {code}: {text.strip().rstrip('.')})"
        if item is not None and item.answered is not None and not item.answered.done():
            item.answered.set_result(line)
        else:
            log.warning("%s: %s", symbol, line)
        self._forget_ticker(symbol)

    def _on_tickers(self, tickers) -> None:
        if not self._by_ticker:
            return
        now = self._clock.time()
        for ticker in tickers:
            symbol = self._by_ticker.get(id(ticker))
            if symbol is None:
                continue
            tape = self._tapes.get(symbol)
            if tape is not None and ticker.tickByTicks:
                self._trades(tape, ticker.tickByTicks, now)
            book = self._books.get(symbol)
            if book is not None and ticker.domTicks:
                self._depth(book, ticker.domTicks, now)

    def _trades(self, tape: _Tape, ticks, now: float) -> None:
        if tape.answered is not None and not tape.answered.done():
            tape.answered.set_result("")
        bid, ask = self._touch(tape.symbol)
        for tick in ticks:
            if not isinstance(tick, TickByTickAllLast) or not tick.price > 0 or not tick.size > 0:
                continue
            self._emit_trade(TradePrint(symbol=tape.symbol, ts=now, price=float(tick.price), size=float(tick.size),
                                        aggressor=aggressor(tick.price, bid, ask)))

    def _touch(self, symbol: str) -> tuple[float | None, float | None]:
        book = self._books.get(symbol)
        if book is not None and (book.sent_bids or book.sent_asks):
            return (max(book.sent_bids) if book.sent_bids else None), (min(book.sent_asks) if book.sent_asks else None)
        q = self._quote_of(symbol)
        if q is None:
            return None, None
        return (q.bid or None), (q.ask or None)

    def _depth(self, book: _Depth, ticks, now: float) -> None:
        if book.answered is not None and not book.answered.done():
            book.answered.set_result("")
        if book.reset_at is not None:
            ticks = ticks[book.reset_at:]
            book.bids, book.asks, book.fresh, book.reset_at = RowBook(), RowBook(), True, None
        for tick in ticks:
            (book.bids if tick.side == BID else book.asks).apply(tick.operation, tick.position, tick.price, tick.size)
        bids, asks = book.bids.levels(), book.asks.levels()
        book.seq += 1
        if book.fresh:
            book.fresh = False
            msg: BookSnapshot | BookDelta = BookSnapshot(
                symbol=book.symbol, ts=now, seq=book.seq,
                bids=tuple(BookLevel(p, bids[p]) for p in sorted(bids, reverse=True)),
                asks=tuple(BookLevel(p, asks[p]) for p in sorted(asks)),
            )
        else:
            db, da = _changes(book.sent_bids, bids), _changes(book.sent_asks, asks)
            if not db and not da:
                book.seq -= 1  # nothing changed at any price (a row moved between exchanges)
                return
            msg = BookDelta(symbol=book.symbol, ts=now, seq=book.seq, bids=db, asks=da)
        book.sent_bids, book.sent_asks = bids, asks
        try:
            self._on_book(msg)
        except Exception:  # the engine's errors must not stop the socket reader
            log.exception("book sink failed for %s", book.symbol)

    def _emit_trade(self, trade: TradePrint) -> None:
        try:
            self._on_trade(trade)
        except Exception:
            log.exception("trade sink failed for %s", trade.symbol)
