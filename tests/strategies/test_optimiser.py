"""Target weights: the library's own answers on a fixed covariance, inverse volatility and
risk parity against numpy, sector caps and bounds, weights files refused in one line, and the
trades (whole lots, sells first)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.core.model import Side
from workstation.strategies.optimiser import Constraints, OptimiseError, optimise, plan, read_weights

SYMS = ["AAPL", "MSFT", "XOM", "JPM"]  # tech, tech, energy, financials
COV = np.array([
    [0.040, 0.018, 0.006, 0.010],
    [0.018, 0.090, 0.012, 0.020],
    [0.006, 0.012, 0.0225, 0.008],
    [0.010, 0.020, 0.008, 0.0625],
])
MU = np.array([0.12, 0.18, 0.06, 0.09])


def _frame() -> pd.DataFrame:
    return pd.DataFrame(COV, index=SYMS, columns=SYMS)


def test_minimum_variance_equals_pypfopt_on_the_same_covariance() -> None:
    from pypfopt.efficient_frontier import EfficientFrontier

    ef = EfficientFrontier(None, _frame(), weight_bounds=(0, 1))
    expected = ef.min_volatility()
    got = optimise("min_variance", SYMS, COV)
    assert got == pytest.approx(dict(expected), abs=1e-9)


def test_maximum_sharpe_with_a_sector_cap_equals_pypfopt_given_the_same_constraint() -> None:
    from pypfopt.efficient_frontier import EfficientFrontier

    ef = EfficientFrontier(pd.Series(MU, index=SYMS), _frame(), weight_bounds=(0, 1))
    ef.add_sector_constraints({"AAPL": "T", "MSFT": "T", "XOM": "E", "JPM": "F"}, {}, {"T": 0.4})
    expected = ef.max_sharpe(risk_free_rate=0.02)
    got = optimise("max_sharpe", SYMS, COV, MU, Constraints(sector_caps={"Information Technology": 0.4}), risk_free=0.02)
    assert got == pytest.approx(dict(expected), abs=1e-9)
    assert got["AAPL"] + got["MSFT"] <= 0.4 + 1e-9


def test_inverse_volatility_is_one_over_sigma_normalised() -> None:
    sigma = np.sqrt(np.diag(COV))  # 0.2, 0.3, 0.15, 0.25
    hand = (1 / sigma) / (1 / sigma).sum()
    got = optimise("inverse_vol", SYMS, COV)
    assert [got[s] for s in SYMS] == pytest.approx(list(hand), abs=1e-12)
    assert got["XOM"] > got["AAPL"] > got["JPM"] > got["MSFT"]


def test_risk_parity_gives_every_symbol_the_same_share_of_the_variance() -> None:
    got = optimise("risk_parity", SYMS, COV)
    w = np.array([got[s] for s in SYMS])
    contributions = w * (COV @ w)
    assert w.sum() == pytest.approx(1.0)
    assert contributions / contributions.sum() == pytest.approx([0.25] * 4, abs=1e-9)


def test_two_uncorrelated_assets_in_risk_parity_weigh_inversely_to_their_volatility() -> None:
    cov = np.diag([0.04, 0.16])  # sigma 0.2 and 0.4: weights 2/3 and 1/3
    got = optimise("risk_parity", ["XOM", "JPM"], cov)
    assert got == pytest.approx({"XOM": 2 / 3, "JPM": 1 / 3}, abs=1e-12)


@pytest.mark.parametrize("method", ["equal", "inverse_vol", "risk_parity", "min_variance"])
def test_sector_caps_and_bounds_are_respected_by_every_method(method: str) -> None:
    c = Constraints(bounds={s: (0.05, 0.45) for s in SYMS}, sector_caps={"Information Technology": 0.3, "Energy": 0.3})
    got = optimise(method, SYMS, COV, constraints=c)
    assert sum(got.values()) == pytest.approx(1.0, abs=1e-8)
    assert got["AAPL"] + got["MSFT"] <= 0.3 + 1e-8
    assert got["XOM"] <= 0.3 + 1e-8
    assert all(0.05 - 1e-8 <= w <= 0.45 + 1e-8 for w in got.values())


def test_an_equal_portfolio_with_a_tech_cap_moves_the_excess_to_the_others() -> None:
    got = optimise("equal", SYMS, COV, constraints=Constraints(sector_caps={"Information Technology": 0.3}))
    assert got == pytest.approx({"AAPL": 0.15, "MSFT": 0.15, "XOM": 0.35, "JPM": 0.35}, abs=1e-12)


def test_caps_that_cannot_hold_everything_are_one_line() -> None:
    c = Constraints(sector_caps={"Information Technology": 0.3})
    with pytest.raises(OptimiseError, match="allow only 30.0% invested"):
        optimise("equal", ["AAPL", "MSFT"], COV[:2, :2], constraints=c)


@pytest.mark.parametrize(("name", "text", "message"), [
    ("w.csv", "AAPL,0.5\nMSFT,0.4\n", "add up to 90.00%, not 100%"),
    ("w.csv", "symbol,weight\nAAPL,0.5\nMSFT,half\n", "w.csv line 3: weight 'half' is not a number"),
    ("w.csv", "AAPL,0.5,x\n", "w.csv line 1: expected symbol,weight"),
    ("w.csv", "AAPL,0.5\naapl,0.5\n", "w.csv line 2: AAPL is given twice"),
    ("w.csv", "AAPL,-0.5\nMSFT,1.5\n", "w.csv line 1: weight '-0.5' must be 0 or more"),
    ("w.toml", "AAPL = 0.5\nMSFT = ", "w.toml: not TOML"),
    ("w.csv", "", "w.csv: no weights in it"),
])
def test_a_bad_weights_file_is_one_line_naming_the_problem(name: str, text: str, message: str) -> None:
    with pytest.raises(OptimiseError) as err:
        read_weights(text, name)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_weights_files_in_csv_with_percents_and_in_toml() -> None:
    assert read_weights("symbol,weight\naapl,60%\nMSFT,40%\n", "w.csv") == pytest.approx({"AAPL": 0.6, "MSFT": 0.4})
    assert read_weights("[weights]\nAAPL = 0.25\nXOM = 0.75\n", "w.toml") == {"AAPL": 0.25, "XOM": 0.75}


def test_the_plan_sells_first_and_lands_within_one_lot_of_each_target() -> None:
    prices = {"AAPL": Decimal("200"), "MSFT": Decimal("400"), "XOM": Decimal("110")}
    held = {"AAPL": Decimal(400), "XOM": Decimal(10)}
    trades = plan({"AAPL": 0.25, "MSFT": 0.25, "XOM": 0.5}, held, prices, Decimal(100_000))
    assert [t.side for t in trades] == [Side.SELL, Side.BUY, Side.BUY]
    after = dict(held)
    for t in trades:
        after[t.symbol] = after.get(t.symbol, Decimal(0)) + (t.qty if t.side is Side.BUY else -t.qty)
    assert after == {"AAPL": Decimal(125), "MSFT": Decimal(62), "XOM": Decimal(454)}


def test_below_the_drift_threshold_nothing_trades() -> None:
    prices = {"AAPL": Decimal("100"), "MSFT": Decimal("100")}
    held = {"AAPL": Decimal(540), "MSFT": Decimal(460)}  # 54% / 46% of 100,000
    assert plan({"AAPL": 0.5, "MSFT": 0.5}, held, prices, Decimal(100_000), drift=0.05) == []
    assert len(plan({"AAPL": 0.5, "MSFT": 0.5}, held, prices, Decimal(100_000), drift=0.03)) == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 100), min_size=2, max_size=5), st.integers(1, 5_000), st.sampled_from([1, 10, 100]))
def test_after_the_plan_every_weight_is_within_one_lot_of_its_target(raw, price, lot) -> None:
    symbols = [f"S{i}" for i in range(len(raw))]
    targets = {s: r / sum(raw) for s, r in zip(symbols, raw, strict=True)}
    prices = {s: Decimal(price) for s in symbols}
    equity = Decimal(1_000_000)
    trades = plan(targets, {}, prices, equity, lots={s: Decimal(lot) for s in symbols})
    spent = sum((t.notional for t in trades), Decimal(0))
    assert spent <= equity
    for t in trades:
        assert t.qty % lot == 0
        gap = targets[t.symbol] * float(equity) - float(t.notional)
        assert 0 <= gap < lot * price + 1e-6


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0.01, 10), min_size=4, max_size=4),
    st.floats(0.0, 0.2), st.floats(0.3, 1.0), st.floats(0.3, 1.0), st.floats(0.3, 1.0),
)
def test_fitted_weights_always_keep_the_bounds_and_caps_and_add_up_to_one(raw, lo, hi, tech, energy) -> None:
    c = Constraints(bounds={s: (lo, hi) for s in SYMS}, sector_caps={"Information Technology": tech, "Energy": energy})
    try:
        c.check(SYMS)
    except OptimiseError:
        return  # (impossible constraints are refused up front)
    from workstation.strategies.optimiser import fit

    w = dict(zip(SYMS, fit(np.array(raw) / sum(raw), SYMS, c), strict=True))
    assert sum(w.values()) == pytest.approx(1.0, abs=1e-8)
    assert all(lo - 1e-8 <= x <= hi + 1e-8 for x in w.values())
    assert w["AAPL"] + w["MSFT"] <= tech + 1e-8
    assert w["XOM"] <= energy + 1e-8
