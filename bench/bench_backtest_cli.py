"""The whole ``main.py backtest`` process as a user runs it, paired with backtrader on the same file.

``bench_backtest.py`` times the replay loop inside one process; this times what a user waits
for: a fresh ``main.py backtest --data FILE --strategy ma_crossover --param fast=10 --param
slow=30 --qty 100 --cash 1000000 --commission 0 --json`` from start to exit (start-up, loading
the CSV, the run, the JSON on stdout), with the child's peak resident memory from the OS
(``os.wait4``'s rusage, child by child). When backtrader is installed, each pair also runs
``bench/_backtrader_sma.py`` (``GenericCSVData``, SMA 10/30 ``CrossOver``, buy 100 on a cross
up when flat, close on a cross down, cash 1,000,000) on the same file; the two alternate
which goes first, and the ratio backtrader/ours is taken pair by pair.

The data is ``bench_backtest.make_bars`` (the same random walk), written to a temporary CSV
in the generic layout (``timestamp,open,high,low,close,volume``, ISO timestamps ending in Z).

Correctness beside speed: our ``--json`` fills must equal the numpy reference of
``bench_backtest.py`` (bar index, side, price in cents); backtrader's fills are compared with
ours too, and each difference is classified: does it fall on a tie, a bar where the exact
integer sums of the two averages are equal (``fast * sum_slow == slow * sum_fast``) at the
signal bar or the bar before it? backtrader sums floats, so a tie can look like a cross to it.
With ``--cents`` the file's prices are whole cents (``10143`` for 101.43): every float sum of
them is exact, for backtrader too, and its fills must then equal ours and the reference.

Prints one JSON object. Figures move with the machine's load: it reports the load average
before and after, and the machine's cores.

    .venv/bin/python bench/bench_backtest_cli.py [--bars 1000000] [--pairs 3]
    .venv/bin/python bench/bench_backtest_cli.py --bars 10000000 --no-backtrader --pairs 1
    .venv/bin/python bench/bench_backtest_cli.py --cents --pairs 1   # backtrader's fills equal ours
    .venv/bin/python bench/bench_backtest_cli.py --startup --pairs 0   # start-up only: --help, status
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
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import numpy as np

from _common import ROOT

FAST, SLOW, QTY = 10, 30, 100
FIRST_TS = 1_600_000_000  # make_bars' first bar, 60 s apart
SECONDS = 60

Fill = tuple[int, str, int]  # (bar index, side, price in cents)


# -- the data ---------------------------------------------------------------------------------


def write_csv(n: int, path: Path, in_cents: bool = False) -> dict[str, np.ndarray]:
    """``make_bars(n)`` written to ``path`` in the generic layout (prices in dollars, or in
    whole cents ``in_cents``); returns the cent columns."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv
    from bench_backtest import make_bars

    series = make_bars(n)
    cents = {k: np.round(getattr(series, k) * 100).astype(np.int64) for k in ("open", "high", "low", "close")}
    stamps = np.datetime_as_string(series.ts.astype(np.int64).astype("datetime64[s]"), unit="s")
    columns = {"timestamp": pc.binary_join_element_wise(pa.array(stamps), "Z", "")}
    for name, values in cents.items():  # decimal128 with scale 2 holds the cents as they are: "100.05"
        words = np.zeros((len(values), 2), dtype=np.int64)
        words[:, 0] = values
        words[:, 1] = values >> 63
        scale = 0 if in_cents else 2
        columns[name] = pa.Array.from_buffers(pa.decimal128(18, scale), len(values), [None, pa.py_buffer(words)])
    columns["volume"] = pa.array(series.volume.astype(np.int64))
    del series, stamps
    with pa.OSFile(str(path), "wb") as out:
        out.write(b"timestamp,open,high,low,close,volume\n")
        pcsv.write_csv(pa.table(columns), out, pcsv.WriteOptions(include_header=False, quoting_style="none"))
    return cents


# -- the pure parts: fills and their comparison -------------------------------------------------


def our_fills(doc: dict, first_ts: float = FIRST_TS, seconds: int = SECONDS, to_cents: int = 100) -> list[Fill]:
    """The fills of a ``backtest --json`` document as (bar index, side, cents)."""
    out = []
    for f in doc["fills"]:
        ts = datetime.fromisoformat(f["ts"].replace("Z", "+00:00")).timestamp()
        out.append((round((ts - first_ts) / seconds), f["side"], int(Decimal(f["price"]) * to_cents)))
    return out


