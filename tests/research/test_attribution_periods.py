"""A backtest's P&L by day, week and month: all three shown (table, --json, HTML report), each
summing to the run's P&L to the last digit."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import run_cli

ORCL = str(Path(__file__).parents[1] / "data" / "orcl-1995-2014.txt")
RUN = ("backtest", "--data", ORCL, "--strategy", "ma_crossover", "--param", "fast=5", "--param", "slow=15",
       "--qty", "137", "--commission", "0.0037", "--from", "2010-01-01", "--to", "2010-06-30")


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    home = tmp_path_factory.mktemp("periods")
    r = run_cli(*RUN, "--json", home=home)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_json_has_day_week_and_month_each_summing_to_the_pnl(doc) -> None:
    pnl = Decimal(doc["final_equity"]) - Decimal(100_000)
    assert pnl != 0 and len(doc["fills"]) > 2
    attr = doc["attribution"]
    assert list(attr["month"]) == ["2010-01", "2010-02", "2010-03", "2010-04", "2010-05", "2010-06"]
    assert "2010-W01" in attr["week"] and "2010-01-04" in attr["day"] and len(attr["day"]) > 100
    for period in ("day", "week", "month"):
        assert sum((Decimal(v) for v in attr[period].values()), Decimal(0)) == pnl, period
    by_month: dict[str, Decimal] = defaultdict(Decimal)
    for day, v in attr["day"].items():
        by_month[day[:7]] += Decimal(v)
    assert {k: Decimal(v) for k, v in attr["month"].items()} == by_month  # a month is its days


def test_the_terminal_summary_shows_the_three_with_the_pnl(doc, tmp_path) -> None:
    r = run_cli(*RUN, home=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "P&L by day, week and month" in out
    pnl = Decimal(doc["final_equity"]) - Decimal(100_000)
    best_day = max(doc["attribution"]["day"].items(), key=lambda kv: Decimal(kv[1]))
    for period in ("day", "week", "month"):
        row = next(line for line in out.splitlines() if re.match(rf"│ {period} +│", line))
        count = len(doc["attribution"][period])
        assert re.search(rf"│ +{count:,} │", row), row
        assert row.rstrip(" │").endswith(f"{pnl:,.2f}"), row
    day_row = next(line for line in out.splitlines() if re.match(r"│ day +│", line))
    assert f"{Decimal(best_day[1]):+,.2f} {best_day[0]}" in day_row


def test_the_html_report_lets_you_pick_day_week_or_month(tmp_path) -> None:
    page = tmp_path / "out.html"
    r = run_cli(*RUN, "--report", str(page), home=tmp_path)
    assert r.returncode == 0, r.stderr
    text = page.read_text(encoding="utf-8")
    assert '<select id="period"><option>day</option><option>week</option><option selected>month</option></select>' in text
    data = json.loads(re.search(r"const D = (.*);\n", text).group(1))
    attr = data["attribution"]
    sums = {p: sum((Decimal(v) for v in attr[p].values()), Decimal(0)) for p in ("day", "week", "month")}
    assert sums["day"] == sums["week"] == sums["month"] != 0


def test_the_report_script_draws_the_chosen_period(tmp_path) -> None:
    import shutil
    import subprocess

    from tests.cli.test_backtest_cli import _DOM

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the report's script is not executed")
    page = tmp_path / "out.html"
    assert run_cli(*RUN, "--report", str(page), home=tmp_path).returncode == 0
    script = re.search(r"<script>(.*)</script>", page.read_text(encoding="utf-8"), re.S).group(1)
    check = 'console.log(elements["periods"].innerHTML);'
    drawn = {}
    for chosen in ("week", "junk"):
        pick = f'elements["period"] = Object.assign(mk("period"), {{value: "{chosen}"}});\n'
        (tmp_path / "page.js").write_text(_DOM + pick + script + check)
        run = subprocess.run([node, str(tmp_path / "page.js")], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        drawn[chosen] = run.stdout
    assert "<th>week</th>" in drawn["week"] and "<td>2010-W01</td>" in drawn["week"]
    assert "<th>month</th>" in drawn["junk"] and "<td>2010-06</td>" in drawn["junk"]  # the month by default
