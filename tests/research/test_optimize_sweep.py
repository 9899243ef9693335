"""``optimize`` on local processes: each combination's figures are a plain backtest's; bad input is one line."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from workstation.research import optimize as opt
from workstation.research.backtest import BacktestConfig, BarSeries, StrategySpec, metrics, run_backtest
from workstation.strategies.plugins import discover

GRID = {"fast": ["5", "10"], "slow": ["20", "30"]}


def walk(n: int = 20_000) -> BarSeries:
    """``n`` one-minute bars of a random walk in cents (enough for a few hundred crossings)."""
    rng = np.random.default_rng(18)
    close = 10_000 + np.cumsum(rng.integers(-5, 6, size=n))
    open_ = np.concatenate([[10_000], close[:-1]])
    high, low = np.maximum(open_, close) + 1, np.minimum(open_, close) - 1
    return BarSeries.from_arrays("WALK", 1_600_000_000 + 60.0 * np.arange(n), open_ / 100, high / 100, low / 100,
                                 close / 100, np.full(n, 1_000.0), seconds=60, tick=Decimal("0.01"))


def figures_of(series, params, cfg, warmup=()) -> dict:
    """What a plain ``run_backtest`` of ``params`` reports, as the sweep writes it."""
    cls = discover().get("ma_crossover").cls
    m = metrics(run_backtest(series, [StrategySpec(cls, params)], cfg, warmup=list(warmup)))
    return {k: (str(m[k]) if isinstance(m[k], Decimal) else m[k]) for k in opt._FIGURES}


@pytest.fixture(scope="module")
def bars() -> BarSeries:
    return walk()


def test_every_combination_on_two_processes_reports_exactly_what_its_own_backtest_does(bars) -> None:
    cfg = BacktestConfig(cash=Decimal(50_000))
    cut = float(bars.ts[int(len(bars) * 0.7)])
    job = opt.Sweep(plugin="ma_crossover", config_path=None, series=[bars], config=cfg, split=cut)
    combos = opt.combinations(GRID)
    rows = opt.run_local(job, combos, workers=2)
    assert [r["params"] for r in rows] == combos  # in the grid's order, whatever finished first
    ins, outs = bars.between(None, cut), bars.between(cut, None)
    for row in rows:
        assert row["in_sample"] == figures_of([ins], row["params"], cfg)
        assert row["out_of_sample"] == figures_of([outs], row["params"], cfg, warmup=[ins])
        assert row["in_sample"]["trades"] > 0


def test_a_worker_that_fails_or_dies_is_one_line(bars, monkeypatch) -> None:
    job = opt.Sweep(plugin="no_such_strategy", config_path=None, series=[bars], config=BacktestConfig(), split=None)
    with pytest.raises(opt.SweepError) as failed:
        opt.run_local(job, opt.combinations(GRID), workers=2)
    assert "\n" not in str(failed.value) and "unknown strategy 'no_such_strategy'" in str(failed.value)

    monkeypatch.setattr(opt, "evaluate", lambda job, params: os._exit(9))  # a worker killed mid-run (OOM, signal)
    good = opt.Sweep(plugin="ma_crossover", config_path=None, series=[bars], config=BacktestConfig(), split=None)
    with pytest.raises(opt.SweepError) as died:
        opt.run_local(good, opt.combinations(GRID), workers=2)
    assert "\n" not in str(died.value) and "worker process died" in str(died.value)


@pytest.mark.parametrize(("params", "says"), [
    (["fast="], "fast: no values"),
    (["fast=20:5:5"], "start <= stop"),
    (["fast=30", "slow=10:20:10"], "no combination of the grid is valid: fast (30) must be shorter than slow"),
    (["fast=abc"], "fast"),
    (["speed=3"], "no parameter 'speed'"),
])
def test_a_bad_grid_is_one_line_before_any_data_is_read(params, says, tmp_path: Path) -> None:
    from tests.conftest import run_cli

    args = [a for p in params for a in ("--param", p)]
    missing = str(tmp_path / "never-read.csv")  # the grid is refused first: the file is never opened
    r = run_cli("optimize", "--strategy", "ma_crossover", "--data", missing, *args, home=tmp_path)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and says in r.stderr and "Traceback" not in r.stderr


def test_the_sweep_table_cuts_no_value_at_80_columns_and_says_why_a_combination_did_not_run(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    orcl = str(Path(__file__).parents[1] / "data" / "orcl-1995-2014.txt")
    args = ["optimize", "--strategy", "ma_crossover", "--data", orcl, "--param", "fast=5,20", "--param", "slow=10,30",
            "--split", "0.7", "--workers", "2"]
    narrow = run_cli(*args, home=tmp_path, env={"COLUMNS": "80"}, timeout=120)
    assert narrow.returncode == 0, narrow.stderr
    assert "…" not in narrow.stdout and all(len(line) <= 80 for line in narrow.stdout.splitlines()), narrow.stdout
    flat = " ".join(narrow.stdout.split())  # the caption and the problem may wrap
    assert "not shown: " in flat and "OOS trades" in flat.split("not shown: ")[1]
    assert " problem " in flat and "fast (20) must be" in flat and "shorter than slow" in flat  # the reason, wrapped
    wide = run_cli(*args, "--wide", home=tmp_path, env={"COLUMNS": "80"}, timeout=120)
    header = " ".join(wide.stdout.split())
    assert "OOS trades" in header and "IS max_drawdown" in header and "not shown" not in wide.stdout
