"""The order manager against a scripted broker: states, duplicates, late events, brackets."""

from decimal import Decimal

import pytest

from tests.fakes.scripted import ScriptedBroker
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import (
    OrderAccepted,
    OrderFilled,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    Side,
    TimeInForce,
)
from workstation.trading.oms import OrderError
from workstation.trading.session import Session


@pytest.fixture
def env(tmp_path):
    broker = ScriptedBroker()
    s = Session.build(Settings(), "paper", data_root=tmp_path, clock=SimClock(1_700_000_000), broker=broker)
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    events = []
    for t in (OrderSubmitted, OrderAccepted, OrderFilled, OrderRejected):
        s.bus.subscribe(t, events.append)
    return s, broker, events


def req(**kw):
    base = dict(symbol="AAPL", side=Side.BUY, qty=Decimal(100))
    base.update(kw)
    return OrderRequest(**base)


async def test_market_order_lifecycle(env):
    s, broker, events = env
    o = await s.oms.submit(req())
    assert o.status is OrderStatus.ACCEPTED and broker.sent[0].id == o.id
    broker.fill(o, 100, "100.01", commission="1")
    o = s.oms.orders[o.id]
    assert o.status is OrderStatus.FILLED and o.avg_fill_price == Decimal("100.01")
    assert [type(e).__name__ for e in events] == ["OrderSubmitted", "OrderAccepted", "OrderFilled"]
    assert s.portfolio.qty("AAPL") == 100
    assert s.portfolio.cash["USD"] == Decimal(100000) - Decimal("10001") - 1
    assert len(s.journal.fills()) == 1


async def test_duplicate_fill_counted_once(env):
    s, broker, events = env
    o = await s.oms.submit(req())
    broker.fill(o, 50, "100", exec_id="dup")
    broker.fill(o, 50, "100", exec_id="dup")
    assert s.portfolio.qty("AAPL") == 50
    assert s.oms.orders[o.id].status is OrderStatus.PARTIALLY_FILLED
    assert len(s.journal.fills()) == 1


async def test_fill_before_ack_and_late_ack(env):
    s, broker, _ = env
    broker.auto_accept = False
    o = await s.oms.submit(req())
    broker.fill(o, 100, "100")
    from brokers.base import BrokerAccepted

    broker.report(BrokerAccepted(client_id=o.client_id, broker_id="late"))
    assert s.oms.orders[o.id].status is OrderStatus.FILLED


async def test_late_fill_after_cancel_is_booked(env):
    s, broker, _ = env
    o = await s.oms.submit(req(type=OrderType.LIMIT, limit_price=Decimal("99.00")))
    await s.oms.cancel(o.id)
    assert s.oms.orders[o.id].status is OrderStatus.CANCELED
    broker.fill(o, 100, "99.00")
    assert s.portfolio.qty("AAPL") == 100  # the money moved: it counts
    assert s.oms.orders[o.id].status is OrderStatus.CANCELED


@pytest.mark.parametrize(
    "kw,message",
    [
        (dict(qty=Decimal("1.5")), "whole number"),
        (dict(qty=Decimal(-5)), "positive"),
        (dict(type=OrderType.LIMIT, limit_price=Decimal("100.005")), "off the 0.01 tick"),
        (dict(type=OrderType.LIMIT), "needs a limit price"),
        (dict(limit_price=Decimal("100")), "takes no limit price"),
        (dict(symbol="NOT A SYMBOL"), "spaces"),
        (dict(type=OrderType.STOP, stop_price=Decimal(90), tif=TimeInForce.IOC), "ioc"),
        (dict(take_profit=Decimal(110)), "both"),
        (dict(take_profit=Decimal(90), stop_loss=Decimal(110)), "below"),
    ],
)
async def test_bad_input_writes_and_sends_nothing(env, kw, message):
    s, broker, events = env
    with pytest.raises(OrderError, match=message):
        await s.oms.submit(req(**kw))
    assert broker.sent == [] and events == [] and s.journal.orders() == []
    assert s.journal.next_order_number() == 1


async def test_risk_rejection_is_an_event_with_a_reason(env):
    s, broker, events = env
    o = await s.oms.submit(req(qty=Decimal(3000)))  # $300k > $250k default max notional
    assert o.status is OrderStatus.REJECTED
    assert "exceeds max_order_notional $250,000.00" in o.reason
    assert broker.sent == [] and isinstance(events[-1], OrderRejected)
    assert s.journal.order(o.id).status is OrderStatus.REJECTED


async def test_insufficient_buying_power(env):
    s, broker, _ = env
    s.risk.limits = s.risk.limits.__class__(max_order_notional=None)
    o = await s.oms.submit(req(qty=Decimal(2100)))  # $210k > 2x $100k
    assert o.status is OrderStatus.REJECTED and "insufficient buying power" in o.reason


