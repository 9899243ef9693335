"""Market depth and tick-by-tick trades from the fake TWS through the real ib_async: the rows TWS
numbers by position become price levels in an OrderBook, trades reach the tape with the side
inferred from the book, cancels stop both, and IB's depth limit (error 309) is one line."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from brokers.base import BrokerError
from tests.fakes.ib_harness import ib_broker, until
from tests.fakes.tws_fake import FakeTWS
from workstation.core.book import BookDelta, BookSnapshot, OrderBook, TradePrint

AAPL, MSFT, ES = 265598, 272093, 495512563


@contextlib.asynccontextmanager
async def connected(fake: FakeTWS | None = None, **config):
    fake = fake or FakeTWS()
    await fake.start()
    broker = ib_broker(fake.port, heartbeat=0, **config)
    books: list[BookSnapshot | BookDelta] = []
    trades: list[TradePrint] = []
    broker.attach(lambda r: None, lambda q: None, lambda s: None)
    broker.attach_depth(books.append, trades.append)
    await broker.connect()
    try:
        yield broker, fake, books, trades
    finally:
        await broker.close()
        await fake.stop()


def rebuilt(messages, symbol: str) -> OrderBook:
    book = OrderBook(symbol)
    for m in messages:
        if m.symbol == symbol:
            assert book.apply(m), f"{m} did not follow seq {book.seq}"
    return book


def levels(book: OrderBook) -> tuple[dict[float, float], dict[float, float]]:
    return ({lv.price: lv.size for lv in book.levels("bid")}, {lv.price: lv.size for lv in book.levels("ask")})


@pytest.mark.parametrize(("symbol", "con_id", "smart"), [("AAPL", AAPL, True), ("ES-2026-12", ES, False)])
async def test_depth_rows_by_position_rebuild_the_venues_book_exactly(symbol, con_id, smart):
    fake = FakeTWS()
    fake.set_book(con_id, bids=[(100.0, 300), (99.99, 200), (99.98, 500)], asks=[(100.01, 100), (100.02, 400), (100.03, 250)])
    async with connected(fake) as (broker, fake, books, _):
        await broker.subscribe_depth([symbol], levels=10)
        await until(lambda: books, what="the first book")
        request = next(r for r in fake.requests if r[0] == "10")
        assert request[15] == "10" and request[16] == ("1" if smart else "0")  # numRows, isSmartDepth
        assert isinstance(books[0], BookSnapshot)
        assert [lv.price for lv in books[0].bids] == [100.0, 99.99, 99.98]
        assert [lv.price for lv in books[0].asks] == [100.01, 100.02, 100.03]

        script = [
            ("bid", "insert", 0, 100.005, 50),   # a new best bid: every row below moves down one
            ("bid", "update", 2, 99.99, 700),    # the row that was 1 is now 2
            ("ask", "delete", 0),                # the best offer is lifted: the rows move up
            ("ask", "insert", 1, 100.025, 80),
            ("bid", "insert", 1, 100.0, 120, "ARCA"),  # a second exchange at 100.00: the level sums both
            ("bid", "delete", 4),                # the last bid row goes
            ("ask", "update", 0, 100.02, 0),     # size 0 at a row: the level is empty
        ]
        for step in script:
            side, op, pos, *rest = step
            price, size = (rest + [0.0, 0.0])[:2]
            mm = rest[2] if len(rest) > 2 else "NSDQ"
            fake.depth(con_id, side, op, pos, price, size, mm)
            want = fake.book_levels(con_id)
            await until(lambda want=want: levels(rebuilt(books, symbol)) == want, what=f"the book after {step}")

        book = rebuilt(books, symbol)
        assert levels(book) == ({100.005: 50, 100.0: 420, 99.99: 700}, {100.025: 80, 100.03: 250})
        assert book.state() == "ok" and book.best_bid == 100.005 and book.best_ask == 100.025
        assert all(isinstance(m, BookDelta) for m in books[1:])
        assert [m.seq for m in books] == list(range(1, len(books) + 1))


async def test_trades_arrive_with_price_size_and_the_side_inferred_from_the_book():
    fake = FakeTWS()
    fake.set_book(AAPL, bids=[(184.99, 300)], asks=[(185.01, 200)])
    async with connected(fake) as (broker, fake, books, trades):
        await broker.subscribe_depth(["AAPL"], levels=5)
        await broker.subscribe_trades(["AAPL"])
        await until(lambda: books and fake.trade_subscriptions() == 1, what="book and tape")
        assert next(r for r in fake.requests if r[0] == "97")[14] == "AllLast"
        fake.push_trade(AAPL, 185.01, 100)   # at the ask: a buyer lifted it
        fake.push_trade(AAPL, 184.99, 40)    # at the bid: a seller hit it
        fake.push_trade(AAPL, 185.0, 7)      # inside the spread: not known
        await until(lambda: len(trades) == 3, what="three prints")
        assert [(t.symbol, t.price, t.size, t.aggressor) for t in trades] == [
            ("AAPL", 185.01, 100, "buy"), ("AAPL", 184.99, 40, "sell"), ("AAPL", 185.0, 7, ""),
        ]


async def test_without_depth_the_side_is_inferred_from_the_quote():
    async with connected() as (broker, fake, books, trades):
        fake.push_quote(MSFT, 410.0, 410.1, 410.05)
        await broker.subscribe(["MSFT"])
        await until(lambda: broker.snapshot("MSFT"), what="a quote")
        await broker.subscribe_trades(["MSFT"])
        await until(lambda: fake.trade_subscriptions() == 1, what="the tape")
        fake.push_trade(MSFT, 410.1, 5)
        fake.push_trade(MSFT, 409.95, 9)
        await until(lambda: len(trades) == 2, what="two prints")
        assert [(t.price, t.aggressor) for t in trades] == [(410.1, "buy"), (409.95, "sell")]
        assert books == []


async def test_unsubscribing_cancels_at_tws_and_no_more_messages_arrive():
    fake = FakeTWS()
    fake.set_book(AAPL, bids=[(100.0, 1)], asks=[(100.1, 1)])
    async with connected(fake) as (broker, fake, books, trades):
        await broker.subscribe_depth(["AAPL"])
        await broker.subscribe_trades(["AAPL"])
        await until(lambda: books and fake.trade_subscriptions() == 1, what="book and tape")
        await broker.unsubscribe_depth(["AAPL"])
        await broker.unsubscribe_trades(["AAPL"])
        await until(lambda: fake.depth_subscriptions() == 0 and fake.trade_subscriptions() == 0, what="the cancels")
        assert any(r[0] == "11" for r in fake.requests) and any(r[0] == "98" for r in fake.requests)
        seen = len(books), len(trades)
        fake.depth(AAPL, "bid", "insert", 0, 100.05, 10)
        fake.push_trade(AAPL, 100.1, 1)
        await asyncio.sleep(0.2)
        assert (len(books), len(trades)) == seen


async def test_the_depth_limit_is_one_line_naming_the_symbol_and_frees_up_after_a_cancel():
    fake = FakeTWS()
    fake.depth_limit = 1
    fake.set_book(MSFT, bids=[(410.0, 3)], asks=[(410.1, 4)])
    async with connected(fake) as (broker, fake, books, _):
        await broker.subscribe_depth(["AAPL"])
        with pytest.raises(BrokerError) as err:
            await broker.subscribe_depth(["MSFT"])
        line = str(err.value)
        assert "\n" not in line and line.startswith("MSFT: IB allows no more market depth subscriptions")
        assert "309" in line
        await broker.unsubscribe_depth(["AAPL"])
        await until(lambda: fake.depth_subscriptions() == 0, what="the cancel")
        await broker.subscribe_depth(["MSFT"])
        await until(lambda: any(m.symbol == "MSFT" for m in books), what="MSFT's book")


async def test_an_unknown_symbol_is_refused_without_a_request():
    async with connected() as (broker, fake, books, _):
        with pytest.raises(BrokerError):
            await broker.subscribe_depth(["ZZZZ"])
        assert not any(r[0] == "10" for r in fake.requests)


async def test_after_tws_resets_the_book_a_fresh_snapshot_follows():
    fake = FakeTWS()
    fake.set_book(AAPL, bids=[(100.0, 5), (99.9, 6)], asks=[(100.1, 7)])
    async with connected(fake) as (broker, fake, books, _):
        await broker.subscribe_depth(["AAPL"])
        await until(lambda: books, what="the book")
        req_id = int(next(r for r in fake.requests if r[0] == "10")[2])
        fake.push_error(317, "Market depth data has been RESET. Please empty deep book contents before applying any new entries.", req_id)
        fake.books[AAPL] = ([], [])
        fake.depth(AAPL, "bid", "insert", 0, 99.5, 1)
        fake.depth(AAPL, "ask", "insert", 0, 99.6, 2)
        await until(lambda: levels(rebuilt(books, "AAPL")) == ({99.5: 1}, {99.6: 2}), what="the book after the reset")
        assert sum(isinstance(m, BookSnapshot) for m in books) == 2


async def test_a_reconnect_requests_depth_again_and_starts_with_a_snapshot():
    fake = FakeTWS()
    fake.set_book(AAPL, bids=[(100.0, 5)], asks=[(100.1, 7)])
    async with connected(fake) as (broker, fake, books, trades):
        await broker.subscribe_depth(["AAPL"])
        await broker.subscribe_trades(["AAPL"])
        await until(lambda: books, what="the book")
        fake.drop()
        await until(lambda: fake.depth_subscriptions() == 1 and fake.trade_subscriptions() == 1, what="the requests again")
        await until(lambda: len(books) == 2, what="a new snapshot")
        assert isinstance(books[1], BookSnapshot) and books[1].seq == 2
        fake.push_trade(AAPL, 100.1, 3)
        await until(lambda: trades, what="a print after the reconnect")
        assert trades[0].aggressor == "buy"


async def test_a_refusal_after_the_wait_drops_the_symbol_so_watching_it_again_asks_again(caplog):
    fake = FakeTWS()
    fake.depth_limit = 0
    fake.set_book(AAPL, bids=[(100.0, 5)], asks=[(100.1, 7)])
    async with connected(fake, depth_wait=0.0) as (broker, fake, books, _):
        await broker.subscribe_depth(["AAPL"])  # returns at once; the 309 comes after
        await until(lambda: "309" in caplog.text, what="the refusal logged")
        assert "AAPL: IB allows no more market depth subscriptions" in caplog.text
        fake.depth_limit = 1
        await broker.subscribe_depth(["AAPL"])
        await until(lambda: books, what="the book on the second request")
        assert sum(r[0] == "10" for r in fake.requests) == 2


async def test_asking_for_other_levels_sends_a_new_request_with_that_many_rows():
    fake = FakeTWS()
    fake.set_book(AAPL, bids=[(100.0 - i / 100, 10) for i in range(8)], asks=[(100.1 + i / 100, 10) for i in range(8)])
    async with connected(fake) as (broker, fake, books, _):
        await broker.subscribe_depth(["AAPL"], levels=3)
        await broker.subscribe_depth(["AAPL"], levels=3)  # the same: nothing is sent
        await broker.subscribe_depth(["AAPL"], levels=6)
        await until(lambda: len(books) == 2, what="the second snapshot")
        assert [r[15] for r in fake.requests if r[0] == "10"] == ["3", "6"]
        assert sum(r[0] == "11" for r in fake.requests) == 1
        assert isinstance(books[1], BookSnapshot) and len(books[1].bids) == 6 and len(books[1].asks) == 6


async def test_through_the_engine_the_book_and_the_tape_reach_a_face(home):
    from workstation.api import IntentError, LocalEngine
    from workstation.core.book import BookView
    from workstation.core.config import Settings
    from workstation.trading.session import Session

    fake = FakeTWS()
    fake.depth_limit = 1
    fake.set_book(AAPL, bids=[(184.99, 300), (184.98, 500)], asks=[(185.01, 200), (185.02, 100)])
    await fake.start()
    session = Session.build(Settings(), "ib-paper", data_root=home / "data", broker=ib_broker(fake.port, heartbeat=0))
    eng = LocalEngine(session)
    events: list[object] = []
    eng.subscribe(lambda e: events.append(e) if isinstance(e, (BookView, TradePrint)) else None)
    await eng.start([])
    try:
        await eng.watch_depth(["AAPL"], levels=5)
        await until(lambda: eng.book("AAPL") is not None, what="AAPL's book")
        fake.push_trade(AAPL, 185.01, 200)  # lifts the offer, which then leaves the book
        fake.depth(AAPL, "ask", "delete", 0)
        await until(lambda: eng.tape("AAPL") and eng.book("AAPL").best_ask == 185.02, what="the print and the book")
        view = eng.book("AAPL")
        assert view.state == "ok" and [(lv.price, lv.size) for lv in view.bids] == [(184.99, 300), (184.98, 500)]
        (trade,) = eng.tape("AAPL")
        assert (trade.price, trade.size, trade.aggressor) == (185.01, 200, "buy")
        assert any(isinstance(e, BookView) for e in events) and any(isinstance(e, TradePrint) for e in events)
        with pytest.raises(IntentError) as err:
            await eng.watch_depth(["MSFT"])
        assert str(err.value).startswith("MSFT: IB allows no more market depth subscriptions") and "\n" not in str(err.value)
        await eng.unwatch_depth(["AAPL"])
        await until(lambda: fake.depth_subscriptions() == 0 and fake.trade_subscriptions() == 0, what="the cancels")
    finally:
        await eng.stop()
        await fake.stop()
