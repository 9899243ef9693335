"""The pre-trade rules for futures: contracts per order and per position, and margin.

A futures order is bounded by contracts and margin, not by notional (``PreTradeRisk``
skips ``max_order_notional`` and ``max_position_notional`` for it and asks these instead):

* ``max_future_contracts_per_order``: contracts in one order;
* ``max_future_contracts_position``: contracts held in one contract month, long or short,
  at the worst case (every working order on the same side filled);
* ``max_margin_pct``: the initial margin of the futures held, of the working futures orders
  that open, and of this order, as % of equity.

Each refusal is ``(rule, sentence)``, as in ``workstation.risk.checks``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from workstation.core.formatting import dollars
from workstation.core.limits import RiskLimits
from workstation.core.model import BUY, SELL, ZERO, Order, plain
from workstation.trading.portfolio import Portfolio

HUNDRED = Decimal(100)


def _opens(position: Decimal, order: Order) -> bool:
    """The order does more than shrink the position (``checks.reducing``, negated)."""
    if position > ZERO:
        return not (order.side is SELL and order.remaining <= position)
    if position < ZERO:
        return not (order.side is BUY and order.remaining <= -position)
    return True


def per_order(order: Order, lim: RiskLimits) -> tuple[str, str] | None:
    cap = lim.max_future_contracts_per_order
    if cap is not None and order.qty > cap:
        return "max_future_contracts_per_order", (
            f"order of {plain(order.qty)} contracts exceeds max_future_contracts_per_order {cap}"
        )
    return None


def margin_in_use(
    pf: Portfolio, working: Iterable[Order], last_price: Callable[[str], Decimal | None], exclude: str | None = None,
) -> Decimal:
    """Initial margin of the futures held and of the working futures orders that open (order
    ``exclude`` left out), in the base currency."""
    held = pf.futures_margin()
    total = held[0] if held is not None else ZERO
    for o in working:
        if o.id == exclude or o.parent_id is not None or not pf.margined(o.symbol):
            continue
        if _opens(pf.qty(o.symbol), o):
            total += pf.order_margin(o.symbol, o.remaining, o.limit_price or o.stop_price or last_price(o.symbol))
    return total


def position_and_margin(
    pf: Portfolio, order: Order, lim: RiskLimits, after: Decimal, margin_after: Callable[[], Decimal],
) -> tuple[str, str] | None:
    """The contracts the position would reach (``after``, signed) and the margin the account
    would then use (``margin_after``, asked only when ``max_margin_pct`` is set)."""
    cap = lim.max_future_contracts_position
    if cap is not None and abs(after) > cap:
        return "max_future_contracts_position", (
            f"position in {order.symbol} would reach {plain(abs(after))} contracts, "
            f"exceeding max_future_contracts_position {cap}"
        )
    if lim.max_margin_pct is None:
        return None
    equity = pf.equity()
    if equity <= 0:
        return "max_margin_pct", f"equity is {dollars(equity)}: no futures margin can be taken"
    margin = margin_after()
    pct = margin / equity * HUNDRED
    if pct > lim.max_margin_pct:
        return "max_margin_pct", (
            f"futures margin would be {dollars(margin)}, {pct.quantize(Decimal('0.01'))}% of equity {dollars(equity)}, "
            f"exceeding max_margin_pct {plain(lim.max_margin_pct)}%"
        )
    return None


def margin_rows(pf: Portfolio, lim: RiskLimits, equity: Decimal) -> list[tuple[str, Decimal, Decimal | None, str]]:
    """The Risk pane's futures lines, as (name, used, limit, unit) (none without futures):
    initial margin as % of equity against ``max_margin_pct`` (when equity is positive), and
    the maintenance margin against equity (above it: a margin call)."""
    held = pf.futures_margin()
    if held is None:
        return []
    initial, maintenance = held
    out: list[tuple[str, Decimal, Decimal | None, str]] = []
    if equity > 0:
        out.append(("margin used", initial / equity * HUNDRED, lim.max_margin_pct, "%"))
    out.append(("maintenance margin", maintenance, max(equity, ZERO), "$"))
    return out
