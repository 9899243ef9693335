"""How an option chain reads on every face (``main.py chain`` and the workstation's chain screen).

A chain is shown a strike per row: the call's figures on the left, the strike in the middle,
the put's on the right, the at-the-money row marked. Each figure is formatted here once, so
the table, the screen and ``--json`` agree: prices at cents, IV in percent, Greeks per share
(theta per day, vega per vol point), open interest and volume as counts. A figure that is not
known (no two-sided quote, no IV) is blank, never zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from workstation.core import formatting as fmt
from workstation.core.chain import OptionChain, OptionQuote
from workstation.core.model import Right, plain


@dataclass(frozen=True, slots=True)
class Figure:
    """One column of a side: the contract field it shows, its label, and how long it is kept
    when the terminal is narrow (higher: kept longer)."""

    key: str
    label: str
    keep: int


FIGURES = (
    Figure("bid", "Bid", 9),
    Figure("ask", "Ask", 9),
    Figure("iv", "IV", 8),
    Figure("delta", "Delta", 7),
    Figure("last", "Last", 5),
    Figure("gamma", "Gamma", 4),
    Figure("theta", "Theta", 4),
    Figure("vega", "Vega", 4),
    Figure("open_interest", "OI", 3),
    Figure("volume", "Vol", 2),
)
"""A side's figures in the order the issue lists them (the call side shows them mirrored, so
bid and ask sit next to the strike on both sides)."""


def figure(q: OptionQuote | None, key: str) -> str:
    """One figure of a contract as text; blank when the contract or the figure is unknown."""
    if q is None:
        return ""
    v = getattr(q, key)
    if v is None or v != v:  # None or NaN: not known
        return ""
    if key == "iv":
        return fmt.percent(float(v) * 100.0, 1)
    places = _PLACES.get(key)
    if places is not None:  # a float at fixed decimals (formatting's fast path for market data)
        return fmt.price(float(v), places)
    return fmt.count(int(v))


_PLACES = {"bid": 2, "ask": 2, "last": 2, "delta": 2, "gamma": 4, "theta": 3, "vega": 3, "rho": 3}


@dataclass(frozen=True, slots=True)
class StrikeRow:
    strike: Decimal
    call: OptionQuote | None
    put: OptionQuote | None
    atm: bool

    def side(self, right: Right) -> OptionQuote | None:
        return self.call if right is Right.CALL else self.put


def strike_rows(chain: OptionChain) -> list[StrikeRow]:
    """The chain a strike per row, lowest strike first, the at-the-money one marked."""
    calls: dict[Decimal, OptionQuote] = {}
    puts: dict[Decimal, OptionQuote] = {}
    for c in chain.contracts:
        (calls if c.right is Right.CALL else puts)[c.strike] = c
    atm = chain.atm_strike()
    return [StrikeRow(k, calls.get(k), puts.get(k), k == atm) for k in chain.strikes()]


def strike_text(k: Decimal) -> str:
    """A strike as the chain shows it: at least two decimals (``185.00``, ``187.50``, ``0.125``)."""
    return fmt.price(k)


def expiry_label(d: date, today: date | None = None) -> str:
    """A short tab label: ``Dec 18``, with the year when it is not ``today``'s (``Jan 15 '27``)."""
    text = f"{d:%b} {d.day}"
    if today is not None and d.year != today.year:
        text += f" '{d:%y}"
    return text


_JSON_FIGURES = ("bid", "ask", "last", "iv", "delta", "gamma", "theta", "vega", "rho", "open_interest", "volume")


def _known(v: float | None) -> float | None:
    return None if v is None or v != v else float(v)


def chain_document(chain: OptionChain) -> dict[str, Any]:
    """What ``main.py chain --json`` prints: the chain's facts and every contract's figures
    (numbers as numbers, strikes as exact decimal strings, null where unknown)."""
    atm = chain.atm_strike()
    rows = []
    for r in strike_rows(chain):
        row: dict[str, Any] = {"strike": plain(r.strike), "atm": r.atm}
        for name, q in (("call", r.call), ("put", r.put)):
            if q is None:
                row[name] = None
                continue
            row[name] = {"symbol": q.symbol} | {k: _known(getattr(q, k)) for k in _JSON_FIGURES}
        rows.append(row)
    return {
        "underlying": chain.underlying, "spot": chain.spot, "expiry": chain.expiry.isoformat() if chain.expiry else None,
        "expiries": [d.isoformat() for d in chain.expiries], "atm_strike": plain(atm) if atm is not None else None,
        "multiplier": plain(chain.multiplier), "rate": chain.rate, "dividend_yield": chain.dividend_yield,
        "greeks_source": chain.greeks_source, "ts": chain.ts, "strikes": rows,
    }
