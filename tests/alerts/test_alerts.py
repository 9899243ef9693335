"""Alert rules: the parser, firing, re-arming, cooldown, built-in sources, journal and acknowledgement."""

from decimal import Decimal

import pytest

from tests.risk_helpers import build, hold, order
from workstation.alerts.engine import AlertNotice
from workstation.core.alert_rules import AlertRuleError, parse_rule
from workstation.core.model import ConnectionState, Side


@pytest.mark.parametrize(
    "text, kind, symbol, op, value, window, priority",
    [
        ("alert AAPL > 200", "price", "AAPL", ">", "200", None, "normal"),
        ("AAPL<150.5", "price", "AAPL", "<", "150.5", None, "normal"),
        ("aapl above 200 priority high", "price", "AAPL", ">", "200", None, "high"),
        ("alert AAPL move 3% 5m", "move", "AAPL", ">=", "3", 300.0, "normal"),
        ("alert pnl < -1000", "pnl", None, "<", "-1000", None, "normal"),
        ("pnl AAPL > 500 !critical", "pnl", "AAPL", ">", "500", None, "critical"),
        ("alert spread BTC/USD > 20", "spread", "BTC/USD", ">", "20", None, "normal"),
        ("EUR/USD <= 1.05 cooldown 10m", "price", "EUR/USD", "<=", "1.05", None, "normal"),
    ],
)
def test_parse_rule(text, kind, symbol, op, value, window, priority):
    r = parse_rule(text)
    assert (r.kind, r.symbol, r.op, r.value, r.window, r.priority) == (kind, symbol, op, Decimal(value), window, priority)
    assert parse_rule(r.text) == r  # the canonical text reads back the same


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty alert rule"),
        ("AAPL >> 200", "cannot read alert rule"),
        ("AAPL > abc", "price must be a number"),
        ("AAPL > -5", "positive price"),
        ("AAPL move 3 5m", "malformed move alert"),
        ("AAPL move 3% soon", "malformed duration"),
        ("spread BTC/USD < 20", "malformed spread alert"),
        ("AAPL > 200 priority urgent", "unknown priority"),
        ("pnl <", "malformed P&L alert"),
        ("A$PL > 5", "symbol"),
    ],
)
def test_parse_errors_are_readable(text, message):
    with pytest.raises(AlertRuleError, match=message):
        parse_rule(text)


@pytest.fixture
def env(tmp_path):
    s, broker, clock = build(tmp_path)
    notices = []
    s.bus.subscribe(AlertNotice, lambda n: notices.append(n.alert))
    return s, broker, clock, notices


def quote(broker, symbol, last, bid=None, ask=None):
    broker.set_quote(symbol, bid if bid is not None else last - 0.01, ask if ask is not None else last + 0.01, last)


async def test_price_rule_fires_once_rearms_and_respects_cooldown(env):
    s, broker, clock, notices = env
    rule = s.alerts.add_rule("AAPL > 200 cooldown 60s")
    quote(broker, "AAPL", 199.99)
    quote(broker, "AAPL", 200.00)  # at the level: not above
    assert notices == []
    quote(broker, "AAPL", 200.01)
    quote(broker, "AAPL", 201.00)  # still above: no second alert
    assert [a.title for a in notices] == [f"Alert {rule.id}: AAPL > 200 cooldown 1m"]
    assert notices[0].message == "AAPL at 200.01"
    quote(broker, "AAPL", 199.00)  # re-arms
    quote(broker, "AAPL", 202.00)  # flapping inside the cooldown: folded
    assert len(notices) == 1 and s.alerts.suppressed == 1
    clock.advance(61)
    quote(broker, "AAPL", 199.00)
    quote(broker, "AAPL", 203.00)
    assert len(notices) == 2


async def test_move_rule(env):
    s, broker, clock, notices = env
    s.alerts.add_rule("AAPL move 3% 5m")
    quote(broker, "AAPL", 100.0)
    clock.advance(60)
    quote(broker, "AAPL", 102.99)  # 2.99%
    assert notices == []
    clock.advance(60)
    quote(broker, "AAPL", 103.0)  # 3.00% within 5 minutes
    assert len(notices) == 1 and "moved +3.00% in 5m" in notices[0].message
    clock.advance(400)  # the old prices leave the window
    quote(broker, "AAPL", 103.5)
    assert len(notices) == 1


async def test_spread_rule(env):
    s, broker, _, notices = env
    s.alerts.add_rule("spread BTC/USD > 20 priority high")
    quote(broker, "BTC/USD", 30_000, bid=29_990, ask=30_010)  # 20: not wider
    assert notices == []
    quote(broker, "BTC/USD", 30_000, bid=29_989.99, ask=30_010)
    assert len(notices) == 1 and notices[0].priority == "high" and "spread 20.01" in notices[0].message


