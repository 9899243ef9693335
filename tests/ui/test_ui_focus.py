"""Keys and focus around the order ticket: where focus goes after a send or Ctrl+G, choice
fields that take no text, prices that follow the symbol, and the themes Ctrl+P offers.
(Going back after ``b``/``s`` and ``m`` is in test_ui_flows.py.)"""

from decimal import Decimal

import pytest

from tests.ui_support import make_app, settle, started, until
from workstation.core.model import OrderStatus, plain, to_decimal
from workstation.ui.panes.orders import OrdersPane
from workstation.ui.panes.ticket import ChoiceField, TicketPane
from workstation.ui.panes.watchlist import WatchlistPane
from workstation.ui.screens.review import ReviewScreen

SIZES = [(80, 24), (160, 45)]


def orders(session):
    return sorted(session.oms.orders.values(), key=lambda o: int(o.id))


@pytest.mark.parametrize("size", SIZES)
async def test_after_a_send_from_t_the_keys_go_to_the_panes_not_the_quantity(tmp_path, size):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await pilot.press("1", "t")
        ticket = app.query_one(TicketPane)
        assert app.focused.id == "ticket-qty"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("y")
        await until(pilot, lambda: orders(session)[0].status is OrderStatus.FILLED and isinstance(app.focused, WatchlistPane))
        [order] = orders(session)
        assert order.status is OrderStatus.FILLED
        assert isinstance(app.focused, WatchlistPane)  # where `t` was pressed
        await pilot.press("3")
        assert isinstance(app.focused, OrdersPane)
        assert ticket.value("qty") == "100"  # the "3" went to the pane, not into Qty


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("opening, origin", [(("3", "t"), OrdersPane), (("2", "t"), "positions"), (("8", "4"), "log")])
async def test_ctrl_g_goes_back_where_the_ticket_was_opened(tmp_path, size, opening, origin):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await pilot.press(*opening)
        await until(pilot, lambda: app.query_one(TicketPane).has_focus_within)
        assert app.query_one(TicketPane).has_focus_within
        await pilot.press("shift+tab")  # from any field, a choice field too
        await pilot.press("ctrl+g")
        await until(pilot, lambda: not app.query_one(TicketPane).has_focus_within)
        if isinstance(origin, str):
            assert app.focused.id == origin
        else:
            assert isinstance(app.focused, origin)
        assert app.focused.display and not app.query_one(TicketPane).has_focus_within


async def test_choice_fields_cycle_and_refuse_text(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("t", "shift+tab")
        ticket = app.query_one(TicketPane)
        assert app.focused.id == "ticket-side" and isinstance(app.focused, ChoiceField)
        await pilot.press(*"xyz", "space")
        assert ticket.value("side") == "sell"  # letters that name no choice are refused
        await pilot.press("b")
        assert ticket.value("side") == "buy"
        await pilot.press("s")
        assert ticket.value("side") == "sell" and ticket.has_class("-sell")
        await pilot.press("right")
        assert ticket.value("side") == "buy" and ticket.has_class("-buy")
        await pilot.press("left")
        assert ticket.value("side") == "sell"
        await pilot.press("tab", "tab", "tab")
        assert app.focused.id == "ticket-type"
        await pilot.press("l")
        assert ticket.value("type") == "limit"
        await pilot.press("s")
        assert ticket.value("type") == "stop"
        await pilot.press("s")
        assert ticket.value("type") == "stop-limit"
        await pilot.press("space")
        assert ticket.value("type") == "market"
        await pilot.press("tab", "tab", "tab")
        assert app.focused.id == "ticket-tif"
        await pilot.press("g")
        assert ticket.value("tif") == "gtc"
        await pilot.press("6")  # the case: a pane key in a choice field goes to the pane
        assert app.focused.id == "alerts"
        assert (ticket.value("side"), ticket.value("type"), ticket.value("tif")) == ("sell", "market", "gtc")


@pytest.mark.parametrize("theme", ["dark", "light", "amber", "high-contrast"])
async def test_the_focused_ticket_field_stands_out(tmp_path, theme):
    app, session, _ = make_app(tmp_path, theme=theme)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        qty, symbol = app.query_one("#ticket-qty"), app.query_one("#ticket-symbol")
        assert qty.has_focus
        assert qty.styles.background != symbol.styles.background
        await pilot.press("shift+tab")
        await settle(pilot)
        side = app.query_one("#ticket-side")
        assert side.has_focus and side.styles.background != qty.styles.background
        labels = {str(row.query_one("Label").render()): row.query_one("Label") for row in app.query_one(TicketPane).query(".row")}
        assert labels["Side"].styles.text_style.reverse and not labels["Qty"].styles.text_style.reverse


@pytest.mark.parametrize("size", SIZES)
async def test_limit_follows_the_watchlist_symbol(tmp_path, size):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await pilot.press("b")  # AAPL, a limit order at its last price
        ticket = app.query_one(TicketPane)
        await until(pilot, lambda: ticket.value("symbol") == "AAPL" and ticket.value("limit"))
        assert ticket.value("symbol") == "AAPL" and ticket.value("limit")
        await pilot.press("ctrl+g")
        await until(pilot, lambda: isinstance(app.focused, WatchlistPane))
        for _ in range(6):  # down to EUR/USD
            await pilot.press("j")
            await until(pilot, lambda: ticket.value("symbol") == app.query_one(WatchlistPane).selected_key)
            symbol = app.query_one(WatchlistPane).selected_key
            inst = app.instrument(symbol)
            expected = plain(inst.round_price(to_decimal(app.last_price(symbol))))
            assert (ticket.value("symbol"), ticket.value("limit"), ticket.value("stop")) == (symbol, expected, "")
        assert symbol == "EUR/USD" and Decimal(ticket.value("limit")) < 2  # not a stock's price
        ticket.set_value("type", "market")
        await pilot.press("k")
        await until(pilot, lambda: ticket.value("symbol") == "BTC/USD")
        assert ticket.value("symbol") == "BTC/USD" and ticket.value("limit") == ""  # a market order has none


@pytest.mark.slow
async def test_ctrl_p_offers_only_the_apps_themes_and_saves_the_choice(tmp_path):
    from textual.command import CommandInput, CommandList, CommandPalette

    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        assert isinstance(app.screen, CommandPalette)

        def highlighted():
            """The first line of the highlighted command, once the palette lists some."""
            commands = app.screen.query_one(CommandList)
            return str(commands.options[commands.highlighted].prompt).splitlines()[0].strip()

        app.screen.query_one(CommandInput).insert_text_at_cursor("Theme")
        await until(pilot, lambda: highlighted() == "Theme")
        await settle(pilot)  # the search is over: Enter takes its best match
        await pilot.press("enter")  # Textual's own Theme command: its picker

        def offered():
            return {str(option.prompt) for option in app.screen.query_one(CommandList).options}

        await until(pilot, lambda: isinstance(app.screen, CommandPalette) and offered() == {"amber", "dark", "high-contrast", "light"})
        assert isinstance(app.screen, CommandPalette)
        assert offered() == {"amber", "dark", "high-contrast", "light"}
        app.screen.query_one(CommandInput).insert_text_at_cursor("amber")
        await until(pilot, lambda: offered() == {"amber"} and highlighted() == "amber")
        await pilot.press("enter")
        await until(pilot, lambda: app.theme == "amber" and not isinstance(app.screen, CommandPalette))
        assert app.theme == "amber"
        assert not isinstance(app.screen, CommandPalette)
    assert 'theme = "amber"' in (tmp_path / "settings.toml").read_text()
