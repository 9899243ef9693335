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


async def _live_on_a_tape_with_our_fills(tmp_path, **params):
    from tests.strategies.test_plugins_shipped import Replay

    r = Replay(tmp_path)
    inst = await r.start("pov", side="buy", qty=5000, rate=0.1, duration=10.0, **params)
    pov = inst.strategy
    volume, others, printed_own = 1_000_000.0, 0.0, 0.0
    for k in range(30):  # others trade 100 shares each half second; the tape prints our fills too
        own = float(pov.filled) - printed_own
        printed_own += own
        volume += 100.0 + own
        others += 100.0 if 0 < k and r.clock.time() + 0.5 < pov.deadline else 0.0
        await r.step(20.0, seconds=0.5, volume=volume)
    return float(pov.filled), others


async def test_live_on_a_venue_tape_volume_has_own_keeps_10pct_of_the_others(tmp_path):
    done, others = await _live_on_a_tape_with_our_fills(tmp_path / "a", volume_has_own=True)
    assert others > 0 and abs(done - 0.1 * others) <= 10  # (the print at the deadline is not answered)
    chased, _ = await _live_on_a_tape_with_our_fills(tmp_path / "b")
    assert chased > 1.05 * done  # counting its own prints it chases itself: about 11% of the others
