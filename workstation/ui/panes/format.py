"""The panes' names for the number formats of ``workstation.core.formatting`` (one module serves every face)."""

from __future__ import annotations

from decimal import Decimal

from workstation.core import formatting as f
from workstation.core.model import IntentError, ModelError


def money(d: Decimal | None) -> str:
    """Two decimals and thousands separators; never ``-0.00``."""
    return f.money(d)


def signed(d: Decimal) -> tuple[str, str]:
    """Signed money and its palette role (up, down or none)."""
    return f.signed_money(d), f.pnl_role(d)


def num(d: Decimal | None) -> str:
    """A quantity or count as exact as it is, with separators."""
    return f.quantity(d)


def price(d: Decimal | None, digits: int | None = None) -> str:
    """A price at the instrument's tick digits when given, else at its own decimals (two to six)."""
    return f.price(d, digits)


def digits_of(app: object, symbol: str) -> int | None:
    """The tick digits of ``symbol`` from the app's instruments (None when it has none for it)."""
    instrument = getattr(app, "instrument", None)
    if instrument is None:
        return None
    try:
        return f.tick_digits(instrument(symbol).tick_size)
    except (IntentError, ModelError):
        return None
