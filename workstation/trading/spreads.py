"""Spreads from a few words: the legs of verticals, straddles, strangles, butterflies, iron
condors, calendars and custom combos, checked, pure (no I/O, no engine).

Legs follow the combo convention of ``workstation.core.model.Leg``: they are written for ONE
unit of the combo BOUGHT, and selling the combo reverses every leg. Each kind is defined so
that buying it is the debit side (its net price is positive when bought):

==============  ======================================  =====================================
kind            strikes (ascending)                      one unit bought
==============  ======================================  =====================================
vertical        K1/K2, call or put                       call: +K1 -K2 · put: +K2 -K1
straddle        K                                        +K call, +K put
strangle        K1/K2                                    +K1 put, +K2 call
butterfly       K1/K2/K3, call or put                    +K1, -2 K2, +K3
iron condor     K1/K2/K3/K4                              -K1 put, +K2 put, +K3 call, -K4 call
calendar        K, two expiries (front/back), call/put   -front, +back
calendar        futures: two months (front/back)         +front, -back (the exchange's way)
legs            +SYMBOL, -SYMBOL, +2 SYMBOL ...          as written
==============  ======================================  =====================================

So ``sell 2 SPY 2026-12-18 590/600/610/620 iron condor @ 2.05`` is the classic short iron
condor for a 2.05 credit, and ``buy 1 AAPL 2026-12-18 200/210 call vertical @ 3.10`` the bull
call spread for a 3.10 debit.

``parse_phrase(words)`` reads the phrase that follows an order's quantity (``AAPL 2026-12-18
200/210 call vertical``) and returns the ``Spread``; every
problem is a ``SpreadError`` (a ``ModelError``) whose message is one line for a person.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from workstation.core.model import AssetClass, Instrument, Leg, ModelError, Right, Side, plain, to_decimal
from workstation.core.symbols import parse_symbol

KINDS = ("vertical", "straddle", "strangle", "butterfly", "iron condor", "calendar", "legs")
MAX_LEGS = 4  # as the order manager takes them (workstation.trading.combos)
MAX_RATIO = 100

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_STRIKES = re.compile(r"^[0-9.]+(/[0-9.]+)*$")
_RIGHTS = {"call": Right.CALL, "calls": Right.CALL, "c": Right.CALL, "put": Right.PUT, "puts": Right.PUT, "p": Right.PUT}
_KIND_WORDS = {
    "vertical": "vertical", "vert": "vertical", "straddle": "straddle", "strangle": "strangle",
    "butterfly": "butterfly", "fly": "butterfly", "iron": "iron condor", "iron-condor": "iron condor",
    "ic": "iron condor", "calendar": "calendar", "cal": "calendar",
}
USAGE = (
    "spread phrases: AAPL 2026-12-18 200/210 call vertical · AAPL 2026-12-18 230 straddle · "
    "AAPL 2026-12-18 220/240 strangle · AAPL 2026-12-18 200/210/220 call butterfly · "
    "SPY 2026-12-18 590/600/610/620 iron condor · AAPL 2026-12-18/2027-01-15 230 call calendar · "
    "ES 2026-12/2027-03 calendar · legs +AAPL-2026-12-18-200-C -2 AAPL-2026-12-18-210-C"
)


class SpreadError(ModelError):
    """A spread that cannot be built; the message is one line naming what is wrong."""


@dataclass(frozen=True, slots=True)
class Spread:
    """One combo unit, bought: its kind, its underlying and its legs (per ``Leg``)."""

    kind: str
    underlying: str
    legs: tuple[Leg, ...]

    @property
    def multiplier(self) -> Decimal:
        return parse_symbol(self.legs[0].symbol).multiplier

    def describe(self) -> str:
        """The spread in a few words, as a trader would say it (the review, the log)."""
        if self.kind == "legs":
            return "legs " + " ".join(_leg_text(leg) for leg in self.legs)
        insts = [parse_symbol(leg.symbol) for leg in self.legs]
        if insts[0].asset_class is AssetClass.FUTURE:
            return f"{self.underlying} {insts[0].symbol[-7:]}/{insts[1].symbol[-7:]} calendar"
        expiries = sorted({i.expiry for i in insts if i.expiry is not None})
        strikes = sorted({i.strike for i in insts if i.strike is not None})
        rights = {i.right for i in insts}
        right = ""
        if self.kind in ("vertical", "butterfly", "calendar") and len(rights) == 1:
            right = " call" if Right.CALL in rights else " put"
        when = "/".join(d.isoformat() for d in expiries)
        return f"{self.underlying} {when} {'/'.join(plain(k) or '' for k in strikes)}{right} {self.kind}"


def _leg_text(leg: Leg) -> str:
    sign = "+" if leg.side is Side.BUY else "-"
    return f"{sign}{leg.ratio} {leg.symbol}" if leg.ratio != 1 else f"{sign}{leg.symbol}"


def effective_legs(legs: Sequence[Leg], side: Side) -> tuple[Leg, ...]:
    """The legs as traded by an order on ``side``: selling the combo reverses every leg."""
    if side is Side.BUY:
        return tuple(legs)
    flip = {Side.BUY: Side.SELL, Side.SELL: Side.BUY}
    return tuple(Leg(symbol=leg.symbol, side=flip[leg.side], ratio=leg.ratio) for leg in legs)


# --------------------------------------------------------------------------- builders


def _underlying(text: str) -> str:
    try:
        inst = parse_symbol(text)
    except ModelError as exc:
        raise SpreadError(str(exc)) from None
    if inst.asset_class not in (AssetClass.EQUITY, AssetClass.INDEX):
        raise SpreadError(f"{inst.symbol} is not a stock, ETF or index: options spreads are written on an underlying like AAPL")
    return inst.symbol


def _option(underlying: str, expiry: date, strike: Decimal, right: Right) -> str:
    try:
        return parse_symbol(f"{underlying}-{expiry.isoformat()}-{plain(strike)}-{right.value}").symbol
    except ModelError as exc:
        raise SpreadError(str(exc)) from None


def _ascending(strikes: Sequence[Decimal], kind: str) -> None:
    if any(b <= a for a, b in zip(strikes, strikes[1:])):
        raise SpreadError(f"a {kind}'s strikes must go up, lowest first: got {'/'.join(plain(k) or '' for k in strikes)}")


def _count(strikes: Sequence[Decimal], n: int, kind: str, example: str) -> None:
    if len(strikes) != n:
        raise SpreadError(f"a {kind} takes {n} strike{'s' if n != 1 else ''} ({example}), got {len(strikes)}")


def vertical(underlying: str, expiry: date, lower: Decimal, upper: Decimal, right: Right) -> Spread:
    und = _underlying(underlying)
    _ascending([lower, upper], "vertical")
    lo, hi = _option(und, expiry, lower, right), _option(und, expiry, upper, right)
    if right is Right.CALL:
        legs = (Leg(symbol=lo, side=Side.BUY), Leg(symbol=hi, side=Side.SELL))
    else:
        legs = (Leg(symbol=hi, side=Side.BUY), Leg(symbol=lo, side=Side.SELL))
    return Spread("vertical", und, legs)


def straddle(underlying: str, expiry: date, strike: Decimal) -> Spread:
    und = _underlying(underlying)
    return Spread("straddle", und, (
        Leg(symbol=_option(und, expiry, strike, Right.CALL), side=Side.BUY),
        Leg(symbol=_option(und, expiry, strike, Right.PUT), side=Side.BUY),
    ))


def strangle(underlying: str, expiry: date, put_strike: Decimal, call_strike: Decimal) -> Spread:
    und = _underlying(underlying)
    _ascending([put_strike, call_strike], "strangle")
    return Spread("strangle", und, (
        Leg(symbol=_option(und, expiry, put_strike, Right.PUT), side=Side.BUY),
        Leg(symbol=_option(und, expiry, call_strike, Right.CALL), side=Side.BUY),
    ))


def butterfly(underlying: str, expiry: date, k1: Decimal, k2: Decimal, k3: Decimal, right: Right) -> Spread:
    und = _underlying(underlying)
    _ascending([k1, k2, k3], "butterfly")
    return Spread("butterfly", und, (
        Leg(symbol=_option(und, expiry, k1, right), side=Side.BUY),
        Leg(symbol=_option(und, expiry, k2, right), side=Side.SELL, ratio=2),
        Leg(symbol=_option(und, expiry, k3, right), side=Side.BUY),
    ))


def iron_condor(underlying: str, expiry: date, k1: Decimal, k2: Decimal, k3: Decimal, k4: Decimal) -> Spread:
    und = _underlying(underlying)
    _ascending([k1, k2, k3, k4], "iron condor")
    return Spread("iron condor", und, (
        Leg(symbol=_option(und, expiry, k1, Right.PUT), side=Side.SELL),
        Leg(symbol=_option(und, expiry, k2, Right.PUT), side=Side.BUY),
        Leg(symbol=_option(und, expiry, k3, Right.CALL), side=Side.BUY),
        Leg(symbol=_option(und, expiry, k4, Right.CALL), side=Side.SELL),
    ))


def calendar(underlying: str, front: date, back: date, strike: Decimal, right: Right) -> Spread:
    und = _underlying(underlying)
    if back <= front:
        raise SpreadError(f"a calendar's expiries go front first: {front.isoformat()}/{back.isoformat()} is not in order")
    return Spread("calendar", und, (
        Leg(symbol=_option(und, front, strike, right), side=Side.SELL),
        Leg(symbol=_option(und, back, strike, right), side=Side.BUY),
    ))


def futures_calendar(front: str, back: str) -> Spread:
    """A futures calendar: one unit bought is long the front month and short the back month."""
    try:
        a, b = parse_symbol(front), parse_symbol(back)
    except ModelError as exc:
        raise SpreadError(str(exc)) from None
    for inst in (a, b):
        if inst.asset_class is not AssetClass.FUTURE:
            raise SpreadError(f"{inst.symbol} is not a futures contract (e.g. ES-2026-12)")
    if a.underlying != b.underlying:
        raise SpreadError(f"a calendar's legs must share one underlying: {a.symbol} and {b.symbol} do not")
    assert a.expiry is not None and b.expiry is not None
    if b.expiry <= a.expiry:
        raise SpreadError(f"a calendar's months go front first: {a.symbol}/{b.symbol} is not in order")
    return Spread("calendar", a.underlying or a.symbol, (
        Leg(symbol=a.symbol, side=Side.BUY), Leg(symbol=b.symbol, side=Side.SELL),
    ))


def custom(legs: Sequence[Leg]) -> Spread:
    """Legs as given: 2 to 8 options or futures on one underlying, each contract once."""
    if not 2 <= len(legs) <= MAX_LEGS:
        raise SpreadError(f"a combo takes 2 to {MAX_LEGS} legs, got {len(legs)}")
    insts: list[Instrument] = []
    out: list[Leg] = []
    for leg in legs:
        try:
            inst = parse_symbol(leg.symbol)
        except ModelError as exc:
            raise SpreadError(str(exc)) from None
        if inst.asset_class not in (AssetClass.OPTION, AssetClass.FUTURE):
            raise SpreadError(f"{inst.symbol} is not an option or a future: a combo's legs are contracts like AAPL-2026-12-18-200-C")
        if not isinstance(leg.ratio, int) or not 1 <= leg.ratio <= MAX_RATIO:
            raise SpreadError(f"leg {inst.symbol}: ratio must be a whole number from 1 to {MAX_RATIO}")
        insts.append(inst)
        out.append(Leg(symbol=inst.symbol, side=leg.side, ratio=leg.ratio))
    names = [i.symbol for i in insts]
    dup = next((s for s in names if names.count(s) > 1), None)
    if dup:
        raise SpreadError(f"{dup} is in the combo twice: give it once with its ratio")
    roots = {i.underlying for i in insts}
    if len(roots) != 1:
        raise SpreadError(f"a combo's legs must share one underlying, got {', '.join(sorted(r or '?' for r in roots))}")
    if len({i.multiplier for i in insts}) != 1:
        raise SpreadError("a combo's legs must share one multiplier (options with options, futures with futures)")
    return Spread("legs", insts[0].underlying or insts[0].symbol, tuple(out))


# --------------------------------------------------------------------------- the phrase


def _date(word: str) -> date:
    if not _DAY.match(word):
        raise SpreadError(f"expiry {word!r} must be a date like 2026-12-18")
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise SpreadError(f"expiry {word!r} is not a calendar date") from None


def _strike(word: str) -> Decimal:
    try:
        k = to_decimal(word, "strike")
    except ModelError as exc:
        raise SpreadError(str(exc)) from None
    if k <= 0:
        raise SpreadError(f"strike must be positive, got {word}")
    return k


def is_phrase(words: Sequence[str]) -> bool:
    """Whether the words after an order's quantity are a spread phrase (not one symbol)."""
    if not words:
        return False
    if words[0].lower() == "legs":
        return True
    if "/" in words[0] and "-" in words[0]:  # ES-2026-12/ES-2027-03
        return True
    return len(words) > 1 and bool(re.match(r"^\d{4}-\d{2}", words[1]))


