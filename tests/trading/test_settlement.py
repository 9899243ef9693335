"""An expiry day on the paper market: options exercise, are assigned, cash-settle or expire
worthless at 16:00 New York, exactly once, journaled, and told to the user."""

from datetime import date, time
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.alerts.engine import AlertNotice
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.journal import Journal
from workstation.core.model import BUY, Fill, OrderFilled, Side
from workstation.trading.expiry import new_york
from workstation.trading.portfolio import Portfolio
from workstation.trading.session import Session
from workstation.trading.settlement import Settlement
from workstation.core.bus import Bus
from workstation.core.symbols import parse_symbol

EXPIRY = date(2026, 12, 18)  # a Friday
CLOSE = new_york(EXPIRY, time(16))
DAY_BEFORE = new_york(date(2026, 12, 17), time(11))


def build(tmp_path, clock):
    return Session.build(Settings(), "paper", data_root=tmp_path, clock=clock)


def hold(s, symbol, qty, price, strategy=None):
    """A position in ``symbol`` as a journaled fill (what a filled order leaves)."""
    n = s.journal.last_seq() + 1
    fill = Fill(
        exec_id=f"open-{n}", order_id="external", symbol=symbol, side=BUY if qty > 0 else Side.SELL,
        qty=Decimal(abs(qty)), price=Decimal(price), ts=s.clock.time(), strategy=strategy,
    )
    assert s.journal.record_fill(fill, None)
    s.portfolio.apply_fill(fill)


def settle_price(s, symbol, t=CLOSE):
    """The paper market's price of ``symbol`` at ``t``, on the cent: what it settles at."""
    return Decimal(repr(float(s.broker.market.mids(symbol, [t])[0]))).quantize(Decimal("0.01"))


def option(und, strike, right):
    return f"{und}-{EXPIRY.isoformat()}-{strike}-{right}"


def alerts(s, title=None):
    return [a for a in s.alerts.recent if title is None or a.title == title]


async def test_itm_long_call_is_exercised_into_shares_at_the_strike(tmp_path):
    clock = SimClock(DAY_BEFORE)
    s = build(tmp_path, clock)
    spot = settle_price(s, "AAPL")
    strike = int(spot) - 10
    call = option("AAPL", strike, "C")
    hold(s, call, 2, "11.50")
    cash = s.portfolio.cash["USD"]
    assert cash == Decimal(100_000) - Decimal("2300")
    seen = []
    s.bus.subscribe(OrderFilled, seen.append)

    clock.set(CLOSE - 1)
    assert s.settle() == []  # not before 16:00
    clock.set(CLOSE + 30)
    done = s.settle()

    assert [d.kind for d in done] == ["exercise"]
    assert s.portfolio.qty(call) == 0
    assert s.portfolio.qty("AAPL") == 200
    assert s.portfolio.position("AAPL").avg_price == strike
    assert s.portfolio.cash["USD"] == cash - Decimal(strike) * 200  # exactly the strike times 100 times 2
    assert s.portfolio.position(call).realized_pnl == Decimal("-2300")  # the premium is spent
    assert {(e.fill.symbol, e.fill.side.value, e.fill.qty) for e in seen} == {(call, "sell", 2), ("AAPL", "buy", 200)}
    assert all(e.order.source == "expiry" for e in seen)
    assert {o.symbol for o in s.oms.orders.values() if o.source == "expiry"} == {call, "AAPL"}  # the Orders pane's rows
    [alert] = alerts(s, "Exercised")
    assert alert.message == f"{call} exercised: bought 200 AAPL at {strike}.00 (AAPL settled at {spot:,})"
    assert alert.priority == "high"
    # the same expiry is never applied twice
    assert s.settle() == []
    assert s.portfolio.qty("AAPL") == 200


async def test_short_itm_put_is_assigned(tmp_path):
    clock = SimClock(DAY_BEFORE)
    s = build(tmp_path, clock)
    spot = settle_price(s, "MSFT")
    strike = int(spot) + 10
    put = option("MSFT", strike, "P")
    hold(s, put, -1, "12.00")
    cash = s.portfolio.cash["USD"]
    clock.set(CLOSE + 5)
    [done] = s.settle()
    assert done.kind == "assignment"
    assert s.portfolio.qty(put) == 0
    assert s.portfolio.qty("MSFT") == 100  # a written put is assigned: the shares are bought at the strike
    assert s.portfolio.cash["USD"] == cash - Decimal(strike) * 100
    assert s.portfolio.position(put).realized_pnl == Decimal("1200")  # the premium is kept
    [alert] = alerts(s, "Assigned")
    assert alert.message.startswith(f"{put} assigned: bought 100 MSFT at {strike}.00")


