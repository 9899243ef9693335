"""Limits on the option Greeks of the book: net delta, gamma and vega, per underlying and in all.

``GreekLimits`` is a pre-trade check (registered with ``OrderManager.add_check``): it takes
the Greeks of every open position (``workstation.trading.greeks``), adds the order's own
(a combo's legs summed: buying ``qty`` combos trades ``qty x ratio`` of each leg on its side,
selling reverses every leg) and refuses, with one line naming the limit, an order that
would leave a figure beyond its limit *and further from zero than it is now*: an order that
reduces a figure always passes, even while the book is over the limit.

Units (the limits in ``RiskLimits``, all in money): delta as **dollar delta** (delta in
underlying shares x the underlying's price), gamma as **dollar gamma per 1% move**, vega in
money per vol point. ``max_net_*`` bounds the account's sum, ``max_underlying_*`` each
underlying's. Working orders are not counted (only positions and this order). An opening
order whose Greeks cannot be computed (no price for its underlying, no IV from the option's
quote or the order's limit) is refused while a Greek limit is set; the kill switch and a
bracket's protective exits that reduce pass unchecked, as with the other limits.

``rows`` gives the Risk pane a line for each Greek limit that is set: the account's figure,
and the underlying nearest its limit (``underlying delta``, the underlying in its detail).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from workstation.core.formatting import dollars
from workstation.core.limits import LimitStore, RiskLimits
from workstation.core.model import BUY, SELL, Order
from workstation.risk.checks import ALLOWED, KILL_SOURCE, OrderContext, RiskRow, Verdict, row
from workstation.trading.greeks import GreekBook, GreekTotals, position_greeks

# (greek, the GreekTotals field, what a person reads)
GREEKS = (
    ("delta", "dollar_delta", "net delta"),
    ("gamma", "dollar_gamma", "net gamma"),
    ("vega", "vega", "net vega"),
)
NAMES = tuple(n for g, _f, _w in GREEKS for n in (f"max_net_{g}", f"max_underlying_{g}"))


def order_legs(order: Order) -> list[tuple[str, Decimal]]:
    """(symbol, signed quantity) the order would trade if its remaining quantity filled."""
    qty = order.qty - order.filled_qty
    if not order.legs:
        return [(order.symbol, qty if order.side is BUY else -qty)]
    out: dict[str, Decimal] = {}
    for leg in order.legs:
        side = leg.side if order.side is BUY else (SELL if leg.side is BUY else BUY)
        n = qty * leg.ratio
        out[leg.symbol] = out.get(leg.symbol, Decimal(0)) + (n if side is BUY else -n)
    return list(out.items())


def _money(x: float) -> str:
    return dollars(Decimal(str(round(x, 2))))


def _used(x: float) -> Decimal:
    return Decimal(str(round(abs(x), 2)))


class GreekLimits:
    """The pre-trade check (call it with an ``OrderContext``) and the Risk pane's rows."""

    def __init__(self, book: GreekBook, store: LimitStore) -> None:
        self.book = book
        self.store = store
        self._seen: RiskLimits | None = None
        self._any = False

    def __call__(self, ctx: OrderContext) -> Verdict:
        order = ctx.order
        lim = self.store.limits_for(order.strategy)
        if lim is not self._seen:  # limits change rarely: whether any Greek limit is set, once per change
            self._seen, self._any = lim, any(getattr(lim, n) is not None for n in NAMES)
        if not self._any:
            return ALLOWED
        if (order.source == KILL_SOURCE or ctx.protective) and ctx.reducing:
            return ALLOWED
        found = self.refusal(order, lim, ctx.price)
        if found is None:
            return ALLOWED
        return Verdict(False, found[1], found[0])

    def refusal(self, order: Order, lim: RiskLimits, price: Decimal | None = None) -> tuple[str, str] | None:
        """(limit name, the line saying why) when ``order`` may not go out under ``lim``."""
        book = self.book
        legs = order_legs(order)
        prices = {order.symbol: float(price)} if price is not None and not order.legs and price > 0 else {}
        units = book.units([s for s, _ in legs], prices)
        adds = [position_greeks(units[s], q) for s, q in legs]
        before_per, before = book.totals(book.positions())
        per = {t.underlying: t for t in before_per}
        unknown = [a.symbol for a in adds if not a.known]
        for greek, field, words in GREEKS:
            net, each = getattr(lim, f"max_net_{greek}"), getattr(lim, f"max_underlying_{greek}")
            if net is None and each is None:
                continue
            if unknown:
                return f"max_net_{greek}" if net is not None else f"max_underlying_{greek}", (
                    f"cannot work out the {greek} of {unknown[0]} (no price for it or its underlying), "
                    f"and {'max_net_' if net is not None else 'max_underlying_'}{greek} is set"
                )
            change: dict[str, float] = {}
            for a in adds:
                change[a.underlying] = change.get(a.underlying, 0.0) + getattr(a, field)
            if net is not None:
                old = getattr(before, field)
                new = old + sum(change.values())
                if abs(new) > float(net) and abs(new) > abs(old):
                    return f"max_net_{greek}", (
                        f"{words} would be {_money(new)}, beyond max_net_{greek} {dollars(net)}"
                    )
            if each is not None:
                for underlying, d in change.items():
                    t = per.get(underlying)
                    old = getattr(t, field) if t is not None else 0.0
                    new = old + d
                    if abs(new) > float(each) and abs(new) > abs(old):
                        return f"max_underlying_{greek}", (
                            f"{underlying} {words} would be {_money(new)}, beyond max_underlying_{greek} {dollars(each)}"
                        )
        return None

    def rows(self) -> list[RiskRow]:
        """One row per Greek limit that is set (none when no Greek limit is)."""
        lim = self.store.limits
        if all(getattr(lim, n) is None for n in NAMES):
            return []
        per, account = self.book.totals(self.book.positions())
        out = []
        for greek, field, words in GREEKS:
            net, each = getattr(lim, f"max_net_{greek}"), getattr(lim, f"max_underlying_{greek}")
            if net is not None:
                out.append(row(words, _used(getattr(account, field)), net, "$", lim.near_pct, _unknown(account)))
            if each is not None:
                top = _largest(per, field, each)
                used = _used(getattr(top, field)) if top is not None else Decimal(0)
                out.append(row(f"underlying {greek}", used, each, "$", lim.near_pct, top.underlying or "" if top else ""))
        return out


def _largest(per: list[GreekTotals], field: str, limit: Decimal) -> GreekTotals | None:
    return max(per, key=lambda t: abs(getattr(t, field)), default=None)


def _unknown(t: GreekTotals) -> str:
    return f"{t.unknown} position(s) without Greeks" if t.unknown else ""


def wire(book: GreekBook, store: LimitStore, add_check: Callable[[Callable[[OrderContext], Verdict]], object]) -> GreekLimits:
    """Build the check and register it (``OrderManager.add_check``)."""
    check = GreekLimits(book, store)
    add_check(check)
    return check