def parse_phrase(words: Sequence[str]) -> Spread:
    """The spread the words describe (all of them: the caller keeps the order's own words,
    ``@ 3.10``, ``gtc``, apart)."""
    phrase = list(words)
    if not phrase:
        raise SpreadError(USAGE)
    if phrase[0].lower() == "legs":
        return _legs(phrase[1:])
    if "/" in phrase[0] and "-" in phrase[0]:  # ES-2026-12/ES-2027-03 calendar
        front, _, back = phrase[0].partition("/")
        if phrase[1:] and [w.lower() for w in phrase[1:]] not in (["calendar"], ["cal"]):
            raise SpreadError(f"{phrase[0]} is a calendar: write {phrase[0]} calendar")
        return futures_calendar(front, back)
    if len(phrase) < 3:
        raise SpreadError(USAGE)
    und_word, when = phrase[0], phrase[1]
    rest = [w.lower() for w in phrase[2:]]
    if all(_MONTH.match(w) for w in when.split("/")) and when.count("/") == 1:  # ES 2026-12/2027-03
        if rest not in (["calendar"], ["cal"]):
            raise SpreadError(f"two futures months make a calendar: {und_word} {when} calendar")
        a, b = when.split("/")
        return futures_calendar(f"{und_word}-{a}", f"{und_word}-{b}")
    expiries = [_date(w) for w in when.split("/")]
    if len(expiries) > 2:
        raise SpreadError(f"{when!r}: one expiry, or front/back for a calendar")
    strikes_word = rest[0]
    if not _STRIKES.match(strikes_word):
        raise SpreadError(f"strikes {phrase[2]!r} must be numbers joined by / (200/210)")
    strikes = [_strike(w) for w in strikes_word.split("/")]
    right: Right | None = None
    kind: str | None = None
    words_left = rest[1:]
    i = 0
    while i < len(words_left):
        w = words_left[i]
        if w in _RIGHTS:
            if right is not None:
                raise SpreadError("call or put given twice")
            right = _RIGHTS[w]
        elif w in _KIND_WORDS:
            if kind is not None:
                raise SpreadError("the spread's kind is given twice")
            kind = _KIND_WORDS[w]
            if w == "iron":
                if i + 1 >= len(words_left) or words_left[i + 1] != "condor":
                    raise SpreadError("did you mean 'iron condor'?")
                i += 1
        else:
            raise SpreadError(f"unknown word {phrase[3 + i]!r} in the spread: expected call, put or a kind ({', '.join(KINDS)})")
        i += 1
    if kind is None:
        raise SpreadError(f"name the spread's kind: {', '.join(KINDS[:-1])}")
    if kind != "calendar" and len(expiries) != 1:
        raise SpreadError(f"a {kind} has one expiry; two expiries make a calendar")
    expiry = expiries[0]
    needs_right = kind in ("vertical", "butterfly", "calendar")
    if needs_right and right is None:
        raise SpreadError(f"a {kind} needs call or put ({und_word} {when} {strikes_word} call {kind})")
    if not needs_right and right is not None:
        raise SpreadError(f"a {kind} takes no call or put: it has both")
    if kind == "vertical":
        _count(strikes, 2, kind, "200/210")
        return vertical(und_word, expiry, strikes[0], strikes[1], right)  # type: ignore[arg-type]
    if kind == "straddle":
        _count(strikes, 1, kind, "230")
        return straddle(und_word, expiry, strikes[0])
    if kind == "strangle":
        _count(strikes, 2, kind, "220/240: the put's, then the call's")
        return strangle(und_word, expiry, strikes[0], strikes[1])
    if kind == "butterfly":
        _count(strikes, 3, kind, "200/210/220")
        return butterfly(und_word, expiry, *strikes, right)  # type: ignore[arg-type]
    if kind == "iron condor":
        _count(strikes, 4, kind, "590/600/610/620")
        return iron_condor(und_word, expiry, *strikes)
    if len(expiries) != 2:
        raise SpreadError(f"a calendar takes two expiries, front/back ({expiry.isoformat()}/2027-01-15)")
    _count(strikes, 1, kind, "230")
    return calendar(und_word, expiries[0], expiries[1], strikes[0], right)  # type: ignore[arg-type]


