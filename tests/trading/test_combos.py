"""Combo orders (spreads) through the order manager: one order, journaled with its legs, filled
atomically on paper, rebuilt exactly after a restart, risk-checked on its worst case, refused
where the venue takes no combos, closed as one reverse order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings as hyp_settings, strategies as st

from brokers.base import BrokerFill
from brokers.paper.broker import SimBroker, SimConfig, SimMarket
from tests.fakes.binance_session import fake, keys, open_session  # noqa: F401 (fixtures)
from tests.fakes.scripted import ScriptedBroker
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import BUY, SELL, Leg, OrderRequest, OrderStatus, OrderType, Quote, Side, TimeInForce
from workstation.core.symbols import parse_symbol
from workstation.trading.oms import OrderError
from workstation.trading.session import Session

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 12, 1, 11, 0, tzinfo=NY).timestamp()  # a Tuesday, market open
C230, C240, C250 = "AAPL-2026-12-18-230-C", "AAPL-2026-12-18-240-C", "AAPL-2026-12-18-250-C"
BULL_CALL = (Leg(symbol=C230, side=BUY), Leg(symbol=C240, side=SELL))


class Script(SimMarket):
    """A market whose quotes the test sets."""

    def __init__(self) -> None:
        super().__init__(0)
        self.book: dict[str, tuple[float, float]] = {}

    def set(self, symbol: str, bid: float, ask: float) -> None:
        self.book[parse_symbol(symbol).symbol] = (bid, ask)

    def quote(self, symbol: str, t: float) -> Quote:
        sym = parse_symbol(symbol).symbol
        bid, ask = self.book.get(sym, (100.0, 100.02))
        return Quote(sym, t, bid, ask, bid, 1000, 1000, 0.0, bid)

    def quotes(self, symbols: Sequence[str], t: float) -> list[Quote]:
        return [self.quote(s, t) for s in symbols]


def settings(cash: str = "100000", account: str = "margin", **risk: object) -> Settings:
    raw = {
        "profiles": {"paper": {"initial_cash": cash, "account_type": account, "risk": {"max_daily_loss_pct": None, **risk}}},
        "alerts": {"bell": False},
    }
    return msgspec.convert(raw, Settings, strict=False)


def paper(tmp_path, market: Script, clock: SimClock, config: SimConfig | None = None, **kw) -> Session:
    broker = SimBroker(clock, config or SimConfig(), market)
    return Session.build(settings(**kw), "paper", data_root=tmp_path, clock=clock, broker=broker)


def combo(side: Side, qty: int, legs=BULL_CALL, limit: str | None = None, tif: TimeInForce = TimeInForce.DAY) -> OrderRequest:
    return OrderRequest(
        symbol="", side=side, qty=D(qty), legs=legs, tif=tif,
        type=OrderType.MARKET if limit is None else OrderType.LIMIT, limit_price=None if limit is None else D(limit),
    )


@pytest.fixture
def market() -> Script:
    m = Script()
    m.set(C230, 4.00, 4.20)
    m.set(C240, 1.50, 1.60)
    m.set(C250, 0.40, 0.45)
    return m


async def test_a_vertical_is_one_order_journaled_with_its_legs_and_filled_per_leg(tmp_path, market):
    clock = SimClock(T0)
    s = paper(tmp_path, market, clock)
    o = await s.oms.submit(combo(BUY, 2))
    assert o.status is OrderStatus.FILLED
    assert o.symbol == "AAPL 2026-12-18 +230C -240C"
    assert (o.filled_qty, o.avg_fill_price) == (2, D("2.70"))  # 4.20 paid at the ask, 1.50 taken at the bid
    stored = s.journal.orders()
    assert [x.id for x in stored] == [o.id] and stored[0].legs == BULL_CALL
    fills = s.journal.fills()
    assert [(f.order_id, f.symbol, f.side, f.qty, f.price) for f in fills] == [
        (o.id, C230, BUY, 2, D("4.20")), (o.id, C240, SELL, 2, D("1.50")),
    ]
    assert s.portfolio.qty(C230) == 2 and s.portfolio.qty(C240) == -2
    assert s.portfolio.cash["USD"] == D(100_000) - D("2.70") * 100 * 2


async def test_a_limit_below_the_net_touch_works_with_no_leg_filled_then_fills_both_at_once(tmp_path, market):
    clock = SimClock(T0)
    s = paper(tmp_path, market, clock)
    o = await s.oms.submit(combo(BUY, 1, limit="2.55"))  # the net touch is 2.70
    assert o.status is OrderStatus.ACCEPTED
    market.set(C230, 4.05, 4.15)  # 4.15 - 1.50 = 2.65: still above the limit
    clock.advance(1)
    s.broker.step()
    assert s.journal.fills() == [] and s.portfolio.qty(C230) == 0 and s.portfolio.qty(C240) == 0
    market.set(C240, 1.60, 1.70)  # 4.15 - 1.60 = 2.55: at the limit
    clock.advance(1)
    s.broker.step()
    done = s.oms.orders[o.id]
    assert done.status is OrderStatus.FILLED and done.avg_fill_price == D("2.55")
    assert [(f.symbol, f.price) for f in s.journal.fills()] == [(C230, D("4.15")), (C240, D("1.60"))]


async def test_a_sell_combo_reverses_every_leg_and_takes_its_credit(tmp_path, market):
    clock = SimClock(T0)
    s = paper(tmp_path, market, clock)
    o = await s.oms.submit(combo(SELL, 1, limit="2.40"))  # a bear call spread: sell 230, buy 240 for 4.00 - 1.60
    done = s.oms.orders[o.id]
    assert done.status is OrderStatus.FILLED and done.avg_fill_price == D("2.40")
    assert s.portfolio.qty(C230) == -1 and s.portfolio.qty(C240) == 1
    assert s.portfolio.cash["USD"] == D(100_000) + D(240)


async def test_replay_after_a_restart_rebuilds_the_combo_and_the_positions_exactly(tmp_path, market):
    clock = SimClock(T0)
    s = paper(tmp_path, market, clock)
    filled = await s.oms.submit(combo(BUY, 3))
    working = await s.oms.submit(combo(SELL, 1, legs=(Leg(symbol=C240, side=BUY), Leg(symbol=C250, side=SELL)), limit="1.30", tif=TimeInForce.GTC))
    assert s.oms.orders[working.id].status is OrderStatus.ACCEPTED
    before_orders = {o.id: o for o in s.journal.orders()}
    before = (s.portfolio.positions(), dict(s.portfolio.cash))
    s.journal.close()

    clock2 = SimClock(T0 + 60)
    again = paper(tmp_path, market, clock2)
    assert {o.id: o for o in again.journal.orders()} == before_orders
    assert again.oms.orders[filled.id].legs == BULL_CALL
    assert (again.portfolio.positions(), dict(again.portfolio.cash)) == before
    await again.start([], feed=False)
    try:
        # the working combo sells 240 at its bid and buys 250 at its ask: 1.45 - 0.15 = 1.30, its limit
        market.set(C240, 1.45, 1.50)
        market.set(C250, 0.10, 0.15)
        clock2.advance(1)
        again.broker.step()
        done = again.oms.orders[working.id]
        assert done.status is OrderStatus.FILLED and done.filled_qty == 1 and done.avg_fill_price == D("1.30")
        assert again.portfolio.qty(C230) == 3 and again.portfolio.qty(C240) == -4 and again.portfolio.qty(C250) == 1
    finally:
        await again.stop()


async def test_a_credit_spreads_max_loss_is_held_against_buying_power(tmp_path, market):
    clock = SimClock(T0)
    s = paper(tmp_path, market, clock, cash="1000", account="cash")
    # sell the 230/250 call spread for 4.00 - 0.45 = 3.55: it can lose 20 - 3.55 = 16.45 a unit, $1,645
    wide = (Leg(symbol=C230, side=BUY), Leg(symbol=C250, side=SELL))
    refused = await s.oms.submit(combo(SELL, 1, legs=wide, limit="3.55"))
    assert refused.status is OrderStatus.REJECTED
    assert refused.reason == "insufficient buying power: combo needs $1,645.00 (its worst case), $1,000.00 available"
    assert s.journal.fills() == []
    # the 230/240 spread for 4.00 - 1.60 = 2.40 can lose 10 - 2.40 = 7.60: $760 fits in $1,000
    ok = await s.oms.submit(combo(SELL, 1, limit="2.40"))
    assert s.oms.orders[ok.id].status is OrderStatus.FILLED


async def test_a_debit_spread_is_charged_its_debit_not_its_legs_notional(tmp_path, market):
    clock = SimClock(T0)
    s = paper(tmp_path, market, clock, cash="300", account="cash")
    review = await s.oms.review(combo(BUY, 1, limit="2.70"))
    assert (review.ok, review.notional, review.price) == (True, D("270.00"), D("2.70"))
    review = await s.oms.review(combo(BUY, 2, limit="2.70"))
    assert not review.ok and review.rule == "buying_power"


async def test_leg_quantity_is_held_to_max_order_qty(tmp_path, market):
    s = paper(tmp_path, market, SimClock(T0), max_order_qty=5)
    o = await s.oms.submit(combo(BUY, 3, legs=(Leg(symbol=C230, side=BUY), Leg(symbol=C240, side=SELL, ratio=2))))
    assert o.status is OrderStatus.REJECTED
    assert o.reason == f"leg {C240}: quantity 6 exceeds max_order_qty 5"


@pytest.mark.parametrize(
    "legs, why",
    [
        ((Leg(symbol=C230, side=BUY),), "a combo has 2 to 4 legs, got 1"),
        ((Leg(symbol=C230, side=BUY), Leg(symbol=C230, side=SELL)), f"leg {C230} appears twice"),
        ((Leg(symbol=C230, side=BUY), Leg(symbol="AAPL", side=SELL)), "leg AAPL is equity: a combo's legs are options or futures"),
        ((Leg(symbol=C230, side=BUY), Leg(symbol="MSFT-2026-12-18-400-C", side=SELL)), "differ in underlying"),
        ((Leg(symbol=C230, side=BUY), Leg(symbol=C240, side=SELL, ratio=0)), "the ratio must be a whole number"),
    ],
)
async def test_malformed_combos_are_refused_with_one_line_and_nothing_written(tmp_path, market, legs, why):
    s = paper(tmp_path, market, SimClock(T0))
    with pytest.raises(OrderError, match=why):
        await s.oms.submit(combo(BUY, 1, legs=legs))
    assert s.journal.orders() == []


async def test_a_broker_without_combos_refuses_them_in_one_line(tmp_path):
    broker = ScriptedBroker()
    s = Session.build(settings(), "paper", data_root=tmp_path, clock=SimClock(T0), broker=broker)
    with pytest.raises(OrderError) as caught:
        await s.oms.submit(combo(BUY, 1, limit="2.70"))
    assert str(caught.value) == "scripted takes no combo orders: send the legs one at a time"
    assert broker.sent == [] and s.journal.orders() == []


async def test_close_combo_sends_the_reverse_as_one_order(tmp_path, market):
    from workstation.api import LocalEngine

    clock = SimClock(T0)
    s = paper(tmp_path, market, clock)
    engine = LocalEngine(s)
    opened = await s.oms.submit(combo(BUY, 2))
    closed = await engine.close_combo(opened.id)
    assert closed.legs == opened.legs and closed.side is SELL and closed.qty == 2 and closed.type is OrderType.MARKET
    assert s.oms.orders[closed.id].status is OrderStatus.FILLED
    assert s.portfolio.qty(C230) == 0 and s.portfolio.qty(C240) == 0
    assert [f.order_id for f in s.journal.fills()] == [opened.id, opened.id, closed.id, closed.id]
    from workstation.api import IntentError

    with pytest.raises(IntentError, match=f"combo order {opened.id}: its legs are no longer held"):
        await engine.close_combo(opened.id)


# --------------------------------------------------------------------------- accounting property

LEG_SYMBOLS = (C230, C240, C250)


@hyp_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fills=st.lists(
        st.tuples(
            st.sampled_from(range(3)), st.sampled_from([BUY, SELL]), st.integers(1, 20),
            st.decimals(D("0.01"), D("50"), places=2), st.decimals(D("0"), D("5"), places=2),
        ),
        min_size=1, max_size=12,
    )
)
async def test_leg_fills_move_cash_by_exactly_their_premium_and_commissions(tmp_path_factory, fills):
    broker = ScriptedBroker()
    broker.supports_combos = True
    s = Session.build(settings(max_order_qty=None), "paper", data_root=tmp_path_factory.mktemp("j"), clock=SimClock(T0), broker=broker)
    broker.set_quote(C230, 4.0, 4.2)
    broker.set_quote(C240, 1.5, 1.6)
    broker.set_quote(C250, 0.4, 0.45)
    legs = tuple(Leg(symbol=sym, side=BUY if i % 2 == 0 else SELL) for i, sym in enumerate(LEG_SYMBOLS))
    order = await s.oms.submit(OrderRequest(symbol="", side=BUY, qty=D(1), legs=legs))
    assert order.status is OrderStatus.ACCEPTED, order.reason
    start = s.portfolio.cash["USD"]
    expected = D(0)
    for n, (leg, side, qty, price, fee) in enumerate(fills):
        broker.report(BrokerFill(
            client_id=order.client_id, exec_id=f"e{n}", qty=D(qty), price=price, commission=fee,
            symbol=LEG_SYMBOLS[leg], side=side.value,
        ))
        expected += -side.sign * qty * price * 100 - fee
    assert s.portfolio.cash["USD"] - start == expected
    assert all(f.order_id == order.id for f in s.journal.fills())
    s.journal.close()


async def test_a_working_futures_calendar_holds_the_margin_of_the_legs_it_opens(tmp_path, market):
    front, back = "ES-2026-12", "ES-2027-03"
    calendar = (Leg(symbol=front, side=BUY), Leg(symbol=back, side=SELL))
    s = paper(tmp_path, market, SimClock(T0))
    assert s.risk.margin_in_use() == 0
    o = await s.oms.submit(combo(BUY, 1, legs=calendar, limit="-5.00", tif=TimeInForce.GTC))  # the net touch is +0.02
    assert s.oms.orders[o.id].status is OrderStatus.ACCEPTED, o.reason
    assert o.symbol == "ES +2026-12 -2027-03"
    assert s.risk.margin_in_use() == D(30_000)  # two ES legs opening, $15,000 each
    await s.oms.cancel(o.id)
    assert s.risk.margin_in_use() == 0


async def test_a_ccxt_exchange_refuses_a_combo_in_one_line_before_anything_is_sent(fake, keys, tmp_path):
    s = await open_session(fake, tmp_path)
    try:
        legs = (Leg(symbol="BTC/USD", side=BUY), Leg(symbol="ETH/USD", side=SELL))
        with pytest.raises(OrderError) as caught:
            await s.oms.submit(OrderRequest(symbol="", side=BUY, qty=D(1), legs=legs))
        assert str(caught.value) == f"{s.broker.name} takes no combo orders: send the legs one at a time"  # binance-fake
        assert s.journal.orders() == []
        assert not [p for m, p, _ in fake.requests if m == "POST"]
    finally:
        await s.stop()


async def test_with_trading_halted_a_closing_combo_passes_and_an_opening_one_is_refused(tmp_path, market):
    s = paper(tmp_path, market, SimClock(T0))
    opened = await s.oms.submit(combo(BUY, 2))
    s.set_limit("trading_halted", "true")
    more = await s.oms.submit(combo(BUY, 1))
    assert more.status is OrderStatus.REJECTED
    assert more.reason == "trading is halted: only orders that reduce a position are accepted"
    closing = await s.oms.submit(combo(SELL, 2))  # every leg shrinks: it closes
    assert s.oms.orders[closing.id].status is OrderStatus.FILLED
    assert s.portfolio.qty(C230) == 0 and s.portfolio.qty(C240) == 0
    assert opened.legs == closing.legs


def _legs(*spec):
    """(symbol, signed quantity held) pairs for max_loss."""
    return [(parse_symbol(sym), D(q)) for sym, q in spec]


@pytest.mark.parametrize(
    "legs, paid, loss",
    [
        # a bull call spread bought for a 3.10 debit: the debit
        (_legs(("AAPL-2026-12-18-200-C", 1), ("AAPL-2026-12-18-210-C", -1)), D(310), D(310)),
        # a bear call spread sold for 2.40: width 10 x 100 less the credit
        (_legs(("AAPL-2026-12-18-230-C", -1), ("AAPL-2026-12-18-240-C", 1)), D(-240), D(760)),
        # a short iron condor 590/600/610/620 x 2 for 2.05 each: (10 - 2.05) x 100 x 2
        (_legs(("SPY-2026-12-18-590-P", 2), ("SPY-2026-12-18-600-P", -2), ("SPY-2026-12-18-610-C", -2), ("SPY-2026-12-18-620-C", 2)), D(-410), D(1590)),
        # a long butterfly for 1.10: the debit
        (_legs(("AAPL-2026-12-18-200-C", 1), ("AAPL-2026-12-18-210-C", -2), ("AAPL-2026-12-18-220-C", 1)), D(110), D(110)),
        # a long calendar (sell the front, buy the back) for 3.00: the debit
        (_legs(("AAPL-2026-12-18-230-C", -1), ("AAPL-2027-01-15-230-C", 1)), D(300), D(300)),
        # a short put spread for 1.00 on 600/590 (same as a bull put): 10 - 1
        (_legs(("SPY-2026-12-18-600-P", -1), ("SPY-2026-12-18-590-P", 1)), D(-100), D(900)),
    ],
)
def test_the_worst_case_of_defined_risk_combos_matches_hand_values(legs, paid, loss):
    from workstation.trading.combos import max_loss

    assert max_loss(legs, paid) == loss


@pytest.mark.parametrize(
    "legs",
    [
        _legs(("AAPL-2026-12-18-200-C", 1), ("AAPL-2026-12-18-210-C", -2)),  # more calls sold than bought
        _legs(("AAPL-2026-12-18-230-C", 1), ("AAPL-2027-01-15-230-C", -1)),  # a short leg expiring after the long one
    ],
)
def test_a_combo_without_a_bounded_loss_says_so(legs):
    from workstation.trading.combos import max_loss

    assert max_loss(legs, D(100)) is None


async def test_a_combo_half_booked_when_the_engine_stopped_completes_exactly_after_a_restart(tmp_path):
    def session() -> tuple[Session, ScriptedBroker]:
        broker = ScriptedBroker()
        broker.supports_combos = True
        s = Session.build(settings(), "paper", data_root=tmp_path, clock=SimClock(T0), broker=broker)
        broker.set_quote(C230, 4.0, 4.2)
        broker.set_quote(C240, 1.5, 1.6)
        return s, broker

    s, broker = session()
    order = await s.oms.submit(combo(BUY, 2))
    broker.report(BrokerFill(client_id=order.client_id, exec_id="a", qty=D(2), price=D("4.20"), symbol=C230, side="buy"))
    half = s.oms.orders[order.id]
    assert (half.status, half.filled_qty, half.avg_fill_price) == (OrderStatus.PARTIALLY_FILLED, 0, None)
    s.journal.close()

    again, broker = session()  # the second leg's report arrives after the restart
    assert again.oms.orders[order.id].status is OrderStatus.PARTIALLY_FILLED
    broker.report(BrokerFill(client_id=order.client_id, exec_id="b", qty=D(2), price=D("1.50"), symbol=C240, side="sell"))
    done = again.oms.orders[order.id]
    assert (done.status, done.filled_qty, done.avg_fill_price) == (OrderStatus.FILLED, 2, D("2.70"))
    assert again.portfolio.qty(C230) == 2 and again.portfolio.qty(C240) == -2
    assert again.portfolio.cash["USD"] == D(100_000) - D(270) * 2
