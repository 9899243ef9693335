"""Numbers on the workstation's screen: prices at each instrument's tick digits, money with separators."""

from __future__ import annotations

import html
import re

import pytest

from tests.ui_support import make_app, started, until
from workstation.core.model import OrderStatus
from workstation.ui.screens.review import ReviewScreen

SIZES = [(80, 24), (160, 45)]


def screen(app) -> str:
    """What the terminal shows, as plain text, one line per screen row."""
    rows: dict[float, list[str]] = {}
    for y, run in re.findall(r'<text class="terminal-[^"]*" x="[\d.]+" y="([\d.]+)"[^>]*>(.*?)</text>', app.export_screenshot()):
        rows.setdefault(float(y), []).append(html.unescape(run).replace("\xa0", " "))
    return "\n".join("".join(runs) for _, runs in sorted(rows.items()))


def fx_app(tmp_path):
    app, session, broker = make_app(tmp_path, symbols=["USD/JPY", "BTC/USD", "EUR/USD", "AAPL"])
    broker.prices["USD/JPY"] = 151.25
    return app, session, broker


async def command(pilot, text):
    """``:``, the text pasted, Enter: until the review is on screen."""
    from workstation.ui.panes.cmdline import CommandLine

    await pilot.press("colon")
    pilot.app.main.query_one(CommandLine).insert_text_at_cursor(text)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen), what=f"the review of {text!r}")


def filled(session, n: int):
    """A condition: ``n`` orders, every one filled."""
    return lambda: len(session.oms.orders) == n and all(o.status is OrderStatus.FILLED for o in session.oms.orders.values())


@pytest.mark.parametrize("size", SIZES)
async def test_watchlist_rows_show_prices_at_their_tick_digits(tmp_path, size):
    from workstation.ui.panes.watchlist import WatchlistPane

    app, _, broker = fx_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        broker.move("USD/JPY", 151.2)
        broker.move("AAPL", 184.999999)  # a float a hair under its previous close: no "-0.00"
        wl = app.main.query_one(WatchlistPane)
        await until(pilot, lambda: wl.row("USD/JPY").cells[1][0] == "151.200" and "151.200" in screen(app))
        assert wl.row("USD/JPY").cells[1][0] == "151.200"  # three decimals: the JPY pip
        assert wl.row("EUR/USD").cells[1][0] == "1.08500"  # five
        assert wl.row("BTC/USD").cells[1][0] == "65,000.00"  # two, with separators
        assert wl.row("AAPL").cells[2][0] == "+0.00" and wl.row("AAPL").cells[3][0] == "+0.00%"
        text = screen(app)
        assert "151.200" in text and "65,000.00" in text and "-0.00" not in text


@pytest.mark.parametrize("size", SIZES)
async def test_positions_and_header_show_quantities_prices_and_money_with_separators(tmp_path, size):
    from workstation.ui.panes.positions import PositionsPane

    app, session, broker = fx_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await command(pilot, "buy 20000 EUR/USD")
        await pilot.press("enter")  # the review: send
        await until(pilot, filled(session, 1))
        await command(pilot, "buy 1 BTC/USD")
        await pilot.press("enter")
        await until(pilot, filled(session, 2))
        broker.move("EUR/USD", 1.1)
        pos = app.query_one(PositionsPane)
        # the positions repaint on the app's capped rate
        await until(pilot, lambda: pos.row("EUR/USD").cells[3][0] == "1.10000" and pos.row("BTC/USD"))
        eur, btc = pos.row("EUR/USD").cells, pos.row("BTC/USD").cells
        assert eur[1][0] == "20,000"  # the quantity, grouped
        assert eur[2][0] == "1.08511"  # the average cost at its five digits
        assert eur[3][0] == "1.10000"  # the last too, trailing zeros kept
        assert btc[2][0] == "65,006.50"  # separators in a price
        assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", btc[4][0])  # market value: money
        header = screen(app).splitlines()[0]
        assert re.search(r"Eq \d{2,3},\d{3}\.\d{2}", header), header


@pytest.mark.parametrize("size", SIZES)
async def test_the_review_shows_prices_at_tick_digits_and_money_with_separators(tmp_path, size):
    app, _, _ = fx_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await command(pilot, "buy 100000 USD/JPY lmt 151.2")
        assert isinstance(app.screen, ReviewScreen)
        await until(pilot, lambda: re.search(r"Buying power after\s*-?\d{1,3}(,\d{3})+\.\d{2}", screen(app)))
        text = screen(app)
        assert re.search(r"Limit\s+151\.200", text), text
        assert re.search(r"Est\. price\s+151\.200", text), text
        assert re.search(r"BUY\s+100,000 USD/JPY", text), text
        assert re.search(r"Notional\s+\d{2},\d{3}\.\d{2}", text), text  # in dollars: 100,000 USD
        assert re.search(r"Buying power after\s*-?\d{1,3}(,\d{3})+\.\d{2}", text), text


@pytest.mark.parametrize("size", SIZES)
async def test_a_fill_shows_its_average_price_at_tick_digits_in_orders(tmp_path, size):
    from workstation.ui.panes.orders import OrdersPane

    app, session, _ = fx_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await command(pilot, "buy 1000 USD/JPY")
        await pilot.press("enter")
        await until(pilot, filled(session, 1))
        [order] = session.oms.orders.values()
        pane = app.query_one(OrdersPane)
        await pilot.press("3", "a")  # every order of the day, the filled one too
        await until(pilot, lambda: pane.row(order.id).cells[-2][0] == "151.270")
        assert pane.row(order.id).cells[-2][0] == "151.270"  # the JPY pip's three digits
