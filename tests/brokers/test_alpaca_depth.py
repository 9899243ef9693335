"""Alpaca's crypto order books and trades, and its stock trades: the real alpaca-py SDK
against the loopback fake, through the adapter's DepthFeed."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brokers.alpaca.adapter import AlpacaBroker
from brokers.alpaca.depth import AlpacaDepth
from brokers.base import BrokerError, DepthFeed
from tests.alpaca_support import fake, keys, settings_for, until  # noqa: F401 (fixtures)
from workstation.core.book import BookDelta, BookSnapshot, OrderBook, TradePrint
from workstation.core.clock import LiveClock, SimClock

BTC, ETH = "BTC/USD", "ETH/USD"


class Sinks:
    def __init__(self) -> None:
        self.books: list[BookSnapshot | BookDelta] = []
        self.trades: list[TradePrint] = []
        self.order_books: dict[str, OrderBook] = {}

    def on_book(self, msg: BookSnapshot | BookDelta) -> None:
        self.books.append(msg)
        self.order_books.setdefault(msg.symbol, OrderBook(msg.symbol)).apply(msg)

    def on_trade(self, tp: TradePrint) -> None:
        self.trades.append(tp)

    def levels(self, symbol: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        book = self.order_books[symbol]
        return ([(lv.price, lv.size) for lv in book.levels("bid", 100)], [(lv.price, lv.size) for lv in book.levels("ask", 100)])


@pytest.fixture
async def broker(fake, keys):  # noqa: F811
    b = AlpacaBroker(settings_for(fake).profile("alpaca-paper"), LiveClock())
    sinks = Sinks()
    b.attach_depth(sinks.on_book, sinks.on_trade)
    b.sinks = sinks  # type: ignore[attr-defined]
    await b.connect()
    yield b
    await b.close()


def subscribed(fake, channel: str) -> set[str]:  # noqa: F811
    return set().union(*(c[channel] for c in fake.data_channels.values())) if fake.data_channels else set()


async def test_a_crypto_book_reset_then_updates_rebuild_the_venues_book(broker, fake):  # noqa: F811
    assert isinstance(broker, DepthFeed)
    fake.set_book(BTC, bids=[(60000.0, 1.5), (59999.5, 2.0), (59998.0, 0.25)], asks=[(60001.0, 0.75), (60002.5, 3.0)])
    await broker.subscribe_depth([BTC])
    sinks = broker.sinks
    await until(lambda: sinks.books, what="the reset")
    first = sinks.books[0]
    assert isinstance(first, BookSnapshot) and first.seq == 1
    assert sinks.levels(BTC) == fake.book_of(BTC)

    fake.update_book(BTC, bids=[(60000.0, 0.5), (60000.5, 1.0)], asks=[(60001.0, 0)])  # a new best bid, the best ask gone
    fake.update_book(BTC, asks=[(60001.5, 4.0)])
    fake.update_book(BTC, bids=[(59998.0, 0)])
    await until(lambda: len(sinks.books) == 4, what="three updates")
    assert all(isinstance(m, BookDelta) for m in sinks.books[1:])
    assert [m.seq for m in sinks.books] == [1, 2, 3, 4]  # numbered by us, consecutively: none taken for a gap
    assert sinks.levels(BTC) == fake.book_of(BTC) == (
        [(60000.5, 1.0), (60000.0, 0.5), (59999.5, 2.0)], [(60001.5, 4.0), (60002.5, 3.0)])
    view = sinks.order_books[BTC].view(2)
    assert (view.best_bid, view.best_ask, view.state) == (60000.5, 60001.5, "ok")


async def test_a_reconnected_stream_starts_the_book_over_from_alpacas_reset(broker, fake):  # noqa: F811
    fake.set_book(ETH, bids=[(3000.0, 5.0)], asks=[(3000.5, 5.0)])
    await broker.subscribe_depth([ETH])
    sinks = broker.sinks
    await until(lambda: sinks.books, what="the reset")
    fake.drop_streams()
    fake.books[ETH] = {"b": {2990.0: 1.0}, "a": {2991.0: 2.0}}  # the market moved while we were away
    await until(lambda: len(sinks.books) == 2, timeout=8, what="the reset after the reconnect")
    assert isinstance(sinks.books[1], BookSnapshot) and sinks.books[1].seq == 2
    assert sinks.levels(ETH) == ([(2990.0, 1.0)], [(2991.0, 2.0)])
    fake.update_book(ETH, bids=[(2990.5, 3.0)])
    await until(lambda: len(sinks.books) == 3, what="an update")
    assert sinks.levels(ETH) == fake.book_of(ETH)


async def test_crypto_trades_say_who_took_liquidity(broker, fake):  # noqa: F811
    await broker.subscribe_trades([BTC])
    await until(lambda: BTC in subscribed(fake, "trades"), what="trades subscription")
    fake.push_trade(BTC, 60001.0, 0.5, taker="B", trade_id=11)
    fake.push_trade(BTC, 59999.5, 0.25, taker="S", trade_id=12)
    sinks = broker.sinks
    await until(lambda: len(sinks.trades) == 2, what="two trades")
    assert [(t.symbol, t.price, t.size, t.aggressor, t.trade_id) for t in sinks.trades] == [
        (BTC, 60001.0, 0.5, "buy", "11"), (BTC, 59999.5, 0.25, "sell", "12")]
    assert sinks.trades[0].ts > 0
    assert not broker.sinks.books  # trades alone start no book


async def test_stock_trades_arrive_without_an_aggressor(broker, fake):  # noqa: F811
    await broker.subscribe_trades(["AAPL"])
    await until(lambda: "AAPL" in subscribed(fake, "trades"), what="trades subscription")
    fake.push_trade("AAPL", 190.01, 100, trade_id=7)
    sinks = broker.sinks
    await until(lambda: sinks.trades, what="a trade")
    assert [(t.symbol, t.price, t.size, t.aggressor, t.trade_id) for t in sinks.trades] == [("AAPL", 190.01, 100.0, "", "7")]
    assert "AAPL" not in subscribed(fake, "quotes")  # the tape asks for trades only


async def test_a_stocks_book_is_refused_in_one_line(broker, fake):  # noqa: F811
    with pytest.raises(BrokerError) as err:
        await broker.subscribe_depth(["AAPL"])
    assert str(err.value) == "AAPL: Alpaca sends no order book for stocks"
    with pytest.raises(BrokerError) as err:
        await broker.subscribe_depth([BTC, "AAPL"])  # one bad symbol refuses the lot: nothing changes
    assert "\n" not in str(err.value)
    assert fake.connections["data"] == 0  # no stream was opened for it
    assert not subscribed(fake, "orderbooks")


async def test_unsubscribing_stops_books_and_trades(broker, fake):  # noqa: F811
    fake.set_book(BTC, bids=[(60000.0, 1.0)], asks=[(60001.0, 1.0)])
    await broker.subscribe_depth([BTC])
    await broker.subscribe_trades([BTC, "AAPL"])
    sinks = broker.sinks
    await until(lambda: sinks.books and {BTC, "AAPL"} <= subscribed(fake, "trades"), what="subscriptions")
    await broker.unsubscribe_depth([BTC])
    await broker.unsubscribe_trades([BTC, "AAPL"])
    await until(lambda: not subscribed(fake, "orderbooks") and not subscribed(fake, "trades"), what="unsubscribed at the venue")
    before = (len(sinks.books), len(sinks.trades))
    fake.update_book(BTC, bids=[(60000.5, 2.0)])
    fake.push_trade(BTC, 60000.5, 1.0)
    fake.push_trade("AAPL", 190.0, 1)
    fake.push_quote(BTC, 60000.0, 60001.0)  # a frame that does arrive, after the ones that must not
    await broker.subscribe([BTC])
    await until(lambda: BTC in subscribed(fake, "quotes"), what="the quote subscription at the venue")  # (sent, not awaited)
    fake.push_quote(BTC, 60000.0, 60001.0)
    await until(lambda: broker.snapshot(BTC) is not None and broker.snapshot(BTC).bid == 60000.0, what="a later quote")
    assert (len(sinks.books), len(sinks.trades)) == before


async def test_a_quoted_symbol_keeps_its_trades_when_its_tape_stops(broker, fake):  # noqa: F811
    await broker.subscribe([BTC])
    await broker.subscribe_trades([BTC])
    await broker.unsubscribe_trades([BTC])
    await until(lambda: BTC in subscribed(fake, "trades"), what="trades")
    fake.push_trade(BTC, 60100.0, 1.0)
    await until(lambda: broker.snapshot(BTC) is not None and broker.snapshot(BTC).last == 60100.0, what="the last price")
    assert not broker.sinks.trades  # the tape is off, the quote's last price still moves

    await broker.subscribe_trades([BTC])
    await broker.unsubscribe([BTC])  # quotes off, the tape on: trades still come
    await until(lambda: BTC not in subscribed(fake, "quotes"), what="quotes off")
    assert BTC in subscribed(fake, "trades")
    fake.push_trade(BTC, 60200.0, 2.0, taker="S")
    await until(lambda: broker.sinks.trades, what="a tape trade")
    assert broker.sinks.trades[0].aggressor == "sell"


_prices = st.sampled_from([99.0 + i * 0.5 for i in range(12)])
_sizes = st.sampled_from([0.0, 0.0, 0.1, 1.0, 2.5, 10.0])
_side = st.lists(st.tuples(_prices, _sizes), max_size=6)


@settings(max_examples=200, deadline=None)
@given(start_bids=_side, start_asks=_side, updates=st.lists(st.tuples(_side, _side), max_size=12))
def test_any_reset_and_updates_rebuild_the_same_book(start_bids, start_asks, updates):
    """Whatever Alpaca sends after its reset, the engine's OrderBook ends up with the venue's
    levels (a size of 0 removes one), every message numbered with no gap."""
    depth = AlpacaDepth(SimClock(1_700_000_000.0))
    depth.books.add(BTC)
    got: list[BookSnapshot | BookDelta] = []
    depth.attach(got.append, lambda t: None)
    venue = {"b": {p: s for p, s in start_bids if s}, "a": {p: s for p, s in start_asks if s}}
    frame = lambda side: [{"p": p, "s": s} for p, s in side]  # noqa: E731
    asyncio.run(depth.on_orderbook({"T": "o", "S": BTC, "b": frame(venue["b"].items()), "a": frame(venue["a"].items()), "r": True}))
    for bids, asks in updates:
        for key, rows in (("b", bids), ("a", asks)):
            for p, s in rows:
                if s:
                    venue[key][p] = s
                else:
                    venue[key].pop(p, None)
        asyncio.run(depth.on_orderbook({"T": "o", "S": BTC, "b": frame(bids), "a": frame(asks)}))
    book = OrderBook(BTC)
    assert all(book.apply(m) for m in got)
    assert [m.seq for m in got] == list(range(1, len(updates) + 2))
    assert [(lv.price, lv.size) for lv in book.levels("bid", 100)] == sorted(venue["b"].items(), reverse=True)
    assert [(lv.price, lv.size) for lv in book.levels("ask", 100)] == sorted(venue["a"].items())


def test_an_update_before_any_reset_is_dropped():
    depth = AlpacaDepth(SimClock(1_700_000_000.0))
    depth.books.add(BTC)
    assert depth.book_message({"T": "o", "S": BTC, "b": [{"p": 1.0, "s": 1.0}], "a": []}) is None
    snap = depth.book_message({"T": "o", "S": BTC, "b": [{"p": 1.0, "s": 1.0}], "a": [], "r": True})
    assert isinstance(snap, BookSnapshot) and snap.seq == 1


async def test_through_the_engine_a_crypto_book_and_its_tape_reach_a_face(fake, keys, tmp_path):  # noqa: F811
    """``watch_depth`` on an Alpaca session: the face gets conflated views of the venue's book and
    the prints with the taker's side; a stock's book is one line; unwatching unsubscribes."""
    from workstation.api import LocalEngine
    from workstation.core.book import BookView
    from workstation.core.model import IntentError
    from workstation.trading.session import Session

    fake.set_book(BTC, bids=[(60000.0, 1.5), (59999.5, 2.0)], asks=[(60001.0, 0.75), (60002.5, 3.0)])
    session = Session.build(settings_for(fake), "alpaca-paper", data_root=tmp_path)
    await session.start([])
    engine = LocalEngine(session)
    events: list = []
    engine.subscribe(lambda e: events.append(e) if isinstance(e, (BookView, TradePrint)) else None)
    try:
        await engine.watch_depth([BTC])
        await until(lambda: engine.book(BTC) is not None, what="the first view")
        view = engine.book(BTC)
        assert (view.best_bid, view.best_ask, view.state) == (60000.0, 60001.0, "ok")
        await until(lambda: BTC in subscribed(fake, "trades"), what="the tape's subscription")
        fake.update_book(BTC, asks=[(60001.0, 0)])  # the offer is lifted...
        fake.push_trade(BTC, 60001.0, 0.75, taker="B", trade_id=7)  # ...by a buyer
        await until(lambda: engine.book(BTC).best_ask == 60002.5 and engine.tape(BTC), what="the lifted offer and its print")
        assert [(t.price, t.size, t.aggressor) for t in engine.tape(BTC)] == [(60001.0, 0.75, "buy")]
        assert any(isinstance(e, BookView) for e in events) and any(isinstance(e, TradePrint) for e in events)
        with pytest.raises(IntentError, match="AAPL: Alpaca sends no order book for stocks"):
            await engine.watch_depth(["AAPL"])
        await engine.unwatch_depth([BTC])
        await until(lambda: BTC not in subscribed(fake, "orderbooks"), what="the book unsubscribed")
    finally:
        await session.stop()
