"""Spreads at Alpaca as ONE multi-leg option order (order_class mleg): the real alpaca-py SDK
against the loopback fake, through a Session; fills come back per leg and are booked per leg."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.alpaca_support import fake, keys, settings_for, until  # noqa: F401 (fixtures)
from workstation.core.model import BUY, SELL, AlertRaised, Leg, OrderRequest, OrderStatus, OrderType
from workstation.trading.session import Session

D = Decimal
C200, C210 = "AAPL-2026-12-18-200-C", "AAPL-2026-12-18-210-C"
OCC200, OCC210 = "AAPL261218C00200000", "AAPL261218C00210000"
VERTICAL = (Leg(symbol=C200, side=BUY), Leg(symbol=C210, side=SELL))


def list_options(fake) -> None:  # noqa: F811
    fake.list_option("AAPL", "2026-12-18", "200", "call", bid=5.0, ask=5.2, last=5.1)
    fake.list_option("AAPL", "2026-12-18", "210", "call", bid=2.0, ask=2.1, last=2.05)


def combo(side, qty: int, limit: str) -> OrderRequest:
    return OrderRequest(symbol="", side=side, qty=D(qty), legs=VERTICAL, type=OrderType.LIMIT, limit_price=D(limit))


@pytest.fixture
async def session(fake, keys, home):  # noqa: F811
    list_options(fake)
    s = Session.build(settings_for(fake), "alpaca-paper")
    alerts: list[AlertRaised] = []
    s.bus.subscribe(AlertRaised, alerts.append)
    s.raised = alerts  # type: ignore[attr-defined]
    await s.start()
    yield s
    await s.stop()


def posted(fake) -> list[dict]:  # noqa: F811
    return [body for method, path, body in fake.requests if method == "POST" and path == "/v2/orders"]


async def test_a_vertical_is_one_mleg_order_filled_atomically_and_booked_per_leg(session, fake):  # noqa: F811
    order = await session.oms.submit(combo(BUY, 2, "3.25"))
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED, what="accepted")
    [body] = posted(fake)  # one order at Alpaca, not one per leg
    assert (body["order_class"], body["type"], body["qty"], body["limit_price"], body["client_order_id"]) == (
        "mleg", "limit", 2.0, 3.25, order.client_id)
    assert "side" not in body and "symbol" not in body
    assert body["legs"] == [{"symbol": OCC200, "ratio_qty": 1.0, "side": "buy"}, {"symbol": OCC210, "ratio_qty": 1.0, "side": "sell"}]

    fake.fill_mleg(order.client_id)  # each leg at its touch: the 200 call's ask, the 210 call's bid
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="the combo filled")
    filled = session.oms.orders[order.id]
    assert (filled.filled_qty, filled.avg_fill_price) == (D(2), D("3.2"))
    assert sorted((f.symbol, f.side, f.qty, f.price, f.order_id) for f in session.journal.fills()) == [
        (C200, BUY, D(2), D("5.2"), order.id), (C210, SELL, D(2), D(2), order.id)]  # the parent's net fill not booked
    assert session.portfolio.qty(C200) == D(2) and session.portfolio.qty(C210) == D(-2)
    assert not [a for a in session.raised if a.priority == "critical"]


async def test_selling_a_spread_reverses_the_legs_and_sends_the_credit_negative_then_cancels(session, fake):  # noqa: F811
    order = await session.oms.submit(combo(SELL, 1, "2.90"))
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED, what="accepted")
    [body] = posted(fake)
    assert body["limit_price"] == -2.9  # Alpaca's sign: a credit received is negative
    assert [(leg["symbol"], leg["side"]) for leg in body["legs"]] == [(OCC200, "sell"), (OCC210, "buy")]

    await session.oms.cancel(order.id)
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.CANCELED, what="cancel")
    parent = fake.orders_for(order.client_id)[0]
    assert parent["status"] == "canceled" and all(fake.orders[leg]["status"] == "canceled" for leg in parent["legs"])
    assert session.journal.fills() == [] and session.portfolio.qty(C200) == 0


async def test_a_spread_filled_while_the_workstation_was_closed_is_booked_per_leg_once_at_restart(fake, keys, home):  # noqa: F811
    list_options(fake)
    first = Session.build(settings_for(fake), "alpaca-paper")
    await first.start()
    order = await first.oms.submit(combo(BUY, 1, "3.25"))
    await until(lambda: first.oms.orders[order.id].status is OrderStatus.ACCEPTED, what="accepted")
    await first.stop()
    fake.fill_mleg(order.client_id, {OCC200: "5.15", OCC210: "2.05"})
    again = Session.build(settings_for(fake), "alpaca-paper")
    await again.start()
    try:
        done = again.oms.orders[order.id]
        assert (done.status, done.filled_qty, done.avg_fill_price) == (OrderStatus.FILLED, D(1), D("3.1"))
        assert sorted((f.symbol, f.qty, f.price) for f in again.journal.fills()) == [(C200, D(1), D("5.15")), (C210, D(1), D("2.05"))]
        await again.resync()  # and once more: nothing new
        assert len(again.journal.fills()) == 2 and again.portfolio.qty(C210) == D(-1)
    finally:
        await again.stop()


async def test_an_option_alone_is_refused_in_one_line(session, fake):  # noqa: F811
    order = await session.oms.submit(OrderRequest(symbol=C200, side=BUY, qty=D(1), type=OrderType.LIMIT, limit_price=D("5.1")))
    await until(lambda: session.oms.orders[order.id].status is OrderStatus.REJECTED, what="rejected")
    assert session.oms.orders[order.id].reason == f"Alpaca takes options here only as spreads (multi-leg orders), not {C200} alone"
    assert posted(fake) == []


async def test_a_market_spread_without_leg_quotes_is_refused_in_one_line(session, fake):  # noqa: F811
    from workstation.trading.oms import OrderError

    req = OrderRequest(symbol="", side=BUY, qty=D(1), legs=VERTICAL)  # no option quotes stream from Alpaca: send a limit
    with pytest.raises(OrderError) as caught:
        await session.oms.submit(req)
    assert str(caught.value) == f"no two-sided quotes for the legs ({C200}, {C210}) yet: cannot value a market combo"
    assert posted(fake) == []
