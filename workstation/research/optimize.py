"""Parameter sweeps: a grid of strategy parameters, each run as a backtest, in-sample and out-of-sample.

``run_local`` spreads the grid over processes (all cores by default); ``run_ray`` over a Ray
cluster (``pip install .[ray]``): the one at ``--address``, or a single-node one started on
127.0.0.1 for the sweep. Each run is an ordinary backtest (the same engine, an in-memory
journal), so every combination's figures are those of ``run_backtest`` with its parameters.
With a split, each combination runs twice: on the bars before the split (in-sample) and on
the bars from it (out-of-sample, warmed up on the in-sample bars), and both figures are
reported side by side, ranked by the in-sample metric.

The data goes to each worker once, never per combination: local worker processes are forked
with the sweep already in memory (the pool's initializer keeps it; the bars' columns stay
shared pages), and Ray gets it once with ``ray.put`` (workers map the columns from the object
store without copying). A combination sends back only its parameters and a dozen figures.
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
        if not grid[name.strip()]:
            raise ModelError(f"{name.strip()}: no values (use name=value, name=a,b,c or name=start:stop:step)")
    if not grid:
        raise ModelError("give the grid with --param name=start:stop:step")
    return grid


def check_grid(cls: type, grid: dict[str, list[str]]) -> None:
    """Every name is a parameter of ``cls`` and at least one combination is valid (else the first problem)."""
    declared = cls.parameters()
    for name in grid:
        if name not in declared:
            raise ModelError(f"{cls.plugin_name()} has no parameter {name!r} (parameters: {', '.join(declared)})")
    first: ModelError | None = None
    for combo in combinations(grid):
        try:
            cls.validate_params(combo)
            return
        except ModelError as exc:
            first = first or exc
    if first is not None:
        raise ModelError(f"no combination of the grid is valid: {first}")


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
    return s.ts_at(min(len(s) - 1, max(1, int(len(s) * frac))))


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


_CLASSES: dict[tuple[str, str | None], type] = {}  # per process: plugins are discovered once, not per combination


def _strategy(job: Sweep) -> type:
    key = (job.plugin, job.config_path)
    if key not in _CLASSES:
        from workstation.strategies.plugins import discover

        _CLASSES[key] = discover(config=job.config_path).get(job.plugin).cls
    return _CLASSES[key]


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


def _failed(exc: BaseException) -> SweepError:
    """A worker's failure as one line: what went wrong, never its traceback."""
    text = str(exc).strip().splitlines()
    return SweepError(f"a sweep worker failed: {type(exc).__name__}" + (f": {text[0]}" if text else ""))


