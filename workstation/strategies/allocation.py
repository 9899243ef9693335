"""Capital allocation per strategy, enforced by the order manager for that strategy's orders.

A strategy instance may be given capital: an amount (``25000``) or a fraction of the account's
equity (``25%``). ``AllocationGuard`` is registered with ``OrderManager.add_check`` and refuses
an order tagged with that strategy when the strategy's gross exposure (its own positions at
their marks, plus its working orders, plus this order) would exceed its capital. Orders that
only shrink the strategy's own position always pass, so a strategy can always get out.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from workstation.core.model import ZERO, Order, OrderType
from workstation.trading.portfolio import Portfolio
from workstation.risk.checks import ALLOWED, OrderContext, Verdict, fmt_money, reducing
from workstation.strategies.api import Allocation


class AllocationGuard:
    def __init__(
        self,
        portfolio: Portfolio,
        working_orders: Callable[[], list[Order]],
        allocation: Callable[[str], Allocation | None],
    ) -> None:
        self.portfolio = portfolio
        self.working_orders = working_orders
        self.allocation = allocation

    def used(self, strategy: str, exclude: str | None = None) -> Decimal:
        """Gross exposure of a strategy in the base currency: positions plus working orders."""
        pf = self.portfolio
        book = pf.books.get(strategy)
        total = ZERO
        if book is not None:
            for symbol, pos in book.positions.items():
                if pos.qty == 0:
                    continue
                p = pf.position(symbol, strategy)
                price = pf.last(symbol) or pos.avg
                total += abs(pf.to_base(price * pos.qty * p.multiplier, p.currency))
        for o in self.working_orders():
            if o.strategy != strategy or o.id == exclude or o.parent_id is not None:
                continue
            own = pf.position(o.symbol, strategy).qty
            if reducing(own, o.side, o.remaining):
                continue
            price = o.limit_price or o.stop_price
            if price is None or o.type is OrderType.MARKET:
                price = pf.last(o.symbol)
            if price is not None:
                p = pf.position(o.symbol, strategy)
                total += abs(pf.to_base(price * o.remaining * p.multiplier, p.currency))
        return total

    def __call__(self, ctx: OrderContext) -> Verdict:
        order = ctx.order
        if order.strategy is None:
            return ALLOWED
        alloc = self.allocation(order.strategy)
        if alloc is None:
            return ALLOWED
        own = self.portfolio.position(order.symbol, order.strategy).qty
        if reducing(own, order.side, order.qty):
            return ALLOWED
        capital = alloc.capital(self.portfolio.equity())
        used = self.used(order.strategy, exclude=order.id)
        if used + ctx.notional > capital:
            return Verdict(
                False,
                f"strategy {order.strategy} allocation {fmt_money(capital)} exceeded: order {fmt_money(ctx.notional)} "
                f"with {fmt_money(used)} already in use",
                "strategy_allocation",
            )
        return ALLOWED
