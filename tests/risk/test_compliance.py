"""Compliance limits through the order manager: orders per hour, the pattern-day-trader rule,
the cap on open positions and gross leverage (pre-trade and the post-trade monitor)."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import msgspec
import pytest

from tests.risk_helpers import alerts, build, hold, order
from workstation.core import sessions
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import OrderStatus, OrderType, Side
from workstation.risk.compliance import business_days
from workstation.trading.oms import OrderError

NY = ZoneInfo("America/New_York")


def at(day: int, month: int = 11, hour: int = 14, minute: int = 0) -> float:
    return datetime(2026, month, day, hour, minute, tzinfo=NY).timestamp()


def account(cash: int, kind: str = "margin", **risk) -> Settings:
    raw = {"profiles": {"paper": {"initial_cash": cash, "account_type": kind, "risk": {"max_daily_loss_pct": None, **risk}}},
           "alerts": {"bell": False}}
    return msgspec.convert(raw, Settings, strict=False)


async def submit(s, req):
    o = await s.oms.submit(req)
    return o.status is not OrderStatus.REJECTED, o.reason


def rows(s) -> dict:
    return {r.name: r for r in s.risk.status()}


# --------------------------------------------------------------------------- orders per hour


async def test_orders_per_hour_counts_the_last_3600_seconds_across_an_hour_boundary(tmp_path):
    clock = SimClock(at(20, hour=10, minute=59))
    s, broker, _ = build(tmp_path, clock=clock, max_orders_per_hour=3)
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    assert (await submit(s, order(qty=1, limit_price=99)))[0]
    assert (await submit(s, order(qty=1, limit_price=99)))[0]
    clock.advance(90)  # 11:00:30: a new clock hour resets nothing
    assert (await submit(s, order(qty=1, limit_price=99)))[0]
    passed, reason = await submit(s, order(qty=1, limit_price=99))
    assert not passed and reason == "order rate: 3 orders sent or refused in the last hour, max_orders_per_hour is 3"
    assert rows(s)["orders per hour"].used == 4 and rows(s)["orders per hour"].state == "breach"
    clock.set(at(20, hour=11, minute=59))  # the two 10:59 orders have left the window
    assert (await submit(s, order(qty=1, limit_price=99)))[0]
    passed, reason = await submit(s, order(qty=1, limit_price=99))
    assert not passed and reason.startswith("order rate: 3 orders sent or refused in the last hour")


async def test_orders_per_hour_is_set_at_run_time_and_survives_a_restart(tmp_path):
    clock = SimClock(at(20, hour=10))
    s, broker, _ = build(tmp_path, clock=clock)
    assert rows(s)["orders per hour"].limit is None  # off unless set
    s.set_limit("max_orders_per_hour", "2")  # journaled
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    for _ in range(2):
        assert (await submit(s, order(qty=1, limit_price=99)))[0]
    await s.stop()
    clock.advance(600)
    s2, broker2, _ = build(tmp_path, clock=clock)
    broker2.set_quote("AAPL", 99.99, 100.01, 100.0)
    with pytest.raises(OrderError, match="^order rate: 2 orders sent or refused in the last hour, max_orders_per_hour is 2$"):
        await s2.oms.submit(order(qty=1, limit_price=99))


# --------------------------------------------------------------------------- pattern day trader


async def round_trip(s, broker, clock, when: float, symbol: str = "AAPL"):
    """Buy 10 and sell them at ``when`` (a day trade); returns the sell's (passed, reason)."""
    clock.set(when)
    broker.set_quote(symbol, 99.99, 100.01, 100.0)
    await hold(s, broker, symbol, 10, 100.0)
    clock.advance(60)
    sell = await s.oms.submit(order(symbol, Side.SELL, 10, type=OrderType.MARKET))
    if sell.status is not OrderStatus.REJECTED:
        broker.fill(sell, 10, 100.0)
    return sell.status is not OrderStatus.REJECTED, sell.reason


def test_business_days_skip_weekends_and_the_thanksgiving_holiday():
    from datetime import date

    assert business_days(date(2026, 11, 30)) == (
        date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 27), date(2026, 11, 30),
    )


