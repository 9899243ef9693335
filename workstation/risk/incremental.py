"""VaR after a trade, in microseconds: what a pre-trade VaR check asks of each order.

``IncrementalVar.of(inputs)`` keeps, for today's portfolio (``PortfolioRisk``, its covariance
usually from the ``ReturnCache``): the historical P&L of each past day, the factors' returns,
and for the parametric method the factor exposures f, Sigma f and f' Sigma f. An order that
changes the exposure to factor j by d (base currency, delta-equivalent: an option order's
delta x multiplier x qty x spot, a future's multiplier x price x qty) then gives

* ``historical``: minus the (1 - c) percentile of (the P&Ls + d x factor j's returns): O(days);
* ``parametric``: z x sqrt(f' Sigma f + 2 d (Sigma f)_j + d^2 Sigma_jj): O(1).

Both are 1-day figures at today's exposures, options through their delta. Under
``var_method = "full"`` the measurement also keeps ``full``: the book's P&L on each past day
with every option repriced by Black-Scholes-Merton (``scenario_pnl(full=True)``); the check
adds the order's own per-day P&L vector to it (``after_full``: a linear order its exposure x
its factor's returns, an option order repriced on each day's underlying move at its IV, see
``workstation.risk.var_limits``) and takes the percentile: O(days).
``after`` returns None for a factor outside the cached matrix: the caller measures it (a new
symbol) first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from workstation.risk.returns import PortfolioRisk
from workstation.risk.var import historical_var, scenario_pnl

__all__ = ["IncrementalVar"]


@dataclass(frozen=True, slots=True)
class IncrementalVar:
    factors: dict[str, int]  # factor symbol -> column
    returns: np.ndarray  # days x factors
    pnl: np.ndarray  # today's portfolio's P&L on each past day (historical, delta-equivalent)
    sigma_f: np.ndarray  # Sigma f
    variance: float  # f' Sigma f
    diagonal: np.ndarray  # Sigma_jj
    full: np.ndarray | None = None  # today's portfolio's P&L on each past day, options repriced (var_method full)

    @classmethod
    def of(cls, inputs: PortfolioRisk, *, full: bool = False) -> IncrementalVar:
        idx = inputs.factor_index()
        cov = inputs.covariance()
        f = np.bincount(idx, weights=inputs.exposures(), minlength=len(inputs.returns.symbols))
        values = inputs.returns.values
        g = cov @ f
        return cls(
            factors={s: j for j, s in enumerate(inputs.returns.symbols)}, returns=values, pnl=values @ f,
            sigma_f=g, variance=float(f @ g), diagonal=np.diag(cov).copy(),
            full=scenario_pnl(inputs, 1, full=True).sum(axis=1) if full else None,
        )

    def now(self, method: str = "historical", confidence: float = 0.99) -> float:
        """Today's 1-day VaR by ``method`` (the figure an order is compared with)."""
        if method == "parametric":
            return _z(confidence) * math.sqrt(max(self.variance, 0.0))
        if method == "full" and self.full is not None:
            return historical_var(self.full, confidence)
        return historical_var(self.pnl, confidence)

    def after_full(self, order_pnl: np.ndarray, confidence: float = 0.99) -> float:
        """The 1-day full-revaluation VaR once an order whose P&L on each past day is ``order_pnl`` is added."""
        base = self.full if self.full is not None else self.pnl
        return historical_var(base + order_pnl, confidence)

    def after(self, factor: str, change: float, method: str = "historical", confidence: float = 0.99) -> float | None:
        """The 1-day VaR once the exposure to ``factor`` changes by ``change`` (None: factor not measured)."""
        j = self.factors.get(factor)
        if j is None:
            return None
        if method == "parametric":
            v = self.variance + 2.0 * change * float(self.sigma_f[j]) + change * change * float(self.diagonal[j])
            return _z(confidence) * math.sqrt(max(v, 0.0))
        return historical_var(self.pnl + change * self.returns[:, j], confidence)


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(confidence)