def _legs(words: Sequence[str]) -> Spread:
    """``+SYMBOL``, ``-SYMBOL``, or a signed ratio then the symbol: ``-2 AAPL-2026-12-18-210-C``."""
    legs: list[Leg] = []
    i = 0
    while i < len(words):
        w = words[i]
        take = 2 if w[1:].isdigit() and w[1:].isascii() and i + 1 < len(words) else 1
        legs.append(parse_leg(" ".join(words[i:i + take])))
        i += take
    return custom(legs)


def recognize(legs: Sequence[Leg]) -> Spread:
    """The spread the legs make, named by its kind when they are one of the kinds above
    (as bought, or as sold: then the legs come back reversed); else kind ``legs``."""
    try:
        insts = [parse_symbol(leg.symbol) for leg in legs]
    except ModelError:
        return Spread("legs", "", tuple(legs))
    und = insts[0].underlying or insts[0].symbol
    wanted = sorted((leg.symbol, leg.side.value, leg.ratio) for leg in legs)
    candidates: list[Spread] = []
    try:
        if all(i.asset_class is AssetClass.FUTURE for i in insts) and len(insts) == 2:
            a, b = sorted(insts, key=lambda i: i.expiry or date.min)
            candidates.append(futures_calendar(a.symbol, b.symbol))
        elif all(i.asset_class is AssetClass.OPTION for i in insts):
            expiries = sorted({i.expiry for i in insts if i.expiry is not None})
            strikes = sorted({i.strike for i in insts if i.strike is not None})
            rights = {i.right for i in insts}
            right = next(iter(rights)) if len(rights) == 1 else None
            if len(expiries) == 1:
                e = expiries[0]
                if len(legs) == 2 and len(strikes) == 2 and right is not None:
                    candidates.append(vertical(und, e, strikes[0], strikes[1], right))
                if len(legs) == 2 and len(strikes) == 1 and right is None:
                    candidates.append(straddle(und, e, strikes[0]))
                if len(legs) == 2 and len(strikes) == 2 and right is None:
                    candidates.append(strangle(und, e, strikes[0], strikes[1]))
                if len(legs) == 3 and len(strikes) == 3 and right is not None:
                    candidates.append(butterfly(und, e, *strikes, right))
                if len(legs) == 4 and len(strikes) == 4 and right is None:
                    candidates.append(iron_condor(und, e, *strikes))
            elif len(expiries) == 2 and len(strikes) == 1 and right is not None and len(legs) == 2:
                candidates.append(calendar(und, expiries[0], expiries[1], strikes[0], right))
    except ModelError:
        candidates = []
    for spread in candidates:
        for side in (Side.BUY, Side.SELL):
            mine = effective_legs(spread.legs, side)
            if sorted((leg.symbol, leg.side.value, leg.ratio) for leg in mine) == wanted:
                return Spread(spread.kind, spread.underlying, mine)
    return Spread("legs", und, tuple(legs))


