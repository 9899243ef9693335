"""The paper market's book: orders walk it level by level, its touch is the quote, it is
deterministic in the seed, and its DepthFeed stream rebuilds it exactly in an ``OrderBook``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings as hyp_settings, strategies as st

from brokers.base import BrokerCanceled, BrokerError, BrokerFill, BrokerReport, DepthFeed
from brokers.paper.broker import SimBroker, SimConfig, SimMarket
from workstation.core.book import BookDelta, BookSnapshot, OrderBook, TradePrint
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import (
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    TimeInForce,
)
from workstation.core.symbols import parse_symbol
from workstation.trading.session import Session

NY = ZoneInfo("America/New_York")
T0 = datetime(2025, 6, 10, 11, 0, tzinfo=NY).timestamp()  # a Tuesday, 11:00 New York


class Script(SimMarket):
    """A market whose quotes the test sets (the paper book is built around them)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self.book: dict[str, tuple[float, float, float, float]] = {}

    def set(self, symbol: str, bid: float, ask: float, bid_size: float = 500, ask_size: float = 300) -> None:
        self.book[parse_symbol(symbol).symbol] = (bid, ask, bid_size, ask_size)

    def quote(self, symbol: str, t: float) -> Quote:
        sym = parse_symbol(symbol).symbol
        bid, ask, bid_size, ask_size = self.book[sym]
        return Quote(sym, t, bid, ask, bid, bid_size, ask_size, 1e7, bid)

    def quotes(self, symbols: Sequence[str], t: float) -> list[Quote]:
        return [self.quote(s, t) for s in symbols]


def rig(config: SimConfig | None = None, market: SimMarket | None = None, start: float = T0):
    clock = SimClock(start)
    m = market if market is not None else Script()
    broker = SimBroker(clock, config or SimConfig(), m)
    reports: list[BrokerReport] = []
    broker.attach(reports.append, lambda q: None, lambda s: None)
    return clock, m, broker, reports


_n = iter(range(1, 10**6))


def order(**fields: object) -> Order:
    n = next(_n)
    base: dict[str, object] = {
        "id": f"o{n}", "client_id": f"c{n}", "symbol": "AAPL", "side": Side.BUY, "qty": D(100),
        "type": OrderType.MARKET, "tif": TimeInForce.DAY, "status": OrderStatus.SUBMITTED,
    }
    base.update(fields)
    return Order(**base)  # type: ignore[arg-type]


def fills(reports: list[BrokerReport], cid: str) -> list[tuple[D, D]]:
    return [(r.qty, r.price) for r in reports if isinstance(r, BrokerFill) and r.client_id == cid]


# ----------------------------------------------------------------------------- walking the book


async def test_a_1000_share_market_order_walks_three_levels_journaled_as_three_fills_at_the_vwap(tmp_path) -> None:
    clock = SimClock(T0)
    market = Script()
    market.set("AAPL", 100.00, 100.02)
    broker = SimBroker(clock, SimConfig(), market)
    book = broker.depth_view("AAPL", 3)
    assert [(lv.price, lv.size) for lv in book.asks] == [(100.02, 300.0), (100.03, 324.0), (100.04, 417.0)]
    raw = {"profiles": {"paper": {"risk": {"max_daily_loss_pct": None}}}, "alerts": {"bell": False}}
    settings = msgspec.convert(raw, Settings, strict=False)
    s = Session.build(settings, "paper", data_root=tmp_path, clock=clock, broker=broker)
    o = await s.oms.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=D(1000)))
    o = s.oms.orders[o.id]
    journaled = [(f.qty, f.price) for f in s.journal.fills() if f.order_id == o.id]
    assert journaled == [(D(300), D("100.02")), (D(324), D("100.03")), (D(376), D("100.04"))]
    vwap = (D(300) * D("100.02") + D(324) * D("100.03") + D(376) * D("100.04")) / D(1000)
    assert vwap == D("100.03076")
    assert o.status is OrderStatus.FILLED and o.filled_qty == 1000 and o.avg_fill_price == vwap
    assert s.portfolio.qty("AAPL") == 1000
    assert s.portfolio.cash["USD"] == D(100_000) - D("100030.76")
    assert len({f.exec_id for f in s.journal.fills()}) == 3


