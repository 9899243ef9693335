"""Risk path costs: one pre-trade check with every limit on, the data-quality filter per quote,
alert rules per quote, and the kill switch with many working orders and positions.

Prints one JSON object (microseconds per operation; milliseconds for the kill switch).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from decimal import Decimal

from _common import paper_universe, pct, symbols

from brokers.paper.broker import SimBroker, SimConfig
from workstation.core.clock import SimClock
from workstation.core.config import Profile, Settings
from workstation.core.limits import RiskLimits
from workstation.core.model import OrderRequest, OrderType, Quote, Side
from workstation.trading.session import Session

ALL_ON = RiskLimits(
    max_order_qty=Decimal(10_000), max_order_notional=Decimal(1_000_000), price_collar_pct=Decimal(10),
    max_position_qty=Decimal(100_000), max_position_notional=Decimal(5_000_000),
    max_gross_exposure=Decimal(50_000_000), max_net_exposure=Decimal(50_000_000),
    max_symbol_pct=Decimal(1000), max_sector_pct=Decimal(1000), max_open_orders=100_000,
    max_orders_per_second=None, max_orders_per_minute=None, max_orders_per_day=None,
)


async def main() -> dict:
    clock = SimClock(1_767_225_600.0)
    names = symbols(50)
    broker = SimBroker(clock, SimConfig(partial_fills=False), universe=paper_universe(names))
    settings = Settings(profiles={"paper": Profile(risk=ALL_ON, initial_cash=Decimal(10_000_000))})
    out: dict = {"benchmark": "risk"}
    with tempfile.TemporaryDirectory() as tmp:
        s = Session.build(settings, "paper", data_root=tmp, clock=clock, broker=broker)
        await s.start(names, feed=False)
        for sym in names:  # 50 positions
            await s.oms.submit(OrderRequest(symbol=sym, side=Side.BUY, qty=Decimal(100)))
        working = []
        for i in range(200):  # 200 resting orders, 5% under the market
            sym = names[i % len(names)]
            px = (Decimal(str(s.quotes.get(sym).bid)) * Decimal("0.95")).quantize(Decimal("0.01"))
            working.append(await s.oms.submit(OrderRequest(symbol=sym, side=Side.BUY, qty=Decimal(1), type=OrderType.LIMIT, limit_price=px)))
        req = OrderRequest(symbol=names[0], side=Side.BUY, qty=Decimal(10))
        lat = []
        for _ in range(2000):
            t0 = time.perf_counter_ns()
            review = await s.oms.review(req)
            lat.append((time.perf_counter_ns() - t0) / 1000)
        assert review.ok, review.reason
        out["review_50_positions_200_working_p50_us"] = round(pct(lat, 50), 1)
        out["review_p99_us"] = round(pct(lat, 99), 1)

        q = s.quotes.get(names[0])
        t0 = time.perf_counter_ns()
        n = 20_000
        for i in range(n):
            p = q.last * (1 + (0.001 if i % 2 else -0.001))
            s.quality.on_quote(Quote(q.symbol, q.ts + i, p - 0.01, p + 0.01, p))
        out["quote_through_quality_filter_and_bus_us"] = round((time.perf_counter_ns() - t0) / 1000 / n, 2)

        for k in range(20):
            s.alerts.add_rule(f"{names[k % 5]} > {k + 10_000}")
        t0 = time.perf_counter_ns()
        for i in range(n):
            s.alerts.on_quote(Quote(q.symbol, q.ts + i, q.bid, q.ask, q.last))
        out["alert_rules_20_per_quote_us"] = round((time.perf_counter_ns() - t0) / 1000 / n, 2)

        t0 = time.perf_counter_ns()
        s.monitor.status()
        out["risk_status_snapshot_us"] = round((time.perf_counter_ns() - t0) / 1000, 1)

        t0 = time.perf_counter_ns()
        report = await s.kill("bench")
        out["kill_switch_200_orders_50_positions_ms"] = round((time.perf_counter_ns() - t0) / 1e6, 1)
        out["kill_canceled"] = len(report.canceled)
        out["kill_flattened"] = len(report.flatten_orders)
        out["positions_left"] = len(s.portfolio.positions())
        await s.stop()
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
