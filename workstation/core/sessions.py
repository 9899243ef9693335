"""When each market trades: the sessions of the venues the workstation models, from a
maintained exchange-calendar library.

A venue is a short name (``venue_of`` picks one for an instrument):

- ``"XNYS"``: the New York Stock Exchange (equities, ETFs, equity, ETF and index options, cash
  indexes). Pre-market 04:00-09:30, the regular session 09:30-16:00 (13:00 on early closes),
  post-market 16:00-20:00 (17:00 on early closes) New York, closed all day on holidays; the
  days, hours and early closes are pandas_market_calendars' ``NYSE`` calendar.
- ``"CME"``: futures, on the library's ``CME_Equity`` calendar (Globex: 17:00 Chicago the day
  before to 16:00 Chicago, Sunday evening to Friday, with CME's holidays and early halts). Other
  futures (energy, metals, rates, currencies) trade the same Globex week here; their
  product-specific holiday hours are not modelled.
- ``"CRYPTO"``: always in its regular session.
- ``"FX"``: the FX week, Sunday 17:00 to Friday 17:00 New York, by that rule (the library's
  forex calendar numbers a session per calendar day, Saturday evenings included, so it is not
  used).

``session_at`` says which session a venue is in at an epoch time: ``"pre"``, ``"regular"``,
``"post"`` or ``"closed"`` (only XNYS has pre and post sessions). ``is_open``, ``next_open`` and
``session_close`` are read from the same tables.

The library pulls in pandas, so it is imported lazily inside ``_build``, which turns one
calendar year of a venue into plain lists of epoch floats (each session's start, end and
kind); lookups are ``bisect`` on those lists (about a microsecond). The tables are kept in a
module memo keyed by venue and year (they are a pure function of both: the library's rules
never change while running). Building a year costs a few tenths of a second, the library's
import about a second the first time: ``prepare`` builds a year's table ahead, off the hot
path (faces call it in a worker thread), and ``ready`` tells whether a lookup would build.
The library's holiday rules run without an end year (its NYSE calendar answers for 2099 as
for 2028); what it cannot know in advance (a closure for a state funeral) appears when the
library is updated.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_right
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from workstation.core.model import AssetClass

if TYPE_CHECKING:
    from workstation.core.model import Instrument

SessionKind = Literal["pre", "regular", "post", "closed"]
VENUES = ("XNYS", "CME", "CRYPTO", "FX")
NEW_YORK = ZoneInfo("America/New_York")

# The library's calendar name for each venue it serves.
_LIBRARY_CALENDAR = {"XNYS": "NYSE", "CME": "CME_Equity"}


class _Table:
    """One venue-year: sessions sorted by start (never overlapping), and the regular ones apart."""

    __slots__ = ("starts", "ends", "kinds", "reg_starts", "reg_ends")

    def __init__(self, sessions: list[tuple[float, float, SessionKind]]) -> None:
        sessions.sort()
        self.starts = [s for s, _, _ in sessions]
        self.ends = [e for _, e, _ in sessions]
        self.kinds: list[SessionKind] = [k for _, _, k in sessions]
        regular = [(s, e) for s, e, k in sessions if k == "regular"]
        self.reg_starts = [s for s, _ in regular]
        self.reg_ends = [e for _, e in regular]


# venue and year -> table: a memo of the library's answers (see the module docstring)
_TABLES: dict[tuple[str, int], _Table] = {}
_PREPARING: set[tuple[str, int]] = set()  # tables being built in a worker thread
_log = logging.getLogger(__name__)


def venue_of(inst: Instrument) -> str:
    """The venue whose sessions an instrument trades."""
    ac = inst.asset_class
    if ac is AssetClass.CRYPTO:
        return "CRYPTO"
    if ac is AssetClass.FOREX:
        return "FX"
    if ac is AssetClass.FUTURE:
        return "CME"
    return "XNYS"


def _check(venue: str) -> None:
    if venue not in VENUES:
        raise ValueError(f"unknown venue {venue!r}: expected one of {', '.join(VENUES)}")


def _year(t: float) -> int:
    return time.gmtime(t).tm_year


def _library_sessions(venue: str, year: int) -> list[tuple[float, float, SessionKind]]:
    import warnings

    import pandas_market_calendars as mcal  # lazily: it brings pandas (see the module docstring)

    # a margin either side: sessions that start in one year and end in the next, and the
    # next open from the last days of December
    first, last = f"{year - 1}-12-20", f"{year + 1}-01-12"
    extended = venue == "XNYS"
    with warnings.catch_warnings():  # the library's own deprecation notices are not the user's
        warnings.simplefilter("ignore")
        cal = mcal.get_calendar(_LIBRARY_CALENDAR[venue])
        sched = cal.schedule(first, last, start="pre", end="post") if extended else cal.schedule(first, last)

    def epochs(column: str) -> list[float]:
        return [ts.timestamp() for ts in sched[column]]

    opens, closes = epochs("market_open"), epochs("market_close")
    out: list[tuple[float, float, SessionKind]] = []
    if extended:
        for pre, o, c, post in zip(epochs("pre"), opens, closes, epochs("post"), strict=True):
            if pre < o:
                out.append((pre, o, "pre"))
            out.append((o, c, "regular"))
            if c < post:
                out.append((c, post, "post"))
        return out
    if "break_start" in sched.columns:
        for o, bs, be, c in zip(opens, epochs("break_start"), epochs("break_end"), closes, strict=True):
            if o < bs < be < c:
                out += [(o, bs, "regular"), (be, c, "regular")]
            else:
                out.append((o, c, "regular"))
        return out
    return [(o, c, "regular") for o, c in zip(opens, closes, strict=True)]


def _fx_sessions(year: int) -> list[tuple[float, float, SessionKind]]:
    """Sunday 17:00 to Friday 17:00 New York, each week touching the year."""
    d = datetime(year - 1, 12, 20, 17, tzinfo=NEW_YORK)
    d += timedelta(days=(6 - d.weekday()) % 7)  # the first Sunday
    out: list[tuple[float, float, SessionKind]] = []
    while d.year <= year or (d.year == year + 1 and d.month == 1 and d.day <= 12):
        friday = d + timedelta(days=5)
        out.append((d.timestamp(), friday.timestamp(), "regular"))
        d += timedelta(days=7)
    return out


def _build(venue: str, year: int) -> _Table:
    if venue == "FX":
        return _Table(_fx_sessions(year))
    return _Table(_library_sessions(venue, year))


def prepare(venue: str, t: float) -> None:
    """Build the table of ``venue`` for the year of ``t`` now (in a worker thread, say)."""
    _check(venue)
    if venue != "CRYPTO":
        _table(venue, _year(t))


def session_if_ready(venue: str, t: float) -> SessionKind | None:
    """``session_at`` when the year's table is built; otherwise None at once, and the table
    is built in a worker thread (once), so a face's repaint never waits for the library."""
    if ready(venue, t):
        return session_at(venue, t)
    _check(venue)
    key = (venue, _year(t))
    if key not in _PREPARING:
        _PREPARING.add(key)
        threading.Thread(target=_prepare_quietly, args=(venue, t), name=f"sessions-{venue}-{key[1]}", daemon=True).start()
    return None


