"""Performance metrics on an equity curve or a returns series (floats: analytics, not money).

Conventions (those of empyrical, so figures compare with the wider Python ecosystem):
simple returns; ``max_drawdown`` is the worst peak-to-trough fall as a non-positive
fraction (``-0.12`` is a 12% drawdown); ``sharpe`` is the mean excess return over its sample
standard deviation (ddof 1), annualized by ``sqrt(periods_per_year)``, and 0 when the
returns do not vary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SECONDS_PER_YEAR = 365.25 * 86_400
TRADING_DAYS = 252


def returns(equity: Sequence[float] | np.ndarray) -> np.ndarray:
    """Simple returns between consecutive equity values."""
    e = np.asarray(equity, dtype=np.float64)
    if len(e) < 2:
        return np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = e[1:] / e[:-1] - 1.0
    return np.where(np.isfinite(r), r, 0.0)


def max_drawdown(equity: Sequence[float] | np.ndarray) -> float:
    """Worst fall from a running peak, as a non-positive fraction of that peak."""
    e = np.asarray(equity, dtype=np.float64)
    if len(e) == 0:
        return 0.0
    peaks = np.maximum.accumulate(e)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peaks > 0, e / peaks - 1.0, 0.0)
    return float(min(0.0, dd.min()))


def sharpe(rets: Sequence[float] | np.ndarray, periods_per_year: float = TRADING_DAYS, risk_free: float = 0.0) -> float:
    """Annualized Sharpe ratio of per-period returns (0 when there is no variation)."""
    r = np.asarray(rets, dtype=np.float64) - risk_free
    if len(r) < 2:
        return 0.0
    sd = r.std(ddof=1)
    if not sd > 0 or not math.isfinite(sd):
        return 0.0
    return float(r.mean() / sd * math.sqrt(periods_per_year))


def periods_per_year(interval_seconds: float) -> float:
    """How many samples of ``interval_seconds`` make a (calendar) year."""
    return SECONDS_PER_YEAR / interval_seconds


def win_rate(wins: int, losses: int) -> float | None:
    """Share of closed round trips that made money (None before the first one closes)."""
    total = wins + losses
    return wins / total if total else None
