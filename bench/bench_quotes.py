"""Quote throughput through the engine for 500 symbols, on one core.

Path measured: the simulated feed generating quotes (vectorised per time step), the
data-quality monitor (the broker's quote sink), the quote cache, the bus (portfolio marks
for positions held in 50 of the symbols, the alert rules, the risk monitors) and one
subscriber.
Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

from _common import paper_universe, symbols

from brokers.paper.broker import SimBroker, SimConfig
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import Fill, Quote, Side
from workstation.trading.session import Session


async def main() -> dict:
    import tempfile

    syms = symbols(500)
    clock = SimClock(1_767_225_600.0)
    broker = SimBroker(clock, SimConfig(), universe=paper_universe(syms))
    with tempfile.TemporaryDirectory() as tmp:
        s = Session.build(Settings(), "paper", data_root=tmp, clock=clock, broker=broker)
        for i, sym in enumerate(syms[:50]):
            s.portfolio.apply_fill(Fill(exec_id=f"b{i}", order_id="0", symbol=sym, side=Side.BUY, qty=Decimal(10), price=Decimal(10)))
        seen = [0]

        def subscriber(q: Quote) -> None:
            seen[0] += 1

        s.bus.subscribe(Quote, subscriber)
        market = broker.market
        on_quote = s.quality.on_quote  # the sink the session gives the broker
        steps = 400
        # warm-up
        for q in market.quotes(syms, clock.time()):
            on_quote(q)
        gen = 0.0
        t0 = time.perf_counter()
        for k in range(steps):
            clock.advance(0.25)
            g0 = time.perf_counter()
            batch = market.quotes(syms, clock.time())
            gen += time.perf_counter() - g0
            for q in batch:
                on_quote(q)
        elapsed = time.perf_counter() - t0
        n = steps * len(syms)
        s.journal.close()
    return {
        "benchmark": "quote_throughput",
        "symbols": len(syms),
        "quotes": n,
        "seconds": round(elapsed, 3),
        "quotes_per_s": round(n / elapsed),
        "engine_only_quotes_per_s": round(n / (elapsed - gen)),
        "feed_generation_share": round(gen / elapsed, 3),
        "subscriber_saw": seen[0],
        "target_quotes_per_s": 250_000,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
