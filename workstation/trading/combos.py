"""Combo orders (spreads) as one order: what a combo may hold, its name, its net price, its fills
and the money it can lose. Pure: no broker, no journal, no event loop.

The convention (``workstation.core.model.Leg``): legs are written for ONE unit of the combo
BOUGHT. Buying ``qty`` combos trades, per leg, ``qty * ratio`` of ``leg.symbol`` on
``leg.side``; selling the combo reverses every leg's side. The price of a combo is its *net*
price per unit, per share like an option premium (money = price x multiplier x qty):
``net = sum(leg.side.sign * leg.ratio * leg price)``. Buying pays that net (a debit; a
negative net is a credit received), selling receives it. A limit is the most net debit a buy
pays, the least net credit a sell takes; it may be zero or negative.

What a combo may hold (``check_legs``): two to four legs on distinct symbols, each ratio a
whole number from 1 to ``MAX_RATIO``; either options of one underlying (any expiries, strikes
and rights: verticals, straddles, strangles, butterflies, condors, calendars, diagonals) or
futures of one root (calendar spreads, rolls); one multiplier and one currency. Stock legs
(buy-writes) and options mixed with futures are refused with one line.

A combo order's ``Order.symbol`` is its name (``combo_symbol``): the underlying, then each
leg signed as bought (``+``) or sold (``-``) for one unit bought, with its ratio when above
one: ``AAPL 2026-12-18 +200C -210C`` (one expiry), ``AAPL +2026-12-18 200C -2027-01-15 200C``
(several), ``ES -2026-12 +2027-03`` (futures). It is a label, never parsed: code reads legs.

The worst case (``combo_cost``) is what the pre-trade checks hold against buying power: for
options, the most the combo can lose at expiry over every underlying price (the net debit
paid for a debit spread; the width less the credit for a credit spread), from the legs'
intrinsic values; a combo whose loss has no bound (more calls sold than bought, or a short
leg expiring after a long one) is charged its net debit plus the short legs' notional, as a
plain short sale of them would be; futures legs that open are charged their initial margin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_FLOOR, Decimal

from workstation.core.model import (
    BUY,
    ZERO,
    AssetClass,
    Fill,
    Instrument,
    Leg,
    ModelError,
    Order,
    Right,
    Side,
    plain,
    to_decimal,
)
from workstation.trading.portfolio import Portfolio

MIN_LEGS, MAX_LEGS = 2, 4
MAX_RATIO = 100


class ComboError(ModelError):
    """A combo that cannot be sent as asked; one line for a person."""


def leg_side(leg: Leg, combo_side: Side) -> Side:
    """The side a leg trades when the combo is bought or sold."""
    return leg.side if combo_side is BUY else leg.side.opposite


def leg_qty(leg: Leg, units: Decimal) -> Decimal:
    """The quantity of a leg traded for ``units`` combos."""
    return units * leg.ratio


def check_legs(legs: tuple[Leg, ...], instruments: list[Instrument]) -> tuple[Leg, ...]:
    """The legs with canonical symbols, or ComboError saying what a combo may not hold."""
    if not MIN_LEGS <= len(legs) <= MAX_LEGS:
        raise ComboError(f"a combo has {MIN_LEGS} to {MAX_LEGS} legs, got {len(legs)}")
    seen: set[str] = set()
    out = []
    for leg, inst in zip(legs, instruments):
        ratio = leg.ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int) or not 1 <= ratio <= MAX_RATIO:
            raise ComboError(f"leg {inst.symbol}: the ratio must be a whole number from 1 to {MAX_RATIO}, got {ratio!r}")
        if inst.symbol in seen:
            raise ComboError(f"leg {inst.symbol} appears twice: a combo's legs are distinct contracts")
        seen.add(inst.symbol)
        if inst.asset_class not in (AssetClass.OPTION, AssetClass.FUTURE):
            raise ComboError(f"leg {inst.symbol} is {inst.asset_class.value}: a combo's legs are options or futures")
        out.append(Leg(symbol=inst.symbol, side=Side(leg.side), ratio=ratio))
    first = instruments[0]
    for inst in instruments[1:]:
        if inst.asset_class is not first.asset_class or inst.underlying != first.underlying:
            raise ComboError(
                f"legs {first.symbol} and {inst.symbol} differ in underlying: a combo's legs are options "
                f"of one underlying or futures of one root"
            )
        if inst.multiplier != first.multiplier or inst.currency != first.currency:
            raise ComboError(f"legs {first.symbol} and {inst.symbol} differ in multiplier or currency")
    return tuple(out)


def combo_tick(instruments: Iterable[Instrument]) -> Decimal:
    """The tick a combo's net price is on: the finest of its legs' ticks."""
    return min(inst.tick_size for inst in instruments)


def check_net_price(price: object, tick: Decimal, what: str = "net price") -> Decimal:
    """A combo's net price (zero and negative allowed: a credit), on ``tick``."""
    d = to_decimal(price, what)
    if d % tick:
        raise ComboError(f"{what} {plain(d)} is off the {plain(tick)} tick of the combo's legs")
    return d


