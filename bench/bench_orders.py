"""Order round trip in process: submit, risk, paper fill, journal commit, portfolio update.

Alternating market buys and sells of 1 share against the simulated market with the journal
on (WAL, synchronous=NORMAL). Prints one JSON object with p50/p99 in microseconds.
``--var-limit``: with a VaR limit set (max_var far above the book's VaR, so every order passes
through the incremental VaR check on the measured returns).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from decimal import Decimal

from _common import pct

from brokers.paper.broker import SimBroker, SimConfig
from workstation.core.clock import SimClock
from workstation.core.config import Profile, Settings
from workstation.core.limits import RiskLimits
from workstation.core.model import OrderRequest, OrderStatus, Side
from workstation.trading.session import Session


async def main(n: int = 3000, var_limit: bool = False) -> dict:
    clock = SimClock(1_767_225_600.0)
    broker = SimBroker(clock, SimConfig())
    with tempfile.TemporaryDirectory() as tmp:
        # 100 orders per simulated second: the order-rate limits (a protection, not a cost) are off
        unlimited = RiskLimits(max_orders_per_second=None, max_orders_per_minute=None, max_orders_per_day=None)
        settings = Settings(profiles={"paper": Profile(risk=unlimited)})
        s = Session.build(settings, "paper", data_root=tmp, clock=clock, broker=broker)
        await s.start(["AAPL"], feed=False)
        if var_limit:
            s.set_limit("max_var", "10000000")
            await s.oms.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(100)))
            await s.refresh_var()  # AAPL measured: every order below goes through the VaR check
        lat = []
        for i in range(n + 200):
            req = OrderRequest(symbol="AAPL", side=Side.BUY if i % 2 == 0 else Side.SELL, qty=Decimal(1))
            t0 = time.perf_counter_ns()
            order = await s.oms.submit(req)
            dt = (time.perf_counter_ns() - t0) / 1000
            assert order.status is OrderStatus.FILLED, order
            if i >= 200:
                lat.append(dt)
            clock.advance(0.01)
        fills = len(s.journal.fills())
        await s.stop()
    return {
        "benchmark": "order_round_trip",
        "orders": n,
        "var_limit": var_limit,
        "journal": "sqlite WAL synchronous=NORMAL",
        "p50_us": round(pct(lat, 50), 1),
        "p99_us": round(pct(lat, 99), 1),
        "max_us": round(max(lat), 1),
        "fills_journaled": fills,
        "target_p50_us": 200,
        "target_p99_us": 2000,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(var_limit="--var-limit" in sys.argv[1:]))))