async def test_a_margin_account_under_25k_is_refused_its_fourth_day_trade_in_five_business_days(tmp_path):
    clock = SimClock(at(20))
    s, broker, _ = build(tmp_path, account(20_000), clock=clock)
    got = alerts(s)
    assert (await round_trip(s, broker, clock, at(23))) == (True, None)
    assert (await round_trip(s, broker, clock, at(24))) == (True, None)
    # the third passes with a warning: on the review, and as an alert once sent
    clock.set(at(25))
    await hold(s, broker, "AAPL", 10, 100.0)
    review = await s.oms.review(order("AAPL", Side.SELL, 10, type=OrderType.MARKET))
    assert review.ok and review.warnings == (
        "pattern day trader: this would be day trade 3 of 3 allowed in 5 business days (Nov 19 to Nov 25) "
        "while equity is under $25,000.00; a 4th is refused",
    )
    sell = await s.oms.submit(order("AAPL", Side.SELL, 10, type=OrderType.MARKET))
    broker.fill(sell, 10, 100.0)
    assert any(a.title == "Risk warning" and "day trade 3 of 3" in a.message for a in got)
    assert rows(s)["day trades (5d)"].used == 3 and rows(s)["day trades (5d)"].state == "near"
    # the fourth, two days later (Thanksgiving between): refused in one line, the position stays
    passed, reason = await round_trip(s, broker, clock, at(27))
    assert not passed and reason == (
        "pattern day trader: 3 day trades in the last 5 business days (Nov 20 to Nov 27); this sell of AAPL would be "
        "day trade 4, refused in a margin account with equity $20,000.00 under $25,000.00 (FINRA rule 4210)"
    )
    assert s.portfolio.qty("AAPL") == 10
    # selling the overnight position on Monday is no day trade; the weekend and the holiday keep Nov 23 in the window
    clock.set(at(30))
    overnight = await s.oms.submit(order("AAPL", Side.SELL, 10, type=OrderType.MARKET))
    assert overnight.reason is None
    broker.fill(overnight, 10, 100.0)
    passed, reason = await round_trip(s, broker, clock, at(30, hour=15))
    assert not passed and "3 day trades in the last 5 business days (Nov 23 to Nov 30)" in reason
    # Dec 1: Nov 23 has dropped out (counting the holiday as a day would drop Nov 24 as well)
    clock.set(at(1, month=12))
    await hold(s, broker, "MSFT", 10, 100.0)
    review = await s.oms.review(order("MSFT", Side.SELL, 10, type=OrderType.MARKET))
    assert review.ok and "day trade 3 of 3" in review.warnings[0]


async def test_a_restart_rebuilds_the_day_trade_count_from_the_journal(tmp_path):
    clock = SimClock(at(20))
    s, broker, _ = build(tmp_path, account(20_000), clock=clock)
    for day in (23, 24, 25):
        assert (await round_trip(s, broker, clock, at(day)))[0]
    await s.stop()
    s2, broker2, _ = build(tmp_path, account(20_000), clock=clock)
    broker2._fills = 100  # its execution ids go on from the first broker's (a repeated one is dropped as a duplicate)
    assert rows(s2)["day trades (5d)"].used == 3
    passed, reason = await round_trip(s2, broker2, clock, at(25, hour=15))
    assert not passed and reason.startswith("pattern day trader: 3 day trades in the last 5 business days")


async def test_partial_fills_of_one_closing_order_are_one_day_trade(tmp_path):
    clock = SimClock(at(23))
    s, broker, _ = build(tmp_path, account(20_000), clock=clock)
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    await hold(s, broker, "AAPL", 10, 100.0)
    sell = await s.oms.submit(order("AAPL", Side.SELL, 10, type=OrderType.MARKET))
    broker.fill(sell, 4, 100.0)
    broker.fill(sell, 6, 100.0)
    assert rows(s)["day trades (5d)"].used == 1


async def test_a_cash_account_is_never_checked(tmp_path):
    clock = SimClock(at(20))
    s, broker, _ = build(tmp_path, account(20_000, "cash"), clock=clock)
    for day in (23, 24, 25, 27):
        assert (await round_trip(s, broker, clock, at(day))) == (True, None)
    assert "day trades (5d)" not in rows(s)


async def test_equity_of_25k_or_more_is_not_checked_and_pdt_check_can_be_turned_off(tmp_path):
    clock = SimClock(at(20))
    s, broker, _ = build(tmp_path, account(30_000), clock=clock)
    for day in (23, 24, 25, 27):
        assert (await round_trip(s, broker, clock, at(day))) == (True, None)
    sessions.prepare("XNYS", clock.time())  # (the row waits for the exchange calendar, read in a worker thread)
    day_trades = rows(s)["day trades (5d)"]
    assert (day_trades.used, day_trades.state, day_trades.detail) == (4, "off", "equity ≥ $25k")
    clock2 = SimClock(at(20))
    s2, broker2, _ = build(tmp_path / "off", account(20_000, pdt_check=False), clock=clock2)
    for day in (23, 24, 25, 27):
        assert (await round_trip(s2, broker2, clock2, at(day))) == (True, None)


# --------------------------------------------------------------------------- open positions


