"""The workstation on the alpaca-paper profile (real SDK, loopback fake): an order through the ticket."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.alpaca_support import fake, keys, settings_for, until  # noqa: F401 (fixtures)
from workstation.core.model import OrderStatus


@pytest.mark.slow
async def test_ticket_order_on_alpaca_paper(fake, keys, home):  # noqa: F811
    import msgspec

    from workstation.api import LocalEngine
    from workstation.trading.session import Session
    from workstation.ui.app import WorkstationApp
    from workstation.ui.panes.ticket import TicketPane
    from workstation.ui.panes.watchlist import WatchlistPane
    from workstation.ui.watchlists import Watchlists

    settings = msgspec.structs.replace(settings_for(fake), watchlist=["AAPL", "BTC/USD"])
    session = Session.build(settings, "alpaca-paper", data_root=home / "data")
    lists = Watchlists.load(home / "data" / "watchlists.json", list(settings.watchlist))
    app = WorkstationApp(LocalEngine(session), settings, watchlists=lists, config_path=home / "settings.toml", save_settings=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(lambda: session.connection is not None and session.connection.state == "connected", what="connected")
        await until(lambda: fake.subscribed() == {"AAPL", "BTC/USD"}, what="subscribed")
        fake.push_quote("AAPL", 189.98, 190.02)

        def watchlist_bid() -> str | None:
            app.repaint()
            row = app.query_one(WatchlistPane).row("AAPL")
            return row.cells[4][0] if row is not None else None

        await until(lambda: watchlist_bid() == "189.98", what="the stream's quote in the watchlist")
        await pilot.press("t")
        ticket = app.query_one(TicketPane)
        for key, value in (("side", "buy"), ("symbol", "AAPL"), ("type", "limit"), ("qty", "4"), ("limit", "189.5")):
            ticket.set_value(key, value)
        ticket.first_field().focus()
        await pilot.press("enter")  # review
        await until(lambda: type(app.screen).__name__ == "ReviewScreen", what="review screen")
        await pilot.press("enter")  # send
        await until(lambda: len(fake.orders) == 1, what="order at Alpaca")
        sent = next(iter(fake.orders.values()))
        assert (sent["symbol"], sent["qty"], sent["limit_price"], sent["side"]) == ("AAPL", Decimal(4), Decimal("189.5"), "buy")
        order = next(o for o in session.oms.orders.values() if o.client_id == sent["client_order_id"])
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED, what="accepted")
        fake.fill(sent["id"])
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="filled")
        await until(lambda: session.portfolio.qty("AAPL") == Decimal(4))
        await pilot.pause()
        def header() -> str:
            app.repaint()
            return str(app.query_one("#header").render())

        assert "PAPER" in header() and "alpaca-paper connected" in header()
        fake.reject_streams = True  # a network blip: the header says so, then recovers
        fake.drop_streams()
        await until(lambda: "alpaca-paper reconnecting" in header(), what="reconnecting in the header")
        fake.reject_streams = False
        await until(lambda: "alpaca-paper connected" in header(), what="connected again in the header")
