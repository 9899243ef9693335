"""`main.py backtest --limit NAME=VALUE --account cash|margin`: any risk limit in a backtest, refused
orders counted by their rule; a bad limit is one line, exit 2, and no run."""

from __future__ import annotations

import json

from tests.conftest import run_cli


def test_a_limit_given_by_name_refuses_what_live_would_and_counts_it_by_rule(home):
    out = run_cli("backtest", "-s", "AAPL", "-s", "MSFT", "-s", "NVDA", "-d", "5", "--limit", "max_open_positions=2", "--json", home=home)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    refused = doc["refusals"]["max_open_positions"]
    assert refused["count"] > 0 and "max_open_positions is 2" in refused["example"]
    assert len(doc["positions"]) <= 2  # never three symbols held: at the end either


def test_bad_limits_and_accounts_are_one_line_and_nothing_runs(home):
    for args, said in (
        (["--limit", "bogus=1"], "unknown risk limit 'bogus'"),
        (["--limit", "max_open_positions"], "--limit takes NAME=VALUE"),
        (["--limit", "max_orders_per_hour=x"], "max_orders_per_hour must be a number"),
        (["--limit", "max_order_qty=-5"], "must not be negative"),
        (["--account", "broker"], "account must be cash or margin"),
    ):
        out = run_cli("backtest", "-s", "AAPL", "-d", "2", *args, home=home)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and said in lines[0] and "Traceback" not in out.stderr, (args, out.stderr)
        assert not (home / "data" / "backtests").exists() or not any((home / "data" / "backtests").iterdir())
