"""The risk, kill and alert commands, as a user runs them (subprocesses on the paper profile)."""

import json

import pytest

from tests.conftest import run_cli


def test_risk_set_is_journaled_and_refuses_orders_with_a_reason(home):
    r = run_cli("risk", "set", "max_order_notional", "1000", home=home)
    assert r.returncode == 0 and "max_order_notional = 1000 (journaled)" in r.stdout
    r = run_cli("buy", "100", "AAPL", home=home)
    assert r.returncode == 1
    assert "exceeds max_order_notional $1,000.00" in r.stderr and "order notional $" in r.stderr
    doc = json.loads(run_cli("risk", "show", "--json", home=home).stdout)
    row = next(x for x in doc["settings"] if x["name"] == "max_order_notional")
    assert row == {"name": "max_order_notional", "value": "1000", "source": "run time"}
    status = json.loads(run_cli("status", "--json", home=home).stdout)
    assert status["risk"]["breaker"]["tripped"] is False
    assert any("exceeds max_order_notional" in line for line in status["rejections"])
    assert {"name", "used", "limit", "unit", "state", "detail"} <= set(status["risk"]["limits"][0])


def test_bad_limit_values_exit_2(home):
    for args, message in [
        (("risk", "set", "max_order_qty", "-1"), "a risk limit cannot be negative"),
        (("risk", "set", "nonsense", "1"), "unknown risk limit 'nonsense'"),
        (("risk", "set", "allow_short", "maybe"), "allow_short must be true or false"),
    ]:
        r = run_cli(*args, home=home)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_kill_flattens_trips_and_reset_brings_trading_back(home):
    assert run_cli("buy", "10", "AAPL", home=home).returncode == 0
    r = run_cli("kill", home=home, input="")
    assert r.returncode == 2 and "pass --yes" in r.stderr
    r = run_cli("kill", "--yes", "--json", home=home)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert len(report["flatten_orders"]) == 1 and report["errors"] == []
    assert json.loads(run_cli("positions", "--json", home=home).stdout) == []
    r = run_cli("buy", "1", "AAPL", home=home)
    assert r.returncode == 1 and "circuit breaker tripped (kill switch" in r.stderr
    r = run_cli("risk", "reset-breaker", "--yes", home=home)
    assert r.returncode == 0 and "circuit breaker reset" in r.stdout


@pytest.mark.slow
def test_alert_rules_from_the_shell(home):
    r = run_cli("alert", "add", "AAPL > 200 priority high", home=home)
    assert r.returncode == 0 and r.stdout.strip() == "alert u1: AAPL > 200 priority high"
    assert run_cli("alert", "add", "pnl < -1000", home=home).returncode == 0
    r = run_cli("alert", "add", "AAPL >> 5", home=home)
    assert r.returncode == 2 and "cannot read alert rule" in r.stderr
    rules = json.loads(run_cli("alert", "list", "--json", home=home).stdout)
    assert [(x["id"], x["rule"]) for x in rules] == [("u1", "AAPL > 200 priority high"), ("u2", "pnl < -1000")]
    assert run_cli("alert", "rm", "u1", home=home).returncode == 0
    rules = json.loads(run_cli("alert", "list", "--json", home=home).stdout)
    assert [x["id"] for x in rules] == ["u2"]
