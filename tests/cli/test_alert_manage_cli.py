"""Managing alert rules from the shell: disable, enable, edit and the statistics in `alert list`."""

import json

from tests.conftest import run_cli


def rules(home):
    return {r["id"]: r for r in json.loads(run_cli("alert", "list", "--json", home=home).stdout)}


def test_disable_enable_edit_keep_the_rule_and_its_id(home):
    assert run_cli("alert", "add", "AAPL > 200", home=home).returncode == 0
    r = run_cli("alert", "disable", "u1", home=home)
    assert r.returncode == 0 and r.stdout.strip() == "disabled alert u1: AAPL > 200"
    assert rules(home)["u1"]["enabled"] is False
    r = run_cli("alert", "disable", "u1", home=home)
    assert r.returncode == 2 and r.stderr.strip() == "error: alert rule u1 is already disabled"
    r = run_cli("alert", "edit", "u1", "AAPL rsi14 < 30 on 5m", home=home)
    assert r.returncode == 0 and r.stdout.strip() == "alert u1: AAPL rsi14 < 30 on 5m"
    r = run_cli("alert", "edit", "u1", "AAPL rsi < 30", home=home)
    assert r.returncode == 2 and "cannot read alert rule" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("alert", "enable", "u7", home=home)
    assert r.returncode == 2 and "no alert rule 'u7'" in r.stderr
    assert run_cli("alert", "enable", "u1", home=home).returncode == 0
    row = rules(home)["u1"]
    assert (row["rule"], row["enabled"], row["fired"], row["suppressed"], row["last_fired"]) == (
        "AAPL rsi14 < 30 on 5m", True, 0, 0, None,
    )
    table = run_cli("alert", "list", home=home).stdout
    assert "suppressed" in table and "u1" in table and "on" in table


async def test_alert_list_shows_the_statistics_an_engine_journaled(home):
    from tests.risk_helpers import build

    s, broker, clock = build(home / "data")  # an engine on the account: the rule fires, then is held back
    s.alerts.add_rule("AAPL > 200 cooldown 10m")
    broker.set_quote("AAPL", 200.99, 201.01, 201.0)
    broker.set_quote("AAPL", 198.99, 199.01, 199.0)
    clock.advance(30)
    broker.set_quote("AAPL", 201.99, 202.01, 202.0)  # inside the cooldown: suppressed
    s.journal.close()
    row = rules(home)["u1"]
    assert (row["fired"], row["suppressed"], row["enabled"]) == (1, 1, True) and row["last_fired"].startswith("2023-11-14")
    table = run_cli("alert", "list", home=home).stdout
    assert "u1" in table and "2023-11-14" in table
