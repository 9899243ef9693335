"""A realtime session's ratios: on one-minute returns, annualized over calendar time, and
not given (``—``) when there are fewer than 30 returns."""

import math

import numpy as np
import pytest

from workstation.research import analytics
from workstation.research.realtime_view import summary_view


def _console_text(renderable) -> str:
    from rich.console import Console

    con = Console(width=100, record=True, file=open("/dev/null", "w"))
    con.print(renderable)
    return con.export_text()


def test_a_twenty_second_session_has_no_sharpe():
    # 0.2 s samples, flat but for a few dollars of spread paid: the old figure was about -516
    samples = [(i * 0.2, 100_000.0 - (3.0 if i > 50 else 0.0)) for i in range(101)]
    old = analytics.sharpe(analytics.returns([e for _, e in samples]), analytics.periods_per_year(0.2))
    assert old < -100  # what the summary used to call an annualized Sharpe
    got = analytics.session_ratios(samples)
    assert got["sharpe"] is None and got["sortino"] is None
    assert got["ratio_returns"] == 0 and "too few" in got["sharpe_basis"]


def test_ratios_need_thirty_one_minute_returns():
    rng = np.random.default_rng(1)
    def session(minutes):  # equity every 0.5 s for that many minutes
        steps = int(minutes * 120)
        eq = 100_000 * np.cumprod(1 + rng.normal(0.00001, 0.0002, steps + 1))
        return [(i * 0.5, float(e)) for i, e in enumerate(eq)]

    short = analytics.session_ratios(session(29))
    assert short["ratio_returns"] == 29 and short["sharpe"] is None
    samples = session(120)
    long = analytics.session_ratios(samples)
    assert long["ratio_returns"] == 120 and long["sharpe"] is not None
    minute_equity = [e for t, e in samples if t % 60 == 0]
    r = analytics.returns(minute_equity)
    expected = r.mean() / r.std(ddof=1) * math.sqrt(365.25 * 24 * 60)
    assert long["sharpe"] == pytest.approx(expected, rel=1e-3)
    assert "120 returns over 60s" in long["sharpe_basis"]


def test_the_summary_shows_a_dash_for_a_missing_ratio():
    s = {
        "equity": "99988", "pnl": "-12", "cash": "80000", "trades": 5, "win_rate": None, "max_drawdown": -0.0001,
        "sharpe": None, "seconds": 20.0, "symbols": ["AAPL"], "strategies": [], "session": "x", "journal": "j",
    }
    assert "sharpe —" in _console_text(summary_view(s))
    assert "sharpe 1.25" in _console_text(summary_view(s | {"sharpe": 1.25}))
