"""How numbers read on every face: prices, money, P&L, quantities, percentages, durations.

The workstation's panes and screens, the command line and the reports all format through
these functions, so one number reads the same everywhere:

* a price has the instrument's tick digits (EUR/USD ``1.08512``, USD/JPY ``151.234``,
  AAPL ``187.25``, BTC/USD ``95,012.50``), with thousands separators;
* money has two decimals and thousands separators (``100,000.00``); P&L carries its sign
  (``+223.00``, ``-1,204.50``);
* nothing ever reads ``-0.00``: an amount that rounds to zero is zero, without a minus;
* a quantity is as exact as it is (``100``, ``0.0025``), with separators (``12,500``);
* a duration is in the unit a person would use (``45 s``, ``12 min``, ``5.5 h``,
  ``2.2 days``, ``5,392 days``), never ``5,392.000``.

Every function takes a ``Decimal`` (money is never a float here); ints are accepted, and a
float (an analytics figure) is read through its shortest repr. A value that is not a
finite number reads ``—``.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

DASH = "—"
_CTX = Context(prec=120, rounding=ROUND_HALF_EVEN)  # wide enough that quantize never overflows
MAX_PRICE_DIGITS = 8


def _dec(value: Decimal | int | float) -> Decimal | None:
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, bool):
        d = Decimal(int(value))
    elif isinstance(value, int):
        d = Decimal(value)
    else:
        try:
            d = Decimal(repr(float(value)))
        except (InvalidOperation, ValueError, TypeError):
            return None
    return d if d.is_finite() else None


def _fixed(d: Decimal | float, places: int, sign: str = "") -> str:
    """``d`` at ``places`` decimals with separators; a value that rounds to zero has no minus."""
    if isinstance(d, float):  # market data (quotes are floats): the fast path, as often as quotes repaint
        text = format(d, f"{sign},.{places}f")
        if text[0] == "-" and not text.strip("-0.,"):
            text = format(0.0, f"{sign},.{places}f")
        return text
    q = d.quantize(Decimal(1).scaleb(-places), context=_CTX)
    if q.is_zero():
        q = q.copy_abs()
    return format(q, f"{sign},.{places}f")


def tick_digits(tick: Decimal | None) -> int:
    """How many decimals a tick size has: 0.01 → 2, 0.00005 → 5, 0.25 → 2, 1 → 0."""
    if tick is None or not tick.is_finite() or tick <= 0:
        return 2
    exp = tick.normalize().as_tuple().exponent
    return min(MAX_PRICE_DIGITS, max(0, -exp)) if isinstance(exp, int) else 2


def own_digits(d: Decimal, least: int = 2, most: int = 6) -> int:
    """The decimals a price needs to read exactly, between ``least`` and ``most``."""
    exp = d.normalize().as_tuple().exponent
    need = max(0, -exp) if isinstance(exp, int) else least
    return max(least, min(most, need))


def price(value: Decimal | int | float | None, digits: int | None = None) -> str:
    """A price at ``digits`` decimals (the instrument's tick digits), with separators.

    Without ``digits`` the price shows as many decimals as it has, from two to six.
    """
    if value is None:
        return ""
    if isinstance(value, float) and digits is not None:
        return _fixed(value, max(0, digits)) if math.isfinite(value) else DASH
    d = _dec(value)
    if d is None:
        return DASH
    return _fixed(d, own_digits(d) if digits is None else max(0, digits))


def price_change(value: Decimal | int | float, digits: int) -> str:
    """A move in price at the tick digits, always signed: ``+0.25``, ``-0.00012``, ``+0.00``."""
    if isinstance(value, float):
        return _fixed(value, max(0, digits), "+") if math.isfinite(value) else DASH
    d = _dec(value)
    return DASH if d is None else _fixed(d, max(0, digits), "+")


def money(value: Decimal | int | float | None) -> str:
    """An amount: two decimals and thousands separators (``-1,234.50``; never ``-0.00``)."""
    if value is None:
        return ""
    d = _dec(value)
    return DASH if d is None else _fixed(d, 2)


def signed_money(value: Decimal | int | float) -> str:
    """P&L: money with its sign (``+223.00``, ``-1,204.50``; zero reads ``+0.00``)."""
    d = _dec(value)
    return DASH if d is None else _fixed(d, 2, "+")


def dollars(value: Decimal | int | float) -> str:
    """Money in a sentence: ``$1,234.50``, ``-$20.00`` (never ``-$0.00``)."""
    text = money(value)
    return "-$" + text[1:] if text.startswith("-") else ("$" + text if text != DASH else text)


def pnl_role(value: Decimal | int | float) -> str:
    """The palette role of a P&L once rounded to the cent: up, down or none."""
    d = _dec(value)
    if d is None:
        return ""
    q = d.quantize(Decimal("0.01"), context=_CTX)
    return "up" if q > 0 else "down" if q < 0 else ""


def quantity(value: Decimal | int | float | None) -> str:
    """A quantity as exact as it is, with separators: ``100``, ``12,500``, ``0.0025``."""
    if value is None:
        return ""
    d = _dec(value)
    if d is None:
        return DASH
    if d.is_zero():
        return "0"
    exp = d.normalize(_CTX).as_tuple().exponent
    places = max(0, -exp) if isinstance(exp, int) else 0
    return _fixed(d, places)


def percent(value: Decimal | int | float | None, places: int = 2, *, signed: bool = False) -> str:
    """A percentage already in percent units: ``18.68%``, ``+1.96%`` (never ``-0.00%``)."""
    if value is None:
        return DASH
    if isinstance(value, float):
        return _fixed(value, places, "+" if signed else "") + "%" if math.isfinite(value) else DASH
    d = _dec(value)
    return DASH if d is None else _fixed(d, places, "+" if signed else "") + "%"


def ratio(value: Decimal | int | float | None, places: int = 2) -> str:
    """A dimensionless figure (Sharpe, beta, profit factor): ``1.23``, ``-0.09``."""
    if value is None:
        return DASH
    d = _dec(value)
    return DASH if d is None else _fixed(d, places)


def count(value: int) -> str:
    """A count of things: ``1,170``."""
    return f"{int(value):,}"


def duration(seconds: Decimal | int | float | None) -> str:
    """A length of time in the unit a person would say: ``45 s``, ``12 min``, ``5.5 h``, ``2.2 days``."""
    if seconds is None:
        return DASH
    d = _dec(seconds)
    if d is None:
        return DASH
    s = abs(float(d))
    if s < 60:
        return f"{round(s)} s"
    if s < 3600:
        return f"{round(s / 60)} min"
    if s < 86_400:
        hours = s / 3600
        return f"{hours:.1f} h" if hours < 10 else f"{round(hours)} h"
    return days(s / 86_400)


def days(value: Decimal | int | float | None) -> str:
    """A number of days: ``1 day``, ``2.2 days``, ``5,392 days``; under a day, in hours or less."""
    if value is None:
        return DASH
    d = _dec(value)
    if d is None:
        return DASH
    n = abs(float(d))
    if n < 1:
        return duration(n * 86_400)
    text = f"{n:.1f}" if n < 10 else f"{round(n):,}"
    text = text.removesuffix(".0")
    return f"{text} day" if text == "1" else f"{text} days"


__all__ = [
    "DASH", "count", "days", "dollars", "duration", "money", "own_digits", "percent", "pnl_role", "price",
    "price_change", "quantity", "ratio", "signed_money", "tick_digits",
]
