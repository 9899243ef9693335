"""VaR after a trade (workstation.risk.incremental): the same figure as a full report of the
portfolio the trade would leave, by both methods, without recomputing the covariance."""

from __future__ import annotations

import numpy as np
import pytest

from workstation.risk.incremental import IncrementalVar
from workstation.risk.returns import Exposure, PortfolioRisk, ReturnMatrix
from workstation.risk.var import risk_report


def _inputs(exposures: dict[str, float]) -> PortfolioRisk:
    rng = np.random.default_rng(4)
    values = rng.standard_t(4, size=(250, 3)) * 0.012
    m = ReturnMatrix(("AAPL", "MSFT", "XOM"), tuple(range(250)), values)
    return PortfolioRisk(tuple(Exposure(s, s, v, "equity", "x") for s, v in exposures.items()), m)


@pytest.mark.parametrize("method", ["historical", "parametric"])
@pytest.mark.parametrize(("factor", "change"), [("AAPL", 25_000.0), ("XOM", -40_000.0), ("MSFT", 0.0)])
def test_var_after_an_order_is_the_var_of_the_portfolio_it_leaves(method, factor, change):
    before = {"AAPL": 50_000.0, "MSFT": -20_000.0, "XOM": 10_000.0}
    after = dict(before, **{factor: before[factor] + change})
    model = IncrementalVar.of(_inputs(before))
    expected = risk_report(_inputs(after), methods=(method,)).figure(method, 0.99, 1).var
    assert model.after(factor, change, method) == pytest.approx(expected, rel=1e-9)
    assert model.now(method) == pytest.approx(risk_report(_inputs(before), methods=(method,)).figure(method, 0.99, 1).var)


def test_an_order_on_a_factor_not_measured_yet_has_no_figure():
    model = IncrementalVar.of(_inputs({"AAPL": 1_000.0}))
    assert model.after("TSLA", 5_000.0) is None


def test_a_hedge_lowers_the_var_and_doubling_up_raises_it():
    model = IncrementalVar.of(_inputs({"AAPL": 50_000.0}))
    assert model.after("AAPL", -25_000.0) < model.now() < model.after("AAPL", 25_000.0)
