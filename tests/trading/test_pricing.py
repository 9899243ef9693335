"""Every symbol with a position or a working order is priced, whatever the watchlist says."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.fakes.market import InstantBroker
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import OrderRequest, OrderType, Side
from workstation.trading.session import Session

START = 1_790_000_000.0


async def test_a_symbol_bought_outside_the_watchlist_keeps_being_priced(tmp_path):
    broker = InstantBroker(ts=START)
    session = Session.build(Settings(watchlist=["AAPL"]), data_root=tmp_path, clock=SimClock(START), broker=broker)
    await session.start(["AAPL"])
    try:
        assert broker.subscribed == ["AAPL"]
        order = await session.oms.submit(OrderRequest(symbol="MSFT", side=Side.BUY, qty=Decimal(10)))
        await session.drain()
        for _ in range(5):
            await asyncio.sleep(0)
        assert session.portfolio.qty("MSFT") == 10 and order.symbol == "MSFT"
        assert "MSFT" in broker.subscribed  # the feed prices it from now on
        broker.move("MSFT", 450.0)
        assert session.portfolio.last("MSFT") == Decimal(450)
        # a resting order names a symbol too; many orders for it subscribe it once
        below = (Decimal(str(broker.snapshot("NVDA").last)) * Decimal("0.95")).quantize(Decimal("0.01"))
        for _ in range(3):
            resting = await session.oms.submit(OrderRequest(symbol="NVDA", side=Side.BUY, qty=Decimal(1), type=OrderType.LIMIT, limit_price=below))
            assert resting.status.is_working, resting.reason
        for _ in range(5):
            await asyncio.sleep(0)
        assert broker.subscribed.count("NVDA") == 1 and broker.subscribed[0] == "AAPL"
    finally:
        await session.stop()


async def test_a_read_only_view_subscribes_nothing_new(tmp_path):
    broker = InstantBroker(ts=START)
    session = Session.build(Settings(watchlist=["AAPL"]), data_root=tmp_path, clock=SimClock(START), broker=broker, readonly=True)
    await session.start(["AAPL"], feed=False)
    try:
        session.keep_priced("MSFT")
        await asyncio.sleep(0)
        assert broker.subscribed == []
    finally:
        await session.stop()
