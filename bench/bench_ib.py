"""Interactive Brokers adapter: quotes per second into the quote cache, and order round trips.

The fake TWS (tests/fakes/tws_fake.py) runs in a child process, so the figures are the
cost of ib_async's socket reader and decoder plus the adapter and the quote cache, on
loopback. Two figures for quotes: ticks decoded per second (bid, ask and last arrive as
separate tick messages) and quotes delivered into the cache per second (ib_async
coalesces the ticks of one TCP read into one ticker update, so a flood yields fewer,
fresher quotes). Orders: submit to acknowledgement (openOrder + orderStatus) for limit
orders, and submit to the fill report (execDetails + commissionReport) for market orders.
Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import threading
import time
from decimal import Decimal

from _common import pct

TICKS_PER_SYMBOL = 20_000
SYMBOLS = {"AAPL": 265598, "MSFT": 272093, "SPY": 756733}
SENTINEL = 9999.0
ORDERS = 200


def _child(conn) -> None:
    from tests.fakes.tws_fake import FakeTWS

    class FloodFake(FakeTWS):
        def _on_1(self, client, f):
            super()._on_1(client, f)
            con_id = client.tickers.get(int(f[2]))
            if con_id == SYMBOLS["SPY"]:  # the last subscription: flood all three
                asyncio.get_running_loop().create_task(self._flood(client))

        async def _flood(self, client):
            reqs = dict(client.tickers)
            for i in range(TICKS_PER_SYMBOL):
                for req_id in reqs:
                    px = 100.0 + (i % 500) / 100
                    self._send_ticks(client, req_id, {"bid": px, "ask": px + 0.01, "last": px, "bid_size": 100, "ask_size": 100})
                if i % 200 == 0:
                    await client.writer.drain()
            for req_id in reqs:
                self._send_ticks(client, req_id, {"bid": SENTINEL - 0.01, "ask": SENTINEL + 0.01, "last": SENTINEL})

    fake = FloodFake(cash=100_000_000.0)
    fake.commission_min = 0.0
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    port = loop.run_until_complete(fake.start())
    fake.quotes[SYMBOLS["MSFT"]] = {"bid": 400.0, "ask": 400.02, "last": 400.01}
    conn.send(port)
    threading.Thread(target=lambda: (conn.recv(), loop.call_soon_threadsafe(loop.stop)), daemon=True).start()
    loop.run_forever()


async def _measure(port: int) -> dict:
    from brokers.base import BrokerAccepted, BrokerFill
    from brokers.ib import IBBroker, IBConfig
    from workstation.bus import Bus
    from workstation.clock import LiveClock
    from workstation.marketdata import QuoteCache
    from workstation.model import Order, OrderType, Side, TimeInForce

    clock = LiveClock()
    cache = QuoteCache(Bus())
    acks: dict[str, asyncio.Event] = {}
    fills: dict[str, asyncio.Event] = {}

    def on_report(r) -> None:
        waiting = acks if isinstance(r, BrokerAccepted) else fills if isinstance(r, BrokerFill) else {}
        if r.client_id in waiting:
            waiting[r.client_id].set()

    broker = IBBroker(IBConfig(name="bench", port=port, heartbeat=0), clock)
    broker.attach(on_report, cache.on_quote, lambda s: None)
    await broker.connect()
    for sym in SYMBOLS:
        await broker.instrument(sym)

    t0 = time.perf_counter()
    await broker.subscribe(list(SYMBOLS))
    while not all((q := cache.get(s)) is not None and q.last == SENTINEL for s in SYMBOLS):
        await asyncio.sleep(0.001)
    quote_s = time.perf_counter() - t0
    ticks = 3 * len(SYMBOLS) * (TICKS_PER_SYMBOL + 1)

    def order(n: int, otype: OrderType) -> Order:
        return Order(id=str(n), client_id=f"bench-{n}", symbol="MSFT", side=Side.BUY, qty=Decimal(1), type=otype,
                     tif=TimeInForce.DAY, limit_price=Decimal("300") if otype is OrderType.LIMIT else None)

    ack, fill = [], []
    for n in range(ORDERS):
        o = order(n, OrderType.LIMIT)
        acks[o.client_id] = asyncio.Event()
        t = time.perf_counter()
        await broker.submit(o)
        await acks[o.client_id].wait()
        ack.append((time.perf_counter() - t) * 1000)
    for n in range(ORDERS, ORDERS + ORDERS // 2):
        o = order(n, OrderType.MARKET)
        fills[o.client_id] = asyncio.Event()
        t = time.perf_counter()
        await broker.submit(o)
        await fills[o.client_id].wait()
        fill.append((time.perf_counter() - t) * 1000)
    await broker.close()
    return {
        "benchmark": "ib_adapter",
        "sdk": "ib_async 2.1.0 against tests/fakes/tws_fake.py in another process, loopback",
        "symbols": len(SYMBOLS),
        "ticks": ticks,
        "seconds": round(quote_s, 3),
        "ticks_decoded_per_s": round(ticks / quote_s),
        "quotes_into_cache": cache.count,
        "quotes_into_cache_per_s": round(cache.count / quote_s),
        "limit_submit_to_ack_ms": {"median": round(pct(ack, 50), 3), "p95": round(pct(ack, 95), 3), "max": round(max(ack), 3), "n": len(ack)},
        "market_submit_to_fill_ms": {"median": round(pct(fill, 50), 3), "p95": round(pct(fill, 95), 3), "max": round(max(fill), 3), "n": len(fill)},
        "orders_per_s_sequential": round((len(ack) + len(fill)) / ((sum(ack) + sum(fill)) / 1000)),
    }


def main() -> dict:
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_child, args=(child,), daemon=True)
    proc.start()
    try:
        port = parent.recv()
        return asyncio.run(_measure(port))
    finally:
        parent.send("stop")
        proc.join(5)


if __name__ == "__main__":
    print(json.dumps(main()))