def backtrader_fills(lines: list[str]) -> list[Fill]:
    """The fills ``_backtrader_sma.py`` printed (one JSON object a line; other lines ignored)."""
    out = []
    for line in lines:
        if line.startswith('{"bar"'):
            d = json.loads(line)
            out.append((d["bar"], d["side"], d["cents"]))
    return out


def tied_bars(cents_close: np.ndarray, fast: int = FAST, slow: int = SLOW) -> np.ndarray:
    """Per bar: are the two averages exactly equal there (``fast * sum_slow == slow * sum_fast``)?

    Integer sums of the cent closes, so exact; bars before the slow average exists are False.
    """
    c = np.concatenate([[0], np.cumsum(cents_close.astype(np.int64))])
    n = len(cents_close)
    tied = np.zeros(n, dtype=bool)
    if n >= slow:
        idx = np.arange(slow - 1, n)
        sum_fast = c[idx + 1] - c[idx + 1 - fast]
        sum_slow = c[idx + 1] - c[idx + 1 - slow]
        tied[idx] = fast * sum_slow == slow * sum_fast
    return tied


def compare(ours: list[Fill], theirs: list[Fill], tied: np.ndarray, limit: int = 20) -> dict:
    """How two fill lists differ; each difference says whether a tie explains it.

    A fill at bar ``i`` was decided on bar ``i - 1`` (next-open fills). A tie on that bar, or on
    the bar before it (the one the cross is measured from), is where float sums can see a cross
    that exact sums do not, or the other way round.
    """
    a, b = set(ours), set(theirs)
    diffs = []
    for fill in sorted(a ^ b):
        signal = fill[0] - 1
        on_tie = any(0 <= k < len(tied) and bool(tied[k]) for k in (signal, signal - 1))
        diffs.append({"bar": fill[0], "side": fill[1], "cents": fill[2], "only_in": "first" if fill in a else "second", "on_tie": on_tie})
    return {
        "identical": ours == theirs,
        "fills": [len(ours), len(theirs)],
        "differences": len(diffs),
        "differences_on_ties": sum(d["on_tie"] for d in diffs),
        "first_differences": diffs[:limit],
    }


# -- running processes --------------------------------------------------------------------------


# A child forked (or vforked, as subprocess does) from this process starts with this process's
# resident pages counted in its peak, and ``exec`` keeps that peak: ``ru_maxrss`` would be ours.
# So a small launcher (Python without site, about 9 MB) forks the command, waits for it with
# ``os.wait4`` and reports its wall time and peak; the command's own peak is above the launcher's.
_LAUNCHER = """
import os, sys, time
out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(out, 1)
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
sys.stderr.write("\\nlauncher %r %r %r\\n" % (os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss))
"""


