"""``main.py backtest --spread/--participation/--impact/--capacity`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).parents[2]
ORCL = str(ROOT / "tests" / "data" / "orcl-1995-2014.txt")


def main_py(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={"WORKSTATION_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "COLUMNS": "160"},
    )


def test_the_fill_model_and_its_costs_and_the_capacity_curve_are_in_the_json(tmp_path) -> None:
    run = main_py(tmp_path, "backtest", "--data", ORCL, "--strategy", "ma_crossover", "--qty", "1000",
                  "--from", "2005-01-01", "--to", "2008-01-01", "--spread", "5", "--impact", "1", "--capacity", "--data-dir", str(tmp_path), "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["fill_model"]["name"] == "spread+impact"
    c = doc["costs"]
    assert Decimal(c["spread"]) > 0 and Decimal(c["impact"]) > 0
    assert Decimal(c["total"]) == Decimal(c["commission"]) + Decimal(c["spread"]) + Decimal(c["impact"])
    rows = doc["capacity"]
    assert [r["size"] for r in rows] == [1, 10, 100]
    assert rows[0]["total_return"] > rows[2]["total_return"]
    assert Decimal(rows[2]["impact"]) > Decimal(rows[0]["impact"])


def test_the_summary_shows_the_costs_split(tmp_path) -> None:
    run = main_py(tmp_path, "backtest", "--data", ORCL, "--strategy", "ma_crossover", "--qty", "100",
                  "--from", "2006-01-01", "--to", "2007-01-01", "--spread", "auto", "--data-dir", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert "Costs (fill model: spread)" in run.stdout
    assert "Corwin-Schultz" in run.stdout


def test_a_bad_fill_model_value_is_one_line_and_exit_2(tmp_path) -> None:
    for flag, value in (("--participation", "0%"), ("--spread", "wide"), ("--impact", "strong")):
        run = main_py(tmp_path, "backtest", "--data", ORCL, flag, value, "--data-dir", str(tmp_path))
        assert run.returncode == 2, (flag, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1 and flag in run.stderr
        assert "Traceback" not in run.stderr
        assert not (tmp_path / "backtests").exists() or not any((tmp_path / "backtests").iterdir())
