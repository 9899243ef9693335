"""Resynchronise with a broker after a connect, reconnect or restart.

``resync`` asks the broker for fills since the newest one we journaled (less a margin),
feeds them through the order manager (which journals each ``exec_id`` exactly once),
compares open orders both ways, settles orders the broker no longer has by looking each
up by client order id, and, for brokers that keep the account, compares positions and
adopts the broker's. Every difference becomes one line of a single alert, and the whole
resync is journaled.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from brokers.base import Broker, BrokerCanceled, BrokerError, BrokerFill
from workstation.core.bus import Bus
from workstation.core.clock import Clock
from workstation.core.journal import Journal
from workstation.core.model import AlertRaised, OrderStatus, plain
from workstation.trading.oms import OrderManager
from workstation.trading.portfolio import Portfolio

log = logging.getLogger(__name__)

FILL_MARGIN_S = 300.0
TERMINAL_AT_BROKER = {"canceled", "cancelled", "expired", "rejected", "done_for_day", "inactive"}


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
    if at_broker is not None:
        ours = {o.client_id: o for o in oms.working() if o.status is not OrderStatus.NEW}
        for cid, order in ours.items():
            if cid in at_broker:
                b = at_broker[cid]
                if b.filled_qty > order.filled_qty:
                    diffs.append(f"order {order.id}: broker shows {plain(b.filled_qty)} filled, journal {plain(order.filled_qty)}")
                continue
            state = await _lookup(broker, cid)
            if state is None or state.status.lower() in TERMINAL_AT_BROKER:
                current = oms.orders[order.id]
                if current.status.is_working:
                    reason = f"not open at {broker.name} after resync" + (f" ({state.status})" if state else "")
                    diffs.append(f"order {order.id} {reason}")
                    oms.on_report(BrokerCanceled(client_id=cid, reason=reason, ts=clock.time()))
        for cid, b in at_broker.items():
            if cid not in ours and oms.orders.get(oms._by_client.get(cid, ""), None) is None:
                diffs.append(f"open order at {broker.name} unknown to the journal: {b.side} {plain(b.qty)} {b.symbol} ({cid})")
    if broker.keeps_account:
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
            portfolio.adopt(positions, {account.currency: account.cash} if account is not None else None)
    journal.append("resync", {"broker": broker.name, "differences": diffs}, clock.time())
    if diffs:
        bus.publish(
            AlertRaised(
                title=f"Resync with {broker.name}: {len(diffs)} difference(s)", message="; ".join(diffs),
                priority="high", source="reconcile", ts=clock.time(), key="resync",
            )
        )
    return diffs


async def _lookup(broker: Broker, client_id: str):
    try:
        return await broker.lookup(client_id)
    except BrokerError as exc:
        log.info("lookup of %s failed: %s", client_id, exc)
        return None


__all__ = ["resync", "BrokerFill"]
