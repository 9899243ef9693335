"""Research output reads as a person counts: drawdowns in days, no -0.00 on the realtime dashboard."""

from __future__ import annotations

from workstation.research.report import _fmt


def test_a_long_drawdown_reads_in_whole_days_not_thousandths():
    assert _fmt("max_drawdown_days", 5392.0) == "5,392 days"
    assert _fmt("max_drawdown_days", 2.179) == "2.2 days"
    assert _fmt("max_drawdown_days", 0.5) == "12 h"


def test_the_realtime_dashboard_never_shows_minus_zero():
    from workstation.research.realtime_view import _m, _pnl

    assert _pnl("-0.004").plain == "+0.00" and _pnl("-0.004").style == ""
    assert _m("-0.004") == "0.00" and _m("-1234.5") == "-1,234.50"
