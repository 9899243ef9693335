"""Benchmark the Alpaca adapter against the loopback fake, through the real alpaca-py SDK.

* quotes/s: the fake floods msgpack quote frames on the market-data stream; we count quotes
  reaching the engine's QuoteCache (SDK decode + adapter translation + cache + bus).
* order round trip: a limit order from OrderManager.submit until it is accepted (REST via
  the SDK off the event loop), and a market order until its fill arrives on trade_updates.

The network is loopback, so the figures are the SDK's and the adapter's overhead. The
client-side rate limiter is lifted for the run (Alpaca's real limit is 200 requests/min).
Prints one JSON object.  Usage: PYTHONPATH=. python bench/bench_alpaca.py [--quotes N] [--orders N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.alpaca_fake import KEY, SECRET, AlpacaFake  # noqa: E402
from workstation.core.config import Profile, Settings  # noqa: E402
from workstation.core.model import OrderRequest, OrderStatus, OrderType, Quote, Side  # noqa: E402
from workstation.trading.session import Session  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def run(n_quotes: int, n_orders: int) -> dict:
    fake = AlpacaFake().start()
    opts = {**fake.options(), "rate_limit": 1_000_000, "backoff_min": 0.05}
    settings = Settings(profiles={"alpaca-paper": Profile(name="alpaca-paper", broker="alpaca", options=opts)})
    session = Session.build(settings, "alpaca-paper", data_root=tempfile.mkdtemp(prefix="bench-alpaca-"))
    received = 0
    done = asyncio.Event()

    def count(q: Quote) -> None:
        nonlocal received
        received += 1
        if received >= n_quotes:
            done.set()

    try:
        await session.start(["AAPL"])
        while fake.subscribed() != {"AAPL"}:
            await asyncio.sleep(0.01)
        session.bus.subscribe(Quote, count)
        received = 0
        started = time.perf_counter()
        flood = asyncio.get_running_loop().run_in_executor(None, fake.push_quotes, "AAPL", n_quotes, 100)
        await asyncio.wait_for(done.wait(), 120)
        quote_s = time.perf_counter() - started
        await flood

        accept_ms, fill_ms = [], []
        for i in range(n_orders):
            t0 = time.perf_counter()
            order = await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(1), type=OrderType.LIMIT, limit_price=Decimal("150")))
            while session.oms.orders[order.id].status is OrderStatus.SUBMITTED:
                await asyncio.sleep(0)
            accept_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            side = Side.BUY if i % 2 == 0 else Side.SELL
            order = await session.oms.submit(OrderRequest(symbol="AAPL", side=side, qty=Decimal(1)))
            while session.oms.orders[order.id].status is not OrderStatus.FILLED:
                await asyncio.sleep(0.0005)
            fill_ms.append((time.perf_counter() - t0) * 1000)
        await session.oms.cancel_all()
    finally:
        await session.stop()
        fake.stop()
    return {
        "benchmark": "alpaca",
        "sdk": "alpaca-py 0.44.0 (real, unmodified) against tests/fakes/alpaca_fake.py on 127.0.0.1",
        "quotes": n_quotes,
        "quotes_per_s": round(n_quotes / quote_s),
        "orders": n_orders,
        "limit_accept_ms": {"median": round(statistics.median(accept_ms), 2), "p95": round(pct(accept_ms, 0.95), 2)},
        "market_fill_ms": {"median": round(statistics.median(fill_ms), 2), "p95": round(pct(fill_ms, 0.95), 2)},
        "note": "market_fill_ms includes the fake's 10 ms delay before it fills a market order",
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quotes", type=int, default=50_000)
    parser.add_argument("--orders", type=int, default=100)
    args = parser.parse_args()
    os.environ.setdefault("APCA_API_KEY_ID", KEY)
    os.environ.setdefault("APCA_API_SECRET_KEY", SECRET)
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    os.environ.setdefault("WORKSTATION_HOME", tempfile.mkdtemp(prefix="bench-alpaca-home-"))
    print(json.dumps(asyncio.run(run(args.quotes, args.orders))))


if __name__ == "__main__":
    main()
