"""``main.py positions --greeks`` (and the Greeks in ``status --json``), run as a user runs them."""

import json
import re
from datetime import date, timedelta
from decimal import Decimal

from tests.conftest import run_cli

EXPONENT = re.compile(r"\d[eE][+-]?\d")


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def listed_call(home) -> str:
    """A monthly AAPL call near the money, two months out (listed whatever the date)."""
    spot = json.loads(run_cli("prices", "-s", "AAPL", "--json", home=home).stdout)[0]["last"]
    today = date.today()
    month = today.month + 2
    expiry = third_friday(today.year + (month - 1) // 12, (month - 1) % 12 + 1)
    return f"AAPL-{expiry.isoformat()}-{int(round(float(spot) / 5) * 5)}-C"


def test_positions_greeks_per_position_per_underlying_and_in_all(home):
    call = listed_call(home)
    for args in (("buy", "2", call), ("sell", "100", "AAPL"), ("buy", "10", "MSFT")):
        r = run_cli(*args, home=home)
        assert r.returncode == 0 and "filled" in r.stdout, (args, r.stdout, r.stderr)
    r = run_cli("positions", "--greeks", "--json", home=home)
    assert r.returncode == 0, r.stderr
    assert not EXPONENT.search(r.stdout)
    doc = json.loads(r.stdout)
    rows = {p["symbol"]: p for p in doc["positions"]}
    assert 60 < Decimal(rows[call]["delta"]) < 140  # two near-the-money calls: ~100 shares of AAPL
    assert Decimal(rows[call]["vega"]) > 0 > Decimal(rows[call]["theta"]) and 0 < Decimal(rows[call]["iv"]) < 2
    assert rows["AAPL"]["delta"] == "-100" and rows["AAPL"]["iv"] is None
    per = {t["underlying"]: t for t in doc["greeks"]}
    assert Decimal(per["AAPL"]["delta_shares"]) == Decimal(rows[call]["delta"]) - 100
    assert per["AAPL"]["has_options"] and not per["MSFT"]["has_options"]
    account = per[None]
    assert account["delta_shares"] is None  # shares of AAPL and MSFT do not add
    total = sum(Decimal(p["dollar_delta"]) for p in rows.values())
    assert abs(Decimal(account["dollar_delta"]) - total) <= Decimal("0.05")
    assert account["beta_delta_spy"] is not None and account["spy_price"] is not None

    table = run_cli("positions", "--greeks", home=home)
    assert table.returncode == 0, table.stderr
    assert "AAPL total" in table.stdout and "Theta/day" in table.stdout and "Vega/pt" in table.stdout
    assert "beta-weighted delta" in table.stdout and "SPY shares" in table.stdout

    status = json.loads(run_cli("status", "--json", home=home).stdout)
    assert {t["underlying"] for t in status["greeks"]} == {"AAPL", "MSFT", None}
    assert {p["symbol"]: p["delta"] for p in status["positions"]}["MSFT"] == "10"
    plain = json.loads(run_cli("positions", "--json", home=home).stdout)
    assert "delta" not in plain[0]  # without --greeks: the positions as before


def test_positions_greeks_with_nothing_held(home):
    r = run_cli("positions", "--greeks", home=home)
    assert r.returncode == 0 and r.stdout.strip() == "no positions", (r.stdout, r.stderr)