async def test_max_open_positions_refuses_a_new_symbol_but_not_adding_or_closing(tmp_path):
    s, broker, _ = build(tmp_path)
    for sym in ("AAPL", "MSFT", "JPM"):
        broker.set_quote(sym, 99.99, 100.01, 100.0)
    await hold(s, broker, "AAPL", 10, 100.0)
    await hold(s, broker, "MSFT", -10, 100.0)
    s.limits.set("max_open_positions", "2")
    passed, reason = await submit(s, order("JPM", Side.BUY, 1, limit_price=100))
    assert not passed and reason == "open positions: 2 symbols held, max_open_positions is 2: JPM would open another"
    assert (await s.oms.review(order("AAPL", Side.BUY, 5, limit_price=100))).ok  # adding to a held one
    assert (await s.oms.review(order("MSFT", Side.BUY, 20, limit_price=100))).ok  # a flip stays one position
    close = await s.oms.submit(order("AAPL", Side.SELL, 10, type=OrderType.MARKET))
    assert close.status is not OrderStatus.REJECTED
    broker.fill(close, 10, 100.0)
    assert rows(s)["open positions"].used == 1
    assert (await submit(s, order("JPM", Side.BUY, 1, limit_price=100)))[0]  # a place came free
    passed, reason = await submit(s, order("AAPL", Side.BUY, 1, limit_price=100))  # JPM's working order holds it
    assert not passed and reason == (
        "open positions: 1 symbols held and 1 more with orders working to open them, max_open_positions is 2: "
        "AAPL would open another"
    )


# --------------------------------------------------------------------------- gross leverage


async def test_max_gross_leverage_refuses_what_raises_it_beyond_and_allows_the_rest(tmp_path):
    s, broker, _ = build(tmp_path)
    for sym in ("AAPL", "MSFT", "JPM"):
        broker.set_quote(sym, 99.99, 100.01, 100.0)
    await hold(s, broker, "AAPL", 1000, 100.0)  # $100,000 on $100,000 of equity: 1x
    s.limits.set("max_gross_leverage", "1.5")
    assert (await s.oms.review(order("MSFT", Side.BUY, 400, limit_price=100))).ok  # 1.4x
    await hold(s, broker, "MSFT", 400, 100.0)
    passed, reason = await submit(s, order("JPM", Side.BUY, 200, limit_price=100))
    assert not passed and reason == (
        "gross leverage would be 1.60x (gross exposure $160,000.00 on equity $100,000.00), exceeding max_gross_leverage 1.5x"
    )
    assert (await submit(s, order("AAPL", Side.SELL, 500, limit_price=100)))[0]  # reducing always passes
    assert rows(s)["gross leverage"].used == Decimal("1.40")


async def test_gross_leverage_beyond_the_limit_trips_the_breaker_and_near_it_warns(tmp_path):
    s, broker, _ = build(tmp_path)
    for sym in ("AAPL", "MSFT"):
        broker.set_quote(sym, 99.99, 100.01, 100.0)
    got = alerts(s)
    await hold(s, broker, "AAPL", 1000, 100.0)
    await hold(s, broker, "MSFT", 400, 100.0)
    s.limits.set("max_gross_leverage", "1.7")
    assert s.monitor.evaluate() == [] and not s.breaker.tripped
    assert [a.message for a in got if a.title == "Leverage warning"] == ["max gross leverage: 1.4 used of 1.7 (near the limit)"]
    s.limits.set("max_gross_leverage", "1.2")
    s.monitor.evaluate()
    assert s.breaker.tripped
    assert s.breaker.info.reason == (
        "gross leverage 1.40x (gross exposure $140,000.00 on equity $100,000.00) exceeds max_gross_leverage 1.2x"
    )
    assert rows(s)["gross leverage"].state == "breach"


# --------------------------------------------------------------------------- day trades, as a property

from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402

from workstation.core.model import Fill  # noqa: E402
from workstation.risk.compliance import DayTrades  # noqa: E402

FILLS = st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 50), st.integers(0, 5)), max_size=30)


def replay(overnight: int, fills) -> tuple[DayTrades, set[str], set[str]]:
    """Fills on one day (each tuple: side, qty, which of six orders), from an overnight position:
    the book, the closing orders, and the closing orders with a fill after an opening fill of the other side."""
    book, pos, closing, after_open = DayTrades(), Decimal(overnight), set(), set()
    opened = {Side.BUY: False, Side.SELL: False}  # a buy opened or added to a long today / a sell a short
    for n, (side, qty, oid) in enumerate(fills):
        f = Fill(exec_id=str(n), order_id=f"{side.value}{oid}", symbol="AAPL", side=side, qty=Decimal(qty), price=Decimal(100),
                 ts=at(23) + n)
        closes = (side is Side.SELL and pos > 0) or (side is Side.BUY and pos < 0)
        if closes:
            closing.add(f.order_id)
            if opened[side.opposite]:
                after_open.add(f.order_id)
        pos += f.signed_qty
        if not closes or (side is Side.BUY and pos > 0) or (side is Side.SELL and pos < 0):
            opened[side] = True
        book.apply(f, pos)
    return book, closing, after_open


@hsettings(max_examples=300, deadline=None)
@given(st.integers(-100, 100), FILLS)
def test_day_trades_are_closing_orders_after_an_opening_on_the_same_day(overnight, fills):
    book, closing, after_open = replay(overnight, fills)
    counted = [t.order_id for t in book.trades]
    assert len(set(counted)) == len(counted)  # one closing order is one day trade, however many fills
    assert set(counted) <= after_open <= closing  # closing what was held overnight, before any opening, is none
    if len({side for side, _q, _o in fills}) < 2:  # one side all day: nothing opened today is closed
        assert counted == []
