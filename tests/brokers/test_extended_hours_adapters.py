"""Extended-hours orders on the wire: IB's ``outsideRth`` and Alpaca's ``extended_hours``,
each as its fake received it (the real SDK against a loopback fake)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.alpaca_support import fake, keys, settings_for, until  # noqa: F401 (fixtures)
from tests.fakes.ib_harness import ib_session
from tests.fakes.ib_harness import until as ib_until
from workstation.core.model import OrderRequest, OrderStatus, OrderType, Side
from workstation.trading.session import Session


def limit(extended: bool) -> OrderRequest:
    return OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(10), type=OrderType.LIMIT,
                        limit_price=Decimal("180"), extended=extended)


@pytest.mark.parametrize("extended", [True, False])
async def test_ib_receives_outside_rth_only_for_an_extended_order(home, extended):
    async with ib_session(home, ["AAPL"]) as (session, tws):
        order = await session.oms.submit(limit(extended))
        await ib_until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED, what="accepted")
        at_ib = tws.order_by_ref(order.client_id)
        assert (at_ib.order_type, at_ib.tif, at_ib.outside_rth) == ("LMT", "DAY", extended)
        assert session.oms.orders[order.id].extended is extended


@pytest.fixture
async def alpaca(fake, keys, home):  # noqa: F811
    s = Session.build(settings_for(fake), "alpaca-paper")
    await s.start(["AAPL"])
    yield s
    await s.stop()


@pytest.mark.parametrize("extended", [True, False])
async def test_alpaca_receives_extended_hours_only_for_an_extended_order(alpaca, fake, extended):  # noqa: F811
    order = await alpaca.oms.submit(limit(extended))
    await until(lambda: fake.orders_for(order.client_id), what="order at Alpaca")
    (at_alpaca,) = fake.orders_for(order.client_id)
    assert (at_alpaca["type"], at_alpaca["time_in_force"], at_alpaca["extended_hours"]) == ("limit", "day", extended)
