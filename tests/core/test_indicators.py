"""Indicators: the vectorized and incremental forms agree with each other and with independent
references (pandas rolling formulas, and the textbook recursions written out longhand) on real
daily and intraday prices."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workstation.core import indicators as ind

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module", params=["orcl-1995-2014.txt", "nvda-1999-2014.txt", "2006-min-005.txt"])
def bars(request) -> pd.DataFrame:
    df = pd.read_csv(DATA / request.param)
    return df.iloc[:1500].reset_index(drop=True)


def close_enough(a, b, rtol=1e-9):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=rtol, equal_nan=True)


def incremental(indicator, values):
    return np.array([indicator.update(v) for v in values], dtype=float)


# -- independent references --------------------------------------------------------


def ref_seeded_smoothing(values: list[float], n: int, alpha: float) -> list[float]:
    """The textbook recursion: SMA of the first n values, then s += alpha * (x - s)."""
    out = [float("nan")] * len(values)
    s = None
    for i, x in enumerate(values):
        if i == n - 1:
            s = sum(values[:n]) / n
            out[i] = s
        elif i >= n:
            s = s + alpha * (x - s)
            out[i] = s
    return out


def ref_ema(values, n):
    return ref_seeded_smoothing(list(values), n, 2 / (n + 1))


def ref_rsi(close, n):
    diffs = pd.Series(close).diff().to_numpy()[1:]
    gains = ref_seeded_smoothing([max(d, 0.0) for d in diffs], n, 1 / n)
    losses = ref_seeded_smoothing([max(-d, 0.0) for d in diffs], n, 1 / n)
    out = [float("nan")]
    for g, lo in zip(gains, losses):
        out.append(float("nan") if np.isnan(g) else 100.0 if lo == 0 else 100 - 100 / (1 + g / lo))
    return out


def ref_atr(df, n):
    prev = df.Close.shift(1)
    tr = pd.concat([df.High - df.Low, (df.High - prev).abs(), (df.Low - prev).abs()], axis=1).max(axis=1)
    return [float("nan")] + ref_seeded_smoothing(tr.to_numpy()[1:].tolist(), n, 1 / n)


# -- tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 5, 20, 50])
def test_sma(bars, n):
    ref = bars.Close.rolling(n).mean()
    close_enough(ind.sma(bars.Close, n), ref)
    close_enough(incremental(ind.SMA(n), bars.Close), ref)


@pytest.mark.parametrize("n", [3, 12, 26])
def test_ema(bars, n):
    ref = ref_ema(bars.Close, n)
    close_enough(ind.ema(bars.Close, n), ref)
    close_enough(incremental(ind.EMA(n), bars.Close), ref)


@pytest.mark.parametrize("n", [2, 14])
def test_rsi(bars, n):
    ref = ref_rsi(bars.Close, n)
    close_enough(ind.rsi(bars.Close, n), ref)
    close_enough(incremental(ind.RSI(n), bars.Close), ref)
    valid = ind.rsi(bars.Close, n)[n:]
    assert np.all((valid >= 0) & (valid <= 100))


def test_macd(bars):
    line = np.array(ref_ema(bars.Close, 12)) - np.array(ref_ema(bars.Close, 26))
    sig = [float("nan")] * 25 + ref_seeded_smoothing(line[25:].tolist(), 9, 2 / 10)
    v = ind.macd(bars.Close, 12, 26, 9)
    close_enough(v.macd, line)
    close_enough(v.signal, sig)
    close_enough(v.histogram, line - np.array(sig))
    inc = ind.MACD(12, 26, 9)
    rows = np.array([inc.update(x) for x in bars.Close])
    close_enough(rows[:, 0], line)
    close_enough(rows[:, 1], sig)
    close_enough(rows[:, 2], line - np.array(sig))


def test_bollinger(bars):
    mid = bars.Close.rolling(20).mean()
    sd = bars.Close.rolling(20).std(ddof=0)
    v = ind.bollinger(bars.Close, 20, 2.0)
    close_enough(v.middle, mid)
    close_enough(v.upper, mid + 2 * sd)
    close_enough(v.lower, mid - 2 * sd)
    inc = ind.Bollinger(20, 2.0)
    rows = np.array([inc.update(x) for x in bars.Close])
    close_enough(rows, np.column_stack([mid, mid + 2 * sd, mid - 2 * sd]))


def test_atr(bars):
    ref = ref_atr(bars, 14)
    close_enough(ind.atr(bars.High, bars.Low, bars.Close, 14), ref)
    inc = ind.ATR(14)
    close_enough([inc.update(h, lo, c) for h, lo, c in zip(bars.High, bars.Low, bars.Close)], ref)


def test_vwap(bars):
    tp = (bars.High + bars.Low + bars.Close) / 3
    ref = (tp * bars.Volume).cumsum() / bars.Volume.cumsum().where(bars.Volume.cumsum() > 0)
    close_enough(ind.vwap(ind.typical_price(bars.High, bars.Low, bars.Close), bars.Volume), ref)
    inc = ind.VWAP()
    close_enough([inc.update(p, v) for p, v in zip(tp, bars.Volume)], ref)


def test_vwap_is_nan_without_volume():
    assert np.isnan(ind.vwap([1.0, 2.0], [0.0, 0.0])).all()
    assert np.isnan(ind.VWAP().update(5.0, 0.0))


@pytest.mark.parametrize("n", [5, 20])
def test_zscore(bars, n):
    mean = bars.Close.rolling(n).mean()
    sd = bars.Close.rolling(n).std(ddof=0)
    ref = ((bars.Close - mean) / sd).where(sd > 0)
    # pandas' online rolling variance loses ~1e-8 when the window barely moves (index futures
    # at 3,500 with a 5-bar spread of a few points); the two forms of ours agree exactly.
    close_enough(ind.zscore(bars.Close, n), ref, rtol=1e-6)
    close_enough(incremental(ind.ZScore(n), bars.Close), ind.zscore(bars.Close, n))


def test_bad_periods_are_refused():
    with pytest.raises(ValueError, match="positive whole number"):
        ind.sma([1, 2, 3], 0)
    with pytest.raises(ValueError, match="shorter"):
        ind.MACD(26, 12)


def test_the_incremental_sma_stays_within_a_few_roundings_of_the_exact_mean_over_a_long_run() -> None:
    """The running sum is re-summed exactly each time the window turns over, so its error never
    accumulates: after 200,000 updates of prices spanning four orders of magnitude it is still
    within a few roundings of the exactly rounded mean (the crossover strategy's equality
    tolerance, 1e-12 relative, stays far above it)."""
    import math
    import random

    rng = random.Random(11)
    values = [round(rng.uniform(1, 10_000), 2) for _ in range(200_000)]
    for n in (3, 30, 200):
        sma = ind.SMA(n)
        worst = 0.0
        for i, x in enumerate(values):
            got = sma.update(x)
            if i + 1 >= n:
                exact = math.fsum(values[i + 1 - n : i + 1]) / n
                worst = max(worst, abs(got - exact) / exact)
        assert worst < 1e-14, (n, worst)
        assert sma.ready and sma.n == n


def test_the_sma_cross_keeps_both_averages_within_a_few_roundings_and_its_sign_exact() -> None:
    """``SMACross`` keeps the fast and slow means on one ring: over a long run of prices that
    jump anywhere between 1 and 10,000 both stay within a few roundings of the largest price
    of the exact means, and the sign of ``fast - slow`` is the sign of the exact difference
    wherever that difference is beyond those roundings."""
    import math
    import random

    rng = random.Random(5)
    values = [round(rng.uniform(1, 10_000), 2) for _ in range(100_000)]
    noise = 1e-14 * 10_000
    for fast, slow in ((1, 2), (10, 30), (3, 200), (199, 200)):
        cross = ind.SMACross(fast, slow)
        worst = 0.0
        for i, x in enumerate(values):
            diff = cross.update(x)
            if i + 1 < slow:
                assert math.isnan(diff) and not cross.ready
                continue
            f = math.fsum(values[i + 1 - fast : i + 1]) / fast
            s = math.fsum(values[i + 1 - slow : i + 1]) / slow
            worst = max(worst, abs(cross.fast - f), abs(cross.slow - s))
            if abs(f - s) > 2 * noise:
                assert (diff > 0) == (f > s), (fast, slow, i)
        assert worst < noise, (fast, slow, worst)
        assert cross.ready


def test_the_sma_cross_refuses_a_fast_period_not_shorter_than_the_slow_one() -> None:
    with pytest.raises(ValueError, match="shorter"):
        ind.SMACross(30, 30)
    with pytest.raises(ValueError, match="positive whole number"):
        ind.SMACross(0, 30)
