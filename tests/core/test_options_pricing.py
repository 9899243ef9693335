"""Option prices, Greeks and implied volatility against QuantLib (the independent reference),
put-call parity as a property, and "no IV" where a price says nothing about volatility."""

from __future__ import annotations

import itertools
import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.core.options import american_price, bsm_greeks, bsm_price, implied_vol, year_fraction

ql = pytest.importorskip("QuantLib")

TODAY = ql.Date(15, ql.June, 2026)
DAYS = (1, 7, 30, 91, 365, 730)
STRIKES = (60.0, 90.0, 100.0, 110.0, 180.0)
RATES = (0.0, 0.045)
DIVS = (0.0, 0.02)
VOLS = (0.08, 0.3, 0.9)


def _ql_option(spot, strike, days, rate, div, vol, call, american=False):
    ql.Settings.instance().evaluationDate = TODAY
    dc = ql.Actual365Fixed()
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, div, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, rate, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(TODAY, ql.NullCalendar(), vol, dc)),
    )
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if call else ql.Option.Put, strike)
    expiry = TODAY + days
    if american:
        option = ql.VanillaOption(payoff, ql.AmericanExercise(TODAY, expiry))
        option.setPricingEngine(ql.BinomialLRVanillaEngine(process, 2001))
    else:
        option = ql.VanillaOption(payoff, ql.EuropeanExercise(expiry))
        option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return option, process


GRID = list(itertools.product(STRIKES, DAYS, RATES, DIVS, VOLS, (True, False)))


def test_prices_and_greeks_equal_quantlib_on_a_grid() -> None:
    k, d, r, q, v, c = (np.array(col) for col in zip(*GRID, strict=True))
    ours = bsm_greeks(100.0, k, d / 365.0, r, q, v, c)
    worst = {name: 0.0 for name in ("price", "delta", "gamma", "theta", "vega", "rho")}
    for i, (strike, days, rate, div, vol, call) in enumerate(GRID):
        opt, _ = _ql_option(100.0, strike, days, rate, div, vol, call)
        theirs = {
            "price": opt.NPV(), "delta": opt.delta(), "gamma": opt.gamma(),
            "theta": opt.thetaPerDay(), "vega": opt.vega() / 100.0, "rho": opt.rho() / 100.0,
        }
        for name, value in theirs.items():
            worst[name] = max(worst[name], abs(float(getattr(ours, name)[i]) - value))
    assert worst["price"] < 1e-6, worst
    for name in ("delta", "gamma", "theta", "vega", "rho"):
        assert worst[name] < 1e-4, (name, worst)


def test_implied_vol_recovers_the_vol_to_1e8_where_vega_is_meaningful() -> None:
    """Moneyness 0.5-2, one day to two years, prices at least two ticks of time value: the
    vol comes back to 1e-8; QuantLib's own solver on the same prices agrees."""
    rng = np.random.default_rng(19)
    n = 20_000
    spot = 100.0
    strike = spot * np.exp(rng.uniform(math.log(0.5), math.log(2.0), n))
    years = rng.uniform(1 / 365, 2.0, n)
    vol = rng.uniform(0.05, 1.5, n)
    rate, div = rng.uniform(0.0, 0.08, n), rng.uniform(0.0, 0.05, n)
    call = rng.random(n) < 0.5
    price = bsm_price(spot, strike, years, rate, div, vol, call)
    fwd_intrinsic = np.where(
        call, np.maximum(spot * np.exp(-div * years) - strike * np.exp(-rate * years), 0.0),
        np.maximum(strike * np.exp(-rate * years) - spot * np.exp(-div * years), 0.0),
    )
    meaningful = price - fwd_intrinsic >= 0.02
    assert meaningful.sum() > 15_000
    iv = implied_vol(price, spot, strike, years, rate, div, call)
    assert not np.isnan(iv[meaningful]).any()
    assert np.max(np.abs(iv - vol)[meaningful]) < 1e-8
    for i in np.flatnonzero(meaningful)[:40]:
        days = max(1, round(years[i] * 365))
        p = float(bsm_price(spot, strike[i], days / 365, rate[i], div[i], vol[i], call[i]))
        opt, process = _ql_option(spot, float(strike[i]), days, float(rate[i]), float(div[i]), float(vol[i]), bool(call[i]))
        theirs = opt.impliedVolatility(p, process, 1e-12, 1000, 1e-4, 4.0)
        ours = float(implied_vol(p, spot, strike[i], days / 365, rate[i], div[i], call[i]))
        assert abs(ours - theirs) < 1e-8


