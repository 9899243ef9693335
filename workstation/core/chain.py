"""Option chains: one underlying's listed contracts with their quotes, implied volatility and Greeks.

A broker (or the paper market) answers ``option_chain(underlying, expiry)`` with an
``OptionChain``: the expiries it lists, and the contracts of one expiry with their bid, ask,
last, volume and open interest. ``with_greeks`` fills in what the engine computes from the
quotes: each contract's implied volatility from its mid, and its Black-Scholes-Merton Greeks
at that volatility (``workstation.core.options``), all contracts at once. Greeks a broker
sends itself (``greeks_source="broker"``) are kept as they came; only missing ones are
computed.

Figures are floats (model outputs, like quotes); ``None`` means "not known" and shows as
blank, never as zero: a contract with no two-sided quote or outside arbitrage bounds has
no IV and no Greeks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import msgspec
import numpy as np

from workstation.core.model import Right
from workstation.core.options import bsm_greeks, implied_vol, year_fraction


class OptionQuote(msgspec.Struct, frozen=True, kw_only=True):
    """One contract of a chain: its quote and, when known, its IV and Greeks (per share)."""

    symbol: str  # the engine's option symbol, e.g. AAPL-2026-12-18-200-C
    expiry: date
    strike: Decimal
    right: Right
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    volume: float | None = None
    open_interest: float | None = None
    iv: float | None = None  # annualised, 0.25 = 25%
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None  # per calendar day
    vega: float | None = None  # per vol point (1%)
    rho: float | None = None  # per rate point (1%)

    @property
    def mid(self) -> float | None:
        if self.bid is None or self.ask is None or self.bid <= 0 or self.ask < self.bid:
            return None
        return (self.bid + self.ask) / 2.0


class OptionChain(msgspec.Struct, frozen=True, kw_only=True):
    """The contracts of one underlying and one expiry, and every expiry listed."""

    underlying: str
    spot: float | None  # the underlying's price the figures use (mid, else last)
    ts: float  # epoch seconds of the quotes
    expiries: tuple[date, ...]
    expiry: date | None  # the expiry of ``contracts``
    contracts: tuple[OptionQuote, ...] = ()
    rate: float = 0.04  # risk-free rate, continuous
    dividend_yield: float = 0.0  # continuous
    multiplier: Decimal = Decimal(100)
    greeks_source: str = "model"  # "model": computed here from the mids; "broker": as the venue sent them

    def strikes(self) -> list[Decimal]:
        return sorted({c.strike for c in self.contracts})

    def atm_strike(self) -> Decimal | None:
        """The listed strike nearest the spot (the lower one on a tie)."""
        strikes = self.strikes()
        if not strikes or self.spot is None:
            return None
        spot = Decimal(repr(self.spot))
        return min(strikes, key=lambda k: (abs(k - spot), k))

    def around_atm(self, count: int) -> OptionChain:
        """Only the ``count`` strikes nearest the money (both rights of each)."""
        strikes = self.strikes()
        atm = self.atm_strike()
        if atm is None or count >= len(strikes):
            return self
        i = strikes.index(atm)
        lo = max(0, min(i - count // 2, len(strikes) - count))
        keep = set(strikes[lo : lo + count])
        return msgspec.structs.replace(self, contracts=tuple(c for c in self.contracts if c.strike in keep))


_FIELDS = ("iv", "delta", "gamma", "theta", "vega", "rho")


def with_greeks(chain: OptionChain, now: float) -> OptionChain:
    """The chain with each contract's IV (from its mid) and Greeks filled in where missing.

    A figure the venue sent is kept; one it left out (IB and binance send no rho) is computed
    at the venue's IV, or at the IV of the contract's mid when the venue sent none."""
    incomplete = [i for i, c in enumerate(chain.contracts) if any(getattr(c, f) is None for f in _FIELDS)]
    if not incomplete or chain.spot is None or chain.spot <= 0:
        return chain
    rows: Sequence[OptionQuote] = [chain.contracts[i] for i in incomplete]
    n = len(rows)
    mids = np.array([c.mid if c.mid is not None else np.nan for c in rows], dtype=np.float64)
    strike = np.array([float(c.strike) for c in rows])
    years = np.array([year_fraction(c.expiry, now) for c in rows])
    call = np.array([c.right is Right.CALL for c in rows])
    spot = np.full(n, float(chain.spot))
    iv = np.array([c.iv if c.iv is not None else np.nan for c in rows])
    need = np.isnan(iv)
    if need.any():
        iv = np.where(need, implied_vol(mids, spot, strike, years, chain.rate, chain.dividend_yield, call), iv)
    g = bsm_greeks(spot, strike, years, chain.rate, chain.dividend_yield, np.where(np.isnan(iv), 0.2, iv), call)
    out = list(chain.contracts)
    for j, i in enumerate(incomplete):
        c = rows[j]
        if np.isnan(iv[j]):
            continue
        values = {
            "iv": float(iv[j]), "delta": float(g.delta[j]), "gamma": float(g.gamma[j]),
            "theta": float(g.theta[j]), "vega": float(g.vega[j]), "rho": float(g.rho[j]),
        }
        out[i] = msgspec.structs.replace(c, **{k: v for k, v in values.items() if getattr(c, k) is None})
    return msgspec.structs.replace(chain, contracts=tuple(out))
