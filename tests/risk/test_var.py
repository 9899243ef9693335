"""Portfolio VaR and CVaR (workstation.risk.var): the figures against independent computations
and empyrical's, the decomposition, the textbook parametric case, EWMA, full revaluation of
options, alignment, betas and the diversification ratio."""

from __future__ import annotations

import math
from statistics import NormalDist

import empyrical
import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.core.model import Bar
from workstation.risk.returns import (
    Exposure, OptionTerms, PortfolioRisk, ReturnMatrix, covariance, ewma_weights, returns_from_bars,
)
from workstation.risk.var import RiskModelError, historical_cvar, historical_var, risk_report, scenario_pnl

RNG_SEED = 20


def _returns(n_days: int, symbols: tuple[str, ...], seed: int = RNG_SEED, scale: float = 0.015) -> ReturnMatrix:
    rng = np.random.default_rng(seed)
    values = rng.standard_t(4, size=(n_days, len(symbols))) * scale
    return ReturnMatrix(symbols, tuple(range(20_000, 20_000 + n_days)), values)


def _eq(symbol: str, value: float, sector: str = "Tech", strategy: str = "manual") -> Exposure:
    return Exposure(symbol, symbol, value, "equity", sector, strategy)


# -- the figures themselves
def test_historical_var_and_cvar_agree_with_numpy_and_empyrical_on_a_fixed_series():
    r = _returns(250, ("A",)).values[:, 0]
    for c in (0.95, 0.99):
        cut = 1 - c
        # independent: sort, interpolate, average the tail
        s = np.sort(r)
        pos = (len(s) - 1) * cut
        lo = int(math.floor(pos))
        by_hand_var = -(s[lo] + (pos - lo) * (s[lo + 1] - s[lo]))
        by_hand_cvar = -s[: int((len(s) - 1) * cut) + 1].mean()
        assert historical_var(r, c) == pytest.approx(by_hand_var, rel=1e-12)
        assert historical_cvar(r, c) == pytest.approx(by_hand_cvar, rel=1e-12)
        assert historical_var(r, c) == pytest.approx(-empyrical.value_at_risk(r, cutoff=cut), rel=1e-12)
        assert historical_cvar(r, c) == pytest.approx(-empyrical.conditional_value_at_risk(r, cutoff=cut), rel=1e-12)


def test_a_one_asset_portfolio_reports_its_exposure_times_the_return_quantiles():
    m = _returns(250, ("SPY",))
    report = risk_report(PortfolioRisk((_eq("SPY", 10_000.0),), m))
    r = m.values[:, 0]
    f = report.figure("historical", 0.99, 1)
    assert f.var == pytest.approx(-10_000 * empyrical.value_at_risk(r, cutoff=0.01), rel=1e-9)
    assert f.cvar == pytest.approx(-10_000 * empyrical.conditional_value_at_risk(r, cutoff=0.01), rel=1e-9)
    ten = report.figure("historical", 0.99, 10)
    assert ten.var == pytest.approx(f.var * math.sqrt(10), rel=1e-9)  # sqrt-of-time for linear positions
    assert report.figure("parametric", 0.99, 10).var == pytest.approx(
        report.figure("parametric", 0.99, 1).var * math.sqrt(10), rel=1e-12)
    assert report.diversification_ratio == pytest.approx(1.0)
    assert report.figure("full", 0.99, 1).var == pytest.approx(f.var)  # nothing to revalue: as historical