def parse_leg(text: str) -> Leg:
    """One leg as typed: ``+SYMBOL``, ``-SYMBOL`` or a signed ratio then the symbol
    (``-2 AAPL-2026-12-18-210-C``), checked on its own (a contract, a ratio in range)."""
    words = text.split()
    if len(words) not in (1, 2):
        raise SpreadError("a leg is +SYMBOL, -SYMBOL or a signed ratio then the symbol: -2 AAPL-2026-12-18-210-C")
    head = words[0]
    if len(head) < 2 or head[0] not in "+-":
        raise SpreadError(f"leg {text.strip()!r} must start with + (buy) or - (sell)")
    side = Side.BUY if head[0] == "+" else Side.SELL
    if len(words) == 2:
        if not (head[1:].isdigit() and head[1:].isascii()):
            raise SpreadError(f"leg {text.strip()!r}: the ratio is a whole number (-2 AAPL-2026-12-18-210-C)")
        ratio, symbol = int(head[1:]), words[1]
    else:
        ratio, symbol = 1, head[1:]
    if not 1 <= ratio <= MAX_RATIO:
        raise SpreadError(f"leg ratio must be from 1 to {MAX_RATIO}, got {ratio}")
    try:
        inst = parse_symbol(symbol)
    except ModelError as exc:
        raise SpreadError(str(exc)) from None
    if inst.asset_class not in (AssetClass.OPTION, AssetClass.FUTURE):
        raise SpreadError(f"{inst.symbol} is not an option or a future: a combo's legs are contracts like AAPL-2026-12-18-200-C")
    return Leg(symbol=inst.symbol, side=side, ratio=ratio)
