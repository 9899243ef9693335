"""``main.py spread``: a spread from the shell, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from brokers.paper.universe import load_universe
from tests.conftest import run_cli

# the commands run on the real clock: a monthly expiry the paper market lists today (the second
# one ahead, so that an expiry day's close never takes it away mid-run)
EXP = [d for d in load_universe().expiries("AAPL", date.today()) if 15 <= d.day <= 21 and d.weekday() == 4][1].isoformat()


def one_line_error(result, *needles: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout and result.stdout == ""
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_dry_run_prints_the_legs_and_the_payoff(home):
    r = run_cli("spread", "buy", "1", "AAPL", EXP, "200/210", "call", "vertical", "--limit", "3.10", "--dry-run", home=home)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert f"BUY 1 AAPL {EXP} 200/210 call vertical limit 3.10 day" in out
    assert f"buy  1 AAPL-{EXP}-200-C" in out and f"sell 1 AAPL-{EXP}-210-C" in out
    assert "net 3.10 debit: 310.00 paid" in out
    assert "max profit 690.00 · max loss 310.00 · break-even 203.10" in out
    assert "net greeks: delta +" in out and "dry run: nothing sent" in out
    assert run_cli("orders", "--json", home=home).stdout.strip() in ("[]", "")  # nothing sent


def test_dry_run_json_carries_the_combo_figures(home):
    r = run_cli("spread", "sell", "2", "SPY", EXP, "590/600/610/620", "iron", "condor", "--limit", "2.05",
                "--dry-run", "--json", home=home)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    combo = doc["combo"]
    assert doc["side"] == "sell" and combo["description"] == f"SPY {EXP} 590/600/610/620 iron condor"
    assert Decimal(combo["max_profit"]) == 410 and Decimal(combo["max_loss"]) == 1590
    assert [Decimal(b) for b in combo["breakevens"]] == [Decimal("597.95"), Decimal("612.05")]
    assert [leg["side"] for leg in combo["legs"]] == ["buy", "sell", "sell", "buy"]
    assert all(leg["bid"] is not None for leg in combo["legs"]) and combo["delta"] is not None


def test_a_straddle_shows_unlimited_profit_and_signed_legs_read(home):
    r = run_cli("spread", "buy", "1", "AAPL", EXP, "230", "straddle", "--limit", "12.40", "--dry-run", home=home)
    assert r.returncode == 0, r.stderr
    assert "max profit unlimited · max loss 1,240.00 · break-even 217.60, 242.40" in r.stdout
    r = run_cli("spread", "buy", "1", "legs", f"+AAPL-{EXP}-200-C", "-2", f"AAPL-{EXP}-210-C", "--limit=-0.50",
                "--dry-run", home=home)
    assert r.returncode == 0, r.stderr
    assert f"sell 2 AAPL-{EXP}-210-C" in r.stdout and "net 0.50 credit: 50.00 received" in r.stdout
    assert "max profit 1,050.00 · max loss unlimited · break-even 220.50" in r.stdout


def test_sent_spread_fills_as_one_combo_order(home):
    dry = json.loads(run_cli("spread", "buy", "1", "AAPL", EXP, "200/210", "call", "vertical", "--dry-run", "--json", home=home).stdout)
    limit = Decimal(dry["price"]) + Decimal("0.10")  # marketable: a little above the legs' net touch
    r = run_cli("spread", "buy", "1", "AAPL", EXP, "200/210", "call", "vertical", "--limit", str(limit), home=home)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"order 1 buy 1 AAPL {EXP} +200C -210C limit") and "filled 1" in r.stdout
    positions = {p["symbol"]: Decimal(p["qty"]) for p in json.loads(run_cli("positions", "--json", home=home).stdout)}
    assert positions == {f"AAPL-{EXP}-200-C": 1, f"AAPL-{EXP}-210-C": -1}


def test_bad_spreads_are_one_line(home):
    one_line_error(run_cli("spread", "buy", "1", "AAPL", EXP, "210/200", "call", "vertical", home=home), "must go up")
    one_line_error(run_cli("spread", "hold", "1", "AAPL", EXP, "230", "straddle", home=home), "bought or sold")
    one_line_error(run_cli("spread", "buy", "1.5", "AAPL", EXP, "230", "straddle", home=home), "whole units")
    one_line_error(run_cli("spread", "buy", "1", "AAPL", EXP, "230", "straddle", "--tif", "forever", home=home), "time in force")
    one_line_error(run_cli("spread", "buy", "1", "AAPL", EXP, "200/210", "call", "vertical", "--limit", "abc", home=home), "net price")


def test_a_quoted_phrase_reads_as_its_words(home):
    r = run_cli("spread", "buy", "1", f"AAPL {EXP} 200/210 call vertical", "--limit", "3.10", "--dry-run", home=home)
    assert r.returncode == 0, r.stderr
    assert "max profit 690.00 · max loss 310.00 · break-even 203.10" in r.stdout
