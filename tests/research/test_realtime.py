"""``main.py realtime``: a paper session with its own book, a summary, and a journal to look back at."""

import json
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest

from tests.conftest import ROOT, run_cli
from workstation.strategies.api import ParamError
from workstation.research.realtime import choose_strategies
from workstation.strategies.plugins import discover


def test_params_go_to_the_strategies_that_have_them():
    found = discover(entry_points=False)
    chosen = choose_strategies(
        ["ma_crossover", "rsi_reversion"], ["bar_seconds=5", "ma_crossover.fast=3", "slow=9", "period=7"], found
    )
    ma, rsi = chosen
    assert (ma.params["fast"], ma.params["slow"], ma.params["bar_seconds"]) == (3, 9, 5)
    assert (rsi.params["period"], rsi.params["bar_seconds"]) == (7, 5)
    with pytest.raises(ParamError, match="ma_crossover: fast \\(40\\) must be shorter than slow \\(30\\)"):
        choose_strategies(["ma_crossover"], ["fast=40"], found)
    with pytest.raises(ParamError, match="'oversold' matches no parameter"):
        choose_strategies(["ma_crossover"], ["oversold=20"], found)


@pytest.mark.slow
def test_realtime_json_session_with_its_own_book(home):
    r = run_cli(
        "realtime", "-s", "AAPL", "-d", "5s", "-c", "50000", "--strategy", "twap", "--param", "qty=300",
        "--param", "duration=2", "--param", "slices=3", "--tick-hz", "10", "--json", home=home,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1  # one JSON object, no dashboard
    doc = json.loads(lines[0])
    for key in ("equity", "pnl", "cash", "trades", "win_rate", "max_drawdown", "sharpe", "strategies"):
        assert key in doc
    # amounts are exact decimals in plain notation, as in every JSON output of the CLI
    assert Decimal(doc["initial_cash"]) == 50000 and doc["trades"] >= 3  # three children (a partial fill adds one)
    assert doc["positions"][0]["symbol"] == "AAPL" and doc["positions"][0]["qty"] == "300"
    assert Decimal(doc["pnl"]) == Decimal(doc["equity"]) - 50000
    assert doc["sharpe"] is None and isinstance(doc["max_drawdown"], float)  # 5 s: too short for a ratio
    st = doc["strategies"][0]
    assert st["name"] == "twap" and st["state"] == "stopped" and st["trades"] == doc["trades"]
    # the paper account the workstation uses is untouched
    acct = json.loads(run_cli("status", "--json", home=home).stdout)
    assert acct["positions"] == [] and Decimal(str(acct["account"]["cash"])) == 100000
    # the session was journaled and can be looked at afterwards
    again = run_cli("status", "--session", "last", "--json", home=home)
    assert again.returncode == 0, again.stderr
    past = json.loads(again.stdout)
    assert past["session"] == doc["session"] and past["equity"] == doc["equity"] and past["trades"] == doc["trades"]
    shown = run_cli("status", "--session", "last", home=home)
    assert doc["session"] in shown.stdout and "twap" in shown.stdout


@pytest.mark.slow
def test_realtime_stops_cleanly_on_ctrl_c(home):
    import os

    env = dict(os.environ, WORKSTATION_HOME=str(home), PYTHONPATH=str(ROOT))
    p = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "realtime", "-s", "AAPL", "-d", "60s", "--json", "--strategy", "ma_crossover",
         "--param", "bar_seconds=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT),
    )
    deadline = time.monotonic() + 60
    while not _equity_sampled(home) and time.monotonic() < deadline:
        time.sleep(0.2)  # wait until the session runs (it samples equity) before pressing Ctrl+C
    time.sleep(1)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    doc = json.loads(out)
    assert doc["seconds"] < 30 and doc["strategies"][0]["state"] == "stopped" and doc["open_orders"] == 0
    assert "Traceback" not in err


def _equity_sampled(home) -> bool:
    import sqlite3

    for path in home.glob("data/sessions/*/paper/journal.sqlite"):
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                return db.execute("SELECT 1 FROM events WHERE kind='equity' LIMIT 1").fetchone() is not None
            finally:
                db.close()
        except sqlite3.Error:
            return False
    return False


@pytest.mark.slow
def test_bad_input_is_one_line(home):
    for args, message in (
        (["--strategy", "nope"], "unknown strategy 'nope'"),
        (["--strategy", "ma_crossover", "--param", "fast=0"], "fast must be at least 1, got 0"),
        (["--tick-hz", "0"], "tick rate must be above 0"),
        (["--cash", "-5"], "cash must be positive"),
        (["--allocation", "150%"], "allocation fraction"),
    ):
        r = run_cli("realtime", "-s", "AAPL", "-d", "1s", *args, home=home)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
