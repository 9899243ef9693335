"""Target weights for a rebalanced portfolio, and the trades that reach them.

Methods (``METHODS``): ``equal``; ``inverse_vol`` (each weight proportional to 1/sigma);
``min_variance`` and ``max_sharpe`` (PyPortfolioOpt's ``EfficientFrontier``, imported only
when one of them runs); ``risk_parity`` (equal risk contribution: every w_i (Sigma w)_i the
same, from Spinu's convex form ``min 1/2 y'Sigma y - sum(log y)`` solved by Newton steps,
then y normalised); ``file`` (the weights of a CSV or TOML file, ``read_weights``).

The covariance is the portfolio risk model's (``workstation.risk.returns``): aligned simple
daily returns, the last ``lookback``, equally or exponentially weighted (``decay``), the
same function the risk report uses. ``max_sharpe`` takes the (same-weighted) mean return as
its expected return; both are annualised with 252 days.

Constraints (``Constraints``): long only (bounds 0..1, else -1..1), per-symbol bounds, and
sector caps from the sector table (``workstation.core.sectors``, plus the settings'
``[sectors]``). The library's methods take them as constraints of the problem; the others'
weights are fitted to them (``fit``: clipped to the bounds, a sector over its cap scaled down
to it, and what was taken away spread over the names still free, in proportion to their
weights, until nothing moves). Impossible constraints are one line (``OptimiseError``).

Weights are model figures (floats); the trades (``plan``) are Decimal: whole lots, sells
first (what they free pays for the buys).
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path

import numpy as np

from workstation.core.model import ZERO, Bar, ModelError, Side, plain
from workstation.core.sectors import SectorMap
from workstation.risk.returns import LOOKBACK, covariance, ewma_weights, returns_from_bars

__all__ = [
    "METHODS", "Constraints", "OptimiseError", "Trade", "fit", "inverse_vol", "optimise", "plan", "read_weights",
    "risk_parity", "target_weights",
]

METHODS = ("equal", "inverse_vol", "min_variance", "max_sharpe", "risk_parity", "file")
YEAR = 252
TOLERANCE = 1e-9


class OptimiseError(ModelError):
    """The weights cannot be had: bad input, impossible constraints, too little history (one line)."""


@dataclass(frozen=True, slots=True)
class Constraints:
    """``bounds``: symbol -> (min, max) weight (others: 0..1 long only, else -1..1);
    ``sector_caps``: sector -> the most its symbols may weigh together."""

    long_only: bool = True
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    sector_caps: Mapping[str, float] = field(default_factory=dict)
    sectors: SectorMap = field(default_factory=SectorMap)

    def bound(self, symbol: str) -> tuple[float, float]:
        return self.bounds.get(symbol, (0.0, 1.0) if self.long_only else (-1.0, 1.0))

    def check(self, symbols: Sequence[str]) -> None:
        for s in symbols:
            lo, hi = self.bound(s)
            if lo > hi:
                raise OptimiseError(f"{s}: the minimum weight {lo:g} is above the maximum {hi:g}")
            if self.long_only and lo < 0:
                raise OptimiseError(f"{s}: a minimum weight below 0 is a short, and the portfolio is long only")
        for sector, cap in self.sector_caps.items():
            if cap < 0:
                raise OptimiseError(f"sector cap {sector}: {cap:g} is below 0")
        if sum(self.bound(s)[0] for s in symbols) > 1 + TOLERANCE:
            raise OptimiseError("the minimum weights add up to more than 100%")
        room = 0.0
        for sector, members in self._by_sector(symbols).items():
            floor = sum(self.bound(s)[0] for s in members)
            if floor > self.sector_caps.get(sector, floor) + TOLERANCE:
                raise OptimiseError(f"sector cap {sector}: {self.sector_caps[sector]:.1%} is below its symbols' minimum weights ({floor:.1%})")
            top = sum(self.bound(s)[1] for s in members)
            room += min(top, self.sector_caps.get(sector, top))
        if room < 1 - TOLERANCE:
            raise OptimiseError(f"the bounds and sector caps allow only {room:.1%} invested, not 100%")

    def _by_sector(self, symbols: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for s in symbols:
            out.setdefault(self.sectors.sector(s), []).append(s)
        return out


def inverse_vol(cov: np.ndarray) -> np.ndarray:
    """Weights proportional to 1/sigma (sigma: the covariance's diagonal, square-rooted)."""
    sigma = np.sqrt(np.diag(cov))
    if np.any(sigma <= 0):
        raise OptimiseError("a symbol's returns never moved: its volatility is 0")
    w = 1.0 / sigma
    return w / w.sum()


def risk_parity(cov: np.ndarray, iterations: int = 100) -> np.ndarray:
    """Long-only equal-risk-contribution weights: Newton steps on Spinu's strictly convex
    ``f(y) = 1/2 y'Sy - sum(log y)``, whose minimum has y_i (Sy)_i = 1 for every i."""
    n = cov.shape[0]
    y = inverse_vol(cov) if n else np.empty(0)
    for _ in range(iterations):
        grad = cov @ y - 1.0 / y
        hess = cov + np.diag(1.0 / (y * y))
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while np.any(y - t * step <= 0):  # stay inside y > 0
            t /= 2
        y = y - t * step
        if np.max(np.abs(grad * y)) < 1e-12:
            break
    return y / y.sum()


def fit(weights: np.ndarray, symbols: Sequence[str], constraints: Constraints) -> np.ndarray:
    """The weights moved into the bounds and under the sector caps, still summing to 1 (see the
    module's docstring)."""
    constraints.check(symbols)
    w = np.asarray(weights, dtype=np.float64).copy()
    lo = np.array([constraints.bound(s)[0] for s in symbols])
    hi = np.array([constraints.bound(s)[1] for s in symbols])
    sector = [constraints.sectors.sector(s) for s in symbols]
    base = np.where(w > 0, w, 1.0 / max(len(w), 1))  # the shares in which freed weight is spread
    for _ in range(10 * len(w) + 10):
        w = np.clip(w, lo, hi)
        pinned = w >= hi - TOLERANCE
        for name, cap in constraints.sector_caps.items():
            members = np.array([x == name for x in sector])
            total = w[members].sum()
            if total > cap + TOLERANCE:
                room = w[members] - lo[members]  # (positive: the check keeps the minimums under the cap)
                w[members] = lo[members] + room * ((cap - lo[members].sum()) / room.sum())
            if members.any() and w[members].sum() >= cap - TOLERANCE:
                pinned |= members
        gap = 1.0 - w.sum()
        if abs(gap) <= TOLERANCE:
            return w
        free = ~pinned if gap > 0 else w > lo + TOLERANCE
        if not free.any():
            break
        w[free] += gap * base[free] / base[free].sum()
    raise OptimiseError("no weights satisfy the bounds and sector caps together")


def _library(method: str, symbols: Sequence[str], cov: np.ndarray, mu: np.ndarray | None,
             constraints: Constraints, risk_free: float) -> np.ndarray:
    import pandas as pd  # (the library works on labelled frames)
    from pypfopt.efficient_frontier import EfficientFrontier
    from pypfopt.exceptions import OptimizationError

    constraints.check(symbols)
    frame = pd.DataFrame(cov, index=list(symbols), columns=list(symbols))
    expected = None if mu is None else pd.Series(mu, index=list(symbols))
    ef = EfficientFrontier(expected, frame, weight_bounds=[constraints.bound(s) for s in symbols])
    caps = {k: v for k, v in constraints.sector_caps.items()}
    if caps:
        ef.add_sector_constraints({s: constraints.sectors.sector(s) for s in symbols}, {}, caps)
    try:
        if method == "min_variance":
            ef.min_volatility()
        else:
            ef.max_sharpe(risk_free_rate=risk_free)
    except (OptimizationError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OptimiseError(f"{method.replace('_', ' ')}: {first}") from None
    return np.array([ef.weights[i] for i in range(len(symbols))], dtype=np.float64)


def optimise(method: str, symbols: Sequence[str], cov: np.ndarray, mu: np.ndarray | None = None,
             constraints: Constraints | None = None, risk_free: float = 0.0) -> dict[str, float]:
    """Target weights of ``symbols`` by ``method`` on a given (annualised) covariance; ``mu``:
    expected annual returns (``max_sharpe`` only)."""
    c = constraints or Constraints()
    symbols = list(symbols)
    if not symbols:
        raise OptimiseError("no symbols to weigh")
    if method == "equal":
        w = np.full(len(symbols), 1.0 / len(symbols))
    elif method == "inverse_vol":
        w = inverse_vol(cov)
    elif method == "risk_parity":
        w = risk_parity(cov)
    elif method in ("min_variance", "max_sharpe"):
        if method == "max_sharpe" and mu is None:
            raise OptimiseError("max sharpe needs expected returns")
        w = _library(method, symbols, cov, mu, c, risk_free)
        return dict(zip(symbols, (float(x) for x in w), strict=True))
    else:
        raise OptimiseError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
    return dict(zip(symbols, (float(x) for x in fit(w, symbols, c)), strict=True))


def target_weights(method: str, bars: Mapping[str, Sequence[Bar]], constraints: Constraints | None = None,
                   lookback: int = LOOKBACK, decay: float | None = None, risk_free: float = 0.0) -> dict[str, float]:
    """Target weights from daily bars (symbol -> bars): the risk model's aligned returns and
    covariance, annualised (``equal`` needs no history)."""
    symbols = list(bars)
    if method == "equal":
        return optimise(method, symbols, np.empty((0, 0)), constraints=constraints)
    returns = returns_from_bars(bars, lookback)
    if len(returns.days) < 2:
        raise OptimiseError(f"{method.replace('_', ' ')} needs at least 3 common daily closes of {', '.join(symbols)}")
    cov = covariance(returns.values, decay) * YEAR
    mu = ewma_weights(len(returns.days), decay) @ returns.values * YEAR
    return optimise(method, symbols, cov, mu, constraints, risk_free)


def read_weights(text: str, name: str = "weights") -> dict[str, float]:
    """``symbol,weight`` lines (CSV; a header line is allowed) or a TOML table ``SYMBOL = weight``
    (at the top or under ``[weights]``); weights are fractions (0.25) or percents ("25%"), they
    must be non-negative and add up to 100% (within 0.01%). The first problem is one line."""
    rows: list[tuple[str, object, str]] = []
    if name.lower().endswith(".toml"):
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise OptimiseError(f"{name}: not TOML ({exc})") from None
        table = doc.get("weights", doc)
        if not isinstance(table, dict):
            raise OptimiseError(f"{name}: [weights] is not a table of SYMBOL = weight")
        rows = [(k, v, f"{name}: {k}") for k, v in table.items()]
    else:
        for n, row in enumerate(csv.reader(io.StringIO(text)), 1):
            cells = [c.strip() for c in row]
            if not cells or not any(cells) or cells[0].startswith("#"):
                continue
            if n == 1 and cells[0].lower() == "symbol":
                continue
            if len(cells) != 2:
                raise OptimiseError(f"{name} line {n}: expected symbol,weight, got {','.join(cells)!r}")
            rows.append((cells[0], cells[1], f"{name} line {n}"))
    out: dict[str, float] = {}
    for symbol, value, where in rows:
        sym = str(symbol).strip().upper()
        if not sym:
            raise OptimiseError(f"{where}: no symbol")
        if sym in out:
            raise OptimiseError(f"{where}: {sym} is given twice")
        raw = str(value).strip()
        try:
            w = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
        except ValueError:
            raise OptimiseError(f"{where}: weight {raw!r} is not a number") from None
        if not np.isfinite(w) or w < 0:
            raise OptimiseError(f"{where}: weight {raw!r} must be 0 or more")
        out[sym] = w
    if not out:
        raise OptimiseError(f"{name}: no weights in it")
    total = sum(out.values())
    if abs(total - 1.0) > 1e-4:
        raise OptimiseError(f"{name}: the weights add up to {total:.2%}, not 100%")
    return out


def read_weights_file(path: Path) -> dict[str, float]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OptimiseError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return read_weights(text, str(path))


@dataclass(frozen=True, slots=True)
class Trade:
    """One order of a rebalance: whole lots, at about ``price``."""

    symbol: str
    side: Side
    qty: Decimal
    price: Decimal

    @property
    def notional(self) -> Decimal:
        return self.qty * self.price


def weight(value: float) -> Decimal:
    """A model weight as an exact fraction for money arithmetic (to 1e-8)."""
    return Decimal(repr(float(value))).quantize(Decimal("1e-8"), ROUND_HALF_EVEN)


def plan(targets: Mapping[str, float], held: Mapping[str, Decimal], prices: Mapping[str, Decimal],
         equity: Decimal, lots: Mapping[str, Decimal] | None = None, multipliers: Mapping[str, Decimal] | None = None,
         drift: float = 0.0) -> list[Trade]:
    """The trades that take ``held`` (symbol -> signed qty) to ``targets`` of ``equity``, in whole
    lots (the target quantity rounded down to a lot), sells first. A symbol held but not in
    the targets is sold. With ``drift`` > 0, nothing is traded unless some symbol's weight is
    more than ``drift`` (absolute, 0.05 = 5 points) from its target."""
    if equity <= ZERO:
        raise OptimiseError("the account's equity is not positive: nothing to rebalance")
    lots = lots or {}
    multipliers = multipliers or {}
    symbols = list(dict.fromkeys([*targets, *(s for s, q in held.items() if q != ZERO)]))
    for s in symbols:
        if prices.get(s) is None or prices[s] <= ZERO:
            raise OptimiseError(f"{s}: no price to size the trade")
    if drift > 0:
        worst = max(abs(float(held.get(s, ZERO) * prices[s] * multipliers.get(s, Decimal(1)) / equity)
                        - targets.get(s, 0.0)) for s in symbols)
        if worst <= drift:
            return []
    sells, buys = [], []
    for s in symbols:
        lot, mult = lots.get(s, Decimal(1)), multipliers.get(s, Decimal(1))
        want = equity * weight(targets.get(s, 0.0)) / (prices[s] * mult)
        want = (want / lot).quantize(Decimal(1), ROUND_DOWN) * lot  # never more than the equity buys
        delta = want - held.get(s, ZERO)
        if delta > ZERO:
            buys.append(Trade(s, Side.BUY, delta, prices[s] * mult))
        elif delta < ZERO:
            sells.append(Trade(s, Side.SELL, -delta, prices[s] * mult))
    return sells + buys


def describe(t: Trade) -> str:
    return f"{t.side.value} {plain(t.qty)} {t.symbol}"
