"""Backtest speed: SMA 10/30 crossover, 100 shares, next-open fills, on one million 1-minute bars.

The strategy is the shipped ``ma_crossover`` plugin (the class live sessions run), through
the order manager, risk checks, portfolio and journal of ``workstation.research.backtest``. The fills
are compared with a plain numpy implementation of the same rule (exact integer sums of
the cent prices for the averages, a zero difference keeping the previous sign, orders
filled at the next bar's open). Runs it ``--repeat`` times (3) and reports the best and the median
run (the machine's speed varies from run to run; every run's fills are checked). Prints
one JSON object.

    PYTHONPATH=. python bench/bench_backtest.py [--bars 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plugins.ma_crossover import MaCrossover  # noqa: E402
from workstation.research.backtest import BarSeries, StrategySpec, run_backtest  # noqa: E402


def make_bars(n: int, seed: int = 7) -> BarSeries:
    """A random walk in cents: open = previous close, high/low around open and close."""
    rng = np.random.default_rng(seed)
    close = np.cumsum(rng.integers(-5, 6, size=n, dtype=np.int32), dtype=np.int64)
    close += 10_000
    np.maximum(close, 100, out=close)
    open_ = np.empty_like(close)
    open_[0] = 10_000
    open_[1:] = close[:-1]
    high = np.maximum(open_, close)
    high += rng.integers(0, 4, size=n, dtype=np.int8)
    low = np.minimum(open_, close)
    low -= rng.integers(0, 4, size=n, dtype=np.int8)
    np.maximum(low, 1, out=low)
    ts = 1_600_000_000 + 60.0 * np.arange(n)
    return BarSeries.from_arrays(
        "BENCH", ts, open_ / 100, high / 100, low / 100, close / 100, np.full(n, 1_000.0),
        seconds=60, source="random walk", tick=Decimal("0.01"),
    )


def reference(cents_open: np.ndarray, cents_close: np.ndarray, fast: int, slow: int, qty: int) -> list[tuple[int, str, int]]:
    """The same rule in numpy: (bar index of the fill, side, price in cents)."""
    c = np.concatenate([[0], np.cumsum(cents_close.astype(np.int64))])
    n = len(cents_close)
    idx = np.arange(slow - 1, n)
    sum_fast = c[idx + 1] - c[idx + 1 - fast]
    sum_slow = c[idx + 1] - c[idx + 1 - slow]
    diff = sum_fast * slow - sum_slow * fast  # sign of fast mean - slow mean, exactly
    sign = np.sign(diff)
    nz = np.flatnonzero(sign)
    carried = np.zeros_like(sign)
    if len(nz):  # a zero difference keeps the previous sign
        fill_idx = np.maximum.accumulate(np.where(sign != 0, np.arange(len(sign)), -1))
        carried = np.where(fill_idx >= 0, sign[np.maximum(fill_idx, 0)], 0)
    above = carried > 0
    known = carried != 0
    change = np.flatnonzero(known[1:] & known[:-1] & (above[1:] != above[:-1])) + 1
    out: list[tuple[int, str, int]] = []
    long = False
    for k in change:
        i = int(idx[k])
        if i + 1 >= n:
            break
        if above[k] and not long:
            out.append((i + 1, "buy", int(cents_open[i + 1])))
            long = True
        elif not above[k] and long:
            out.append((i + 1, "sell", int(cents_open[i + 1])))
            long = False
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs (the best and the median are reported)")
    args = ap.parse_args()
    series = make_bars(args.bars)
    runs = []
    for _ in range(max(1, args.repeat)):
        cpu0 = time.process_time()
        with tempfile.TemporaryDirectory() as tmp:
            result = run_backtest(
                [series], [StrategySpec(MaCrossover, {"fast": 10, "slow": 30, "qty": 100})],
                journal_path=Path(tmp) / "bench.sqlite",
            )
        cpu = time.process_time() - cpu0
        ours = [
            (int(round((f.ts - series.ts[0]) / 60)), f.side.value, int(f.price * 100)) for f in result.fills
        ]
        runs.append((result.elapsed, cpu, ours, result.bars, str(result.final_equity)))
        del result
        if len(runs) == 1:  # one run's peak (later runs in this process can only add the allocator's leftovers)
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ref = reference(np.round(series.open * 100).astype(np.int64), np.round(series.close * 100).astype(np.int64), 10, 30, 100)
    best = min(runs, key=lambda r: r[0])
    elapsed, cpu, ours, bars, final_equity = best
    median = statistics.median(r[0] for r in runs)
    identical = all(r[2] == ref for r in runs)
    first_diff = next((i for i, (a, b) in enumerate(zip(ours, ref, strict=False)) if a != b), None)
    print(json.dumps({
        "benchmark": "backtest SMA 10/30 crossover, 100 shares, next-open fills",
        "bars": bars,
        "runs": len(runs),
        "seconds": round(elapsed, 3),
        "bars_per_second": round(bars / elapsed),
        "seconds_median": round(median, 3),
        "bars_per_second_median": round(bars / median),
        "seconds_each": [round(r[0], 3) for r in runs],
        "cpu_seconds": round(cpu, 3),
        "bars_per_cpu_second": round(bars / cpu),
        "load_average": round(os.getloadavg()[0], 2),
        "peak_memory_mb": round(peak_mb, 1),
        "fills": len(ours),
        "reference_fills": len(ref),
        "fills_identical": identical and len({r[4] for r in runs}) == 1,
        "first_difference": None if first_diff is None else {"ours": ours[first_diff], "reference": ref[first_diff]},
        "final_equity": final_equity,
    }))


if __name__ == "__main__":
    main()
