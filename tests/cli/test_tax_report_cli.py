"""``main.py tax report``, as a user runs it, on a journal of crafted fills."""

import csv
import json
from decimal import Decimal

from tests.conftest import run_cli
from workstation.core.journal import Journal
from workstation.core.model import Fill, Side

DAY = 86_400.0
T0 = 1_767_625_200.0  # 2026-01-05 15:00 UTC


def journal_of(home, fills):
    folder = home / "data" / "paper"
    folder.mkdir(parents=True, exist_ok=True)
    j = Journal(folder / "journal.sqlite")
    for n, (side, qty, price, day) in enumerate(fills, 1):
        j.record_fill(Fill(
            exec_id=f"e{n}", order_id=f"o{n}", symbol="AAPL", side=Side(side), qty=Decimal(qty), price=Decimal(price),
            commission=Decimal("1"), ts=T0 + day * DAY,
        ), None)
    j.close()
    return home


WASHED = [("buy", 100, 50, 0), ("sell", 100, 40, 10), ("buy", 100, 42, 15), ("sell", 100, 45, 60), ("buy", 10, 20, 300), ("sell", 10, 30, 700)]


def test_the_table_shows_the_washed_lot_the_totals_and_the_average_cost_figure(home):
    journal_of(home, WASHED)
    r = run_cli("tax", "report", "--year", "2026", home=home)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "FIFO tax lots, 2026" in out
    washed = next(line for line in out.splitlines() if "2026-01-15" in line)
    assert " W " in washed and "1,002.00" in washed and "-1,002.00" in washed  # 1,000 + the two commissions
    later = next(line for line in out.splitlines() if "2026-03-06" in line)
    assert "2026-01-10" in later and "5,203.00" in later  # basis 42 + 10 carried over, acquired 10 days earlier
    assert "2026 short-term -704.00  long-term 0.00" in out and "disallowed (wash sales) 1,002.00" in out
    assert "average-cost realized P&L (the panes) -700.00" in out and "they differ" in out
    r = run_cli("tax", "report", "--year", "2027", home=home)
    assert r.returncode == 0 and "long-term 98.00" in r.stdout and "long " in r.stdout


def test_json_and_csv_hold_every_closed_lot(home, tmp_path):
    journal_of(home, WASHED)
    out = tmp_path / "lots.csv"
    r = run_cli("tax", "report", "--year", "2026", "--json", "--csv", str(out), home=home)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["method"] == "FIFO tax lots" and doc["year"] == 2026
    first, second = doc["rows"]
    assert (first["code"], first["disallowed"], first["reported"], first["term"]) == ("W", "1002", "0", "short")
    assert (second["basis"], second["acquired"], second["adjusted"]) == ("5203", "2026-01-10", True)
    assert doc["totals"]["disallowed"] == "1002" and doc["totals"]["short_term"] == "-704"
    assert doc["average_cost_realized"] == "-700"
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["sold"], r["code"], r["disallowed"], r["basis"]) for r in rows] == [
        ("2026-01-15", "W", "1002", "5001"), ("2026-03-06", "", "0", "5203"),
    ]


def test_a_bad_year_is_one_line_exit_2_and_an_empty_year_says_so(home):
    journal_of(home, WASHED)
    for bad, said in (("20x6", "is not a year"), ("26", "is not a year"), ("-1", "must be positive")):
        r = run_cli("tax", "report", "--year", bad, home=home)
        assert r.returncode == 2 and said in r.stderr and r.stderr.count("\n") == 1, (bad, r.stderr)
        assert "Traceback" not in r.stderr and r.stdout == ""
    r = run_cli("tax", "report", "--year", "2025", home=home)
    assert r.returncode == 0 and "no lots closed in 2025" in r.stdout and "short-term 0.00" in r.stdout


def test_a_recent_loss_sale_is_flagged_as_still_washable(home):
    from workstation.core.clock import LiveClock
    from workstation.trading.taxlots import trade_date

    now = LiveClock().time()
    folder = home / "data" / "paper"
    folder.mkdir(parents=True, exist_ok=True)
    j = Journal(folder / "journal.sqlite")
    j.record_fill(Fill(exec_id="a", order_id="a", symbol="MSFT", side=Side.BUY, qty=Decimal(10), price=Decimal(50), ts=now - 5 * DAY), None)
    j.record_fill(Fill(exec_id="b", order_id="b", symbol="MSFT", side=Side.SELL, qty=Decimal(10), price=Decimal(40), ts=now - 2 * DAY), None)
    j.close()
    year = str(trade_date(now - 2 * DAY).year)
    r = run_cli("tax", "report", "--year", year, home=home)
    assert r.returncode == 0, r.stderr
    assert "1 loss sale(s) in the last 30 days: a buy of the same symbol would still wash them" in r.stdout
    r = run_cli("tax", "report", "--year", year, "--json", home=home)
    doc = json.loads(r.stdout)
    assert doc["open_washes"] == 1 and doc["rows"][0]["gain"] == "-100" and doc["rows"][0]["code"] == ""
