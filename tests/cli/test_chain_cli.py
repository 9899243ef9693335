"""``main.py chain``: an option chain in the shell, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.conftest import run_cli


def one_line_error(result, *needles: str) -> str:
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_json_has_the_strikes_nearest_the_money_with_iv_and_greeks(home):
    r = run_cli("chain", "aapl", "--strikes", "6", "--json", home=home)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["underlying"] == "AAPL" and doc["expiry"] == doc["expiries"][0]
    strikes = [Decimal(s["strike"]) for s in doc["strikes"]]
    assert len(strikes) == 6 and strikes == sorted(strikes)
    assert [s["atm"] for s in doc["strikes"]].count(True) == 1
    atm = Decimal(doc["atm_strike"])
    assert min(strikes, key=lambda k: abs(k - Decimal(repr(doc["spot"])))) == atm
    for row in doc["strikes"]:
        call, put = row["call"], row["put"]
        assert call["symbol"] == f"AAPL-{doc['expiry']}-{row['strike']}-C" and put["symbol"].endswith("-P")
        if call["iv"] is not None:
            assert 0 < call["iv"] < 5 and 0 <= call["delta"] <= 1 and call["vega"] >= 0
        if put["iv"] is not None:
            assert -1 <= put["delta"] <= 0
    centre = next(s for s in doc["strikes"] if s["atm"])
    assert centre["call"]["iv"] is not None and 0.3 < centre["call"]["delta"] < 0.7  # the money has an IV and a middling delta


def test_expiry_chooses_the_expiry_and_the_table_marks_the_money(home):
    listed = json.loads(run_cli("chain", "AAPL", "--strikes", "1", "--json", home=home).stdout)["expiries"]
    r = run_cli("chain", "AAPL", "--expiry", listed[2], "--strikes", "5", home=home, env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    out = r.stdout
    header = next(line for line in out.splitlines() if "Strike" in line)
    cells = [c.strip() for c in header.strip("┃│ ").replace("┃", "│").split("│")]
    assert cells == ["Vol", "OI", "Vega", "Theta", "Gamma", "Last", "Delta", "IV", "Ask", "Bid", "Strike",
                     "Bid", "Ask", "IV", "Delta", "Last", "Gamma", "Theta", "Vega", "OI", "Vol"]
    assert f"AAPL {listed[2]}" in out
    assert sum("▸" in line and "◂" in line for line in out.splitlines() if "│" in line) == 1  # one row at the money
    assert "expiries: " + listed[0] in out.replace("\n", " ")


def test_eighty_columns_keep_bid_ask_iv_delta_on_both_sides(home):
    r = run_cli("chain", "AAPL", "--strikes", "4", home=home, env={"COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    header = next(line for line in r.stdout.splitlines() if "Strike" in line)
    cells = [c.strip() for c in header.strip("┃ ").split("┃")]
    assert cells == ["Delta", "IV", "Ask", "Bid", "Strike", "Bid", "Ask", "IV", "Delta"]
    assert "not shown: Vol, OI" in r.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("AAPL!",), "malformed symbol"),
        (("AAPL", "--expiry", "2026-13-01"), "malformed expiry"),
        (("AAPL", "--expiry", "2020-01-17"), "2020-01-17"),
        (("AAPL", "--strikes", "0"), "strikes must be at least 1"),
        (("AAPL-2026-12-18-200-C",), "is an option"),
        (("BTC/USD",), "BTC/USD"),
    ],
)
def test_bad_symbol_or_expiry_is_one_line_and_nonzero(home, args, needle):
    one_line_error(run_cli("chain", *args, home=home), needle)
