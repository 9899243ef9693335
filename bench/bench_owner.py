"""What going through the account's owner costs a one-shot command, as a user runs it.

Whole processes, start to exit (wall time and the child's peak resident memory from the OS):

* ``main.py buy 1 AAPL`` on an account nobody owns: the command becomes the owner for its
  run (takes the lock, opens the journal, listens on the socket, places, closes).
* the same command while ``main.py serve`` owns the account: it attaches to the engine's
  socket, the engine places the order, the command prints it.
* ``main.py status --json`` both ways (a read-only view of the journal, and asked of the engine).

Prints one JSON document. Run: ``.venv/bin/python bench/bench_owner.py [runs]``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT


def _env(home: Path) -> dict[str, str]:
    return dict(os.environ, WORKSTATION_HOME=str(home), PYTHONPATH=str(ROOT))


def timed(home: Path, *args: str) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one ``main.py`` process (its own rusage, from wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *args], env=_env(home), cwd=str(ROOT),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed with status {proc.returncode}")
    return wall, usage.ru_maxrss / 1024


def series(home: Path, runs: int, *args: str) -> dict[str, float]:
    walls, peaks = [], []
    for _ in range(runs):
        wall, peak = timed(home, *args)
        walls.append(wall)
        peaks.append(peak)
    return {"median_s": round(statistics.median(walls), 3), "min_s": round(min(walls), 3), "peak_rss_mb": round(max(peaks), 1)}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    home = Path(tempfile.mkdtemp(prefix="wsb", dir="/tmp"))
    try:
        (home / "settings.toml").write_text("[profiles.paper.risk]\nmax_orders_per_second = 1000\nmax_orders_per_minute = 100000\n")
        timed(home, "buy", "1", "AAPL")  # the journal exists from here on, as it does for a user
        own = series(home, runs, "buy", "1", "AAPL")
        view = series(home, runs, "status", "--json")
        serve = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "serve", "-s", "AAPL"], env=_env(home), cwd=str(ROOT),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        try:
            while "serving profile" not in (line := serve.stderr.readline()):
                if not line:
                    raise SystemExit("serve did not start")
            through = series(home, runs, "buy", "1", "AAPL")
            asked = series(home, runs, "status", "--json")
        finally:
            serve.terminate()
            serve.wait(timeout=30)
        print(json.dumps({
            "runs": runs,
            "buy_as_owner": own,
            "buy_through_serving_engine": through,
            "through_minus_owner_s": round(through["median_s"] - own["median_s"], 3),
            "status_read_only_view": view,
            "status_asked_of_engine": asked,
        }))
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
