"""The workstation on the ib-paper profile: an order placed through the ticket reaches TWS."""

import asyncio
from decimal import Decimal

from tests.fakes.ib_harness import ib_broker
from tests.fakes.tws_fake import FakeTWS
from tests.ui_support import settle
from workstation.core.config import Settings, UISettings
from workstation.core.model import OrderStatus
from workstation.trading.session import Session

AAPL = 265598
MSFT = 272093


async def test_ticket_order_on_ib_paper_reaches_tws_and_comes_back_accepted(tmp_path):
    from workstation.api import LocalEngine
    from workstation.ui.app import WorkstationApp
    from workstation.ui.panes.header import HeaderBar
    from workstation.ui.panes.ticket import TicketPane
    from workstation.ui.screens.review import ReviewScreen
    from workstation.ui.watchlists import Watchlists

    fake = FakeTWS()
    await fake.start()
    fake.quotes[AAPL] = {"bid": 184.9, "ask": 185.1, "last": 185.0}
    fake.quotes[MSFT] = {"bid": 409.9, "ask": 410.1, "last": 410.0}
    settings = Settings(watchlist=["AAPL", "MSFT"], ui=UISettings(confirm_orders=True))
    session = Session.build(settings, "ib-paper", data_root=tmp_path / "data", broker=ib_broker(fake.port, first_quote_wait=1.0))
    lists = Watchlists.load(tmp_path / "data" / "watchlists.json", list(settings.watchlist))
    app = WorkstationApp(LocalEngine(session), settings, watchlists=lists, config_path=tmp_path / "settings.toml")
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            for _ in range(100):
                await settle(pilot)
                if session.connection is not None and session.quotes.get("AAPL") is not None:
                    break
                await asyncio.sleep(0.05)
            assert session.connection.state == "connected"
            header = str(app.query_one(HeaderBar).render())
            assert "PAPER" in header and "ib-paper connected" in header
            await pilot.press("b")  # the ticket, prefilled for the watchlist's first row (AAPL)
            await settle(pilot)
            ticket = app.query_one(TicketPane)
            assert (ticket.value("side"), ticket.value("symbol"), ticket.value("type")) == ("buy", "AAPL", "limit")
            ticket.set_value("limit", "180")
            ticket.set_value("qty", "25")
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, ReviewScreen)
            await pilot.press("y")
            for _ in range(100):
                await settle(pilot)
                if session.oms.orders and all(o.status is OrderStatus.ACCEPTED for o in session.oms.orders.values()):
                    break
                await asyncio.sleep(0.02)
            [order] = session.oms.orders.values()
            assert (order.status, order.source, order.qty, order.limit_price) == (OrderStatus.ACCEPTED, "ticket", Decimal(25), Decimal(180))
            at_ib = fake.order_by_ref(order.client_id)
            assert (at_ib.action, at_ib.qty, at_ib.order_type, at_ib.lmt_price) == ("BUY", 25, "LMT", 180.0)
    finally:
        await fake.stop()
