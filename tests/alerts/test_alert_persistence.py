"""Alert state outlives the process: a rule's cooldown and re-arm, a built-in alert's
cooldown and every acknowledgement are journaled and read back by the next engine on the
same data directory (two sessions in a row, and the CLI's owner processes)."""

import json
import shutil
from pathlib import Path

import msgspec

from tests.conftest import run_cli
from tests.risk_helpers import build, settings
from workstation.alerts.engine import AlertNotice

JOURNALS = Path(__file__).parents[1] / "data" / "journals"


def session(tmp_path, clock=None, st=None):
    s, broker, clock = build(tmp_path, st, clock=clock)
    notices = []
    s.bus.subscribe(AlertNotice, lambda n: notices.append(n.alert))
    return s, broker, clock, notices


def quote(broker, symbol, last):
    broker.set_quote(symbol, last - 0.01, last + 0.01, last)


def restart(s, tmp_path, clock, st=None):
    s.journal.close()
    return session(tmp_path, clock, st)


async def test_a_level_rule_that_stays_true_fires_once_across_restarts(tmp_path):
    s, broker, clock, notices = session(tmp_path)
    s.alerts.add_rule("AAPL > 200 cooldown 60s")
    quote(broker, "AAPL", 201.0)
    assert len(notices) == 1
    for _ in range(3):  # three more processes, each a minute later, AAPL still above 200
        clock.advance(120)
        s, broker, clock, notices = restart(s, tmp_path, clock)
        quote(broker, "AAPL", 202.0)
        assert notices == []
    fired = [a for a in s.alerts.recent if a.key == "rule-u1"]
    assert len(fired) == 1
    quote(broker, "AAPL", 199.0)  # false: re-armed
    quote(broker, "AAPL", 203.0)
    assert [a.message for a in notices] == ["AAPL at 203"]


async def test_a_rearmed_rule_keeps_its_cooldown_and_its_rearm_across_a_restart(tmp_path):
    s, broker, clock, notices = session(tmp_path)
    s.alerts.add_rule("AAPL > 200 cooldown 60s")
    quote(broker, "AAPL", 201.0)
    quote(broker, "AAPL", 199.0)  # re-armed in this process
    clock.advance(10)
    s, broker, clock, notices = restart(s, tmp_path, clock)
    quote(broker, "AAPL", 201.0)  # true again, but within the cooldown of the first alert
    assert notices == [] and s.alerts.suppressed == 1
    clock.advance(60)
    s, broker, clock, notices = restart(s, tmp_path, clock)
    quote(broker, "AAPL", 202.0)  # the cooldown is over and the rule re-armed in the first process
    assert [a.message for a in notices] == ["AAPL at 202"]


async def test_a_builtin_alert_keeps_its_cooldown_across_a_restart(tmp_path):
    s, _, clock, notices = session(tmp_path)
    assert s.alerts.raise_alert("Stale data", "no quote for AAPL in 90s", key="stale-AAPL") is not None
    s, _, clock, notices = restart(s, tmp_path, clock)
    assert s.alerts.raise_alert("Stale data", "no quote for AAPL in 90s", key="stale-AAPL") is None
    assert s.alerts.raise_alert("Spike", "AAPL spike filtered") is not None  # unkeyed: its own text
    clock.advance(s.alerts.settings.cooldown + 1)
    s, _, clock, notices = restart(s, tmp_path, clock)
    assert s.alerts.raise_alert("Stale data", "no quote for AAPL in 90s", key="stale-AAPL") is not None


async def test_a_settings_rule_stays_fired_until_its_text_changes(tmp_path):
    def with_rules(*rules):
        st = settings()
        return msgspec.structs.replace(st, alerts=msgspec.structs.replace(st.alerts, rules=list(rules)))

    s, broker, clock, notices = session(tmp_path, st=with_rules("AAPL > 200"))
    quote(broker, "AAPL", 201.0)
    assert len(notices) == 1
    clock.advance(120)
    s, broker, clock, notices = restart(s, tmp_path, clock, with_rules("AAPL > 200"))  # the same rule: still fired
    quote(broker, "AAPL", 201.0)
    assert notices == []
    s, broker, clock, notices = restart(s, tmp_path, clock, with_rules("AAPL > 100 cooldown 1h"))  # s1: another rule
    assert s.alerts.rule_state("s1") == (None, True)  # not the old rule's firing
    quote(broker, "AAPL", 201.0)
    assert [a.title for a in notices] == ["Alert s1: AAPL > 100 cooldown 1h"]


