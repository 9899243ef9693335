"""Strategy workers under load: ten instances on 100 symbols fed 20,000 quotes per second.

Each instance runs on its own thread worker with a conflating inbox and watches ten
symbols (so the 100 symbols are split across the ten). Quotes come from the simulated
market, published on the engine's loop at a paced 20,000 per second (200 per symbol per
second), stamped with the wall clock as they are published. Every instance keeps an EMA
per symbol and, on every 100th quote it handles for a symbol, sends a market order for one
share (alternating buy and sell) through the order manager, the risk checks and the journal
to the paper broker: about 200 orders per second, staggered across symbols (a burst of 100
orders at once would measure the journal's queue, not the workers).

Measured: the latency from the triggering quote's publication to the order reaching the
paper broker's ``submit`` (p50, p99), and the share of quotes conflated in the inboxes
(replaced by a newer quote for the same symbol before the strategy got to them).
Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time

from _common import paper_universe, pct, symbols

from brokers.paper.broker import SimBroker, SimConfig
from workstation.core.clock import LiveClock
from workstation.core.config import Profile, Settings
from workstation.core.limits import RiskLimits
from workstation.core.indicators import EMA
from workstation.trading.session import Session
from workstation.strategies.api import Param, Strategy
from workstation.strategies.runner import StrategyRunner

RATE = 20_000
SECONDS = 5.0
INSTANCES = 10
SYMBOLS = 100


class Churn(Strategy):
    name = "churn"
    every = Param(100, min=1)
    offset = Param(0, min=0)

    def on_start(self) -> None:
        self.ema = {s: EMA(20) for s in self.ctx.symbols}
        # stagger the symbols so that orders spread over time instead of coming in bursts
        self.count = {s: self.offset + i * 10 for i, s in enumerate(self.ctx.symbols)}
        self.side = dict.fromkeys(self.ctx.symbols, True)
        self.ctx.subscribe(self.ctx.symbols)

    def on_quote(self, q) -> None:
        self.ema[q.symbol].update(q.last)
        n = self.count[q.symbol] = self.count[q.symbol] + 1
        if n % self.every == 0:
            buy = self.side[q.symbol]
            self.side[q.symbol] = not buy
            (self.ctx.buy if buy else self.ctx.sell)(q.symbol, 1)


async def main() -> dict:
    clock = LiveClock()
    syms = symbols(SYMBOLS)
    broker = SimBroker(clock, SimConfig(partial_fills=False), universe=paper_universe(syms))
    arrived: dict[str, float] = {}
    submit = broker.submit

    async def timed_submit(order) -> None:
        arrived[order.client_id] = clock.time()
        await submit(order)

    broker.submit = timed_submit  # type: ignore[method-assign]
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        # the order-rate limits (20/s, 300/min by default) would refuse most of the ~200 orders/s
        # this load makes; they are lifted so that every order takes the whole path to the broker
        risk = RiskLimits(max_orders_per_second=None, max_orders_per_minute=None, max_orders_per_day=None)
        settings = Settings(profiles={"paper": Profile(name="paper", risk=risk)})
        s = Session.build(settings, "paper", data_root=tmp, clock=clock, broker=broker)
        await s.start(syms, feed=False)  # we publish the quotes ourselves, at a set rate
        runner = StrategyRunner(bus=s.bus, oms=s.oms, portfolio=s.portfolio, clock=clock)
        runner.attach()

        def sent(cmd, order) -> None:
            t = arrived.get(order.client_id)
            if t is not None and cmd.quote_ts:
                latencies.append(t - cmd.quote_ts)

        runner.on_order_sent = sent
        per = SYMBOLS // INSTANCES
        for i in range(INSTANCES):
            inst = runner.add(Churn, {"offset": i}, symbols=syms[i * per:(i + 1) * per])
            await runner.start(inst.name)
        await runner.drain()
        market = broker.market
        published = 0
        start = time.perf_counter()
        loop_busy = 0.0
        while True:
            elapsed = time.perf_counter() - start
            if elapsed >= SECONDS:
                break
            due = int(elapsed * RATE) - published
            if due >= SYMBOLS:
                b0 = time.perf_counter()
                batch = market.quotes(syms, clock.time())
                now = clock.time()
                for q in batch:
                    q = type(q)(q.symbol, now, q.bid, q.ask, q.last, q.bid_size, q.ask_size, q.volume, q.prev_close)
                    s.quotes.on_quote(q)
                published += len(batch)
                loop_busy += time.perf_counter() - b0
            await asyncio.sleep(0.001)
        wall = time.perf_counter() - start
        await runner.drain(timeout=30)
        conflated = sum(i.worker.inbox.conflated for i in runner.instances.values())
        handled_quotes = published - conflated
        await runner.stop_all(cancel_orders=True)
        runner.detach()
        orders = len(s.oms.orders)
        rejected = sum(1 for o in s.oms.orders.values() if o.status.value == "rejected")
        fills = len(s.journal.fills())
        await s.stop()
    ms = [x * 1000 for x in latencies]
    return {
        "benchmark": "strategy_workers",
        "instances": INSTANCES,
        "symbols": SYMBOLS,
        "target_quotes_per_s": RATE,
        "quotes_published": published,
        "quotes_per_s": round(published / wall),
        "seconds": round(wall, 2),
        "quotes_handled_by_strategies": handled_quotes,
        "conflated_share": round(conflated / published, 4) if published else 0.0,
        "orders": orders,
        "orders_rejected": rejected,
        "fills": fills,
        "orders_timed": len(ms),
        "quote_to_broker_p50_ms": round(pct(ms, 50), 3),
        "quote_to_broker_p99_ms": round(pct(ms, 99), 3),
        "quote_to_broker_max_ms": round(max(ms), 3) if ms else None,
        "publishing_loop_share": round(loop_busy / wall, 3),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
