"""The Positions pane groups a combo's legs under one line (Pilot, 80x24 and 160x45); ``x`` on
that line asks, then closes the combo as ONE reverse order."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from brokers.base import BrokerFill
from tests.ui_support import make_app, started, until
from workstation.core.model import BUY, SELL, Leg, OrderRequest, OrderType
from workstation.ui.panes.positions import COMBO, PositionsPane
from workstation.ui.screens.confirm import ConfirmScreen

C200, C210 = "AAPL-2026-12-18-200-C", "AAPL-2026-12-18-210-C"
LEGS = (Leg(symbol=C200, side=BUY), Leg(symbol=C210, side=SELL))


def rows(app) -> list[tuple[str, str, str]]:
    """(key, symbol cell, qty cell) of each row the pane holds."""
    return [(r.key, r.cells[0][0], r.cells[1][0]) for r in app.main.query_one(PositionsPane)._all]


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_a_combos_legs_are_grouped_and_x_closes_it_as_one_order(tmp_path, size):
    app, session, broker = make_app(tmp_path)
    broker.prices.update({C200: 8.55, C210: 3.35})
    broker.supports_combos = True  # the fake accepts combos; the test reports their leg fills
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        opened = await session.oms.submit(OrderRequest(symbol="", side=BUY, qty=D(2), legs=LEGS, type=OrderType.LIMIT, limit_price=D("5.20")))
        broker.report(BrokerFill(client_id=opened.client_id, exec_id="f1", qty=D(2), price=D("8.55"), symbol=C200, side="buy"))
        broker.report(BrokerFill(client_id=opened.client_id, exec_id="f2", qty=D(2), price=D("3.35"), symbol=C210, side="sell"))
        app._account_dirty = True
        await until(pilot, lambda: rows(app)[0][0] == COMBO + opened.id, what="the combo's group line")
        assert rows(app)[:3] == [
            (COMBO + opened.id, "AAPL 2026-12-18 +200C -210C", "2"), (C200, f"  {C200}", "2"), (C210, f"  {C210}", "-2"),
        ]
        await pilot.press("2", "g", "x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert app.screen.question == f"Close combo {opened.id} AAPL 2026-12-18 +200C -210C: sell 2 at market, as one order?"
        await pilot.press("y")
        await until(pilot, lambda: any(o.legs and o.side is SELL for o in session.oms.orders.values()), what="the closing combo")
        closing = next(o for o in session.oms.orders.values() if o.legs and o.side is SELL)
        assert (closing.legs, closing.qty, closing.type) == (LEGS, D(2), OrderType.MARKET)
        assert len([o for o in session.oms.orders.values()]) == 2  # one order, not one per leg


async def test_m_on_a_working_combo_says_in_one_line_that_it_is_not_modified_in_place(tmp_path):
    from workstation.ui.messages import IntentFailed
    from workstation.ui.panes.ticket import TicketPane

    app, session, broker = make_app(tmp_path)
    broker.prices.update({C200: 8.55, C210: 3.35})
    broker.supports_combos = True
    failures: list[str] = []
    async with app.run_test(size=(80, 24), message_hook=lambda m: failures.append(m.message) if isinstance(m, IntentFailed) else None) as pilot:
        await started(pilot)
        order = await session.oms.submit(OrderRequest(symbol="", side=BUY, qty=D(1), legs=LEGS, type=OrderType.LIMIT, limit_price=D("5.00")))
        app._orders_dirty = True
        await pilot.press("3")
        await until(pilot, lambda: app.main.query_one("OrdersPane").selected_key == order.id, what="the combo in the Orders pane")
        await pilot.press("m")
        await until(pilot, lambda: failures, what="the refusal")
        assert failures == [f"order {order.id} is a combo: cancel it and send a new one to change it"]
        assert app.main.query_one(TicketPane).modifying is None
