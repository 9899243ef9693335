"""The shipped ``pyramid_breakout`` example backtested on a crafted file: the entry, the adds
to the winner and the exits in parts show as fills."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from tests.conftest import run_cli

# 25 quiet bars (one low of 95: the stop, so 1R = 102 - 95 = 7), then a breakout that runs
PATH = [102, 103, 104.5, 105, 107, 108, 109.5, 112, 117, 118, 120, 116, 112, 111, 110]


def crafted(path) -> None:
    day, prev, rows = dt.date(2026, 1, 5), 100.0, []
    for i in range(25):
        rows.append((day, 100, 101, 95 if i == 20 else 99, 100))
        day += dt.timedelta(days=3 if day.weekday() == 4 else 1)
    for c in PATH:
        rows.append((day, prev, max(prev, c) + 0.5, min(prev, c) - 0.5, c))
        prev = c
        day += dt.timedelta(days=3 if day.weekday() == 4 else 1)
    path.write_text("timestamp,open,high,low,close,volume\n"
                    + "".join(f"{d.isoformat()},{o},{h},{lo},{c},100000\n" for d, o, h, lo, c in rows))


def test_the_backtest_shows_the_adds_and_the_partial_exits_as_fills(tmp_path) -> None:
    data = tmp_path / "xyz.csv"
    crafted(data)
    r = run_cli("backtest", "--data", str(data), "--strategy", "pyramid_breakout", "--json", home=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    fills = [(f["side"], Decimal(f["qty"]), Decimal(f["price"])) for f in doc["fills"]]
    assert fills == [
        ("buy", 100, Decimal("102")),  # the breakout above 101, at the next open
        ("buy", 50, Decimal("104.5")),  # +2% over 102: the first add
        ("buy", 50, Decimal("107")),  # +2% over 104.5: the second (max_adds 2, max_qty 200)
        ("sell", 67, Decimal("109.5")),  # a third at +1R (109)
        ("sell", 67, Decimal("117")),  # a third at +2R (116)
        ("sell", 66, Decimal("112")),  # the rest on the stop trailing 1R behind 120
    ]
    assert doc["positions"] == {}
    assert Decimal(doc["final_equity"]) - 100_000 == sum(
        (q * p if side == "sell" else -q * p for side, q, p in fills), Decimal(0))


def test_its_parameters_are_listed_and_checked(tmp_path) -> None:
    r = run_cli("strategies", home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "pyramid_breakout" in r.stdout and "max_adds" in r.stdout
    data = tmp_path / "xyz.csv"
    crafted(data)
    r = run_cli("backtest", "--data", str(data), "--strategy", "pyramid_breakout", "--param", "target2=0.5", home=tmp_path)
    assert r.returncode == 2 and "target2 must be beyond target1" in r.stderr and "Traceback" not in r.stderr
