"""``main.py backtest --spread auto|quotes --quotes SYMBOL=FILE`` as a user runs it."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).parents[2]
ORCL = str(ROOT / "tests" / "data" / "orcl-1995-2014.txt")
RUN = ("--strategy", "ma_crossover", "--qty", "100", "--from", "2006-01-01", "--to", "2007-01-01")


def main_py(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={"WORKSTATION_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "COLUMNS": "160"},
    )


def orcl_quotes(path: Path) -> Path:
    """A quote at each 2005-2006 close of ORCL, two cents wide (shuffled: the reader sorts)."""
    with open(ORCL, newline="") as f:
        rows = [r for r in csv.DictReader(f) if "2005-06-01" <= r["Date"] < "2007-01-01"]
    lines = [f"{r['Date']}T16:00:00-05:00,{Decimal(r['Close']) - Decimal('0.01')},{Decimal(r['Close']) + Decimal('0.01')}"
             for r in rows]
    path.write_text("timestamp,bid,ask\n" + "\n".join(lines[1::2] + lines[::2]) + "\n")
    return path


def nothing_written(home: Path) -> bool:
    runs = home / "backtests"
    return not runs.exists() or not any(runs.iterdir())


def test_a_quote_file_prices_every_fill_at_half_its_spread(tmp_path) -> None:
    q = orcl_quotes(tmp_path / "orcl-quotes.csv")
    run = main_py(tmp_path, "backtest", "--data", ORCL, *RUN, "--quotes", f"ORCL={q}", "--data-dir", str(tmp_path), "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["fill_model"]["spread_source"] == "quotes, else range"  # --quotes alone: --spread auto
    c = doc["costs"]
    traded = sum(Decimal(str(f["qty"])) for f in doc["fills"])
    assert traded > 0
    assert c["quoted_spread_fills"] == len(doc["fills"]) and c["estimated_spread_fills"] == 0
    assert Decimal(c["spread"]) == Decimal("0.01") * traded


def test_the_summary_counts_fills_by_spread_source(tmp_path) -> None:
    q = orcl_quotes(tmp_path / "orcl-quotes.csv")
    run = main_py(tmp_path, "backtest", "--data", ORCL, *RUN, "--from", "2005-01-01", "--spread", "auto",
                  "--quotes", str(q), "--data-dir", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert "fills at the quoted spread" in run.stdout
    assert "estimated from bar ranges" in run.stdout  # the first half of 2005 has no quotes
    assert "quotes, else range" in run.stdout


def test_bad_quotes_are_one_line_exit_2_and_nothing_written(tmp_path) -> None:
    crossed = tmp_path / "crossed.csv"
    crossed.write_text("timestamp,bid,ask\n2006-03-01 16:00:00,12.10,12.00\n")
    negative = tmp_path / "negative.csv"
    negative.write_text("timestamp,bid,ask\n2006-03-01 16:00:00,-1,12.00\n")
    broken = tmp_path / "broken.csv"
    broken.write_text("when,price\n2006-03-01,12\n")
    good = orcl_quotes(tmp_path / "good.csv")
    for args, words in (
        (("--quotes", f"ORCL={crossed}"), "line 2: bid 12.1 is above ask 12"),
        (("--quotes", f"ORCL={negative}"), "line 2: bid must be a positive price"),
        (("--quotes", f"ORCL={broken}"), "unrecognised columns"),
        (("--quotes", f"MSFT={good}"), "MSFT is not a symbol of this run"),
        (("--quotes", f"ORCL={tmp_path / 'missing.csv'}"), "no such file"),
        (("--spread", "quotes"), "--spread quotes needs quotes"),
        (("--spread", "5", "--quotes", f"ORCL={good}"), "--quotes needs --spread auto or --spread quotes"),
    ):
        run = main_py(tmp_path, "backtest", "--data", ORCL, *RUN, *args, "--data-dir", str(tmp_path))
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (args, run.stderr)
        assert "Traceback" not in run.stderr + run.stdout
        assert nothing_written(tmp_path), args


def test_a_bar_file_with_bid_and_ask_columns_is_priced_on_them(tmp_path) -> None:
    with open(ORCL, newline="") as f:
        lines = f.read().splitlines()
    body = [f"{r},{Decimal(r.split(',')[4]) - Decimal('0.01')},{Decimal(r.split(',')[4]) + Decimal('0.01')}"
            for r in lines[1:] if r.startswith("2006-")]
    data = tmp_path / "orcl-2006.csv"
    data.write_text(lines[0] + ",Bid,Ask\n" + "\n".join(body) + "\n")
    run = main_py(tmp_path, "backtest", "--data", str(data), "--strategy", "ma_crossover", "--qty", "100",
                  "--spread", "quotes", "--data-dir", str(tmp_path), "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    c = doc["costs"]
    traded = sum(Decimal(str(f["qty"])) for f in doc["fills"])
    assert traded > 0 and c["quoted_spread_fills"] == len(doc["fills"]) and c["unquoted_fills"] == 0
    assert Decimal(c["spread"]) == Decimal("0.01") * traded
    assert doc["fill_model"]["spread_source"] == "quotes"
