"""Futures are bounded by contracts and margin, not by the equity notional limits: one ES
fits a $100,000 account, eleven in one order do not, nor a position whose margin exceeds the
buying power; a margin call trips the breaker; equity orders keep their notional limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.risk_helpers import alerts, build, hold, order
from workstation.core.model import OrderStatus, Side

ES = "ES-2026-12"  # $15,000 initial, $13,500 maintenance a contract; 50 x 6,000 = $300,000 of notional


def quote(broker, price: float, symbol: str = ES) -> None:
    broker.set_quote(symbol, price - 0.25, price + 0.25, price)


@pytest.fixture
def paper(tmp_path):
    """The paper defaults (max_order_notional $250,000, max_margin_pct 80, 10 contracts an
    order), the daily loss limit left out so that a price move is judged by margin alone."""
    s, broker, clock = build(tmp_path)
    quote(broker, 6000.0)
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    return s, broker


async def test_one_es_is_accepted_though_its_notional_exceeds_the_equity_limits(paper):
    s, broker = paper
    review = await s.oms.review(order(ES, qty=1))
    assert review.notional > s.limits.limits.max_order_notional  # $300,000 > $250,000 ...
    assert review.ok, review.reason  # ... yet futures are bounded by contracts and margin
    o = await s.oms.submit(order(ES, qty=1))
    assert o.reason is None
    if s.oms.orders[o.id].status is not OrderStatus.FILLED:
        broker.fill(o, 1, 6000.0)
    assert s.portfolio.qty(ES) == 1
    assert s.portfolio.buying_power() == Decimal(200_000 - 15_000)


async def test_eleven_contracts_in_one_order_are_refused_with_one_line(paper):
    s, _ = paper
    o = await s.oms.submit(order(ES, qty=11))
    assert o.status is OrderStatus.REJECTED
    assert o.reason == "order of 11 contracts exceeds max_future_contracts_per_order 10"
    assert "\n" not in o.reason and s.portfolio.qty(ES) == 0


async def test_a_position_whose_margin_exceeds_the_buying_power_is_refused(paper):
    s, broker = paper
    await hold(s, broker, "AAPL", 1_900, 100.0)  # $190,000 of the $200,000 used
    o = await s.oms.submit(order(ES, qty=1))
    assert o.status is OrderStatus.REJECTED
    assert o.reason == "insufficient buying power: order needs $15,000.00 of initial margin, $10,000.00 available"


async def test_margin_beyond_max_margin_pct_of_equity_is_refused(paper):
    s, _ = paper
    assert (await s.oms.review(order(ES, qty=5))).ok  # $75,000: 75% of equity
    o = await s.oms.submit(order(ES, qty=6))
    assert o.status is OrderStatus.REJECTED
    assert o.reason == (
        "futures margin would be $90,000.00, 90.00% of equity $100,000.00, exceeding max_margin_pct 80%"
    )


async def test_a_working_futures_order_counts_toward_the_margin(paper):
    s, broker = paper
    resting = await s.oms.submit(order(ES, qty=4, limit_price="5900.00"))  # $60,000 held while it works
    assert s.oms.orders[resting.id].status.is_working
    quote(broker, 6050.0, "ES-2027-03")
    o = await s.oms.submit(order("ES-2027-03", qty=2))
    assert o.status is OrderStatus.REJECTED
    assert o.reason.startswith("futures margin would be $90,000.00, 90.00% of equity")


async def test_contracts_per_position(tmp_path):
    s, broker, _ = build(tmp_path, max_future_contracts_position=3)
    quote(broker, 6000.0)
    await hold(s, broker, ES, 3, 6000.0)
    o = await s.oms.submit(order(ES, qty=1))
    assert o.reason == "position in ES-2026-12 would reach 4 contracts, exceeding max_future_contracts_position 3"
    closing = await s.oms.submit(order(ES, Side.SELL, qty=3))  # reducing always passes
    assert closing.status is not OrderStatus.REJECTED, closing.reason


async def test_equity_orders_keep_their_notional_limits(paper):
    s, _ = paper
    o = await s.oms.submit(order("AAPL", qty=2_600, limit_price="100.00"))  # $260,000: as before the futures rules
    assert o.reason == "order notional $260,000.00 exceeds max_order_notional $250,000.00"


async def test_review_shows_the_margin_a_futures_order_needs(paper):
    s, _ = paper
    review = await s.oms.review(order(ES, qty=2))
    assert review.margin == Decimal(30_000)
    assert review.buying_power_after == Decimal(200_000 - 30_000)
    assert (await s.oms.review(order("AAPL", qty=10))).margin is None


async def test_a_margin_call_trips_the_breaker_when_a_move_takes_equity_under_maintenance(paper):
    s, broker = paper
    got = alerts(s)
    await hold(s, broker, ES, 5, 6000.0)  # $67,500 maintenance; each point is $250
    quote(broker, 5871.0)  # equity $67,750: not yet a call, but near
    assert not s.breaker.tripped
    assert [a.title for a in got if a.key == "near-margin_call"] == ["Margin warning"]
    quote(broker, 5869.0)  # equity $67,250 < $67,500
    assert s.breaker.tripped
    assert s.breaker.info.reason == (
        "margin call: equity $67,250.00 is below the maintenance margin $67,500.00 of the futures held"
    )
    calls = [a for a in got if a.title == "Margin call"]
    assert len(calls) == 1 and calls[0].priority == "critical"
    quote(broker, 5868.0)
    assert len([a for a in got if a.title == "Margin call"]) == 1  # raised once per call
    refused = await s.oms.submit(order(ES, qty=1))
    assert refused.status is OrderStatus.REJECTED and "circuit breaker tripped (margin call" in refused.reason
    with pytest.raises(Exception, match="reduce the futures or add cash first"):
        s.reset_breaker(confirmed=True)
    cut = await s.oms.submit(order(ES, Side.SELL, qty=2))  # reducing goes through the tripped breaker
    assert cut.status is not OrderStatus.REJECTED, cut.reason


async def test_the_risk_rows_show_margin_used_against_its_limit(paper):
    s, broker = paper
    assert "margin used" not in [r.name for r in s.monitor.status().rows]  # no futures: no margin lines
    await hold(s, broker, ES, 2, 6000.0)
    rows = {r.name: r for r in s.monitor.status().rows}
    used = rows["margin used"]
    assert (used.used, used.limit, used.unit, used.state) == (Decimal(30), Decimal(80), "%", "ok")
    maint = rows["maintenance margin"]
    assert (maint.used, maint.limit, maint.state) == (Decimal(27_000), Decimal(100_000), "ok")
    assert rows["buying power used"].used == Decimal(30_000)


async def test_a_restart_rebuilds_the_same_margin_from_the_journal(tmp_path):
    s, broker, clock = build(tmp_path)
    quote(broker, 6000.0)
    await hold(s, broker, ES, 3, 6000.0)
    before = s.portfolio.account()
    await s.stop()
    s2, broker2, _ = build(tmp_path, clock=clock)
    after = s2.portfolio.account()
    assert (after.initial_margin, after.maintenance_margin) == (before.initial_margin, before.maintenance_margin)
    assert after.initial_margin == Decimal(45_000)


async def test_the_default_paper_account_buys_one_es_of_the_next_quarterly(tmp_path):
    """Nothing configured: the paper market, $100,000, the shipped limits and margin table."""
    import asyncio
    from datetime import date, datetime, timezone

    from brokers.paper.universe import load_universe
    from workstation.core.clock import SimClock
    from workstation.core.config import Settings
    from workstation.trading.session import Session

    when = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)
    es = load_universe().contracts("ES", date(2026, 11, 2))[0]
    assert es == "ES-2026-12"
    s = Session.build(Settings(), "paper", data_root=tmp_path, clock=SimClock(when.timestamp()))
    await s.start(feed=False)
    try:
        o = await s.oms.submit(order(es, qty=1))
        assert o.reason is None
        for _ in range(100):
            if s.oms.orders[o.id].status is OrderStatus.FILLED:
                break
            await asyncio.sleep(0.01)
        assert s.oms.orders[o.id].status is OrderStatus.FILLED
        acct = s.portfolio.account()
        assert acct.initial_margin == Decimal(15_000) and acct.maintenance_margin == Decimal(13_500)
        assert acct.buying_power == acct.equity * 2 - Decimal(15_000)
        refused = await s.oms.submit(order(es, qty=11))
        assert refused.reason == "order of 11 contracts exceeds max_future_contracts_per_order 10"
    finally:
        await s.stop()
