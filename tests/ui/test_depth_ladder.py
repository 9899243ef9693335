"""The depth ladder and time and sales, driven as a user drives them (Pilot): the book's
sizes at their prices, the cursor, a limit placed at the cursor's price, moved and
cancelled from the ladder, the tape newest first with its aggressor letters, a large print
highlighted, and Escape that closes the screen and stops the book."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.fakes.depth_feed import ScriptedDepthBroker
from tests.ui_support import START, settle, started, until
from workstation.api import LocalEngine
from workstation.core.clock import SimClock
from workstation.core.config import Settings, UISettings
from workstation.core.model import OrderType
from workstation.trading.session import Session
from workstation.ui.watchlists import Watchlists

NARROW, WIDE = (80, 24), (160, 45)
BIDS = [(215.00, 300.0), (214.99, 500.0), (214.97, 1200.0)]
ASKS = [(215.02, 200.0), (215.03, 800.0), (215.05, 400.0)]


def depth_app(root, broker_cls=ScriptedDepthBroker):
    from workstation.ui.app import WorkstationApp

    settings = Settings(watchlist=["AAPL", "MSFT"], ui=UISettings(theme="dark"))
    clock = SimClock(START)
    broker = broker_cls(clock)
    session = Session.build(settings, data_root=root / "data", clock=clock, broker=broker)
    lists = Watchlists.load(root / "data" / "watchlists.json", list(settings.watchlist))
    app = WorkstationApp(LocalEngine(session), settings, watchlists=lists, config_path=root / "settings.toml", save_settings=False)
    return app, broker


def depth_screen(app):
    from workstation.ui.screens.depth import DepthScreen

    for screen in reversed(app.screen_stack):
        if isinstance(screen, DepthScreen):
            return screen
    return None


async def type_command(pilot, text: str) -> None:
    await pilot.press("colon", *[{" ": "space"}.get(ch, ch) for ch in text], "enter")


async def open_ladder(pilot, broker, text="depth AAPL"):
    await started(pilot)
    await type_command(pilot, text)
    await until(pilot, lambda: depth_screen(pilot.app) is not None and depth_screen(pilot.app).watching, what="the ladder watching")
    broker.push_snapshot("AAPL", BIDS, ASKS)
    await until(pilot, lambda: depth_screen(pilot.app).view is not None and depth_screen(pilot.app).cursor is not None, what="the first book")
    await settle(pilot)
    return depth_screen(pilot.app)


def line_at(screen, price: str) -> str:
    return next(line for line in screen.ladder.plain_lines()[1:] if f" {price} " in line or f"▸{price}◂" in line or f"*{price}*" in line)


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_ladder_shows_book_sizes_at_their_prices(tmp_path, size):
    app, broker = depth_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        screen = await open_ladder(pilot, broker)
        assert "300" in line_at(screen, "215.00").split("215.00")[0]  # the bid size left of its price
        assert "200" in line_at(screen, "215.02").split("215.02")[1]  # the ask size right of its price
        gap = line_at(screen, "215.01")  # an empty tick still has its row
        assert gap.replace("215.01", "").strip(" ▸◂") == ""
        assert "1,200" in line_at(screen, "214.97")
        assert screen.ladder.size.height <= size[1]
        if size == WIDE:  # the tape beside the ladder
            assert screen.tape.region.x > screen.ladder.region.x
        else:  # below it
            assert screen.tape.region.y > screen.ladder.region.y


def review_screen(app):
    from workstation.ui.screens.review import ReviewScreen

    return app.screen if isinstance(app.screen, ReviewScreen) else None


def confirm_screen(app):
    from workstation.ui.screens.confirm import ConfirmScreen

    return app.screen if isinstance(app.screen, ConfirmScreen) else None


def working_aapl(app):
    return [o for o in app.engine.orders() if o.symbol == "AAPL" and o.status.is_working]


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_cursor_moves_a_tick_a_page_and_back_to_the_touch(tmp_path, size):
    app, broker = depth_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        screen = await open_ladder(pilot, broker)
        assert screen.cursor_price() == Decimal("215.01")  # the touch (between 215.00 and 215.02) centred
        assert "▸215.01◂" in line_at(screen, "215.01")
        await pilot.press("down", "j")
        assert screen.cursor_price() == Decimal("214.99")
        assert "▸214.99◂" in line_at(screen, "214.99")
        await pilot.press("k")
        assert screen.cursor_price() == Decimal("215.00")
        rows = screen.body_rows
        await pilot.press("pagedown")
        assert screen.cursor_price() == Decimal("215.00") - Decimal("0.01") * rows
        await settle(pilot)
        assert any("▸" in line for line in screen.ladder.plain_lines())  # the window followed the cursor
        await pilot.press("space")
        assert screen.cursor_price() == Decimal("215.01")


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_place_move_and_cancel_a_limit_from_the_ladder(tmp_path, size):
    app, broker = depth_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        screen = await open_ladder(pilot, broker)
        await pilot.press("j", "j", "j", "j")  # 214.97
        await pilot.press("3", "0", "0", "b")
        await until(pilot, lambda: review_screen(app) is not None, what="the order review")
        await pilot.press("y")
        await until(pilot, lambda: len(working_aapl(app)) == 1, what="the order working")
        order = working_aapl(app)[0]
        assert order.type is OrderType.LIMIT and order.limit_price == Decimal("214.97") and order.qty == 300
        await until(pilot, lambda: "B 300" in line_at(screen, "214.97"), what="the ladder marking the order")
        orders_pane = app.main.query_one("#orders")
        assert order.id in orders_pane.keys  # the Orders pane has it too

        await pilot.press("m")  # pick it up at its level
        assert screen.picked == order.id
        await pilot.press("k", "k", "m")  # put it down at 214.99: a replace, confirmed first
        await until(pilot, lambda: confirm_screen(app) is not None, what="the replace confirmation")
        await pilot.press("y")
        await until(pilot, lambda: working_aapl(app) and working_aapl(app)[0].limit_price == Decimal("214.99"), what="the limit moved")
        await until(pilot, lambda: "B 300" in line_at(screen, "214.99") and "B 300" not in line_at(screen, "214.97"), what="the mark moved")

        await pilot.press("c")
        await until(pilot, lambda: confirm_screen(app) is not None, what="the cancel confirmation")
        await pilot.press("y")
        await until(pilot, lambda: not working_aapl(app), what="the order cancelled")
        await until(pilot, lambda: "B 300" not in line_at(screen, "214.99"), what="the mark gone")


async def test_sell_uses_the_tickets_quantity_and_c_without_an_order_is_one_line(tmp_path):
    app, broker = depth_app(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        screen = await open_ladder(pilot, broker)
        await pilot.press("c")
        await settle(pilot)
        assert confirm_screen(app) is None and depth_screen(app) is screen
        await pilot.press("k", "k", "k", "k", "s")  # 215.05
        await until(pilot, lambda: review_screen(app) is not None, what="the order review")
        req = review_screen(app).request
        assert (req.side.value, req.qty, req.limit_price, req.type) == ("sell", Decimal("100"), Decimal("215.05"), OrderType.LIMIT)
        await pilot.press("n")  # not sent
        await settle(pilot)
        assert not working_aapl(app)


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_escape_closes_the_ladder_and_stops_the_book(tmp_path, size):
    app, broker = depth_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await open_ladder(pilot, broker)
        assert "AAPL" in broker.depth_subs and "AAPL" in broker.trade_subs
        await pilot.press("escape")
        await until(pilot, lambda: depth_screen(app) is None, what="the ladder closed")
        await until(pilot, lambda: "AAPL" not in broker.depth_subs and "AAPL" not in broker.trade_subs, what="the book unwatched")
        assert app.depth_sink is None


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_tape_newest_first_with_sides_and_a_large_print(tmp_path, size):
    app, broker = depth_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        screen = await open_ladder(pilot, broker)
        for i in range(12):
            broker.push_trade("AAPL", 215.02, 100.0, "buy" if i % 2 else "sell")
        broker.push_trade("AAPL", 215.00, 5000.0, "sell")  # 50x the median: large
        broker.push_trade("AAPL", 215.02, 200.0, "buy")
        await until(pilot, lambda: len(screen.tape.prints) == 14, what="the prints on the tape")
        lines = screen.tape.lines()
        assert "Side" in lines[0]
        assert "200" in lines[1] and lines[1].rstrip().endswith("B")  # the newest first
        assert "5,000" in lines[2] and lines[2].rstrip().endswith("S ◆")  # large, marked
        assert not any("◆" in line for line in lines[3:])
        assert screen.tape.is_large(screen.tape.prints[1]) and not screen.tape.is_large(screen.tape.prints[0])
        assert "*215.00*" in line_at(screen, "215.00")  # the trade flashes its price


async def test_tape_alone_full_screen(tmp_path):
    app, broker = depth_app(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await started(pilot)
        await type_command(pilot, "tape AAPL")
        await until(pilot, lambda: depth_screen(app) is not None and depth_screen(app).watching, what="the tape watching")
        broker.push_trade("AAPL", 215.02, 100.0, "buy")
        screen = depth_screen(app)
        await until(pilot, lambda: len(screen.tape.prints) == 1, what="a print")
        assert not screen.ladder.display or screen.ladder.region.height == 0
        assert screen.tape.region.height >= 20
        assert "time and sales" in screen.title_line


async def test_a_broker_without_depth_shows_its_one_line(tmp_path):
    from tests.fakes.market import InstantBroker
    from workstation.ui.app import WorkstationApp

    settings = Settings(watchlist=["AAPL"], ui=UISettings(theme="dark"))
    session = Session.build(settings, data_root=tmp_path / "data", clock=SimClock(START), broker=InstantBroker(ts=START))
    lists = Watchlists.load(tmp_path / "data" / "watchlists.json", ["AAPL"])
    app = WorkstationApp(LocalEngine(session), settings, watchlists=lists, config_path=tmp_path / "settings.toml", save_settings=False)
    async with app.run_test(size=NARROW) as pilot:
        await started(pilot)
        await pilot.press("D")  # on the watchlist's AAPL row
        await until(pilot, lambda: depth_screen(app) is not None and depth_screen(app).error, what="the reason")
        assert "AAPL: this broker sends no market depth" in depth_screen(app).title_line
        await pilot.press("escape")
        await until(pilot, lambda: depth_screen(app) is None, what="closed")


async def test_depth_command_with_a_bad_symbol_is_one_line(tmp_path):
    app, broker = depth_app(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await started(pilot)
        await type_command(pilot, "depth")
        await settle(pilot)
        assert depth_screen(app) is None
        assert "usage: depth SYMBOL" in str(app.main.query_one("#cmd-error").render())


def test_depth_and_tape_commands_parse():
    from workstation.ui.commands import DepthCommand, ParseError, parse

    assert parse("depth aapl") == DepthCommand("AAPL")
    assert parse(":dep btc/usd") == DepthCommand("BTC/USD")
    assert parse("tape AAPL") == DepthCommand("AAPL", tape_only=True)
    for bad, message in (("depth", "usage: depth SYMBOL"), ("tape AAPL MSFT", "usage: tape SYMBOL"), ("depth ^^^", "malformed symbol")):
        with pytest.raises(ParseError, match=message):
            parse(bad)


async def test_one_m_moves_the_only_working_order_and_the_title_says_what_is_picked(tmp_path):
    app, broker = depth_app(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        screen = await open_ladder(pilot, broker)
        await pilot.press("j", "j", "j", "j", "b")
        await until(pilot, lambda: review_screen(app) is not None, what="the order review")
        await pilot.press("y")
        await until(pilot, lambda: len(working_aapl(app)) == 1, what="the order working")
        order = working_aapl(app)[0]
        await pilot.press("m")
        await until(pilot, lambda: f"moving {order.id}" in screen.title_line, what="the title naming the picked order")
        await pilot.press("escape")  # drops it: the ladder stays
        await settle(pilot)
        assert screen.picked is None and depth_screen(app) is screen
        await pilot.press("k", "m")  # elsewhere, with one working order: one m moves it
        await until(pilot, lambda: confirm_screen(app) is not None, what="the replace confirmation")
        await pilot.press("y")
        await until(pilot, lambda: working_aapl(app)[0].limit_price == Decimal("214.98"), what="the limit moved")
