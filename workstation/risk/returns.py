"""The risk model's inputs: aligned daily returns, the covariance, and each position's exposure.

* **Returns** are *simple* daily returns (``close_t / close_{t-1} - 1``), the usual choice for
  VaR: a position's P&L over a day is its exposure times the return, exactly. Closes are
  matched by UTC day (``ts // 86400``); a day missing from any series is dropped from all
  (``align_closes``), then the last ``lookback`` returns (250 unless told) are kept.
* **Covariance** (``covariance``): equally weighted by default, or exponentially weighted
  (``decay`` = lambda, RiskMetrics' 0.94 for daily data): the newest return weighs
  ``(1 - lambda)`` relative, each older one lambda times the one after it; the weights are
  normalised to sum to 1 (``ewma_weights``) and applied to returns around their weighted mean.
* **Exposures** (``Exposure``) are in the base currency, as floats (the model's figures; the
  account's amounts stay Decimal elsewhere and come in as Decimal): equities, ETFs, crypto and
  FX at market value (signed); futures at multiplier x price x qty, on their root's returns;
  options at their delta-equivalent, delta x multiplier x qty x spot, on the underlying's
  returns (what the parametric method sees), and kept as options (``OptionTerms``: strike,
  time left, IV, right) for full revaluation. A foreign-currency position is converted at
  today's rate and moves with its currency too: its factor's daily closes are the local close x
  that day's rate, so each return is (1 + r_local)(1 + r_fx) - 1
  (``workstation.risk.portfolio_model.foreign_factor``); foreign cash is an exposure to its
  rate (an option keeps its underlying's local returns: its currency's moves are not modelled).

``PortfolioRisk`` holds it all: the factors (distinct symbols whose returns drive the
positions: an option's underlying, a future's root), their aligned return matrix (days x
factors), the benchmark's returns (SPY unless told), and the positions with their labels
(sector, asset class, strategy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from workstation.core.model import Bar

__all__ = [
    "LOOKBACK", "RISKMETRICS_DECAY", "Exposure", "OptionTerms", "PortfolioRisk", "ReturnMatrix", "align_closes",
    "covariance", "ewma_weights", "exposure_value", "returns_from_bars", "simple_returns",
]

LOOKBACK = 250  # daily returns kept unless told
RISKMETRICS_DECAY = 0.94  # RiskMetrics' lambda for daily returns
DAY = 86_400


@dataclass(frozen=True, slots=True)
class ReturnMatrix:
    """Simple daily returns of ``symbols`` on ``days`` (UTC day numbers of each return's close),
    oldest first: ``values[t, j]`` is symbol j's return into day t."""

    symbols: tuple[str, ...]
    days: tuple[int, ...]
    values: np.ndarray  # (len(days), len(symbols)), float64

    def column(self, symbol: str) -> np.ndarray:
        return self.values[:, self.symbols.index(symbol)]


def _daily(bars: Sequence[Bar]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted UTC days, the close of each: the last bar of a day wins), positive closes only."""
    days = np.fromiter((b.ts for b in bars), dtype=np.float64, count=len(bars)) // DAY
    closes = np.fromiter((b.close for b in bars), dtype=np.float64, count=len(bars))
    order = np.argsort(days, kind="stable")
    days, closes = days[order].astype(np.int64), closes[order]
    last = np.ones(len(days), dtype=bool)
    last[:-1] = days[1:] != days[:-1]
    keep = last & (closes > 0)
    return days[keep], closes[keep]


def _align(columns: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[tuple[int, ...], np.ndarray]:
    if not columns:
        return (), np.empty((0, 0))
    common = columns[0][0]
    for d, _ in columns[1:]:
        common = np.intersect1d(common, d, assume_unique=True)
    closes = np.empty((len(common), len(columns)))
    for j, (d, c) in enumerate(columns):
        closes[:, j] = c[np.searchsorted(d, common)]
    return tuple(common.tolist()), closes


def align_closes(series: Mapping[str, Mapping[int, float]]) -> tuple[tuple[int, ...], np.ndarray]:
    """(the days every series has a positive close, sorted; closes days x series in the mapping's order)."""
    columns = []
    for closes in series.values():
        d = np.fromiter(closes.keys(), dtype=np.int64, count=len(closes))
        c = np.fromiter(closes.values(), dtype=np.float64, count=len(closes))
        order = np.argsort(d)
        keep = c[order] > 0
        columns.append((d[order][keep], c[order][keep]))
    return _align(columns)


def simple_returns(closes: np.ndarray) -> np.ndarray:
    """Simple returns along the first axis (one fewer row)."""
    return closes[1:] / closes[:-1] - 1.0


def returns_from_bars(bars: Mapping[str, Sequence[Bar]], lookback: int = LOOKBACK) -> ReturnMatrix:
    """Aligned simple daily returns of every series in ``bars`` (symbol -> daily bars), the last
    ``lookback`` of them."""
    if lookback < 1:
        raise ValueError("the lookback is at least 1 day")
    names = tuple(bars)
    days, closes = _align([_daily(b) for b in bars.values()])
    if len(days) < 2:
        return ReturnMatrix(names, (), np.empty((0, len(names))))
    r = simple_returns(closes)[-lookback:]
    return ReturnMatrix(names, days[1:][-lookback:], r)


def ewma_weights(n: int, decay: float | None) -> np.ndarray:
    """Weights of ``n`` observations, oldest first, summing to 1: equal without ``decay``, else
    proportional to decay**(age in days) (the newest has age 0)."""
    if n <= 0:
        return np.empty(0)
    if decay is None:
        return np.full(n, 1.0 / n)
    if not 0.0 < decay < 1.0:
        raise ValueError("the decay (lambda) is between 0 and 1, e.g. 0.94")
    w = decay ** np.arange(n - 1, -1, -1, dtype=np.float64)
    return w / w.sum()


def covariance(returns: np.ndarray, decay: float | None = None) -> np.ndarray:
    """Covariance of the columns of ``returns`` (days x series), equally or exponentially weighted
    (a weighted population covariance around the weighted mean)."""
    n = returns.shape[0]
    w = ewma_weights(n, decay)
    centred = returns - w @ returns
    return (centred * w[:, None]).T @ centred


@dataclass(frozen=True, slots=True)
class OptionTerms:
    """What full revaluation needs of an option position (per share; ``units`` = signed qty x
    multiplier x the base-currency rate, so units x price change is the P&L in the base currency)."""

    units: float
    spot: float
    strike: float
    years: float  # time left to expiry now
    vol: float  # implied volatility
    call: bool
    rate: float = 0.04
    div: float = 0.0


@dataclass(frozen=True, slots=True)
class Exposure:
    """One position as the model sees it. ``value``: its delta-equivalent exposure in the base
    currency (signed; an option's delta x multiplier x qty x spot); ``factor``: the symbol whose
    returns move it."""

    symbol: str
    factor: str
    value: float
    asset_class: str
    sector: str
    strategy: str = "manual"
    option: OptionTerms | None = None


def exposure_value(qty: Decimal, multiplier: Decimal, price: Decimal, rate: Decimal = Decimal(1)) -> float:
    """A linear position's signed exposure in the base currency: qty x multiplier x price x rate,
    computed in Decimal and handed to the model as a float."""
    return float(qty * multiplier * price * rate)


@dataclass(frozen=True, slots=True)
class PortfolioRisk:
    """Everything the risk report needs, headless. ``returns``: the factors' aligned returns
    (``returns.symbols`` are the factors); ``benchmark``: the benchmark's returns on the same
    days (None when it has no history); ``equity``: the account's equity in the base currency
    (the portfolio beta's denominator); ``decay``: EWMA lambda of the covariance (None: equal
    weights)."""

    positions: tuple[Exposure, ...]
    returns: ReturnMatrix
    benchmark: np.ndarray | None = None
    benchmark_symbol: str = "SPY"
    equity: float = 0.0
    base_currency: str = "USD"
    decay: float | None = None
    cov: np.ndarray | None = field(default=None)  # the factors' covariance when already known (a cache)
    left_out: tuple[str, ...] = ()  # "SYMBOL: why" for each held position the model could not take

    def factor_index(self) -> np.ndarray:
        """Each position's column in the return matrix."""
        where = {s: j for j, s in enumerate(self.returns.symbols)}
        return np.array([where[p.factor] for p in self.positions], dtype=np.intp)

    def exposures(self) -> np.ndarray:
        return np.array([p.value for p in self.positions], dtype=np.float64)

    def covariance(self) -> np.ndarray:
        return self.cov if self.cov is not None else covariance(self.returns.values, self.decay)
