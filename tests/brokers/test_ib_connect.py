"""Connecting to a fake TWS: handshake, version negotiation, states, farm messages, market data type."""

import asyncio
import socket
import time

import pytest

from brokers.base import BrokerUnavailable
from tests.fakes.ib_harness import ib_broker, ib_session, until
from tests.fakes.tws_fake import FakeTWS
from workstation.core.model import AlertRaised, ConnectionState

AAPL = 265598


async def test_connect_negotiates_the_version_and_reports_account_and_state(home):
    async with ib_session(home) as (session, fake):
        assert fake.versions == [178]  # ib_async offers v157..178
        assert session.connection.state == "connected"
        detail = session.connection.detail
        assert "server version 178" in detail and "DU123456" in detail and f"127.0.0.1:{fake.port}" in detail
        start = next(r for r in fake.requests if r[0] == "71")
        assert start[2] == "1"  # our client id went out in startApi
        acct = await session.broker.account()
        assert acct.equity == acct.cash == session.portfolio.cash["USD"]


@pytest.mark.parametrize("client_max", [176, 163, 160])  # 176: what ib_insync 0.9.86 offers
async def test_fake_negotiates_down_for_an_older_client(home, monkeypatch, client_max):
    from decimal import Decimal

    from ib_async.client import Client

    from workstation.core.model import OrderRequest, OrderStatus, OrderType, Side

    monkeypatch.setattr(Client, "MaxClientVersion", client_max)
    async with ib_session(home, ["AAPL"]) as (session, fake):
        assert fake.versions == [client_max]
        assert f"server version {client_max}" in session.connection.detail
        fake.push_quote(AAPL, 184.9, 185.1, 185.0)
        await until(lambda: session.quotes.get("AAPL"), what=f"quote at v{client_max}")
        # contract details, openOrder, orderStatus, errors and executions decode at this version
        assert (await session.oms.instrument("ES-2026-12")).multiplier == 50
        order = await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(3)))
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="fill")
        assert session.journal.fills()[0].commission == Decimal(1)
        limit = await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(3), type=OrderType.LIMIT,
                                                      limit_price=Decimal(170)))  # rests, inside the 10% price collar
        await session.oms.cancel(limit.id)
        await until(lambda: session.oms.orders[limit.id].status is OrderStatus.CANCELED, what="cancel")


async def test_farm_messages_raise_no_alert_and_change_no_state(home):
    async with ib_session(home) as (session, fake):
        seen = []
        session.bus.subscribe(AlertRaised, seen.append)
        session.bus.subscribe(ConnectionState, seen.append)
        fake.push_error(2104, "Market data farm connection is OK:usfarm")
        fake.push_error(2106, "HMDS data farm connection is OK:ushmds")
        fake.push_error(2158, "Sec-def data farm connection is OK:secdefnj")
        await asyncio.sleep(0.2)
        assert seen == []
        assert session.connection.state == "connected"


async def test_connectivity_codes_become_readable_states_and_a_resync(home):
    async with ib_session(home) as (session, fake):
        states = []
        session.bus.subscribe(ConnectionState, states.append)
        fake.push_error(1100, "Connectivity between IB and Trader Workstation has been lost.")
        await until(lambda: session.connection.state == "reconnecting", what="1100")
        assert "lost its connection to IB (1100)" in session.connection.detail
        resyncs = len(list(session.journal.events("resync")))
        fake.push_error(1102, "Connectivity between IB and Trader Workstation has been restored - data maintained.")
        await until(lambda: session.connection.state == "connected", what="1102")
        assert "1102" in session.connection.detail
        assert [s.state for s in states] == ["reconnecting", "connected"]
        await until(lambda: len(list(session.journal.events("resync"))) == resyncs + 1, what="resync after 1102")


async def test_delayed_market_data_is_shown_in_the_connection_state(home):
    fake = FakeTWS()
    fake.market_data_type = 3  # the account has no live subscription
    async with ib_session(home, ["AAPL"], fake=fake) as (session, fake):
        await until(lambda: "delayed market data" in session.connection.detail, what="delayed data notice")
        assert session.connection.state == "connected"
        assert session.broker.delayed


async def test_unreachable_tws_fails_fast_naming_host_and_port(home):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    broker = ib_broker(port)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match=f"127.0.0.1:{port}"):
        await broker.connect()
    assert time.monotonic() - started < 5
    await broker.close()


async def test_a_second_session_takes_the_next_client_id(home):
    async with ib_session(home) as (session, fake):
        other = ib_broker(fake.port)
        await other.connect()
        try:
            assert other.client_id == 2
            assert "client id 2" in other.detail
        finally:
            await other.close()


async def test_orders_of_another_session_are_seen_but_not_changed(home):
    from decimal import Decimal

    from brokers.base import BrokerError
    from workstation.core.model import Order, OrderType, Side, TimeInForce

    async with ib_session(home, ["AAPL"]) as (session, fake):
        other = ib_broker(fake.port)  # a second workstation session: client id 2
        other.attach(lambda r: None, lambda q: None, lambda s: None)
        await other.connect()
        try:
            order = Order(id="1", client_id="other-1", symbol="AAPL", side=Side.BUY, qty=Decimal(1), type=OrderType.LIMIT,
                          tif=TimeInForce.DAY, limit_price=Decimal("150"))
            await other.submit(order)
            mine = {o.client_id: o for o in await session.broker.open_orders()}
            assert mine["other-1"].status == "submitted" and mine["other-1"].qty == 1
            with pytest.raises(BrokerError, match="placed by API client id 2"):
                await session.broker.cancel(order)
            assert fake.order_by_ref("other-1").status == "Submitted"
        finally:
            await other.close()
