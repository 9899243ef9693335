"""How ``v1-9352c03.sqlite`` was made: a paper session of the workstation at commit 9352c03
(journal schema version 1) trades a little, then the journal is copied out checkpointed.

    git worktree add /tmp/oldmain 9352c03
    PYTHONPATH=/tmp/oldmain .venv/bin/python tests/data/journals/make_v1.py /tmp/v1.sqlite
    git worktree remove /tmp/oldmain

It holds four orders (three filled, one working limit order), three fills, a cash deposit
and a ``risk.set`` event. Not a test: the tests only read the file it made.
"""

import asyncio
import os
import sqlite3
import sys
from decimal import Decimal
from pathlib import Path

from workstation.core.config import load_settings
from workstation.core.model import OrderRequest, OrderType, Side, TimeInForce
from workstation.trading.session import Session

out = Path(sys.argv[1])
os.environ["WORKSTATION_HOME"] = str(out.parent / "home")


async def main() -> None:
    session = Session.build(load_settings(), "paper", data_root=out.parent / "data")
    await session.start(["AAPL", "MSFT"], feed=False)
    await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(10)))
    await session.oms.submit(OrderRequest(symbol="MSFT", side=Side.BUY, qty=Decimal(5)))
    session.broker.step()
    await session.drain()
    q = session.broker.snapshot("AAPL")
    px = session.oms.instrument_cached("AAPL").round_price(Decimal(str(q.bid)) * Decimal("0.995"))
    await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(3), type=OrderType.LIMIT, limit_price=px, tif=TimeInForce.GTC))
    await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.SELL, qty=Decimal(4)))
    session.broker.step()
    await session.drain()
    session.journal.record_cash(Decimal("2500.75"), "USD", "deposit", session.clock.time())
    session.set_limit("max_order_qty", Decimal(500))
    await session.stop()


asyncio.run(main())
src = sqlite3.connect(out.parent / "data" / "paper" / "journal.sqlite")
src.execute("PRAGMA wal_checkpoint(TRUNCATE)")
dst = sqlite3.connect(out)
src.backup(dst)
dst.close()
src.close()
