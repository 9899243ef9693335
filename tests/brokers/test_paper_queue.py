"""Queue position on the paper book: a resting limit waits behind the size displayed at its
level when it arrived, and fills only once the tape has traded that size at its price (or
trades through it); a limit that improves the touch is first in line."""

from __future__ import annotations

from decimal import Decimal as D

from brokers.base import BrokerFill
from brokers.paper.broker import SimConfig
from tests.brokers.test_paper_depth import T0, fills, order, rig
from workstation.core.model import OrderType, Side, TimeInForce


def run(broker, clock, seconds: float) -> None:
    for _ in range(int(seconds * 2)):
        clock.advance(0.5)
        broker.step()


def fill_times(reports, cid: str) -> list[float]:
    return [r.ts for r in reports if isinstance(r, BrokerFill) and r.client_id == cid]


async def test_a_limit_at_the_bid_fills_only_after_the_size_ahead_of_it_has_traded_on_the_tape() -> None:
    clock, market, broker, reports = rig()
    market.set("AAPL", 100.00, 100.02, bid_size=500)
    o = order(qty=D(100), type=OrderType.LIMIT, limit_price=D("100.00"), tif=TimeInForce.GTC)
    await broker.submit(o)
    assert fills(reports, o.client_id) == []  # not marketable: it rests behind the 500 shown
    run(broker, clock, 60)
    sells = [p for p in broker.trades("AAPL", T0, clock.time()) if p.aggressor == "sell" and p.price == 100.00]
    traded, first = 0.0, None
    for p in sells:
        traded += p.size
        if traded > 500:
            first = p
            break
    assert first is not None, "the tape should have traded through the queue within a minute"
    got = fill_times(reports, o.client_id)
    assert got and got[0] == first.ts  # not one print earlier
    assert fills(reports, o.client_id)[0] == (min(D(100), D(int(traded - 500))), D("100.00"))
    assert sum(p.size for p in sells if p.ts < first.ts) <= 500


async def test_a_limit_that_improves_the_touch_is_first_and_fills_on_the_next_sell_print() -> None:
    clock, market, broker, reports = rig()
    market.set("AAPL", 100.00, 100.02, bid_size=5000, ask_size=300)
    inside = order(qty=D(50), type=OrderType.LIMIT, limit_price=D("100.01"), tif=TimeInForce.GTC)
    at_bid = order(qty=D(50), type=OrderType.LIMIT, limit_price=D("100.00"), tif=TimeInForce.GTC)
    await broker.submit(inside)
    await broker.submit(at_bid)
    run(broker, clock, 10)
    sells = [p for p in broker.trades("AAPL", T0, clock.time()) if p.aggressor == "sell"]
    assert sells
    assert fill_times(reports, inside.client_id)[0] == sells[0].ts  # nothing ahead of it
    assert fills(reports, inside.client_id)[0] == (min(D(50), D(int(sells[0].size))), D("100.01"))
    behind = fill_times(reports, at_bid.client_id)
    assert not behind or behind[0] > sells[0].ts


async def test_a_sell_limit_at_the_offer_queues_behind_the_offer_and_buy_prints_fill_it() -> None:
    clock, market, broker, reports = rig()
    market.set("AAPL", 100.00, 100.02, bid_size=500, ask_size=300)
    o = order(qty=D(10), side=Side.SELL, type=OrderType.LIMIT, limit_price=D("100.02"), tif=TimeInForce.GTC)
    await broker.submit(o)
    run(broker, clock, 60)
    buys = [p for p in broker.trades("AAPL", T0, clock.time()) if p.aggressor == "buy"]
    traded, first = 0.0, None
    for p in buys:
        traded += p.size
        if traded > 300:
            first = p
            break
    assert first is not None
    assert fill_times(reports, o.client_id)[0] == first.ts


async def test_a_replaced_order_loses_its_place_in_the_queue() -> None:
    clock, market, broker, reports = rig()
    market.set("AAPL", 100.00, 100.02, bid_size=500)
    o = order(qty=D(5000), type=OrderType.LIMIT, limit_price=D("100.01"), tif=TimeInForce.GTC)
    await broker.submit(o)  # improves the touch: first in line
    market.set("AAPL", 100.01, 100.03, bid_size=800)  # the market joins it at 100.01
    clock.advance(0.5)
    broker.step()
    filled_before = sum(q for q, _ in fills(reports, o.client_id))
    await broker.replace(o, D(5000), D("100.01"), None)  # same price, back of the line behind 800
    run(broker, clock, 60)
    sells = [p for p in broker.trades("AAPL", T0 + 0.5, clock.time()) if p.aggressor == "sell"]
    traded, first = 0.0, None
    for p in sells:
        traded += p.size
        if traded > 800:
            first = p
            break
    assert first is not None
    after = [ts for ts in fill_times(reports, o.client_id) if ts > T0 + 0.5]
    assert after[0] == first.ts and filled_before < 5000


async def test_with_depth_off_a_resting_limit_waits_for_the_quote_as_before() -> None:
    clock, market, broker, reports = rig(SimConfig(depth=False))
    market.set("AAPL", 100.00, 100.02, bid_size=500)
    o = order(qty=D(100), type=OrderType.LIMIT, limit_price=D("100.01"), tif=TimeInForce.GTC)
    await broker.submit(o)
    run(broker, clock, 30)
    assert fills(reports, o.client_id) == []  # no tape fills: only a quote reaching 100.01 fills it
    market.set("AAPL", 99.99, 100.01)
    run(broker, clock, 0.5)
    assert fills(reports, o.client_id) == [(D(100), D("100.01"))]