def _tail(inst: Instrument) -> str:
    if inst.asset_class is AssetClass.OPTION:
        return f"{plain(inst.strike)}{inst.right.value if inst.right else ''}"
    return inst.symbol.removeprefix(f"{inst.underlying}-")


def combo_symbol(legs: tuple[Leg, ...], instruments: list[Instrument]) -> str:
    """The name a combo order shows (see the module docstring)."""
    root = instruments[0].underlying or instruments[0].symbol
    expiries = {inst.expiry for inst in instruments}
    options = instruments[0].asset_class is AssetClass.OPTION
    parts = [root]
    if options and len(expiries) == 1 and instruments[0].expiry is not None:
        parts.append(instruments[0].expiry.isoformat())
    for leg, inst in zip(legs, instruments):
        sign = "+" if leg.side is BUY else "-"
        ratio = f"{leg.ratio}x" if leg.ratio > 1 else ""
        if options and len(expiries) > 1 and inst.expiry is not None:
            parts.append(f"{sign}{ratio}{inst.expiry.isoformat()} {_tail(inst)}")
        else:
            parts.append(f"{sign}{ratio}{_tail(inst)}")
    return " ".join(parts)


def net_price(legs: Iterable[Leg], prices: Mapping[str, Decimal]) -> Decimal:
    """A combo's net price per unit from one price per leg (the module docstring's sign rule)."""
    total = ZERO
    for leg in legs:
        total += leg.side.sign * leg.ratio * prices[leg.symbol]
    return total


def touch_prices(legs: Iterable[Leg], combo_side: Side, bid_ask: Mapping[str, tuple[Decimal, Decimal]]) -> dict[str, Decimal]:
    """Each leg's touch for the side it trades: a leg bought at its ask, a leg sold at its bid."""
    return {
        leg.symbol: bid_ask[leg.symbol][1] if leg_side(leg, combo_side) is BUY else bid_ask[leg.symbol][0] for leg in legs
    }


# --------------------------------------------------------------------------- fills


class ComboFills:
    """Each working combo's fills per leg (quantity and money), for its progress in combo units
    and its net average price. Rebuilt from the journal's fills after a restart (``rebuild``)."""

    def __init__(self) -> None:
        self._legs: dict[str, dict[str, list[Decimal]]] = {}

    def add(self, order: Order, fill: Fill) -> tuple[Decimal, Decimal | None]:
        """Book one leg fill of ``order``; returns (units filled, net average price per unit)."""
        per_leg = self._legs.setdefault(order.id, {})
        got = per_leg.setdefault(fill.symbol, [ZERO, ZERO])
        got[0] += fill.qty
        got[1] += fill.qty * fill.price
        return self.progress(order)

    def progress(self, order: Order) -> tuple[Decimal, Decimal | None]:
        """(whole combo units every leg has filled, the net average price per unit, or None
        while some leg has no fill)."""
        per_leg = self._legs.get(order.id, {})
        units: Decimal | None = None
        net = ZERO
        for leg in order.legs:
            got = per_leg.get(leg.symbol)
            if got is None or got[0] <= 0:
                return ZERO, None
            whole = (got[0] / leg.ratio).to_integral_value(ROUND_FLOOR)
            units = whole if units is None else min(units, whole)
            net += leg.side.sign * leg.ratio * (got[1] / got[0])
        return (units or ZERO), net

    def forget(self, order_id: str) -> None:
        self._legs.pop(order_id, None)

    def rebuild(self, orders: Iterable[Order], fills: Iterable[Fill]) -> None:
        """Take back the leg fills of the combo ``orders`` (their journaled fills, in order)."""
        wanted = {o.id: o for o in orders if o.legs}
        if not wanted:
            return
        for fill in fills:
            order = wanted.get(fill.order_id)
            if order is not None:
                self.add(order, fill)


# --------------------------------------------------------------------------- the worst case


