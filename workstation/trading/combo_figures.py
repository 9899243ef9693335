"""A combo order's review figures as every face receives them (``Review.combo``): the types
only, without numpy, so that the order manager and a face that shows a review do not load the
pricing (``workstation.trading.payoff`` computes them)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from workstation.core.model import Side


class LegFigures(msgspec.Struct, frozen=True, kw_only=True):
    """One leg as the order trades it: its effective side, its quantity, its quote and model figures."""

    symbol: str
    side: Side
    qty: Decimal
    bid: float | None = None
    ask: float | None = None
    iv: float | None = None
    delta: float | None = None  # per share


class ComboFigures(msgspec.Struct, frozen=True, kw_only=True):
    """A combo order's figures for its review (whole order, money in the account's currency)."""

    description: str
    legs: tuple[LegFigures, ...]
    multiplier: Decimal
    net_price: Decimal | None  # per unit, as the order's limit reads (or the legs' mid for a market order)
    net_mid: Decimal | None  # per unit bought, from the legs' mids
    cash: Decimal | None  # paid (> 0, a debit) or received (< 0, a credit) for the whole order at net_price
    payoff: str  # "expiry" (exact), "estimated" (calendar, at the front expiry), "spread" (futures calendar), "none"
    max_profit: Decimal | None = None  # None: unlimited (when payoff is not "none")
    max_loss: Decimal | None = None  # as a positive amount; None: unlimited
    breakevens: tuple[Decimal, ...] = ()
    note: str | None = None
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None
    vega: float | None = None

    @property
    def debit(self) -> bool:
        return self.cash is not None and self.cash > 0
