"""An order whose submit went unanswered is ``unknown`` until evidence settles it: never
guessed as rejected, never resent, counted as working everywhere that matters."""

from decimal import Decimal

import pytest

from brokers.base import BrokerError, BrokerFill, BrokerOrderState, BrokerTimeout
from tests.fakes.scripted import ScriptedBroker
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import AlertRaised, OrderRequest, OrderStatus, OrderType, OrderUnknown, Side
from workstation.trading import oms as oms_module
from workstation.trading.reconcile import resync
from workstation.trading.session import Session
from workstation.trading.status import status_document

LIMIT = dict(symbol="AAPL", side=Side.BUY, qty=Decimal(100), type=OrderType.LIMIT, limit_price=Decimal("99.00"))


class Unanswering(ScriptedBroker):
    """Submits go out and their answer never comes back; lookups fail while told to."""

    keeps_account = False

    def __init__(self) -> None:
        super().__init__()
        self.lookup_fails = 10**6
        self.lookups = 0
        self.at_broker: dict[str, BrokerOrderState] = {}
        self.broker_fills: list[BrokerFill] = []

    async def submit(self, order) -> None:
        self.sent.append(order)
        raise BrokerTimeout("no answer within 5 s")

    async def lookup(self, client_id):
        self.lookups += 1
        if self.lookup_fails:
            self.lookup_fails -= 1
            raise BrokerError("order lookup failed: 503 Service Unavailable")
        return self.at_broker.get(client_id)

    async def fills_since(self, ts):
        return list(self.broker_fills)

    async def open_orders(self):
        return [s for s in self.at_broker.values() if s.status in ("new", "accepted", "partially_filled")]

    def shows(self, order, status: str, filled: str = "0") -> None:
        self.at_broker[order.client_id] = BrokerOrderState(
            client_id=order.client_id, broker_id="B-1", symbol=order.symbol, side=order.side.value,
            qty=order.qty, filled_qty=Decimal(filled), status=status, limit_price=order.limit_price,
        )


@pytest.fixture(autouse=True)
def quick_lookups(monkeypatch):
    monkeypatch.setattr(oms_module, "SETTLE_DELAYS", (0.01,))


@pytest.fixture
def env(tmp_path):
    broker = Unanswering()
    clock = SimClock(1_700_000_000)
    s = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=broker)
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    alerts: list[AlertRaised] = []
    unknown: list[OrderUnknown] = []
    s.bus.subscribe(AlertRaised, alerts.append)
    s.bus.subscribe(OrderUnknown, unknown.append)
    yield s, broker, clock, alerts, unknown
    s.oms.close()


async def settle_a_little(s, n: int = 20) -> None:
    import asyncio

    for _ in range(n):
        await asyncio.sleep(0.01)


async def test_unanswered_submit_with_a_failed_lookup_is_unknown_not_rejected(env, tmp_path):
    s, broker, clock, alerts, unknown = env
    order = await s.oms.submit(OrderRequest(**LIMIT))
    current = s.oms.orders[order.id]
    assert current.status is OrderStatus.UNKNOWN
    assert "do not resend" in current.reason and "lookup failed" in current.reason
    assert [e.order.id for e in unknown] == [order.id]
    assert any(a.title == "Order state unknown" and a.priority == "high" for a in alerts)
    await settle_a_little(s)
    assert len(broker.sent) == 1  # never resent, however long it stays unknown
    assert s.oms.orders[order.id].status is OrderStatus.UNKNOWN
    # journaled: a restart still says unknown
    again = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=ScriptedBroker(), readonly=True)
    assert again.oms.orders[order.id].status is OrderStatus.UNKNOWN
    again.journal.close()


async def test_an_unknown_order_counts_as_working_and_holds_buying_power(env):
    s, broker, clock, alerts, unknown = env
    before = s.portfolio.buying_power()
    order = await s.oms.submit(OrderRequest(**LIMIT))
    assert order.id in {o.id for o in s.oms.working()}
    doc = status_document(s)
    assert [o["status"] for o in doc["open_orders"]] == ["unknown"]
    review = await s.oms.review(OrderRequest(**{**LIMIT, "qty": Decimal(1)}))
    assert review.buying_power_after <= before - Decimal("9900")  # the unknown 100 @ 99 is held


