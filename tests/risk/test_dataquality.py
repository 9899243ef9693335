"""The data-quality monitor: spikes filtered before anyone sees them, crossed/locked quotes, stale data, gaps."""

import pytest

from tests.risk_helpers import build, hold, order
from workstation.risk.dataquality import QualityChanged
from workstation.core.model import AlertRaised, Bar, OrderStatus, Quote, Side


@pytest.fixture
def env(tmp_path):
    s, broker, clock = build(tmp_path)
    seen: list[Quote] = []
    raised: list[AlertRaised] = []
    s.bus.subscribe(Quote, seen.append)
    s.bus.subscribe(AlertRaised, lambda a: raised.append(a) if a.source == "data" else None)
    return s, broker, clock, seen, raised


def feed(broker, clock, prices, symbol="AAPL"):
    for p in prices:
        clock.advance(1)
        broker.set_quote(symbol, p - 0.01, p + 0.01, p)


def warm(broker, clock, symbol="AAPL", n=30):
    # a gentle zig-zag around 100: returns of about 0.1%
    feed(broker, clock, [100.0 + (0.1 if i % 2 else -0.1) for i in range(n)], symbol)


async def test_a_spike_that_returns_is_filtered(env):
    s, broker, clock, seen, raised = env
    warm(broker, clock)
    before = len(seen)
    feed(broker, clock, [150.0, 100.05])  # a bad print, then back
    assert [q.last for q in seen[before:]] == [100.05]  # the spike never reached the bus
    assert s.quality.filtered("AAPL") == 1 and s.quality.filtered() == 1
    assert "spike" in s.quality.badges("AAPL")
    assert [a.title for a in raised] == ["Spike filtered"]
    assert s.monitor.status().filtered_quotes == 1
    assert s.quotes.get("AAPL").last == 100.05


async def test_a_real_jump_goes_through_one_quote_later(env):
    s, broker, clock, seen, _ = env
    warm(broker, clock)
    before = len(seen)
    feed(broker, clock, [120.0, 120.5])
    assert [q.last for q in seen[before:]] == [120.5]
    assert s.quality.filtered() == 0 and "spike" not in s.quality.badges("AAPL")


@pytest.mark.parametrize("jump, held", [(101.6, False), (101.8, True)])
async def test_spike_threshold_is_eight_standard_deviations(env, jump, held):
    s, broker, clock, seen, _ = env
    warm(broker, clock)  # ends at 100.1; returns of about +-0.2%: 8 sigma is about 1.6%
    before = len(seen)
    feed(broker, clock, [jump])
    assert (len(seen) == before) is held


@pytest.mark.parametrize("jump, held", [(100.99, False), (101.01, True)])
async def test_spike_threshold_is_at_least_one_percent(env, jump, held):
    s, broker, clock, seen, _ = env
    feed(broker, clock, [100.0] * 30)  # a flat price: no deviation at all
    before = len(seen)
    feed(broker, clock, [jump])
    assert (len(seen) == before) is held


async def test_a_filtered_spike_never_triggers_a_stop_or_the_breaker(env):
    s, broker, clock, seen, _ = env
    await hold(s, broker, "AAPL", 1000, 100.0)
    s.set_limit("max_daily_loss", "5000")
    warm(broker, clock)
    triggered = []
    s.bus.subscribe(Quote, lambda q: triggered.append(q) if q.symbol == "AAPL" and q.last <= 95 else None)
    stop = await s.oms.submit(order(side=Side.SELL, qty=1000, stop_price=95))
    assert stop.status is OrderStatus.ACCEPTED
    feed(broker, clock, [50.0, 100.0])  # a print at 50 would be a $50,000 "loss"
    assert triggered == [] and not s.breaker.tripped
    assert s.portfolio.last("AAPL") == 100
    assert s.quality.filtered("AAPL") == 1


async def test_crossed_and_locked_quotes_are_flagged(env):
    s, broker, clock, seen, raised = env
    changes = []
    s.bus.subscribe(QualityChanged, changes.append)
    broker.set_quote("AAPL", 100.02, 100.0, 100.01)
    assert s.quality.badges("AAPL") == ("crossed",) and seen[-1].bid == 100.02  # flagged, passed on
    broker.set_quote("AAPL", 100.0, 100.0, 100.0)
    assert s.quality.badges("AAPL") == ("locked",)
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    assert s.quality.badges("AAPL") == ()
    assert [a.title for a in raised] == ["Crossed quote", "Locked quote"]
    assert [c.badges for c in changes] == [("crossed",), (), ("locked",), ()]


@pytest.mark.parametrize("quiet, stale", [(59, False), (60, False), (61, True)])
async def test_stale_quotes(env, quiet, stale):
    s, broker, clock, _, raised = env
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    clock.advance(quiet)
    assert (s.quality.sweep() == ["AAPL"]) is stale
    assert ("stale" in s.quality.badges("AAPL")) is stale
    if stale:
        assert raised[-1].title == "Stale data" and raised[-1].message == "no quote for AAPL in 61s"
        assert s.quality.sweep() == []  # once per episode
        broker.set_quote("AAPL", 99.99, 100.01, 100.0)
        assert "stale" not in s.quality.badges("AAPL")


@pytest.mark.parametrize("next_ts, gap", [(120, False), (180, True)])
async def test_gaps_in_bars(env, next_ts, gap):
    s, _, clock, _, raised = env
    s.bus.publish(Bar(symbol="AAPL", ts=60, open=1, high=1, low=1, close=1))
    s.bus.publish(Bar(symbol="AAPL", ts=next_ts, open=1, high=1, low=1, close=1))
    assert ("gap" in s.quality.badges("AAPL")) is gap
    if gap:
        assert raised[-1].message.startswith("AAPL: 1 bar(s) of 60s missing")
        clock.advance(301)
        assert "gap" not in s.quality.badges("AAPL")  # the badge fades