async def test_a_second_order_in_the_same_instant_sees_the_thinner_book_and_the_next_quote_replenishes() -> None:
    clock, market, broker, reports = rig()
    market.set("AAPL", 100.00, 100.02)
    first, second = order(qty=D(400)), order(qty=D(100))
    await broker.submit(first)
    assert fills(reports, first.client_id) == [(D(300), D("100.02")), (D(100), D("100.03"))]
    assert [(lv.price, lv.size) for lv in broker.depth_view("AAPL", 2).asks] == [(100.03, 224.0), (100.04, 417.0)]
    await broker.submit(second)
    assert fills(reports, second.client_id) == [(D(100), D("100.03"))]
    clock.advance(0.5)
    broker.step()  # a new quote: the book is whole again
    assert broker.depth_view("AAPL", 1).asks[0].size == 300.0
    third = order(qty=D(100), side=Side.SELL)
    await broker.submit(third)
    assert fills(reports, third.client_id) == [(D(100), D("100.00"))]


async def test_a_marketable_limit_stops_at_its_price_and_rests_the_rest() -> None:
    clock, market, broker, reports = rig()
    market.set("AAPL", 100.00, 100.02)
    o = order(qty=D(1000), type=OrderType.LIMIT, limit_price=D("100.03"))
    await broker.submit(o)
    assert fills(reports, o.client_id) == [(D(300), D("100.02")), (D(324), D("100.03"))]
    (state,) = await broker.open_orders()
    assert (state.status, state.filled_qty, state.limit_price) == ("partially_filled", D(624), D("100.03"))


async def test_a_sell_limit_walks_the_bids_down_to_its_price() -> None:
    _, market, broker, reports = rig()
    market.set("AAPL", 100.00, 100.02, bid_size=500)
    bids = broker.depth_view("AAPL", 3).bids
    o = order(qty=D(2000), side=Side.SELL, type=OrderType.LIMIT, limit_price=D("99.99"))
    await broker.submit(o)
    assert fills(reports, o.client_id) == [(D(500), D("100.00")), (D(int(bids[1].size)), D("99.99"))]


async def test_fok_fills_against_the_book_within_its_limit_or_is_canceled_whole() -> None:
    _, market, broker, reports = rig()
    market.set("AAPL", 100.00, 100.02)
    ok = order(qty=D(600), tif=TimeInForce.FOK, type=OrderType.LIMIT, limit_price=D("100.03"))
    await broker.submit(ok)
    assert sum(q for q, _ in fills(reports, ok.client_id)) == D(600)
    _, market, broker, reports = rig()
    market.set("AAPL", 100.00, 100.02)
    short = order(qty=D(700), tif=TimeInForce.FOK, type=OrderType.LIMIT, limit_price=D("100.03"))
    await broker.submit(short)
    assert fills(reports, short.client_id) == []
    (cancel,) = [r for r in reports if isinstance(r, BrokerCanceled)]
    assert cancel.reason == "FOK: only 624 of 700 available within 100.03"


async def test_ioc_walks_then_cancels_what_the_book_did_not_offer_within_its_limit() -> None:
    _, market, broker, reports = rig()
    market.set("AAPL", 100.00, 100.02)
    o = order(qty=D(1000), tif=TimeInForce.IOC, type=OrderType.LIMIT, limit_price=D("100.02"))
    await broker.submit(o)
    assert fills(reports, o.client_id) == [(D(300), D("100.02"))]
    (cancel,) = [r for r in reports if isinstance(r, BrokerCanceled)]
    assert cancel.reason == "IOC: 700 of 1000 unfilled"


async def test_with_partial_fills_off_an_order_fills_whole_at_the_touch_as_before() -> None:
    _, market, broker, reports = rig(SimConfig(partial_fills=False))
    market.set("AAPL", 100.00, 100.02)
    o = order(qty=D(1000))
    await broker.submit(o)
    assert fills(reports, o.client_id) == [(D(1000), D("100.02"))]


async def test_with_depth_off_orders_take_the_displayed_size_and_the_book_is_refused_in_one_line() -> None:
    _, market, broker, reports = rig(SimConfig(depth=False))
    market.set("AAPL", 100.00, 100.02)
    o = order(qty=D(1000))
    await broker.submit(o)
    assert fills(reports, o.client_id) == [(D(300), D("100.02"))]
    with pytest.raises(BrokerError, match=r"^AAPL: the paper market's book is off \(sim depth = false\)$"):
        await broker.subscribe_depth(["AAPL"])


def test_the_depth_setting_is_validated() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"depth": "sometimes"}, SimConfig)
    assert msgspec.convert({"depth": False}, SimConfig).depth is False
    assert SimConfig().depth is True


# ----------------------------------------------------------------------------- the book itself

SYMBOLS = ["AAPL", "BTC/USD", "EUR/USD", "ES-2025-09", "SPY"]


