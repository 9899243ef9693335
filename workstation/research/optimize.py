"""Parameter sweeps: a grid of strategy parameters, each run as a backtest, in-sample and out-of-sample.

``run_local`` spreads the grid over processes (all cores by default); ``run_ray`` over a Ray
cluster (``pip install .[ray]``). Each run is an ordinary backtest (the same engine, an
in-memory journal). With a split, each combination runs twice: on the bars before the
split (in-sample) and on the bars from it (out-of-sample, warmed up on the in-sample bars),
and both figures are reported side by side, ranked by the in-sample metric.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from workstation.research.backtest import BacktestConfig, BarSeries, StrategySpec, metrics, run_backtest
from workstation.core.model import ModelError, to_decimal

METRICS = ("sharpe", "sortino", "calmar", "total_return", "annual_return", "max_drawdown", "profit_factor", "win_rate")


class SweepError(Exception):
    """The sweep could not run (an executor failed); one line."""


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``fast=5:30:5`` (start:stop:step, stop included), ``fast=5,10,20`` or ``fast=10``."""
    grid: dict[str, list[str]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ModelError(f"malformed parameter {item!r}: use name=value or name=start:stop:step")
        value = value.strip()
        if value.count(":") == 2:
            a, b, s = (to_decimal(x, f"{name} range") for x in value.split(":"))
            if s <= 0 or b < a:
                raise ModelError(f"{name}: a range needs start <= stop and a positive step, got {value}")
            vals, x = [], a
            while x <= b:
                vals.append(str(x))
                x += s
            grid[name.strip()] = vals
        else:
            grid[name.strip()] = [v.strip() for v in value.split(",") if v.strip()]
    if not grid:
        raise ModelError("give the grid with --param name=start:stop:step")
    return grid


def check_grid(cls: type, grid: dict[str, list[str]]) -> None:
    declared = cls.parameters()
    for name in grid:
        if name not in declared:
            raise ModelError(f"{cls.plugin_name()} has no parameter {name!r} (parameters: {', '.join(declared)})")


def combinations(grid: dict[str, list[str]]) -> list[dict[str, str]]:
    names = list(grid)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(grid[n] for n in names))]


def split_point(series: Sequence[BarSeries], split: str | None, parse_when: Any) -> float | None:
    """The out-of-sample start: a date, or a fraction of the bars (0.7: the last 30% out)."""
    if split is None:
        return None
    text = split.strip()
    try:
        frac = float(text)
    except ValueError:
        return parse_when(text, "--split")
    if not 0 < frac < 1:
        raise ModelError(f"--split fraction must be between 0 and 1, got {text}")
    s = series[0]
    return float(s.ts[min(len(s) - 1, max(1, int(len(s) * frac)))])


def describe_split(cut: float | None) -> str | None:
    from workstation.core.model import iso

    return None if cut is None else iso(cut)


@dataclass(frozen=True)
class Sweep:
    """Everything a worker needs (picklable): the plugin by name, the data, the money."""

    plugin: str
    config_path: str | None
    series: list[BarSeries]
    config: BacktestConfig
    split: float | None


_FIGURES = ("sharpe", "sortino", "calmar", "total_return", "annual_return", "max_drawdown", "profit_factor", "win_rate",
            "trades", "final_equity")


def _strategy(job: Sweep) -> type:
    from workstation.strategies.plugins import discover

    return discover(config=job.config_path).get(job.plugin).cls


def _figures(series: list[BarSeries], cls: type, params: dict[str, str], cfg: BacktestConfig, warm: list[BarSeries]) -> dict[str, Any]:
    if any(not len(s) for s in series):
        return {"error": "no bars"}
    try:
        result = run_backtest(series, [StrategySpec(cls, params)], cfg, warmup=warm)
    except ModelError as exc:
        return {"error": str(exc)}
    m = metrics(result)
    return {k: (str(m[k]) if isinstance(m[k], Decimal) else m[k]) for k in _FIGURES}


def evaluate(job: Sweep, params: dict[str, str]) -> dict[str, Any]:
    """One combination: in-sample (and out-of-sample with a split) figures."""
    cls = _strategy(job)
    try:
        cls.validate_params(params)
    except ModelError as exc:
        return {"params": params, "error": str(exc)}
    if job.split is None:
        return {"params": params, "in_sample": _figures(job.series, cls, params, job.config, [])}
    ins = [s.between(None, job.split) for s in job.series]
    outs = [s.between(job.split, None) for s in job.series]
    return {
        "params": params,
        "in_sample": _figures(ins, cls, params, job.config, []),
        "out_of_sample": _figures(outs, cls, params, job.config, [s for s in ins if len(s)]),
    }