async def test_bracket_children_activate_then_oco(env):
    s, broker, _ = env
    entry = await s.oms.submit(req(take_profit=Decimal(110), stop_loss=Decimal(95)))
    children = [o for o in s.oms.orders.values() if o.parent_id == entry.id]
    assert {c.role for c in children} == {"take_profit", "stop_loss"}
    assert all(c.status is OrderStatus.NEW for c in children)
    assert len(broker.sent) == 1
    broker.fill(entry, 100, "100.01")
    await s.oms.drain()
    assert len(broker.sent) == 3
    tp = next(o for o in s.oms.orders.values() if o.role == "take_profit")
    sl = next(o for o in s.oms.orders.values() if o.role == "stop_loss")
    assert tp.side is Side.SELL and tp.type is OrderType.LIMIT and tp.limit_price == 110
    assert sl.type is OrderType.STOP and sl.stop_price == 95
    broker.fill(tp, 40, "110")
    await s.oms.drain()
    assert s.oms.orders[sl.id].qty == 60  # cut to what the take-profit still has to do
    broker.fill(tp, 60, "110")
    await s.oms.drain()
    assert s.oms.orders[sl.id].status is OrderStatus.CANCELED
    assert s.portfolio.qty("AAPL") == 0


async def test_bracket_children_cancel_with_unfilled_entry(env):
    s, broker, _ = env
    entry = await s.oms.submit(req(type=OrderType.LIMIT, limit_price=Decimal(99), take_profit=Decimal(110), stop_loss=Decimal(95)))
    await s.oms.cancel(entry.id)
    assert all(o.status is OrderStatus.CANCELED for o in s.oms.orders.values())


async def test_oco_pair(env):
    s, broker, _ = env
    a = await s.oms.submit(req(side=Side.SELL, type=OrderType.LIMIT, limit_price=Decimal(110)))
    b = await s.oms.submit(req(side=Side.SELL, type=OrderType.STOP, stop_price=Decimal(90), oco_with=a.id))
    assert s.oms.orders[a.id].oco_group == s.oms.orders[b.id].oco_group
    broker.fill(s.oms.orders[b.id], 100, "90")
    await s.oms.drain()
    assert s.oms.orders[a.id].status is OrderStatus.CANCELED


async def test_replace_and_cancel(env):
    s, broker, _ = env
    o = await s.oms.submit(req(type=OrderType.LIMIT, limit_price=Decimal("95.00"), tif=TimeInForce.GTC))
    o2 = await s.oms.replace_order(o.id, qty="200", limit_price="96.50")
    assert o2.qty == 200 and o2.limit_price == Decimal("96.50")
    with pytest.raises(OrderError, match="off the 0.01 tick"):
        await s.oms.replace_order(o.id, limit_price="96.505")
    await s.oms.cancel(o.id)
    with pytest.raises(OrderError, match="not working"):
        await s.oms.cancel(o.id)
    with pytest.raises(OrderError, match="unknown order id"):
        await s.oms.cancel("999")


async def test_restart_rebuilds_state(tmp_path):
    broker = ScriptedBroker()
    clock = SimClock(1_700_000_000)
    s = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=broker)
    broker.set_quote("AAPL", 99.99, 100.01)
    o = await s.oms.submit(req())
    broker.fill(o, 100, "100.01", commission="1")
    w = await s.oms.submit(req(type=OrderType.LIMIT, limit_price=Decimal(90), tif=TimeInForce.GTC))
    cash, qty = s.portfolio.cash["USD"], s.portfolio.qty("AAPL")
    s.journal.close()
    s2 = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=ScriptedBroker())
    assert s2.portfolio.cash["USD"] == cash and s2.portfolio.qty("AAPL") == qty
    assert [x.id for x in s2.oms.working()] == [w.id]
    assert s2.oms.orders[o.id].status is OrderStatus.FILLED


async def test_forget_done_drops_finished_orders_and_keeps_the_rest(env):
    """A long run's finished orders leave memory but not the record: ``get`` still finds them
    (in the journal); working orders and a filled bracket entry whose exits work stay held."""
    s, broker, _ = env
    done = await s.oms.submit(req())
    broker.fill(done, 100, "100.01")
    resting = await s.oms.submit(req(type=OrderType.LIMIT, limit_price=Decimal(90), tif=TimeInForce.GTC))
    entry = await s.oms.submit(req(take_profit=Decimal(110), stop_loss=Decimal(95)))
    broker.fill(entry, 100, "100.01")
    await s.oms.drain()
    exits = [o for o in s.oms.orders.values() if o.parent_id == entry.id]
    assert s.oms.orders[entry.id].status is OrderStatus.FILLED and all(o.status.is_working for o in exits)

    assert s.oms.forget_done() == 1
    assert done.id not in s.oms.orders
    assert s.oms.get(done.id).status is OrderStatus.FILLED  # from the journal
    assert {resting.id, entry.id} | {o.id for o in exits} == set(s.oms.orders)
    assert s.oms.forget_done() == 0
