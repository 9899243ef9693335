"""What the portfolio Greeks are made of, as every face sees them (no numpy here: a face that
only shows them does not load the pricing): one contract's per-share figures
(``UnitGreeks``), one position's in money terms (``PositionGreeks``), sums per underlying and
for the account (``GreekTotals``, carried in the account snapshot). Units and how they are
computed: ``workstation.trading.greeks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import msgspec


@dataclass(frozen=True, slots=True)
class UnitGreeks:
    """One contract's figures per share (per unit of the underlying for a future)."""

    symbol: str
    underlying: str  # the group: an option's underlying, a future's root, else the symbol itself
    multiplier: Decimal
    spot: float | None  # the underlying's price used
    iv: float | None = None
    iv_source: str = ""  # "mid", "last known", "last", "" (not an option, or no IV)
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None  # per calendar day
    vega: float | None = None  # per vol point

    @property
    def known(self) -> bool:
        return self.delta is not None and self.spot is not None


@dataclass(frozen=True, slots=True)
class PositionGreeks:
    """One position's Greeks in money terms (see the module for each unit); None: unknown."""

    symbol: str
    underlying: str
    qty: Decimal
    unit: UnitGreeks
    delta_shares: float | None = None
    dollar_delta: float | None = None
    gamma_shares: float | None = None
    dollar_gamma: float | None = None  # per 1% move of the underlying
    theta: float | None = None  # money per day
    vega: float | None = None  # money per vol point

    @property
    def known(self) -> bool:
        return self.delta_shares is not None


class GreekTotals(msgspec.Struct, frozen=True, kw_only=True):
    """Sums over positions: one underlying's (``underlying`` set) or the account's (None).
    ``delta_shares`` and ``gamma_shares`` are None for the account (shares of different
    underlyings do not add). ``unknown`` counts positions whose Greeks could not be computed
    (left out of the sums). A msgspec Struct: it travels in the account snapshot to every face."""

    underlying: str | None
    positions: int
    delta_shares: float | None
    dollar_delta: float
    gamma_shares: float | None
    dollar_gamma: float
    theta: float
    vega: float
    unknown: int = 0
    has_options: bool = False
    beta: float | None = None  # to SPY (per underlying)
    beta_source: str = ""  # "60d" (from daily bars) or "fallback 1" (no history)
    beta_delta_spy: float | None = None  # beta-weighted delta in SPY shares
    spy_price: float | None = None


def row_fields(g: PositionGreeks | None) -> dict[str, float | None]:
    """A position's Greeks as the account snapshot's ``PositionRow`` carries them (None: unknown)."""
    if g is None or not g.known:
        return {}
    return {
        "delta": g.delta_shares, "dollar_delta": g.dollar_delta, "gamma": g.gamma_shares,
        "dollar_gamma": g.dollar_gamma, "theta": g.theta, "vega": g.vega, "iv": g.unit.iv,
    }
