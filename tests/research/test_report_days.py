"""The backtest report shows a drawdown's length in days, as a person counts them."""

from __future__ import annotations

from workstation.research.report import _fmt


def test_a_long_drawdown_reads_in_whole_days_not_thousandths():
    assert _fmt("max_drawdown_days", 5392.0) == "5,392 days"
    assert _fmt("max_drawdown_days", 2.179) == "2.2 days"
    assert _fmt("max_drawdown_days", 0.5) == "12 h"