async def test_acknowledgements_survive_a_restart_for_every_face(tmp_path):
    from workstation.api import LocalEngine

    s, _, clock, _ = session(tmp_path)
    a = s.alerts.raise_alert("Stale data", "no quote for AAPL in 90s")
    clock.advance(1)
    b = s.alerts.raise_alert("Breaker", "daily loss", priority="high")
    engine = LocalEngine(s)
    s.alerts.ack([a.id])
    assert [x.acked for x in engine.alerts()] == [True, False]  # a face attaching now sees it
    s, _, clock, _ = restart(s, tmp_path, clock)
    engine = LocalEngine(s)
    assert [(x.alert_id, x.acked) for x in engine.alerts()] == [(a.id, True), (b.id, False)]
    assert engine.unread_alerts() == 1


async def test_a_journal_from_before_the_alert_state_is_upgraded_with_it(tmp_path):
    """The v2 fixture: rule u1 (AAPL > 1) fired once, its alert acknowledged, a stale-data alert."""
    path = tmp_path / "paper" / "journal.sqlite"
    path.parent.mkdir(parents=True)
    shutil.copyfile(JOURNALS / "v2-d012445.sqlite", path)
    from workstation.core.journal import Journal

    with Journal(path, readonly=True) as j:
        fired_at = max(ts for _q, ts, kind, ref, _d in j.events("alert") if ref == "rule-u1")
    s, broker, clock, notices = session(tmp_path, clock=None)
    clock.advance(fired_at + 3600 - clock.time())  # an hour later: no cooldown left
    quote(broker, "AAPL", 200.0)  # still above 1: the upgrade knows u1 fired and has not re-armed
    assert notices == []
    assert [(a.title, a.acked) for a in s.alerts.recent] == [("Alert u1: AAPL > 1", True), ("Stale data", False)]


def _alerts(home):
    r = run_cli("alert", "log", "--json", home=home)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_owner_processes_in_a_row_raise_one_alert_and_keep_its_ack(tmp_path):
    home = tmp_path / "home"
    assert run_cli("alert", "add", "AAPL > 1", home=home).returncode == 0
    assert run_cli("alert", "add", "MSFT > 1", home=home).returncode == 0
    for symbol in ("AAPL", "AAPL", "MSFT", "AAPL", "MSFT"):  # each order: a process owning the account
        r = run_cli("buy", "1", symbol, home=home)
        assert r.returncode == 0, r.stderr
    listed = _alerts(home)
    assert [a["key"] for a in listed] == ["rule-u2", "rule-u1"]  # one alert per rule, newest first
    aapl = listed[1]
    r = run_cli("alert", "ack", str(aapl["id"]), home=home)
    assert r.returncode == 0, r.stderr
    assert run_cli("sell", "1", "AAPL", home=home).returncode == 0  # one more owner process
    listed = _alerts(home)
    assert [(a["key"], a["acked"]) for a in listed] == [("rule-u2", False), ("rule-u1", True)]
    text = [line.split() for line in run_cli("alert", "log", home=home).stdout.splitlines()]
    assert text[0][0] == "*" and text[0][3] == "normal"  # "*": not acknowledged yet
    assert text[1][0] == str(aapl["id"]) and text[1][2] == "acked"
    rules = {r["id"]: r for r in json.loads(run_cli("alert", "list", "--json", home=home).stdout)}
    assert rules["u1"]["last_fired"] == aapl["ts"] and rules["u1"]["armed"] is False


async def test_the_alerts_pane_after_a_restart_shows_acknowledgements_newest_first(tmp_path):
    from tests.ui_support import make_app, settle
    from workstation.ui.panes.feed import AlertsPane

    _, s, _ = make_app(tmp_path)
    stale = s.alerts.raise_alert("Stale data", "no quote for MSFT in 90s")
    s.clock.advance(1)
    s.alerts.raise_alert("Breaker", "daily loss", priority="high")
    s.alerts.ack([stale.id])
    s.journal.close()

    app, s, _ = make_app(tmp_path)  # the next start on the same data directory
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        pane = app.main.query_one("#alerts", AlertsPane)
        assert [(r.cells[2][0], r.cells[1][0]) for r in pane.entries] == [
            ("Breaker: daily loss", "high"), ("Stale data: no quote for MSFT in 90s", "acked"),
        ]
        pane.add(stale.ts - 60, "normal", "Spike: AAPL", 0)  # older, arriving last (a backlog behind live alerts)
        s.clock.advance(5)
        s.alerts.raise_alert("Fill", "order 7 buy 1 AAPL", priority="low")
        await settle(pilot)
        assert [r.cells[2][0].split(":")[0] for r in pane.entries] == ["Fill", "Breaker", "Stale data", "Spike"]
