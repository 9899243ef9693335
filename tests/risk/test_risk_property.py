"""Property: no sequence of orders, fills, cancels and replaces leaves a position beyond max_position_qty,
nor even could (the current position plus every working order on one side stays inside the limit)."""

import asyncio
from decimal import Decimal

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from tests.fakes.scripted import ScriptedBroker
from tests.risk_helpers import order, settings
from workstation.core.clock import SimClock
from workstation.core.model import OrderStatus, OrderType, Side
from workstation.trading.oms import OrderError
from workstation.trading.session import Session

LIMIT = 100

qtys = st.sampled_from([1, 40, 60, 99, 100, 101, 150])
submit = st.tuples(st.just("submit"), st.sampled_from([Side.BUY, Side.SELL]), qtys, st.booleans())
ops = st.lists(
    st.one_of(
        submit,
        submit,
        st.tuples(st.just("fill"), st.integers(0, 5), qtys),
        st.tuples(st.just("cancel"), st.integers(0, 5)),
        st.tuples(st.just("replace"), st.integers(0, 5), qtys),
    ),
    min_size=8,
    max_size=30,
)


def bounds(s) -> tuple[Decimal, Decimal]:
    pos = s.portfolio.qty("AAPL")
    working = [o for o in s.oms.working() if o.status.is_working]
    buys = sum((o.remaining for o in working if o.side is Side.BUY), Decimal(0))
    sells = sum((o.remaining for o in working if o.side is Side.SELL), Decimal(0))
    return pos - sells, pos + buys


async def run(start, steps, tmp_path) -> None:
    broker = ScriptedBroker()
    st_ = settings(max_position_qty=LIMIT, max_orders_per_second=None, max_orders_per_minute=None, max_orders_per_day=None)
    s = Session.build(st_, "paper", data_root=tmp_path, clock=SimClock(1_700_000_000), broker=broker, journal_path=":memory:")
    broker.set_quote("AAPL", 9.99, 10.01, 10.0)
    if start:
        opening = await s.oms.submit(order(side=Side.BUY if start > 0 else Side.SELL, qty=abs(start)))
        broker.fill(opening, abs(start), "10")
    for step in steps:
        working = [o for o in s.oms.working() if o.status.is_working]
        if step[0] == "submit":
            _, side, qty, limit = step
            kw = {"limit_price": "10"} if limit else {}
            await s.oms.submit(order(side=side, qty=qty, **kw))
        elif step[0] == "fill" and working:
            o = working[step[1] % len(working)]
            broker.fill(o, min(step[2], o.remaining), "10")
        elif step[0] == "cancel" and working:
            await s.oms.cancel(working[step[1] % len(working)].id)
        elif step[0] == "replace" and working:
            o = working[step[1] % len(working)]
            if o.type is OrderType.LIMIT and step[2] > o.filled_qty:
                try:
                    await s.oms.replace_order(o.id, qty=step[2])
                except OrderError:
                    pass  # refused by the limit: that is the point
        low, high = bounds(s)
        assert abs(s.portfolio.qty("AAPL")) <= LIMIT
        assert -LIMIT <= low and high <= LIMIT, (low, high)
    s.journal.close()


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.sampled_from([-100, -60, 0, 60, 100]), steps=ops)
def test_no_sequence_of_orders_breaks_the_position_limit(start, steps, tmp_path):
    asyncio.run(run(start, steps, tmp_path))


# --------------------------------------------------------------------------- the order rate

attempts = st.lists(
    st.tuples(st.sampled_from(["good", "off collar", "bad tick"]), st.sampled_from([0.0, 0.0, 0.25, 0.5, 1.0])),
    min_size=1,
    max_size=25,
)


async def flood(cap, steps, tmp_path) -> None:
    broker = ScriptedBroker()
    st_ = settings(max_orders_per_second=cap, max_orders_per_minute=None, max_orders_per_day=None, price_collar_pct=10)
    clock = SimClock(1_700_000_000)
    s = Session.build(st_, "paper", data_root=tmp_path, clock=clock, broker=broker, journal_path=":memory:")
    broker.set_quote("AAPL", 9.99, 10.01, 10.0)
    seen: list[float] = []  # when each order came, whatever became of it
    for kind, wait in steps:
        clock.advance(wait)
        now = clock.time()
        full = sum(1 for t in seen if t > now - 1.0) >= cap
        seen.append(now)
        price = {"good": "10", "off collar": "20", "bad tick": "10.001"}[kind]
        try:
            o = await s.oms.submit(order(qty=1, limit_price=price))
        except OrderError:
            assert kind == "bad tick"
            continue
        assert kind != "bad tick"
        if full:
            assert o.status is OrderStatus.REJECTED and o.reason.startswith("order rate:"), o.reason
        elif kind == "good":
            assert o.status is OrderStatus.ACCEPTED, o.reason
        else:
            assert "beyond price_collar_pct" in o.reason
    s.journal.close()


@hsettings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cap=st.integers(1, 3), steps=attempts)
def test_every_order_sent_or_refused_counts_toward_the_rate(cap, steps, tmp_path):
    """An order is refused by the rate limit exactly when ``cap`` orders (sent, refused by a
    check, or malformed) came in the second before it."""
    asyncio.run(flood(cap, steps, tmp_path))
