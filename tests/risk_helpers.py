"""A session on a scripted broker and a simulated clock, for the risk, alert and kill-switch tests."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from tests.fakes.scripted import ScriptedBroker
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import AlertRaised, OrderRequest, OrderStatus, OrderType, Side
from workstation.trading.session import Session

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC, just after the 17:00 New York roll


def settings(**risk: object) -> Settings:
    raw = {"profiles": {"paper": {"risk": {"max_daily_loss_pct": None, **risk}}}, "alerts": {"bell": False}}
    return msgspec.convert(raw, Settings, strict=False)


def build(tmp_path, settings_obj: Settings | None = None, clock: SimClock | None = None, broker: ScriptedBroker | None = None, **risk):
    broker = broker or ScriptedBroker()
    clock = clock or SimClock(T0)
    s = Session.build(settings_obj or settings(**risk), "paper", data_root=tmp_path, clock=clock, broker=broker)
    s.monitor.min_interval = 0.0
    return s, broker, clock


def order(symbol="AAPL", side=Side.BUY, qty=100, **kw) -> OrderRequest:
    if "limit_price" in kw:
        kw.setdefault("type", OrderType.LIMIT)
        kw["limit_price"] = Decimal(str(kw["limit_price"]))
    if "stop_price" in kw:
        kw.setdefault("type", OrderType.STOP)
        kw["stop_price"] = Decimal(str(kw["stop_price"]))
    return OrderRequest(symbol=symbol, side=side, qty=Decimal(str(qty)), **kw)


async def hold(s, broker, symbol: str, qty: int, price: float) -> None:
    """Buy (qty > 0) or sell short (qty < 0) and fill at ``price``."""
    broker.set_quote(symbol, price - 0.01, price + 0.01, price)
    side = Side.BUY if qty > 0 else Side.SELL
    saved = s.limits.runtime
    s.limits.runtime = {None: {"max_order_notional": None, "price_collar_pct": None, "max_symbol_pct": None,
                               "max_sector_pct": None, "max_position_qty": None, "max_position_notional": None,
                               "max_gross_exposure": None, "max_net_exposure": None}}
    s.limits._rebuild()
    try:
        o = await s.oms.submit(order(symbol, side, abs(qty)))
    finally:
        s.limits.runtime = saved
        s.limits._rebuild()
    assert o.reason is None, o.reason
    if s.oms.orders[o.id].status is not OrderStatus.FILLED:  # a broker that fills market orders itself
        broker.fill(o, abs(qty), price)


def alerts(s) -> list[AlertRaised]:
    got: list[AlertRaised] = []
    s.bus.subscribe(AlertRaised, got.append)
    return got
