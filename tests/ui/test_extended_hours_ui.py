"""Extended hours in the workstation: ``:buy 10 AAPL @ 180 ext`` is reviewed as an
extended-hours order, sent marked extended, and the orders pane marks it; the ticket's
time in force ``ext`` builds the same order."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from rich.console import Console

from tests.ui_support import describe, make_app, settle, started, until
from workstation.core.model import OrderStatus, TimeInForce
from workstation.ui.commands import parse
from workstation.ui.panes.orders import OrdersPane
from workstation.ui.panes.ticket import TicketPane
from workstation.ui.screens.review import ReviewScreen

SIZES = [(80, 24), (160, 45)]


def review_text(app) -> str:
    console = Console(width=100, record=True, color_system=None)
    console.print(app.screen.query_one("#review-body").content)
    return console.export_text()


async def command(pilot, text: str, done) -> None:
    from workstation.ui.panes.cmdline import CommandLine

    await pilot.press("colon")
    pilot.app.main.query_one(CommandLine).insert_text_at_cursor(text)
    await pilot.press("enter")
    await until(pilot, done, what=f"after {text!r}: {describe(done)}")


def test_ext_on_the_command_line_marks_the_order_extended():
    cmd = parse("buy 10 AAPL @ 150 ext")
    assert cmd.extended and cmd.limit_price == D(150) and cmd.tif is TimeInForce.DAY
    assert not parse("buy 10 AAPL @ 150").extended
    assert parse("b 10 aapl lmt 150 extended").extended


@pytest.mark.parametrize("size", SIZES)
async def test_typed_ext_order_is_reviewed_with_extended_hours_and_marked_in_orders(tmp_path, size):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await command(pilot, "buy 10 AAPL @ 180 ext", done=lambda: isinstance(app.screen, ReviewScreen))
        text = review_text(app)
        assert "limit · day · extended hours" in text
        assert "extended hours: may fill in the pre-market" in text
        await pilot.press("y")
        await until(pilot, lambda: len(session.oms.orders) == 1, what="the order sent")
        [order] = session.oms.orders.values()
        assert order.extended and order.status is OrderStatus.ACCEPTED
        pane = app.query_one(OrdersPane)
        await until(pilot, lambda: pane.keys == [order.id], what="the order in the pane")
        i = next(n for n, c in enumerate(pane.columns) if c.key == "type")
        assert pane.row(order.id).cells[i][0] == "limit ext"


async def test_ticket_tif_ext_sends_an_extended_day_limit(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await pilot.press("b")  # the ticket for the watchlist's first symbol, as a limit at its last price
        ticket = app.query_one(TicketPane)
        await until(pilot, lambda: ticket.value("symbol") == "AAPL" and ticket.value("type") == "limit")
        ticket.field("tif").focus()
        await pilot.press("e")  # a letter picks the choice starting with it
        assert ticket.value("tif") == "ext"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="the review")
        assert "extended hours" in review_text(app)
        await pilot.press("y")
        await until(pilot, lambda: len(session.oms.orders) == 1, what="the order sent")
        [order] = session.oms.orders.values()
        assert (order.extended, order.tif, order.source) == (True, TimeInForce.DAY, "ticket")
        await settle(pilot)
