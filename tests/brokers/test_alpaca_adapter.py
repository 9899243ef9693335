"""The Alpaca adapter end to end: the real alpaca-py SDK against the loopback fake, through a Session."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from brokers.base import BrokerError
from tests.alpaca_support import fake, keys, settings_for, until  # noqa: F401 (fixtures)
from tests.fakes.alpaca_fake import KEY, SECRET, FakePosition
from workstation.core.model import (
    AlertRaised,
    ConnectionState,
    OrderFilled,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from workstation.trading.oms import OrderError
from workstation.trading.session import Session


@pytest.fixture
async def session(fake, keys, home):  # noqa: F811
    s = Session.build(settings_for(fake), "alpaca-paper")
    states: list[ConnectionState] = []
    s.bus.subscribe(ConnectionState, states.append)
    s.states = states  # type: ignore[attr-defined]
    await s.start(["AAPL"])  # the REST snapshot at subscribe prices market orders for the risk checks
    yield s
    await s.stop()


def buy(symbol: str, qty: str, **kw) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=Side.BUY, qty=Decimal(qty), **kw)


def fills_of(session: Session, order_id: str):
    return [f for f in session.journal.fills() if f.order_id == order_id]


async def test_connect(session, fake):
    assert session.connection is not None and session.connection.state == "connected"
    assert [s.state for s in session.states] == ["connecting", "connected"]
    assert fake.connections["trading"] == 1 and len(fake.trade_sockets) == 1
    assert ("GET", "/v2/account", {}) in fake.requests


async def test_account_and_positions(fake, keys, home):  # noqa: F811
    fake.cash = Decimal("50000.25")
    fake.positions["AAPL"] = FakePosition("AAPL", Decimal(10), Decimal("150.125"))
    fake.positions["BTC/USD"] = FakePosition("BTC/USD", Decimal("0.5"), Decimal("58000.5"))
    s = Session.build(settings_for(fake), "alpaca-paper")
    await s.start()
    try:
        account = await s.broker.account()
        assert account.cash == Decimal("50000.25")
        assert account.equity == Decimal("50000.25") + 10 * Decimal("190.00") + Decimal("0.5") * Decimal("60000.00")
        gross = 10 * Decimal("190.00") + Decimal("0.5") * Decimal("60000.00")
        assert account.from_broker is True
        assert account.initial_margin == gross / 2 and account.maintenance_margin == gross * Decimal("0.3")
        assert account.buying_power == (account.equity - gross / 2) * 2  # Alpaca's own figure, not equity x leverage
        assert (account.day_trade_count, account.pattern_day_trader) == (0, False)
        positions = {p.symbol: p for p in await s.broker.positions()}
        assert positions["AAPL"].qty == Decimal(10) and positions["AAPL"].avg_price == Decimal("150.125")
        assert positions["BTC/USD"].qty == Decimal("0.5")  # Alpaca says BTCUSD in positions
        # the session took the broker's account as the truth
        assert s.portfolio.qty("AAPL") == Decimal(10)
        assert s.portfolio.qty("BTC/USD") == Decimal("0.5")
        assert s.portfolio.account().cash == Decimal("50000.25")
    finally:
        await s.stop()


async def test_quotes_arrive_in_the_quote_cache(session, fake):
    await session.broker.subscribe(["AAPL", "BTC/USD"])
    await until(lambda: fake.subscribed() == {"AAPL", "BTC/USD"}, what="subscription")
    assert fake.push_quote("AAPL", 189.95, 190.05, 300, 200) == 1
    fake.push_quote("BTC/USD", 59990.5, 60010.5)
    await until(lambda: session.quotes.get("AAPL") and session.quotes.get("BTC/USD"), what="quotes")
    await until(lambda: session.quotes.get("AAPL").bid == 189.95, what="stream quote")
    q = session.quotes.get("AAPL")
    assert (q.bid, q.ask, q.bid_size, q.ask_size) == (189.95, 190.05, 300, 200)
    assert q.prev_close == 189.0  # from the REST snapshot taken at subscribe
    fake.push_trade("AAPL", 190.01, 50)
    await until(lambda: session.quotes.get("AAPL").last == 190.01, what="trade")
    assert session.quotes.get("AAPL").volume == 12345 + 50
    assert session.broker.snapshot("BTC/USD").ask == 60010.5


async def test_market_order_filled_with_its_fill_event(session, fake):
    events: list[OrderFilled] = []
    session.bus.subscribe(OrderFilled, events.append)
    order = await session.oms.submit(buy("AAPL", "5"))
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="fill")
    done = session.oms.orders[order.id]
    assert done.filled_qty == Decimal(5) and done.avg_fill_price == Decimal("190.00")
    at_fake = fake.orders_for(order.client_id)
    assert len(at_fake) == 1 and done.broker_id == at_fake[0]["id"]
    assert [e.fill.qty for e in events] == [Decimal(5)]
    assert events[0].fill.exec_id == f"{at_fake[0]['id']}@5"
    assert [(f.qty, f.price) for f in fills_of(session, order.id)] == [(Decimal(5), Decimal("190.00"))]
    assert session.portfolio.qty("AAPL") == Decimal(5)
    # a reconnect's resync finds the same execution in Alpaca's FILL activities: not booked again
    assert [f.exec_id for f in await session.broker.fills_since(0)] == [events[0].fill.exec_id]
    await session.resync()
    assert len(fills_of(session, order.id)) == 1 and session.oms.orders[order.id].filled_qty == Decimal(5)


async def test_limit_order_rests_is_replaced_then_canceled(session, fake):
    order = await session.oms.submit(buy("AAPL", "2", type=OrderType.LIMIT, limit_price=Decimal("180.5")))
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED, what="accept")
    resting = fake.orders_for(order.client_id)[0]
    assert resting["status"] == "new" and resting["limit_price"] == Decimal("180.5")

    await session.oms.replace_order(order.id, qty="3", limit_price="181.25")
    replaced = session.oms.orders[order.id]
    assert (replaced.qty, replaced.limit_price, replaced.status) == (Decimal(3), Decimal("181.25"), OrderStatus.ACCEPTED)
    assert resting["status"] == "replaced"
    new = fake.orders[resting["replaced_by"]]
    assert new["client_order_id"].startswith(order.client_id + ".r") and new["qty"] == Decimal(3)
    assert new["limit_price"] == Decimal("181.25")

    await session.oms.cancel(order.id)
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.CANCELED, what="cancel")
    assert new["status"] == "canceled"
    assert [m for m, p, _ in fake.requests if p.startswith("/v2/orders/")].count("PATCH") == 1


async def test_partial_fill(session, fake):
    order = await session.oms.submit(buy("AAPL", "10", type=OrderType.LIMIT, limit_price=Decimal("190")))
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED)
    fake.fill(order.client_id, qty="4", price="189.99")
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.PARTIALLY_FILLED, what="partial")
    assert session.oms.orders[order.id].filled_qty == Decimal(4)
    assert session.portfolio.qty("AAPL") == Decimal(4)
    fake.fill(order.client_id, price="190")
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="rest")
    fills = fills_of(session, order.id)
    assert [(f.qty, f.price) for f in fills] == [(Decimal(4), Decimal("189.99")), (Decimal(6), Decimal("190"))]
    assert len({f.exec_id for f in fills}) == 2
    done = session.oms.orders[order.id]
    assert done.avg_fill_price == (4 * Decimal("189.99") + 6 * Decimal(190)) / 10
    assert session.portfolio.qty("AAPL") == Decimal(10)


async def test_rejection_shows_the_venues_reason(session, fake):
    alerts: list[AlertRaised] = []
    session.bus.subscribe(AlertRaised, alerts.append)
    fake.cash = Decimal(500)  # the venue's buying power shrinks after our resync: only Alpaca knows
    order = await session.oms.submit(buy("AAPL", "10"))
    done = session.oms.orders[order.id]
    assert done.status is OrderStatus.REJECTED
    assert done.reason == "Alpaca: insufficient buying power"
    assert any("insufficient buying power" in a.message for a in alerts)
    assert fake.orders_for(order.client_id) == []


async def test_fill_while_the_stream_is_down_is_journaled_once(session, fake):
    alerts: list[AlertRaised] = []
    session.bus.subscribe(AlertRaised, alerts.append)
    order = await session.oms.submit(buy("AAPL", "5", type=OrderType.LIMIT, limit_price=Decimal("189.5")))
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED)
    fake.reject_streams = True
    fake.drop_streams()
    await until(lambda: session.connection.state == "reconnecting", what="reconnecting")
    fake.fill(order.client_id)  # nobody is listening: the event is lost
    await asyncio.sleep(0.2)
    assert session.oms.orders[order.id].status is OrderStatus.ACCEPTED
    fake.reject_streams = False
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="resync", timeout=8)
    await until(lambda: fake.subscribed() == {"AAPL"}, what="market data resubscribed")
    assert session.connection.state == "connected"
    assert [s.state for s in session.states][-2:] == ["reconnecting", "connected"]
    assert [(f.qty, f.price) for f in fills_of(session, order.id)] == [(Decimal(5), Decimal("189.5"))]
    assert session.portfolio.qty("AAPL") == Decimal(5)
    await until(lambda: any("happened while disconnected" in a.message for a in alerts), what="resync alert")
    # a second resync (another reconnect) finds the fill again and books nothing
    await session.resync()
    assert len(fills_of(session, order.id)) == 1 and session.portfolio.qty("AAPL") == Decimal(5)


async def test_lost_submit_answer_is_resolved_without_a_duplicate(session, fake):
    fake.swallow_next_submit()
    order = await session.oms.submit(buy("AAPL", "1", type=OrderType.LIMIT, limit_price=Decimal("185")))
    done = session.oms.orders[order.id]
    assert done.status is OrderStatus.ACCEPTED
    at_fake = fake.orders_for(order.client_id)
    assert len(at_fake) == 1 and done.broker_id == at_fake[0]["id"]
    assert [m for m, p, _ in fake.requests if p == "/v2/orders"].count("POST") == 1
    assert any(p == "/v2/orders:by_client_order_id" for _, p, _ in fake.requests)


async def test_submit_without_an_answer_times_out_and_is_looked_up(fake, keys, home):  # noqa: F811
    s = Session.build(settings_for(fake, request_timeout=0.5), "alpaca-paper")
    await s.start(["AAPL"])
    try:
        fake.swallow_next_submit(hang=True)
        order = await s.oms.submit(buy("AAPL", "2", type=OrderType.LIMIT, limit_price=Decimal("180")))
        done = s.oms.orders[order.id]
        assert done.status is OrderStatus.ACCEPTED and len(fake.orders_for(order.client_id)) == 1
        assert [m for m, p, _ in fake.requests if p == "/v2/orders"].count("POST") == 1
    finally:
        await s.stop()


async def test_expired_order(session, fake):
    order = await session.oms.submit(buy("AAPL", "1", type=OrderType.LIMIT, limit_price=Decimal("175")))
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED)
    fake.expire(order.client_id)
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.EXPIRED, what="expired")


async def test_silent_data_stream_is_restarted(fake, keys, home):  # noqa: F811
    s = Session.build(settings_for(fake, stale_after=0.3), "alpaca-paper")
    await s.start(["AAPL"])
    try:
        fake.mute_data = True
        await until(lambda: fake.connections["data"] >= 2, what="restart", timeout=5)
        fake.mute_data = False
        await until(lambda: fake.subscribed() == {"AAPL"}, what="resubscribe")
        fake.push_quote("AAPL", 101.0, 101.5)
        await until(lambda: s.quotes.get("AAPL") is not None and s.quotes.get("AAPL").bid == 101.0, what="quote")
        assert s.connection.state == "connected"
    finally:
        await s.stop()


async def test_dead_trading_socket_is_detected_by_ping_and_reconnected(fake, keys, home):  # noqa: F811
    s = Session.build(settings_for(fake, ping_interval=0.2, ping_timeout=0.5), "alpaca-paper")
    states: list[str] = []
    s.bus.subscribe(ConnectionState, lambda c: states.append(c.state))
    await s.start()
    try:
        fake.mute_trading = True
        await until(lambda: "reconnecting" in states, what="dead socket detected")
        fake.mute_trading = False
        await until(lambda: states[-1] == "connected" and fake.connections["trading"] >= 2, what="reconnected")
        order = await s.oms.submit(buy("AAPL", "1", type=OrderType.LIMIT, limit_price=Decimal("175")))
        fake.fill(order.client_id)
        await until(lambda: s.oms.orders[order.id].status is OrderStatus.FILLED, what=f"fill over the new socket ({states})")
    finally:
        await s.stop()


async def test_fill_while_the_workstation_was_closed_is_booked_once_on_restart(fake, keys, home):  # noqa: F811
    first = Session.build(settings_for(fake), "alpaca-paper")
    await first.start()
    order = await first.oms.submit(buy("AAPL", "4", type=OrderType.LIMIT, limit_price=Decimal("188")))
    await until(lambda: first.oms.orders[order.id].status is OrderStatus.ACCEPTED)
    await first.stop()
    fake.fill(order.client_id, qty="1", price="187.5")
    fake.fill(order.client_id, price="188")
    again = Session.build(settings_for(fake), "alpaca-paper")
    alerts: list[AlertRaised] = []
    again.bus.subscribe(AlertRaised, alerts.append)
    await again.start()
    try:
        done = again.oms.orders[order.id]
        assert (done.status, done.filled_qty) == (OrderStatus.FILLED, Decimal(4))
        assert [(f.qty, f.price) for f in fills_of(again, order.id)] == [(Decimal(1), Decimal("187.5")), (Decimal(3), Decimal("188"))]
        assert again.portfolio.qty("AAPL") == Decimal(4)
        assert sum("happened while disconnected" in a.message for a in alerts) == 1
        await again.resync()  # and once more: nothing new
        assert len(fills_of(again, order.id)) == 2 and again.portfolio.qty("AAPL") == Decimal(4)
    finally:
        await again.stop()


async def test_instrument_metadata_and_unknown_symbol(session):
    aapl = await session.broker.instrument("AAPL")
    assert (aapl.tick_size, aapl.lot_size) == (Decimal("0.01"), Decimal("0.000000001"))  # fractionable
    gme = await session.broker.instrument("GME")
    assert (gme.tick_size, gme.lot_size) == (Decimal("0.01"), Decimal(1))
    btc = await session.broker.instrument("BTC/USD")
    assert (btc.tick_size, btc.lot_size, btc.base) == (Decimal("0.01"), Decimal("0.0001"), "BTC")
    with pytest.raises(BrokerError, match="Alpaca does not know the symbol 'ZZZZ'"):
        await session.broker.instrument("ZZZZ")
    with pytest.raises(OrderError, match="Alpaca does not know the symbol 'ZZZZ'"):
        await session.oms.submit(buy("ZZZZ", "1"))
    with pytest.raises(OrderError, match="multiple of the 0.0001 lot"):
        await session.oms.submit(buy("BTC/USD", "0.00005", tif=TimeInForce.GTC))


async def test_crypto_order_and_exact_decimals(session, fake):
    order = await session.oms.submit(buy("BTC/USD", "0.0123", type=OrderType.LIMIT, limit_price=Decimal("60000.01"), tif=TimeInForce.GTC))
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED)
    sent = [b for m, p, b in fake.requests if m == "POST" and p == "/v2/orders"][-1]
    assert (sent["symbol"], sent["time_in_force"], sent["client_order_id"]) == ("BTC/USD", "gtc", order.client_id)
    fake.fill(order.client_id)
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED)
    assert session.portfolio.qty("BTC/USD") == Decimal("0.0123")
    assert fills_of(session, order.id)[0].price == Decimal("60000.01")
    fok = await session.oms.submit(buy("BTC/USD", "0.01", type=OrderType.LIMIT, limit_price=Decimal("59000"), tif=TimeInForce.FOK))
    assert session.oms.orders[fok.id].status is OrderStatus.REJECTED
    assert "gtc or ioc" in session.oms.orders[fok.id].reason


async def test_trailing_stop_and_stop_limit_go_out_natively(session, fake):
    await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.SELL, qty=Decimal(1), type=OrderType.TRAILING_STOP, trail_percent=Decimal("2.5")))
    await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.SELL, qty=Decimal(1), type=OrderType.STOP_LIMIT, stop_price=Decimal("180"), limit_price=Decimal("179.5")))
    posts = [b for m, p, b in fake.requests if m == "POST" and p == "/v2/orders"]
    assert (posts[0]["type"], posts[0]["trail_percent"]) == ("trailing_stop", 2.5)
    assert (posts[1]["type"], posts[1]["stop_price"], posts[1]["limit_price"]) == ("stop_limit", 180, 179.5)


async def test_rate_limit_backs_off_and_retries(session, fake):
    fake.rate_limit_next(2)
    before = sum(1 for _, p, _ in fake.requests if p == "/v2/account")
    account = await session.broker.account()
    assert account.cash == Decimal(100000)
    assert sum(1 for _, p, _ in fake.requests if p == "/v2/account") - before == 3


async def test_history_bars(session):
    bars = await session.broker.history("AAPL", 60, 1_700_000_000, 1_700_000_600)
    assert len(bars) == 5 and bars[0].ts == 1_700_000_000 and bars[0].open == 190.0 and bars[0].seconds == 60


async def test_keys_never_reach_the_logs(fake, keys, home, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    s = Session.build(settings_for(fake), "alpaca-paper")
    await s.start(["AAPL"])
    try:
        await s.oms.submit(buy("AAPL", "1"))
        fake.drop_streams()
        await until(lambda: s.connection.state == "reconnecting")
        await until(lambda: s.connection.state == "connected")
    finally:
        await s.stop()
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records and KEY not in text and SECRET not in text


async def test_bracket_exits_go_out_as_one_native_oco(session, fake):
    entry = await session.oms.submit(buy("AAPL", "10", type=OrderType.LIMIT, limit_price=Decimal("190"), take_profit=Decimal("200"), stop_loss=Decimal("180")))
    await until(lambda: session.oms.orders[entry.id].status is OrderStatus.ACCEPTED)
    fake.fill(entry.client_id)
    children = [o for o in session.oms.orders.values() if o.parent_id == entry.id]
    await until(lambda: all(session.oms.orders[c.id].status is OrderStatus.ACCEPTED for c in children), what="exits accepted")
    posts = [b for m, p, b in fake.requests if m == "POST" and p == "/v2/orders"]
    assert len(posts) == 2 and posts[1]["order_class"] == "oco"  # entry, then ONE order for both exits
    assert posts[1]["take_profit"] == {"limit_price": 200.0} and posts[1]["stop_loss"] == {"stop_price": 180.0}
    tp = next(session.oms.orders[c.id] for c in children if c.role == "take_profit")
    sl = next(session.oms.orders[c.id] for c in children if c.role == "stop_loss")
    parent = fake.orders[tp.broker_id]
    assert parent["legs"] == [sl.broker_id] and fake.orders[sl.broker_id]["stop_price"] == Decimal(180)
    fake.fill(sl.broker_id, price="179.95")  # the stop is hit: Alpaca cancels the take-profit itself
    await until(lambda: session.oms.orders[sl.id].status is OrderStatus.FILLED, what="stop filled")
    await until(lambda: session.oms.orders[tp.id].status is OrderStatus.CANCELED, what="take-profit canceled")
    assert session.portfolio.qty("AAPL") == 0
    assert parent["status"] == "canceled"


async def test_separate_exits_would_be_refused_by_alpaca(session, fake):
    """Why the exits go out as one OCO: Alpaca holds shares for the first sell order."""
    first = await session.oms.submit(buy("AAPL", "5"))
    await until(lambda: session.oms.orders[first.id].status is OrderStatus.FILLED)
    await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.SELL, qty=Decimal(5), type=OrderType.LIMIT, limit_price=Decimal("200")))
    second = await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.SELL, qty=Decimal(5), type=OrderType.STOP, stop_price=Decimal("180")))
    assert session.oms.orders[second.id].reason == "Alpaca: insufficient qty available for order (requested: 5, available: 0)"


async def test_oco_stop_fill_while_away_maps_to_our_order_after_restart(fake, keys, home):  # noqa: F811
    from brokers.alpaca import AlpacaBroker
    from workstation.core.clock import LiveClock

    s = Session.build(settings_for(fake), "alpaca-paper")
    await s.start(["AAPL"])
    entry = await s.oms.submit(buy("AAPL", "3", type=OrderType.LIMIT, limit_price=Decimal("190"), take_profit=Decimal("200"), stop_loss=Decimal("180")))
    await until(lambda: s.oms.orders[entry.id].status is OrderStatus.ACCEPTED)
    fake.fill(entry.client_id)
    sl = next(o for o in s.oms.orders.values() if o.role == "stop_loss")
    await until(lambda: s.oms.orders[sl.id].status is OrderStatus.ACCEPTED)
    await s.stop()
    fake.fill(s.oms.orders[sl.id].broker_id)  # while the workstation is closed
    fresh = AlpacaBroker(settings_for(fake).profile("alpaca-paper"), LiveClock())
    await fresh.connect()
    try:
        fills = await fresh.fills_since(0)
        assert [(f.client_id, f.qty) for f in fills] == [(entry.client_id, Decimal(3)), (sl.client_id, Decimal(3))]
    finally:
        await fresh.close()


async def test_account_carries_alpacas_day_trade_figures(fake, keys, home):  # noqa: F811
    fake.daytrade_count, fake.pattern_day_trader = 3, True
    s = Session.build(settings_for(fake), "alpaca-paper")
    await s.start()
    try:
        account = await s.broker.account()
        assert (account.day_trade_count, account.pattern_day_trader, account.from_broker) == (3, True, True)
        assert account.initial_margin == Decimal(0) and account.buying_power == Decimal(200000)
    finally:
        await s.stop()


async def test_a_crypto_order_with_the_default_day_time_in_force_is_sent_as_gtc(session, fake):
    order = await session.oms.submit(buy("BTC/USD", "0.01", type=OrderType.LIMIT, limit_price=Decimal("59000")))  # tif: day
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED, what="accepted")
    assert [o["time_in_force"] for o in fake.orders_for(order.client_id)] == ["gtc"]
    fake.fill(order.client_id)
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="crypto fill")


async def test_an_average_entry_price_is_rounded_to_eight_places(fake, keys, home):  # noqa: F811
    fake.positions["AAPL"] = FakePosition("AAPL", Decimal(3), (Decimal(580) + 2 * Decimal(590)) / 3)  # 28 digits on the wire
    s = Session.build(settings_for(fake), "alpaca-paper")
    await s.start()
    try:
        positions = {p.symbol: p for p in await s.broker.positions()}
        assert positions["AAPL"].avg_price == Decimal("586.66666667")
    finally:
        await s.stop()
