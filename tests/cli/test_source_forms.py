"""The command forms of the source documents work as written: without ``--strategy``,
``realtime`` and ``backtest`` run the default strategy set and say which on the first line;
``paper reset`` erases the account's trading, not its settings-like state."""

import json
from decimal import Decimal

from tests.conftest import run_cli


def test_realtime_as_written_runs_the_default_strategy_and_trades(home):
    # main.py realtime -s AAPL MSFT GOOGL -d 10 -c 100000, in seconds, on bars short enough to cross
    r = run_cli("realtime", "-s", "AAPL", "MSFT", "GOOGL", "-d", "8s", "-c", "100000",
                "--param", "bar_seconds=1", "--param", "fast=2", "--param", "slow=4", "--tick-hz", "20",
                home=home, timeout=90)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith("strategies: ma_crossover (fast=2 slow=4 qty=100 bar_seconds=1"), first
    assert "as no --strategy was given" in first
    assert "trades" in r.stdout  # the summary on screen
    summary = json.loads(run_cli("status", "--session", "last", "--json", home=home).stdout)
    assert summary["symbols"] == ["AAPL", "MSFT", "GOOGL"] and Decimal(summary["initial_cash"]) == 100000
    assert summary["trades"] > 0 and summary["strategies"][0]["plugin"] == "ma_crossover"


def test_backtest_as_written_runs_the_default_strategy(home):
    r = run_cli("backtest", "-s", "AAPL", "-d", "90", home=home, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("strategies: ma_crossover (fast=10 slow=30 qty=100"), lines[0]
    assert "fills" in r.stdout and "ma_crossover" in lines[-2]


def test_without_strategy_the_settings_strategies_run(home, tmp_path):
    settings = tmp_path / "settings.toml"
    settings.write_text('[[strategies]]\nplugin = "rsi_reversion"\nparams = { period = 7 }\n')
    r = run_cli("backtest", "-s", "AAPL", "MSFT", "-d", "10", "--json", "--config", str(settings), home=home, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("strategies: rsi_reversion (period=7") and "[[strategies]] of the settings" in r.stderr
    doc = json.loads(r.stdout)  # stdout stays one JSON document
    assert list(doc["strategies"]) == ["rsi_reversion"]


def test_paper_reset_keeps_rules_and_limits_unless_all(home):
    assert run_cli("alert", "add", "AAPL > 900", home=home).returncode == 0
    assert run_cli("risk", "set", "max_order_qty", "500", home=home).returncode == 0
    assert run_cli("buy", "1", "SPY", home=home).returncode == 0
    r = run_cli("paper", "reset", "--yes", home=home)
    assert r.returncode == 0, r.stderr
    said = " ".join(r.stdout.split())
    assert "erased: positions, orders, fills" in said and "kept: 1 alert rule(s), 1 run-time risk limit(s)" in said
    assert json.loads(run_cli("status", "--json", home=home).stdout)["positions"] == []
    assert "AAPL > 900" in run_cli("alert", "list", home=home).stdout
    limits = json.loads(run_cli("risk", "show", "--json", home=home).stdout)["settings"]
    assert {"name": "max_order_qty", "value": "500", "source": "run time"} in limits
    r = run_cli("paper", "reset", "--yes", "--all", home=home)
    assert r.returncode == 0 and "alert rules and run-time risk limits" in " ".join(r.stdout.split())
    assert "no alert rules" in run_cli("alert", "list", home=home).stdout
    limits = json.loads(run_cli("risk", "show", "--json", home=home).stdout)["settings"]
    assert {"name": "max_order_qty", "value": "off", "source": "default"} in limits
