"""FIFO tax lots and the wash-sale warning.

Every fill goes through ``TaxLots.apply``: a buy opens a lot (or closes short lots, first in
first out), a sell closes the oldest long lots first. A sale that closes long lots at a net
loss is remembered; ``wash_sale`` tells whether buying a symbol now would fall within
30 days of such a sale (the US rule under which the loss may be disallowed). It only warns.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from workstation.core.model import ZERO, Fill, Side, iso

WASH_WINDOW = 30 * 86_400.0


@dataclass(slots=True)
class Lot:
    qty: Decimal  # signed: negative for a short lot
    price: Decimal
    ts: float


@dataclass(frozen=True, slots=True)
class LossSale:
    symbol: str
    ts: float
    qty: Decimal
    loss: Decimal  # positive amount lost


@dataclass
class TaxLots:
    multiplier: dict[str, Decimal] = field(default_factory=dict)
    lots: dict[str, deque[Lot]] = field(default_factory=dict)
    loss_sales: dict[str, LossSale] = field(default_factory=dict)  # the latest per symbol: the only one that matters

    def apply(self, fill: Fill, multiplier: Decimal = Decimal(1)) -> Decimal:
        """Book a fill FIFO; returns the P&L realized on the lots it closed."""
        lots = self.lots.setdefault(fill.symbol, deque())
        remaining = fill.qty
        sign = 1 if fill.side is Side.BUY else -1
        realized = ZERO
        closed_long = ZERO
        while remaining > 0 and lots and (lots[0].qty > 0) != (sign > 0):
            lot = lots[0]
            take = min(remaining, abs(lot.qty))
            direction = 1 if lot.qty > 0 else -1
            pnl = take * (fill.price - lot.price) * multiplier * direction
            realized += pnl
            if direction > 0:
                closed_long += take
            lot.qty -= take * direction
            remaining -= take
            if lot.qty == 0:
                lots.popleft()
        if remaining > 0:
            lots.append(Lot(qty=remaining * sign, price=fill.price, ts=fill.ts))
        if fill.side is Side.SELL and closed_long > 0 and realized < 0:
            self.loss_sales[fill.symbol] = LossSale(fill.symbol, fill.ts, closed_long, -realized)
        return realized

    def open_lots(self, symbol: str) -> list[Lot]:
        return list(self.lots.get(symbol, ()))

    def wash_sale(self, symbol: str, now: float) -> str | None:
        """A warning sentence when buying ``symbol`` at ``now`` could be a wash sale, else None."""
        last = self.loss_sales.get(symbol)
        if last is None or not 0 <= now - last.ts <= WASH_WINDOW:
            return None
        # one sentence per symbol and sale day, so repeated buys fold into one alert
        return f"wash sale: buying {symbol} within 30 days of a sale at a loss on {iso(last.ts)[:10]}; the loss may be disallowed"
