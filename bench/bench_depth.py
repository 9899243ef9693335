"""Order-book updates through the engine for 50 symbols, one JSON object.

Path measured: the broker's book sink (``Session.depth.on_book``, what a ``DepthFeed`` adapter
calls) -> the symbol's ``OrderBook`` -> the conflated ``BookView`` publication (the session's
flush task, one view per symbol per ``[depth] interval``, 0.1 s of the engine's live clock) ->
a bus subscriber that reads each view (its best bid and ask, its levels).

Each delta changes 10 levels (5 bids, 5 asks; about one in ten removes a level, the next
puts it back), sent round-robin across the 50 symbols in venue order (consecutive sequence
numbers), as an adapter would from its socket. The deltas are built before the clock starts:
the figure is the engine's cost, not the generator's.

* ``level_updates_per_s``: level updates applied per second, flush and subscriber included
  (target: at least 100,000/s for 50 symbols, issue 21);
* ``views_per_s``: BookViews the subscriber received per second of the whole pass (conflation
  caps it near 50 symbols x 10/s);
* ``apply_us_p50`` / ``apply_us_p99``: one delta through the sink (the book's update and the
  dirty mark), timed one by one in a separate pass;
* ``depth_cli``: ``main.py depth AAPL --json`` start to exit and its peak memory, when that
  command exists (``--cli``);
* ``socket``: the same books and a print per symbol every 10 deltas, to a face attached over
  the engine's Unix socket (``RemoteEngine``, same process): prints delivered per second (all of
  them, in order, unless ``prints_dropped`` says otherwise), views the face received, and how
  long after the burst the face held the final book of every symbol (``--socket``);
* ``paper``: the paper market's step (``SimBroker.step``) with 50 symbols' books and tapes
  streamed against the step with quotes only: the cost per symbol, and the level updates a step
  sends (``--paper``).

Usage: python bench/bench_depth.py [--seconds 3] [--cli] [--socket] [--paper]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, pct

from brokers.paper.broker import SimBroker, SimConfig
from workstation.core.book import BookDelta, BookLevel, BookSnapshot, BookView
from workstation.core.clock import LiveClock
from workstation.core.config import Settings
from workstation.trading.session import Session

SYMBOLS = [f"D{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(50)]
LEVELS = 50  # levels each side in a book
CHANGED = 10  # levels changed per delta
TICK = 0.01


class BenchDepthBroker(SimBroker):
    """The paper broker with a ``DepthFeed`` face that only keeps the engine's sinks."""

    def attach_depth(self, on_book, on_trade) -> None:
        self.on_book, self.on_trade = on_book, on_trade

    async def subscribe_depth(self, symbols: list[str], levels: int = 20) -> None: ...

    async def unsubscribe_depth(self, symbols: list[str]) -> None: ...

    async def subscribe_trades(self, symbols: list[str]) -> None: ...

    async def unsubscribe_trades(self, symbols: list[str]) -> None: ...


def snapshot(symbol: str, ts: float) -> BookSnapshot:
    bids = tuple(BookLevel(round(100 - TICK * (i + 1), 2), 100.0 + i) for i in range(LEVELS))
    asks = tuple(BookLevel(round(100 + TICK * i, 2), 100.0 + i) for i in range(LEVELS))
    return BookSnapshot(symbol=symbol, ts=ts, seq=1, bids=bids, asks=asks)


def level_changes(rng: random.Random, n: int) -> list[tuple[tuple[BookLevel, ...], tuple[BookLevel, ...]]]:
    """``n`` (bids, asks) changes of CHANGED levels near the touch; a removed level comes back next time."""
    out = []
    removed_bid: float | None = None
    removed_ask: float | None = None
    for _ in range(n):
        bids, asks = [], []
        if removed_bid is not None:
            bids.append(BookLevel(removed_bid, 50.0))
            removed_bid = None
        if removed_ask is not None:
            asks.append(BookLevel(removed_ask, 50.0))
            removed_ask = None
        while len(bids) < CHANGED // 2:
            p = round(100 - TICK * rng.randint(2, 20), 2)
            if all(lv.price != p for lv in bids):
                remove = rng.random() < 0.1 and removed_bid is None
                bids.append(BookLevel(p, 0.0 if remove else float(rng.randint(1, 500))))
                removed_bid = p if remove else removed_bid
        while len(asks) < CHANGED // 2:
            p = round(100 + TICK * rng.randint(1, 19), 2)
            if all(lv.price != p for lv in asks):
                remove = rng.random() < 0.1 and removed_ask is None
                asks.append(BookLevel(p, 0.0 if remove else float(rng.randint(1, 500))))
                removed_ask = p if remove else removed_ask
        out.append((tuple(bids), tuple(asks)))
    return out


