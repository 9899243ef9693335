"""A bracket is checked whole: its exits at submit (collar, notional, the open orders they will
take), and again when its entry fills (exempt while they only reduce, checked fully when they
no longer do); an OCO resize goes through the replace path and its risk verdict."""

from decimal import Decimal

import pytest

from brokers.base import BrokerFill
from tests.risk_helpers import build, order
from workstation.core.model import AlertRaised, OrderStatus, Side

D = Decimal


@pytest.fixture
def env(tmp_path):
    def make(**risk):
        s, broker, clock = build(tmp_path, **risk)
        broker.set_quote("AAPL", 99.99, 100.01, 100.0)
        return s, broker, clock

    return make


def bracket(qty=10, tp="110", sl="95", **kw):
    return order(qty=qty, take_profit=D(tp), stop_loss=D(sl), **kw)


def legs(s, entry):
    kids = {o.role: o for o in s.oms.orders.values() if o.parent_id == entry.id}
    return kids.get("take_profit"), kids.get("stop_loss")


def assert_refused_whole(s, broker, entry, reason):
    assert entry.status is OrderStatus.REJECTED and entry.reason == reason
    assert broker.sent == []
    assert legs(s, entry) == (None, None) and s.oms.working() == []
    # the journal holds the entry, rejected with the reason, and nothing else
    assert [(o.id, o.status, o.reason) for o in s.journal.orders()] == [(entry.id, OrderStatus.REJECTED, reason)]


async def test_a_take_profit_far_from_the_market_refuses_the_bracket(env):
    s, broker, _ = env(price_collar_pct=10)
    entry = await s.oms.submit(bracket(tp="2005.20", sl="95"))
    assert_refused_whole(
        s, broker, entry, "take-profit price 2005.2 is 1905.20% from the last price 100, beyond price_collar_pct 10%"
    )


async def test_a_stop_loss_far_from_the_market_refuses_the_bracket(env):
    s, broker, _ = env(price_collar_pct=10)
    entry = await s.oms.submit(bracket(tp="105", sl="0.01"))
    assert_refused_whole(
        s, broker, entry, "stop-loss price 0.01 is 99.99% from the last price 100, beyond price_collar_pct 10%"
    )


async def test_the_review_shows_the_refused_leg(env):
    s, broker, _ = env(price_collar_pct=10)
    review = await s.oms.review(bracket(tp="2005.20", sl="95"))
    assert not review.ok and review.rule == "price_collar_pct" and review.reason.startswith("take-profit price 2005.2 is")
    assert broker.sent == [] and s.journal.orders() == []


async def test_the_issue_bracket_under_one_open_order_is_refused_at_submit(env):
    s, broker, _ = env(max_open_orders=1, price_collar_pct=None)
    entry = await s.oms.submit(bracket(tp="2005.20", sl="0.01"))
    assert_refused_whole(
        s, broker, entry,
        "a bracket keeps 2 orders working (its take-profit and stop-loss); 0 orders are working, max_open_orders is 1",
    )


async def test_under_two_open_orders_a_bracket_passes_and_both_exits_work(env):
    s, broker, _ = env(max_open_orders=2)
    entry = await s.oms.submit(bracket())
    assert entry.status is OrderStatus.ACCEPTED
    broker.fill(entry, 10, "100.01")
    await s.drain()
    tp, sl = legs(s, entry)
    assert tp.status is OrderStatus.ACCEPTED and sl.status is OrderStatus.ACCEPTED
    assert [o.id for o in broker.sent] == [entry.id, tp.id, sl.id]
    # the two exits fill the limit: a new order is refused
    o = await s.oms.submit(order(qty=1, limit_price=99))
    assert o.status is OrderStatus.REJECTED and o.reason == "2 orders are working, max_open_orders is 2"


async def test_a_working_bracket_holds_two_open_orders(env):
    s, broker, _ = env(max_open_orders=3)
    entry = await s.oms.submit(bracket(limit_price=99))
    assert entry.status is OrderStatus.ACCEPTED
    assert (await s.oms.submit(order(qty=1, limit_price=98))).status is OrderStatus.ACCEPTED
    o = await s.oms.submit(order(qty=1, limit_price=98))
    assert o.status is OrderStatus.REJECTED
    assert o.reason == "3 orders are working (a bracket counted as its take-profit and stop-loss), max_open_orders is 3"


@pytest.mark.parametrize("qty, ok", [(90, True), (91, False)])
async def test_each_exit_must_pass_the_notional_limit_at_its_price(env, qty, ok):
    s, broker, _ = env(max_order_notional=10_000)
    # the entry (at 100) passes either way; the take-profit at 110 is worth 10% more
    entry = await s.oms.submit(bracket(qty=qty, limit_price=100, tp="110", sl="95"))
    if ok:
        assert entry.status is OrderStatus.ACCEPTED and all(leg is not None for leg in legs(s, entry))
    else:
        assert_refused_whole(s, broker, entry, "take-profit notional $10,010.00 exceeds max_order_notional $10,000.00")


