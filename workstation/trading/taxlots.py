"""FIFO tax lots and the wash-sale rule, both ways.

Every fill goes through ``TaxLots.apply``, in the order the journal holds them (the session
rebuilds the lots from the journal's fills at start, then applies each new fill; nothing
here is stored apart from the journal). A buy opens a lot (or closes short lots, first in
first out), a sell closes the oldest long lots first. Each lot a sale closes becomes a
``ClosedLot``: proceeds and cost basis with the commissions in them.

The wash-sale rule (US, as brokers apply it to FIFO lots): a long lot sold at a loss is a
wash when substantially identical shares are bought within 30 days before or after the
sale. Identical means the same symbol here (options on it are not matched: out of scope).
The rule runs when the loss sale happens, against long lots bought in the 30 days before
that are still held, and again when a buy comes within 30 days after a loss sale. Shares
of the same purchase (the same order) as the sold shares never replace them. The
disallowed loss, pro rata when fewer shares replace than were sold, moves into the
replacement shares' cost basis, and their holding period starts earlier by as long as the
washed shares were held. A replacement share absorbs at most one disallowed loss. Days are
New York trade dates. Short sales are booked FIFO but never washed (out of scope).

``wash_sale`` is the order ticket's warning: buying now would wash a recent loss.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from workstation.core.model import ZERO, Fill, Side, iso
from workstation.core.sessions import NEW_YORK

WASH_DAYS = 30
DAY = 86_400.0
CENT = Decimal("0.01")


def trade_date(ts: float) -> date:
    """The New York calendar day of ``ts`` (the day a US trade counts on)."""
    return datetime.fromtimestamp(ts, NEW_YORK).date()


def _anniversary(d: date) -> date:
    try:
        return d.replace(year=d.year + 1)
    except ValueError:  # 29 February
        return date(d.year + 1, 3, 1)


def _share(total: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """``part``'s share of ``total`` spread over ``whole``, in cents; the last part takes the rest,
    so the parts always add up to the total exactly."""
    if part >= whole or not total:
        return total
    return min((total * part / whole).quantize(CENT), total)


@dataclass(slots=True)
class Lot:
    qty: Decimal  # signed: negative for a short lot
    price: Decimal
    ts: float  # acquired, as the holding period counts it (earlier than bought for a replacement)
    bought: float = 0.0  # when these shares were bought (the wash window counts from it)
    order_id: str = ""  # the purchase: its own shares never replace each other
    fees: Decimal = ZERO  # the opening commission still in the basis of the remaining qty
    adjustment: Decimal = ZERO  # disallowed losses carried into the basis of the remaining qty
    replacement: bool = False  # these shares absorbed a disallowed loss (at most one each)


@dataclass(slots=True)
class ClosedLot:
    """One lot (or part of one) closed by a fill. Mutable while its loss can still be washed."""

    symbol: str
    qty: Decimal
    acquired: float  # for the holding period (a replacement's is moved back)
    sold: float
    proceeds: Decimal
    basis: Decimal  # cost, commissions and any disallowed loss carried in
    short: bool = False  # a short sale covered
    order_id: str = ""  # the purchase the sold shares came from
    disallowed: Decimal = ZERO  # the part of this loss that a replacement took (wash sale)
    adjusted: bool = False  # the basis holds a disallowed loss from an earlier sale
    unmatched: Decimal = ZERO  # shares of this loss not replaced yet

    @property
    def gain(self) -> Decimal:
        """Proceeds less cost basis (before the wash-sale add-back)."""
        return self.proceeds - self.basis

    @property
    def reported(self) -> Decimal:
        """The gain or loss reported for the year: a disallowed loss is not deducted now."""
        return self.gain + self.disallowed

    @property
    def long_term(self) -> bool:
        """Held more than a year (a short sale is short-term)."""
        return not self.short and trade_date(self.sold) > _anniversary(trade_date(self.acquired))


def _within(a: float, b: float) -> bool:
    """Whether ``a`` and ``b`` fall within 30 trade dates of each other (seconds decide the clear cases)."""
    gap = abs(a - b)
    if gap < (WASH_DAYS - 1) * DAY:
        return True
    if gap > (WASH_DAYS + 1) * DAY:
        return False
    return abs((trade_date(a) - trade_date(b)).days) <= WASH_DAYS


@dataclass
class TaxLots:
    """The FIFO lots of an account. ``keep_closed`` keeps every closed lot (the tax report);
    the engine keeps only the loss sales a buy could still wash."""

    keep_closed: bool = False
    lots: dict[str, deque[Lot]] = field(default_factory=dict)
    closed: list[ClosedLot] = field(default_factory=list)  # every lot closed, in order (keep_closed)
    losses: dict[str, deque[ClosedLot]] = field(default_factory=dict)  # loss sales not all replaced, oldest first
    free: dict[str, deque[Lot]] = field(default_factory=dict)  # long lots bought lately that replaced nothing yet

    def apply(self, fill: Fill, multiplier: Decimal = Decimal(1)) -> Decimal:
        """Book a fill FIFO; returns the P&L realized on the lots it closed (price against
        price, before commissions and wash-sale adjustments)."""
        lots = self.lots.setdefault(fill.symbol, deque())
        remaining = fill.qty
        fee_left = fill.commission
        sign = 1 if fill.side is Side.BUY else -1
        realized = ZERO
        new_losses: list[ClosedLot] = []
        while remaining > 0 and lots and (lots[0].qty > 0) != (sign > 0):
            lot = lots[0]
            held = abs(lot.qty)
            take = min(remaining, held)
            direction = 1 if lot.qty > 0 else -1
            realized += take * (fill.price - lot.price) * multiplier * direction
            fees = _share(lot.fees, take, held)
            adjustment = _share(lot.adjustment, take, held)
            fee = _share(fee_left, take, remaining)
            if direction > 0:  # a long lot sold
                proceeds = take * fill.price * multiplier - fee
                basis = take * lot.price * multiplier + fees + adjustment
            else:  # a short lot covered: its sale's proceeds against the cost of the buy
                proceeds = take * lot.price * multiplier - fees
                basis = take * fill.price * multiplier + fee
            if direction > 0 and proceeds < basis or self.keep_closed:
                row = ClosedLot(
                    symbol=fill.symbol, qty=take, acquired=lot.ts, sold=fill.ts, proceeds=proceeds, basis=basis,
                    short=direction < 0, order_id=lot.order_id, adjusted=lot.replacement,
                )
                if self.keep_closed:
                    self.closed.append(row)
                if direction > 0 and proceeds < basis:
                    row.unmatched = take
                    new_losses.append(row)
            lot.qty -= take * direction
            lot.fees -= fees
            lot.adjustment -= adjustment
            fee_left -= fee
            remaining -= take
            if lot.qty == 0:
                lots.popleft()
        if remaining > 0:
            lots.append(Lot(
                qty=remaining * sign, price=fill.price, ts=fill.ts, bought=fill.ts, order_id=fill.order_id, fees=fee_left,
            ))
            if sign > 0:  # a buy after loss sales: the new lot replaces the oldest first
                new = lots[-1]
                pending = self._pending(fill.symbol, fill.ts)
                for row in pending:
                    if new.replacement:
                        break
                    self._wash(row, lots, (new,))
                while pending and not pending[0].unmatched:
                    pending.popleft()
                if not new.replacement:  # (a part of it may still be free)
                    self.free.setdefault(fill.symbol, deque()).append(new)
        if new_losses:  # a loss sale after buys
            free = self.free.get(fill.symbol, deque())
            while free and (free[0].qty <= 0 or free[0].replacement or not _within(free[0].bought, fill.ts)):
                free.popleft()  # sold, replacing, or too old for this sale and every later one
            candidates = [lot for lot in free if lot.qty > 0 and not lot.replacement]
            for row in new_losses:
                self._wash(row, lots, candidates)
                if row.unmatched:
                    self.losses.setdefault(fill.symbol, deque()).append(row)
        return realized

    def _pending(self, symbol: str, now: float) -> deque[ClosedLot]:
        """Loss sales of ``symbol`` a buy at ``now`` would still wash, oldest first."""
        rows = self.losses.get(symbol)
        if rows is None:
            return deque()
        while rows and (not rows[0].unmatched or not _within(now, rows[0].sold)):
            rows.popleft()
        if not rows:
            del self.losses[symbol]
        return rows

    def _wash(self, row: ClosedLot, lots: deque[Lot], candidates) -> None:
        """Match the loss ``row`` against ``candidates`` (long lots, first bought first) bought
        within 30 days of its sale, moving its disallowed loss into their basis."""
        for lot in candidates:
            if not row.unmatched:
                return
            if lot.replacement or lot.order_id == row.order_id or not _within(lot.bought, row.sold):
                continue
            take = min(row.unmatched, lot.qty)
            if take < lot.qty:  # split: the replacement shares become a lot of their own, just before
                part = Lot(
                    qty=take, price=lot.price, ts=lot.ts, bought=lot.bought, order_id=lot.order_id,
                    fees=_share(lot.fees, take, lot.qty),
                )
                lot.qty -= take
                lot.fees -= part.fees
                at = next(i for i in range(len(lots) - 1, -1, -1) if lots[i] is lot)  # a recent lot: near the end
                lots.insert(at, part)
                lot = part
            loss = -row.gain - row.disallowed  # what is left of this loss to move
            moved = _share(loss, take, row.unmatched)
            lot.adjustment += moved
            lot.replacement = True
            lot.ts = lot.bought - (row.sold - row.acquired)  # the washed shares' holding period carries over
            row.disallowed += moved
            row.unmatched -= take

    def open_lots(self, symbol: str) -> list[Lot]:
        return list(self.lots.get(symbol, ()))

    def wash_sale(self, symbol: str, now: float) -> str | None:
        """A warning sentence when buying ``symbol`` at ``now`` would wash a loss, else None."""
        rows = [r for r in self._pending(symbol, now) if r.unmatched and r.sold <= now]
        if not rows:
            return None
        # one sentence per symbol and sale day, so repeated buys fold into one alert
        return f"wash sale: buying {symbol} within 30 days of a sale at a loss on {iso(rows[-1].sold)[:10]}; the loss may be disallowed"
