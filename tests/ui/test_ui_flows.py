"""Pilot tests of the workstation's flows: each asserts on the engine's resulting orders
(the order manager and the journal) and on the messages the app posted."""

from decimal import Decimal

import pytest

from tests.ui_support import describe, make_app, settle, started, until
from workstation.core.model import OrderStatus, OrderType, Side, TimeInForce
from workstation.ui.messages import IntentDone, IntentFailed, OrderSent, ThemeChanged
from workstation.ui.panes.orders import OrdersPane
from workstation.ui.panes.positions import PositionsPane
from workstation.ui.panes.ticket import TicketPane
from workstation.ui.panes.watchlist import WatchlistPane
from workstation.ui.screens.confirm import ConfirmScreen
from workstation.ui.screens.help import HelpScreen
from workstation.ui.screens.review import ReviewScreen

D = Decimal


def orders(session):
    return sorted(session.oms.orders.values(), key=lambda o: int(o.id))


def journaled(session):
    return sorted(session.journal.orders(), key=lambda o: int(o.id))


def of(kind, msgs):
    return [m for m in msgs if isinstance(m, kind)]


def reviewing(app):
    return isinstance(app.screen, ReviewScreen)


async def command(pilot, text, done=None):
    """``:`` then the text (pasted: typing each key costs Pilot ~0.1 s) then Enter, then a wait
    until ``done(app)`` (without one: until the app is idle)."""
    from workstation.ui.panes.cmdline import CommandLine

    app = pilot.app
    await pilot.press("colon")
    line = app.main.query_one(CommandLine)
    assert app.focused is line
    line.insert_text_at_cursor(text)
    await pilot.press("enter")
    if done is None:
        await settle(pilot)
    else:
        await until(pilot, lambda: done(app), what=f"after {text!r}: {describe(done)}")


async def test_command_line_buy_reviews_then_sends_and_focus_returns(tmp_path):
    app, session, _ = make_app(tmp_path)
    msgs = []
    async with app.run_test(size=(160, 45), message_hook=msgs.append) as pilot:
        await started(pilot)
        assert isinstance(app.focused, WatchlistPane)
        await pilot.press("colon", *"buy 100 AAPL", "enter")  # typed key by key
        await until(pilot, lambda: reviewing(app))
        assert isinstance(app.screen, ReviewScreen)
        assert not orders(session)  # nothing sent before the review is accepted
        review = app.screen.review
        assert review.ok and review.qty == 100 and review.symbol == "AAPL" and review.notional == D("18502.00")
        await pilot.press("enter")
        await until(pilot, lambda: orders(session)[0].status is OrderStatus.FILLED and of(OrderSent, msgs) and isinstance(app.focused, WatchlistPane)
                    and app.query_one(PositionsPane).keys == ["AAPL"])
        [order] = orders(session)
        assert (order.side, order.qty, order.status) == (Side.BUY, D(100), OrderStatus.FILLED)
        assert journaled(session)[0].status is OrderStatus.FILLED
        assert of(OrderSent, msgs)[0].order.id == order.id
        assert isinstance(app.focused, WatchlistPane)
        assert app.query_one(PositionsPane).keys == ["AAPL"]


@pytest.mark.parametrize("key", ["n", "ctrl+g", "escape"])
async def test_review_declined_sends_nothing(tmp_path, key):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await command(pilot, "sell 50 MSFT lmt 410.50 gtc", done=reviewing)
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press(key)
        await until(pilot, lambda: not reviewing(app) and isinstance(app.focused, WatchlistPane))
        await settle(pilot)  # a send would have had the time to reach the engine
        assert not orders(session) and not journaled(session)
        assert isinstance(app.focused, WatchlistPane)


