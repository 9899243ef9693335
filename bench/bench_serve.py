"""The serving engine over its Unix socket: event rate, the cost of a stalled client, keystroke latency.

An engine (simulated clock, paper broker, journal on) serves in a child process; this
process attaches to it. Figures:

* ``events_per_s``: must-deliver events (connection-state events: never conflated, never
  dropped, and cheap for the engine) from the engine to one attached RemoteEngine, end to
  end (publish to handler).
* ``quotes``: 200,000 quotes published as fast as the engine can; how many reached the
  client (conflated per symbol) and the engine's publishing rate.
* ``stalled_client``: the engine's throughput on an order workload (market orders with
  quotes between them; every risk check on, the order-flow caps off) with one reading client, then with one reading client plus one
  that never reads; the cost in percent (target under 10%), by wall time and by the
  engine process's own CPU time (steadier on a machine shared with other work).
* ``keystroke_to_order_ms``: with ``:buy 1 AAPL`` typed on the command line, from the Enter
  key until the fill event reaches the app (review, submit, fill), in a Pilot-driven
  workstation: embedded (LocalEngine) vs attached (RemoteEngine).
* ``attach_10k_orders``: an engine whose journal holds 10,000 orders of the day (refused,
  as a runaway script leaves them; restored at start as after a restart): how long a
  RemoteEngine takes to attach (connect, welcome, snapshot decoded), the snapshot's size
  in bytes, and how long ``order_list`` takes to read the whole day in pages.

Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from _common import ROOT, pct  # noqa: F401  (ROOT on sys.path)

START = 1_767_225_600.0
SYMBOLS = ["AAPL", "MSFT", "NVDA", "SPY"]


def _session(root: Path):
    from brokers.paper.broker import SimBroker, SimConfig
    from workstation.core.clock import SimClock
    from workstation.core.config import Profile, Settings
    from workstation.core.limits import RiskLimits
    from workstation.trading.session import Session

    clock = SimClock(START)
    broker = SimBroker(clock, SimConfig())
    # every risk check runs; the order-flow caps (20/s, 300/min, 5,000/day) are off for a throughput run
    flow_off = RiskLimits(max_orders_per_second=None, max_orders_per_minute=None, max_orders_per_day=None)
    settings = Settings(watchlist=SYMBOLS, profiles={"paper": Profile(risk=flow_off)})
    return Session.build(settings, "paper", data_root=root, clock=clock, broker=broker), clock


# --------------------------------------------------------------------------- the engine process


def engine_main(conn, root: str, sock: str) -> None:
    asyncio.run(_engine(conn, Path(root), Path(sock)))


async def _engine(conn, root: Path, sock: Path) -> None:
    from workstation.api import LocalEngine
    from workstation.core.model import ConnectionState, OrderRequest, Quote, Side
    from workstation.serve.server import EngineServer

    session, clock = _session(root)
    engine = LocalEngine(session, source="engine")
    server = EngineServer(engine, session, account_hz=1.0, must_limit=200_000)  # a 50,000-event burst fits
    await engine.start(SYMBOLS)
    await server.listen_unix(sock)
    loop = asyncio.get_running_loop()
    conn.send("ready")
    price = 200.0
    while True:
        cmd = await loop.run_in_executor(None, conn.recv)
        op = cmd[0]
        if op == "stop":
            break
        if op == "links":
            conn.send(sorted(server.links))
        elif op == "advance":
            clock.advance(cmd[1])
            conn.send(None)
        elif op == "events":
            n = cmd[1]
            t0 = time.perf_counter()
            for i in range(n):  # must-deliver, and cheap for the engine itself: the transport is what is measured
                session.bus.publish(ConnectionState(broker="bench", state="connected", detail=str(i), ts=clock.time()))
                if i % 200 == 199:
                    await asyncio.sleep(0)
            conn.send(time.perf_counter() - t0)
        elif op == "quotes":
            n = cmd[1]
            t0 = time.perf_counter()
            for i in range(n):
                price += 0.01 if i % 7 else -0.05
                sym = SYMBOLS[i % len(SYMBOLS)]
                session.quotes.on_quote(Quote(symbol=sym, ts=clock.time(), bid=round(price - 0.01, 2), ask=round(price + 0.01, 2), last=round(price, 2), prev_close=200.0))
                if i % 500 == 499:
                    await asyncio.sleep(0)
            conn.send(time.perf_counter() - t0)
        elif op == "orders":
            n, per = cmd[1], cmd[2]
            t0 = time.perf_counter()
            c0 = time.process_time()
            for i in range(n):
                for j in range(per):
                    price += 0.01 if (i + j) % 3 else -0.02
                    sym = SYMBOLS[j % len(SYMBOLS)]
                    session.quotes.on_quote(Quote(symbol=sym, ts=clock.time(), bid=round(price - 0.01, 2), ask=round(price + 0.01, 2), last=round(price, 2), prev_close=200.0))
                await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.BUY if i % 2 == 0 else Side.SELL, qty=Decimal(1), source="bench"))
                clock.advance(0.001)
                if i % 20 == 19:
                    await asyncio.sleep(0)
            await session.oms.drain()
            rejected = sum(1 for o in session.oms.orders.values() if o.status.value == "rejected")
            reasons = {o.reason for o in session.oms.orders.values() if o.status.value == "rejected"}
            if reasons:
                print("rejections:", sorted(r or "" for r in reasons)[:3], file=sys.stderr)
            conn.send((time.perf_counter() - t0, time.process_time() - c0, rejected))
    await server.close()
    await engine.stop()


# --------------------------------------------------------------------------- the client side


class Counter:
    def __init__(self) -> None:
        self.alerts = 0
        self.quotes = 0
        self.orders = 0
        self.last = 0.0
        self.done = asyncio.Event()
        self.want_alerts = 0

    def __call__(self, event: object) -> None:
        from workstation.core.model import ConnectionState, OrderEvent, Quote

        if type(event) is Quote:
            self.quotes += 1
        elif isinstance(event, OrderEvent):
            self.orders += 1
        elif isinstance(event, ConnectionState) and event.broker == "bench":
            self.alerts += 1
            if self.alerts >= self.want_alerts:
                self.last = time.perf_counter()
                self.done.set()


async def ask(conn, *cmd):
    conn.send(cmd)
    return await asyncio.get_running_loop().run_in_executor(None, conn.recv)


def stalled(sock: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(str(sock))
    from workstation.serve.protocol import VERSION

    hello = json.dumps({"t": "hello", "v": VERSION, "kind": "stalled"}).encode()
    s.sendall(hello + b'\n{"t":"watch","id":1,"symbols":["AAPL","MSFT","NVDA","SPY"]}\n')
    return s


async def transport(conn, sock: Path) -> dict:
    from workstation.serve.remote import RemoteEngine

    remote = RemoteEngine(sock, kind="bench")
    count = Counter()
    remote.subscribe(count)
    await remote.start(SYMBOLS)
    n = 50_000
    count.want_alerts = n
    t0 = time.perf_counter()
    publish_s = await ask(conn, "events", n)
    await asyncio.wait_for(count.done.wait(), 120)
    alerts_rate = n / (count.last - t0)
    await asyncio.sleep(0.2)
    q0 = count.quotes
    nq = 200_000
    t1 = time.perf_counter()
    publish_q = await ask(conn, "quotes", nq)
    await asyncio.sleep(0.5)
    received = count.quotes - q0
    await remote.stop()
    return {
        "events_per_s": round(alerts_rate),
        "events": n,
        "engine_publish_events_per_s": round(n / publish_s),
        "quotes": {
            "published": nq,
            "engine_publish_per_s": round(nq / publish_q),
            "delivered_to_client": received,
            "delivered_per_s": round(received / (time.perf_counter() - t1 - 0.5 + 1e-9)) if received else 0,
            "conflated_pct": round(100 * (1 - received / nq), 1),
        },
    }


async def stall_cost(conn, sock: Path, rounds: int = 6, orders: int = 600, per: int = 10) -> dict:
    from workstation.serve.remote import RemoteEngine

    reader = RemoteEngine(sock, kind="bench")
    count = Counter()
    reader.subscribe(count)
    await reader.start(SYMBOLS)
    alone, with_stalled = [], []
    cut = 0
    await ask(conn, "orders", orders // 2, per)  # warm up
    for r in range(rounds):
        for stall in ((False, True) if r % 2 == 0 else (True, False)):  # alternate which goes first
            if not stall:
                alone.append(await ask(conn, "orders", orders, per))
                continue
            s = stalled(sock)
            await asyncio.sleep(0.1)
            with_stalled.append(await ask(conn, "orders", orders, per))
            links = await ask(conn, "links")
            cut += not any(x.startswith("stalled") for x in links)
            s.close()
            await asyncio.sleep(0.1)
    await reader.stop()
    a, b = statistics.median(w for w, _, _ in alone), statistics.median(w for w, _, _ in with_stalled)
    ca, cb = statistics.median(c for _, c, _ in alone), statistics.median(c for _, c, _ in with_stalled)
    rejected = max(r for _, _, r in alone + with_stalled)
    return {
        "orders_per_s_one_reader": round(orders / a),
        "orders_per_s_with_stalled_client": round(orders / b),
        "quotes_per_order": per,
        "cost_pct_wall": round(100 * (b - a) / a, 1),
        "cost_pct_engine_cpu": round(100 * (cb - ca) / ca, 1),
        "stalled_client_cut_in_rounds": cut,
        "orders_rejected_by_risk": rejected,
        "rounds": rounds,
    }


async def keystrokes(sock: Path | None, root: Path, n: int = 30, conn=None) -> dict:
    from workstation.api import LocalEngine
    from workstation.core.config import Settings, UISettings
    from workstation.core.model import OrderEvent
    from workstation.serve.remote import RemoteEngine
    from workstation.ui.app import WorkstationApp
    from workstation.ui.watchlists import Watchlists

    settings = Settings(watchlist=SYMBOLS, ui=UISettings(confirm_orders=False))
    if sock is None:
        session, clock = _session(root / "embedded")
        engine = LocalEngine(session)

        async def advance() -> None:
            clock.advance(0.1)
    else:
        engine = RemoteEngine(sock, kind="bench-tui")

        async def advance() -> None:
            await ask(conn, "advance", 0.1)  # simulated time: the engine's order-rate limit stays happy
    app = WorkstationApp(engine, settings, watchlists=Watchlists.load(root / "wl.json", SYMBOLS), save_settings=False)
    fills: list[float] = []
    outcomes: list[str] = []

    def on_event(e: object) -> None:
        if isinstance(e, OrderEvent) and e.order.status.is_terminal:
            fills.append(time.perf_counter())
            outcomes.append(e.order.status.value)

    engine.subscribe(on_event)
    lat = []
    async with app.run_test(size=(160, 50)) as pilot:
        while not app._started:
            await pilot.pause(0.01)
        for i in range(n + 5):
            await advance()
            app.action_command_line("buy 1 AAPL" if i % 2 == 0 else "sell 1 AAPL")  # typed; Enter is the keystroke
            await pilot.pause()
            seen = len(fills)
            t0 = time.perf_counter()
            await pilot.press("enter")
            deadline = time.perf_counter() + 10
            while len(fills) == seen and time.perf_counter() < deadline:
                await asyncio.sleep(0.0005)
            if len(fills) == seen:
                raise RuntimeError("no answer to the order within 10 s")
            if i >= 5:
                lat.append((fills[seen] - t0) * 1000)
    return {"p50": round(pct(lat, 50), 2), "p99": round(pct(lat, 99), 2), "n": len(lat), "filled": outcomes.count("filled")}


def write_day(root: Path, n: int) -> None:
    """``n`` refused orders of the day in the journal under ``root`` (one transaction)."""
    from workstation.core.model import Order, OrderStatus, OrderType, Side, TimeInForce

    session, _clock = _session(root)
    journal = session.journal
    with journal._tx():  # one transaction: a bench fixture, not the engine's way of writing
        for i in range(1, n + 1):
            ts = START - 3_600 + i * 0.01
            order = Order(
                id=str(i), client_id=f"refused{i}", symbol="AAPL", side=Side.BUY, qty=Decimal(1), type=OrderType.MARKET,
                tif=TimeInForce.DAY, status=OrderStatus.REJECTED, reason="max orders per day reached", source="cli",
                created=ts, updated=ts,
            )
            journal.record_order("rejected", order, ts)
    journal.set_meta("order_seq", str(n))
    journal.close()


async def attach_figure(sock: Path, n: int, rounds: int = 15) -> dict:
    from workstation.serve.protocol import VERSION
    from workstation.serve.remote import RemoteEngine

    times = []
    for _ in range(rounds):
        remote = RemoteEngine(sock, kind="bench", quotes=False, reconnect=False)
        t0 = time.perf_counter()
        await remote.connect()
        times.append((time.perf_counter() - t0) * 1000)
        held = len(remote.orders())
        await remote.stop()
    reader, writer = await asyncio.open_unix_connection(str(sock), limit=64 * 1024 * 1024)
    writer.write(json.dumps({"t": "hello", "v": VERSION, "kind": "bench", "quotes": False}).encode() + b"\n")
    await reader.readline()
    snapshot = await reader.readline()
    writer.close()
    remote = RemoteEngine(sock, kind="bench", quotes=False, reconnect=False)
    await remote.connect()
    t0 = time.perf_counter()
    day = await remote.order_list(False)
    pages_s = time.perf_counter() - t0
    await remote.stop()
    return {
        "orders_in_day": n,
        "attach_ms_p50": round(pct(times, 50), 1),
        "attach_ms_max": round(max(times), 1),
        "snapshot_bytes": len(snapshot),
        "orders_in_snapshot": held,
        "order_list_day_s": round(pages_s, 3),
        "order_list_day_orders": len(day),
        "rounds": rounds,
    }


def attach_bench(root: Path, n: int = 10_000) -> dict:
    """A second engine process, started on a journal that already holds ``n`` orders of the day."""
    write_day(root / "engine10k", n)
    sock = root / "a.sock"
    parent, child = mp.get_context("spawn").Pipe()
    proc = mp.get_context("spawn").Process(target=engine_main, args=(child, str(root / "engine10k"), str(sock)), daemon=True)
    proc.start()
    assert parent.recv() == "ready"
    try:
        return asyncio.run(attach_figure(sock, n))
    finally:
        parent.send(("stop",))
        proc.join(timeout=30)


async def client_side(conn, sock: Path, root: Path) -> dict:
    out = {"transport": await transport(conn, sock)}
    out["keystroke_to_order_ms"] = {  # before the order workload fills the day's order budget
        "embedded": await keystrokes(None, root),
        "attached": await keystrokes(sock, root, conn=conn),
    }
    out["stalled_client"] = await stall_cost(conn, sock)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="wsb", dir="/tmp") as tmp:
        root = Path(tmp)
        sock = root / "e.sock"
        parent, child = mp.get_context("spawn").Pipe()
        proc = mp.get_context("spawn").Process(target=engine_main, args=(child, str(root / "engine"), str(sock)), daemon=True)
        proc.start()
        assert parent.recv() == "ready"
        try:
            result = asyncio.run(client_side(parent, sock, root))
        finally:
            parent.send(("stop",))
            proc.join(timeout=30)
        result["attach_10k_orders"] = attach_bench(root)
        result["cores"] = os.cpu_count()
        result["python"] = sys.version.split()[0]
        print(json.dumps(result))


if __name__ == "__main__":
    main()
