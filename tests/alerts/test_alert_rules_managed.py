"""Alert rules a user manages: enable/disable without deleting, edit keeping the id and the
statistics, statistics rebuilt from the journal after a restart, and indicator rules judged
on the bars the engine builds from its quotes (an RSI level, a crossover)."""

import numpy as np
import pytest

from tests.risk_helpers import build
from workstation.alerts.engine import AlertNotice
from workstation.core.alert_rules import AlertRuleError
from workstation.core.indicators import rsi


def session(tmp_path, clock=None):
    s, broker, clock = build(tmp_path, clock=clock)
    notices = []
    s.bus.subscribe(AlertNotice, lambda n: notices.append(n.alert))
    return s, broker, clock, notices


def quote(broker, symbol, last):
    broker.set_quote(symbol, last - 0.01, last + 0.01, last)


def status(s, rule_id):
    return next(r for r in s.alerts.statuses() if r.id == rule_id)


def feed_bars(broker, clock, closes, on_bar=None):
    """One quote per minute at each close: each quote closes the previous minute's bar."""
    for i, c in enumerate(closes):
        quote(broker, "AAPL", c)
        if on_bar is not None:
            on_bar(i)
        clock.advance(60)


async def test_a_disabled_rule_does_not_fire_and_keeps_its_id_until_enabled(tmp_path):
    s, broker, clock, notices = session(tmp_path)
    s.alerts.add_rule("AAPL > 200")
    s.alerts.set_enabled("u1", False)
    quote(broker, "AAPL", 201.0)
    assert notices == [] and status(s, "u1").enabled is False
    s.alerts.set_enabled("u1", True)
    quote(broker, "AAPL", 202.0)
    assert [a.title for a in notices] == ["Alert u1: AAPL > 200"]
    with pytest.raises(AlertRuleError, match="already enabled"):
        s.alerts.set_enabled("u1", True)


async def test_statistics_and_state_survive_a_restart_and_an_edit_keeps_them(tmp_path):
    s, broker, clock, notices = session(tmp_path)
    s.alerts.add_rule("AAPL > 200 cooldown 10m")
    quote(broker, "AAPL", 201.0)  # fires
    quote(broker, "AAPL", 199.0)  # re-armed
    clock.advance(30)
    quote(broker, "AAPL", 201.0)  # true again inside the cooldown: suppressed, counted once
    quote(broker, "AAPL", 202.0)  # the same episode: not counted again
    fired_at = notices[0].ts
    st = status(s, "u1")
    assert (st.fired, st.last_fired, st.suppressed) == (1, fired_at, 1)
    s.alerts.set_enabled("u1", False)
    s.journal.close()
    s, broker, clock, notices = session(tmp_path, clock)
    st = status(s, "u1")
    assert (st.fired, st.last_fired, st.suppressed, st.enabled) == (1, fired_at, 1, False)
    s.alerts.edit_rule("u1", "AAPL > 300")
    s.alerts.set_enabled("u1", True)
    clock.advance(3600)
    quote(broker, "AAPL", 301.0)
    assert [a.title for a in notices] == ["Alert u1: AAPL > 300"]
    s.journal.close()
    s, broker, clock, notices = session(tmp_path, clock)
    st = status(s, "u1")
    assert (st.id, st.text, st.fired, st.suppressed, st.enabled) == ("u1", "AAPL > 300", 2, 1, True)


async def test_an_rsi_rule_fires_when_rsi_crosses_30_and_not_before(tmp_path):
    s, broker, clock, notices = session(tmp_path)
    s.alerts.add_rule("AAPL rsi14 < 30")
    closes = [100.0 + i for i in range(20)] + [119.0 - 1.5 * i for i in range(1, 20)]
    values = rsi(np.array(closes), 14)
    first_below = next(i for i, v in enumerate(values) if v == v and v < 30)
    seen = []
    # bar i closes with the quote of minute i + 1
    feed_bars(broker, clock, closes + [closes[-1]], on_bar=lambda i: seen.append(len(notices)))
    assert seen.index(1) == first_below + 1  # the bar that took RSI below 30, not one before
    assert len(notices) == 1 and notices[0].message.startswith("AAPL rsi14 2")


async def test_a_cross_rule_fires_once_per_cross_and_a_direction_only_its_way(tmp_path):
    s, broker, clock, notices = session(tmp_path)
    s.alerts.add_rule("AAPL cross sma5 cooldown 1s")
    s.alerts.add_rule("AAPL cross above sma5 cooldown 1s")
    closes = [100.0, 99.0, 98.0, 97.0, 96.0, 95.0] + [110.0, 111.0, 112.0] + [90.0, 89.0, 88.0] + [120.0, 121.0, 122.0, 122.0]
    feed_bars(broker, clock, closes)
    either = [a.message for a in notices if a.key == "rule-u1"]
    above = [a.message for a in notices if a.key == "rule-u2"]
    assert [m.split(" crossed ")[1].split()[0] for m in either] == ["above", "below", "above"]
    assert len(above) == 2 and all("crossed above sma5" in m for m in above)
    assert status(s, "u1").fired == 3


def test_indicator_grammar_errors_are_one_line():
    from workstation.core.alert_rules import parse_rule

    for text, message in [
        ("AAPL rsi14 < 130", "an RSI level is from 0 to 100"),
        ("AAPL cross sma", "unknown indicator 'sma'"),
        ("AAPL cross", "malformed cross alert"),
        ("AAPL > 200 on 5m", "is for indicator rules"),
    ]:
        with pytest.raises(AlertRuleError, match=message) as exc:
            parse_rule(text)
        assert "\n" not in str(exc.value)
    rule = parse_rule("AAPL sma20 cross below sma50 on 5m")
    assert (rule.kind, rule.series, rule.other, rule.direction, rule.bar) == ("cross", "sma20", "sma50", "below", 300)
    assert parse_rule(rule.text).text == rule.text