def run(argv: list[str], env: dict[str, str], stdout: Path | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one command, start to exit; its rusage from ``os.wait4``."""
    with tempfile.TemporaryFile() as err:
        launcher = [sys.executable, "-S", "-c", _LAUNCHER, str(stdout or os.devnull), *argv]
        subprocess.run(launcher, env=env, cwd=str(ROOT), stdin=subprocess.DEVNULL, stderr=err, check=True)
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
    code, wall, maxrss_kb = lines[-1].split()[1:]
    if int(code) != 0:
        shown = [line for line in lines[:-1] if line.strip()][-1:] or [""]
        raise SystemExit(f"{' '.join(argv[1:4])} ... exited {code}: {shown[0]}")
    return float(wall), int(maxrss_kb) / 1024


def summary(walls: list[float], peaks: list[float]) -> dict:
    return {
        "wall_median_s": round(statistics.median(walls), 3),
        "wall_each_s": [round(w, 3) for w in walls],
        "peak_rss_median_mb": round(statistics.median(peaks), 1),
        "peak_rss_each_mb": [round(p, 1) for p in peaks],
    }


def has_backtrader() -> bool:
    import importlib.util

    return importlib.util.find_spec("backtrader") is not None


def commit() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=str(ROOT), capture_output=True, text=True).stdout.strip()

    changed = git("status", "--porcelain", "--", "main.py", "workstation", "brokers", "plugins")
    return {"commit": git("rev-parse", "--short", "HEAD"), "engine_files_changed_since": bool(changed)}


def startup(env: dict[str, str], runs: int = 5) -> dict:
    main = str(ROOT / "main.py")
    out = {}
    for name, args in (("help", ["--help"]), ("status", ["status"])):
        walls, peaks = [], []
        for _ in range(runs):
            wall, peak = run([sys.executable, main, *args], env)
            walls.append(wall)
            peaks.append(peak)
        out[name] = summary(walls, peaks)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--pairs", type=int, default=3, help="runs of each (alternating which goes first); 0: none")
    ap.add_argument("--no-backtrader", action="store_true", help="our process only")
    ap.add_argument("--startup", action="store_true", help="also time `main.py --help` and `main.py status` (5 runs each)")
    ap.add_argument("--cents", action="store_true",
                    help="prices written in whole cents (exact float sums: backtrader's fills then equal ours)")
    args = ap.parse_args()
    with_bt = not args.no_backtrader and has_backtrader()
    load_before = [round(x, 2) for x in os.getloadavg()]
    report: dict = {
        "benchmark": "main.py backtest, whole process: SMA 10/30 crossover, 100 shares, next-open fills",
        "bars": args.bars if args.pairs > 0 else 0,
        "pairs": args.pairs,
        "cores": os.cpu_count(),
        **commit(),
        "load_average_before": load_before,
    }
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp_name:
        tmp = Path(tmp_name)
        env = dict(os.environ, WORKSTATION_HOME=str(tmp / "home"), PYTHONPATH=str(ROOT))
        if args.startup:
            report["startup"] = startup(env)
        if args.pairs > 0:
            data = tmp / "bars.csv"
            t0 = time.perf_counter()
            cents = write_csv(args.bars, data, args.cents)
            report["data"] = {"bytes": data.stat().st_size, "written_in_s": round(time.perf_counter() - t0, 2),
                              "prices": "whole cents" if args.cents else "dollars and cents"}
            cash = "100000000" if args.cents else "1000000"  # (prices a hundred times higher: the same room)
            ours_cmd = [
                sys.executable, str(ROOT / "main.py"), "backtest", "--data", str(data), "--strategy", "ma_crossover",
                "--param", f"fast={FAST}", "--param", f"slow={SLOW}", "--qty", str(QTY), "--cash", cash,
                "--commission", "0", "--json", "--data-dir", str(tmp / "data"),
                "--all-sessions",  # the synthetic minutes run around the clock, and backtrader trades every one
            ]
            bt_cmd = [sys.executable, str(ROOT / "bench" / "_backtrader_sma.py"), str(data), "--cash", cash, *(["--cents"] if args.cents else [])]
            ours_out, bt_out = tmp / "ours.json", tmp / "backtrader.jsonl"
            walls: dict[str, list[float]] = {"ours": [], "backtrader": []}
            peaks: dict[str, list[float]] = {"ours": [], "backtrader": []}
            checks: dict[str, list] = {"ours": [], "backtrader": []}
            for pair in range(args.pairs):
                order = ["ours", "backtrader"] if pair % 2 == 0 else ["backtrader", "ours"]
                for who in order:
                    if who == "backtrader" and not with_bt:
                        continue
                    wall, peak = run(ours_cmd if who == "ours" else bt_cmd, env, ours_out if who == "ours" else bt_out)
                    walls[who].append(wall)
                    peaks[who].append(peak)
                    if who == "ours":
                        with open(ours_out, "rb") as f:
                            checks[who].append(our_fills(json.load(f), to_cents=1 if args.cents else 100))
                    else:
                        checks[who].append(backtrader_fills(bt_out.read_text().splitlines()))
                    os.unlink(ours_out if who == "ours" else bt_out)
            from bench_backtest import reference

            ref = reference(cents["open"], cents["close"], FAST, SLOW, QTY)
            tied = tied_bars(cents["close"])
            ours = summary(walls["ours"], peaks["ours"])
            ours["fills"] = len(checks["ours"][0])
            ours["vs_reference"] = compare(checks["ours"][0], ref, tied)
            ours["same_fills_every_run"] = all(c == checks["ours"][0] for c in checks["ours"])
            report["ours"] = ours
            if with_bt:
                theirs = summary(walls["backtrader"], peaks["backtrader"])
                theirs["fills"] = len(checks["backtrader"][0])
                theirs["vs_ours"] = compare(checks["ours"][0], checks["backtrader"][0], tied)  # first: ours
                report["backtrader"] = theirs
                ratios = [b / o for o, b in zip(walls["ours"], walls["backtrader"], strict=True)]
                report["backtrader_over_ours"] = {
                    "wall_median": round(statistics.median(ratios), 2),
                    "wall_each": [round(r, 2) for r in ratios],
                    "peak_rss_ours_over_backtrader": round(statistics.median(peaks["ours"]) / statistics.median(peaks["backtrader"]), 2),
                }
            else:
                report["backtrader"] = "not run (--no-backtrader)" if args.no_backtrader else "not installed"
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
