"""Pre-trade checks of a combo order (a spread): the combo is judged as ONE order.

* A trading halt and a tripped breaker let it through only when every leg reduces its
  position (a closing combo); the kill switch's reducing combos skip the caps and flow limits.
* Per leg: ``max_order_qty`` (and, for futures, ``max_future_contracts_per_order``) on the
  leg's quantity (combo units x ratio).
* ``max_order_notional`` on the combo's worst case (``workstation.trading.combos.combo_cost``:
  its max loss, or the initial margin of its futures legs); futures combos are bounded by
  contracts and margin instead.
* The price collar: the limit's distance from the net mid of the legs' quotes, as a
  percentage of the legs' gross premium (sum of ratio x mid): a net price near zero has no
  meaningful percentage of its own.
* The order rate and open orders count the combo once.
* Unless every leg reduces: per leg, shorting, ``max_position_qty`` (and futures contracts
  per position) at its worst case (working orders of that symbol, a combo's legs included),
  ``max_position_notional`` for options; then buying power against the combo's worst case.
  (The gross/net exposure and concentration limits are judged on single orders only.)
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from workstation.core.limits import RiskLimits
from workstation.core.model import BUY, ZERO, AssetClass, Instrument, Order, OrderType, plain
from workstation.risk.checks import (
    ALLOWED,
    HUNDRED,
    KILL_SOURCE,
    OrderContext,
    PreTradeRisk,
    Verdict,
    fmt_money,
    fmt_pct,
    fmt_qty,
)
from workstation.trading.combos import combo_cost, leg_qty, leg_side, reducing_combo


def check_combo(
    risk: PreTradeRisk, order: Order, instrument: Callable[[str], Instrument], *,
    net: Decimal | None, net_mid: Decimal | None, gross_mid: Decimal | None,
) -> tuple[Verdict, Decimal]:
    """The verdict on combo ``order`` and the buying power it uses (its worst case).
    ``net``: the price it is valued at (its limit, or the net touch for a market combo);
    ``net_mid`` and ``gross_mid``: the legs' net and gross mid (None without quotes)."""
    lim = risk.store.limits_for(order.strategy)
    pf = risk.portfolio
    closing = reducing_combo(pf, order.legs, order.side, order.qty)
    cost = ZERO if closing else combo_cost(pf, order.legs, order.side, order.qty, net, instrument)
    found = _refusal(risk, order, lim, instrument, closing, cost, net_mid, gross_mid)
    if found is not None:
        return Verdict(False, found[1], found[0]), cost
    return ALLOWED, cost


def _refusal(
    risk: PreTradeRisk, order: Order, lim: RiskLimits, instrument: Callable[[str], Instrument], closing: bool,
    cost: Decimal, net_mid: Decimal | None, gross_mid: Decimal | None,
) -> tuple[str, str] | None:
    if lim.trading_halted and not closing:
        return "trading_halted", "trading is halted: only orders that reduce a position are accepted"
    tripped = risk.breaker_reason()
    if tripped and not closing:
        return "circuit_breaker", f"circuit breaker tripped ({tripped}): only orders that reduce a position are accepted"
    if order.source == KILL_SOURCE and closing:
        return None
    futures = instrument(order.legs[0].symbol).asset_class is AssetClass.FUTURE  # bounded by contracts and margin
    for leg in order.legs:
        q = leg_qty(leg, order.qty)
        if lim.max_order_qty is not None and q > lim.max_order_qty:
            return "max_order_qty", f"leg {leg.symbol}: quantity {fmt_qty(q)} exceeds max_order_qty {fmt_qty(lim.max_order_qty)}"
        cap = lim.max_future_contracts_per_order
        if futures and cap is not None and q > cap:
            return "max_future_contracts_per_order", f"leg {leg.symbol}: {fmt_qty(q)} contracts exceed max_future_contracts_per_order {cap}"
    if not futures and lim.max_order_notional is not None and cost > lim.max_order_notional:
        return "max_order_notional", (
            f"combo worst case {fmt_money(cost)} exceeds max_order_notional {fmt_money(lim.max_order_notional)}"
        )
    if (
        lim.price_collar_pct is not None and order.type is OrderType.LIMIT and order.limit_price is not None
        and net_mid is not None and gross_mid is not None and gross_mid > 0
    ):
        off = abs(order.limit_price - net_mid) / gross_mid * HUNDRED
        if off > lim.price_collar_pct:
            return "price_collar_pct", (
                f"net price {plain(order.limit_price)} is {plain(abs(order.limit_price - net_mid))} from the legs' net mid "
                f"{plain(net_mid.quantize(Decimal('0.01')))}, {fmt_pct(off)} of their premium, beyond price_collar_pct {plain(lim.price_collar_pct)}%"
            )
    found = risk._rate(lim)
    if found is not None:
        return found
    if lim.max_open_orders is not None:
        working, _ = risk._open_orders(order.id)
        if working + 1 > lim.max_open_orders:
            return "max_open_orders", f"{working} orders are working, max_open_orders is {lim.max_open_orders}"
    if closing:
        return None
    pf = risk.portfolio
    for leg in order.legs:
        side, q = leg_side(leg, order.side), leg_qty(leg, order.qty)
        pending = risk.pending(leg.symbol, side, exclude=order.id)
        position = pf.qty(leg.symbol)
        worst = position + pending if side is BUY else position - pending
        after = worst + q if side is BUY else worst - q
        if not lim.allow_short and after < ZERO:
            return "allow_short", f"shorting is not allowed: leg {leg.symbol} would leave a short position of {fmt_qty(-after)}"
        if lim.max_position_qty is not None and abs(after) > lim.max_position_qty:
            return "max_position_qty", (
                f"position in {leg.symbol} would reach {fmt_qty(abs(after))}, exceeding max_position_qty {fmt_qty(lim.max_position_qty)}"
            )
        cap = lim.max_future_contracts_position
        if futures and cap is not None and abs(after) > cap:
            return "max_future_contracts_position", (
                f"position in {leg.symbol} would reach {fmt_qty(abs(after))} contracts, exceeding max_future_contracts_position {cap}"
            )
        last = pf.last(leg.symbol)
        if not futures and lim.max_position_notional is not None and last is not None:
            value = pf.value(leg.symbol, abs(after), last)
            if value > lim.max_position_notional:
                return "max_position_notional", (
                    f"position in {leg.symbol} would be worth {fmt_money(value)}, exceeding max_position_notional {fmt_money(lim.max_position_notional)}"
                )
    available = held_buying_power(risk, order)
    if available - cost < ZERO:
        what = "of initial margin" if futures else "(its worst case)"
        return "buying_power", f"insufficient buying power: combo needs {fmt_money(cost)} {what}, {fmt_money(max(available, ZERO))} available"
    return None


def held_buying_power(risk: PreTradeRisk, order: Order) -> Decimal:
    """Buying power left once the working orders (other than ``order``) are held: what
    ``buying_power_after`` answers for an order that uses none (a reducing one)."""
    ctx = OrderContext(order, Instrument(symbol=order.symbol, asset_class=AssetClass.OPTION), ZERO, ZERO, ZERO, True)
    return risk.buying_power_after(ctx)
