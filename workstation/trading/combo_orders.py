"""A combo order through the order manager's one door: validated, risk-checked as one order,
journaled with its legs, sent to the broker as ONE order, and its leg fills booked per leg.

The order manager hands an ``OrderRequest`` with ``legs`` here (``submit``, ``review``) and a
combo's broker fills (``on_fill``); everything else (the state machine, the journal, events,
cancels, the resync) is the order manager's as for any order. A combo:

* goes only to a broker that takes combos (``Broker.supports_combos``); any other refuses with
  "<venue> takes no combo orders: send the legs one at a time", before anything is written;
* is a market or a limit order (the net price: ``workstation.trading.combos``), DAY or GTC;
  no stops, trails, brackets or OCO pairs; its quantity a whole number of combo units;
* is checked by ``workstation.risk.combo_risk`` (and the order manager's added checks, which
  see its worst case as its notional);
* fills leg by leg: the broker reports one ``BrokerFill`` per leg per execution, naming the
  leg's ``symbol`` (and its effective ``side``); each is booked as a ``Fill`` of that symbol
  whose ``order_id`` is the combo's. ``Order.filled_qty`` counts the combo units every leg has
  filled, ``Order.avg_fill_price`` is the net price per unit. A fill naming no leg is booked
  nowhere and raised as an alert (it cannot be placed in the book).

Errors are ``ComboError`` / ``ModelError`` (the order manager turns them into ``OrderError``);
this module never imports the order manager (it is handed it).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from brokers.base import BrokerFill
from workstation.core.model import (
    ZERO,
    AlertRaised,
    Fill,
    Instrument,
    Order,
    OrderFilled,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    check_transition,
    plain,
    to_decimal,
)
from workstation.risk.checks import OrderContext, Verdict
from workstation.risk.combo_risk import check_combo, held_buying_power
from workstation.trading.combos import (
    ComboError,
    check_legs,
    check_net_price,
    combo_symbol,
    combo_tick,
    leg_qty,
    leg_side,
    net_price,
    reducing_combo,
    touch_prices,
)

if TYPE_CHECKING:
    from workstation.trading.oms import OrderManager

log = logging.getLogger(__name__)

replace = msgspec.structs.replace


class _Combo(msgspec.Struct, frozen=True):
    """A combo request checked: its legs (canonical), instruments, units and net limit."""

    legs: tuple
    instruments: list
    qty: Decimal
    limit: Decimal | None
    symbol: str


async def _checked(oms: OrderManager, req: OrderRequest) -> _Combo:
    if not getattr(oms.broker, "supports_combos", False):
        raise ComboError(f"{oms.broker.name} takes no combo orders: send the legs one at a time")
    if not req.legs:
        raise ComboError("a combo needs legs")
    if len(req.legs) > 4 or len(req.legs) < 2:
        raise ComboError(f"a combo has 2 to 4 legs, got {len(req.legs)}")
    instruments: list[Instrument] = [await oms.instrument(leg.symbol) for leg in req.legs]
    legs = check_legs(tuple(req.legs), instruments)
    if req.type not in (OrderType.MARKET, OrderType.LIMIT):
        raise ComboError(f"a combo is a market or a limit order, not {req.type.value.replace('_', '-')}")
    if req.tif not in (TimeInForce.DAY, TimeInForce.GTC):
        raise ComboError(f"a combo's time in force is day or gtc, not {req.tif.value}")
    if req.stop_price is not None or req.trail_amount is not None or req.trail_percent is not None:
        raise ComboError("a combo takes no stop or trail")
    if req.take_profit is not None or req.stop_loss is not None or req.oco_with is not None:
        raise ComboError("a combo cannot be a bracket or part of an OCO pair")
    qty = to_decimal(req.qty, "quantity")
    if qty <= 0 or qty != qty.to_integral_value():
        raise ComboError(f"a combo's quantity is a positive whole number of units, got {plain(qty)}")
    limit = None
    if req.type is OrderType.LIMIT:
        if req.limit_price is None:
            raise ComboError("a limit combo needs a net price")
        limit = check_net_price(req.limit_price, combo_tick(instruments))
    elif req.limit_price is not None:
        raise ComboError("a market combo takes no net price")
    return _Combo(legs, instruments, qty, limit, combo_symbol(legs, instruments))


def _prices(oms: OrderManager, c: _Combo, side: Side) -> tuple[Decimal | None, Decimal | None, Decimal | None, dict[str, Decimal]]:
    """(net touch for ``side``, net mid, gross mid, each leg's touch) from the legs' quotes;
    None where a leg has no two-sided quote."""
    bid_ask: dict[str, tuple[Decimal, Decimal]] = {}
    for leg, inst in zip(c.legs, c.instruments):
        q = oms._quote(inst.symbol)
        if q is None or q.bid <= 0 or q.ask <= 0:
            return None, None, None, {}
        bid_ask[leg.symbol] = (inst.round_price(to_decimal(q.bid)), inst.round_price(to_decimal(q.ask)))
    touch = touch_prices(c.legs, side, bid_ask)
    mids = {sym: (b + a) / 2 for sym, (b, a) in bid_ask.items()}
    gross = sum((leg.ratio * mids[leg.symbol] for leg in c.legs), ZERO)
    return net_price(c.legs, touch), net_price(c.legs, mids), gross, touch


def _draft(oms: OrderManager, req: OrderRequest, c: _Combo, order_id: str, client_id: str, decision: Decimal | None) -> Order:
    now = oms.clock.time()
    return Order(
        id=order_id, client_id=client_id, symbol=c.symbol, side=req.side, qty=c.qty, type=req.type, tif=req.tif,
        limit_price=c.limit, strategy=req.strategy, source=req.source, created=now, updated=now,
        decision_price=req.decision_price if req.decision_price is not None else decision, legs=c.legs,
    )


def _verdict(oms: OrderManager, order: Order, c: _Combo, net: Decimal | None, mid: Decimal | None, gross: Decimal | None) -> tuple[Verdict, Decimal]:
    verdict, cost = check_combo(oms.risk, order, oms.instrument_cached, net=net, net_mid=mid, gross_mid=gross)
    if verdict.ok and oms._checks:  # the added checks (strategy capital) see the worst case as the notional
        closing = reducing_combo(oms.portfolio, order.legs, order.side, order.qty)
        ctx = OrderContext(order, c.instruments[0], net or ZERO, cost, ZERO, closing)
        for check in oms._checks:
            extra = check(ctx)
            if not extra.ok:
                return extra, cost
            if extra.warnings:
                verdict = Verdict(True, warnings=verdict.warnings + extra.warnings)
    return verdict, cost


def _valued(req: OrderRequest, c: _Combo, touch_net: Decimal | None) -> Decimal:
    """The net price the combo is valued at: its limit, else the legs' net touch."""
    if c.limit is not None:
        return c.limit
    if touch_net is None:
        bare = ", ".join(leg.symbol for leg in c.legs)
        raise ComboError(f"no two-sided quotes for the legs ({bare}) yet: cannot value a market combo")
    return touch_net


async def submit(oms: OrderManager, req: OrderRequest) -> Order:
    """Validate, check, journal and send a combo as one order (see the module docstring)."""
    try:
        c = await _checked(oms, req)
    except Exception:
        oms.risk.record_refused()
        raise
    throttled = oms.risk.throttled(req.strategy) if req.source != "kill-switch" else None
    touch_net, mid, gross, _ = _prices(oms, c, req.side)
    if throttled is None:
        try:
            net = _valued(req, c, touch_net)
        except ComboError:
            oms.risk.record_refused()
            raise
    order_id, client_id = oms._new_ids()
    order = _draft(oms, req, c, order_id, client_id, mid)
    if throttled is not None:
        return oms._reject(order, throttled)
    verdict, _ = _verdict(oms, order, c, net, mid, gross)
    if not verdict.ok:
        return oms._reject(order, verdict.reason or "refused by risk checks")
    for warning in verdict.warnings:
        oms.bus.publish(AlertRaised(title="Risk warning", message=warning, priority="normal", source="risk", ts=oms.clock.time()))
    return await oms._send(order)


async def review(oms: OrderManager, req: OrderRequest) -> dict[str, Any]:
    """The fields of the order manager's ``Review`` of a combo (nothing sent or written):
    ``price`` is the net price it is valued at, ``notional`` its worst case."""
    c = await _checked(oms, req)
    touch_net, mid, gross, touch = _prices(oms, c, req.side)
    net = _valued(req, c, touch_net)
    draft = _draft(oms, req, c, "0", "review", mid)
    verdict, cost = _verdict(oms, draft, c, net, mid, gross)
    commission = ZERO
    for leg, inst in zip(c.legs, c.instruments):
        px = touch.get(leg.symbol)
        if px is not None:
            commission += oms._commission(inst, leg_qty(leg, c.qty), px)
    return dict(
        symbol=draft.symbol, side=draft.side, qty=draft.qty, type=draft.type, tif=draft.tif,
        limit_price=draft.limit_price, stop_price=None, price=net, notional=cost, commission=commission,
        buying_power_after=held_buying_power(oms.risk, draft) - cost - commission,
        ok=verdict.ok, reason=verdict.reason, rule=verdict.rule, warnings=verdict.warnings,
    )


def on_fill(oms: OrderManager, order: Order, report: BrokerFill) -> None:
    """Book one leg fill of combo ``order`` (each exactly once, by ``exec_id``)."""
    if report.qty <= ZERO:
        return
    leg = next((leg for leg in order.legs if leg.symbol == report.symbol), None)
    if leg is None:
        oms.bus.publish(AlertRaised(
            title="Combo fill without a leg",
            message=f"order {order.id} {order.symbol}: a fill of {plain(report.qty)} {report.symbol or '?'} names none of its legs; not booked",
            priority="critical", source="oms", ts=oms.clock.time(),
        ))
        return
    if oms.journal.has_fill(report.exec_id):
        return  # a duplicate: already booked
    side = Side(report.side) if report.side else leg_side(leg, order.side)
    fill = Fill(
        exec_id=report.exec_id, order_id=order.id, symbol=leg.symbol, side=side, qty=report.qty, price=report.price,
        commission=report.commission, ts=report.ts or oms.clock.time(), strategy=order.strategy,
    )
    units, avg = oms._combo_fills.add(order, fill)
    status = order.status
    if not status.is_terminal:
        status = OrderStatus.FILLED if units >= order.qty else OrderStatus.PARTIALLY_FILLED
        check_transition(order.status, status)
    updated = replace(
        order, filled_qty=units, avg_fill_price=avg if avg is not None else order.avg_fill_price, status=status,
        updated=oms.clock.time(),
    )
    if not oms.journal.record_fill(fill, updated):
        return
    oms._index(updated)
    oms.portfolio.apply_fill(fill)
    oms.bus.publish(OrderFilled(order=updated, fill=fill, ts=fill.ts))
    if units > order.qty:
        oms.bus.publish(AlertRaised(title="Overfill", message=f"combo order {order.id} filled {plain(units)} of {plain(order.qty)}", priority="critical", source="oms", ts=oms.clock.time()))


def closing_request(order: Order, units: Decimal, *, source: str, limit: Decimal | None = None) -> OrderRequest:
    """The reverse of combo ``order`` for ``units``: the same legs, the other side, as one order."""
    return OrderRequest(
        symbol=order.symbol, side=order.side.opposite, qty=units, legs=order.legs, source=source,
        type=OrderType.MARKET if limit is None else OrderType.LIMIT, limit_price=limit, strategy=order.strategy,
    )


