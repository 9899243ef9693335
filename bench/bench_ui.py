"""Workstation under a quote flood (headless, Textual's Pilot): prints one JSON object.

200 watchlist symbols on the paper market, 10,000 quotes/s in all: a feeder takes quotes
from the simulated market (``SimMarket.quotes``, round-robin over the symbols) and hands
them to the quote sink the session attached to the paper broker, so each goes through the
data-quality filter, the quote cache, the bus (portfolio marks, risk monitor) and the app's
coalescing store. Meanwhile the
watchlist cursor is moved with j/k. Reported:

* ``keystroke_ms_p50`` / ``p99``: from a key event posted to the app to the first composed
  frame after the cursor moved (headless: the frame is composed, not written to a
  terminal; target p99 < 100 ms);
* ``cpu_percent`` (process CPU time over wall time, 100 = one core) and ``rss_mb``
  (target < 150 MB);
* ``first_frame_s``: from the start of this script (before importing Textual) to the
  first frame with the workstation mounted and the engine started (target < 1.5 s).

Usage: python bench/bench_ui.py [--seconds 10] [--symbols 200] [--rate 10000]
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


async def feed(session, sink, market, symbols: list[str], rate: float, stop: asyncio.Event) -> None:
    """Deliver ``rate`` quotes a second, every 5 ms, in fixed groups of symbols (as the paper
    broker steps its subscriptions), whatever the loop's jitter."""
    group = max(1, int(rate * 0.005))
    groups = [tuple(symbols[i : i + group]) for i in range(0, len(symbols), group)]
    start = time.perf_counter()
    sent = 0
    g = 0
    while not stop.is_set():
        while int((time.perf_counter() - start) * rate) - sent >= len(groups[g]):
            for q in market.quotes(groups[g], session.clock.time()):
                sink(q)
            sent += len(groups[g])
            g = (g + 1) % len(groups)
        await asyncio.sleep(0.005)


async def run(seconds: float, n_symbols: int, rate: float) -> dict:
    import psutil
    from _common import paper_universe
    from brokers.paper.broker import SimBroker, SimConfig
    from workstation.api import LocalEngine
    from workstation.core.clock import LiveClock
    from workstation.core.config import Settings, UISettings
    from workstation.trading.session import Session
    from workstation.ui.app import WorkstationApp
    from workstation.ui.panes.watchlist import WatchlistPane
    from workstation.ui.synthetic import post_key
    from workstation.ui.watchlists import Watchlists

    symbols = [f"S{i:03d}" for i in range(n_symbols)]
    root = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    settings = Settings(watchlist=symbols, ui=UISettings(repaint_hz=10))
    clock = LiveClock()
    broker = SimBroker(clock, SimConfig(tick_hz=0.2), universe=paper_universe(symbols))  # the feeder below makes the flood
    session = Session.build(settings, data_root=root, clock=clock, broker=broker)
    app = WorkstationApp(LocalEngine(session), settings, watchlists=Watchlists.load(root / "w.json", symbols), save_settings=False)
    proc = psutil.Process()

    async with app.run_test(size=(160, 45)) as pilot:
        while not app._started:
            await asyncio.sleep(0.005)
        await pilot.pause()
        first_frame = time.perf_counter() - T0
        # Headless, Textual composes every frame but skips the terminal write: stamp the
        # moment a composed frame is handed over for display.
        writes: list[float] = []
        original = app._display

        def stamped(screen, renderable) -> None:
            if renderable is not None:
                writes.append(time.perf_counter())
            original(screen, renderable)

        app._display = stamped
        wl = app.main.query_one(WatchlistPane)
        app.focus_now(wl)
        if os.environ.get("BENCH_NO_CHART"):
            app.main.query_one("#chart").display = False
        stop = asyncio.Event()
        # the sink the session attached to the paper broker (data-quality filter, then the quote cache)
        feeder = asyncio.create_task(feed(session, broker._on_quote, broker.market, symbols, rate, stop))
        await asyncio.sleep(1.0)  # let the flood settle in
        quotes_before = session.quotes.count
        cpu_before = proc.cpu_times()
        wall_before = time.perf_counter()
        latencies: list[float] = []
        end = wall_before + seconds
        rng = random.Random(7)
        key = "j"
        while time.perf_counter() < end:
            cursor = wl.cursor
            key = "k" if cursor >= 5 else "j" if cursor == 0 else key
            writes.clear()
            sent = time.perf_counter()
            post_key(app, key)
            moved_at = None
            while time.perf_counter() - sent < 1.0:
                await asyncio.sleep(0.001)
                if moved_at is None and wl.cursor != cursor:
                    moved_at = time.perf_counter()
                if moved_at is not None:
                    after = [w for w in writes if w >= moved_at]
                    if after:
                        latencies.append((after[0] - sent) * 1000)
                        break
            await asyncio.sleep(rng.uniform(0.03, 0.08))
        wall = time.perf_counter() - wall_before
        cpu_after = proc.cpu_times()
        quotes = session.quotes.count - quotes_before
        stop.set()
        await feeder
    cpu = (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) / wall * 100
    return {
        "bench": "ui",
        "symbols": n_symbols,
        "quotes_per_s": round(quotes / wall),
        "keystrokes": len(latencies),
        "keystroke_ms_p50": round(statistics.median(latencies), 1),
        "keystroke_ms_p99": round(percentile(latencies, 99), 1),
        "keystroke_ms_max": round(max(latencies), 1),
        "cpu_percent": round(cpu, 1),
        "rss_mb": round(proc.memory_info().rss / 2**20, 1),
        "first_frame_s": round(first_frame, 3),
        "repaint_hz": 10,
        "cores": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--symbols", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10_000.0)
    args = parser.parse_args()
    result = asyncio.run(run(args.seconds, args.symbols, args.rate))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
