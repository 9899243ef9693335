"""``main.py rebalance`` on the paper market: the targets, the current weights and the trades;
--dry-run sends nothing (the journal is unchanged); without it the trades go through the order
manager, sells first, and land within one lot of the targets; bad input is one line, exit 2."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

import pytest

from tests.conftest import run_cli
from tests.serve_support import short_home  # noqa: F401 (fixture)

FOUR = "AAPL,MSFT,XOM,JPM"


def journal_rows(home) -> dict[str, int]:
    path = home / "data" / "paper" / "journal.sqlite"
    if not path.exists():
        return {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {t: db.execute(f"select count(*) from {t}").fetchone()[0] for t in ("orders", "events", "fills")}


def status(home) -> dict:
    r = run_cli("status", "--json", home=home)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.slow
def test_a_dry_run_shows_the_trades_and_sends_nothing(home):
    assert run_cli("buy", "50", "AAPL", home=home).returncode == 0
    before = journal_rows(home)
    r = run_cli("rebalance", "--method", "min_variance", "-s", FOUR, "--dry-run", "--json", home=home)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc["targets"]) == {"AAPL", "MSFT", "XOM", "JPM"}
    assert sum(doc["targets"].values()) == pytest.approx(1.0, abs=1e-6)
    assert doc["current"]["AAPL"] > 0 and doc["current"]["MSFT"] == 0
    assert {t["symbol"] for t in doc["trades"] if t["side"] == "buy"} >= {"MSFT", "XOM", "JPM"}
    assert doc["sent"] == []
    assert journal_rows(home) == before
    text = run_cli("rebalance", "--method", "equal", "-s", FOUR, "--dry-run", home=home)
    assert text.returncode == 0, text.stderr
    assert "Target weights and trades" in text.stdout and "dry run: nothing sent" in text.stdout
    assert journal_rows(home) == before


@pytest.mark.slow
def test_rebalancing_reaches_each_target_within_one_lot_and_sells_before_it_buys(home):
    r = run_cli("rebalance", "--method", "equal", "-s", FOUR, "--json", home=home)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [s["status"] for s in doc["sent"]] == ["filled"] * 4
    snap = status(home)
    equity = Decimal(snap["account"]["equity"])
    for p in snap["positions"]:
        price = Decimal(doc["prices"][p["symbol"]])
        weight = Decimal(p["qty"]) * price / equity
        assert abs(weight - Decimal("0.25")) <= price / equity, p  # within one share
    # to a file of weights: AAPL is sold down (first), XOM bought up
    r = run_cli("rebalance", "--weights", str(_file(home, "AAPL,10%\nMSFT,25%\nXOM,40%\nJPM,25%\n")), "--json", home=home)
    assert r.returncode == 0, r.stderr
    sent = json.loads(r.stdout)["sent"]
    sides = [s["side"] for s in sent]
    assert sides[0] == "sell" and sides.index("buy") > max(i for i, s in enumerate(sides) if s == "sell")
    held = {p["symbol"]: Decimal(p["qty"]) for p in status(home)["positions"]}
    equity = Decimal(status(home)["account"]["equity"])
    prices = json.loads(r.stdout)["prices"]
    for symbol, target in (("AAPL", "0.10"), ("XOM", "0.40")):
        price = Decimal(prices[symbol])
        assert abs(held[symbol] * price / equity - Decimal(target)) <= 2 * price / equity  # (prices moved a little)


def _file(home, text: str, name: str = "weights.csv"):
    home.mkdir(parents=True, exist_ok=True)
    path = home / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_sector_cap_holds_tech_down_on_the_account(home):
    r = run_cli("rebalance", "--method", "inverse_vol", "-s", FOUR, "--sector-cap", "0.4", "--dry-run", "--json", home=home)
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)["targets"]
    assert t["AAPL"] + t["MSFT"] <= 0.4 + 1e-9
    assert max(t["XOM"], t["JPM"]) <= 0.4 + 1e-9


@pytest.mark.slow
@pytest.mark.parametrize(("args", "message"), [
    (("--weights", "BAD"), "weights.csv line 2: weight 'lots' is not a number"),
    (("--method", "magic", "-s", "AAPL"), "unknown method 'magic'"),
    (("--method", "equal", "-s", "AAPL,MSFT", "--sector-cap", "0.3"), "the bounds and sector caps allow only 30.0% invested"),
    (("--method", "equal"), "nothing to rebalance: give --symbols"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_is_journaled(home, args, message):
    if args[:2] == ("--weights", "BAD"):
        args = ("--weights", str(_file(home, "AAPL,0.5\nMSFT,lots\n")))
    r = run_cli("rebalance", *args, home=home)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert journal_rows(home) in ({}, {"orders": 0, "events": 0, "fills": 0})


@pytest.mark.slow
def test_on_a_served_account_the_engine_places_the_rebalance(short_home):
    """With `main.py serve` owning the account, rebalance goes through it: the owner's journal
    holds the orders, tagged as an attached client's."""
    from tests.serve.test_account_owner import _wait_banner, spawn
    from tests.serve.test_serve_process import stop

    home = short_home
    serve = spawn(home, "serve", "-s", "AAPL")
    try:
        _wait_banner(serve)
        r = run_cli("rebalance", "--method", "risk_parity", "-s", "AAPL,MSFT,XOM", "--json", home=home)
        assert r.returncode == 0, r.stderr
        assert [s["status"] for s in json.loads(r.stdout)["sent"]] == ["filled"] * 3
        path = home / "data" / "paper" / "journal.sqlite"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            sources = [json.loads(row[0])["source"] for row in db.execute("SELECT data FROM orders ORDER BY id")]
        assert len(sources) == 3 and all(s.startswith("cli#") for s in sources)
        held = {p["symbol"] for p in status(home)["positions"]}
        assert held == {"AAPL", "MSFT", "XOM"}
    finally:
        stop(serve)
