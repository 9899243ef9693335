"""Interactive Brokers adapter: quotes per second into the quote cache, and order round trips.

The fake TWS (tests/fakes/tws_fake.py) runs in a child process, so the figures are the
cost of ib_async's socket reader and decoder plus the adapter and the quote cache, on
loopback. Quotes: 100 symbols (TWS's default allowance of market data lines) flooded
with bid, ask and last ticks as fast as the fake can write; two figures, ticks decoded per
second (each arrives as its own tick message) and quotes delivered into the cache per
second (ib_async folds the ticks of one socket read into one update per symbol, so under
a flood a quote carries several ticks). Orders: submit to acknowledgement (openOrder + orderStatus) for limit
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

from _common import pct, symbols

N_SYMBOLS = 100  # TWS's default allowance of market data lines
ROUNDS = 600  # updates per symbol (bid, ask and last each)
SENTINEL = 9999.0
ORDERS = 200
ORDER_SYMBOL = "MSFT"


def _child(conn) -> None:
    from _common import symbols
    from tests.fakes.tws_fake import FakeContract, FakeTWS

    class FloodFake(FakeTWS):
        def _on_1(self, client, f):
            super()._on_1(client, f)
            if len(client.tickers) == N_SYMBOLS:  # the last subscription: flood them all
                asyncio.get_running_loop().create_task(self._flood(client))

        async def _flood(self, client):
            reqs = list(client.tickers)
            for i in range(ROUNDS):
                px = 100.0 + (i % 500) / 100
                for req_id in reqs:
                    self._send_ticks(client, req_id, {"bid": px, "ask": px + 0.01, "last": px})
                await client.writer.drain()
            for req_id in reqs:
                self._send_ticks(client, req_id, {"bid": SENTINEL - 0.01, "ask": SENTINEL + 0.01, "last": SENTINEL})

    contracts = [FakeContract(1000 + i, sym, "STK", "SMART", primary="NYSE", local_symbol=sym, trading_class=sym)
                 for i, sym in enumerate(symbols(N_SYMBOLS))]
    contracts.append(FakeContract(272093, ORDER_SYMBOL, "STK", "SMART", primary="NASDAQ", local_symbol=ORDER_SYMBOL))
    fake = FloodFake(contracts, cash=100_000_000.0)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    port = loop.run_until_complete(fake.start())
    fake.quotes[272093] = {"bid": 400.0, "ask": 400.02, "last": 400.01}
    conn.send(port)
    threading.Thread(target=lambda: (conn.recv(), loop.call_soon_threadsafe(loop.stop)), daemon=True).start()
    loop.run_forever()


async def _measure(port: int) -> dict:
    from brokers.base import BrokerAccepted, BrokerFill
    from brokers.ib.adapter import IBBroker, IBConfig
    from workstation.core.bus import Bus
    from workstation.core.clock import LiveClock
    from workstation.core.marketdata import QuoteCache
    from workstation.core.model import Order, OrderType, Side, TimeInForce

    clock = LiveClock()
    cache = QuoteCache(Bus())
    acks: dict[str, asyncio.Event] = {}
    fills: dict[str, asyncio.Event] = {}

    def on_report(r) -> None:
        waiting = acks if isinstance(r, BrokerAccepted) else fills if isinstance(r, BrokerFill) else {}
        if r.client_id in waiting:
            waiting[r.client_id].set()

    first: list[float] = []

    def on_quote(q) -> None:
        if not first:
            first.append(time.perf_counter())
        cache.on_quote(q)

    broker = IBBroker(IBConfig(name="bench", port=port, heartbeat=0, first_quote_wait=0), clock)
    broker.attach(on_report, on_quote, lambda s: None)
    await broker.connect()
    syms = symbols(N_SYMBOLS)
    for sym in [*syms, ORDER_SYMBOL]:
        await broker.instrument(sym)  # contract details (ib_async paces requests at 45/s)

    await broker.subscribe(syms)
    while not all((q := cache.get(s)) is not None and q.last == SENTINEL for s in syms):
        await asyncio.sleep(0.001)
    quote_s = time.perf_counter() - first[0]
    ticks = 3 * N_SYMBOLS * (ROUNDS + 1)

    def order(n: int, otype: OrderType) -> Order:
        return Order(id=str(n), client_id=f"bench-{n}", symbol=ORDER_SYMBOL, side=Side.BUY, qty=Decimal(1), type=otype,
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
        "symbols": N_SYMBOLS,
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
