"""P&L by day, ISO week and month, in money that adds up.

A run keeps the last equity of each New York day as a float (``EquityCurve.day_equity``).
Each period's P&L here is the change of that equity, to the cent, from the end of the
period before (the starting cash for the first) to the period's end; the last period ends
at the run's own final equity, exactly. So the days, the weeks and the months each sum to
``final_equity - initial_cash`` to the last digit, and a period's P&L is the sum of its
days'.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

PERIODS = ("day", "week", "month")
CENT = Decimal("0.01")


def label(d: date, period: str) -> str:
    """``2024-03-05`` (day), ``2024-W10`` (ISO week) or ``2024-03`` (month)."""
    if period == "day":
        return d.isoformat()
    if period == "week":
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    if period == "month":
        return f"{d.year}-{d.month:02d}"
    raise ValueError(f"period must be day, week or month, got {period!r}")


def pnl_by_periods(days: Sequence[date], day_equity: Any, initial_cash: Decimal,
                   final_equity: Decimal) -> dict[str, dict[str, Decimal]]:
    """``{"day": {...}, "week": {...}, "month": {...}}``: the P&L of each period, labelled as
    ``label`` says, in time order."""
    values = [float(v) for v in day_equity]
    closes = [Decimal(repr(v)).quantize(CENT) for v in values]
    if closes:
        closes[-1] = final_equity
    out: dict[str, dict[str, Decimal]] = {}
    for period in PERIODS:
        ends: dict[str, Decimal] = {}
        for d, close in zip(days, closes, strict=True):
            ends[label(d, period)] = close  # the period's last day wins
        pnl: dict[str, Decimal] = {}
        prev = initial_cash
        for k, end in ends.items():
            pnl[k] = end - prev
            prev = end
        out[period] = pnl
    return out


def summarise(pnl: dict[str, Decimal]) -> dict[str, Any]:
    """How many periods, how many gained, the best and the worst (label, P&L), the total."""
    if not pnl:
        return {"periods": 0, "up": 0, "best": None, "worst": None, "total": Decimal(0)}
    best = max(pnl.items(), key=lambda kv: kv[1])
    worst = min(pnl.items(), key=lambda kv: kv[1])
    return {"periods": len(pnl), "up": sum(1 for v in pnl.values() if v > 0), "best": best, "worst": worst,
            "total": sum(pnl.values(), Decimal(0))}