@pytest.mark.parametrize(
    "text, check",
    [
        ("sell 50 MSFT lmt 410.50 gtc", lambda o: o.type is OrderType.LIMIT and o.limit_price == D("410.50") and o.tif is TimeInForce.GTC and o.status is OrderStatus.ACCEPTED),
        ("b 100 aapl @ 185.50", lambda o: o.type is OrderType.LIMIT and o.side is Side.BUY and o.status is OrderStatus.FILLED),
        ("buy 100 AAPL stp 190", lambda o: o.type is OrderType.STOP and o.stop_price == 190),
        ("buy 100 AAPL stp 190 lmt 190.50", lambda o: o.type is OrderType.STOP_LIMIT and o.limit_price == D("190.50")),
        ("buy $10000 AAPL", lambda o: o.qty == 54),  # 10000 / 185.02 ask, rounded down
        ("short 100 TSLA", lambda o: o.side is Side.SELL and o.status is OrderStatus.FILLED),
        ("sell 100 AAPL trail 2%", lambda o: o.type is OrderType.TRAILING_STOP and o.trail_percent == 2),
    ],
)
async def test_command_forms_reach_the_engine(tmp_path, text, check):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await command(pilot, text, done=reviewing)
        assert isinstance(app.screen, ReviewScreen), text
        await pilot.press("y")
        await until(pilot, lambda: check(orders(session)[0]), what=text)
        order = orders(session)[0]
        assert check(order), order


