"""A strategy's junk order values and refused children: events the strategy sees, a runner that survives."""

import math
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.scripted import ScriptedBroker
from tests.strategies.test_plugins_shipped import Replay
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import AlertRaised, OrderRejected, OrderRequest, OrderStatus, Side
from workstation.trading.session import Session
from workstation.strategies.api import Strategy
from workstation.strategies.runner import StrategyRunner

T0 = 1_700_000_000.0


class Junk(Strategy):
    """Sends ``self.junk`` as a quantity on start, then a good order of 5."""

    name = "junk"
    junk: object = None
    via_submit = False

    def on_start(self):
        self.events = []
        if self.via_submit:
            self.ctx.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=self.junk))
        else:
            self.ctx.buy("AAPL", self.junk)
        self.ctx.buy("AAPL", 5)

    def on_order(self, event):
        self.events.append(event)


async def _run_junk(tmp_path, value, delivery, via_submit=False):
    broker = ScriptedBroker()
    s = Session.build(Settings(), "paper", data_root=tmp_path, clock=SimClock(T0), broker=broker)
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    r = StrategyRunner(bus=s.bus, oms=s.oms, portfolio=s.portfolio, clock=s.clock, delivery=delivery)
    r.attach()
    cls = type("J", (Junk,), {"junk": value, "via_submit": via_submit, "name": "junk"})
    inst = r.add(cls, symbols=["AAPL"])
    await r.start(inst.name)
    await r.drain()
    return r, inst, broker


JUNK = [Decimal("1e30"), Decimal("NaN"), Decimal("-5"), "lots", None, float("inf"), -1, 0, [1], Decimal("sNaN")]


@pytest.mark.parametrize("delivery", ["inline", "thread"])
@pytest.mark.parametrize("value", JUNK, ids=repr)
async def test_a_junk_quantity_comes_back_as_a_rejected_order_and_the_strategy_keeps_trading(tmp_path, value, delivery):
    r, inst, broker = await _run_junk(tmp_path, value, delivery)
    assert inst.state.value == "running" and inst.error is None
    rejected = [e for e in inst.strategy.events if isinstance(e, OrderRejected)]
    assert len(rejected) == 1 and rejected[0].order.status is OrderStatus.REJECTED
    assert "quantity" in rejected[0].order.reason
    assert [o.qty for o in broker.sent] == [Decimal(5)]  # the good order after it still went out
    assert inst.strategy.ctx.pending("AAPL") == 5  # nothing left in flight for the refused one


async def test_a_request_the_order_manager_cannot_even_check_is_a_rejection_not_a_dead_consumer(tmp_path):
    # 1e30 straight into an OrderRequest: the order manager's own arithmetic fails on it
    r, inst, broker = await _run_junk(tmp_path, Decimal("1e30"), "inline", via_submit=True)
    assert inst.state.value == "running"
    assert any(isinstance(e, OrderRejected) for e in inst.strategy.events)
    assert [o.qty for o in broker.sent] == [Decimal(5)]
    assert r.refused and r.refused[0].reason


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True), st.floats(), st.integers(), st.text(max_size=12), st.none(),
    st.booleans(), st.lists(st.integers(), max_size=2),
))
async def test_any_value_a_strategy_passes_as_a_quantity_leaves_the_runner_working(tmp_path_factory, value):
    r, inst, broker = await _run_junk(tmp_path_factory.mktemp("j"), value, "inline")
    assert inst.state.value == "running"
    assert Decimal(5) in [o.qty for o in broker.sent]
    # every order the strategy sent was answered: accepted or rejected with a reason
    assert inst.strategy.ctx.pending("AAPL") == sum(o.qty for o in broker.sent)
    for e in inst.strategy.events:
        if isinstance(e, OrderRejected):
            assert e.order.reason


async def test_a_refused_child_is_not_resent_on_every_quote_and_the_parent_stops_after_a_bound(tmp_path):
    r = Replay(tmp_path)
    r.s.limits.set("max_order_qty", 1)  # every child of 100 is refused
    alerts = []
    r.s.bus.subscribe(AlertRaised, alerts.append)
    inst = await r.start("twap", side="buy", qty=1000, duration=100.0, slices=10, max_refusals=5, backoff=1.0)
    for _ in range(200):  # ten quotes a second for 20 s
        await r.step(20.0, seconds=0.1)
    refused = [o for o in r.orders() if o.status is OrderStatus.REJECTED]
    assert len(refused) + len(r.runner.refused) == 5  # not one per quote (about 200); the first: no price yet
    gaps = [round(b.created - a.created, 3) for a, b in zip(refused, refused[1:])]
    assert [w <= g <= w + 0.2 for g, w in zip(gaps, (1, 2, 4), strict=True)] == [True] * 3  # the waits double
    assert inst.state.value == "stopped"
    assert "5 child orders refused in a row" in list(inst.logs)[-1] and "max_order_qty" in list(inst.logs)[-1]
    once = [a for a in alerts if "child refused" in a.title]
    assert len(once) == 1
    assert any(a.title == "Strategy twap stopped" for a in alerts)
