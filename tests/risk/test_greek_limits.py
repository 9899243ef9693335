"""The Greek limits: an order that would push the book's net delta (gamma, vega) past its limit
is refused with one line naming the limit and journaled; one that brings the figure closer to
zero passes, even over the limit; a combo's legs are summed; the Risk pane shows the usage."""

import math
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.scripted import ScriptedBroker
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.limits import LimitStore, RiskLimits
from workstation.core.model import Leg, Order, OrderRequest, OrderStatus, OrderType, Quote, Side, TimeInForce
from workstation.core.symbols import parse_symbol
from workstation.risk.greek_limits import GreekLimits, order_legs
from workstation.trading.greeks import GreekBook
from workstation.trading.session import Session

NOW = datetime(2026, 11, 18, 21, 0, tzinfo=timezone.utc).timestamp()
CALL, CALL2 = "AAPL-2026-12-18-200-C", "AAPL-2026-12-18-210-C"


def bs_call(spot, strike, vol, t=30 / 365, r=0.04):
    d1 = (math.log(spot / strike) + (r + vol * vol / 2) * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    return spot * cdf(d1) - strike * math.exp(-r * t) * cdf(d2), cdf(d1)


@pytest.fixture
def env(tmp_path):
    broker = ScriptedBroker()
    s = Session.build(Settings(), "paper", data_root=tmp_path, clock=SimClock(NOW), broker=broker)
    broker.set_quote("AAPL", 199.99, 200.01, 200.0)
    for sym, k in ((CALL, 200.0), (CALL2, 210.0)):
        price, _ = bs_call(200.0, k, 0.30)
        broker.set_quote(sym, round(price - 0.05, 2), round(price + 0.05, 2), round(price, 2))
    return s, broker


def order(symbol, side, qty, **kw):
    return OrderRequest(symbol=symbol, side=side, qty=Decimal(qty), **kw)


async def test_net_delta_limit_refuses_a_breach_and_journals_it(env):
    s, broker = env
    s.set_limit("max_net_delta", "50000")
    # 3 calls at delta ~0.53: ~160 shares of AAPL, ~$32,000 of dollar delta: inside
    ok = await s.oms.submit(order(CALL, Side.BUY, 3))
    assert ok.status is OrderStatus.ACCEPTED
    broker.fill(ok, 3, "8.00")
    # 2 more would make ~$53,000: refused, one line naming the limit
    refused = await s.oms.submit(order(CALL, Side.BUY, 2))
    assert refused.status is OrderStatus.REJECTED
    assert refused.reason.startswith("net delta would be $5") and "beyond max_net_delta $50,000.00" in refused.reason
    assert "\n" not in refused.reason
    assert any(ref == refused.id for _seq, _ts, _k, ref, _d in s.journal.events("order.rejected"))
    # buying stock adds delta too: refused
    assert (await s.oms.submit(order("AAPL", Side.BUY, 100))).status is OrderStatus.REJECTED


async def test_an_order_that_reduces_net_delta_passes_even_over_the_limit(env):
    s, broker = env
    first = await s.oms.submit(order(CALL, Side.BUY, 5))
    broker.fill(first, 5, "8.00")  # ~$53,000 of dollar delta, then the limit is set below it
    s.set_limit("max_net_delta", "20000")
    hedge = await s.oms.submit(order("AAPL", Side.SELL, 100))  # short stock: delta down to ~$33,000
    assert hedge.status is OrderStatus.ACCEPTED
    broker.fill(hedge, 100, "200.00")
    # too big a hedge flips the sign past the limit the other way: refused
    flip = await s.oms.submit(order("AAPL", Side.SELL, 400))
    assert flip.status is OrderStatus.REJECTED and "net delta would be -$" in flip.reason


async def test_per_underlying_vega_limit_and_a_combo_sums_its_legs(env):
    s, _broker = env
    s.set_limit("max_underlying_vega", "300")
    # a long call alone: ~$23 of vega per contract; 20 contracts ~$458 > $300
    refused = await s.oms.submit(order(CALL, Side.BUY, 20))
    assert refused.status is OrderStatus.REJECTED
    assert refused.reason.startswith("AAPL net vega would be $") and "max_underlying_vega $300.00" in refused.reason
    # the 200/210 call vertical: the short leg's vega offsets most of the long one's
    legs = (Leg(symbol=CALL, side=Side.BUY), Leg(symbol=CALL2, side=Side.SELL))
    assert order_legs(s.oms.orders[refused.id]) == [(CALL, Decimal(20))]
    check = GreekLimits(s.greeks, s.limits)  # the check the session registered, on the same book
    spread = Order(id="x", client_id="x", symbol=CALL, side=Side.BUY, qty=Decimal(20), type=OrderType.MARKET, tif=TimeInForce.DAY, legs=legs)
    assert order_legs(spread) == [(CALL, Decimal(20)), (CALL2, Decimal(-20))]
    assert check.refusal(spread, s.limits.limits) is None  # ~$150 of vega: inside $300
    sold = Order(id="y", client_id="y", symbol=CALL, side=Side.SELL, qty=Decimal(20), type=OrderType.MARKET, tif=TimeInForce.DAY, legs=legs)
    assert order_legs(sold) == [(CALL, Decimal(-20)), (CALL2, Decimal(20))]
    assert check.refusal(sold, s.limits.limits) is None  # short vega, inside the limit the other way
    ratio = Order(id="z", client_id="z", symbol=CALL, side=Side.BUY, qty=Decimal(20), type=OrderType.MARKET, tif=TimeInForce.DAY,
                  legs=(Leg(symbol=CALL, side=Side.BUY, ratio=2), Leg(symbol=CALL2, side=Side.SELL)))
    assert order_legs(ratio) == [(CALL, Decimal(40)), (CALL2, Decimal(-20))]
    found = check.refusal(ratio, s.limits.limits)
    assert found is not None and found[0] == "max_underlying_vega"


async def test_no_price_no_greeks_refused_only_while_a_limit_is_set(env):
    s, _broker = env
    odd = "ZZZZ-2026-12-18-50-C"  # quoted, but its underlying is not: no Greeks
    _broker.set_quote(odd, 1.95, 2.05, 2.0)
    assert (await s.oms.submit(order(odd, Side.BUY, 1))).status is OrderStatus.ACCEPTED
    s.set_limit("max_net_gamma", "1000")
    refused = await s.oms.submit(order(odd, Side.BUY, 1))
    assert refused.status is OrderStatus.REJECTED
    assert refused.reason == (
        "cannot work out the gamma of ZZZZ-2026-12-18-50-C (no price for it or its underlying), and max_net_gamma is set"
    )


async def test_risk_rows_show_each_set_greek_limit(env):
    s, broker = env
    names = lambda: [r.name for r in s.risk.status()]  # noqa: E731
    assert not [n for n in names() if "delta" in n or "vega" in n]
    o = await s.oms.submit(order(CALL, Side.BUY, 2))
    broker.fill(o, 2, "8.00")
    s.set_limit("max_net_delta", "25000")
    s.set_limit("max_underlying_vega", "100")
    rows = {r.name: r for r in s.risk.status()}
    delta = rows["net delta"]
    _, d = bs_call(200.0, 200.0, 0.30)
    assert float(delta.used) == pytest.approx(200 * d * 200.0, rel=1e-3) and delta.limit == 25000
    assert delta.state == "near"  # ~$21,300 of $25,000 (near at 80%)
    vega = rows["underlying vega"]
    assert vega.detail == "AAPL" and vega.state == "ok"


@settings(max_examples=200, deadline=None)
@given(
    held=st.integers(min_value=-500, max_value=500),
    qty=st.integers(min_value=1, max_value=500),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    limit=st.integers(min_value=0, max_value=60_000),
)
def test_refused_exactly_when_the_figure_ends_over_the_limit_and_further_from_zero(held, qty, side, limit):
    quotes = {"AAPL": Quote("AAPL", NOW, 99.99, 100.01, 100.0)}
    book = GreekBook(
        instrument=parse_symbol, quote=quotes.get, now=lambda: NOW,
        positions=lambda: [("AAPL", Decimal(held))] if held else [],
    )
    store = LimitStore(RiskLimits(max_net_delta=Decimal(limit), max_underlying_delta=Decimal(limit)))
    o = Order(id="1", client_id="c1", symbol="AAPL", side=side, qty=Decimal(qty), type=OrderType.MARKET, tif=TimeInForce.DAY)
    found = GreekLimits(book, store).refusal(o, store.limits)
    before = held * 100.0
    after = before + (qty if side is Side.BUY else -qty) * 100.0
    assert (found is not None) == (abs(after) > limit and abs(after) > abs(before))
    if found is not None:
        assert found[0] == "max_net_delta" and "\n" not in found[1]


async def test_a_combo_whose_legs_nothing_subscribes_is_judged_from_the_broker_quotes(env):
    s, broker = env
    s.set_limit("max_net_delta", "50000")
    far, far2 = "AAPL-2026-12-18-220-C", "AAPL-2026-12-18-230-C"
    for sym, k in ((far, 220.0), (far2, 230.0)):  # quoted by the broker, never published to the quote cache
        price, _ = bs_call(200.0, k, 0.30)
        broker.quotes[sym] = Quote(sym, NOW, round(price - 0.05, 2), round(price + 0.05, 2), round(price, 2))
    assert s.quotes.get(far) is None
    spread = Order(id="x", client_id="x", symbol=far, side=Side.BUY, qty=Decimal(10), type=OrderType.MARKET, tif=TimeInForce.DAY,
                   legs=(Leg(symbol=far, side=Side.BUY), Leg(symbol=far2, side=Side.SELL)))
    assert GreekLimits(s.greeks, s.limits).refusal(spread, s.limits.limits) is None
