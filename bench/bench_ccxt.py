"""Benchmark the ccxt adapter against the binance fake on 127.0.0.1; prints one JSON object.

* quotes/s: ticker messages pushed by the fake's websocket, through the real ccxt.pro
  client and the adapter, into the engine's QuoteCache (ccxt conflates per symbol between
  two reads, so "received" can be lower than "sent").
* order round trip: submit through the adapter and the real ccxt REST client until the
  adapter reports the order accepted (limit) or filled (market); cancel likewise.

Usage: PYTHONPATH=. python bench/bench_ccxt.py [--quotes 20000] [--orders 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from brokers.base import BrokerAccepted, BrokerCanceled, BrokerFill  # noqa: E402
from brokers.exchanges.adapter import CcxtBroker, CcxtConfig  # noqa: E402
from tests.fakes.binance_fake import BinanceFake  # noqa: E402
from workstation.core.bus import Bus  # noqa: E402
from workstation.core.clock import LiveClock  # noqa: E402
from workstation.core.marketdata import QuoteCache  # noqa: E402
from workstation.core.model import Order, OrderStatus, OrderType, Side, TimeInForce  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def run(n_quotes: int, n_orders: int) -> dict:
    fake = BinanceFake(api_key="bench-key", secret="bench-secret").start()
    os.environ["WORKSTATION_BINANCE_API_KEY"] = "bench-key"
    os.environ["WORKSTATION_BINANCE_SECRET"] = "bench-secret"
    cache = QuoteCache(Bus())
    reports: dict[str, list[tuple[float, object]]] = {}
    broker = CcxtBroker(CcxtConfig(exchange="binance", url_override=fake.url, rate_limit_ms=0), LiveClock())
    broker.attach(lambda r: reports.setdefault(r.client_id, []).append((time.perf_counter(), r)), cache.on_quote, lambda s: None)
    await broker.connect()
    await broker.subscribe(["BTC/USD"])
    await asyncio.sleep(0.3)

    # quotes: the fake pushes as fast as its socket takes them; ccxt parses every message and
    # hands the adapter the latest ticker per symbol (conflation), which goes into the cache
    start_count = cache.count
    final_bid = 60000 + ((n_quotes - 1) % 100) / 100
    t0 = time.perf_counter()
    push = asyncio.create_task(asyncio.to_thread(fake.push_quotes, "BTCUSDT", n_quotes))
    while not push.done():
        await asyncio.sleep(0.001)
    pushed = time.perf_counter()
    while cache.get("BTC/USD").bid != final_bid and time.perf_counter() - pushed < 5:
        await asyncio.sleep(0.001)
    final_seen = cache.get("BTC/USD").bid == final_bid
    elapsed = time.perf_counter() - t0 if final_seen else pushed - t0
    sent = push.result()
    received = cache.count - start_count

    # paced: the fake sends at a steady rate; how many distinct quotes reach the cache
    paced = {}
    for rate in (500, 2000, 10000):
        before, t1 = cache.count, time.perf_counter()
        n = int(rate * 1.5)
        await asyncio.to_thread(fake.push_quotes, "BTCUSDT", n, rate)
        await asyncio.sleep(0.05)
        took = time.perf_counter() - t1
        paced[str(rate)] = {"quotes_into_cache": cache.count - before, "per_second": round((cache.count - before) / took, 1)}

    async def round_trip(i: int, kind: OrderType) -> tuple[float, float | None]:
        cid = f"bench-{kind.value}-{i}"
        order = Order(
            id=str(i), client_id=cid, symbol="BTC/USD", side=Side.BUY if i % 2 == 0 else Side.SELL, qty=Decimal("0.001"),
            type=kind, tif=TimeInForce.GTC, limit_price=Decimal("50000") if kind is OrderType.LIMIT else None,
            status=OrderStatus.SUBMITTED,
        )
        want = BrokerAccepted if kind is OrderType.LIMIT else BrokerFill
        start = time.perf_counter()
        await broker.submit(order)
        while not any(isinstance(r, want) for _, r in reports.get(cid, [])):
            await asyncio.sleep(0)
        rtt = next(t for t, r in reports[cid] if isinstance(r, want)) - start
        if kind is not OrderType.LIMIT:
            return rtt, None
        start = time.perf_counter()
        await broker.cancel(msgspec_replace(order, broker_id=None))
        while not any(isinstance(r, BrokerCanceled) for _, r in reports[cid]):
            await asyncio.sleep(0)
        return rtt, time.perf_counter() - start

    fake.balances["BTC"] = [Decimal(100), Decimal(0)]
    limit = [await round_trip(i, OrderType.LIMIT) for i in range(n_orders)]
    market = [(await round_trip(i, OrderType.MARKET))[0] for i in range(n_orders)]
    await broker.close()
    fake.stop()
    ms = lambda xs: {"median_ms": round(statistics.median(xs) * 1000, 2), "p95_ms": round(pct(xs, 0.95) * 1000, 2)}  # noqa: E731
    return {
        "benchmark": "ccxt adapter against the binance fake (loopback)",
        "ccxt": __import__("ccxt").__version__,
        "quotes": {
            "messages": sent, "seconds": round(elapsed, 3), "messages_per_second": round(sent / elapsed, 1),
            "quotes_into_cache": received, "quotes_into_cache_per_second": round(received / elapsed, 1),
            "last_quote_arrived": final_seen, "stream_reconnects": broker.reconnects,
        },
        "paced_quotes_per_second_sent": paced,
        "limit_submit_to_accepted": ms([a for a, _ in limit]),
        "cancel_to_canceled": ms([b for _, b in limit if b is not None]),
        "market_submit_to_fill": ms(market),
        "orders": n_orders,
    }


def msgspec_replace(order: Order, **changes) -> Order:
    import msgspec

    return msgspec.structs.replace(order, **changes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quotes", type=int, default=20_000)
    parser.add_argument("--orders", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.quotes, args.orders))))


if __name__ == "__main__":
    main()