async def test_otm_option_expires_worthless(tmp_path):
    clock = SimClock(DAY_BEFORE)
    s = build(tmp_path, clock)
    spot = settle_price(s, "AAPL")
    call = option("AAPL", int(spot) + 20, "C")
    hold(s, call, 1, "1.50")
    cash = s.portfolio.cash["USD"]
    clock.set(CLOSE + 5)
    [done] = s.settle()
    assert done.kind == "worthless"
    assert s.portfolio.qty(call) == 0 and s.portfolio.qty("AAPL") == 0
    assert s.portfolio.cash["USD"] == cash
    assert s.portfolio.position(call).realized_pnl == Decimal("-150")
    [alert] = alerts(s, "Expired")
    assert alert.message == f"{call} expired worthless (AAPL settled at {spot:,})"


async def test_index_call_cash_settles_at_intrinsic_value(tmp_path):
    clock = SimClock(DAY_BEFORE)
    s = build(tmp_path, clock)
    spot = settle_price(s, "SPX")
    strike = int(spot) - 25
    call = option("SPX", strike, "C")
    hold(s, call, 1, "30.00")
    cash = s.portfolio.cash["USD"]
    clock.set(CLOSE + 5)
    [done] = s.settle()
    intrinsic = spot - strike
    assert done.kind == "cash"
    assert s.portfolio.qty(call) == 0
    assert s.portfolio.qty("SPX") == 0  # no index units change hands
    assert s.portfolio.cash["USD"] == cash + intrinsic * 100
    assert s.portfolio.position(call).realized_pnl == (intrinsic - 30) * 100
    [alert] = alerts(s, "Cash-settled")
    assert alert.message.startswith(f"{call} cash-settled at {intrinsic:.2f} (SPX settled at {spot:,})")


async def test_each_strategy_book_is_settled_with_its_own_shares(tmp_path):
    clock = SimClock(DAY_BEFORE)
    s = build(tmp_path, clock)
    strike = int(settle_price(s, "AAPL")) - 5
    call = option("AAPL", strike, "C")
    hold(s, call, 1, "6.00", strategy="wheel")
    hold(s, call, 2, "6.00")
    clock.set(CLOSE + 5)
    s.settle()
    assert s.portfolio.qty("AAPL") == 300
    assert s.portfolio.position("AAPL", strategy="wheel").qty == 100
    assert s.portfolio.position(call, strategy="wheel").qty == 0


async def test_engine_down_at_expiry_settles_once_at_the_next_start(tmp_path):
    clock = SimClock(DAY_BEFORE)
    s = build(tmp_path, clock)
    strike = int(settle_price(s, "AAPL")) - 10
    call = option("AAPL", strike, "C")
    hold(s, call, 1, "11.00")
    cash = s.portfolio.cash["USD"]
    s.journal.close()  # the engine stops before the close and nothing runs at 16:00

    clock.set(CLOSE + 3 * 86_400)  # Monday
    s2 = build(tmp_path, clock)
    assert s2.portfolio.qty(call) == 1  # the journal alone does not settle: the owner does
    await s2.start(feed=False)
    assert s2.portfolio.qty(call) == 0 and s2.portfolio.qty("AAPL") == 100
    assert s2.portfolio.cash["USD"] == cash - Decimal(strike) * 100
    assert len(alerts(s2, "Exercised")) == 1
    assert len(s2.journal.settlements()) == 1
    await s2.stop()

    clock.advance(60)
    s3 = build(tmp_path, clock)
    notices = []
    s3.bus.subscribe(AlertNotice, notices.append)
    await s3.start(feed=False)
    assert s3.portfolio.qty("AAPL") == 100 and s3.portfolio.cash["USD"] == cash - Decimal(strike) * 100
    assert len(s3.journal.settlements()) == 1 and len(s3.journal.fills()) == 3  # the opening fill and two from expiry
    assert notices == []  # told once, not at every start
    await s3.stop()


async def test_a_settlement_journaled_but_never_shown_is_announced_once_at_the_next_start(tmp_path):
    clock = SimClock(DAY_BEFORE)
    s = build(tmp_path, clock)
    call = option("AAPL", int(settle_price(s, "AAPL")) + 30, "C")
    hold(s, call, 1, "0.50")
    clock.set(CLOSE + 5)
    s.settlement.announce = None  # the engine dies after the journal write, before the alert
    assert len(s.settle()) == 1 and alerts(s, "Expired") == []
    s.journal.close()

    s2 = build(tmp_path, clock)
    await s2.start(feed=False)
    assert [a.message for a in alerts(s2, "Expired")] == [f"{call} expired worthless (AAPL settled at {settle_price(s2, 'AAPL'):,})"]
    await s2.stop()
    s3 = build(tmp_path, clock)
    await s3.start(feed=False)
    assert len(alerts(s3, "Expired")) == 1  # the journaled alert, not a second one
    await s3.stop()


