"""Post-trade monitors at, below and above their limits; the circuit breaker; its reset and restart."""

import pytest

from tests.risk_helpers import T0, alerts, build, hold, order
from workstation.risk.breaker import BreakerChanged, RiskError
from workstation.core.model import OrderStatus, Side
from workstation.risk.checks import RiskStatus


def move(broker, price: float, symbol: str = "AAPL") -> None:
    broker.set_quote(symbol, price - 0.01, price + 0.01, price)


@pytest.fixture
def long_aapl(tmp_path):
    async def make(**risk):
        s, broker, clock = build(tmp_path, **risk)
        await hold(s, broker, "AAPL", 1000, 100.0)  # equity $100,000, $1,000 per dollar of AAPL
        return s, broker, clock

    return make


@pytest.mark.parametrize("price, tripped", [(95.01, False), (95.0, False), (94.99, True)])
async def test_daily_loss_absolute(long_aapl, price, tripped):
    s, broker, _ = await long_aapl(max_daily_loss=5000)
    move(broker, price)
    assert s.breaker.tripped is tripped
    if tripped:
        assert s.breaker.info.reason == "day loss $5,010.00 exceeds max_daily_loss $5,000.00"


@pytest.mark.parametrize("price, tripped", [(95.01, False), (95.0, False), (94.99, True)])
async def test_daily_loss_percent(long_aapl, price, tripped):
    s, broker, _ = await long_aapl(max_daily_loss_pct=5)
    move(broker, price)
    assert s.breaker.tripped is tripped
    if tripped:
        assert s.breaker.info.reason.startswith("day loss $5,010.00 is 5.01% of start-of-day equity $100,000.00")


@pytest.mark.parametrize("price, tripped", [(99.01, False), (99.0, False), (98.99, True)])
async def test_intraday_drawdown_from_the_days_high(long_aapl, price, tripped):
    s, broker, _ = await long_aapl(max_intraday_drawdown_pct=10)
    move(broker, 110.0)  # the day's high: $110,000
    move(broker, price)  # $99,000 is exactly 10% below it
    assert s.breaker.tripped is tripped
    if tripped:
        assert "intraday drawdown 10.01% from the day's high exceeds max_intraday_drawdown_pct 10%" in s.breaker.info.reason


@pytest.mark.parametrize("price, tripped", [(99.01, False), (99.0, False), (98.99, True)])
async def test_total_drawdown_from_the_peak_spans_days(long_aapl, price, tripped):
    s, broker, clock = await long_aapl(max_drawdown_pct=10)
    move(broker, 110.0)
    clock.advance(2 * 86_400)  # two trading days later: the peak is remembered
    move(broker, 105.0)
    assert s.monitor.status().start_of_day_equity == 110_000
    move(broker, price)
    assert s.breaker.tripped is tripped


async def test_the_day_rolls_at_five_pm_new_york(long_aapl):
    s, broker, clock = await long_aapl(max_daily_loss=5000)
    move(broker, 96.0)  # -$4,000 today
    assert not s.breaker.tripped
    clock.set(T0 - 13 * 60 + 86_400 - 60)  # 16:59 New York the next day: still the same trading day
    move(broker, 95.5)
    assert not s.breaker.tripped and s.monitor.status().day_pnl == -4500
    clock.advance(120)  # 17:01: a new day starts from the last equity
    move(broker, 92.0)  # -$3,500 on the new day, -$8,000 in all
    assert not s.breaker.tripped
    assert s.monitor.status().day_pnl == -3500