def run_local(job: Sweep, combos: list[dict[str, str]], workers: int | None = None, progress: bool = False) -> list[dict[str, Any]]:
    """Every combination on a pool of processes (``workers``, default: all cores), rows in ``combos``' order."""
    import gc
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    n = max(1, min(workers or os.cpu_count() or 1, len(combos)))
    rows: list[dict[str, Any] | None] = [None] * len(combos)
    fork = os.name == "posix"
    ctx = mp.get_context("fork" if fork else "spawn")
    if fork:
        gc.freeze()  # the objects alive now stay out of the workers' collections: their pages stay shared
    try:
        with ProcessPoolExecutor(n, mp_context=ctx, initializer=_init, initargs=(job,)) as pool:
            futures = {pool.submit(_one, c): i for i, c in enumerate(combos)}
            done = as_completed(futures)
            try:
                if progress:
                    from rich.console import Console
                    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

                    with Progress(TextColumn("optimize"), BarColumn(), TextColumn("{task.completed}/{task.total} runs"),
                                  TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
                        task = bar.add_task("grid", total=len(futures))
                        for f in done:
                            rows[futures[f]] = f.result()
                            bar.advance(task)
                else:
                    for f in done:
                        rows[futures[f]] = f.result()
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    except BrokenProcessPool:
        raise SweepError("a sweep worker process died (out of memory?); try fewer --workers") from None
    except SweepError:
        raise
    except Exception as exc:  # noqa: BLE001 - a strategy's bug in a worker is one line for the user
        raise _failed(exc) from None
    finally:
        if fork:
            gc.unfreeze()
    return [r for r in rows if r is not None]


def _ray_evaluate(job: Sweep, params: dict[str, str]) -> dict[str, Any]:
    return evaluate(job, params)


def run_ray(job: Sweep, combos: list[dict[str, str]], address: str | None = None,
            workers: int | None = None) -> list[dict[str, Any]]:
    """Every combination as a Ray task, rows in ``combos``' order.

    On the cluster at ``address``; without one, on a single-node cluster started here on
    127.0.0.1 with ``workers`` CPUs (default: all cores), and stopped at the end. When Ray is
    already initialized in this process (a notebook, a test), its cluster is used and left
    running. The sweep goes to the object store once; ``workers`` also bounds the tasks in
    flight on a bigger cluster."""
    try:
        import ray
        from ray.exceptions import RayError
    except ImportError:
        raise SweepError("the ray executor needs Ray: pip install '.[ray]'") from None
    import logging

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: no usage report
    owned = not ray.is_initialized()
    if owned:
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
        try:
            if address:
                from pathlib import Path

                _check_reachable(address)
                root = Path(__file__).resolve().parents[2]  # the code the workers need: workstation, brokers, plugins
                env = {"working_dir": str(root),
                       "excludes": ["tests/", "bench/", ".git/", "*.sqlite", "*.html", "__pycache__/"]}
                ray.init(address=address, runtime_env=env, **quiet)
            else:
                cpus = max(1, workers or os.cpu_count() or 1)
                ray.init(num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1", **quiet)
        except SweepError:
            raise
        except Exception as exc:  # noqa: BLE001 - any start or connection failure is one line for the user
            where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise SweepError(f"cannot start or reach {where}: {first}") from None
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_ray_evaluate)
        shared = ray.put(job)
        limit = max(1, workers) if workers else len(combos)
        rows: list[dict[str, Any] | None] = [None] * len(combos)
        pending: dict[Any, int] = {}
        queue = iter(enumerate(combos))
        for i, c in queue:
            pending[remote.remote(shared, c)] = i
            if len(pending) >= limit:
                break
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                rows[pending.pop(ref)] = ray.get(ref)
            for i, c in queue:
                pending[remote.remote(shared, c)] = i
                break
        return [r for r in rows if r is not None]
    except RayError as exc:
        raise _failed(getattr(exc, "cause", None) or exc) from None
    finally:
        if owned:
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


def table(rows: list[dict[str, Any]], metric: str, cut: float | None) -> tuple[str, list[tuple[str, int, bool]], list[list[str]]]:
    """The sweep as text for a table that fits the terminal: its title, its columns as (name,
    drop rank: 0 never, higher first, wraps) and its cells. The parameters and the ranking metric
    always stay; a failed run's reason is in a last column ("problem")."""
    title = f"Sweep ranked by in-sample {metric}" + (f" (out-of-sample from {describe_split(cut)})" if cut else "")
    names = list(rows[0]["params"]) if rows else []
    figures = ((metric, 0), ("total_return", 2), ("max_drawdown", 4), ("trades", 6))
    cols = [(n, 0, False) for n in names] + [(f"IS {c}", keep, False) for c, keep in figures]
    if cut is not None:
        cols += [(f"OOS {c}", keep + 1 if keep else 1, False) for c, keep in figures]
    problems = [r.get("error") or next((d["error"] for d in (r.get("in_sample"), r.get("out_of_sample"))
                                        if d and d.get("error")), "") for r in rows]
    if any(problems):
        cols.append(("problem", 1, True))

    def cell(d: dict[str, Any] | None, c: str) -> str:
        v = None if not d or d.get("error") else d.get(c)
        if v is None:
            return "-"
        if c in ("total_return", "max_drawdown", "win_rate", "annual_return"):
            return f"{float(v) * 100:.2f}%"
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    cells = []
    for r, problem in zip(rows, problems, strict=True):
        line = [r["params"][n] for n in names] + [cell(r.get("in_sample"), c) for c, _ in figures]
        if cut is not None:
            line += [cell(r.get("out_of_sample"), c) for c, _ in figures]
        cells.append(line + ([problem] if any(problems) else []))
    return title, cols, cells


__all__ = ["METRICS", "Sweep", "SweepError", "combinations", "evaluate", "parse_grid", "rank", "run_local", "run_ray", "table"]
