"""Pre-trade checks: every order from every source passes ``PreTradeRisk.check``.

Each check returns ``None`` (pass) or a sentence naming the rule and the numbers, so a
refusal reads like "order notional $250,000.00 exceeds max_order_notional $100,000.00".
An order that shrinks a position (a *reducing* order) passes the checks about exposure
and buying power.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from workstation.model import ZERO, Instrument, Order, OrderType, Side, money
from workstation.portfolio import Portfolio


class RiskLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_order_qty: Decimal | None = None
    max_order_notional: Decimal | None = Decimal(250_000)
    allow_short: bool = True
    trading_halted: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str | None = None
    rule: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What a check may know about an order besides the order itself."""

    order: Order
    instrument: Instrument
    price: Decimal  # the price used for notional: limit, stop, or the touch
    notional: Decimal  # in the base currency
    position: Decimal  # current signed position
    reducing: bool


def fmt_money(d: Decimal) -> str:
    return f"${money(d):,.2f}"


def reducing(position: Decimal, side: Side, qty: Decimal) -> bool:
    """An order that only shrinks the current position (does not cross zero)."""
    if position > 0:
        return side is Side.SELL and qty <= position
    if position < 0:
        return side is Side.BUY and qty <= -position
    return False


@dataclass
class PreTradeRisk:
    portfolio: Portfolio
    limits: RiskLimits = field(default_factory=RiskLimits)
    working_orders: Callable[[], list[Order]] = field(default=lambda: [])

    def check(self, ctx: OrderContext) -> Verdict:
        lim = self.limits
        order = ctx.order
        if lim.trading_halted and not ctx.reducing:
            return Verdict(False, "trading is halted: only orders that reduce a position are accepted", "trading_halted")
        if lim.max_order_qty is not None and order.qty > lim.max_order_qty:
            return Verdict(
                False, f"order quantity {order.qty:,} exceeds max_order_qty {lim.max_order_qty:,}", "max_order_qty"
            )
        if lim.max_order_notional is not None and ctx.notional > lim.max_order_notional:
            return Verdict(
                False,
                f"order notional {fmt_money(ctx.notional)} exceeds max_order_notional {fmt_money(lim.max_order_notional)}",
                "max_order_notional",
            )
        if ctx.reducing:
            return Verdict(True)
        if order.side is Side.SELL and ctx.position - order.qty < 0 and not lim.allow_short:
            return Verdict(False, f"shorting is not allowed: selling {order.qty:,} {order.symbol} would leave a short position", "allow_short")
        bp = self.buying_power_after(ctx)
        if bp < 0:
            available = bp + self._cost(ctx)
            return Verdict(
                False,
                f"insufficient buying power: order needs {fmt_money(self._cost(ctx))}, {fmt_money(max(available, ZERO))} available",
                "buying_power",
            )
        return Verdict(True)

    def _cost(self, ctx: OrderContext) -> Decimal:
        """Buying power an order uses: its notional (margin accounts: divided by leverage)."""
        if self.portfolio.margin:
            return ctx.notional
        return ctx.notional if ctx.order.side is Side.BUY else ZERO

    def buying_power_after(self, ctx: OrderContext) -> Decimal:
        account = self.portfolio.account()
        reserved = ZERO
        for o in self.working_orders():
            if o.id == ctx.order.id or o.type is OrderType.MARKET:
                continue
            price = o.limit_price or o.stop_price
            if price is not None and o.parent_id is None:
                pos = self.portfolio.qty(o.symbol)
                if not reducing(pos, o.side, o.remaining):
                    reserved += price * o.remaining
        if ctx.reducing:
            return account.buying_power - reserved
        return account.buying_power - reserved - self._cost(ctx)
