"""The option chain screen at the quote rate, and ``main.py chain --json`` as a process: one JSON object.

**The screen** (headless, Textual's Pilot): the workstation on the paper market (``SimBroker``
on the live clock, quoting every subscribed symbol at its ``tick_hz``), its chain screen
opened with ``:chain SPY 2026-... 40`` (40 strikes x 2 sides, IV and Greeks by the engine)
and left to run for ``--seconds``, as a user would watch it. The screen asks for the chain
``FETCH_HZ`` times a second (the paper market quotes at 2 Hz) and repaints at the app's
``repaint_hz`` (10: a frame budget of 100 ms). Reported:

* ``refreshes``: new chains shown; ``fetch_ms_*``: one ``EngineAPI.option_chain`` (the paper
  chain, its quotes, implied volatility and Greeks of 80 contracts), on the UI's loop;
* ``repaint_ms_*``: the screen's repaint that takes a new chain (rows rebuilt from the
  figures, the changed lines marked); ``frame_ms_*``: composing the frame that follows (the
  changed lines rendered, the update built); ``refresh_ms_*``: the three together, fetch,
  repaint and frame, the work one new chain costs the UI's loop;
* ``loop_lag_ms_max`` / ``p99``: how late a 5 ms sleep on the UI loop wakes (what anything
  running on the loop costs the keyboard);
* ``frames_dropped``: repaint ticks that did not happen on time: the app's repaint timer is
  expected ``seconds x repaint_hz`` times; every interval of the budget in which the loop was
  held past the next tick counts one (from the lag samples);
* ``over_budget``: refreshes whose fetch, repaint and frame took longer than the frame budget;
* ``cpu_percent``: the process's CPU time over the wall time (100 = one core), the figure
  that moves least with the machine's load.

**The command**: ``main.py chain SPY --strikes 40 --json`` from start to exit (a fresh process,
no owner running: it opens a read-only view of the account), its wall time and its peak
resident memory from the OS (``os.wait4``, as ``bench_backtest_cli.py`` measures), ``--runs``
times.

Usage: python bench/bench_chain_screen.py [--seconds 10] [--runs 3] [--size 160x45]
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import pct  # noqa: E402

UNDERLYING = "SPY"  # listed at one-point strikes: 40 strikes fit one expiry
STRIKES = 40
REPAINT_HZ = 10


def ms(values: list[float], p: float) -> float:
    return round(pct(values, p) * 1000, 2) if values else 0.0


async def screen(seconds: float, size: tuple[int, int]) -> dict:
    from brokers.paper.broker import SimBroker, SimConfig
    from workstation.api import LocalEngine
    from workstation.core.clock import LiveClock
    from workstation.core.config import Settings, UISettings
    from workstation.trading.session import Session
    from workstation.ui.app import WorkstationApp
    from workstation.ui.screens.chain import FETCH_HZ, ChainScreen
    from workstation.ui.watchlists import Watchlists

    root = Path(tempfile.mkdtemp(prefix="bench-chain-"))
    symbols = ["SPY", "AAPL", "MSFT"]
    settings = Settings(watchlist=symbols, ui=UISettings(repaint_hz=REPAINT_HZ))
    clock = LiveClock()
    broker = SimBroker(clock, SimConfig())
    session = Session.build(settings, data_root=root, clock=clock, broker=broker)
    engine = LocalEngine(session)
    app = WorkstationApp(engine, settings, watchlists=Watchlists.load(root / "w.json", symbols), save_settings=False)
    budget = 1.0 / REPAINT_HZ

    fetches: list[float] = []
    real_chain = engine.option_chain

    async def timed_chain(*args, **kw):
        start = time.perf_counter()
        try:
            return await real_chain(*args, **kw)
        finally:
            fetches.append(time.perf_counter() - start)

    engine.option_chain = timed_chain  # type: ignore[method-assign]

    async with app.run_test(size=size) as pilot:
        while not app._started:
            await asyncio.sleep(0.005)
        app.open_chain(UNDERLYING, None, STRIKES)
        while not (isinstance(app.screen, ChainScreen) and app.screen.rows):
            await asyncio.sleep(0.01)
        chain_screen: ChainScreen = app.screen
        await pilot.pause()
        contracts = len(chain_screen.chain.contracts)

        paints: list[tuple[float, float]] = []  # (start, end of the repaint that showed a new chain)
        real_repaint = chain_screen.repaint

        def timed_repaint() -> None:
            fresh = chain_screen._fresh is not None
            start = time.perf_counter()
            real_repaint()
            if fresh:
                paints.append((start, time.perf_counter()))

        chain_screen.repaint = timed_repaint  # type: ignore[method-assign]
        # the repaint timer was made with the bound method: restart it on the timed one
        for timer in list(chain_screen._timers):
            if timer.name == "chain-repaint":
                timer.stop()
        chain_screen.set_interval(1.0 / REPAINT_HZ, chain_screen.repaint, name="chain-repaint")
        frames: list[tuple[float, float]] = []  # (start, seconds) of each frame the screen composed
        real_compose = chain_screen._compositor_refresh

        def timed_compose() -> None:
            start = time.perf_counter()
            real_compose()
            frames.append((start, time.perf_counter() - start))

        chain_screen._compositor_refresh = timed_compose  # type: ignore[method-assign]

        lags: list[float] = []
        stop = asyncio.Event()

        async def lag_probe() -> None:
            while not stop.is_set():
                start = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - start - 0.005)

        import psutil

        proc = psutil.Process()
        fetches.clear()
        cpu_before = proc.cpu_times()
        probe = asyncio.create_task(lag_probe())
        shown_before = chain_screen.fetches
        began = time.perf_counter()
        await asyncio.sleep(seconds)
        wall = time.perf_counter() - began
        cpu_after = proc.cpu_times()
        stop.set()
        await probe
        refreshes = chain_screen.fetches - shown_before
        in_window = [(a, b) for a, b in paints if a >= began]
        repaints = [b - a for a, b in in_window]
        frame_after = []
        for a, b in in_window:  # the first frame composed after this repaint ended
            after = [d for start, d in frames if start >= b]
            frame_after.append(after[0] if after else 0.0)
        frame_costs = [d for start, d in frames if start >= began]
        refresh = [f + r + c for f, r, c in zip(fetches, repaints, frame_after)]
        # a tick is missed when the loop is held past it: a lag of L skips floor(L / budget) ticks
        dropped = sum(int(lag // budget) for lag in lags)
        over = sum(1 for t in refresh if t > budget)
        shown = chain_screen.table.shown_figures()
    return {
        "size": f"{size[0]}x{size[1]}",
        "underlying": UNDERLYING,
        "strikes": len(chain_screen.rows),
        "contracts": contracts,
        "columns_per_side": shown,
        "seconds": round(wall, 2),
        "fetch_hz": FETCH_HZ,
        "repaint_hz": REPAINT_HZ,
        "frame_budget_ms": budget * 1000,
        "refreshes": refreshes,
        "refreshes_per_s": round(refreshes / wall, 2),
        "fetch_ms_p50": ms(fetches, 50),
        "fetch_ms_p99": ms(fetches, 99),
        "fetch_ms_max": ms(fetches, 100),
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
        "over_budget": over,
        "cpu_percent": round((cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) / wall * 100, 1),
    }


def command(runs: int) -> dict:
    from bench_backtest_cli import run as run_process

    home = Path(tempfile.mkdtemp(prefix="bench-chain-cli-"))
    env = dict(os.environ, WORKSTATION_HOME=str(home), COLUMNS="200")
    walls, peaks = [], []
    out = home / "out.json"
    argv = [sys.executable, str(ROOT / "main.py"), "chain", UNDERLYING, "--strikes", str(STRIKES), "--json"]
    for _ in range(runs):
        wall, peak = run_process(argv, env, out)
        doc = json.loads(out.read_text())
        assert len(doc["strikes"]) == STRIKES, len(doc["strikes"])
        walls.append(wall)
        peaks.append(peak)
    return {
        "argv": " ".join(["main.py", *argv[2:]]),
        "wall_median_s": round(statistics.median(walls), 3),
        "wall_each_s": [round(w, 3) for w in walls],
        "peak_rss_median_mb": round(statistics.median(peaks), 1),
        "peak_rss_each_mb": [round(p, 1) for p in peaks],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", default="160x45")
    args = parser.parse_args()
    w, h = (int(x) for x in args.size.lower().split("x"))
    load_before = os.getloadavg()[0]
    result = {
        "bench": "chain_screen",
        "screen": asyncio.run(screen(args.seconds, (w, h))),
        "command": command(args.runs) if args.runs > 0 else None,
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "cores": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
