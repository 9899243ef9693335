"""Number formatting shared by the panes (money with thousands separators, signed P&L)."""

from __future__ import annotations

from decimal import Decimal

from workstation.core.model import plain


def money(d: Decimal | None) -> str:
    return "" if d is None else f"{d:,.2f}"


def signed(d: Decimal) -> tuple[str, str]:
    """Signed money and its palette role (up, down or none)."""
    return f"{d:+,.2f}", "up" if d > 0 else "down" if d < 0 else ""


def num(d: Decimal | None) -> str:
    return "" if d is None else plain(d) or "0"


def price(d: Decimal | None, places: int = 4) -> str:
    """A price at most ``places`` decimals, trailing zeros kept to two."""
    if d is None:
        return ""
    q = d.quantize(Decimal(1).scaleb(-places)).normalize()
    text = plain(q) or "0"
    if "." not in text:
        return text + ".00"
    whole, frac = text.split(".")
    return f"{whole}.{frac.ljust(2, '0')}"