@hyp_settings(max_examples=40, deadline=None)
@given(st.floats(min_value=T0, max_value=T0 + 30 * 86_400.0), st.sampled_from(SYMBOLS))
def test_the_books_touch_is_the_quote_and_sizes_thin_away_from_it(t: float, symbol: str) -> None:
    market = SimMarket(seed=7)
    q = market.quote(symbol, t)
    _, _, broker, _ = rig(market=market, start=t)
    view = broker.depth_view(symbol)
    assert (view.bids[0].price, view.bids[0].size, view.asks[0].price, view.asks[0].size) == (
        q.bid, q.bid_size, q.ask, q.ask_size,
    )
    assert len(view.bids) == len(view.asks) == 20 and view.state == "ok"
    assert [lv.price for lv in view.bids] == sorted((lv.price for lv in view.bids), reverse=True)
    assert [lv.price for lv in view.asks] == sorted(lv.price for lv in view.asks)
    lot = float(parse_symbol(symbol).lot_size)
    deep = [lv.size for lv in view.bids[10:]]
    near = [lv.size for lv in view.bids[1:6]]
    assert sum(deep) / len(deep) < sum(near) / len(near)
    assert all(lv.size >= lot for lv in view.bids + view.asks)


def test_two_markets_with_the_same_seed_give_the_same_book_and_tape() -> None:
    t = T0 + 1234.25
    a = rig(market=SimMarket(seed=3), start=t)[2]
    b = rig(market=SimMarket(seed=3), start=t)[2]
    c = rig(market=SimMarket(seed=4), start=t)[2]
    assert a.depth_view("MSFT") == b.depth_view("MSFT") != c.depth_view("MSFT")
    tape = a.trades("MSFT", t, t + 30)
    assert tape == b.trades("MSFT", t, t + 30) != c.trades("MSFT", t, t + 30)
    assert len(tape) > 20 and {p.aggressor for p in tape} == {"buy", "sell"}
    assert a.trades("MSFT", t, t + 10) + a.trades("MSFT", t + 10, t + 30) == tape  # any split agrees
    q = SimMarket(seed=3).quote("MSFT", tape[0].ts)
    assert tape[0].price == (q.ask if tape[0].aggressor == "buy" else q.bid)


# ----------------------------------------------------------------------------- the DepthFeed stream


@hyp_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.floats(min_value=T0, max_value=T0 + 10 * 86_400.0),
    st.lists(st.floats(min_value=0.05, max_value=3.0), min_size=1, max_size=12),
    st.sampled_from(["AAPL", "BTC/USD"]),
)
async def test_the_depth_stream_rebuilds_the_paper_book_exactly_at_each_step(start, gaps, symbol) -> None:
    clock, _, broker, _ = rig(market=SimMarket(seed=1), start=start)
    other = SimBroker(clock, SimConfig(seed=1), SimMarket(seed=1))  # builds its book only when asked
    assert isinstance(broker, DepthFeed)
    messages: list[BookSnapshot | BookDelta] = []
    broker.attach_depth(messages.append, lambda p: None)
    await broker.subscribe_depth([symbol], levels=10)
    rebuilt = OrderBook(symbol)
    await other.subscribe([symbol])  # quotes only: no book is streamed
    broker.step()
    other.step()
    for gap in [*gaps, None]:
        for m in messages:
            assert rebuilt.apply(m)  # a snapshot first, then deltas with consecutive seq
        messages.clear()
        paper = broker.depth_view(symbol, 10)
        assert rebuilt.view(10).bids == paper.bids and rebuilt.view(10).asks == paper.asks
        assert other.depth_view(symbol, 10) == paper  # another process agrees to the bit
        if gap is not None:
            clock.advance(gap)
            broker.step()
            other.step()
    assert rebuilt.seq >= 1


async def test_nothing_streams_for_symbols_not_subscribed_and_unsubscribing_stops_it() -> None:
    clock, _, broker, _ = rig(market=SimMarket(seed=1))
    books: list[BookSnapshot | BookDelta] = []
    prints: list[TradePrint] = []
    broker.attach_depth(books.append, prints.append)
    await broker.subscribe(["AAPL"])
    for _ in range(10):
        clock.advance(0.5)
        broker.step()
    assert books == [] and prints == []
    await broker.subscribe_depth(["MSFT"])
    await broker.subscribe_trades(["MSFT"])
    for _ in range(20):
        clock.advance(0.5)
        broker.step()
    assert {m.symbol for m in books} == {"MSFT"} and type(books[0]) is BookSnapshot
    assert [m.seq for m in books] == list(range(1, len(books) + 1))
    assert prints and {p.symbol for p in prints} == {"MSFT"}
    assert prints == broker.trades("MSFT", T0 + 5.0, clock.time())
    await broker.unsubscribe_depth(["MSFT"])
    await broker.unsubscribe_trades(["MSFT"])
    books.clear()
    prints.clear()
    for _ in range(10):
        clock.advance(0.5)
        broker.step()
    assert books == [] and prints == []