_JOB: Sweep | None = None


def _init(job: Sweep) -> None:
    global _JOB
    _JOB = job


def _one(params: dict[str, str]) -> dict[str, Any]:
    assert _JOB is not None
    return evaluate(_JOB, params)


def run_local(job: Sweep, combos: list[dict[str, str]], workers: int | None = None, progress: bool = False) -> list[dict[str, Any]]:
    """Every combination on a pool of processes (``workers``, default: all cores)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    n = max(1, min(workers or os.cpu_count() or 1, len(combos)))
    rows: list[dict[str, Any]] = []
    ctx = mp.get_context("spawn" if os.name != "posix" else "fork")
    with ProcessPoolExecutor(n, mp_context=ctx, initializer=_init, initargs=(job,)) as pool:
        futures = [pool.submit(_one, c) for c in combos]
        if progress:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            with Progress(TextColumn("optimize"), BarColumn(), TextColumn("{task.completed}/{task.total} runs"),
                          TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("grid", total=len(futures))
                for f in as_completed(futures):
                    rows.append(f.result())
                    bar.advance(task)
        else:
            rows = [f.result() for f in as_completed(futures)]
    return rows


def run_ray(job: Sweep, combos: list[dict[str, str]], address: str | None) -> list[dict[str, Any]]:
    """Every combination as a Ray task on the cluster at ``address``."""
    try:
        import ray
    except ImportError:
        raise SweepError("the ray executor needs Ray: pip install '.[ray]'") from None
    from pathlib import Path

    _check_reachable(address)
    root = Path(__file__).resolve().parents[2]  # the code the workers need: workstation, brokers, plugins
    env = {"working_dir": str(root), "excludes": ["tests/", "bench/", ".git/", "*.sqlite", "*.html", "__pycache__/"]}
    try:
        ray.init(address=address or "auto", ignore_reinit_error=True, log_to_driver=False, runtime_env=env)
    except Exception as exc:  # noqa: BLE001 - any connection failure is one line for the user
        raise SweepError(f"cannot reach the Ray cluster at {address or 'auto'}: {exc}") from None
    try:
        remote = ray.remote(evaluate)
        shared = ray.put(job)
        return list(ray.get([remote.remote(shared, c) for c in combos]))
    finally:
        ray.shutdown()


def _check_reachable(address: str | None) -> None:
    """Fail fast (Ray itself retries for minutes) when ``host:port`` does not answer."""
    import socket

    if not address or address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=3):
            return
    except (OSError, ValueError):
        raise SweepError(f"cannot reach the Ray cluster at {address}") from None


def rank(rows: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Best in-sample ``metric`` first (max drawdown: the shallowest); failed runs last."""
    def key(r: dict[str, Any]) -> tuple[int, float]:
        v = (r.get("in_sample") or {}).get(metric)
        return (1, 0.0) if v is None else (0, -float(v))

    return sorted(rows, key=key)


def table(rows: list[dict[str, Any]], metric: str, cut: float | None) -> Any:
    from rich.table import Table

    t = Table(title=f"Sweep ranked by in-sample {metric}" + (f" (out-of-sample from {describe_split(cut)})" if cut else ""),
              title_justify="left")
    names = list(rows[0]["params"]) if rows else []
    for n in names:
        t.add_column(n, justify="right")
    cols = (metric, "total_return", "max_drawdown", "trades")
    for c in cols:
        t.add_column(f"IS {c}", justify="right")
    if cut is not None:
        for c in cols:
            t.add_column(f"OOS {c}", justify="right")

    def cell(d: dict[str, Any] | None, c: str) -> str:
        if not d or d.get("error"):
            return (d or {}).get("error", "-")[:30]
        v = d.get(c)
        if v is None:
            return "-"
        if c in ("total_return", "max_drawdown", "win_rate", "annual_return"):
            return f"{float(v) * 100:.2f}%"
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    for r in rows:
        cells = [r["params"][n] for n in names] + [cell(r.get("in_sample"), c) for c in cols]
        if cut is not None:
            cells += [cell(r.get("out_of_sample"), c) for c in cols]
        t.add_row(*cells)
    return t


__all__ = ["METRICS", "Sweep", "SweepError", "combinations", "evaluate", "parse_grid", "rank", "run_local", "run_ray"]
