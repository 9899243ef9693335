"""``optimize`` on a single-node Ray cluster on 127.0.0.1: one ``ray.init`` for the module."""

from __future__ import annotations

import json
import logging
import os
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.research.conftest import SWEEP_ARGS
from tests.research.test_optimize_sweep import GRID, figures_of, walk
from workstation.research import optimize as opt
from workstation.research.backtest import BacktestConfig

ray = pytest.importorskip("ray", reason="ray is not installed (optional extra: pip install '.[ray]')")
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_alone")]  # (one Ray module at a time)

@pytest.fixture(scope="module")
def cluster():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # no token file written to the home directory: a later `ray start` there would turn token
    # auth on for clusters whose clients (the CLI tests, with their own HOME) have no token
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             logging_level=logging.ERROR)
    try:
        yield
    finally:
        ray.shutdown()


def test_ray_tasks_report_exactly_what_each_combinations_own_backtest_does(cluster) -> None:
    bars, cfg = walk(), BacktestConfig(cash=Decimal(50_000))
    cut = float(bars.ts[int(len(bars) * 0.7)])
    job = opt.Sweep(plugin="ma_crossover", config_path=None, series=[bars], config=cfg, split=cut)
    combos = opt.combinations(GRID)
    rows = opt.run_ray(job, combos, workers=2)
    assert [r["params"] for r in rows] == combos
    ins, outs = bars.between(None, cut), bars.between(cut, None)
    for row in rows:
        assert row["in_sample"] == figures_of([ins], row["params"], cfg)
        assert row["out_of_sample"] == figures_of([outs], row["params"], cfg, warmup=[ins])
    assert ray.is_initialized()  # the caller's cluster is left running


def test_a_failing_ray_task_is_one_line(cluster) -> None:
    job = opt.Sweep(plugin="no_such_strategy", config_path=None, series=[walk(1_000)], config=BacktestConfig(), split=None)
    with pytest.raises(opt.SweepError) as failed:
        opt.run_ray(job, opt.combinations(GRID))
    assert "\n" not in str(failed.value) and "unknown strategy 'no_such_strategy'" in str(failed.value)


def test_executor_ray_without_an_address_starts_a_cluster_here_and_matches_local_processes(tmp_path: Path, local_sweep) -> None:
    env = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    on_ray = run_cli(*SWEEP_ARGS, "--executor", "ray", home=tmp_path, timeout=240, env=env)
    assert on_ray.returncode == 0, on_ray.stderr[-2000:]
    assert json.loads(on_ray.stdout) == local_sweep  # the same sweep on local processes (tests/research/conftest.py)
    assert len(json.loads(on_ray.stdout)["results"]) == 4