def deltas(changes, count: int, start_seq: int, ts: float) -> list[BookDelta]:
    """``count`` deltas per symbol, round-robin across the symbols, consecutive per symbol."""
    out = []
    for k in range(count):
        bids, asks = changes[k % len(changes)]
        seq = start_seq + k
        out.extend(BookDelta(symbol=s, ts=ts, seq=seq, bids=bids, asks=asks) for s in SYMBOLS)
    return out


async def engine(seconds: float) -> dict:
    clock = LiveClock()
    broker = BenchDepthBroker(clock, SimConfig())
    rng = random.Random(21)
    changes = level_changes(rng, 997)
    with tempfile.TemporaryDirectory() as tmp:
        s = Session.build(Settings(), "paper", data_root=tmp, clock=clock, broker=broker)
        seen = {"views": 0, "levels": 0}
        spread = [0.0]

        def subscriber(view: BookView) -> None:  # a face: reads what it would draw
            seen["views"] += 1
            seen["levels"] += len(view.bids) + len(view.asks)
            if view.best_bid is not None and view.best_ask is not None:
                spread[0] = view.best_ask - view.best_bid

        s.bus.subscribe(BookView, subscriber)
        await s.watch_depth(SYMBOLS, 10)
        sink = broker.on_book
        now = clock.time()
        for sym in SYMBOLS:
            sink(snapshot(sym, now))
        seq = 2
        # the throughput pass: batches of 500 deltas, the loop turning between batches (the flush
        # task and the subscriber run then); building the deltas is left out of the time
        per_round = 200
        applied = 0
        views_before = seen["views"]
        elapsed = 0.0
        wall = time.perf_counter()
        while elapsed < seconds:
            batch = deltas(changes, per_round, seq, clock.time())
            seq += per_round
            t0 = time.perf_counter()
            for i in range(0, len(batch), 500):
                for msg in batch[i:i + 500]:
                    sink(msg)
                await asyncio.sleep(0)
            elapsed += time.perf_counter() - t0
            applied += len(batch)
        views = seen["views"] - views_before
        wall = time.perf_counter() - wall  # the views' clock: building the deltas took time too
        await asyncio.sleep(0.15)  # the end of the burst goes out
        last_views = {sym: s.depth.book(sym) for sym in SYMBOLS}
        assert all(v is not None and v.seq == seq - 1 for v in last_views.values()), "a book lost updates"
        # the latency pass: each delta timed alone
        sample = deltas(changes, 400, seq, clock.time())
        times = []
        for msg in sample:
            a = time.perf_counter_ns()
            sink(msg)
            times.append((time.perf_counter_ns() - a) / 1000)
        gaps = sum(s.depth.gaps.values())
        stale = [sym for sym in SYMBOLS if s.depth.book(sym).state == "stale"]
        await s.stop()
    return {
        "symbols": len(SYMBOLS), "levels_per_side": LEVELS, "levels_changed_per_delta": CHANGED,
        "deltas": applied, "level_updates": applied * CHANGED, "seconds": round(elapsed, 2),
        "level_updates_per_s": round(applied * CHANGED / elapsed),
        "deltas_per_s": round(applied / elapsed),
        "views_per_s": round(views / wall), "views": views, "levels_read_by_subscriber": seen["levels"],
        "apply_us_p50": round(pct(times, 50), 2), "apply_us_p99": round(pct(times, 99), 2),
        "gaps": gaps, "stale_books": len(stale), "target_level_updates_per_s": 100_000,
    }


