"""The tax report of a year: realized gains and losses per closed FIFO tax lot, with the
wash-sale rule applied both ways (``workstation.trading.taxlots``), totals by term, and the
average-cost realized P&L of the same fills beside them (what the panes show).

Built from the journal's fills alone, replayed from the first (a lot bought years ago and
sold this year needs its purchase): the same replay the session does at start, so the
report and the engine's lots cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import msgspec

from workstation.core.model import ZERO, Fill
from workstation.trading.portfolio import Book
from workstation.trading.taxlots import WASH_DAYS, ClosedLot, TaxLots, trade_date

__all__ = ["METHOD", "WHY_THEY_DIFFER", "TaxReport", "TaxRow", "TaxTotals", "build_report", "check_year"]

METHOD = "FIFO tax lots"
WHY_THEY_DIFFER = (
    "they differ: tax lots sell the oldest shares first, count commissions and defer a washed loss "
    "into the replacement's basis; the panes' average cost sells at the mean price, before commissions"
)


class TaxRow(msgspec.Struct, frozen=True, kw_only=True):
    """One closed lot, as a 1099-B / Form 8949 line."""

    symbol: str
    qty: Decimal
    acquired: str  # YYYY-MM-DD, moved back for a replacement (its washed shares' holding period)
    sold: str
    proceeds: Decimal
    basis: Decimal  # cost with commissions and any disallowed loss carried in
    code: str  # "W": part of this loss is disallowed (a wash sale)
    disallowed: Decimal
    gain: Decimal  # proceeds less basis
    reported: Decimal  # gain + disallowed: what counts for the year
    term: str  # "short" or "long"
    adjusted: bool  # the basis carries a loss disallowed on an earlier sale
    short_sale: bool


class TaxTotals(msgspec.Struct, frozen=True, kw_only=True):
    proceeds: Decimal = ZERO
    basis: Decimal = ZERO
    short_term: Decimal = ZERO  # reported gains less losses held a year or less
    long_term: Decimal = ZERO
    disallowed: Decimal = ZERO  # losses washed this year (deducted later, through the replacements)
    commissions: Decimal = ZERO  # on the year's fills


class TaxReport(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    method: str
    rows: list[TaxRow]
    totals: TaxTotals
    average_cost_realized: Decimal  # the same year's realized P&L at average cost (the panes' figure)
    why_they_differ: str
    open_washes: int  # loss sales within the last 30 days: a buy now would still wash them


def check_year(text: str) -> int:
    """The year asked for, or ValueError with one line saying what is wrong."""
    t = text.strip()
    if not (t.isdigit() and len(t) == 4 and 1970 <= int(t) <= 9998):
        raise ValueError(f"--year {text!r} is not a year: give four digits, e.g. 2026")
    return int(t)


def _row(c: ClosedLot) -> TaxRow:
    return TaxRow(
        symbol=c.symbol, qty=c.qty, acquired=trade_date(c.acquired).isoformat(), sold=trade_date(c.sold).isoformat(),
        proceeds=c.proceeds, basis=c.basis, code="W" if c.disallowed else "", disallowed=c.disallowed, gain=c.gain,
        reported=c.reported, term="long" if c.long_term else "short", adjusted=c.adjusted, short_sale=c.short,
    )


def build_report(
    entries: Iterable[Fill | dict[str, Any]], year: int, multiplier: Callable[[str], Decimal], now: float,
) -> TaxReport:
    """The report of ``year`` from the journal's book entries (fills and settlements, in order)."""
    lots = TaxLots(keep_closed=True)
    book = Book()
    average = ZERO
    commissions = ZERO
    for entry in entries:
        if not isinstance(entry, Fill):  # a future's daily settlement moves no lot
            continue
        mult = multiplier(entry.symbol)
        lots.apply(entry, mult)
        realized = book.apply(entry, mult)
        if trade_date(entry.ts).year == year:
            average += realized
            commissions += entry.commission
    rows = [_row(c) for c in lots.closed if trade_date(c.sold).year == year]
    today = trade_date(now)
    open_washes = sum(
        1 for c in lots.closed
        if c.unmatched and trade_date(c.sold).year == year and 0 <= (today - trade_date(c.sold)).days <= WASH_DAYS
    )
    totals = TaxTotals(
        proceeds=sum((r.proceeds for r in rows), ZERO),
        basis=sum((r.basis for r in rows), ZERO),
        short_term=sum((r.reported for r in rows if r.term == "short"), ZERO),
        long_term=sum((r.reported for r in rows if r.term == "long"), ZERO),
        disallowed=sum((r.disallowed for r in rows), ZERO),
        commissions=commissions,
    )
    return TaxReport(
        year=year, method=METHOD, rows=rows, totals=totals, average_cost_realized=average,
        why_they_differ=WHY_THEY_DIFFER, open_washes=open_washes,
    )