async def test_the_day_before_expiry_warns_of_an_itm_short_call(tmp_path):
    clock = SimClock(DAY_BEFORE - 86_400)  # two days before: nothing yet
    s = build(tmp_path, clock)
    spot = settle_price(s, "AAPL", DAY_BEFORE)
    short_call = option("AAPL", int(spot) - 5, "C")
    far_call = option("AAPL", int(spot) + 40, "C")
    hold(s, short_call, -1, "7.00")
    hold(s, far_call, 1, "0.20")
    assert s.settlement.warn(force=True) == 0
    clock.set(DAY_BEFORE)
    assert s.settlement.warn(force=True) == 1
    [alert] = alerts(s, "Expiry next trading day")
    assert alert.message.startswith(f"{short_call} expires 2026-12-18: short 1, AAPL at ")
    assert "in the money: assignment likely (100 shares)" in alert.message
    assert alert.priority == "high"
    clock.advance(3600)
    assert s.settlement.warn(force=True) == 0  # once per contract
    s.journal.close()
    s2 = build(tmp_path, clock)  # nor again after a restart
    assert s2.settlement.warn(force=True) == 0


def test_journal_never_records_one_settlement_twice(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    fill = Fill(exec_id="expiry:X:1:close", order_id="1", symbol="X", side=BUY, qty=Decimal(1), price=Decimal(0))
    assert j.record_settlement("expiry:X:1", 1.0, {"type": "worthless"}, [(fill, None)])
    assert not j.record_settlement("expiry:X:1", 2.0, {"type": "worthless"}, [(fill, None)])
    assert len(j.fills()) == 1 and len(j.settlements()) == 1 and j.has_settlement("expiry:X:1")
    j.close()


@settings(max_examples=200, deadline=None)
@given(
    spot=st.decimals("1", "999", places=2),
    strike=st.integers(1, 999),
    qty=st.integers(-5, 5).filter(bool),
    put=st.booleans(),
)
def test_settlement_moves_no_value_at_the_settlement_price(spot, strike, qty, put):
    """Exercise, assignment and cash settlement trade the option's intrinsic value for its
    equal in shares or cash: equity marked at the settlement price is unchanged (an option
    less than the $0.01 threshold in the money expires, losing less than a dollar a contract)."""
    symbol = f"AAPL-2026-12-18-{strike}-{'P' if put else 'C'}"
    pf = Portfolio(instrument=parse_symbol)
    pf.apply_fill(Fill(exec_id="o", order_id="1", symbol=symbol, side=BUY if qty > 0 else Side.SELL, qty=Decimal(abs(qty)), price=Decimal(3)))
    intrinsic = max(Decimal(0), (Decimal(strike) - spot) if put else (spot - Decimal(strike)))
    pf.mark(symbol, float(intrinsic))
    pf.mark("AAPL", float(spot))
    before = pf.equity()
    clock = SimClock(CLOSE + 1)
    journal = Journal(":memory:")
    settlement = Settlement(
        portfolio=pf, journal=journal, bus=Bus(), clock=clock, prices=lambda sym, t: spot, instrument=parse_symbol,
        client_prefix="t",
    )
    [done] = settlement.run()
    assert pf.qty(symbol) == 0
    assert abs(pf.equity() - before) < Decimal(1) * abs(qty)
    if intrinsic >= Decimal("0.01"):
        assert pf.equity() == before
        assert pf.qty("AAPL") == qty * 100 * (-1 if put else 1)
    journal.close()


async def test_a_read_only_view_never_settles(tmp_path):
    clock = SimClock(DAY_BEFORE)
    s = build(tmp_path, clock)
    call = option("AAPL", int(settle_price(s, "AAPL")) - 10, "C")
    hold(s, call, 1, "11.00")
    s.journal.close()
    clock.set(CLOSE + 60)
    view = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, readonly=True)
    await view.start(feed=False)
    assert view.settlement is None and view.settle() == []
    assert view.portfolio.qty(call) == 1  # shown as the journal has it, until the owner settles it
    await view.stop()
    owner = build(tmp_path, clock)
    await owner.start(feed=False)
    assert owner.portfolio.qty(call) == 0 and len(owner.journal.settlements()) == 1
    await owner.stop()
