"""A submit whose answer is lost is resolved by looking the order up by orderRef, never by resending it."""

import asyncio
from decimal import Decimal

from tests.fakes.ib_harness import ib_session
from workstation.core.model import OrderRequest, OrderStatus, OrderType, Side
from workstation.trading import oms as oms_module

LIMIT = dict(symbol="AAPL", side=Side.BUY, qty=Decimal(10), type=OrderType.LIMIT, limit_price=Decimal("180"))


async def test_lost_acknowledgement_finds_the_working_order_without_a_duplicate(home):
    async with ib_session(home, ["AAPL"], submit_timeout=0.3) as (session, fake):
        fake.swallow_answers = 1
        order = await session.oms.submit(OrderRequest(**LIMIT))
        assert session.oms.orders[order.id].status is OrderStatus.ACCEPTED
        assert len(fake.orders) == 1 and fake.order_by_ref(order.client_id).qty == 10
        assert sum(1 for r in fake.requests if r[0] == "3") == 1  # placeOrder went out once


async def test_order_lost_on_the_way_is_unknown_then_rejected_after_the_grace_and_never_resent(home, monkeypatch):
    monkeypatch.setattr(oms_module, "SETTLE_DELAYS", (0.1,))
    async with ib_session(home, ["AAPL"], submit_timeout=0.3) as (session, fake):
        session.oms.unknown_grace_s = 1.0
        fake.lose_orders = 1
        order = await session.oms.submit(OrderRequest(**LIMIT))
        current = session.oms.orders[order.id]
        assert current.status is OrderStatus.UNKNOWN  # "not there yet" proves nothing
        assert "do not resend" in current.reason
        for _ in range(50):
            await asyncio.sleep(0.1)
            if session.oms.orders[order.id].status is not OrderStatus.UNKNOWN:
                break
        current = session.oms.orders[order.id]
        assert current.status is OrderStatus.REJECTED
        assert "never arrived" in current.reason and "not resent" in current.reason
        assert fake.orders == {}
        assert sum(1 for r in fake.requests if r[0] == "3") == 1
