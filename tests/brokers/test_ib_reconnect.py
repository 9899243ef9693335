"""TWS restarts daily: a dropped connection, a fill while we are away, recovered exactly once."""

import asyncio
from decimal import Decimal

from tests.fakes.ib_harness import ib_session, until
from workstation.core.model import AlertRaised, ConnectionState, OrderRequest, OrderStatus, OrderType, Side

AAPL = 265598


async def test_fill_during_a_dropped_connection_is_journaled_once_after_reconnect(home):
    async with ib_session(home, ["AAPL"]) as (session, fake):
        states, alerts = [], []
        session.bus.subscribe(ConnectionState, states.append)
        session.bus.subscribe(AlertRaised, alerts.append)
        order = await session.oms.submit(
            OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(10), type=OrderType.LIMIT, limit_price=Decimal("180"))
        )
        assert session.oms.orders[order.id].status is OrderStatus.ACCEPTED

        fake.accepting = False  # TWS goes down for its daily restart
        fake.drop()
        await until(lambda: session.connection.state == "reconnecting", what="reconnecting state")
        fake.fill(fake.order_by_ref(order.client_id), price=179.95)  # fills while nobody listens
        await asyncio.sleep(0.3)  # a few refused attempts
        assert session.journal.fills() == []
        refused = fake.connections

        fake.accepting = True
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="fill recovered by resync")
        await until(lambda: session.connection.state == "connected", what="connected again")
        await asyncio.sleep(0.3)  # let any late duplicate arrive

        fills = session.journal.fills()
        assert len(fills) == 1
        assert (fills[0].exec_id, fills[0].qty, fills[0].price) == (fake.executions[0].exec_id, Decimal(10), Decimal("179.95"))
        assert fills[0].commission == Decimal(1)
        assert session.portfolio.position("AAPL").qty == Decimal(10)
        assert fake.connections >= refused + 1 and len(fake.versions) >= 2
        assert [s.state for s in states][0] == "reconnecting" and states[-1].state == "connected"
        assert any("happened while disconnected" in a.message for a in alerts)

        await session.resync()  # a second resync finds nothing new
        assert len(session.journal.fills()) == 1


async def test_market_data_comes_back_after_a_reconnect(home):
    async with ib_session(home, ["AAPL"]) as (session, fake):
        fake.drop()
        await until(lambda: session.connection.state == "reconnecting", what="reconnecting")
        await until(lambda: session.connection.state == "connected", what="connected again")
        fake.push_quote(AAPL, 190.0, 190.2, 190.1)
        await until(lambda: (q := session.quotes.get("AAPL")) is not None and q.last == 190.1, what="quote after reconnect")


async def test_a_connection_that_goes_silent_is_detected_and_replaced(home):
    async with ib_session(home, ["AAPL"], heartbeat=0.1, heartbeat_timeout=0.2) as (session, fake):
        fake.mute()  # the socket stays open, TWS answers nothing
        await until(lambda: session.connection.state == "reconnecting", what="stale connection noticed")
        assert "stopped answering" in session.connection.detail
        await until(lambda: session.connection.state == "connected", what="new connection")
        assert len(fake.versions) == 2
        fake.push_quote(AAPL, 190.0, 190.2, 190.1)
        await until(lambda: (q := session.quotes.get("AAPL")) is not None and q.last == 190.1, what="quotes on the new connection")


async def test_partial_fill_during_the_gap_then_the_rest_live(home):
    async with ib_session(home, ["AAPL"]) as (session, fake):
        order = await session.oms.submit(
            OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(10), type=OrderType.LIMIT, limit_price=Decimal("180"))
        )
        at_ib = fake.order_by_ref(order.client_id)
        fake.accepting = False
        fake.drop()
        await until(lambda: session.connection.state == "reconnecting", what="reconnecting")
        fake.fill(at_ib, qty=4, price=179.9)  # the order stays open at IB with 6 to go
        fake.accepting = True
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.PARTIALLY_FILLED, what="gap fill recovered")
        await asyncio.sleep(0.3)
        assert len(session.journal.fills()) == 1

        fake.fill(at_ib, qty=6, price=180.0)  # live again
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="live fill")
        assert [(f.qty, f.price) for f in session.journal.fills()] == [(Decimal(4), Decimal("179.9")), (Decimal(6), Decimal(180))]
        assert session.portfolio.position("AAPL").qty == Decimal(10)