async def test_exits_go_out_when_the_entry_fills_whatever_limits_say_of_new_orders(env):
    """Protective exits are exempt (as kill-switch orders are) while they reduce the position."""
    s, broker, clock = env(max_open_orders=2, max_orders_per_second=1)
    entry = await s.oms.submit(bracket(limit_price=100))
    broker.fill(entry, 10, "100")
    # before the exits go out: the market moves away, limits tighten, the breaker trips
    broker.set_quote("AAPL", 79.99, 80.01, 80.0)  # the take-profit at 110 is now 37.5% away
    for name, value in (("max_open_orders", "0"), ("max_order_notional", "1"), ("max_order_qty", "1"),
                        ("max_position_qty", "1"), ("trading_halted", "true")):
        s.set_limit(name, value)
    s.breaker.trip("test", source="test")
    await s.drain()
    tp, sl = legs(s, entry)
    assert tp.status is OrderStatus.ACCEPTED and sl.status is OrderStatus.ACCEPTED
    assert [o.id for o in broker.sent] == [entry.id, tp.id, sl.id]
    # they went through the door: journaled as submitted, then accepted
    kinds = [k for _q, _t, k, ref, _d in s.journal.events("order.") if ref == tp.id]
    assert kinds == ["order.held", "order.submitted", "order.accepted"]
    # a new opening order is still refused
    assert (await s.oms.submit(order(qty=1, limit_price=80))).status is OrderStatus.REJECTED


async def test_an_exit_that_would_no_longer_reduce_is_checked_fully(env):
    s, broker, _ = env(allow_short=False)
    raised = []
    s.bus.subscribe(AlertRaised, raised.append)
    entry = await s.oms.submit(bracket(limit_price=100))
    broker.fill(entry, 10, "100")
    # the position is closed elsewhere before the exits go out
    broker.report(BrokerFill(client_id="elsewhere", exec_id="e1", qty=D(10), price=D(100), symbol="AAPL", side="sell"))
    assert s.portfolio.qty("AAPL") == 0
    await s.drain()
    tp, sl = legs(s, entry)
    assert tp.status is OrderStatus.REJECTED and sl.status is OrderStatus.REJECTED
    assert tp.reason == (
        f"take-profit not sent when entry {entry.id} filled: "
        "shorting is not allowed: selling 10 AAPL would leave a short position of 10"
    )
    assert sl.reason.startswith(f"stop-loss not sent when entry {entry.id} filled: shorting is not allowed")
    assert [o.id for o in broker.sent] == [entry.id]
    assert s.journal.order(tp.id).status is OrderStatus.REJECTED
    assert any(a.title == "Order rejected" and tp.id in a.message for a in raised)


async def test_an_exit_canceled_before_the_entry_fills_stays_canceled(env):
    s, broker, _ = env()
    entry = await s.oms.submit(bracket(limit_price=100))
    tp, _sl = legs(s, entry)
    await s.oms.cancel(tp.id)
    broker.fill(entry, 10, "100")
    await s.drain()
    tp, sl = legs(s, entry)
    assert tp.status is OrderStatus.CANCELED and sl.status is OrderStatus.ACCEPTED
    assert [o.id for o in broker.sent] == [entry.id, sl.id]


async def test_the_oco_resize_goes_through_the_replace_path_even_under_tight_limits(env):
    s, broker, _ = env()
    checked = []
    real = s.risk.check
    s.risk.check = lambda ctx: checked.append(ctx) or real(ctx)
    entry = await s.oms.submit(bracket(limit_price=100))
    broker.fill(entry, 10, "100")
    await s.drain()
    tp, sl = legs(s, entry)
    s.set_limit("max_open_orders", "0")
    s.set_limit("max_orders_per_second", "0")
    s.breaker.trip("test", source="test")
    await s.drain()  # (the breaker cancels opening orders: the exits reduce, they stay)
    broker.fill(tp, 4, "110")
    await s.drain()
    assert s.oms.orders[sl.id].qty == 6 and broker.replaced == [(sl.id, D(6))]
    resize = [c for c in checked if c.order.id == sl.id and c.order.qty == 6]
    assert len(resize) == 1 and resize[0].protective and resize[0].shrinks
    broker.fill(tp, 6, "110")
    await s.drain()
    assert s.oms.orders[sl.id].status is OrderStatus.CANCELED and s.portfolio.qty("AAPL") == 0


async def test_a_plain_oco_resize_that_does_not_reduce_the_position_still_goes_out(env):
    """A user's OCO pair (a buy and a sell around the market): cutting one side after the other
    partly fills only shrinks it, so it passes even with shorting off."""
    s, broker, _ = env(allow_short=True)
    buy = await s.oms.submit(order(qty=10, limit_price=99))
    sell = await s.oms.submit(order(side=Side.SELL, qty=10, limit_price=101, oco_with=buy.id))
    s.set_limit("allow_short", "false")
    broker.fill(s.oms.orders[buy.id], 4, "99")
    await s.drain()
    assert s.oms.orders[sell.id].qty == 6 and broker.replaced == [(sell.id, D(6))]
