"""What the paper market lists for options: expiries, and the strikes of a chain.

The rules live in the universe (``brokers/paper/universe.toml``, ``[options]``): weeklies every
Friday for the next few weeks (underlyings marked ``weeklies``), monthlies on the third Friday
of the next months, quarterlies (March, June, September, December) out to two years and
January LEAPS; a Friday that is an NYSE holiday moves to the trading day before. Strikes sit on
the increment of their price band (below $25: 1, below $200: 2.5, below $1,000: 5, from
$1,000: 10) unless the listing names its own ``strike_step`` (SPY 1, SPX 5, NDX 25).

A chain shows the listed strikes around the underlying's price: within three standard
deviations of the move to expiry (at least 20%, at most 70% in log terms), on the listing's
increment for ``FINE_STRIKES`` strikes each side of the money and on a wider one beyond (1 then
2, 2.5 then 5, 5 then 25 as SPX lists them, 10 then 50, 25 then 100), at most ``MAX_STRIKES``
of them, the nearest to the money. Every strike a chain shows passes the
universe's door (``Universe.check``), so an order for any of them is accepted.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

from brokers.paper.universe import Universe, UniverseError
from workstation.core.model import AssetClass, plain

MAX_STRIKES = 120
FINE_STRIKES = 25  # strikes each side of the money on the listing's increment; beyond, the wider one
_WIDER = {Decimal(1): Decimal(2), Decimal("2.5"): Decimal(5), Decimal(5): Decimal(25), Decimal(25): Decimal(100)}


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def is_monthly(expiry: date) -> bool:
    """A monthly expiry: the third Friday of its month, or the Thursday before it when that
    Friday is a holiday."""
    friday = third_friday(expiry.year, expiry.month)
    return expiry == friday or (expiry.weekday() == 3 and friday - expiry == timedelta(days=1))


def cycle(expiry: date) -> str:
    """``"quarterly"``, ``"monthly"`` or ``"weekly"``."""
    if is_monthly(expiry):
        return "quarterly" if expiry.month % 3 == 0 else "monthly"
    return "weekly"


def _optionable(universe: Universe, underlying: str, today: date) -> str:
    """The canonical underlying, if the paper market lists options on it; else UniverseError."""
    inst = universe.check(underlying, today)
    if inst.asset_class not in (AssetClass.EQUITY, AssetClass.INDEX):
        raise UniverseError(
            f"{inst.symbol}: the paper market lists options on stocks, ETFs and indices, not on a {inst.asset_class.value}"
        )
    return inst.symbol


def expiries(universe: Universe, underlying: str, today: date) -> list[date]:
    """The listed expiries of options on ``underlying`` on ``today``, nearest first (today's
    included until it is over); UniverseError for what has no options."""
    return universe.expiries(_optionable(universe, underlying, today), today)


def check_expiry(universe: Universe, underlying: str, expiry: date | None, today: date) -> tuple[date, list[date]]:
    """(the expiry, every listed one): ``None`` means the nearest; an unlisted one is a
    UniverseError naming the nearest listed."""
    listed = expiries(universe, underlying, today)
    und = _optionable(universe, underlying, today)
    if not listed:
        raise UniverseError(f"{und} has no listed option expiries")
    if expiry is None:
        return listed[0], listed
    if expiry not in listed:
        after = [d.isoformat() for d in listed if d > expiry][:2]
        before = [d.isoformat() for d in listed if d < expiry][-1:]
        near = ", ".join(before + after) or "none"
        raise UniverseError(f"{und} options do not expire on {expiry.isoformat()} (nearest listed: {near})")
    return expiry, listed


def strikes(universe: Universe, underlying: str, spot: float, expiry: date, today: date) -> list[Decimal]:
    """The strikes a chain of ``underlying`` for ``expiry`` shows with the underlying at
    ``spot``, lowest first (see the module)."""
    und = _optionable(universe, underlying, today)
    listing = universe.listings[und]
    years = max((expiry - today).days, 1) / 365.0
    half = min(max(3.0 * listing.vol * math.sqrt(years), 0.2), 0.7)
    lo, hi = spot * math.exp(-half), spot * math.exp(half)
    inside = [Decimal(plain(k)) for k in universe.strikes(und) if lo <= float(k) <= hi]
    step = universe.strike_step(listing, Decimal(repr(spot)))
    wide = _WIDER.get(step, step * 5)
    fine = float(step) * FINE_STRIKES
    inside = [k for k in inside if abs(float(k) - spot) <= fine or k % wide == 0]
    if len(inside) > MAX_STRIKES:
        inside = sorted(sorted(inside, key=lambda k: abs(float(k) - spot))[:MAX_STRIKES])
    return inside
