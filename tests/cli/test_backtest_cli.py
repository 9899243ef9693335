"""``main.py backtest`` and ``main.py optimize`` as a user runs them."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from workstation.cli.app import main

DATA = Path(__file__).parents[1] / "data"
ORCL = str(DATA / "orcl-1995-2014.txt")


def cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def test_json_prints_fills_final_equity_and_metrics_with_money_as_exact_strings(capsys) -> None:
    code, out, err = cli(capsys, "backtest", "--data", ORCL, "--strategy", "ma_crossover", "--param", "fast=10",
                         "--param", "slow=30", "--qty", "100", "--json")
    assert code == 0, err
    doc = json.loads(out)
    first = doc["fills"][0]
    assert set(first) >= {"ts", "symbol", "side", "qty", "price", "commission"}
    assert first == {**first, "ts": "1995-05-12T13:30:00.000Z", "symbol": "ORCL", "side": "buy", "qty": "100",
                     "price": "2.37037", "commission": "0"}
    assert isinstance(doc["final_equity"], str) and Decimal(doc["final_equity"]) > 0
    m = doc["metrics"]
    for key in ("total_return", "annual_return", "annual_volatility", "sharpe", "sortino", "calmar", "max_drawdown",
                "max_drawdown_days", "win_rate", "profit_factor", "avg_win", "avg_loss", "exposure", "turnover",
                "var_95", "cvar_95", "trades", "alpha", "beta"):
        assert key in m
    assert doc["positions"] == {"ORCL": "100"}  # the last position stays open, marked at the last close


def test_simulated_history_is_deterministic_with_a_seed(capsys) -> None:
    def args(seed: str) -> tuple[str, ...]:
        return ("backtest", "-s", "AAPL", "-d", "5", "--strategy", "ma_crossover", "--seed", seed, "--to", "2026-03-07", "--json")

    code, one, err = cli(capsys, *args("4"))
    assert code == 0, err
    code, two, _ = cli(capsys, *args("4"))
    a, b = json.loads(one), json.loads(two)
    assert a["fills"] == b["fills"] and a["final_equity"] == b["final_equity"] and len(a["fills"]) > 5
    code, three, _ = cli(capsys, *args("7"))
    assert json.loads(three)["fills"] != a["fills"]


def test_commission_in_percent_and_from_to_dates(capsys) -> None:
    code, out, err = cli(capsys, "backtest", "--data", ORCL, "--strategy", "ma_crossover", "--qty", "100",
                         "--commission", "0.1%", "--from", "2010-01-01", "--to", "2011-01-01", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert all("2010" <= f["ts"] < "2011" for f in doc["fills"])
    f = doc["fills"][0]
    assert Decimal(f["commission"]) == (Decimal(f["price"]) * 100 / 1000).quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,2,0.5,1.5,1.5,100\n2020-01-01,1,2,0.5,1.5,1.5,100\n",
         "line 3: timestamp 2020-01-01 is before 2020-01-02"),
        ("Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,2,0.5,1.5,1.5,100\n2020-01-02,1,2,0.5,1.5,1.5,100\n",
         "line 3: duplicate timestamp"),
        ("Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,0.4,0.5,1.5,1.5,100\n", "line 2: High 0.4 is below Low 0.5"),
        ("Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,2,abc,1.5,1.5,100\n", "line 2"),
        ("what,is,this\n1,2,3\n", "line 1"),
    ],
)
def test_bad_files_name_file_line_and_problem_and_exit_2(capsys, tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad-data.csv"
    path.write_text(content)
    code, out, err = cli(capsys, "backtest", "--data", str(path), "--strategy", "ma_crossover")
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and problem in lines[0]
    assert not (tmp_path / "home" / "data" / "backtests").exists()  # nothing half-ran


def test_missing_file_unknown_strategy_and_bad_options_are_one_line_errors(capsys) -> None:
    for args, words in [
        (("--data", "/no/such.csv", "--strategy", "ma_crossover"), "/no/such.csv"),
        (("--data", ORCL, "--strategy", "nope"), "unknown strategy"),
        (("--data", ORCL, "--strategy", "ma_crossover", "--param", "fast=50"), "fast"),
        (("--data", ORCL, "--strategy", "ma_crossover", "--commission", "lots"), "commission"),
        (("--data", ORCL, "--strategy", "ma_crossover", "--from", "yesterday"), "--from"),
    ]:
        code, out, err = cli(capsys, "backtest", *args)
        assert code == 2, (args, err)
        assert len(err.strip().splitlines()) == 1 and words in err


def test_the_html_report_is_one_self_contained_file_and_csv_exports_fills_orders_equity(capsys, tmp_path: Path) -> None:
    report = tmp_path / "out.html"
    folder = tmp_path / "csv"
    code, out, err = cli(capsys, "backtest", "--data", ORCL, "--strategy", "ma_crossover", "--qty", "100",
                         "--report", str(report), "--csv", str(folder))
    assert code == 0, err
    page = report.read_text()
    for needle in ('id="equity"', 'id="drawdown"', 'id="monthly"', 'id="price"', "createElementNS", '"metrics"'):
        assert needle in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    assert "<script src" not in page and "<link" not in page
    fills = (folder / "fills.csv").read_text().splitlines()
    assert fills[0].startswith("ts,symbol,side,qty,price,commission") and len(fills) == 196
    assert (folder / "orders.csv").read_text().count("\n") == 196
    assert (folder / "equity.csv").read_text().count("\n") == 5037
    assert "Equity" in out and "sharpe" in out  # the terminal summary with its chart


def test_optimize_runs_the_grid_on_processes_and_reports_in_and_out_of_sample(capsys) -> None:
    code, out, err = cli(capsys, "optimize", "--strategy", "ma_crossover", "--data", ORCL, "--param", "fast=5:10:5",
                         "--param", "slow=20:30:10", "--metric", "sharpe", "--split", "2010-01-01", "--json", "--workers", "2")
    assert code == 0, err
    doc = json.loads(out)
    rows = doc["results"]
    assert [sorted(r["params"].items()) for r in rows] and len(rows) == 4
    sharpes = [r["in_sample"]["sharpe"] for r in rows]
    assert sharpes == sorted(sharpes, reverse=True)
    assert all("out_of_sample" in r and r["out_of_sample"]["trades"] >= 1 for r in rows)
    assert doc["split"].startswith("2010-01-01")


def test_execution_quality_reads_any_sessions_journal_paper_or_backtest(capsys) -> None:
    code, _, err = cli(capsys, "buy", "10", "AAPL")
    assert code == 0, err
    code, out, err = cli(capsys, "execution", "--json")  # the paper account
    assert code == 0, err
    doc = json.loads(out)
    assert doc["fills"] == 1 and doc["by_symbol"]["AAPL"]["vs_decision"] is not None
    code, _, err = cli(capsys, "backtest", "--data", ORCL, "--strategy", "ma_crossover", "--slippage", "100bps", "--json")
    assert code == 0, err
    code, out, err = cli(capsys, "execution", "--backtest", "last", "--json")
    assert code == 0, err
    orcl = json.loads(out)["by_strategy"]["ma_crossover"]
    assert orcl["fills"] == 195
    assert orcl["vs_arrival_bps"] == pytest.approx(100, abs=1)  # 100 bps against us at every next-bar open
    code, out, err = cli(capsys, "execution", "--session", "last")
    assert code == 2 and "no realtime sessions" in err


def test_several_data_files_run_on_one_clock_and_parquet_is_read(capsys, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from brokers.paper.replay import ReplayFeed

    bars = ReplayFeed.from_file(DATA / "nvda-1999-2014.txt").bars
    table = pa.table({"timestamp": [b.ts for b in bars], "open": [b.open for b in bars], "high": [b.high for b in bars],
                      "low": [b.low for b in bars], "close": [b.close for b in bars], "volume": [b.volume for b in bars]})
    pq.write_table(table, tmp_path / "nvda.parquet")
    code, out, err = cli(capsys, "backtest", "--data", ORCL, "--data", str(tmp_path / "nvda.parquet"),
                         "--strategy", "ma_crossover", "--qty", "10", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert {f["symbol"] for f in doc["fills"]} == {"ORCL", "NVDA"}
    assert [f["ts"] for f in doc["fills"]] == sorted(f["ts"] for f in doc["fills"])
    assert set(doc["attribution"]["symbol"]) == {"ORCL", "NVDA"}


def test_size_buys_a_fraction_of_equity(capsys) -> None:
    code, out, err = cli(capsys, "backtest", "--data", ORCL, "--strategy", "ma_crossover", "--size", "10%", "--json")
    assert code == 0, err
    first = json.loads(out)["fills"][0]
    notional = Decimal(first["qty"]) * Decimal(first["price"])
    assert Decimal(9_000) < notional < Decimal(11_000)  # about 10% of 100,000, sized at the signal bar's close


_DOM = """
const elements = {};
function mk(tag) { return {tag, style: {}, children: [], attrs: {}, innerHTML: "", textContent: "", clientWidth: 900,
  value: "ORCL", listeners: {}, setAttribute(k, v) { this.attrs[k] = v; }, appendChild(c) { this.children.push(c); return c; },
  addEventListener(k, f) { this.listeners[k] = f; }, getBoundingClientRect() { return {left: 0, top: 0}; }}; }