async def test_bracket_order_holds_its_children(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await command(pilot, "buy 100 AAPL @ 185 tp 195 sl 180", done=reviewing)
        await pilot.press("enter")
        await until(pilot, lambda: len(orders(session)) == 3)
        entry, tp, sl = orders(session)
        assert entry.role == "entry" and tp.role == "take_profit" and sl.role == "stop_loss"
        assert tp.limit_price == 195 and sl.stop_price == 180


@pytest.mark.parametrize(
    "text, message",
    [
        ("buy 100 AAPL lmt 185.503", "limit price 185.503 is off the 0.01 tick"),
        ("buy 1.5 AAPL", "quantity must be a positive whole number"),
        ("buy ten AAPL", "quantity must be a number"),
        ("bogus", "unknown command 'bogus'"),
        ("buy $1 AAPL", "buys less than one lot"),
        ("buy $1" + "0" * 40 + " AAPL", "out of range"),
        ("buy 1" + "0" * 40 + " AAPL", "out of range"),
    ],
)
async def test_bad_input_shows_one_inline_line_and_sends_nothing(tmp_path, text, message):
    app, session, _ = make_app(tmp_path)
    msgs = []
    async with app.run_test(size=(160, 45), message_hook=msgs.append) as pilot:
        await started(pilot)
        error = app.query_one("#cmd-error")

        def refused(app):
            return error.display and message in str(error.render()) and any(message in m.message for m in of(IntentFailed, msgs))

        await command(pilot, text, done=refused)
        assert error.display and message in str(error.render())
        assert not isinstance(app.screen, ReviewScreen)
        assert not orders(session) and not journaled(session)
        assert any(message in m.message for m in of(IntentFailed, msgs))
        await pilot.press("ctrl+g")
        await until(pilot, lambda: not error.display and isinstance(app.focused, WatchlistPane))


async def test_risk_verdict_blocks_in_the_review(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await command(pilot, "buy 2000 AAPL", done=reviewing)  # 370k: over the 250k max order notional
        screen = app.screen
        assert isinstance(screen, ReviewScreen) and not screen.review.ok
        assert screen.review.rule == "max_order_notional"
        await pilot.press("enter")
        await settle(pilot)  # a send would have had the time to reach the engine
        assert not orders(session)


async def test_watchlist_b_prefills_ticket_steps_and_sends(tmp_path):
    app, session, _ = make_app(tmp_path)
    msgs = []
    async with app.run_test(size=(160, 45), message_hook=msgs.append) as pilot:
        await started(pilot)
        await pilot.press("j", "b")  # MSFT
        ticket = app.query_one(TicketPane)
        await until(pilot, lambda: ticket.value("symbol") == "MSFT" and app.focused.id == "ticket-limit")
        assert (ticket.value("side"), ticket.value("symbol"), ticket.value("type"), ticket.value("limit")) == ("buy", "MSFT", "limit", "410")
        assert app.focused.id == "ticket-limit"
        await pilot.press("up", "up", "down")  # one tick up
        assert ticket.value("limit") == "410.01"
        await pilot.press("shift+tab", "shift+tab", "shift+tab", "up")  # quantity field: one lot up
        assert app.focused.id == "ticket-qty" and ticket.value("qty") == "101"
        await pilot.press("enter")
        await until(pilot, lambda: reviewing(app))
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("y")
        await until(pilot, lambda: orders(session) and isinstance(app.focused, WatchlistPane))
        [order] = orders(session)
        assert (order.symbol, order.qty, order.limit_price, order.source) == ("MSFT", D(101), D("410.01"), "ticket")
        assert isinstance(app.focused, WatchlistPane)  # back where the ticket was opened from
        await pilot.press("s")
        await until(pilot, lambda: app.query_one(TicketPane).value("side") == "sell")
        assert app.query_one(TicketPane).value("side") == "sell"
        await pilot.press("ctrl+g")
        assert isinstance(app.focused, WatchlistPane)


async def test_ticket_errors_are_inline(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await pilot.press("b")
        ticket = app.query_one(TicketPane)
        await until(pilot, lambda: app.focused.id == "ticket-limit" and ticket.value("symbol") == "AAPL")
        ticket.set_value("limit", "185.503")
        await pilot.press("enter")
        await until(pilot, lambda: "limit price 185.503 is off the 0.01 tick" in str(app.query_one("#ticket-error").render()))
        assert "limit price 185.503 is off the 0.01 tick" in str(app.query_one("#ticket-error").render())
        ticket.set_value("limit", "185.5")
        ticket.set_value("qty", "0")
        await pilot.press("enter")
        await until(pilot, lambda: "quantity must be positive" in str(app.query_one("#ticket-error").render()))
        assert "quantity must be positive" in str(app.query_one("#ticket-error").render())
        assert not orders(session)


async def working_limit(pilot, session, text="buy 100 AAPL lmt 180", sent=True):
    """Sends ``text`` and waits until the order works (or filled) and its pane shows it; with
    ``sent=False`` (a review that blocks it) until the app is idle."""
    app, before = pilot.app, len(orders(session))
    await command(pilot, text, done=reviewing)
    await pilot.press("y")
    if not sent:
        await settle(pilot)
        return orders(session)[-1]

    def shown():
        order = orders(session)[-1]
        if order.status is OrderStatus.ACCEPTED:
            return order.id in app.query_one(OrdersPane).keys
        return order.status is OrderStatus.FILLED and order.symbol in app.query_one(PositionsPane).keys

    await until(pilot, lambda: len(orders(session)) > before and not reviewing(app) and shown(), what=text)
    return orders(session)[-1]


@pytest.mark.slow
async def test_orders_cancel_asks_then_cancels(tmp_path):
    app, session, broker = make_app(tmp_path)
    msgs = []
    async with app.run_test(size=(160, 45), message_hook=msgs.append) as pilot:
        await started(pilot)
        order = await working_limit(pilot, session)
        assert order.status is OrderStatus.ACCEPTED
        await pilot.press("3")
        assert isinstance(app.focused, OrdersPane)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await settle(pilot)  # a cancel would have had the time to reach the engine
        assert session.oms.orders[order.id].status is OrderStatus.ACCEPTED
        await pilot.press("c", "y")
        await until(pilot, lambda: session.oms.orders[order.id].status is OrderStatus.CANCELED and any(m.action == "cancel" for m in of(IntentDone, msgs))
                    and isinstance(app.focused, OrdersPane))
        assert session.oms.orders[order.id].status is OrderStatus.CANCELED
        assert any(m.action == "cancel" for m in of(IntentDone, msgs))
        assert isinstance(app.focused, OrdersPane)


@pytest.mark.slow
async def test_cancel_all_from_pane_and_command(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await working_limit(pilot, session, "buy 100 AAPL lmt 180")
        await working_limit(pilot, session, "buy 10 MSFT lmt 400")
        await pilot.press("3", "C", "y")
        await until(pilot, lambda: all(o.status is OrderStatus.CANCELED for o in orders(session)) and not isinstance(app.screen, ConfirmScreen))
        assert all(o.status is OrderStatus.CANCELED for o in orders(session))
        await working_limit(pilot, session, "buy 10 MSFT lmt 400")
        await command(pilot, "cancel all", done=lambda app: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: all(o.status is OrderStatus.CANCELED for o in orders(session)))
        assert all(o.status is OrderStatus.CANCELED for o in orders(session))


async def test_modify_sends_a_replace(tmp_path):
    app, session, broker = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        order = await working_limit(pilot, session)
        await pilot.press("3", "m")
        ticket = app.query_one(TicketPane)
        await until(pilot, lambda: ticket.modifying is not None and app.focused.id == "ticket-qty")
        assert ticket.modifying is not None and ticket.value("limit") == "180"
        assert app.focused.id == "ticket-qty"
        ticket.set_value("qty", "150")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: session.oms.orders[order.id].qty == 150 and ticket.modifying is None and isinstance(app.focused, OrdersPane))
        updated = session.oms.orders[order.id]
        assert updated.qty == 150 and updated.status is OrderStatus.ACCEPTED
        assert ticket.modifying is None and isinstance(app.focused, OrdersPane)


async def test_positions_x_closes_after_confirmation(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await working_limit(pilot, session, "buy 100 AAPL")
        assert session.portfolio.qty("AAPL") == 100
        await pilot.press("2", "x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: session.portfolio.qty("AAPL") == 0)
        assert session.portfolio.qty("AAPL") == 0
        close = orders(session)[-1]
        assert (close.side, close.qty, close.type) == (Side.SELL, D(100), OrderType.MARKET)


@pytest.mark.slow
async def test_flatten_all_cancels_and_closes(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await working_limit(pilot, session, "buy 100 AAPL")
        await working_limit(pilot, session, "short 10 TSLA")
        limit = await working_limit(pilot, session, "buy 10 MSFT lmt 400")
        await command(pilot, "flatten all", done=lambda app: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: session.portfolio.positions() == [] and session.oms.orders[limit.id].status is OrderStatus.CANCELED)
        assert session.portfolio.positions() == []
        assert session.oms.orders[limit.id].status is OrderStatus.CANCELED


async def test_engine_refusal_is_a_notification_and_a_log_line(tmp_path):
    app, session, _ = make_app(tmp_path)
    msgs = []
    async with app.run_test(size=(160, 45), message_hook=msgs.append) as pilot:
        await started(pilot)

        def logged(app):
            return (any("order 99 is not working" in m.message for m in of(IntentFailed, msgs))
                    and any("order 99 is not working" in t for t in app.query_one("#log").texts)
                    and any("order 99" in str(n.message) for n in app._notifications))

        await command(pilot, "cancel 99", done=logged)
        assert any("order 99 is not working" in m.message for m in of(IntentFailed, msgs))
        assert any("order 99 is not working" in t for t in app.query_one("#log").texts)
        assert any("order 99" in str(n.message) for n in app._notifications)


async def test_worker_crash_never_reaches_the_screen(tmp_path):
    app, session, _ = make_app(tmp_path)
    msgs = []

    async def boom(request):
        raise RuntimeError("the engine fell over")

    async with app.run_test(size=(160, 45), message_hook=msgs.append) as pilot:
        await started(pilot)
        app.engine.review = boom

        def logged(app):
            return (any("the engine fell over" in m.message for m in of(IntentFailed, msgs))
                    and any("the engine fell over" in t for t in app.query_one("#log").texts))

        await command(pilot, "buy 100 AAPL", done=logged)
        await settle(pilot)  # a crash would have had the time to end the app
        assert app.is_running and app.return_code is None
        assert any("the engine fell over" in m.message for m in of(IntentFailed, msgs))
        assert any("the engine fell over" in t for t in app.query_one("#log").texts)


@pytest.mark.slow
async def test_watchlists_add_remove_switch_and_persist(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        wl = app.query_one(WatchlistPane)
        await command(pilot, "watch add GOOGL", done=lambda app: "GOOGL" in wl.keys and wl.selected_key == "GOOGL")
        assert "GOOGL" in wl.keys and wl.selected_key == "GOOGL"
        await command(pilot, "watch rm TSLA", done=lambda app: "TSLA" not in wl.keys)
        assert "TSLA" not in wl.keys
        await command(pilot, "watch list tech", done=lambda app: wl.keys == [])
        assert wl.keys == []
        await command(pilot, "watch add NVDA", done=lambda app: wl.keys == ["NVDA"])
        await pilot.press("1", "right_square_bracket")
        await until(pilot, lambda: "GOOGL" in wl.keys)
        assert "GOOGL" in wl.keys
    again, _, _ = make_app(tmp_path)
    assert again.watchlists.lists["default"][-1] == "GOOGL" and "TSLA" not in again.watchlists.lists["default"]
    assert again.watchlists.lists["tech"] == ["NVDA"]


async def test_theme_command_switches_and_saves(tmp_path):
    app, session, _ = make_app(tmp_path)
    msgs = []
    async with app.run_test(size=(160, 45), message_hook=msgs.append) as pilot:
        await started(pilot)
        await command(pilot, "theme amber", done=lambda app: app.theme == "amber" and of(ThemeChanged, msgs)[-1].name == "amber")
        assert app.theme == "amber"
        assert of(ThemeChanged, msgs)[-1].name == "amber"
        await command(pilot, "theme nope", done=lambda app: any("nope" in m.message for m in of(IntentFailed, msgs)))
        assert app.theme == "amber"
    assert 'theme = "amber"' in (tmp_path / "settings.toml").read_text()


async def test_help_lists_every_binding(tmp_path):
    from workstation.ui.app import WorkstationApp
    from workstation.ui.help import sections

    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert isinstance(app.screen, HelpScreen)
        ids = {row[2] for _, rows in sections(app) for row in rows}
        for binding in WorkstationApp.BINDINGS:
            assert binding.id in ids
        from workstation.ui.panes.feed import AlertsPane
        from workstation.ui.panes.risk import RiskPane

        for pane in (WatchlistPane, OrdersPane, PositionsPane, RiskPane, AlertsPane):
            for binding in pane.BINDINGS:
                assert binding.id in ids
        await pilot.press("q")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        await settle(pilot)  # a quit would have had the time to end the app
        assert not isinstance(app.screen, HelpScreen) and app.is_running


@pytest.mark.slow
async def test_palette_offers_every_action(tmp_path):
    from textual.command import CommandPalette

    from workstation.ui.palette import actions

    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        titles = [t for t, _, _ in actions(app)]
        for needed in ("Go to Watchlist", "Go to Log", "Command line", "Cancel all orders", "Flatten all positions", "Help: every key", "Quit", "Kill switch", "Reset the circuit breaker", "Change a risk limit", "Portfolio risk: heatmap, VaR, correlation, stress", "Acknowledge every alert", "Theme: amber", "Theme: high-contrast", "Theme: light", "Theme: dark"):
            assert needed in titles
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("ctrl+g")  # closes it without Escape
        await until(pilot, lambda: not isinstance(app.screen, CommandPalette) and isinstance(app.focused, WatchlistPane))
        assert not isinstance(app.screen, CommandPalette) and isinstance(app.focused, WatchlistPane)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Theme: light", "enter")
        await until(pilot, lambda: app.theme == "light")
        assert app.theme == "light"


@pytest.mark.slow
async def test_quit_asks_while_orders_work(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await working_limit(pilot, session)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await settle(pilot)  # a quit would have had the time to end the app
        assert app.is_running
        await pilot.press("q", "y")
        await settle(pilot)
    assert app.return_code == 0


async def test_quit_without_working_orders_is_immediate(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


@pytest.mark.slow
async def test_number_keys_focus_panes_and_typing_is_not_a_shortcut(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        for key, pane in (("2", "positions"), ("3", "orders"), ("5", "risk"), ("6", "alerts"), ("7", "chart"), ("8", "log"), ("1", "watchlist")):
            await pilot.press(key)
            assert app.focused.id == pane
        await pilot.press("4")
        assert app.focused.id == "ticket-qty"
        app.query_one(TicketPane).set_value("qty", "")
        await pilot.press("2", "5")  # digits typed into a field stay digits
        assert app.focused.id == "ticket-qty" and app.query_one(TicketPane).value("qty") == "25"


async def test_compact_layout_shows_essentials_and_the_rest_a_key_away(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        shown = {w.id for w in app.query(".pane") if w.display and w.region.height > 0}
        assert shown == {"watchlist", "positions"}
        await pilot.press("3")
        await settle(pilot)
        shown = {w.id for w in app.query(".pane") if w.display and w.region.height > 0}
        assert shown == {"watchlist", "orders"} and app.focused.id == "orders"
        await pilot.press("4")
        await settle(pilot)
        ticket = app.query_one(TicketPane)
        assert ticket.display and ticket.region.height >= 11  # every field fits


async def test_wide_layout_shows_every_pane_without_overlap(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        panes = list(app.query(".pane"))
        assert len(panes) == 9 and all(p.region.area > 0 for p in panes)
        ticket = app.query_one(TicketPane)
        for part in ("#ticket-tif", "#ticket-error", "#ticket-hint"):  # the whole ticket is inside its pane
            assert ticket.region.contains_region(app.query_one(part).region), part
        for i, a in enumerate(panes):
            for b in panes[i + 1 :]:
                assert not a.region.overlaps(b.region), (a.id, b.id)


async def test_filter_narrows_the_focused_table(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await pilot.press("slash", *"usd")
        await until(pilot, lambda: app.query_one(WatchlistPane).keys == ["BTC/USD", "EUR/USD"])
        assert app.query_one(WatchlistPane).keys == ["BTC/USD", "EUR/USD"]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.focused, WatchlistPane))
        assert isinstance(app.focused, WatchlistPane)
        await pilot.press("slash", "ctrl+u", "enter")
        await until(pilot, lambda: len(app.query_one(WatchlistPane).keys) == 7)
        assert len(app.query_one(WatchlistPane).keys) == 7


@pytest.mark.slow
async def test_bindings_can_be_remapped(tmp_path):
    app, session, _ = make_app(tmp_path, bindings={"orders.cancel": "z", "app.command": "semicolon"})
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await pilot.press("semicolon", *"buy 100 AAPL lmt 180", "enter")
        await until(pilot, lambda: reviewing(app))
        await pilot.press("y")
        await until(pilot, lambda: not reviewing(app) and orders(session)[0].id in app.query_one(OrdersPane).keys)
        [order] = orders(session)
        await pilot.press("3", "z", "y")
        await until(pilot, lambda: session.oms.orders[order.id].status is OrderStatus.CANCELED)
        assert session.oms.orders[order.id].status is OrderStatus.CANCELED


async def test_review_can_be_switched_off(tmp_path):
    app, session, _ = make_app(tmp_path, confirm=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await command(pilot, "buy 100 AAPL", done=lambda app: orders(session)[0].status is OrderStatus.FILLED)
        assert orders(session)[0].status is OrderStatus.FILLED


async def test_quotes_coalesce_and_only_changed_rows_repaint(tmp_path):
    app, session, broker = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        wl = app.query_one(WatchlistPane)
        app.repaint()
        for price in (186.0, 187.0, 188.5):  # a burst between two repaints
            broker.move("AAPL", price)
        assert app._latest["AAPL"].last == 188.5
        app.repaint()
        assert wl.repainted == 1  # one row of seven
        row = wl.row("AAPL")
        assert row.cells[1][0] == "188.50" and row.background == "flash_up"
        wl.repainted = 0
        app.repaint()
        assert wl.repainted == 0  # the flash runs on, unchanged: nothing to draw
        repainted = []
        for _ in range(4):
            wl.repainted = 0
            app.repaint()
            repainted.append(wl.repainted)
        assert wl.row("AAPL").background == "" and sum(repainted) == 1  # the flash ended once


async def test_stale_badge_after_quiet_symbol(tmp_path):
    app, session, broker = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        wl = app.query_one(WatchlistPane)
        assert wl.row("MSFT").cells[-1][0] == ""
        session.clock.advance(60)
        broker.ts += 60
        broker.move("AAPL", 190.0)
        app.repaint()
        assert wl.row("MSFT").cells[-1][0] == "STALE" and wl.row("AAPL").cells[-1][0] == ""


async def test_chart_follows_the_selection_and_switches_to_candles(tmp_path):
    app, session, broker = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        for i in range(40):
            broker.move("MSFT", 410 + (i % 7))
            app.repaint()
        await pilot.press("j")  # MSFT
        app._last_input_ns = 0
        app.repaint()
        chart = app.query_one("#chart")
        await until(pilot, lambda: chart.symbol == "MSFT" and chart.bars[-1].close == 414 and "MSFT" in chart._text.plain)
        assert chart.symbol == "MSFT" and chart.bars[-1].close == 414
        assert "MSFT" in chart._text.plain
        await pilot.press("7", "v")
        assert chart.mode == "candles" and "v candles" in str(chart.border_subtitle)


async def test_a_crash_is_one_line_and_a_log_file(tmp_path, monkeypatch, capfd):
    from workstation.ui.app import WorkstationApp

    app, session, _ = make_app(tmp_path)
    app.crash_log = tmp_path / "errors.log"

    def broken(self, event=None):
        raise ZeroDivisionError("division by zero in a handler")

    monkeypatch.setattr(WorkstationApp, "on_ticket_pane_leave", broken)
    with pytest.raises(ZeroDivisionError):
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            await pilot.press("4", "ctrl+g")
            await settle(pilot)
    assert app.return_code == 1
    err = capfd.readouterr().err
    assert "error: ZeroDivisionError: division by zero in a handler" in err and "Traceback" not in err
    assert "Traceback" in app.crash_log.read_text()
    assert app.crash_log.stat().st_mode & 0o777 == 0o600  # tracebacks name accounts and paths: private


async def test_a_failing_repaint_keeps_the_workstation_running(tmp_path):
    app, session, broker = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        app.engine.snapshot = lambda: 1 / 0
        app._account_dirty = True
        app.repaint()
        await until(pilot, lambda: any("repaint failed" in t for t in app.query_one("#log").texts))
        assert app.is_running and any("repaint failed" in t for t in app.query_one("#log").texts)


@pytest.mark.parametrize("live", [False, True])
async def test_header_says_paper_or_live(tmp_path, live):
    from workstation.ui.panes.header import HeaderBar

    app, session, _ = make_app(tmp_path, live=live)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        header = app.query_one(HeaderBar)
        text = header.render().plain
        assert ("LIVE" in text) is live and ("PAPER" in text) is not live
        assert header.has_class("-live") is live
        assert "connected" in text and "market open" in text and "Eq 100,000.00" in text and "Day +0.00" in text
        assert "14:13:20 UTC" in text  # the engine's (simulated) clock
        badge = [s for s in header.render().spans if s.start == 0][0].style
        assert badge.bgcolor.name == (app.themes["dark"].palette.live if live else app.themes["dark"].palette.paper)


async def test_risk_pane_shows_buying_power_and_the_engines_rows(tmp_path):
    from workstation.ui.panes.risk import RiskPane

    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await command(pilot, "buy 100 AAPL", done=reviewing)
        await pilot.press("y")
        risk = app.query_one(RiskPane)
        await until(pilot, lambda: risk.row("gross exposure").cells[1][0] == "18,502.00")
        assert risk.keys[0] == "buying power"
        assert risk.row("buying power").cells[1][0] == f"{session.portfolio.account().buying_power:,.2f}"
        assert "gross exposure" in risk.keys and risk.row("gross exposure").cells[1][0] == "18,502.00"
        assert len(risk.keys) == 1 + len(session.risk.status())


async def test_rejections_reach_alerts_once_and_as_a_notification(tmp_path):
    app, session, broker = make_app(tmp_path, confirm=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        broker.reject_next = "insufficient shares to locate"

        def told(app):
            order = orders(session)[0]
            return (order.status is OrderStatus.REJECTED and any(f"order {order.id}" in t for t in app.query_one("#alerts").texts)
                    and any("rejected" in str(n.message) for n in app._notifications))

        await command(pilot, "short 100 TSLA", done=told)
        await settle(pilot)  # a second alert line would have had the time to show
        [order] = orders(session)
        assert order.status is OrderStatus.REJECTED
        alerts = app.query_one("#alerts").texts
        assert len([t for t in alerts if f"order {order.id}" in t]) == 1
        assert any("rejected" in str(n.message) for n in app._notifications)
        app.query_one("#orders").action_toggle_view()  # a rejected order is done: in the view of all orders
        assert app.query_one("#orders").row(order.id).cells[-1][0] == "insufficient shares to locate"
