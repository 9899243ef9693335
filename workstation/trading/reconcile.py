"""Resynchronise with a broker after a connect, reconnect or restart.

``resync`` asks the broker for fills since the newest one we journaled (less a margin),
feeds them through the order manager (which journals each ``exec_id`` exactly once),
compares open orders both ways, settles orders the broker no longer has by looking each
up by client order id (a failed lookup makes a working order ``unknown``, never canceled;
an unknown order settles on what the broker shows, or stays unknown and is looked up
again), and, for brokers that keep the account, compares positions and
adopts the broker's positions and account figures (``Portfolio.take_account``). Every
difference becomes one line of a single alert, and the whole resync is journaled; a
difference the previous resync with the same broker already journaled is not alerted again
(it was adopted then). ``refresh_account`` takes the broker's account figures again (the
session calls it after fills and periodically).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from brokers.base import Broker, BrokerCanceled, BrokerError, BrokerFill
from workstation.core.bus import Bus
from workstation.core.clock import Clock
from workstation.core.journal import Journal
from workstation.core.model import AlertRaised, OrderStatus, plain
from workstation.trading.oms import TERMINAL_AT_BROKER, OrderManager
from workstation.trading.portfolio import Portfolio

log = logging.getLogger(__name__)

FILL_MARGIN_S = 300.0


async def resync(
    *, broker: Broker, oms: OrderManager, portfolio: Portfolio, journal: Journal, clock: Clock, bus: Bus
) -> list[str]:
    diffs: list[str] = []
    fills = journal.fills()
    since = (fills[-1].ts - FILL_MARGIN_S) if fills else clock.time() - 7 * 86_400
    try:
        missed = await broker.fills_since(since)
    except BrokerError as exc:
        diffs.append(f"could not fetch fills: {exc}")
        missed = []
    for report in missed:
        if not journal.has_fill(report.exec_id):
            diffs.append(f"fill {report.exec_id} ({plain(report.qty)} @ {plain(report.price)}) happened while disconnected")
            oms.on_report(report)
    try:
        at_broker = {o.client_id: o for o in await broker.open_orders()}
    except BrokerError as exc:
        diffs.append(f"could not fetch open orders: {exc}")
        at_broker = None
        for order in oms.working():
            if order.status is OrderStatus.UNKNOWN:
                oms.follow_unknown(order)
    if at_broker is not None:
        ours = {o.client_id: o for o in oms.working() if o.status is not OrderStatus.NEW}
        for cid, order in ours.items():
            if cid in at_broker:
                b = at_broker[cid]
                if order.status is OrderStatus.UNKNOWN:
                    diffs.append(f"order {order.id} was unknown: {broker.name} shows it {b.status}")
                    await oms.settle(order, b)
                elif b.filled_qty > order.filled_qty:
                    diffs.append(f"order {order.id}: broker shows {plain(b.filled_qty)} filled, journal {plain(order.filled_qty)}")
                continue
            try:
                state = await broker.lookup(cid)
            except BrokerError as exc:
                current = oms.orders[order.id]
                if current.status is OrderStatus.UNKNOWN:
                    oms.follow_unknown(current)
                elif current.status.is_working:
                    diffs.append(f"order {order.id} is not open at {broker.name} and its lookup failed ({exc}): its state is unknown")
                    oms.mark_unknown(current, f"not open at {broker.name} after resync and the lookup failed ({exc})")
                continue
            current = oms.orders[order.id]
            if current.status is OrderStatus.UNKNOWN:
                await oms.settle(current, state)
                settled = oms.orders[order.id]
                if settled.status is OrderStatus.UNKNOWN:
                    oms.follow_unknown(settled)
                else:
                    diffs.append(f"order {order.id} was unknown: now {settled.status.value}")
            elif state is None or state.status.lower() in TERMINAL_AT_BROKER:
                if current.status.is_working:
                    reason = f"not open at {broker.name} after resync" + (f" ({state.status})" if state else "")
                    diffs.append(f"order {order.id} {reason}")
                    oms.on_report(BrokerCanceled(client_id=cid, reason=reason, ts=clock.time()))
        for cid, b in at_broker.items():
            if cid not in ours and oms.orders.get(oms._by_client.get(cid, ""), None) is None:
                diffs.append(f"open order at {broker.name} unknown to the journal: {b.side} {plain(b.qty)} {b.symbol} ({cid})")
    if broker.keeps_account:
        asked = clock.time()  # before asking: an order sent meanwhile is held on top of the broker's figures
        try:
            positions = await broker.positions()
            account = await broker.account()
        except BrokerError as exc:
            diffs.append(f"could not fetch positions: {exc}")
        else:
            theirs = {p.symbol: p.qty for p in positions}
            mine = {p.symbol: p.qty for p in portfolio.positions()}
            for sym in sorted(set(theirs) | set(mine)):
                a, b = mine.get(sym, Decimal(0)), theirs.get(sym, Decimal(0))
                if a != b:
                    diffs.append(f"position {sym}: journal {plain(a)}, {broker.name} {plain(b)} (taking the broker's)")
            portfolio.adopt(positions)
            if account is not None:
                portfolio.take_account(account, asked)
    reported = _reported_before(journal, broker.name)
    journal.append("resync", {"broker": broker.name, "differences": diffs}, clock.time())
    # a difference the previous resync journaled was alerted (and adopted) then: once is enough.
    # A failure to ask is a problem now, so it is alerted every time.
    new = [d for d in diffs if d.startswith("could not ") or d not in reported]
    if new:
        bus.publish(
            AlertRaised(
                title=f"Resync with {broker.name}: {len(new)} difference(s)", message="; ".join(new),
                priority="high", source="reconcile", ts=clock.time(), key="resync",
            )
        )
    return diffs


def _reported_before(journal: Journal, broker_name: str) -> set[str]:
    """The differences the newest journaled resync with this broker found (already alerted)."""
    for _seq, _ts, kind, _ref, data in journal.events("resync", limit=1):
        if kind == "resync" and isinstance(data, dict) and data.get("broker") == broker_name:
            return {str(d) for d in data.get("differences") or ()}
    return set()


async def refresh_account(*, broker: Broker, portfolio: Portfolio, clock: Clock) -> bool:
    """Take a broker's account figures now (after fills, and periodically): its buying power,
    margin and day-trade figures and its cash. False when it could not say (kept as they were)."""
    if not broker.keeps_account:
        return False
    asked = clock.time()
    try:
        account = await broker.account()
    except BrokerError as exc:
        log.info("account figures from %s not refreshed: %s", broker.name, exc)
        return False
    if account is None:
        return False
    portfolio.take_account(account, asked)
    return True


__all__ = ["refresh_account", "resync", "BrokerFill"]