global.document = {getElementById(id) { return elements[id] || (elements[id] = mk(id)); },
  createElementNS(ns, t) { return mk(t); }, createElement(t) { return mk(t); }};
global.window = {addEventListener() {}};
"""
_CHECK = """
const svg = elements["equity"].children[0];
const path = svg.children.find(c => c.tag === "path");
const price = elements["price"].children[0];
const markers = price.children.filter(c => c.tag === "path" && c.listeners.mousemove);
svg.listeners.mousemove({clientX: 300, clientY: 50, target: svg});
console.log(JSON.stringify({equity_path: path.attrs.d.length, markers: markers.length,
  tip: elements["tip"].textContent, months: elements["monthly"].children[0].children.filter(c => c.tag === "rect").length}));
"""


def test_the_report_script_draws_every_chart_and_answers_the_mouse(capsys, tmp_path: Path) -> None:
    import re
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the report's script is not executed")
    report = tmp_path / "out.html"
    code, _, err = cli(capsys, "backtest", "--data", ORCL, "--strategy", "ma_crossover", "--report", str(report), "--json")
    assert code == 0, err
    script = re.search(r"<script>(.*)</script>", report.read_text(), re.S).group(1)
    (tmp_path / "page.js").write_text(_DOM + script + _CHECK)
    run = subprocess.run([node, str(tmp_path / "page.js")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    drawn = json.loads(run.stdout)
    assert drawn["equity_path"] > 1000 and drawn["markers"] == 195 and drawn["months"] > 200
    assert "equity" in drawn["tip"]
