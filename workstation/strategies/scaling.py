"""Scaling in and out of a position by rule: pyramiding and scale-out.

Both are frozen state values a strategy keeps between its hooks: it asks one what to do at
a price (``decide``), gets back the next state and a quantity (``0``: nothing to do), and
sends the order itself through ``ctx`` (the one door to the order manager and the risk
checks). Nothing here sends, reads a clock or keeps a hidden counter, so the same prices
always give the same answers, live and in a backtest.

``Pyramid``   add ``step`` units each time the price has moved ``trigger`` (a percentage of
              the last add's price, or a multiple of the ATR) in the position's favour since
              the last add; at most ``max_adds`` adds, the total capped at ``max_qty``; never
              an add while the price is not beyond every earlier entry (never to a loser).
``ScaleOut``  exit in parts at targets in R (the distance from the entry to the first stop):
              e.g. a third at +1R, a third at +2R, the rest on a trailing stop or at a final
              target; the parts are whole lots that sum exactly to the position, none below
              one lot. After the first target the stop moves to the entry (``breakeven``).

Quantities are ``Decimal`` and whole lots of the instrument (``Instrument.round_qty``);
prices are ``Decimal``. Bad settings raise ``ModelError`` with a sentence naming them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal

from workstation.core.model import ZERO, Instrument, ModelError, to_decimal

ONE = Decimal(1)
HUNDRED = Decimal(100)


def _side(side: object) -> int:
    s = getattr(side, "value", side)
    if s in (1, "buy", "long"):
        return 1
    if s in (-1, "sell", "short"):
        return -1
    raise ModelError(f"side must be long or short, got {side!r}")


def _positive(value: object, what: str) -> Decimal:
    d = to_decimal(value, what)
    if d <= 0:
        raise ModelError(f"{what} must be positive, got {value}")
    return d


# --------------------------------------------------------------------------- pyramiding


@dataclass(frozen=True, slots=True)
class Pyramid:
    """A position being pyramided: the rule and what has been done so far.

    Start one when the entry is sent (``Pyramid.start``), ask ``decide(price)`` on each bar
    and buy (sell, short) what it says."""

    inst: Instrument
    side: int  # +1 long, -1 short
    step: Decimal  # units added each time
    trigger: Decimal  # percent of the anchor price, or ATR multiple
    by: str  # "percent" or "atr"
    max_adds: int
    max_qty: Decimal
    anchor: Decimal  # the price of the last add (the entry's at first)
    best_entry: Decimal  # the furthest-in-favour price paid so far (the entry's at first)
    held: Decimal  # units entered and added so far (what the strategy is heading to)
    adds: int = 0

    @classmethod
    def start(cls, inst: Instrument, side: object, price: object, qty: object, *, step: object,
              trigger: object, by: str = "percent", max_adds: int = 3, max_qty: object | None = None) -> Pyramid:
        """The state after an entry of ``qty`` at ``price`` (the signal's price)."""
        if by not in ("percent", "atr"):
            raise ModelError(f"trigger must be by percent or atr, got {by!r}")
        if isinstance(max_adds, bool) or not isinstance(max_adds, int) or max_adds < 0:
            raise ModelError(f"max_adds must be a whole number of adds, 0 or more, got {max_adds!r}")
        entry = _positive(price, "entry price")
        held = inst.round_qty(_positive(qty, "entry quantity"))
        step_qty = inst.round_qty(_positive(step, "step"))
        if step_qty <= 0:
            raise ModelError(f"step {step} is less than one {inst.lot_size} lot of {inst.symbol}")
        cap = held + step_qty * max_adds if max_qty is None else inst.round_qty(_positive(max_qty, "max_qty"))
        return cls(inst=inst, side=_side(side), step=step_qty, trigger=_positive(trigger, "trigger"), by=by,
                   max_adds=max_adds, max_qty=cap, anchor=entry, best_entry=entry, held=held)

    def next_trigger(self, atr: object | None = None) -> Decimal | None:
        """The price at which the next add is due (``None``: no add is left)."""
        if self.adds >= self.max_adds or self.held >= self.max_qty:
            return None
        if self.by == "percent":
            distance = self.anchor * self.trigger / HUNDRED
        else:
            if atr is None:
                raise ModelError("an ATR trigger needs the ATR")
            distance = _positive(atr, "ATR") * self.trigger
        return self.anchor + self.side * distance

    def decide(self, price: object, atr: object | None = None) -> tuple[Pyramid, Decimal]:
        """The next state and the units to add at ``price`` (``0``: none now). An add is due
        when the price is at or beyond ``next_trigger`` and beyond every earlier entry;
        it is ``step`` units, less when ``max_qty`` leaves less, in whole lots."""
        p = _positive(price, "price")
        level = self.next_trigger(atr)
        if level is None or self.side * (p - level) < 0 or self.side * (p - self.best_entry) <= 0:
            return self, ZERO
        qty = self.inst.round_qty(min(self.step, self.max_qty - self.held))
        if qty <= 0:
            return self, ZERO
        best = p if self.side * (p - self.best_entry) > 0 else self.best_entry
        return replace(self, anchor=p, best_entry=best, held=self.held + qty, adds=self.adds + 1), qty


# --------------------------------------------------------------------------- scale-out


def _lot_counts(inst: Instrument, qty: object, fractions: Sequence[object]) -> list[int]:
    """Lots of each part (one per fraction, then the rest); zeros included, the rest at least one."""
    total = to_decimal(qty, "quantity")
    if total <= 0 or inst.round_qty(total) != total:
        raise ModelError(f"quantity {total} is not a positive number of {inst.lot_size} lots of {inst.symbol}")
    fr = [to_decimal(f, "fraction") for f in fractions]
    if any(f < 0 for f in fr) or sum(fr, ZERO) >= 1:
        raise ModelError("fractions must be non-negative and sum to less than 1 (the rest is the last part)")
    lots = int(total / inst.lot_size)
    wanted = [f * lots for f in fr]
    counts = [int(w.to_integral_value(ROUND_HALF_EVEN)) for w in wanted]  # each part to its nearest lot
    i = len(counts) - 1
    while sum(counts) > lots - 1:  # the rest keeps a lot: the latest parts give theirs back
        while counts[i] == 0:
            i -= 1
        counts[i] -= 1
    return [*counts, lots - sum(counts)]


def split_lots(inst: Instrument, qty: object, fractions: Sequence[object]) -> tuple[Decimal, ...]:
    """``qty`` cut into parts in the proportions of ``fractions`` and a last part, the rest:
    whole lots, summing exactly to ``qty``, none below one lot (a part too small for a lot is
    left out, so a small position has fewer parts). ``qty`` must be whole lots and the
    fractions sum to less than 1."""
    return tuple(Decimal(c) * inst.lot_size for c in _lot_counts(inst, qty, fractions) if c)


@dataclass(frozen=True, slots=True)
class Exit:
    """What ``ScaleOut.decide`` asks for: ``qty`` units out, and why (``target 1``, ``stop``...)."""

    qty: Decimal
    reason: str


NO_EXIT = Exit(ZERO, "")


@dataclass(frozen=True, slots=True)
class ScaleOut:
    """A position being scaled out of. ``targets`` are the exit prices of the parts before
    the last (in order), ``parts`` their quantities and the rest's (one more than targets);
    ``final`` the rest's target price (``None``: the rest rides the trailing stop)."""

    side: int
    entry: Decimal
    risk: Decimal  # 1R, a price distance
    targets: tuple[Decimal, ...]
    parts: tuple[Decimal, ...]
    final: Decimal | None
    trail: Decimal | None  # trailing distance (price) once every target is done
    breakeven: bool
    stop: Decimal
    extreme: Decimal  # the best price seen since the entry (for the trail)
    done: int = 0  # parts exited
    trailing: bool = False  # the stop has trailed the best price

    @classmethod
    def plan(cls, inst: Instrument, side: object, entry: object, stop: object, qty: object, *,
             at: Sequence[object] = (1, 2), fractions: Sequence[object] | None = None,
             final: object | None = None, trail: object | None = 1, breakeven: bool = True) -> ScaleOut:
        """A plan for ``qty`` entered at ``entry`` with its first ``stop``: exit ``fractions``
        (a third each of three parts by default) at ``at`` R multiples, the rest at ``final``
        R (if given) or on a stop trailing ``trail`` R behind the best price (if given; with
        neither, the rest waits for the stop). Part quantities: ``split_lots``."""
        sd = _side(side)
        e = _positive(entry, "entry price")
        s = _positive(stop, "stop price")
        if sd * (e - s) <= 0:
            raise ModelError(f"the stop {s} must be on the losing side of the entry {e}")
        r = abs(e - s)
        multiples = [_positive(m, "target (R multiple)") for m in at]
        if any(b <= a for a, b in zip(multiples, multiples[1:])):
            raise ModelError("targets must be increasing R multiples")
        if fractions is None:
            fractions = [ONE / (len(multiples) + 1)] * len(multiples)
        if len(fractions) != len(multiples):
            raise ModelError(f"{len(multiples)} targets need {len(multiples)} fractions, got {len(fractions)}")
        fin = None if final is None else _positive(final, "final target (R multiple)")
        if fin is not None and multiples and fin <= multiples[-1]:
            raise ModelError("the final target must be beyond the last target")
        counts = _lot_counts(inst, qty, fractions)
        parts = tuple(Decimal(c) * inst.lot_size for c in counts if c)
        kept = [e + sd * m * r for m, c in zip(multiples, counts, strict=False) if c]  # a part with no lot: no target
        return cls(side=sd, entry=e, risk=r, targets=tuple(kept), parts=parts,
                   final=None if fin is None else e + sd * fin * r,
                   trail=None if trail is None else _positive(trail, "trail (R multiple)") * r,
                   breakeven=breakeven, stop=s, extreme=e)

    @property
    def remaining(self) -> Decimal:
        """Units still held under the plan."""
        return sum(self.parts[self.done:], ZERO)

    def decide(self, price: object) -> tuple[ScaleOut, Exit]:
        """The next state and the exit due at ``price``: every target reached (several at
        once after a gap), else the whole rest when the stop (or the final target) is met."""
        p = _positive(price, "price")
        if self.done >= len(self.parts):
            return self, NO_EXIT
        sd = self.side
        extreme = p if sd * (p - self.extreme) > 0 else self.extreme
        state = replace(self, extreme=extreme)
        if sd * (p - self.stop) <= 0:
            return replace(state, done=len(self.parts)), Exit(self.remaining, "trailing stop" if self.trailing else "stop")
        qty, done, stop, trailing = ZERO, self.done, self.stop, self.trailing
        while done < len(self.targets) and sd * (p - self.targets[done]) >= 0:
            qty += self.parts[done]
            done += 1
        if done > self.done:
            if self.breakeven and sd * (self.entry - stop) > 0:
                stop = self.entry
            reason = f"target {done}" if done == self.done + 1 else f"targets {self.done + 1}-{done}"
            if done == len(self.parts) - 1 and self.final is not None and sd * (p - self.final) >= 0:
                return replace(state, done=len(self.parts), stop=stop), Exit(qty + self.parts[-1], reason + " and final")
            return replace(state, done=done, stop=stop), Exit(qty, reason)
        if done == len(self.parts) - 1:  # only the rest is left
            if self.final is not None and sd * (p - self.final) >= 0:
                return replace(state, done=len(self.parts)), Exit(self.parts[-1], "final target")
            if self.trail is not None:
                trailed = extreme - sd * self.trail
                if sd * (trailed - stop) > 0:
                    stop, trailing = trailed, True
                if sd * (p - stop) <= 0:
                    return replace(state, done=len(self.parts), stop=stop, trailing=trailing), Exit(
                        self.parts[-1], "trailing stop" if trailing else "stop")
        return replace(state, stop=stop, trailing=trailing), NO_EXIT
