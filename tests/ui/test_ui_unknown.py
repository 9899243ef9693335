"""The workstation shows an unanswered order as UNKNOWN (with an alert), never as rejected."""

from brokers.base import BrokerError, BrokerTimeout
from tests.ui_support import make_app, settle
from tests.ui.test_ui_flows import command
from workstation.core.model import OrderStatus
from workstation.ui.panes.orders import OrdersPane


async def test_an_unanswered_order_is_shown_unknown_with_an_alert(tmp_path):
    app, session, broker = make_app(tmp_path, confirm=False)

    async def unanswered(order):
        raise BrokerTimeout("no answer within 5 s")

    async def failing_lookup(client_id):
        raise BrokerError("lookup failed: 503")

    broker.submit = unanswered
    broker.lookup = failing_lookup
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await command(pilot, "buy 10 AAPL lmt 180")
        for _ in range(20):
            await settle(pilot)
            if session.oms.orders:
                break
        [order] = session.oms.orders.values()
        assert order.status is OrderStatus.UNKNOWN
        pane = app.main.query_one(OrdersPane)
        cells = [text for text, _role in pane.row(order.id).cells]
        assert "UNKNOWN" in cells and "rejected" not in cells
        assert any(a.title == "Order state unknown" for a in app._alerts_shown)
        session.oms.close()
