"""Futures margin: what a position or an order ties up, per contract.

A future settles only its P&L, so the money it ties up is its margin, not its notional:
the *initial* margin to open a contract, the *maintenance* margin below which the account
gets a margin call. Each root's figures per contract come from the contract table
(``workstation.core.symbols.FUTURES_MARGIN``) unless the profile overrides them
(``[profiles.NAME.margins] ES = { initial = 16000, maintenance = 14500 }``); a root in
neither is margined at ``UNLISTED_MARGIN_PCT`` of its notional at the price given.

Figures are in the contract's currency; the portfolio converts them to the base currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from workstation.core.model import ZERO, AssetClass, Instrument
from workstation.core.symbols import FUTURES_MARGIN, UNLISTED_MARGIN_PCT

HUNDRED = Decimal(100)


class _Figures(Protocol):  # ``workstation.core.config.FutureMargin``
    @property
    def initial(self) -> Decimal: ...

    @property
    def maintenance(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class ContractMargin:
    """One contract's margin at a price, in its currency."""

    initial: Decimal
    maintenance: Decimal
    source: str  # "table", "settings" or "% of notional"


class MarginTable:
    """Per-contract margin of every futures root: the contract table, then the profile's overrides."""

    def __init__(self, overrides: Mapping[str, _Figures] | None = None) -> None:
        self._fixed: dict[str, ContractMargin] = {
            root: ContractMargin(initial, maintenance, "table") for root, (initial, maintenance) in FUTURES_MARGIN.items()
        }
        for root, figures in (overrides or {}).items():
            self._fixed[root.upper()] = ContractMargin(Decimal(figures.initial), Decimal(figures.maintenance), "settings")

    def per_contract(self, inst: Instrument, price: Decimal | None) -> ContractMargin:
        """One contract of ``inst`` at ``price`` (used only for a root the table does not list)."""
        fixed = self._fixed.get(inst.underlying or "")
        if fixed is not None:
            return fixed
        notional = abs(price or ZERO) * inst.multiplier
        initial_pct, maintenance_pct = UNLISTED_MARGIN_PCT
        return ContractMargin(notional * initial_pct / HUNDRED, notional * maintenance_pct / HUNDRED, "% of notional")

    def initial(self, inst: Instrument, qty: Decimal, price: Decimal | None) -> Decimal:
        """Initial margin of ``qty`` contracts (unsigned), in the contract's currency."""
        return abs(qty) * self.per_contract(inst, price).initial

    def maintenance(self, inst: Instrument, qty: Decimal, price: Decimal | None) -> Decimal:
        """Maintenance margin of ``qty`` contracts (unsigned), in the contract's currency."""
        return abs(qty) * self.per_contract(inst, price).maintenance


def is_margined(inst: Instrument) -> bool:
    """Instruments whose buying power is their margin rather than their notional: futures."""
    return inst.asset_class is AssetClass.FUTURE
