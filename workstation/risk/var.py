"""Portfolio VaR and CVaR, their decomposition by position, sector, asset class and strategy,
the holdings' correlation, betas and the diversification ratio: ``risk_report``.

All figures are losses in the base currency as positive numbers (floats: model figures), for
today's exposures (``workstation.risk.returns.PortfolioRisk``). Three methods:

* ``historical``: each past day's returns (the lookback, 250 days unless told) applied to
  today's exposures (an option through its delta) give a P&L per day. VaR at confidence c is
  minus the (1 - c) percentile of those P&Ls (linear interpolation, as ``numpy.percentile`` and
  empyrical's ``value_at_risk``); CVaR is minus the mean of the worst ``int((n - 1)(1 - c)) + 1``
  days (empyrical's ``conditional_value_at_risk``).
* ``parametric`` (variance-covariance, normal, zero mean): sigma = sqrt(w' Sigma w) with w the
  exposures and Sigma the returns' covariance (equal or EWMA weights); VaR = z_c x sigma,
  CVaR = sigma x pdf(z_c) / (1 - c).
* ``full`` (full revaluation): as historical, but each option is repriced by
  Black-Scholes-Merton (``workstation.core.options.bsm_price``) at its implied volatility with
  the underlying moved by the day's return and the horizon's days taken off its time left;
  linear positions as in ``historical``. All scenarios x options in one vectorized call.

**Horizons.** Parametric figures scale by sqrt(h). Historical and full revaluation scale each
past day's return by sqrt(h) (not overlapping h-day returns: 250 days hold only 25 independent
10-day periods), so linear positions' historical VaR scales exactly by sqrt(h), while an
option's repricing sees the scaled move and h days less of time value (its convexity counts).

**Decomposition** at one confidence and horizon (99%, 1 day unless told), per method, each
position's component summing to the method's VaR:

* parametric (Euler): marginal VaR_i = z x (Sigma w)_i / sigma, component_i = w_i x marginal_i;
* historical and full: component CVaR_i = minus the position's mean P&L on the CVaR's tail
  days (these sum exactly to the CVaR); component VaR_i = component CVaR_i x VaR / CVaR (the
  same shares of the VaR: a single percentile day is too noisy to split).

Components add up to sectors, asset classes and strategies (``GroupRisk``). Betas are to the
benchmark's returns with the covariance's weights; the portfolio's beta is sum(w_i x beta_i) /
equity (``beta_exposure`` is that sum: the benchmark exposure that moves like the portfolio).
The diversification ratio is sum(|w_i| x sigma_i) / sigma (1 for a single asset).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from statistics import NormalDist

import msgspec
import numpy as np

from workstation.risk.returns import PortfolioRisk

_NORMAL = NormalDist()  # the normal quantile, from the standard library (no scipy import for it)

__all__ = [
    "METHODS", "MIN_DAYS", "GroupRisk", "PositionRisk", "RiskModelError", "RiskReport", "VarFigure",
    "historical_cvar", "historical_var", "risk_report", "scenario_pnl",
]

METHODS = ("historical", "parametric", "full")
MIN_DAYS = 20  # fewer common days of returns than this: no figures
_EPOCH = date(1970, 1, 1)


class RiskModelError(ValueError):
    """Why no report can be made, in one line (no positions, not enough history, bad arguments)."""


class VarFigure(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    confidence: float
    horizon: int  # days
    var: float
    cvar: float


class PositionRisk(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    factor: str  # the symbol whose returns move it
    asset_class: str
    sector: str
    strategy: str
    exposure: float  # delta-equivalent, base currency, signed
    vol: float  # daily volatility of the factor's returns
    beta: float | None  # to the benchmark (None without its history)
    marginal_var: float  # parametric: VaR per unit of exposure (at the decomposition's confidence and horizon)
    component_var: dict[str, float]  # method -> this position's share of the VaR
    component_cvar: dict[str, float]  # method -> share of the CVaR


class GroupRisk(msgspec.Struct, frozen=True, kw_only=True):
    by: str  # "sector", "asset_class" or "strategy"
    name: str
    exposure: float
    component_var: dict[str, float]
    component_cvar: dict[str, float]


class RiskReport(msgspec.Struct, frozen=True, kw_only=True):
    """What every face shows; plain fields (``msgspec.json.encode`` gives the JSON document)."""

    base_currency: str
    benchmark: str
    days: int  # returns the figures are drawn from
    first_day: str  # ISO dates of the first and last return
    last_day: str
    decay: float | None  # EWMA lambda of the covariance, None: equal weights
    figures: list[VarFigure]
    decomposition_confidence: float
    decomposition_horizon: int
    positions: list[PositionRisk]
    groups: list[GroupRisk]
    correlation_symbols: list[str]
    correlation: list[list[float]]  # of the factors' returns (0 where a series is flat)
    portfolio_vol: float  # daily, base currency (parametric sigma)
    beta: float | None
    beta_exposure: float | None
    diversification_ratio: float | None
    left_out: list[str]  # "SYMBOL: why" for held positions not in the figures

    def figure(self, method: str, confidence: float, horizon: int) -> VarFigure | None:
        for f in self.figures:
            if f.method == method and f.horizon == horizon and math.isclose(f.confidence, confidence):
                return f
        return None


# -- the historical estimators (on one P&L or return series)
def historical_var(pnl: np.ndarray, confidence: float) -> float:
    """Minus the (1 - confidence) percentile of ``pnl`` (linear interpolation, as
    ``numpy.percentile``; by partition, a few microseconds for 250 days)."""
    n = len(pnl)
    pos = (n - 1) * (1.0 - confidence)
    lo = int(pos)
    hi = min(lo + 1, n - 1)
    part = np.partition(pnl, (lo, hi)) if hi > lo else np.partition(pnl, lo)
    a, b = float(part[lo]), float(part[hi])
    return -(a + (pos - lo) * (b - a))


def _tail(pnl: np.ndarray, confidence: float) -> np.ndarray:
    k = int((len(pnl) - 1) * (1.0 - confidence))
    return np.argpartition(pnl, k)[: k + 1]


def historical_cvar(pnl: np.ndarray, confidence: float) -> float:
    """Minus the mean of the worst ``int((n - 1)(1 - confidence)) + 1`` values of ``pnl``."""
    return -float(pnl[_tail(pnl, confidence)].mean())


# -- scenarios
def scenario_pnl(inputs: PortfolioRisk, horizon: int = 1, *, full: bool = False) -> np.ndarray:
    """Each past day's P&L per position (days x positions) for today's exposures, the day's
    returns scaled by sqrt(horizon); ``full``: options repriced rather than taken at their delta."""
    idx = inputs.factor_index()
    moves = inputs.returns.values[:, idx] * math.sqrt(horizon)  # days x positions
    pnl = moves * inputs.exposures()
    if full:
        cols = [j for j, p in enumerate(inputs.positions) if p.option is not None]
        if cols:
            pnl[:, cols] = _revalue(inputs, cols, moves[:, cols], horizon)
    return pnl


def _revalue(inputs: PortfolioRisk, cols: list[int], moves: np.ndarray, horizon: int) -> np.ndarray:
    from workstation.core.options import bsm_price

    terms = [inputs.positions[j].option for j in cols]
    units, spot, strike, years, vol, rate, div = (
        np.array([getattr(t, name) for t in terms], dtype=np.float64)
        for name in ("units", "spot", "strike", "years", "vol", "rate", "div")
    )
    call = np.array([t.call for t in terms])  # type: ignore[union-attr]
    now = bsm_price(spot, strike, years, rate, div, vol, call)
    moved = spot * np.maximum(1.0 + moves, 1e-9)
    later = bsm_price(moved, strike, np.maximum(years - horizon / 365.0, 0.0), rate, div, vol, call)
    return (later - now) * units


# -- the report
def risk_report(
    inputs: PortfolioRisk,
    methods: Sequence[str] = METHODS,
    confidence: Sequence[float] = (0.95, 0.99),
    horizons: Sequence[int] = (1, 10),
    decompose: tuple[float, int] = (0.99, 1),
) -> RiskReport:
    """VaR and CVaR by ``methods`` at each confidence and horizon (days), the decomposition at
    ``decompose`` (confidence, horizon), correlation, betas and the diversification ratio."""
    _check(inputs, methods, confidence, horizons, decompose)
    ndtri = _NORMAL.inv_cdf

    n = len(inputs.positions)
    idx = inputs.factor_index()
    w = inputs.exposures()
    cov = inputs.covariance()
    sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
    f = np.bincount(idx, weights=w, minlength=len(inputs.returns.symbols))  # exposure per factor
    g = cov @ f
    sigma = math.sqrt(max(float(f @ g), 0.0))
    has_options = any(p.option is not None for p in inputs.positions)

    figures: list[VarFigure] = []
    comp_var: dict[str, np.ndarray] = {}
    comp_cvar: dict[str, np.ndarray] = {}
    dc, dh = decompose
    scenarios: dict[tuple[bool, int], np.ndarray] = {}

    def pnl_of(full: bool, h: int) -> np.ndarray:
        key = (full and has_options, h)
        if key not in scenarios:
            scenarios[key] = scenario_pnl(inputs, h, full=key[0])
        return scenarios[key]

    for method in methods:
        for h in horizons:
            for c in confidence:
                if method == "parametric":
                    z = float(ndtri(c))
                    var = z * sigma * math.sqrt(h)
                    cvar = sigma * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) / (1.0 - c) * math.sqrt(h)
                else:
                    total = pnl_of(method == "full", h).sum(axis=1)
                    var, cvar = historical_var(total, c), historical_cvar(total, c)
                figures.append(VarFigure(method=method, confidence=c, horizon=h, var=var, cvar=cvar))
        if method == "parametric":
            z = float(ndtri(dc))
            scale = math.sqrt(dh) / sigma if sigma > 0 else 0.0
            comp_var[method] = w * g[idx] * z * scale
            es = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) / (1.0 - dc)
            comp_cvar[method] = w * g[idx] * es * scale
        else:
            per = pnl_of(method == "full", dh)
            total = per.sum(axis=1)
            tail = _tail(total, dc)
            cc = -per[tail].mean(axis=0)
            cvar, var = float(cc.sum()), historical_var(total, dc)
            comp_cvar[method] = cc
            comp_var[method] = cc * (var / cvar) if cvar != 0 else np.zeros(n)

    marginal = (float(ndtri(dc)) * g[idx] / sigma * math.sqrt(dh)) if sigma > 0 else np.zeros(n)
    betas, bench_ok = _betas(inputs, cov)
    pos_beta = betas[idx] if bench_ok else None
    positions = [
        PositionRisk(
            symbol=p.symbol, factor=p.factor, asset_class=p.asset_class, sector=p.sector, strategy=p.strategy,
            exposure=float(w[i]), vol=float(sd[idx[i]]),
            beta=float(pos_beta[i]) if pos_beta is not None else None, marginal_var=float(marginal[i]),
            component_var={m: float(v[i]) for m, v in comp_var.items()},
            component_cvar={m: float(v[i]) for m, v in comp_cvar.items()},
        )
        for i, p in enumerate(inputs.positions)
    ]
    beta_exposure = float(w @ pos_beta) if pos_beta is not None else None
    if beta_exposure is not None:
        denominator = inputs.equity or float(w.sum())
        beta = beta_exposure / denominator if denominator else None
    else:
        beta = None
    days = inputs.returns.days
    return RiskReport(
        base_currency=inputs.base_currency, benchmark=inputs.benchmark_symbol, days=len(days),
        first_day=str(_EPOCH + timedelta(days=days[0])), last_day=str(_EPOCH + timedelta(days=days[-1])),
        decay=inputs.decay, figures=figures, decomposition_confidence=dc, decomposition_horizon=dh,
        positions=positions, groups=_groups(positions), correlation_symbols=list(inputs.returns.symbols),
        correlation=_correlation(cov, sd), portfolio_vol=sigma, beta=beta, beta_exposure=beta_exposure,
        diversification_ratio=float(np.abs(w) @ sd[idx]) / sigma if sigma > 0 else None,
        left_out=list(inputs.left_out),
    )


def _check(inputs: PortfolioRisk, methods: Sequence[str], confidence: Sequence[float], horizons: Sequence[int],
           decompose: tuple[float, int]) -> None:
    if not inputs.positions:
        if inputs.left_out:
            raise RiskModelError(f"no position could be measured: {'; '.join(inputs.left_out)}")
        raise RiskModelError("no open positions: nothing to measure")
    days = len(inputs.returns.days)
    if days < MIN_DAYS:
        raise RiskModelError(f"not enough history: {days} common days of returns (at least {MIN_DAYS} needed)")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise RiskModelError(f"unknown method {unknown[0] if unknown else '(none)'}: choose {', '.join(METHODS)}")
    if any(not 0.5 <= c < 1.0 for c in (*confidence, decompose[0])):
        raise RiskModelError("confidence is between 0.5 and 1, e.g. 0.99")
    if any(h < 1 for h in (*horizons, decompose[1])):
        raise RiskModelError("a horizon is at least 1 day")


def _betas(inputs: PortfolioRisk, cov: np.ndarray) -> tuple[np.ndarray, bool]:
    """Each factor's beta to the benchmark, with the covariance's weights."""
    from workstation.risk.returns import ewma_weights

    b = inputs.benchmark
    if b is None or len(b) != len(inputs.returns.days):
        return np.empty(0), False
    wts = ewma_weights(len(b), inputs.decay)
    r = inputs.returns.values
    bc = b - wts @ b
    var = float(wts @ (bc * bc))
    if var <= 0:
        return np.empty(0), False
    return ((r - wts @ r) * wts[:, None]).T @ bc / var, True


def _correlation(cov: np.ndarray, sd: np.ndarray) -> list[list[float]]:
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(sd, sd)
    corr = np.where(np.isfinite(corr), np.clip(corr, -1.0, 1.0), 0.0)
    np.fill_diagonal(corr, 1.0)
    return corr.tolist()


def _groups(positions: list[PositionRisk]) -> list[GroupRisk]:
    out: dict[tuple[str, str], tuple[float, dict[str, float], dict[str, float]]] = {}
    for p in positions:
        for by, name in (("sector", p.sector), ("asset_class", p.asset_class), ("strategy", p.strategy)):
            exp, cv, cc = out.get((by, name), (0.0, {}, {}))
            for m, v in p.component_var.items():
                cv[m] = cv.get(m, 0.0) + v
            for m, v in p.component_cvar.items():
                cc[m] = cc.get(m, 0.0) + v
            out[(by, name)] = (exp + p.exposure, cv, cc)
    return [
        GroupRisk(by=by, name=name, exposure=exp, component_var=cv, component_cvar=cc)
        for (by, name), (exp, cv, cc) in out.items()
    ]
