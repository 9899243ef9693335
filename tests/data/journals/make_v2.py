"""How ``v2-d012445.sqlite`` was made: a paper session of the workstation at commit d012445
(journal schema version 2, before the alert state) trades a little and raises alerts,
then the journal is copied out checkpointed.

    mkdir /tmp/oldmain && git archive d012445 | tar -x -C /tmp/oldmain
    PYTHONPATH=/tmp/oldmain .venv/bin/python tests/data/journals/make_v2.py /tmp/v2.sqlite

It holds two filled orders, an alert rule ``u1: AAPL > 1`` that fired once (the paper
AAPL is far above 1), a built-in ``Stale data`` alert, and the acknowledgement of the
rule's alert. Not a test: the tests only read the file it made.
"""

import asyncio
import os
import sqlite3
import sys
from decimal import Decimal
from pathlib import Path

from workstation.core.config import load_settings
from workstation.core.model import OrderRequest, Side
from workstation.trading.session import Session

out = Path(sys.argv[1])
os.environ["WORKSTATION_HOME"] = str(out.parent / "home")


async def main() -> None:
    session = Session.build(load_settings(), "paper", data_root=out.parent / "data")
    await session.start(["AAPL", "MSFT"], feed=False)
    session.alerts.add_rule("AAPL > 1")
    await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(10)))
    session.broker.step()
    await session.drain()
    await session.oms.submit(OrderRequest(symbol="MSFT", side=Side.BUY, qty=Decimal(5)))
    session.broker.step()
    await session.drain()
    fired = [a for a in session.alerts.recent if a.key == "rule-u1"]
    assert len(fired) == 1, session.alerts.recent
    session.alerts.raise_alert("Stale data", "no quote for MSFT in 90s", key="stale-MSFT")
    session.alerts.ack([fired[0].id])
    await session.stop()


asyncio.run(main())
src = sqlite3.connect(out.parent / "data" / "paper" / "journal.sqlite")
src.execute("PRAGMA wal_checkpoint(TRUNCATE)")
dst = sqlite3.connect(out)
src.backup(dst)
dst.close()
src.close()
