"""The depth ladder at 20 book updates a second and a trade every 100 ms: one JSON object.

Headless (Textual's Pilot), as ``bench_chain_screen.py`` measures the chain screen: the
workstation on the paper market with a scripted depth feed (``tests.fakes.depth_feed``: a
``SimBroker`` whose book and tape the bench drives), the ladder opened with ``:depth AAPL``
and left to run for ``--seconds`` while a task on the loop sends a delta of five changed
levels every 50 ms (a 50-level book each side) and a print every 100 ms. The engine conflates
views per symbol (``[depth] interval``, 0.1 s): the ladder receives at most ten views a second
and repaints at the app's ``repaint_hz`` (10: a frame budget of 100 ms). Reported per size:

* ``deltas_sent``, ``prints_sent``; ``views_shown``: repaints that took a new view or prints;
* ``repaint_ms_*``: the screen's repaint that takes a new view (the visible rows rebuilt,
  changed lines marked, the tape added to); ``frame_ms_*``: composing each frame (the changed
  lines rendered); ``refresh_ms_*``: a repaint plus the frame that follows it;
* ``loop_lag_ms_*``: how late a 5 ms sleep on the UI loop wakes;
* ``frames_dropped``: repaint ticks missed (a loop held past a tick: lag // budget);
  ``over_budget``: refreshes longer than the frame budget;
* ``cpu_percent``: the process's CPU time over the wall time (100 = one core), the feed and the
  engine included.

Usage: python bench/bench_ladder.py [--seconds 10] [--sizes 80x24,160x45]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import pct  # noqa: E402

REPAINT_HZ = 10
UPDATES_HZ = 20
TRADE_EVERY = 0.1
LEVELS = 50


def ms(values: list[float], p: float) -> float:
    return round(pct(values, p) * 1000, 2) if values else 0.0


async def ladder(seconds: float, size: tuple[int, int]) -> dict:
    import psutil

    from tests.fakes.depth_feed import ScriptedDepthBroker
    from workstation.api import LocalEngine
    from workstation.core.clock import LiveClock
    from workstation.core.config import Settings, UISettings
    from workstation.trading.session import Session
    from workstation.ui.app import WorkstationApp
    from workstation.ui.screens.depth import DepthScreen
    from workstation.ui.watchlists import Watchlists

    root = Path(tempfile.mkdtemp(prefix="bench-ladder-"))
    symbols = ["AAPL", "MSFT", "SPY"]
    settings = Settings(watchlist=symbols, ui=UISettings(repaint_hz=REPAINT_HZ))
    clock = LiveClock()
    broker = ScriptedDepthBroker(clock)
    session = Session.build(settings, data_root=root, clock=clock, broker=broker)
    app = WorkstationApp(LocalEngine(session), settings, watchlists=Watchlists.load(root / "w.json", symbols), save_settings=False)
    budget = 1.0 / REPAINT_HZ
    rng = random.Random(7)

    async with app.run_test(size=size) as pilot:
        while not app._started:
            await asyncio.sleep(0.005)
        q = app.engine.quote("AAPL")
        mid = round((q.bid + q.ask) / 2, 2)
        await pilot.press("colon", *"depth AAPL", "enter")
        while not (isinstance(app.screen, DepthScreen) and app.screen.watching):
            await asyncio.sleep(0.01)
        screen: DepthScreen = app.screen
        bids = [(round(mid - 0.01 * (i + 1), 2), float(rng.randint(50, 2000))) for i in range(LEVELS)]
        asks = [(round(mid + 0.01 * (i + 1), 2), float(rng.randint(50, 2000))) for i in range(LEVELS)]
        broker.push_snapshot("AAPL", bids, asks)
        while screen.view is None:
            await asyncio.sleep(0.01)
        await pilot.pause()

        paints: list[tuple[float, float]] = []
        real_repaint = screen.repaint

        def timed_repaint() -> None:
            fresh = screen._fresh_view is not None or bool(screen._fresh_prints)
            start = time.perf_counter()
            real_repaint()
            if fresh:
                paints.append((start, time.perf_counter()))

        screen.repaint = timed_repaint  # type: ignore[method-assign]
        for timer in list(screen._timers):  # the timer holds the bound method: restart it on the timed one
            if timer.name == "depth-repaint":
                timer.stop()
        screen.set_interval(1.0 / REPAINT_HZ, screen.repaint, name="depth-repaint")
        frames: list[tuple[float, float]] = []
        real_compose = screen._compositor_refresh

        def timed_compose() -> None:
            start = time.perf_counter()
            real_compose()
            frames.append((start, time.perf_counter() - start))

        screen._compositor_refresh = timed_compose  # type: ignore[method-assign]

        stop = asyncio.Event()
        lags: list[float] = []
        sent = {"deltas": 0, "prints": 0}

        async def lag_probe() -> None:
            while not stop.is_set():
                start = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - start - 0.005)

        async def feed() -> None:
            n = 0
            while not stop.is_set():
                await asyncio.sleep(1.0 / UPDATES_HZ)
                changed_b = [(bids[i][0], float(rng.randint(0, 2000))) for i in rng.sample(range(LEVELS), 3)]
                changed_a = [(asks[i][0], float(rng.randint(0, 2000))) for i in rng.sample(range(LEVELS), 2)]
                broker.push_delta("AAPL", changed_b, changed_a)
                sent["deltas"] += 1
                n += 1
                if n % round(TRADE_EVERY * UPDATES_HZ) == 0:
                    buy = rng.random() < 0.5
                    broker.push_trade("AAPL", asks[0][0] if buy else bids[0][0], float(rng.randint(1, 500)), "buy" if buy else "sell")
                    sent["prints"] += 1

        proc = psutil.Process()
        cpu_before = proc.cpu_times()
        probe = asyncio.create_task(lag_probe())
        feeder = asyncio.create_task(feed())
        began = time.perf_counter()
        await asyncio.sleep(seconds)
        wall = time.perf_counter() - began
        cpu_after = proc.cpu_times()
        stop.set()
        await probe
        await feeder
        in_window = [(a, b) for a, b in paints if a >= began]
        repaints = [b - a for a, b in in_window]
        frame_after = []
        for _, b in in_window:
            after = [d for start, d in frames if start >= b]
            frame_after.append(after[0] if after else 0.0)
        frame_costs = [d for start, d in frames if start >= began]
        refresh = [r + f for r, f in zip(repaints, frame_after)]
        dropped = sum(int(lag // budget) for lag in lags)
        rows = screen.body_rows
    return {
        "size": f"{size[0]}x{size[1]}",
        "ladder_rows": rows,
        "seconds": round(wall, 2),
        "book_updates_per_s": round(sent["deltas"] / wall, 1),
        "prints_per_s": round(sent["prints"] / wall, 1),
        "repaint_hz": REPAINT_HZ,
        "frame_budget_ms": budget * 1000,
        "views_shown": len(in_window),
        "repaint_ms_p50": ms(repaints, 50),
        "repaint_ms_max": ms(repaints, 100),
        "frame_ms_p50": ms(frame_costs, 50),
        "frame_ms_max": ms(frame_costs, 100),
        "refresh_ms_p50": ms(refresh, 50),
        "refresh_ms_p99": ms(refresh, 99),
        "refresh_ms_max": ms(refresh, 100),
        "loop_lag_ms_p99": ms(lags, 99),
        "loop_lag_ms_max": ms(lags, 100),
        "frames_expected": int(wall * REPAINT_HZ),
        "frames_dropped": dropped,
        "over_budget": sum(1 for t in refresh if t > budget),
        "cpu_percent": round((cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) / wall * 100, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sizes", default="80x24,160x45")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    runs = []
    for spec in args.sizes.split(","):
        w, h = (int(x) for x in spec.lower().split("x"))
        runs.append(asyncio.run(ladder(args.seconds, (w, h))))
    print(json.dumps({
        "bench": "ladder", "runs": runs, "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