async def test_breach_trips_the_breaker_cancels_opening_orders_and_lets_reducing_orders_go(long_aapl):
    s, broker, _ = await long_aapl(max_daily_loss=5000)
    raised = alerts(s)
    changes = []
    s.bus.subscribe(BreakerChanged, changes.append)
    move(broker, 100.0, "MSFT")
    opening = [await s.oms.submit(order(qty=10, limit_price=99)), await s.oms.submit(order("MSFT", qty=10, limit_price=99))]
    reducing = await s.oms.submit(order(side=Side.SELL, qty=500, limit_price=105))
    move(broker, 94.0)  # -$6,000
    await s.drain()
    assert s.breaker.tripped and changes[-1].tripped
    assert all(s.oms.orders[o.id].status is OrderStatus.CANCELED for o in opening)
    assert all(s.oms.orders[o.id].reason.startswith("circuit breaker: day loss") for o in opening)  # why, not "by request"
    assert s.oms.orders[reducing.id].status is OrderStatus.ACCEPTED
    assert any(a.title == "Circuit breaker tripped" and a.priority == "critical" for a in raised)
    rejected = await s.oms.submit(order(qty=1, limit_price=94))
    assert rejected.status is OrderStatus.REJECTED
    assert rejected.reason == (
        "circuit breaker tripped (day loss $6,000.00 exceeds max_daily_loss $5,000.00): "
        "only orders that reduce a position are accepted"
    )
    cut = await s.oms.submit(order(side=Side.SELL, qty=200, limit_price=94))
    assert cut.status is OrderStatus.ACCEPTED


async def test_reset_is_confirmed_refused_while_breached_and_journaled(long_aapl):
    s, broker, _ = await long_aapl(max_daily_loss=5000)
    move(broker, 94.0)
    with pytest.raises(RiskError, match="needs confirmation"):
        s.reset_breaker(confirmed=False)
    with pytest.raises(RiskError, match=r"while the breach persists: day loss \$6,000.00 exceeds max_daily_loss"):
        s.reset_breaker(confirmed=True)
    s.set_limit("max_daily_loss", "7000")
    s.reset_breaker(confirmed=True)
    assert not s.breaker.tripped
    states = [d["state"] for _q, _t, _k, _r, d in s.journal.events("risk.breaker")]
    assert states == ["tripped", "reset"]
    assert (await s.oms.submit(order(qty=1, limit_price=94))).status is OrderStatus.ACCEPTED
    with pytest.raises(RiskError, match="not tripped"):
        s.reset_breaker(confirmed=True)


async def test_breaker_survives_a_restart(tmp_path):
    s, broker, clock = build(tmp_path, max_daily_loss=5000)
    await hold(s, broker, "AAPL", 1000, 100.0)
    move(broker, 94.0)
    assert s.breaker.tripped
    s.journal.close()
    s2, broker2, _ = build(tmp_path, clock=clock)
    move(broker2, 94.0)
    assert s2.breaker.tripped and "max_daily_loss" in s2.breaker.info.reason
    o = await s2.oms.submit(order(qty=1, limit_price=94))
    assert o.status is OrderStatus.REJECTED and o.reason.startswith("circuit breaker tripped")
    assert s2.monitor.status().start_of_day_equity == 100_000  # the day's start came back from the journal


async def test_near_limit_warns_once(long_aapl):
    s, broker, _ = await long_aapl(max_daily_loss=5000, max_intraday_drawdown_pct=10)
    raised = alerts(s)
    move(broker, 96.5)  # $3,500: 70%
    assert not raised
    move(broker, 96.0)  # $4,000: 80% = near
    move(broker, 95.8)
    warnings = [a for a in raised if a.title == "Daily loss warning"]
    assert len(warnings) == 1 and not s.breaker.tripped


async def test_risk_status_rows(long_aapl):
    s, broker, _ = await long_aapl(max_daily_loss=5000, max_gross_exposure=200_000, max_open_orders=10)
    published = []
    s.bus.subscribe(RiskStatus, published.append)
    move(broker, 96.0)
    status = s.monitor.publish_status()
    assert published == [status]
    rows = {r.name: r for r in status.rows}
    assert rows["day loss"].used == 4000 and rows["day loss"].limit == 5000 and rows["day loss"].state == "near"
    assert rows["gross exposure"].used == 96_000 and rows["gross exposure"].state == "ok"
    assert rows["gross exposure"].fraction == pytest.approx(0.48)
    assert rows["open orders"].limit == 10
    assert rows["intraday drawdown"].state == "off"
    assert status.day_pnl == -4000 and status.breaker.tripped is False
    move(broker, 94.0)
    rows = {r.name: r for r in s.monitor.status().rows}
    assert rows["day loss"].state == "breach" and s.monitor.status().breaker.tripped


