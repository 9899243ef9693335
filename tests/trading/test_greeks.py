"""Portfolio Greeks: each position's Greeks in money terms against hand-worked Black-Scholes
figures, the sign of a short put, equities and futures, totals per underlying and for the
account, the IV fallbacks and the beta-weighted delta."""

import math
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.core.model import Bar, Quote
from workstation.core.symbols import parse_symbol
from workstation.trading.greeks import GreekBook, beta_from_bars, beta_from_closes

NOW = datetime(2026, 11, 18, 21, 0, tzinfo=timezone.utc).timestamp()  # 16:00 New York
YEARS = 30 / 365  # to 16:00 New York on 2026-12-18
CALL, PUT = "AAPL-2026-12-18-200-C", "AAPL-2026-12-18-190-P"


def n_cdf(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def n_pdf(x):
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def hand(spot, strike, vol, call, t=YEARS, r=0.04):
    """Black-Scholes by hand (no dividend): price, delta, gamma, theta per day, vega per point."""
    d1 = (math.log(spot / strike) + (r + vol * vol / 2) * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    disc = math.exp(-r * t)
    if call:
        price = spot * n_cdf(d1) - strike * disc * n_cdf(d2)
        delta = n_cdf(d1)
        theta = -spot * n_pdf(d1) * vol / (2 * math.sqrt(t)) - r * strike * disc * n_cdf(d2)
    else:
        price = strike * disc * n_cdf(-d2) - spot * n_cdf(-d1)
        delta = n_cdf(d1) - 1
        theta = -spot * n_pdf(d1) * vol / (2 * math.sqrt(t)) + r * strike * disc * n_cdf(-d2)
    gamma = n_pdf(d1) / (spot * vol * math.sqrt(t))
    vega = spot * n_pdf(d1) * math.sqrt(t)
    return price, delta, gamma, theta / 365, vega / 100


def quote(symbol, mid, half=0.05):
    return Quote(symbol, NOW, mid - half, mid + half, mid)


def book(quotes, **kw):
    table = {q.symbol: q for q in quotes}
    return GreekBook(instrument=parse_symbol, quote=table.get, now=lambda: NOW, **kw), table


def test_long_call_greeks_in_money_terms_match_hand_values():
    price, delta, gamma, theta, vega = hand(200.0, 200.0, 0.30, True)
    b, _ = book([quote("AAPL", 200.0, 0.01), quote(CALL, price)])
    [g] = b.positions([(CALL, Decimal(3))])
    assert g.unit.iv == pytest.approx(0.30, abs=1e-7) and g.unit.iv_source == "mid"
    assert g.delta_shares == pytest.approx(delta * 100 * 3, rel=1e-6)  # ~160 shares of AAPL
    assert g.dollar_delta == pytest.approx(delta * 100 * 3 * 200.0, rel=1e-6)
    assert g.gamma_shares == pytest.approx(gamma * 300, rel=1e-6)
    assert g.dollar_gamma == pytest.approx(gamma * 300 * 200.0 * 200.0 / 100, rel=1e-6)  # per 1% move
    assert g.theta == pytest.approx(theta * 300, rel=1e-6) and g.theta < 0
    assert g.vega == pytest.approx(vega * 300, rel=1e-6) and g.vega > 0


def test_short_put_signs():
    """Short a put: long delta (it gains as the stock rises), short gamma and vega, theta earned."""
    price, delta, gamma, theta, vega = hand(200.0, 190.0, 0.35, False)
    b, _ = book([quote("AAPL", 200.0, 0.01), quote(PUT, price)])
    [g] = b.positions([(PUT, Decimal(-2))])
    assert delta < 0 and g.delta_shares == pytest.approx(-2 * 100 * delta, rel=1e-6) and g.delta_shares > 0
    assert g.gamma_shares < 0 and g.dollar_gamma < 0
    assert g.vega == pytest.approx(-2 * 100 * vega, rel=1e-6) and g.vega < 0
    assert g.theta == pytest.approx(-2 * 100 * theta, rel=1e-6) and g.theta > 0


def test_equity_and_future_deltas():
    b, _ = book([quote("MSFT", 400.0, 0.01), quote("ES-2026-12", 6000.0, 0.125)])
    stock, future = b.positions([("MSFT", Decimal(-50)), ("ES-2026-12", Decimal(2))])
    assert stock.delta_shares == -50 and stock.dollar_delta == pytest.approx(-20_000.0)
    assert stock.gamma_shares == 0 and stock.theta == 0 and stock.vega == 0
    assert math.copysign(1, stock.dollar_gamma) == 1  # 0, never -0 ("-0" on screen)
    assert future.underlying == "ES" and future.delta_shares == 100  # 2 contracts x 50
    assert future.dollar_delta == pytest.approx(600_000.0)


def test_totals_per_underlying_and_account():
    c_price, c_delta, c_gamma, c_theta, c_vega = hand(200.0, 200.0, 0.30, True)
    p_price, p_delta, p_gamma, p_theta, p_vega = hand(200.0, 190.0, 0.35, False)
    b, _ = book([quote("AAPL", 200.0, 0.01), quote(CALL, c_price), quote(PUT, p_price), quote("MSFT", 400.0, 0.01)])
    rows = b.positions([(CALL, Decimal(2)), (PUT, Decimal(-1)), ("AAPL", Decimal(-100)), ("MSFT", Decimal(10))])
    per, account = b.totals(rows)
    aapl, msft = per
    assert aapl.underlying == "AAPL" and aapl.positions == 3 and aapl.has_options
    delta_sh = 200 * c_delta - 100 * p_delta - 100
    assert aapl.delta_shares == pytest.approx(delta_sh, rel=1e-6)
    assert aapl.dollar_delta == pytest.approx(delta_sh * 200, rel=1e-6)
    assert aapl.gamma_shares == pytest.approx(200 * c_gamma - 100 * p_gamma, rel=1e-6)
    assert aapl.vega == pytest.approx(200 * c_vega - 100 * p_vega, rel=1e-6)
    assert msft.delta_shares == 10 and not msft.has_options
    # the account adds money terms only; shares of AAPL and MSFT do not add
    assert account.delta_shares is None and account.gamma_shares is None
    assert account.dollar_delta == pytest.approx(delta_sh * 200 + 4_000, rel=1e-6)
    assert account.theta == pytest.approx(aapl.theta)


def test_iv_falls_back_to_the_last_known_then_unknown_is_blank_not_zero():
    price, delta, *_ = hand(200.0, 200.0, 0.30, True)
    b, table = book([quote("AAPL", 200.0, 0.01), quote(CALL, price)])
    b.positions([(CALL, Decimal(1))])
    table[CALL] = Quote(CALL, NOW, 0.0, 0.0, 0.0)  # the quote goes one-sided and there is no last
    [g] = b.positions([(CALL, Decimal(1))])
    assert g.unit.iv_source == "last known" and g.unit.iv == pytest.approx(0.30, abs=1e-7)
    assert g.delta_shares == pytest.approx(100 * delta, rel=1e-6)
    fresh, _ = book([quote("AAPL", 200.0, 0.01), Quote(CALL, NOW, 0.0, 0.0, 0.0)])
    [g] = fresh.positions([(CALL, Decimal(1))])
    assert not g.known and g.delta_shares is None and g.vega is None
    per, account = fresh.totals([g])
    assert account.unknown == 1 and account.dollar_delta == 0


def test_dividend_table_is_a_parameter():
    price, *_ = hand(200.0, 200.0, 0.30, True)
    plain, _ = book([quote("AAPL", 200.0, 0.01), quote(CALL, price)])
    paying, _ = book([quote("AAPL", 200.0, 0.01), quote(CALL, price)], dividends={"AAPL": 0.03})
    [a] = plain.positions([(CALL, Decimal(1))])
    [b] = paying.positions([(CALL, Decimal(1))])
    assert b.unit.iv > a.unit.iv  # the same price means more vol when the forward is lower


def _bars(symbol, closes):
    day = datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp()
    return [Bar(symbol, day + i * 86_400, c, c, c, c, 0, 86_400) for i, c in enumerate(closes)]


def test_beta_weighted_delta_to_spy():
    spy = [500 * (1 + 0.01 * math.sin(i)) for i in range(70)]
    twice = [100 * (s / 500) ** 2 for s in spy]  # log returns exactly twice SPY's
    assert beta_from_closes(twice, spy) == pytest.approx(2.0, rel=1e-9)
    assert beta_from_bars(_bars("X", twice[-10:]), _bars("SPY", spy)) is None  # too little history
    b, _ = book([quote("MSFT", 400.0, 0.01), quote("SPY", 500.0, 0.01), quote("NVDA", 100.0, 0.01)])
    b.set_beta("MSFT", _bars("MSFT", twice), _bars("SPY", spy))
    per, account = b.totals(b.positions([("MSFT", Decimal(10)), ("NVDA", Decimal(50))]))
    msft, nvda = per
    assert msft.beta == pytest.approx(2.0) and msft.beta_source == "60d"
    assert msft.beta_delta_spy == pytest.approx(4_000 * 2 / 500)  # 16 SPY shares
    assert nvda.beta == 1.0 and nvda.beta_source == "fallback 1"
    assert account.beta_delta_spy == pytest.approx(16 + 10)
    assert account.beta_source == "fallback 1 for NVDA"


@settings(max_examples=60, deadline=None)
@given(
    qty=st.integers(min_value=-50, max_value=50).filter(bool),
    spot=st.floats(min_value=150, max_value=250),
    vol=st.floats(min_value=0.1, max_value=0.8),
)
def test_a_position_scales_with_its_quantity_and_sign(qty, spot, vol):
    price, *_ = hand(spot, 200.0, vol, True)
    b, _ = book([quote("AAPL", spot, 0.01), quote(CALL, price, 0.0)])
    one, many = b.positions([(CALL, Decimal(1))])[0], b.positions([(CALL, Decimal(qty))])[0]
    if not one.known:  # too little time value for an IV: unknown for any size
        assert not many.known
        return
    for field in ("delta_shares", "dollar_delta", "gamma_shares", "dollar_gamma", "theta", "vega"):
        assert getattr(many, field) == pytest.approx(qty * getattr(one, field), rel=1e-9, abs=1e-9)


def test_expired_option_has_intrinsic_delta():
    b, _ = book([quote("AAPL", 210.0, 0.01)])
    b.now = lambda: datetime(2026, 12, 19, tzinfo=timezone.utc).timestamp()
    b.iv_known[CALL] = 0.3
    [g] = b.positions([(CALL, Decimal(1))])
    assert g.delta_shares == pytest.approx(100.0) and g.vega == 0
    assert date(2026, 12, 18) == parse_symbol(CALL).expiry


def test_the_paper_accounts_greeks_use_the_paper_markets_dividend_yields(tmp_path):
    """A paper session prices its positions' Greeks with the same dividend yields as the
    paper market's chain (AAPL 0.5%), not with none."""
    from brokers.paper.broker import SimBroker
    from workstation.core.clock import SimClock
    from workstation.core.config import Settings
    from workstation.trading.session import Session

    clock = SimClock(1_790_000_000.0)
    s = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=SimBroker(clock=clock))
    try:
        assert s.greeks.dividend("AAPL") == 0.005
        assert s.greeks.dividend("TSLA") == 0.0
    finally:
        s.journal.close()
