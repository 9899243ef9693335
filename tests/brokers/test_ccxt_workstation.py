"""The Textual workstation on a ccxt profile: an order through the ticket reaches the exchange fake."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.fakes.binance_session import PROFILE, fake, keys, settings_for, until  # noqa: F401
from workstation.api import LocalEngine
from workstation.core.config import UISettings
from workstation.core.model import OrderStatus
from workstation.trading.session import Session


@pytest.mark.slow
async def test_ticket_order_is_filled_on_the_exchange(fake, keys, tmp_path):
    from workstation.ui.app import WorkstationApp
    from workstation.ui.panes.ticket import TicketPane
    from workstation.ui.watchlists import Watchlists

    import msgspec

    settings = msgspec.structs.replace(settings_for(fake), watchlist=["BTC/USD", "ETH/USD"], ui=UISettings(confirm_orders=False))
    session = Session.build(settings, PROFILE, data_root=tmp_path / "data")
    lists = Watchlists.load(tmp_path / "data" / "watchlists.json", list(settings.watchlist))
    app = WorkstationApp(LocalEngine(session), settings, watchlists=lists, config_path=tmp_path / "settings.toml")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(lambda: session.connection is not None and session.connection.state == "connected", what="connected")
        await until(lambda: session.quotes.get("BTC/USD") is not None, what="quotes")
        from workstation.ui.panes.header import HeaderBar

        app.repaint()
        await pilot.pause()
        assert f"{PROFILE} connected" in str(app.query_one(HeaderBar).render())
        await pilot.press("b")  # the watchlist's first row, BTC/USD: a buy limit at the last price
        ticket = app.query_one(TicketPane)
        assert (ticket.value("symbol"), ticket.value("type"), ticket.value("limit")) == ("BTC/USD", "limit", "60000.5")
        await pilot.press("shift+tab", "shift+tab", "shift+tab")  # limit -> type -> symbol -> qty
        await pilot.press(*"0.01", "enter")
        await until(lambda: len(fake.orders) == 1, what="order at the exchange")
        placed = next(iter(fake.orders.values()))
        assert (placed.side, placed.type, placed.qty, placed.price) == ("BUY", "LIMIT", Decimal("0.01"), Decimal("60000.5"))
        fake.fill(placed.cid)
        await until(lambda: session.portfolio.qty("BTC/USD") == Decimal("0.01"), what="position")
        await pilot.pause()
        orders = [o for o in session.oms.orders.values()]
        assert [(o.source, o.status) for o in orders] == [("ticket", OrderStatus.FILLED)]
        assert [o.cid for o in fake.orders.values()] == [orders[0].client_id]