async def test_a_later_fill_settles_it_without_an_external_fill(env):
    s, broker, clock, alerts, unknown = env
    order = await s.oms.submit(OrderRequest(**LIMIT))
    broker.fill(s.oms.orders[order.id], 100, "99.00", exec_id="E1")
    assert s.oms.orders[order.id].status is OrderStatus.FILLED
    assert [f.order_id for f in s.journal.fills()] == [order.id]
    assert s.portfolio.qty("AAPL") == 100


async def test_a_lookup_that_answers_later_settles_it_with_its_fills(env):
    s, broker, clock, alerts, unknown = env
    order = await s.oms.submit(OrderRequest(**LIMIT))
    assert s.oms.orders[order.id].status is OrderStatus.UNKNOWN
    sent = s.oms.orders[order.id]
    broker.shows(sent, "filled", filled="100")
    broker.broker_fills = [BrokerFill(client_id=sent.client_id, exec_id="E9", qty=Decimal(100), price=Decimal("98.99"))]
    broker.lookup_fails = 2  # the lookups keep failing a little longer, then answer
    await settle_a_little(s)
    current = s.oms.orders[order.id]
    assert current.status is OrderStatus.FILLED and current.filled_qty == 100
    assert len(s.journal.fills()) == 1 and s.portfolio.qty("AAPL") == 100
    assert len(broker.sent) == 1


async def test_an_order_the_broker_never_received_is_rejected_only_after_the_grace(env):
    s, broker, clock, alerts, unknown = env
    s.oms.unknown_grace_s = 30.0
    broker.lookup_fails = 0  # lookups work and find nothing
    order = await s.oms.submit(OrderRequest(**LIMIT))
    await settle_a_little(s)
    assert s.oms.orders[order.id].status is OrderStatus.UNKNOWN  # not there *yet* proves nothing
    clock.advance(31)
    await settle_a_little(s)
    current = s.oms.orders[order.id]
    assert current.status is OrderStatus.REJECTED
    assert "never arrived" in current.reason and "not resent" in current.reason
    assert len(broker.sent) == 1


async def test_a_broker_rejection_shown_by_the_lookup_settles_it_as_rejected(env):
    s, broker, clock, alerts, unknown = env
    order = await s.oms.submit(OrderRequest(**LIMIT))
    broker.shows(s.oms.orders[order.id], "rejected")
    broker.lookup_fails = 0
    await settle_a_little(s)
    assert s.oms.orders[order.id].status is OrderStatus.REJECTED


async def test_the_resync_settles_an_unknown_order_it_finds_open(env):
    s, broker, clock, alerts, unknown = env
    order = await s.oms.submit(OrderRequest(**LIMIT))
    s.oms.close()  # (no background lookups: the resync alone)
    broker.shows(s.oms.orders[order.id], "accepted")
    diffs = await resync(broker=broker, oms=s.oms, portfolio=s.portfolio, journal=s.journal, clock=clock, bus=s.bus)
    assert s.oms.orders[order.id].status is OrderStatus.ACCEPTED
    assert any("was unknown" in d for d in diffs)


async def test_a_working_order_gone_from_the_broker_with_a_failed_lookup_becomes_unknown_not_canceled(tmp_path):
    broker = ScriptedBroker()
    clock = SimClock(1_700_000_000)
    s = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=broker)
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    order = await s.oms.submit(OrderRequest(**LIMIT))
    assert s.oms.orders[order.id].status is OrderStatus.ACCEPTED

    async def failing_lookup(client_id):
        raise BrokerError("lookup timed out")

    broker.lookup = failing_lookup
    diffs = await resync(broker=broker, oms=s.oms, portfolio=s.portfolio, journal=s.journal, clock=clock, bus=s.bus)
    assert s.oms.orders[order.id].status is OrderStatus.UNKNOWN
    assert any("unknown" in d for d in diffs)
    s.oms.close()