def _prepare_quietly(venue: str, t: float) -> None:
    try:
        prepare(venue, t)
    except Exception:  # noqa: BLE001 - a face then shows no session; the log says why
        _log.exception("could not read the %s calendar", venue)


def ready(venue: str, t: float) -> bool:
    """Whether a lookup of ``venue`` at ``t`` is answered without building a table."""
    return venue == "CRYPTO" or (venue, _year(t)) in _TABLES


def _table(venue: str, year: int) -> _Table:
    table = _TABLES.get((venue, year))
    if table is None:
        _check(venue)
        table = _TABLES[(venue, year)] = _build(venue, year)
    return table


def session_at(venue: str, t: float) -> SessionKind:
    """The session ``venue`` is in at epoch ``t``."""
    if venue == "CRYPTO":
        return "regular"
    table = _table(venue, _year(t))
    i = bisect_right(table.starts, t) - 1
    if i >= 0 and t < table.ends[i]:
        return table.kinds[i]
    return "closed"


def is_open(venue: str, t: float, extended: bool = False) -> bool:
    """Whether ``venue`` trades at ``t``: in its regular session, or also pre- and
    post-market with ``extended``."""
    kind = session_at(venue, t)
    return kind == "regular" or (extended and kind != "closed")


def next_open(venue: str, t: float) -> float:
    """The earliest time at or after ``t`` when the regular session is open (``t`` itself
    when it is)."""
    if venue == "CRYPTO":
        return t
    year = _year(t)
    for y in range(year, year + 3):
        table = _table(venue, y)
        i = bisect_right(table.reg_starts, t) - 1
        if i >= 0 and t < table.reg_ends[i]:
            return t
        if i + 1 < len(table.reg_starts):
            return table.reg_starts[i + 1]
    raise ValueError(f"{venue} has no session within two years of {t}")


def session_close(venue: str, t: float) -> float | None:
    """The close of the regular session in progress at ``t``, or of the next one (None for a
    venue that never closes)."""
    if venue == "CRYPTO":
        return None
    year = _year(t)
    for y in range(year, year + 3):
        table = _table(venue, y)
        i = bisect_right(table.reg_starts, t) - 1
        if i >= 0 and t < table.reg_ends[i]:
            return table.reg_ends[i]
        if i + 1 < len(table.reg_starts):
            return table.reg_ends[i + 1]
    raise ValueError(f"{venue} has no session within two years of {t}")


def regular_sessions(venue: str, start: float, end: float) -> list[tuple[float, float]]:
    """The (open, close) epoch seconds of ``venue``'s regular sessions overlapping
    ``[start, end)``, in order (one endless session for CRYPTO)."""
    if venue == "CRYPTO":
        return [(start, end)] if start < end else []
    out: list[tuple[float, float]] = []
    last = start
    for y in range(_year(start), _year(end) + 1):
        table = _table(venue, y)
        i = max(bisect_right(table.reg_ends, last), 0)
        while i < len(table.reg_starts) and table.reg_starts[i] < end:
            o, c = table.reg_starts[i], table.reg_ends[i]
            if c > last:
                out.append((o, c))
                last = c
            i += 1
    return out


__all__ = [
    "VENUES",
    "SessionKind",
    "is_open",
    "next_open",
    "prepare",
    "ready",
    "regular_sessions",
    "session_at",
    "session_close",
    "session_if_ready",
    "venue_of",
]
