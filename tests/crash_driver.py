"""Run by test_crash_recovery.py in a subprocess: trade until killed, reporting each fill.

A fill is printed only after the order manager has journaled it (it publishes after the
journal commit), exactly as the workstation shows it.
"""

import asyncio
import datetime
import random
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workstation.core.config import load_settings  # noqa: E402
from workstation.core.model import OrderFilled, OrderRequest, OrderType, Side, TimeInForce  # noqa: E402
from workstation.trading.session import Session  # noqa: E402

from brokers.paper.universe import load_universe  # noqa: E402

# the front ES contract listed today (a dated symbol would expire under the test)
SYMBOLS = ["AAPL", "MSFT", load_universe().contracts("ES", datetime.date.today())[0], "BTC/USD"]


async def main(seed: int) -> None:
    rng = random.Random(seed)
    session = Session.build(load_settings(), "paper")
    # a tight loop of orders: no notional or rate limit (refused orders count toward the rate)
    session.risk.limits = session.risk.limits.__class__(
        max_order_notional=None, max_orders_per_second=None, max_orders_per_minute=None, max_orders_per_day=None,
    )

    def report(ev: OrderFilled) -> None:
        f = ev.fill
        print(f"FILL {f.exec_id} {f.symbol} {f.side.value} {f.qty} {f.price} {f.commission}", flush=True)

    session.bus.subscribe(OrderFilled, report)
    await session.start(SYMBOLS, feed=False)
    print("READY", flush=True)
    while True:
        sym = rng.choice(SYMBOLS)
        qty = Decimal(rng.randint(1, 5)) if sym != "BTC/USD" else Decimal(rng.randint(1, 50)) / 10000
        side = rng.choice([Side.BUY, Side.SELL])
        if rng.random() < 0.2:
            q = session.broker.snapshot(sym)
            inst = session.oms.instrument_cached(sym)
            px = inst.round_price(Decimal(str(q.bid if side is Side.BUY else q.ask)) * Decimal("0.999"))
            await session.oms.submit(OrderRequest(symbol=sym, side=side, qty=qty, type=OrderType.LIMIT, limit_price=px, tif=TimeInForce.GTC))
        else:
            await session.oms.submit(OrderRequest(symbol=sym, side=side, qty=qty))
        session.broker.step()
        await asyncio.sleep(0)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
