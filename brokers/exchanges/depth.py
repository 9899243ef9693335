"""Market depth and the tape from a ccxt exchange: the ``DepthFeed`` half of ``CcxtBroker``.

ccxt keeps each order book itself (``watch_order_book``: binance's REST snapshot, then its
diff stream checked by update id) and hands over the whole book, up to ``limit`` levels, each
time it changes. ``BookStreams`` turns that into what the engine expects: a ``BookSnapshot``
for the first book of a stream (and again after any error: a dropped socket, or a gap ccxt
noticed in the venue's update ids, after which ccxt fetches a fresh snapshot), then a
``BookDelta`` of the levels that changed between two consecutive books (a level gone from
the top ``limit`` is sent with size 0), numbered per symbol consecutively.

Trades come from ``watch_trades`` as ccxt's unified trade structure, in venue order. Their
``side`` is the taker's on a public trade (binance: ``m`` true, the buyer was the maker, is a
"sell"), so it is the aggressor; on a trade of our own (it carries an ``order``) ``side`` is
ours, and ``takerOrMaker == "maker"`` means the other side took. A trade id seen before (ccxt
may hand a trade over twice around a reconnect) is not printed again.

An exchange without the websocket methods (or ``websockets = false``) is polled every
``poll_seconds`` with ``fetch_order_book`` / ``fetch_trades`` instead.

Asking again for a symbol's book with other ``levels`` restarts it at the new depth (a new
snapshot). Each symbol's book and tape is a task of its own in the broker's task table (``close()``
cancels them with the rest). A failing stream backs off like the quote stream, and says so
through the broker's connection state ("BTC/USD book stream: ..." while it retries, one
redacted line); a gap in the venue's update ids is not a connection problem and only resyncs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ccxt

from brokers.base import BrokerError
from workstation.core.book import BookDelta, BookLevel, BookSnapshot, TradePrint
from workstation.core.symbols import parse_symbol

if TYPE_CHECKING:
    from brokers.exchanges.adapter import CcxtBroker

__all__ = ["BookStreams", "diff_side", "aggressor_of"]

log = logging.getLogger(__name__)

BookSink = Callable[[BookSnapshot | BookDelta], None]
TradeSink = Callable[[TradePrint], None]
_SEEN_TRADES = 2000  # trade ids remembered per symbol, to drop repeats


def diff_side(prev: dict[float, float], new: dict[float, float]) -> tuple[BookLevel, ...]:
    """The levels of one side that changed from ``prev`` to ``new`` (size 0: gone)."""
    changed = [BookLevel(p, s) for p, s in new.items() if prev.get(p) != s]
    changed.extend(BookLevel(p, 0.0) for p in prev if p not in new)
    return tuple(changed)


def aggressor_of(trade: dict[str, Any]) -> str:
    """The side that took liquidity in a ccxt trade ("" when the venue does not say)."""
    side = trade.get("side")
    if side not in ("buy", "sell"):
        return ""
    if trade.get("order") and trade.get("takerOrMaker") == "maker":
        return "sell" if side == "buy" else "buy"  # our resting order was hit: the other side took
    return side


@dataclass
class _Book:
    ours: str
    market: str
    levels: int
    seq: int = 0
    fresh: bool = True
    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)


@dataclass
class _Tape:
    ours: str
    market: str
    seen: set[str] = field(default_factory=set)
    order: deque[str] = field(default_factory=deque)
    since: int | None = None  # ms, for polling


class BookStreams:
    """Books and tapes of the symbols the engine watches, one task each."""

    def __init__(self, broker: CcxtBroker) -> None:
        self.broker = broker
        self._on_book: BookSink = lambda m: None
        self._on_trade: TradeSink = lambda t: None
        self._books: dict[str, _Book] = {}
        self._tapes: dict[str, _Tape] = {}

    def attach(self, on_book: BookSink, on_trade: TradeSink) -> None:
        self._on_book, self._on_trade = on_book, on_trade

    # ------------------------------------------------------------------ subscriptions
    def _resolve(self, symbols: list[str]) -> list[tuple[str, str]]:
        """(our symbol, market symbol) for each; BrokerError naming those the venue lacks."""
        out, unknown = [], []
        for s in symbols:
            try:
                m = self.broker._market(s)
            except BrokerError:
                unknown.append(s)
                continue
            out.append((parse_symbol(s).symbol, m["symbol"]))
        if unknown:
            raise BrokerError(f"{self.broker.venue} lists no market for {', '.join(unknown)}")
        return out

    async def subscribe_depth(self, symbols: list[str], levels: int = 20) -> None:
        self.broker._require()
        if levels < 1:
            raise BrokerError(f"depth needs at least one level, not {levels}")
        for ours, market in self._resolve(symbols):
            known = self._books.get(ours)
            if known is not None:
                if known.levels == levels:
                    continue
                del self._books[ours]  # other levels: ccxt's book is rebuilt at the new depth
                await self._stop(f"book:{ours}", known.market, "unWatchOrderBook", {b.market for b in self._books.values()})
            state = _Book(ours, market, levels)
            self._books[ours] = state
            self._start(f"book:{ours}", f"{ours} book", lambda st=state: self._book_loop(st))

    async def subscribe_trades(self, symbols: list[str]) -> None:
        self.broker._require()
        for ours, market in self._resolve(symbols):
            if ours in self._tapes:
                continue
            state = _Tape(ours, market)
            self._tapes[ours] = state
            self._start(f"trades:{ours}", f"{ours} trades", lambda st=state: self._trade_loop(st))

    async def unsubscribe_depth(self, symbols: list[str]) -> None:
        for s in symbols:
            state = self._books.pop(parse_symbol(s).symbol, None)
            if state is not None:
                await self._stop(f"book:{state.ours}", state.market, "unWatchOrderBook", {b.market for b in self._books.values()})

    async def unsubscribe_trades(self, symbols: list[str]) -> None:
        for s in symbols:
            state = self._tapes.pop(parse_symbol(s).symbol, None)
            if state is not None:
                await self._stop(f"trades:{state.ours}", state.market, "unWatchTrades", {t.market for t in self._tapes.values()})

    def _start(self, key: str, label: str, session: Callable[[], Awaitable[None]]) -> None:
        self.broker._tasks[key] = asyncio.get_running_loop().create_task(self._run(key, label, session))

    async def _stop(self, key: str, market: str, unwatch: str, still_used: set[str]) -> None:
        task = self.broker._tasks.pop(key, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.broker._unhealthy.pop(key, None)
        ex = self.broker._ex
        if ex is None or market in still_used or not self.broker._has(unwatch):
            return
        method = ex.un_watch_order_book if unwatch == "unWatchOrderBook" else ex.un_watch_trades
        try:  # tell the venue, so it stops sending (the stream ends on our side regardless)
            await asyncio.wait_for(method(market), self.broker.config.timeout_seconds)
        except (TimeoutError, ccxt.BaseError, OSError) as exc:
            log.info("%s: %s %s: %s", self.broker.venue, unwatch, market, self.broker._short(exc))

    # ------------------------------------------------------------------ the loops
    async def _run(self, key: str, label: str, session: Callable[[], Awaitable[None]]) -> None:
        """Run ``session`` (a stream that runs until it fails) again and again, backing off."""
        b = self.broker
        failures = 0
        while not b._closed:
            try:
                await session()
            except asyncio.CancelledError:
                raise
            except (TimeoutError, ccxt.BaseError, OSError) as exc:
                if b._closed:
                    return
                failures += 1
                if isinstance(exc, ccxt.InvalidNonce) and failures == 1:
                    log.info("%s: %s: a gap in the venue's updates; resyncing", b.venue, label)
                    continue  # ccxt fetches a fresh snapshot on the next watch
                detail = f"{label} stream: {b._short(exc)}"
                log.info("%s: %s (attempt %d)", b.venue, detail, failures)
                b._sick(key, detail)
                delay = min(b.config.reconnect_max_seconds, b.config.reconnect_base_seconds * 2 ** (failures - 1))
                await asyncio.sleep(b._random.uniform(delay / 2, delay))
            else:
                failures = 0

    def _recovered(self, key: str) -> None:
        if key in self.broker._unhealthy:
            self.broker._healthy(key)

    async def _book_loop(self, st: _Book) -> None:
        st.fresh = True
        ex = self.broker._require()
        live = self.broker._has("watchOrderBook")
        while True:
            if live:
                book = await ex.watch_order_book(st.market, st.levels)
            else:
                await asyncio.sleep(self.broker.config.poll_seconds)
                book = await ex.fetch_order_book(st.market, st.levels)
            self._emit_book(st, book)
            self._recovered(f"book:{st.ours}")

    def _emit_book(self, st: _Book, book: dict[str, Any]) -> None:
        n = st.levels
        bids = {lv[0]: lv[1] for lv in book["bids"][:n]}
        asks = {lv[0]: lv[1] for lv in book["asks"][:n]}
        ms = book.get("timestamp")
        ts = ms / 1000.0 if ms else self.broker.clock.time()
        msg: BookSnapshot | BookDelta
        if st.fresh:
            st.seq += 1
            msg = BookSnapshot(
                symbol=st.ours, ts=ts, seq=st.seq,
                bids=tuple(BookLevel(p, s) for p, s in bids.items()), asks=tuple(BookLevel(p, s) for p, s in asks.items()),
            )
            st.fresh = False
        else:
            db, da = diff_side(st.bids, bids), diff_side(st.asks, asks)
            if not db and not da:
                return  # changed beyond the levels we keep
            st.seq += 1
            msg = BookDelta(symbol=st.ours, ts=ts, seq=st.seq, bids=db, asks=da)
        st.bids, st.asks = bids, asks
        self._on_book(msg)

    async def _trade_loop(self, st: _Tape) -> None:
        ex = self.broker._require()
        live = self.broker._has("watchTrades")
        while True:
            if live:
                trades = await ex.watch_trades(st.market)
            else:
                await asyncio.sleep(self.broker.config.poll_seconds)
                trades = await ex.fetch_trades(st.market, st.since)
            self._emit_trades(st, trades)
            self._recovered(f"trades:{st.ours}")

    def _emit_trades(self, st: _Tape, trades: list[dict[str, Any]]) -> None:
        for t in trades:
            tid = str(t.get("id") or "")
            if tid:
                if tid in st.seen:
                    continue
                st.seen.add(tid)
                st.order.append(tid)
                if len(st.order) > _SEEN_TRADES:
                    st.seen.discard(st.order.popleft())
            ms = t.get("timestamp")
            if ms:
                st.since = max(st.since or 0, int(ms))
            price, amount = t.get("price"), t.get("amount")
            if price is None or amount is None:
                continue
            self._on_trade(TradePrint(
                symbol=st.ours, ts=ms / 1000.0 if ms else self.broker.clock.time(), price=float(price), size=float(amount),
                aggressor=aggressor_of(t), trade_id=tid,  # type: ignore[arg-type]
            ))