def _with_covariance(sigma: np.ndarray, n: int = 250, seed: int = 3) -> np.ndarray:
    """Returns whose (population) sample covariance is exactly ``sigma``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(sigma)))
    x -= x.mean(axis=0)
    own = x.T @ x / n
    x = x @ np.linalg.inv(np.linalg.cholesky(own)).T
    return x @ np.linalg.cholesky(sigma).T


def test_a_two_asset_portfolio_with_known_correlation_gives_the_textbook_parametric_var():
    s1, s2, rho = 0.02, 0.01, 0.3
    sigma = np.array([[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]])
    m = ReturnMatrix(("A", "B"), tuple(range(250)), _with_covariance(sigma))
    w1, w2 = 60_000.0, 40_000.0
    report = risk_report(PortfolioRisk((_eq("A", w1), _eq("B", w2)), m), methods=("parametric",))
    sd = math.sqrt(w1 * w1 * s1 * s1 + w2 * w2 * s2 * s2 + 2 * rho * w1 * w2 * s1 * s2)
    for c in (0.95, 0.99):
        z = NormalDist().inv_cdf(c)
        assert report.figure("parametric", c, 1).var == pytest.approx(z * sd, rel=1e-9)
        assert report.figure("parametric", c, 10).var == pytest.approx(z * sd * math.sqrt(10), rel=1e-9)
        es = sd * NormalDist().pdf(z) / (1 - c)
        assert report.figure("parametric", c, 1).cvar == pytest.approx(es, rel=1e-9)
    assert report.correlation[0][1] == pytest.approx(rho, rel=1e-9)
    # Euler: component_i = w_i (Sigma w)_i / sd z
    z99 = NormalDist().inv_cdf(0.99)
    a = report.positions[0]
    assert a.component_var["parametric"] == pytest.approx(w1 * (w1 * s1 * s1 + w2 * rho * s1 * s2) / sd * z99, rel=1e-9)
    assert a.marginal_var == pytest.approx((w1 * s1 * s1 + w2 * rho * s1 * s2) / sd * z99, rel=1e-9)
    # diversified: the weighted stand-alone vols exceed the portfolio's
    assert report.diversification_ratio == pytest.approx((w1 * s1 + w2 * s2) / sd, rel=1e-9)
    assert report.diversification_ratio > 1.0


@settings(max_examples=40, deadline=None)
@given(
    exposures=st.lists(st.floats(-1e6, 1e6, allow_nan=False).filter(lambda x: abs(x) > 1.0), min_size=1, max_size=8),
    seed=st.integers(0, 10_000),
    confidence=st.sampled_from((0.95, 0.975, 0.99)),
    horizon=st.sampled_from((1, 10)),
)
def test_component_var_sums_to_the_total_var_for_every_method(exposures, seed, confidence, horizon):
    symbols = tuple(f"S{i}" for i in range(len(exposures)))
    m = _returns(120, symbols, seed=seed)
    positions = tuple(_eq(s, w, sector=f"sec{i % 3}") for i, (s, w) in enumerate(zip(symbols, exposures)))
    report = risk_report(PortfolioRisk(positions, m), decompose=(confidence, horizon), confidence=(confidence,),
                         horizons=(horizon,))
    for method in ("historical", "parametric", "full"):
        total = report.figure(method, confidence, horizon)
        comps = [p.component_var[method] for p in report.positions]
        assert math.fsum(comps) == pytest.approx(total.var, rel=1e-9, abs=1e-6)
        cvars = [p.component_cvar[method] for p in report.positions]
        assert math.fsum(cvars) == pytest.approx(total.cvar, rel=1e-9, abs=1e-6)
        sectors = [g.component_var[method] for g in report.groups if g.by == "sector"]
        assert math.fsum(sectors) == pytest.approx(total.var, rel=1e-9, abs=1e-6)


def test_groups_add_the_components_of_their_positions():
    m = _returns(250, ("AAPL", "MSFT", "XOM"))
    positions = (
        Exposure("AAPL", "AAPL", 50_000.0, "equity", "Information Technology", "trend"),
        Exposure("MSFT", "MSFT", 30_000.0, "equity", "Information Technology", "manual"),
        Exposure("XOM", "XOM", -20_000.0, "equity", "Energy", "trend"),
    )
    report = risk_report(PortfolioRisk(positions, m))
    by = {(g.by, g.name): g for g in report.groups}
    tech = by[("sector", "Information Technology")]
    p = {x.symbol: x for x in report.positions}
    for method in ("historical", "parametric"):
        assert tech.component_var[method] == pytest.approx(
            p["AAPL"].component_var[method] + p["MSFT"].component_var[method])
        assert by[("strategy", "trend")].component_var[method] == pytest.approx(
            p["AAPL"].component_var[method] + p["XOM"].component_var[method])
    assert tech.exposure == 80_000.0
    assert by[("asset_class", "equity")].exposure == 60_000.0


# -- EWMA
def test_ewma_weights_decay_by_lambda_and_sum_to_one():
    w = ewma_weights(250, 0.94)
    assert w.sum() == pytest.approx(1.0)
    assert w[-1] > w[0]
    assert w[-2] / w[-1] == pytest.approx(0.94)
    assert w[-1] == pytest.approx(0.06 / (1 - 0.94 ** 250))
    assert np.allclose(ewma_weights(4, None), 0.25)
    with pytest.raises(ValueError):
        ewma_weights(10, 1.5)


def test_the_ewma_covariance_weighs_a_recent_shock_more_than_equal_weights():
    x = np.full((100, 1), 0.001)
    x[::2] = -0.001
    x[-1] = -0.08  # yesterday's crash
    assert covariance(x, 0.94)[0, 0] > 5 * covariance(x, None)[0, 0]
    # by hand on three observations
    y = np.array([[0.01], [-0.02], [0.03]])
    lam = 0.5
    w = np.array([lam * lam, lam, 1.0]) / (lam * lam + lam + 1.0)
    mu = float(w @ y[:, 0])
    assert covariance(y, lam)[0, 0] == pytest.approx(float(w @ (y[:, 0] - mu) ** 2))


def test_an_ewma_report_shows_more_risk_after_a_recent_shock():
    m = _returns(250, ("A",), scale=0.005)
    values = m.values.copy()
    values[-3:] = -0.06
    shocked = ReturnMatrix(m.symbols, m.days, values)
    flat = risk_report(PortfolioRisk((_eq("A", 1e5),), shocked), methods=("parametric",))
    ewma = risk_report(PortfolioRisk((_eq("A", 1e5),), shocked, decay=0.94), methods=("parametric",))
    assert ewma.decay == 0.94
    assert ewma.figure("parametric", 0.99, 1).var > 1.5 * flat.figure("parametric", 0.99, 1).var


# -- options: full revaluation
def _option_book(units: float) -> tuple[PortfolioRisk, float, float]:
    from workstation.core.options import bsm_greeks

    terms = OptionTerms(units=units, spot=100.0, strike=100.0, years=30 / 365, vol=0.35, call=True)
    g = bsm_greeks(terms.spot, terms.strike, terms.years, terms.rate, terms.div, terms.vol, True)
    delta_value = units * float(g.delta) * terms.spot
    moves = np.concatenate([np.linspace(-0.25, 0.25, 60), np.full(5, -0.3)])  # a few crashes in the window
    m = ReturnMatrix(("XYZ",), tuple(range(len(moves))), moves[:, None])
    pos = Exposure("XYZ 2027-01-15 100 C", "XYZ", delta_value, "option", "Tech", option=terms)
    return PortfolioRisk((pos,), m), float(g.price) * abs(units), delta_value


def test_a_long_calls_full_revaluation_loss_is_bounded_by_its_premium_unlike_its_delta_normal_var():
    inputs, premium, _ = _option_book(100.0)
    report = risk_report(inputs)
    for h in (1, 10):
        full = report.figure("full", 0.99, h)
        assert full.var <= premium + 1e-9 and full.cvar <= premium + 1e-9
        assert report.figure("historical", 0.99, h).var > full.var  # the delta line overstates a long call's loss
        assert report.figure("parametric", 0.99, h).var > full.var
    assert report.figure("historical", 0.99, 10).var > premium  # (delta-normal would lose more than was paid)


def test_a_short_calls_full_revaluation_loss_exceeds_its_delta_estimate_on_a_rally():
    inputs, _, _ = _option_book(-100.0)
    report = risk_report(inputs)
    assert report.figure("full", 0.99, 1).var > report.figure("historical", 0.99, 1).var


def test_full_revaluation_reprices_each_scenario_with_bsm():
    from workstation.core.options import bsm_price

    inputs, _, _ = _option_book(100.0)
    pnl = scenario_pnl(inputs, 1, full=True)[:, 0]
    t = inputs.positions[0].option
    move = inputs.returns.values[7, 0]
    later = bsm_price(t.spot * (1 + move), t.strike, t.years - 1 / 365, t.rate, t.div, t.vol, True)
    now = bsm_price(t.spot, t.strike, t.years, t.rate, t.div, t.vol, True)
    assert pnl[7] == pytest.approx(100.0 * float(later - now), rel=1e-12)


# -- alignment, betas, the report's shape
def _bars(symbol: str, days: list[int], closes: list[float]) -> list[Bar]:
    return [Bar(symbol, d * 86_400.0 + 14 * 3600, c, c, c, c, 0.0, 86_400) for d, c in zip(days, closes)]


def test_alignment_drops_the_dates_not_common_to_all_series():
    a = _bars("A", [1, 2, 3, 4, 5], [10, 11, 12, 13, 14])
    b = _bars("B", [1, 2, 4, 5, 6], [20, 21, 22, 23, 24])  # no day 3; day 6 only here
    m = returns_from_bars({"A": a, "B": b})
    assert m.days == (2, 4, 5)
    assert m.column("A") == pytest.approx([11 / 10 - 1, 13 / 11 - 1, 14 / 13 - 1])
    assert m.column("B") == pytest.approx([21 / 20 - 1, 22 / 21 - 1, 23 / 22 - 1])
    assert returns_from_bars({"A": a, "B": b}, lookback=2).days == (4, 5)
    # two bars on one day: the later one is the day's close; a zero close is no close
    later = [*a, Bar("A", 5 * 86_400.0 + 20 * 3600, 15, 15, 15, 15, 0.0, 86_400)]
    assert returns_from_bars({"A": later}).column("A")[-1] == pytest.approx(15 / 13 - 1)
    broken = _bars("C", [1, 2, 3], [10, 0, 12])
    assert returns_from_bars({"C": broken}).days == (3,)


def test_betas_match_hand_computed_values():
    rng = np.random.default_rng(5)
    b = rng.normal(0, 0.01, 250)
    x = 1.5 * b + rng.normal(0, 0.005, 250)
    y = -0.5 * b + rng.normal(0, 0.02, 250)
    m = ReturnMatrix(("X", "Y"), tuple(range(250)), np.column_stack([x, y]))
    report = risk_report(PortfolioRisk((_eq("X", 30_000.0), _eq("Y", 10_000.0)), m, benchmark=b, equity=100_000.0))

    def hand(r):
        return float(np.sum((r - r.mean()) * (b - b.mean())) / np.sum((b - b.mean()) ** 2))

    px, py = report.positions
    assert px.beta == pytest.approx(hand(x), rel=1e-9)
    assert py.beta == pytest.approx(hand(y), rel=1e-9)
    assert report.beta_exposure == pytest.approx(30_000 * hand(x) + 10_000 * hand(y), rel=1e-9)
    assert report.beta == pytest.approx(report.beta_exposure / 100_000.0)


def test_without_the_benchmarks_history_betas_are_unknown_not_zero():
    m = _returns(100, ("A",))
    report = risk_report(PortfolioRisk((_eq("A", 1_000.0),), m))
    assert report.positions[0].beta is None and report.beta is None


def test_the_report_encodes_to_json_with_plain_fields():
    m = _returns(250, ("A", "B"))
    report = risk_report(PortfolioRisk((_eq("A", 1_000.0), _eq("B", -500.0)), m))
    doc = msgspec.json.decode(msgspec.json.encode(report))
    assert {f["method"] for f in doc["figures"]} == {"historical", "parametric", "full"}
    assert len(doc["figures"]) == 3 * 2 * 2
    assert doc["correlation_symbols"] == ["A", "B"] and doc["correlation"][0][0] == 1.0
    assert doc["first_day"] == "2024-10-04"


@pytest.mark.parametrize(("inputs", "message"), [
    (PortfolioRisk((), _returns(250, ("A",))), "no open positions"),
    (PortfolioRisk((_eq("A", 1.0),), _returns(10, ("A",))), "not enough history: 10 common days"),
    (PortfolioRisk((), _returns(250, ("A",)), left_out=("B: no price",)), "no position could be measured: B: no price"),
])
def test_what_cannot_be_measured_is_one_clear_line(inputs, message):
    with pytest.raises(RiskModelError, match=message) as e:
        risk_report(inputs)
    assert "\n" not in str(e.value)


def test_bad_arguments_are_refused_in_one_line():
    inputs = PortfolioRisk((_eq("A", 1.0),), _returns(50, ("A",)))
    with pytest.raises(RiskModelError, match="unknown method montecarlo"):
        risk_report(inputs, methods=("montecarlo",))
    with pytest.raises(RiskModelError, match="confidence"):
        risk_report(inputs, confidence=(99,))
    with pytest.raises(RiskModelError, match="horizon"):
        risk_report(inputs, horizons=(0,))


@settings(max_examples=30, deadline=None)
@given(
    units=st.lists(st.floats(-2_000, 2_000, allow_nan=False).filter(lambda x: abs(x) > 1.0), min_size=1, max_size=5),
    strikes=st.lists(st.floats(70, 130), min_size=5, max_size=5),
    stock=st.floats(-1e5, 1e5, allow_nan=False),
    seed=st.integers(0, 10_000),
)
def test_component_var_of_a_book_with_options_sums_to_its_full_revaluation_var(units, strikes, stock, seed):
    m = _returns(150, ("XYZ", "ABC"), seed=seed)
    positions = [_eq("ABC", stock)]
    for k, (u, strike) in enumerate(zip(units, strikes)):
        terms = OptionTerms(units=u, spot=100.0, strike=strike, years=(k + 1) * 20 / 365, vol=0.3, call=k % 2 == 0)
        positions.append(Exposure(f"XYZ-OPT{k}", "XYZ", u * 50.0, "option", "Tech", option=terms))
    report = risk_report(PortfolioRisk(tuple(positions), m), confidence=(0.99,), horizons=(1,))
    for method in ("historical", "parametric", "full"):
        total = report.figure(method, 0.99, 1)
        assert math.fsum(p.component_var[method] for p in report.positions) == pytest.approx(total.var, rel=1e-9, abs=1e-6)
        by_class = [g.component_cvar[method] for g in report.groups if g.by == "asset_class"]
        assert math.fsum(by_class) == pytest.approx(total.cvar, rel=1e-9, abs=1e-6)