@pytest.mark.parametrize(
    ("price", "strike", "call", "why"),
    [
        (0.004, 100.0, True, "less than half a tick of time value"),
        (9.9, 90.0, True, "below the intrinsic value"),
        (101.0, 90.0, True, "above the spot: a call is never worth more"),
        (99.5, 100.0, False, "above the strike's present value"),
        (float("nan"), 100.0, True, "no price"),
        (0.0, 100.0, False, "no price"),
    ],
)
def test_no_iv_outside_the_arbitrage_bounds(price: float, strike: float, call: bool, why: str) -> None:
    years = 0.25 if why != "less than half a tick of time value" else 0.001
    spot = 100.0 if why != "less than half a tick of time value" else 80.0
    assert np.isnan(implied_vol(price, spot, strike, years, 0.04, 0.0, call)), why


def test_no_iv_at_expiry() -> None:
    assert np.isnan(implied_vol(5.0, 100.0, 95.0, 0.0, 0.04, 0.0, True))


@settings(max_examples=300, deadline=None)
@given(
    spot=st.floats(1.0, 5_000.0),
    moneyness=st.floats(0.3, 3.0),
    years=st.floats(1e-3, 3.0),
    rate=st.floats(-0.01, 0.1),
    div=st.floats(0.0, 0.08),
    vol=st.floats(0.01, 2.0),
)
def test_put_call_parity_holds_for_prices_and_deltas(spot, moneyness, years, rate, div, vol) -> None:
    strike = spot * moneyness
    c = bsm_greeks(spot, strike, years, rate, div, vol, True)
    p = bsm_greeks(spot, strike, years, rate, div, vol, False)
    forward_value = spot * math.exp(-div * years) - strike * math.exp(-rate * years)
    assert float(c.price - p.price) == pytest.approx(forward_value, abs=1e-9 * max(spot, strike))
    assert float(c.delta - p.delta) == pytest.approx(math.exp(-div * years), abs=1e-12)
    assert float(c.gamma) == pytest.approx(float(p.gamma), rel=1e-9, abs=1e-15)
    assert float(c.vega) == pytest.approx(float(p.vega), rel=1e-9, abs=1e-15)


def test_american_price_is_quantlibs_within_half_a_cent() -> None:
    cases = [(k, d, r, q, v, c) for k in (90.0, 100.0, 120.0) for d in (30, 365) for r in (0.045,)
             for q in (0.0, 0.03) for v in (0.2, 0.5) for c in (True, False)]
    k, d, r, q, v, c = (np.array(col) for col in zip(*cases, strict=True))
    ours = american_price(100.0, k, d / 365.0, r, q, v, c)
    european = bsm_price(100.0, k, d / 365.0, r, q, v, c)
    for i, case in enumerate(cases):
        opt, _ = _ql_option(100.0, *case, american=True)
        assert abs(float(ours[i]) - opt.NPV()) < 5e-3, case
    # early exercise is worth something for puts, and nothing for calls without dividends
    assert np.all(ours >= european - 1e-12)
    puts = ~c
    assert np.all(ours[puts] > european[puts])
    no_div_calls = c & (q == 0)
    assert np.allclose(ours[no_div_calls], european[no_div_calls], atol=1e-3)


def test_a_deep_in_the_money_american_put_is_worth_its_intrinsic_value_exactly() -> None:
    """Exercised at once: the price is the intrinsic value, not a tree's approximation of it."""
    assert float(american_price(100.0, 125.0, 2.0, 0.045, 0.0, 0.1, False)) == 25.0


def test_american_at_expiry_is_intrinsic() -> None:
    assert float(american_price(100.0, 90.0, 0.0, 0.04, 0.0, 0.3, True)) == 10.0
    assert float(american_price(100.0, 90.0, 0.0, 0.04, 0.0, 0.3, False)) == 0.0


def test_greeks_at_expiry_are_settled_values() -> None:
    g = bsm_greeks(100.0, np.array([90.0, 110.0, 90.0]), 0.0, 0.04, 0.0, 0.3, np.array([True, True, False]))
    assert g.price.tolist() == [10.0, 0.0, 0.0]
    assert g.delta.tolist() == [1.0, 0.0, 0.0]
    assert g.gamma.tolist() == g.theta.tolist() == g.vega.tolist() == [0.0, 0.0, 0.0]


def test_year_fraction_runs_to_4pm_new_york_on_expiry() -> None:
    ny = ZoneInfo("America/New_York")
    now = datetime(2026, 12, 17, 16, 0, tzinfo=ny).timestamp()
    assert year_fraction(date(2026, 12, 18), now) == pytest.approx(1 / 365)
    assert year_fraction(date(2026, 12, 16), now) == 0.0
