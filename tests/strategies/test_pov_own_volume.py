"""POV participation is own / (market - own): a share of the others' volume, its own fills never
feeding its target, also on a tape that prints them."""

import math
from datetime import datetime, timezone
from decimal import Decimal

import numpy as np

from plugins.pov import Pov
from workstation.research.backtest import BacktestConfig, StrategySpec, run_backtest
from workstation.research.series import BarSeries

T0 = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc).timestamp()  # a Tuesday, 10:00 in New York
N = 60  # one hour of minute bars: the deadline


def others_volume(seed=11):
    return np.random.default_rng(seed).integers(500, 5000, N).astype(float)


def our_fills(others, rate=0.1):
    """What a POV of ``rate`` of the others' volume fills at each bar's open: the volume counted up
    to the bar before (bars closing before the deadline), to the share."""
    fills = np.zeros(N)
    for i in range(1, N):
        fills[i] = math.floor(rate * others[:i].sum() + 1e-9) - math.floor(rate * others[: i - 1].sum() + 1e-9)
    return fills


def tape(volume):
    """Flat minute bars of ``volume``."""
    p = np.full(N, 100.0)
    return BarSeries.from_arrays("SPY", T0 + 60 * np.arange(N), p, p + 0.05, p - 0.05, p, volume, seconds=60,
                                 tick=Decimal("0.01"))


def run(volume, **params):
    spec = StrategySpec(Pov, {"qty": 1_000_000, "rate": 0.1, "duration": 3600, **params})
    return run_backtest([tape(volume)], [spec], BacktestConfig(cash=Decimal(1_000_000_000)))


def per_bar(result):
    got = np.zeros(N)
    for f in result.fills:
        got[round((f.ts - T0) / 60)] += float(f.qty)
    return got


def test_pov_at_10pct_of_a_tape_that_prints_its_own_fills_keeps_10pct_of_the_others_volume():
    others = others_volume()
    ours = our_fills(others)
    market = others + ours  # the venue's tape: every bar's volume holds what we filled on it
    result = run(market, volume_has_own=True)
    got = per_bar(result)
    assert np.abs(got - ours).max() <= 1  # each bar answers the others' volume of the bar before, to the share
    counted = others[: N - 1].sum()  # (the last bar closes at the deadline: not counted)
    participation = got.sum() / counted
    assert abs(participation - 0.1) < 0.002
    # counting its own fills as the market's, it would chase itself: about 11% of the others' volume
    chased = per_bar(run(market)).sum() / counted
    assert chased > 0.105


def test_bars_without_our_fills_are_the_others_volume_as_they_are():
    others = others_volume(seed=5)
    got = per_bar(run(others))
    assert np.abs(got - our_fills(others)).max() <= 1
    assert abs(got.sum() / others[: N - 1].sum() - 0.1) < 0.002