async def test_a_running_session_follows_what_another_process_journals(tmp_path):
    """`main.py risk set`, `kill` (the breaker) and `alert add` from another terminal reach the workstation."""
    s, broker, clock = build(tmp_path)
    await hold(s, broker, "AAPL", 10, 100.0)
    working = await s.oms.submit(order(qty=5, limit_price=99))
    other, _, _ = build(tmp_path, clock=clock)  # a second process on the same journal
    other.set_limit("max_order_qty", "3")
    other.breaker.trip("kill switch: from another terminal", source="kill-switch")
    rule = other.alerts.add_rule("AAPL > 500")
    assert s.follow_journal() >= 3
    await s.drain()
    assert s.limits.limits.max_order_qty == 3
    assert s.breaker.tripped and s.breaker.info.reason == "kill switch: from another terminal"
    assert s.oms.orders[working.id].status is OrderStatus.CANCELED  # its own opening orders, canceled here
    assert rule.id in s.alerts.rules
    other.reset_breaker(confirmed=True)
    s.follow_journal()
    assert not s.breaker.tripped
    assert s.follow_journal() == 0
    other.journal.close()


async def test_following_its_own_journal_changes_nothing(long_aapl):
    s, broker, _ = await long_aapl(max_daily_loss=5000)
    changes = []
    s.bus.subscribe(BreakerChanged, changes.append)
    move(broker, 94.0)
    s.set_limit("max_daily_loss", "7000")
    s.reset_breaker(confirmed=True)
    s.set_limit("max_daily_loss", "500")  # trips again
    assert s.breaker.tripped and len(changes) == 3
    s.follow_journal()
    assert s.breaker.tripped and len(changes) == 3 and s.limits.limits.max_daily_loss == 500


async def test_a_tripped_breaker_leaves_a_bracket_stop_in_place_while_its_take_profit_fills():
    """Take-profit filled 4 of 10, the stop-loss not yet cut to 6: the stop (sell 10 against a
    long 6) looks like an opening order on its own, but it protects the position. A breaker
    trip must not cancel it and leave the position without its stop."""
    from decimal import Decimal

    from workstation.risk.breaker import cancel_opening_orders
    from workstation.core.model import Order, OrderType, TimeInForce

    class Book:
        def qty(self, symbol: str) -> Decimal:
            return Decimal(6)

    def leg(oid: str, role: str | None, side: Side, qty: str, filled: str = "0", parent: str | None = "1") -> Order:
        return Order(
            id=oid, client_id=f"c{oid}", symbol="AAPL", side=side, qty=Decimal(qty), type=OrderType.STOP, tif=TimeInForce.GTC,
            status=OrderStatus.PARTIALLY_FILLED if filled != "0" else OrderStatus.ACCEPTED, stop_price=Decimal(90),
            filled_qty=Decimal(filled), parent_id=parent, role=role, oco_group="bracket-1" if role else None,
        )

    orders = [
        leg("2", "take_profit", Side.SELL, "10", filled="4"),
        leg("3", "stop_loss", Side.SELL, "10"),
        leg("4", None, Side.SELL, "50", parent=None),  # an ordinary order that would go short: opening
    ]
    canceled: list[str] = []

    async def cancel(order_id: str) -> None:
        canceled.append(order_id)

    assert await cancel_opening_orders(lambda: orders, Book(), cancel) == ["4"]
    assert canceled == ["4"]
