"""Parameter sweeps as a user runs them: ``main.py optimize`` on one million 1-minute bars, whole process.

The command is the one a user types,

    main.py optimize --data bars.csv --strategy ma_crossover --param fast=10,20 --param slow=30,60 --json

run in a fresh process on local processes (``--workers 1`` and ``2``) and on a single-node Ray
cluster that the command starts on 127.0.0.1 (``--executor ray --workers 1`` and ``2``). Each
configuration runs ``--repeat`` times (3); the medians are reported. For each run: wall time
from start to exit, and the peak memory of the whole process tree (the command, its worker
processes and, with Ray, its cluster), sampled from the OS with psutil every 0.1 s: the sum of
RSS (shared pages counted once per process) and of PSS (shared pages split between the
processes that map them: the honest total). Without psutil only ``ru_maxrss`` is known (the
largest single process).

Rates: ``combos_per_s`` is the grid over the whole wall time; ``sweep_combos_per_s`` leaves out
what every configuration pays before the first run (interpreter, imports, reading the file:
``load_s``, measured on its own) and, for Ray, ``ray_start_s`` (a cluster started and stopped
with nothing to do). ``scaling`` is the 2-worker rate over the 1-worker rate (2.0 is perfect).
Every run's figures are checked: no failed combination, and every configuration's results equal.
The default grid has 4 combinations (20-60 s on one worker here); the issue's 16-combination grid
(``--param fast=5:20:5 --param slow=30:60:10``) takes minutes per run on this machine.

    PYTHONPATH=. python bench/bench_optimize.py [--data FILE | --bars 1000000] [--repeat 3]
        [--param fast=10,20 --param slow=30,60] [--only local:1,local:2,ray:1,ray:2]

The file is /tmp/b18/bars_1m.csv when present (``--data`` to choose another), else the random
walk of ``bench_backtest.make_bars`` written to a temporary CSV.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT

DEFAULT_DATA = Path("/tmp/b18/bars_1m.csv")
GRID = ["fast=10,20", "slow=30,60"]  # 4 combinations: 20-60 s on one worker
CONFIGS = ["local:1", "local:2", "ray:1", "ray:2"]


def grid_size(params: list[str]) -> int:
    from workstation.research.optimize import combinations, parse_grid

    return len(combinations(parse_grid(params)))


def tree_memory(root: object) -> tuple[float, float]:
    """(sum of RSS, sum of PSS) in MB of ``root`` (a psutil.Process) and all its descendants."""
    import psutil

    rss = pss = 0
    try:
        procs = [root, *root.children(recursive=True)]  # type: ignore[attr-defined]
    except psutil.Error:
        return 0.0, 0.0
    for p in procs:
        try:
            full = p.memory_full_info()
        except psutil.Error:
            continue
        rss += full.rss
        pss += getattr(full, "pss", full.rss)
    return rss / 2**20, pss / 2**20


def run(argv: list[str], env: dict[str, str], out: Path) -> dict:
    """One command start to exit: wall, peak tree RSS and PSS (psutil), ``ru_maxrss`` (wait4)."""
    try:
        import psutil
    except ImportError:
        psutil = None  # type: ignore[assignment]
    peak_rss = peak_pss = 0.0
    with out.open("wb") as stdout, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=stdout, stderr=err)
        watched = psutil.Process(proc.pid) if psutil else None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if watched is not None:
                rss, pss = tree_memory(watched)
                peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            time.sleep(0.1)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            lines = [x for x in err.read().decode(errors="replace").splitlines() if x.strip()]
            raise SystemExit(f"{' '.join(argv[2:])} exited {proc.returncode}: {lines[-1] if lines else ''}")
    return {"wall": wall, "tree_rss": peak_rss, "tree_pss": peak_pss, "maxrss": usage.ru_maxrss / 1024}


def timed(code: str, env: dict[str, str], repeat: int) -> float:
    """Median wall seconds of ``python -c code`` in a fresh process."""
    walls = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, cwd=str(ROOT), check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
    return statistics.median(walls)


def figures(doc: dict) -> list:
    return sorted((json.dumps(r["params"], sort_keys=True), json.dumps(r["in_sample"], sort_keys=True)) for r in doc["results"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--bars", type=int, default=1_000_000, help="bars to generate when there is no --data file")
    ap.add_argument("--param", action="append", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default=",".join(CONFIGS), help="configurations, e.g. local:1,local:2")
    args = ap.parse_args()
    params = args.param or GRID
    configs = [c for c in args.only.split(",") if c]
    n = grid_size(params)

    with tempfile.TemporaryDirectory(prefix="bench-optimize-") as tmp:
        data = args.data or (DEFAULT_DATA if DEFAULT_DATA.is_file() else None)
        if data is None:
            from bench_backtest_cli import write_csv

            data = Path(tmp) / "bars.csv"
            write_csv(args.bars, data)
        env = {**os.environ, "WORKSTATION_HOME": str(Path(tmp) / "home"), "PYTHONPATH": str(ROOT),
               "RAY_USAGE_STATS_ENABLED": "0"}
        load_s = timed("import workstation.cli.app, workstation.research.optimize\n"
                       "from workstation.research.backtest import load_series\n"
                       f"load_series({str(data)!r})", env, args.repeat)
        ray_start_s = None
        if any(c.startswith("ray") for c in configs):
            ray_start_s = timed("import logging, ray\nray.init(num_cpus=1, include_dashboard=False, "
                                "_node_ip_address='127.0.0.1', log_to_driver=False, logging_level=logging.ERROR)\n"
                                "ray.shutdown()", env, args.repeat)
        load = os.getloadavg()
        report: dict = {
            "command": "main.py optimize --data FILE --strategy ma_crossover " + " ".join(f"--param {p}" for p in params)
                       + " --json --executor E --workers N",
            "data": str(data), "combinations": n, "repeat": args.repeat, "cpus": os.cpu_count(),
            "load_s": round(load_s, 2), "ray_start_s": None if ray_start_s is None else round(ray_start_s, 2),
            "runs": {},
        }
        reference = None
        for config in configs:
            executor, workers = config.split(":")
            argv = [sys.executable, str(ROOT / "main.py"), "optimize", "--data", str(data), "--strategy", "ma_crossover",
                    *(a for p in params for a in ("--param", p)), "--json", "--executor", executor, "--workers", workers]
            samples = []
            for i in range(args.repeat):
                out = Path(tmp) / f"{executor}-{workers}-{i}.json"
                samples.append(run(argv, env, out))
                doc = json.loads(out.read_text())
                bad = [r for r in doc["results"] if "error" in r.get("in_sample", {"error": 1})]
                if len(doc["results"]) != n or bad:
                    raise SystemExit(f"{config}: {len(doc['results'])} rows, {len(bad)} failed")
                got = figures(doc)
                reference = reference or got
                if got != reference:
                    raise SystemExit(f"{config}: figures differ from the first configuration's")
            wall = statistics.median(s["wall"] for s in samples)
            fixed = load_s + ((ray_start_s or 0.0) if executor == "ray" else 0.0)
            report["runs"][config] = {
                "wall_s": round(wall, 2), "wall_each_s": [round(s["wall"], 2) for s in samples],
                "combos_per_s": round(n / wall, 3),
                # None when the fixed costs, measured apart, took longer than this whole run (a loaded machine)
                "sweep_combos_per_s": round(n / (wall - fixed), 3) if wall > fixed else None,
                "peak_tree_pss_mb": round(statistics.median(s["tree_pss"] for s in samples)),
                "peak_tree_rss_mb": round(statistics.median(s["tree_rss"] for s in samples)),
                "ru_maxrss_mb": round(statistics.median(s["maxrss"] for s in samples)),
            }
            print(config, json.dumps(report["runs"][config]), file=sys.stderr, flush=True)  # progress, kept if cut short
        runs = report["runs"]
        for executor in ("local", "ray"):
            one, two = runs.get(f"{executor}:1"), runs.get(f"{executor}:2")
            if one and two:
                report[f"scaling_{executor}"] = round(two["combos_per_s"] / one["combos_per_s"], 2)
                if one["sweep_combos_per_s"] and two["sweep_combos_per_s"]:
                    report[f"sweep_scaling_{executor}"] = round(two["sweep_combos_per_s"] / one["sweep_combos_per_s"], 2)
        report["loadavg_before"] = [round(x, 2) for x in load]
        report["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
