"""What happens to a contract when it expires, and when: the rules, without the journal.

* An option expires at 16:00 New York on its expiry date. An equity or ETF option in the
  money by at least the threshold (OCC's automatic exercise: $0.01) is exercised (held) or
  assigned (written): ``multiplier * qty`` shares change hands at the strike, and the
  option closes at 0. An index option (its underlying is of the ``index`` asset class:
  SPX, NDX, RUT) settles in cash: it closes at its intrinsic value. Any other option
  expires worthless: it closes at 0.
* A future expires at the session close of its expiry date, 17:00 New York (the CME day
  roll), and closes at the final settlement price. Before that it settles daily at 17:00
  New York on each weekday (``futures_closes``).
* A roll goes to the next quarterly month for a quarterly contract (March, June,
  September, December), else to the next month (``next_contract``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from workstation.core.model import ZERO, AssetClass, Instrument, ModelError, Right
from workstation.core.symbols import parse_symbol

NEW_YORK = ZoneInfo("America/New_York")
OPTIONS_CLOSE = time(16, 0)
FUTURES_CLOSE = time(17, 0)
WARN_FROM = time(9, 30)  # the day before expiry, warnings start at that day's open
QUARTERLY = (3, 6, 9, 12)


def new_york(d: date, at: time) -> float:
    """Epoch seconds of ``at`` New York time on ``d``."""
    return datetime.combine(d, at, NEW_YORK).timestamp()


def ny_date(t: float) -> date:
    return datetime.fromtimestamp(t, NEW_YORK).date()


def expiry_time(inst: Instrument) -> float | None:
    """When ``inst`` expires (None: it does not)."""
    if inst.expiry is None:
        return None
    if inst.asset_class is AssetClass.OPTION:
        return new_york(inst.expiry, OPTIONS_CLOSE)
    if inst.asset_class is AssetClass.FUTURE:
        return new_york(inst.expiry, FUTURES_CLOSE)
    return None


def previous_weekday(d: date) -> date:
    d -= timedelta(days=1)
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d


def warn_time(inst: Instrument) -> float | None:
    """When the day-before warning for an option becomes due: the open of the weekday before expiry."""
    if inst.asset_class is not AssetClass.OPTION or inst.expiry is None:
        return None
    return new_york(previous_weekday(inst.expiry), WARN_FROM)


def futures_closes(after: float, until: float) -> list[tuple[date, float]]:
    """The daily settlements (weekdays at 17:00 New York) in ``(after, until]``, oldest first."""
    out = []
    d = ny_date(after)
    while True:
        t = new_york(d, FUTURES_CLOSE)
        if t > until:
            return out
        if t > after and d.weekday() < 5:
            out.append((d, t))
        d += timedelta(days=1)


def last_futures_close(t: float) -> float:
    """The most recent daily settlement time at or before ``t``."""
    d = ny_date(t)
    while True:
        close = new_york(d, FUTURES_CLOSE)
        if close <= t and d.weekday() < 5:
            return close
        d -= timedelta(days=1)


def is_cash_settled(inst: Instrument) -> bool:
    """An option on an index (SPX, NDX, RUT): settled in cash, never in shares."""
    try:
        return parse_symbol(inst.underlying or "").asset_class is AssetClass.INDEX
    except ModelError:
        return False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What expiry does to a position of ``qty`` contracts of an option."""

    kind: str  # "exercise", "assignment", "cash", "worthless"
    close_price: Decimal  # the price the option position closes at (0, or its intrinsic value)
    shares: Decimal  # signed: shares bought (+) or sold (-) at the strike; 0 when none change hands


def option_outcome(inst: Instrument, qty: Decimal, settle: Decimal, threshold: Decimal) -> Outcome:
    """The rules above, for ``qty`` (signed) contracts of option ``inst`` whose underlying
    settled at ``settle``."""
    if inst.strike is None or inst.right is None:
        raise ModelError(f"{inst.symbol} is not an option")
    call = inst.right is Right.CALL
    itm = settle - inst.strike if call else inst.strike - settle
    if is_cash_settled(inst):
        if itm > ZERO:
            return Outcome("cash", itm, ZERO)
        return Outcome("worthless", ZERO, ZERO)
    if itm >= threshold and itm > ZERO:
        shares = qty * inst.multiplier * (1 if call else -1)
        return Outcome("exercise" if qty > ZERO else "assignment", ZERO, shares)
    return Outcome("worthless", ZERO, ZERO)


def next_contract(inst: Instrument) -> str:
    """The contract a held future rolls to: ``ES-2026-12`` -> ``ES-2027-03``, ``CL-2026-12`` -> ``CL-2027-01``."""
    if inst.expiry is None or inst.underlying is None:
        raise ModelError(f"{inst.symbol} is not a future")
    step = 3 if inst.expiry.month in QUARTERLY else 1
    month = inst.expiry.month + step
    year = inst.expiry.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return f"{inst.underlying}-{year:04d}-{month:02d}"
