"""Futures on the paper market settle daily at 17:00 New York: the day's P&L against the
previous settlement moves into cash and the settlement price becomes the cost, exactly, once
per day, caught up after a stop; at expiry the future closes at the final settlement price."""

from datetime import date, time
from decimal import Decimal

from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import BUY, Fill, Side
from workstation.trading.expiry import new_york
from workstation.trading.session import Session

MONDAY = date(2026, 12, 7)
ES = "ES-2027-03"


def at(d, hour, minute=0, second=0):
    return new_york(d, time(hour, minute, second))


def day(n):
    return date(2026, 12, 7 + n)


def build(tmp_path, clock):
    return Session.build(Settings(), "paper", data_root=tmp_path, clock=clock)


def hold(s, symbol, qty, price):
    n = s.journal.last_seq() + 1
    fill = Fill(
        exec_id=f"open-{n}", order_id="external", symbol=symbol, side=BUY if qty > 0 else Side.SELL,
        qty=Decimal(abs(qty)), price=Decimal(price), ts=s.clock.time(),
    )
    assert s.journal.record_fill(fill, None)
    s.portfolio.apply_fill(fill)


def settle(s, symbol, d):
    """The paper market's price of ``symbol`` at 17:00 New York on ``d``: its settlement price."""
    return Decimal(repr(float(s.broker.market.mids(symbol, [at(d, 17)])[0])))


async def test_daily_variation_margin_moves_into_cash_and_resets_the_cost(tmp_path):
    clock = SimClock(at(MONDAY, 10))
    s = build(tmp_path, clock)
    await s.start(feed=False)
    hold(s, ES, 2, "6000.25")
    cash = s.portfolio.cash["USD"]
    assert cash == Decimal(100_000)  # a future moves no notional

    clock.set(at(MONDAY, 16, 59, 59))
    assert s.settle() == []
    clock.set(at(MONDAY, 17, 0, 30))
    [monday] = s.settle()
    s1 = settle(s, ES, MONDAY)
    assert monday.kind == "variation"
    assert monday.amount == 2 * 50 * (s1 - Decimal("6000.25"))
    assert s.portfolio.cash["USD"] == cash + 2 * 50 * (s1 - Decimal("6000.25"))
    pos = s.portfolio.position(ES)
    assert pos.avg_price == s1 and pos.qty == 2  # the cost is the settlement price
    assert pos.realized_pnl == monday.amount
    assert s.portfolio.traded_since(at(MONDAY, 17)) == {ES: monday.amount}  # the Positions pane's realized today
    assert s.portfolio.unrealized(ES) == 2 * 50 * (s.portfolio.last(ES) - s1)
    assert [a.message for a in s.alerts.recent if a.title == "Variation margin"] == [monday.message]
    assert monday.message.startswith(f"{ES} settled at {s1:,.2f} (2026-12-07): ")

    clock.set(at(day(1), 17, 0, 30))
    [tuesday] = s.settle()
    s2 = settle(s, ES, day(1))
    assert tuesday.amount == 2 * 50 * (s2 - s1)  # against the previous settlement
    assert s.portfolio.cash["USD"] == cash + 2 * 50 * (s2 - Decimal("6000.25"))
    assert s.settle() == []  # once a day
    figures = (s.portfolio.cash["USD"], s.portfolio.position(ES))
    await s.stop()

    s2nd = build(tmp_path, clock)  # the journal rebuilds it exactly
    assert (s2nd.portfolio.cash["USD"], s2nd.portfolio.position(ES)) == figures
    assert s2nd.portfolio.traded_since(at(MONDAY, 17)) == {ES: monday.amount + tuesday.amount}


