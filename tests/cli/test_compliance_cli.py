"""The compliance limits from the shell (subprocesses on the paper profile): set, shown,
enforced in one line, and bad values refused with one line."""

import json

from tests.conftest import run_cli


def test_compliance_limits_are_set_shown_and_enforced(home):
    for name, value in (("max_gross_leverage", "0.5"), ("max_open_positions", "3"), ("max_orders_per_hour", "100"),
                        ("pdt_check", "false")):
        r = run_cli("risk", "set", name, value, home=home)
        assert r.returncode == 0 and f"{name} = {value} (journaled)" in r.stdout, r.stderr
    doc = json.loads(run_cli("risk", "show", "--json", home=home).stdout)
    settings = {x["name"]: x for x in doc["settings"]}
    assert settings["max_gross_leverage"] == {"name": "max_gross_leverage", "value": "0.5", "source": "run time"}
    assert settings["pdt_check"]["value"] == "false"
    # $100,000 of equity: one bitcoin (a market that never closes) is more than 0.5x on its own
    r = run_cli("buy", "1", "BTC/USD", home=home)
    assert r.returncode == 1 and r.stderr.startswith("error: rejected: gross leverage would be ")
    assert "on equity $100,000.00), exceeding max_gross_leverage 0.5x" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    status = json.loads(run_cli("status", "--json", home=home).stdout)
    names = {row["name"] for row in status["risk"]["limits"]}
    assert {"open positions", "gross leverage", "orders per hour", "day trades (5d)"} <= names


def test_bad_compliance_values_exit_2_with_one_line(home):
    for args, message in [
        (("risk", "set", "max_open_positions", "2.5"), "max_open_positions must be a whole number"),
        (("risk", "set", "max_gross_leverage", "lots"), "max_gross_leverage"),
        (("risk", "set", "pdt_check", "maybe"), "pdt_check must be true or false"),
        (("risk", "set", "max_orders_per_hour", "-3"), "negative"),
    ]:
        r = run_cli(*args, home=home)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
