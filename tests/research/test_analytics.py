"""Analytics against empyrical (an independent implementation) on real prices."""

from pathlib import Path

import empyrical
import numpy as np
import pandas as pd
import pytest

from workstation.research import analytics

CLOSES = pd.read_csv(Path(__file__).parents[1] / "data" / "nvda-1999-2014.txt").Close


def test_returns_drawdown_and_sharpe_match_empyrical():
    equity = CLOSES.to_numpy()[:2000]
    r = analytics.returns(equity)
    np.testing.assert_allclose(r, pd.Series(equity).pct_change().dropna().to_numpy(), rtol=1e-12)
    assert analytics.max_drawdown(equity) == pytest.approx(empyrical.max_drawdown(pd.Series(r)), rel=1e-9)
    assert analytics.sharpe(r, 252) == pytest.approx(empyrical.sharpe_ratio(pd.Series(r), annualization=252), rel=1e-9)


def test_edge_cases():
    assert analytics.max_drawdown([]) == 0.0
    assert analytics.max_drawdown([100, 110, 120]) == 0.0
    assert analytics.max_drawdown([100, 50, 200, 150]) == pytest.approx(-0.5)
    assert analytics.sharpe([0.01, 0.01, 0.01]) == 0.0  # no variation
    assert analytics.sharpe([0.01]) == 0.0
    assert analytics.win_rate(3, 1) == 0.75 and analytics.win_rate(0, 0) is None
    assert analytics.periods_per_year(86_400) == pytest.approx(365.25)
