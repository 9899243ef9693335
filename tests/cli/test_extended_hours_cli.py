"""Extended hours from the shell: ``main.py buy ... --limit P --extended`` fills pre-market on
the paper market following the exchange's sessions; a market order pre-market is one line,
exit 2, and nothing is written. The wall clock of the subprocess is pinned at 08:00 New York
on a trading day (LiveClock.time replaced before ``main`` runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.cli.test_cli import one_line_error
from tests.conftest import ROOT, run_cli

PRE = datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("America/New_York")).timestamp()  # a Tuesday, pre-market
PINNED = (
    "import sys; from workstation.core import clock; clock.LiveClock.time = lambda self: {t!r}; "
    "sys.argv = ['main.py', *sys.argv[1:]]; from workstation.cli.app import main; main()"
)


def run_at(t: float, *args: str, home) -> subprocess.CompletedProcess:
    env = {**os.environ, "WORKSTATION_HOME": str(home), "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", PINNED.format(t=t), *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=str(ROOT))


def exchange_calendar(home) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text('[profiles.paper.sim]\ncalendar = "exchange"\n', encoding="utf-8")


def test_market_order_pre_market_is_one_line_and_writes_nothing(home):
    exchange_calendar(home)
    r = run_at(PRE, "buy", "10", "AAPL", home=home)
    line = one_line_error(r, 2, "pre-market: market orders trade only in the regular session (09:30-16:00 New York)")
    assert line.endswith("send a limit order marked extended")
    assert json.loads(run_cli("orders", "--json", home=home).stdout or "[]") == []


def test_extended_limit_fills_pre_market(home):
    exchange_calendar(home)
    quote = json.loads(run_at(PRE, "prices", "-s", "AAPL", "--json", home=home).stdout)[0]
    above = f"{quote['ask'] * 1.01:.2f}"
    r = run_at(PRE, "buy", "10", "AAPL", "--limit", above, "--extended", home=home)
    assert r.returncode == 0, r.stderr
    assert "day extended hours: filled 10" in r.stdout
    orders = json.loads(run_cli("orders", "--json", "--all", home=home).stdout)
    assert [(o["extended"], o["status"]) for o in orders] == [(True, "filled")]


def test_extended_gtc_and_extended_market_are_refused(home):
    exchange_calendar(home)
    for args in (["--limit", "150", "--tif", "gtc", "--extended"], ["--extended"]):
        r = run_at(PRE, "buy", "10", "AAPL", *args, home=home)
        one_line_error(r, 2, "extended-hours orders must be limit orders with TIF DAY")


def test_dry_run_says_extended_hours(home):
    exchange_calendar(home)
    r = run_at(PRE, "buy", "10", "AAPL", "--limit", "150", "--extended", "--dry-run", home=home)
    assert r.returncode == 0, r.stderr
    assert "limit day extended hours at ~150" in r.stdout
    assert "extended hours: may fill in the pre-market (04:00-09:30) and post-market (16:00-20:00 New York)" in r.stdout
