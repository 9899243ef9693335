"""A long backtest keeps running figures instead of every bar: they must equal the whole-array ones."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.research import analytics as a
from workstation.research.curves import CurveBuilder, PriceTracker


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 3_000), seed=st.integers(0, 2**32 - 1), cap=st.integers(2, 400),
    cuts=st.lists(st.floats(0, 1), max_size=5),
)
def test_running_figures_equal_the_whole_curve_however_the_run_is_chunked(n, seed, cap, cuts) -> None:
    rng = np.random.default_rng(seed)
    t = 1.6e9 + np.cumsum(rng.integers(1, 20_000, size=n)).astype(float)
    e = 1e5 + np.cumsum(rng.normal(0, 100, size=n))
    g = np.where(rng.random(n) < 0.5, 0.0, np.abs(e))
    builder = CurveBuilder(t[0] - 60, 1e5, cap=cap)
    lo = 0
    for c in sorted(int(x * n) for x in cuts) + [n]:
        builder.add(t[lo:c], e[lo:c], g[lo:c])
        lo = max(lo, c)
    final = float(e[-1]) + 1.5
    curve = builder.finish(final)

    whole = e.copy()
    whole[-1] = final  # the portfolio's own valuation replaces the last sample
    with_start = np.concatenate([[1e5], whole])
    ts_start = np.concatenate([[t[0] - 60], t])
    assert curve.max_drawdown == a.max_drawdown(with_start)
    assert curve.max_drawdown_seconds == a.drawdown_duration(ts_start, with_start)
    days, day_equity = a.daily(t, whole)
    assert curve.days == days and np.array_equal(curve.day_equity, day_equity)
    assert curve.exposure == float(np.mean(g > 0))
    assert abs(curve.mean_equity - float(np.mean(whole))) <= 1e-9 * abs(float(np.mean(whole)))  # (summed by chunk)
    assert curve.samples == n
    # the kept curve: bounded, every step-th sample and always the last
    assert len(curve.ts) <= cap + 1 and curve.ts[-1] == t[-1] and curve.equity[-1] == final
    kept = t[:: curve.step]
    assert np.array_equal(curve.ts[: len(kept)], kept)
    if n <= cap:
        assert curve.step == 1 and np.array_equal(curve.ts, t) and np.array_equal(curve.equity, whole)


def test_price_summary_keeps_daily_closes_first_open_and_last_close() -> None:
    t = 1_700_000_000 + 60.0 * np.arange(5_000)  # about three and a half days of minutes
    close = 100 + np.sin(np.arange(5_000) / 50)
    tracker = PriceTracker("AAPL", 60, 60, cap=100)
    for lo in range(0, 5_000, 777):
        tracker.add(t[lo : lo + 777], close[lo : lo + 777] - 0.5, close[lo : lo + 777])
    p = tracker.finish()
    days, day_close = a.daily(t + 60, close)
    assert p.days == days and np.array_equal(p.day_close, day_close)
    assert p.first_open == close[0] - 0.5 and p.last_close == close[-1] and p.bars == 5_000
    assert len(p.ts) <= 101 and p.ts[-1] == t[-1] + 60