def max_loss(legs: list[tuple[Instrument, Decimal]], paid: Decimal) -> Decimal | None:
    """The most an option combo loses at expiry over every underlying price, in money (per the
    legs' intrinsic values at their expiry), when ``paid`` was paid for it (negative: a credit
    received). ``legs``: (instrument, signed quantity held by the combo). None when the loss has
    no bound: more calls sold than bought, or a short leg that expires after a long one."""
    expiries_long = [inst.expiry for inst, q in legs if q > 0 and inst.expiry is not None]
    if any(q < 0 and inst.expiry is not None and any(inst.expiry > e for e in expiries_long) for inst, q in legs):
        return None
    slope = sum((q for inst, q in legs if inst.right is Right.CALL), ZERO)
    if slope < 0:
        return None

    def payoff(s: Decimal) -> Decimal:
        total = ZERO
        for inst, q in legs:
            k = inst.strike or ZERO
            value = max(s - k, ZERO) if inst.right is Right.CALL else max(k - s, ZERO)
            total += q * value * inst.multiplier
        return total

    points = [ZERO, *{inst.strike for inst, _ in legs if inst.strike is not None}]
    return max(paid - payoff(s) for s in points)


def combo_cost(
    pf: Portfolio, legs: Iterable[Leg], side: Side, units: Decimal, net: Decimal | None,
    instrument: Callable[[str], Instrument], *, skip_reducing: bool = True,
) -> Decimal:
    """Buying power ``units`` combos of ``legs`` on ``side`` use at net price ``net``, in the base
    currency (see the module docstring). ``net`` None (a market combo not priced yet) counts no
    premium, only the structure."""
    legs = tuple(legs)
    insts = [instrument(leg.symbol) for leg in legs]
    first = insts[0]
    if first.asset_class is AssetClass.FUTURE:
        total = ZERO
        for leg in legs:
            eff, q = leg_side(leg, side), leg_qty(leg, units)
            if skip_reducing and _reduces(pf.qty(leg.symbol), eff, q):
                continue
            total += pf.order_margin(leg.symbol, q, pf.last(leg.symbol))
        return total
    paid = (net or ZERO) * first.multiplier * units * (1 if side is BUY else -1)
    signed = [(inst, leg_qty(leg, units) * leg_side(leg, side).sign) for leg, inst in zip(legs, insts)]
    loss = max_loss(signed, paid)
    if loss is None:  # no bound: the debit, and the short legs' notional as a plain short sale would be charged
        shorts = ZERO
        if pf.margin:
            for (inst, q), leg in zip(signed, legs):
                if q < 0:
                    shorts += -q * (pf.last(leg.symbol) or ZERO) * inst.multiplier
        loss = max(paid, ZERO) + shorts
    return pf.to_base(max(loss, ZERO), first.currency)


def _reduces(position: Decimal, side: Side, qty: Decimal) -> bool:
    if position > 0:
        return side is not BUY and qty <= position
    if position < 0:
        return side is BUY and qty <= -position
    return False


def reducing_combo(pf: Portfolio, legs: Iterable[Leg], side: Side, units: Decimal) -> bool:
    """Whether every leg only shrinks its position (a combo that closes)."""
    return all(_reduces(pf.qty(leg.symbol), leg_side(leg, side), leg_qty(leg, units)) for leg in legs)


def closing_units(held: Callable[[str], Decimal], order: Order) -> Decimal:
    """How many units of ``order``'s combo are still held, leg for leg (``held``: a symbol's signed
    position): the reverse combo's size. Each leg's position in the direction the combo traded
    it, over its ratio; at most the units filled."""
    units = order.filled_qty
    for leg in order.legs:
        have = held(leg.symbol) * leg_side(leg, order.side).sign
        units = min(units, max(have, ZERO) / leg.ratio)
    return units.to_integral_value(ROUND_FLOOR)


def open_combos(orders: Iterable[Order], held: Mapping[str, Decimal]) -> list[tuple[Order, Decimal]]:
    """The combos whose legs are still held, newest first, each with its units: what the Positions
    pane groups. A leg held by several combos is given to the newest first; what no combo
    accounts for stays a plain position."""
    left = dict(held)
    out = []
    for order in sorted((o for o in orders if o.legs and o.filled_qty > 0), key=lambda o: o.created, reverse=True):
        units = closing_units(lambda s: left.get(s, ZERO), order)
        if units <= 0:
            continue
        for leg in order.legs:
            left[leg.symbol] = left.get(leg.symbol, ZERO) - units * leg.ratio * leg_side(leg, order.side).sign
        out.append((order, units))
    return out