async def test_days_missed_while_no_engine_ran_settle_once_in_order(tmp_path):
    clock = SimClock(at(MONDAY, 10))
    s = build(tmp_path, clock)
    await s.start(feed=False)
    hold(s, ES, -1, "6000.00")
    clock.set(at(MONDAY, 17, 1))
    s.settle()
    await s.stop()

    clock.set(at(day(3), 12))  # Thursday noon: Tuesday's and Wednesday's settlements were missed
    s2 = build(tmp_path, clock)
    await s2.start(feed=False)
    keys = [key for _ts, key, _data in s2.journal.settlements()]
    assert keys == [f"variation:{ES}:2026-12-07", f"variation:{ES}:2026-12-08", f"variation:{ES}:2026-12-09"]
    wednesday = settle(s2, ES, day(2))
    assert s2.portfolio.position(ES).avg_price == wednesday
    assert s2.portfolio.cash["USD"] == Decimal(100_000) - 50 * (wednesday - Decimal("6000.00"))  # short: the rise is paid
    await s2.stop()

    clock.advance(60)
    s3 = build(tmp_path, clock)
    await s3.start(feed=False)
    assert len(s3.journal.settlements()) == 3
    assert s3.portfolio.cash["USD"] == Decimal(100_000) - 50 * (wednesday - Decimal("6000.00"))
    await s3.stop()


async def test_no_settlement_on_the_weekend(tmp_path):
    clock = SimClock(at(day(4), 10))  # Friday
    s = build(tmp_path, clock)
    await s.start(feed=False)
    hold(s, ES, 1, "6000.00")
    clock.set(at(day(7), 17, 1))  # Monday evening
    done = s.settle()
    assert [d.key for d in done] == [f"variation:{ES}:2026-12-11", f"variation:{ES}:2026-12-14"]


async def test_a_fill_after_a_settlement_is_replayed_after_it(tmp_path):
    clock = SimClock(at(MONDAY, 10))
    s = build(tmp_path, clock)
    await s.start(feed=False)
    hold(s, ES, 1, "6000.00")
    clock.set(at(MONDAY, 17, 1))
    s.settle()
    s1 = settle(s, ES, MONDAY)
    hold(s, ES, 1, str(s1 + 10))
    assert s.portfolio.position(ES).avg_price == s1 + 5
    figures = (s.portfolio.cash["USD"], s.portfolio.position(ES))
    s.journal.close()
    assert (lambda r: (r.portfolio.cash["USD"], r.portfolio.position(ES)))(build(tmp_path, clock)) == figures


async def test_a_future_expires_at_its_final_settlement_price(tmp_path):
    thursday = date(2026, 12, 17)
    friday = date(2026, 12, 18)  # ES-2026-12's expiry
    clock = SimClock(at(thursday, 10))
    s = build(tmp_path, clock)
    await s.start(feed=False)
    hold(s, "ES-2026-12", 1, "6000.00")
    clock.set(at(friday, 17, 0, 30))
    done = s.settle()
    final = settle(s, "ES-2026-12", friday)
    assert [d.kind for d in done] == ["variation", "future"]  # Thursday's daily settlement, then expiry
    assert s.portfolio.qty("ES-2026-12") == 0
    assert s.portfolio.cash["USD"] == Decimal(100_000) + 50 * (final - Decimal("6000.00"))
    [alert] = [a for a in s.alerts.recent if a.title == "Future settled"]
    assert alert.message.startswith(f"ES-2026-12 expired: 1 closed at the final settlement price {final:,.2f}")
    assert [o.symbol for o in s.oms.orders.values() if o.source == "expiry"] == ["ES-2026-12"]


async def test_roll_reminder_names_the_roll_command(tmp_path):
    clock = SimClock(at(date(2026, 12, 10), 10))  # eight days before ES-2026-12 expires
    s = build(tmp_path, clock)
    await s.start(feed=False)
    hold(s, "ES-2026-12", 1, "6000.00")
    assert s.settlement.warn(force=True) == 0
    clock.set(at(date(2026, 12, 14), 10))  # four days before: within the five of the setting
    assert s.settlement.warn(force=True) == 1
    [alert] = [a for a in s.alerts.recent if a.title == "Roll reminder"]
    assert alert.message == "ES-2026-12 expires 2026-12-18 (in 4 days): roll it with `main.py roll ES-2026-12 ES-2027-03`"
    assert s.settlement.warn(force=True) == 0
