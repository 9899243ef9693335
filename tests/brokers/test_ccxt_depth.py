"""The ccxt adapter's market depth and tape, end to end: the real ccxt (``watch_order_book``
over binance's REST snapshot and diff-depth stream, ``watch_trades`` over ``@trade``) against
the binance fake on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brokers.base import BrokerError
from brokers.exchanges.adapter import CcxtBroker, CcxtConfig
from brokers.exchanges.depth import _Book, BookStreams
from tests.fakes.binance_session import fake, keys, open_session, profile_options, until  # noqa: F401
from workstation.core.book import BookDelta, BookLevel, BookSnapshot, OrderBook, TradePrint
from workstation.core.clock import LiveClock
from workstation.core.model import ConnectionState

BIDS = [("60000.00", "1.5"), ("59999.00", "2"), ("59998.50", "0.25")]
ASKS = [("60001.00", "0.8"), ("60002.00", "3"), ("60003.00", "1.1")]


class Feed:
    """A broker connected to the fake, with its depth and trade sinks recorded."""

    def __init__(self, broker: CcxtBroker) -> None:
        self.broker = broker
        self.books: list[BookSnapshot | BookDelta] = []
        self.trades: list[TradePrint] = []
        self.states: list[ConnectionState] = []
        self.book = OrderBook("BTC/USDT")
        broker.attach(lambda r: None, lambda q: None, self.states.append)
        broker.attach_depth(self._on_book, self.trades.append)

    def _on_book(self, msg: BookSnapshot | BookDelta) -> None:
        self.books.append(msg)
        assert self.book.apply(msg), f"{msg} does not follow seq {self.book.seq}"


@pytest.fixture
async def feed(fake, keys):  # noqa: F811
    broker = CcxtBroker(CcxtConfig(**profile_options(fake)), LiveClock())
    await broker.connect()
    out = Feed(broker)
    yield out
    await broker.close()


def fake_side(fake, side: str) -> tuple[BookLevel, ...]:  # noqa: F811
    return tuple(BookLevel(float(p), float(q)) for p, q in fake.book_of("BTCUSDT").levels(side))


def rebuilt(feed: Feed) -> tuple[tuple[BookLevel, ...], tuple[BookLevel, ...]]:
    return feed.book.levels("bid"), feed.book.levels("ask")


async def test_snapshot_then_updates_rebuild_the_venues_book(fake, feed):  # noqa: F811
    fake.set_book("BTCUSDT", BIDS, ASKS)
    await feed.broker.subscribe_depth(["BTC/USDT"], levels=20)
    await until(lambda: feed.books, what="the first book")
    first = feed.books[0]
    assert type(first) is BookSnapshot and first.symbol == "BTC/USDT"
    assert first.bids == (BookLevel(60000.0, 1.5), BookLevel(59999.0, 2.0), BookLevel(59998.5, 0.25))
    assert first.asks[0] == BookLevel(60001.0, 0.8)
    assert ("GET", "depth") in {(m, p) for m, p, _ in fake.requests}

    fake.update_book("BTCUSDT", bids=[("60000.00", "0.5"), ("60000.50", "4")], asks=[("60001.00", "0")])
    await until(lambda: feed.book.best_ask == 60002.0, what="the first update")
    fake.update_book("BTCUSDT", bids=[("59998.50", "0")], asks=[("60001.50", "2.2"), ("60003.00", "0.1")])
    await until(lambda: feed.book.best_ask == 60001.5, what="the second update")
    assert [type(m) for m in feed.books] == [BookSnapshot, BookDelta, BookDelta]
    assert [m.seq for m in feed.books] == [1, 2, 3]
    assert feed.books[1].bids == (BookLevel(60000.5, 4.0), BookLevel(60000.0, 0.5))
    assert feed.books[1].asks == (BookLevel(60001.0, 0.0),)  # the level is gone
    assert rebuilt(feed) == (fake_side(fake, "bid"), fake_side(fake, "ask"))
    assert feed.book.view(5).state == "ok"


async def test_trades_arrive_with_price_size_and_aggressor(fake, feed):  # noqa: F811
    await feed.broker.subscribe_trades(["BTC/USDT"])
    await until(lambda: fake.subscribed("btcusdt@trade") == 1, what="the trade subscription")
    fake.print_trade("BTCUSDT", "60001.00", "0.25", aggressor="buy")
    fake.print_trade("BTCUSDT", "60000.00", "1.5", aggressor="sell")
    await until(lambda: len(feed.trades) == 2, what="two prints")
    assert [(t.symbol, t.price, t.size, t.aggressor) for t in feed.trades] == [
        ("BTC/USDT", 60001.0, 0.25, "buy"), ("BTC/USDT", 60000.0, 1.5, "sell"),
    ]
    assert feed.trades[0].trade_id and feed.trades[0].trade_id != feed.trades[1].trade_id
    assert abs(feed.trades[0].ts - time.time()) < 60


async def test_unsubscribe_stops_the_book_and_the_tape(fake, feed):  # noqa: F811
    await feed.broker.subscribe_depth(["BTC/USDT"])
    await feed.broker.subscribe_trades(["BTC/USDT"])
    await until(lambda: feed.books and fake.subscribed("btcusdt@trade") == 1, what="both streams")
    await feed.broker.unsubscribe_depth(["BTC/USDT"])
    await feed.broker.unsubscribe_trades(["BTC/USDT"])
    assert not [k for k in feed.broker._tasks if k.startswith(("book:", "trades:"))]
    await until(lambda: fake.subscribed("btcusdt@trade") == 0 and fake.subscribed("btcusdt@depth@100ms") == 0, what="venue told")
    books, trades = len(feed.books), len(feed.trades)
    fake.update_book("BTCUSDT", bids=[("59990.00", "9")])
    fake.print_trade("BTCUSDT", "60001.00", "0.25")
    await asyncio.sleep(0.3)
    assert (len(feed.books), len(feed.trades)) == (books, trades)


async def test_a_dropped_connection_resyncs_with_a_fresh_snapshot(fake, feed):  # noqa: F811
    fake.set_book("BTCUSDT", BIDS, ASKS)
    await feed.broker.subscribe_depth(["BTC/USDT"])
    await until(lambda: feed.books, what="the first book")
    fake.drop_streams(refuse=True)
    await until(lambda: any(s.state == "reconnecting" and "BTC/USDT book stream" in s.detail for s in feed.states), what="reconnecting")
    fake.update_book("BTCUSDT", bids=[("60000.00", "7")], asks=[("60001.00", "0")])  # missed while down
    fake.allow_streams()
    await until(lambda: len([m for m in feed.books if type(m) is BookSnapshot]) == 2, timeout=10, what="a fresh snapshot")
    assert feed.book.best_ask == 60002.0 and feed.book.size_at("bid", 60000.0) == 7.0
    await until(lambda: feed.states[-1].state == "connected", timeout=10, what="connected again")
    fake.update_book("BTCUSDT", asks=[("60001.75", "1")])
    await until(lambda: feed.book.best_ask == 60001.75, what="updates after the resync")
    assert rebuilt(feed) == (fake_side(fake, "bid"), fake_side(fake, "ask"))
    seqs = [m.seq for m in feed.books]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_a_gap_in_the_venues_update_ids_resyncs_without_a_reconnect(fake, feed):  # noqa: F811
    fake.set_book("BTCUSDT", BIDS, ASKS)
    await feed.broker.subscribe_depth(["BTC/USDT"])
    await until(lambda: feed.books, what="the first book")
    fake.update_book("BTCUSDT", bids=[("59999.00", "5")], lost=True)  # never sent
    fake.update_book("BTCUSDT", asks=[("60002.00", "0")])
    await until(lambda: len([m for m in feed.books if type(m) is BookSnapshot]) == 2, timeout=10, what="a fresh snapshot")
    await until(lambda: rebuilt(feed) == (fake_side(fake, "bid"), fake_side(fake, "ask")), what="the venue's book")
    assert feed.book.size_at("bid", 59999.0) == 5.0
    assert not any(s.state == "reconnecting" for s in feed.states)


async def test_an_unknown_market_is_one_line_and_starts_nothing(fake, feed):  # noqa: F811
    with pytest.raises(BrokerError, match="^binance lists no market for DOGE/USD$"):
        await feed.broker.subscribe_depth(["DOGE/USD"])
    assert not [k for k in feed.broker._tasks if k.startswith("book:")]


async def test_close_leaves_no_depth_loop_running(fake, keys):  # noqa: F811
    broker = CcxtBroker(CcxtConfig(**profile_options(fake)), LiveClock())
    await broker.connect()
    got: list = []
    broker.attach_depth(got.append, got.append)
    await broker.subscribe_depth(["BTC/USDT", "ETH/USDT"])
    await broker.subscribe_trades(["BTC/USDT"])
    await until(lambda: len(got) >= 2, what="both books")
    tasks = [t for k, t in broker._tasks.items() if k.startswith(("book:", "trades:"))]
    assert len(tasks) == 3
    await broker.close()
    assert all(t.done() for t in tasks)
    count = len(got)
    await asyncio.sleep(0.2)
    assert len(got) == count


def test_2000_full_books_from_ccxt_become_deltas_that_rebuild_the_last_one():
    """Every one of ccxt's full books (20 levels a side, sizes changing) becomes a delta, and the
    deltas rebuild the last book exactly."""
    streams = BookStreams.__new__(BookStreams)
    out: list = []
    streams._on_book = out.append
    streams.broker = type("B", (), {"clock": LiveClock()})()
    state = _Book("BTC/USDT", "BTC/USDT", 20)
    books = []
    for i in range(2000):
        bids = [[60000.0 - k * 0.5, 1.0 + ((i + k) % 7)] for k in range(20)]
        asks = [[60001.0 + k * 0.5, 1.0 + ((i * 3 + k) % 5)] for k in range(20)]
        books.append({"bids": bids, "asks": asks, "timestamp": 1_700_000_000_000 + i})
    for b in books:
        streams._emit_book(state, b)
    book = OrderBook("BTC/USDT")
    assert all(book.apply(m) for m in out)
    assert book.levels("bid") == tuple(BookLevel(p, s) for p, s in books[-1]["bids"])


async def test_without_websockets_the_book_and_tape_are_polled(fake, keys):  # noqa: F811
    broker = CcxtBroker(CcxtConfig(**profile_options(fake, websockets=False, poll_seconds=0.05)), LiveClock())
    await broker.connect()
    feed = Feed(broker)
    try:
        fake.set_book("BTCUSDT", BIDS, ASKS)
        await broker.subscribe_depth(["BTC/USDT"])
        await broker.subscribe_trades(["BTC/USDT"])
        await until(lambda: feed.books, what="the first polled book")
        fake.update_book("BTCUSDT", bids=[("60000.50", "3")], asks=[("60001.00", "0")])
        fake.print_trade("BTCUSDT", "60000.50", "0.4", aggressor="sell")
        await until(lambda: feed.book.best_ask == 60002.0 and feed.trades, what="the change and the print")
        assert rebuilt(feed) == (fake_side(fake, "bid"), fake_side(fake, "ask"))
        assert [type(m) for m in feed.books[:2]] == [BookSnapshot, BookDelta]
        await asyncio.sleep(0.2)  # polled again: the same trade is not printed twice
        assert [(t.price, t.size, t.aggressor) for t in feed.trades] == [(60000.5, 0.4, "sell")]
        assert fake.ws_connections == 0
    finally:
        await broker.close()


_SIDE = st.dictionaries(st.integers(1, 60).map(lambda t: t * 0.5), st.sampled_from([0.1, 1.0, 2.5, 7.0]), max_size=20)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_SIDE, _SIDE), min_size=1, max_size=12))
def test_any_run_of_ccxt_books_rebuilds_each_book_exactly(books):
    """Whatever ccxt hands over, the snapshot and deltas rebuild each of its books, seq 1, 2, 3..."""
    streams = BookStreams.__new__(BookStreams)
    out: list = []
    streams._on_book = out.append
    streams.broker = type("B", (), {"clock": LiveClock()})()
    state = _Book("BTC/USDT", "BTC/USDT", 20)
    book = OrderBook("BTC/USDT")
    for bids, asks in books:
        ccxt_book = {"bids": [[p, bids[p]] for p in sorted(bids, reverse=True)], "asks": [[p, asks[p]] for p in sorted(asks)], "timestamp": None}
        streams._emit_book(state, ccxt_book)
        assert all(book.apply(m) for m in out)
        out.clear()
        assert book.levels("bid") == tuple(BookLevel(p, s) for p, s in ccxt_book["bids"])
        assert book.levels("ask") == tuple(BookLevel(p, s) for p, s in ccxt_book["asks"])
    assert book.seq == state.seq and not book.stale


async def test_asking_for_other_levels_restarts_the_book_at_that_depth(fake, feed):  # noqa: F811
    fake.set_book("BTCUSDT", [(f"{60000 - i}.00", "1") for i in range(10)], [(f"{60001 + i}.00", "1") for i in range(10)])
    await feed.broker.subscribe_depth(["BTC/USDT"], levels=5)
    await until(lambda: feed.books, what="the first book")
    assert feed.book.depth() == (5, 5)
    await feed.broker.subscribe_depth(["BTC/USDT"], levels=5)  # the same: nothing restarts
    await feed.broker.subscribe_depth(["BTC/USDT"], levels=10)
    await until(lambda: feed.book.depth() == (10, 10), what="ten levels")
    assert type(feed.books[-1]) is BookSnapshot
    assert len([k for k in feed.broker._tasks if k.startswith("book:")]) == 1


async def test_watch_depth_on_a_session_gives_book_views_and_prints(fake, keys, tmp_path):  # noqa: F811
    from workstation.api import LocalEngine
    from workstation.core.book import BookView

    fake.set_book("BTCUSDT", BIDS, ASKS)
    session = await open_session(fake, tmp_path, symbols=())
    engine = LocalEngine(session)
    events: list = []
    engine.subscribe(lambda e: events.append(e) if isinstance(e, (BookView, TradePrint)) else None)
    try:
        await engine.watch_depth(["BTC/USDT"])
        await until(lambda: any(isinstance(e, BookView) for e in events), what="a book view")
        view = engine.book("BTC/USDT")
        assert (view.best_bid, view.best_ask, view.state) == (60000.0, 60001.0, "ok")
        await until(lambda: fake.subscribed("btcusdt@trade") == 1, what="the tape")
        fake.update_book("BTCUSDT", asks=[("60001.00", "0")])
        fake.print_trade("BTCUSDT", "60001.00", "0.8", aggressor="buy")
        await until(lambda: engine.book("BTC/USDT").best_ask == 60002.0 and engine.tape("BTC/USDT"), what="the lifted offer and its print")
        assert [(t.price, t.size, t.aggressor) for t in engine.tape("BTC/USDT")] == [(60001.0, 0.8, "buy")]
        assert any(isinstance(e, TradePrint) for e in events)
        await engine.unwatch_depth(["BTC/USDT"])
        assert not [k for k in session.broker._tasks if k.startswith(("book:", "trades:"))]
    finally:
        await session.stop()