def cli() -> dict:
    """``main.py depth AAPL --json`` start to exit, and its peak memory (the child's max RSS)."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "WORKSTATION_HOME": home}
        probe = subprocess.run([sys.executable, str(ROOT / "main.py"), "depth", "--help"], capture_output=True, env=env, cwd=ROOT)
        if probe.returncode != 0:
            return {"left_out": "main.py has no depth command yet"}
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, str(ROOT / "main.py"), "depth", "AAPL", "--json"], capture_output=True, env=env, cwd=ROOT)
            runs.append(time.perf_counter() - t0)
            if done.returncode != 0:
                return {"failed": (done.stderr or done.stdout).decode()[-300:]}
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        return {"seconds_min": round(min(runs), 2), "seconds_max": round(max(runs), 2), "peak_rss_mb": round(peak_mb, 1)}


async def socket_face(seconds: float) -> dict:
    """Books and prints of 50 symbols to a face over the engine's socket."""
    from workstation.api import LocalEngine
    from workstation.core.book import TradePrint
    from workstation.serve.remote import RemoteEngine
    from workstation.serve.server import EngineServer

    clock = LiveClock()
    broker = BenchDepthBroker(clock, SimConfig())
    changes = level_changes(random.Random(21), 997)
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        s = Session.build(Settings(), "paper", data_root=tmp, clock=clock, broker=broker)
        engine = LocalEngine(s, source="engine")
        server = EngineServer(engine, s, account_hz=0)
        path = Path(tmp) / "e.sock"
        await server.listen_unix(path)
        face = RemoteEngine(path, kind="bench", quotes=False, reconnect=False)
        await face.connect()
        got = {"views": 0, "prints": 0, "last_id": -1, "out_of_order": 0}

        def on_event(e: object) -> None:
            if type(e) is BookView:
                got["views"] += 1
            elif type(e) is TradePrint:
                got["prints"] += 1
                n = int(e.trade_id)
                got["out_of_order"] += n <= got["last_id"]
                got["last_id"] = n

        face.subscribe(on_event)
        await face.watch_depth(SYMBOLS, 10)
        now = clock.time()
        for sym in SYMBOLS:
            broker.on_book(snapshot(sym, now))
        seq, sent_prints, elapsed = 2, 0, 0.0
        per_round = 20
        while elapsed < seconds:
            batch = deltas(changes, per_round, seq, clock.time())
            seq += per_round
            t0 = time.perf_counter()
            for i in range(0, len(batch), 500):
                for msg in batch[i:i + 500]:
                    broker.on_book(msg)
                ts = clock.time()
                for sym in SYMBOLS:
                    broker.on_trade(TradePrint(symbol=sym, ts=ts, price=100.0, size=1.0, aggressor="buy", trade_id=str(sent_prints)))
                    sent_prints += 1
                await asyncio.sleep(0)
            elapsed += time.perf_counter() - t0
        t_end = time.perf_counter()
        final = seq - 1
        while got["last_id"] < sent_prints - 1 or any(
            (b := face.book(sym)) is None or b.seq != final for sym in SYMBOLS
        ):
            if time.perf_counter() - t_end > 10:
                break
            await asyncio.sleep(0.001)
        settle_ms = (time.perf_counter() - t_end) * 1000
        await face.stop()
        await server.close()
        await s.stop()
    return {
        "symbols": len(SYMBOLS), "seconds": round(elapsed, 2), "prints_sent": sent_prints,
        "prints_delivered": got["prints"], "prints_dropped": face.prints_dropped, "prints_out_of_order": got["out_of_order"],
        "prints_per_s": round(got["prints"] / elapsed), "views_received": got["views"],
        "views_per_s": round(got["views"] / elapsed), "final_books_after_ms": round(settle_ms, 1),
    }


def paper(steps: int = 200) -> dict:
    """The paper market's own books: a ``SimBroker`` step with 50 symbols' books and tapes streamed
    (the books built in one vectorised pass, deltas of the changed levels, the prints since the
    last step), against the same step with nothing streamed."""
    from _common import paper_universe, symbols

    from brokers.paper.broker import SimBroker, SimConfig
    from workstation.core.clock import SimClock

    names = symbols(50)

    async def one(stream: bool) -> tuple[list[float], int]:
        clock = SimClock(1_767_225_600.0)
        broker = SimBroker(clock, SimConfig(), universe=paper_universe(names))
        levels = [0]
        broker.attach(lambda r: None, lambda q: None, lambda s: None)
        broker.attach_depth(lambda m: levels.__setitem__(0, levels[0] + len(m.bids) + len(m.asks)), lambda t: None)
        await broker.subscribe(names)
        if stream:
            await broker.subscribe_depth(names)
            await broker.subscribe_trades(names)
        took = []
        for _ in range(steps):
            clock.advance(0.5)
            t0 = time.perf_counter()
            broker.step()
            took.append((time.perf_counter() - t0) * 1e6)
        return took, levels[0]

    quotes, _ = asyncio.run(one(False))
    books, levels = asyncio.run(one(True))
    q50, b50 = pct(quotes, 50), pct(books, 50)
    return {
        "symbols": 50, "steps": steps, "step_quotes_only_us_p50": round(q50), "step_with_books_and_tapes_us_p50": round(b50),
        "books_and_tapes_us_per_symbol": round((b50 - q50) / 50, 1), "level_updates_per_step": round(levels / steps),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--cli", action="store_true", help="also time main.py depth AAPL --json")
    ap.add_argument("--socket", action="store_true", help="also stream the books and prints to a face over the socket")
    ap.add_argument("--paper", action="store_true", help="also time the paper market's step with 50 books and tapes streamed")
    args = ap.parse_args()
    out = asyncio.run(engine(args.seconds))
    if args.cli:
        out["depth_cli"] = cli()
    if args.socket:
        out["socket"] = asyncio.run(socket_face(args.seconds))
    if args.paper:
        out["paper"] = paper()
    print(json.dumps(out, indent=2))