async def test_pnl_rules(env):
    s, broker, _, notices = env
    await hold(s, broker, "AAPL", 100, 100.0)
    s.alerts.add_rule("pnl < -1000")
    s.alerts.add_rule("pnl AAPL < -500")
    quote(broker, "AAPL", 95.0)  # -$500 position, -$500 day
    assert notices == [] or all("Alert" not in a.title for a in notices)
    quote(broker, "AAPL", 94.99)  # position -$501
    titles = [a.title for a in notices if a.source == "rule"]
    assert titles == ["Alert u2: pnl AAPL < -500"]
    quote(broker, "AAPL", 89.99)  # day -$1,001
    titles = [a.title for a in notices if a.source == "rule"]
    assert titles[-1] == "Alert u1: pnl < -1000"


async def test_rules_are_journaled_and_settings_rules_are_loaded(tmp_path):
    import msgspec

    from tests.risk_helpers import settings

    st = settings()
    st = msgspec.structs.replace(st, alerts=msgspec.structs.replace(st.alerts, rules=["MSFT < 300"]))
    s, _, clock = build(tmp_path, st)
    a = s.alerts.add_rule("AAPL > 200")
    b = s.alerts.add_rule("pnl < -1000")
    s.alerts.remove_rule(a.id)
    with pytest.raises(AlertRuleError, match="settings file"):
        s.alerts.remove_rule("s1")
    with pytest.raises(AlertRuleError, match="no alert rule"):
        s.alerts.remove_rule("u9")
    s.journal.close()
    s2, _, _ = build(tmp_path, st, clock=clock)
    assert sorted(s2.alerts.rules) == ["s1", b.id]
    assert s2.alerts.add_rule("AAPL > 1").id == "u3"  # ids are never reused


async def test_builtin_alerts_from_bus_events(env):
    s, broker, _, notices = env
    await hold(s, broker, "AAPL", 10, 100.0)
    s.set_limit("max_order_qty", "5")
    o = await s.oms.submit(order(qty=6, limit_price=100))
    s.bus.publish(ConnectionState(broker="paper", state="connected"))
    s.bus.publish(ConnectionState(broker="paper", state="disconnected", detail="socket closed"))
    s.bus.publish(ConnectionState(broker="paper", state="reconnecting"))
    s.bus.publish(ConnectionState(broker="paper", state="connected"))
    titles = [a.title for a in notices]
    assert titles.count("Order rejected") == 1  # the OMS's alert and the event fold into one
    rejected = next(a for a in notices if a.title == "Order rejected")
    assert rejected.message == f"order {o.id} buy 6 AAPL: order quantity 6 exceeds max_order_qty 5" and rejected.priority == "high"
    assert "Fill" in titles
    assert titles.count("Broker disconnected") == 1 and titles.count("Broker reconnected") == 1
    assert next(a for a in notices if a.title == "Broker disconnected").message == "paper disconnected: socket closed"


async def test_alerts_are_journaled_and_acknowledged(tmp_path):
    s, _, clock = build(tmp_path)
    a = s.alerts.raise_alert("Strategy error", "mom: ZeroDivisionError", priority="high", source="strategy")
    b = s.alerts.raise_alert("Stale data", "no quote for AAPL in 90s")
    assert s.alerts.raise_alert("Stale data", "no quote for AAPL in 90s") is None  # duplicate within the cooldown
    assert s.alerts.ack([a.id]) == [a.id]
    with pytest.raises(AlertRuleError, match="no alert with id"):
        s.alerts.ack([999_999])
    s.journal.close()
    s2, _, _ = build(tmp_path, clock=clock)
    recent = {x.id: x for x in s2.alerts.recent}
    assert recent[a.id].acked and not recent[b.id].acked
    assert [x.id for x in s2.alerts.unacked()] == [b.id]
    assert s2.alerts.ack() == [b.id] and s2.alerts.unacked() == []


async def test_a_flood_of_rejections_raises_one_alert(env):
    s, broker, clock, notices = env
    quote(broker, "AAPL", 100.0)
    s.set_limit("max_order_qty", "5")
    s.set_limit("max_orders_per_second", "1000")  # (refusals count toward the rate: keep it out of this one)
    for qty in range(6, 36):  # a runaway strategy, 30 refused orders
        await s.oms.submit(order(qty=qty, limit_price=100, strategy="runaway"))
    rejected = [a for a in notices if a.title == "Order rejected"]
    assert len(rejected) == 1 and s.alerts.suppressed >= 29
    await s.oms.submit(order(qty=1, limit_price=200, strategy="runaway"))  # another rule: its own alert
    assert len([a for a in notices if a.title == "Order rejected"]) == 2
    clock.advance(61)
    await s.oms.submit(order(qty=40, limit_price=100, strategy="runaway"))
    assert len([a for a in notices if a.title == "Order rejected"]) == 3
