"""Typing a spread on the command line: it is reviewed as one order with its payoff figures,
and only Enter sends it."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from tests.ui_support import describe, make_app, settle, started, until
from workstation.core.model import OrderType, Side
from workstation.ui.commands import ParseError, SpreadCommand, parse
from workstation.ui.intents import spread_request
from workstation.ui.messages import IntentFailed
from workstation.ui.screens.review import ReviewScreen

OPTION_PRICES = {
    "AAPL-2026-12-18-180-C": 9.40, "AAPL-2026-12-18-190-C": 6.30,  # spot 185: net mid 3.10
    "SPY-2026-12-18-540-P": 1.00, "SPY-2026-12-18-550-P": 2.00, "SPY-2026-12-18-570-C": 2.10, "SPY-2026-12-18-580-C": 1.05,
}


def spread_app(tmp_path):
    app, session, broker = make_app(tmp_path)
    broker.prices.update(OPTION_PRICES)
    broker.supports_combos = True  # reviewed only: the fake never fills them
    return app, session, broker


def screen_text(app, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(app.screen.query_one("#review-body").content)
    return console.export_text()


async def command(pilot, text, done):
    from workstation.ui.panes.cmdline import CommandLine

    app = pilot.app
    await pilot.press("colon")
    app.main.query_one(CommandLine).insert_text_at_cursor(text)
    await pilot.press("enter")
    await until(pilot, lambda: done(app), what=f"after {text!r}: {describe(done)}")


def test_typed_spreads_become_one_combo_request():
    cmd = parse(":buy 1 AAPL 2026-12-18 200/210 call vertical @ 3.10")
    assert isinstance(cmd, SpreadCommand)
    req = spread_request(cmd)
    assert (req.side, req.qty, req.type, req.limit_price) == (Side.BUY, D(1), OrderType.LIMIT, D("3.10"))
    assert [(leg.symbol, leg.side, leg.ratio) for leg in req.legs] == [
        ("AAPL-2026-12-18-200-C", Side.BUY, 1), ("AAPL-2026-12-18-210-C", Side.SELL, 1)]
    condor = spread_request(parse(":sell 2 SPY 2026-12-18 590/600/610/620 iron condor @ 2.05 gtc"))
    assert condor.side is Side.SELL and condor.qty == 2 and len(condor.legs) == 4 and condor.tif.value == "gtc"
    assert spread_request(parse(":buy 1 AAPL 2026-12-18 220/240 strangle")).type is OrderType.MARKET
    credit = spread_request(parse("buy 1 legs +AAPL-2026-12-18-200-C -2 AAPL-2026-12-18-210-C @ -0.50"))
    assert credit.limit_price == D("-0.50") and credit.legs[1].ratio == 2
    cal = spread_request(parse("buy 1 AAPL 2026-12-18/2027-01-15 230 call calendar @ 3.00"))
    assert [leg.symbol for leg in cal.legs] == ["AAPL-2026-12-18-230-C", "AAPL-2027-01-15-230-C"]


@pytest.mark.parametrize(("line", "words"), [
    ("buy 1.5 AAPL 2026-12-18 230 straddle", "whole units"),
    ("buy $1000 AAPL 2026-12-18 230 straddle", "whole units"),
    ("short 1 AAPL 2026-12-18 230 straddle", "bought or sold"),
    ("buy 1 AAPL 2026-12-18 230 straddle stp 3", "net price"),
    ("buy 1 AAPL 2026-12-18 210/200 call vertical @ 3", "must go up"),
    ("buy 1 AAPL 2026-12-18 230 straddle @", "needs the net price"),
    ("buy 1 AAPL 2026-12-18 230 straddle @ 1 @ 2", "given twice"),
])
def test_bad_spread_lines_are_one_line(line, words):
    with pytest.raises(ParseError) as err:
        parse(line)
    assert words in str(err.value) and "\n" not in str(err.value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([
    "buy", "sell", "1", "2", "-1", "0", "AAPL", "2026-12-18", "2026-12-18/2027-01-15", "2026-02-30", "200/210", "210/200",
    "230", "call", "put", "vertical", "straddle", "iron", "condor", "calendar", "butterfly", "legs",
    "+AAPL-2026-12-18-200-C", "-AAPL-2026-12-18-210-C", "-2", "@", "3.10", "-0.5", "gtc", "lmt", "x", "1e5", "$5",
]), min_size=1, max_size=10))
def test_any_spread_line_parses_or_says_one_line(words):
    try:
        parse(" ".join(words))
    except ParseError as exc:
        assert str(exc) and "\n" not in str(exc)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_typed_vertical_is_reviewed_with_its_payoff_then_sent(tmp_path, size):
    app, session, broker = spread_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await command(pilot, "buy 1 AAPL 2026-12-18 180/190 call vertical @ 3.10", lambda a: isinstance(a.screen, ReviewScreen))
        combo = app.screen.review.combo
        assert combo is not None and combo.description == "AAPL 2026-12-18 180/190 call vertical"
        assert (combo.max_profit, combo.max_loss, combo.breakevens) == (D(690), D(310), (D("183.10"),))
        text = screen_text(app)
        for words in ("BUY", "AAPL-2026-12-18-180-C", "AAPL-2026-12-18-190-C", "3.10 debit", "310.00 paid",
                      "Max profit", "690.00", "Max loss", "310.00", "Break-even", "183.10", "Greeks", "passes the pre-trade checks"):
            assert words in text, words
        # the whole review is on screen, even at 80x24
        box = app.screen.query_one("#review-box")
        assert box.region.height <= size[1] and box.region.bottom <= size[1]
        assert not session.oms.orders  # nothing sent before Enter
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ReviewScreen))
        assert not session.oms.orders


async def test_sold_iron_condor_review_shows_credit_and_two_breakevens(tmp_path):
    app, session, broker = spread_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await command(pilot, "sell 2 SPY 2026-12-18 540/550/570/580 iron condor @ 2.05", lambda a: isinstance(a.screen, ReviewScreen))
        combo = app.screen.review.combo
        assert combo.breakevens == (D("547.95"), D("572.05"))
        text = screen_text(app)
        assert "2.05 credit" in text and "410.00 received" in text
        assert "547.95 · 572.05" in text and "1,590.00" in text
        assert [leg.side for leg in combo.legs] == [Side.BUY, Side.SELL, Side.SELL, Side.BUY]  # the legs as sold


async def test_bad_spread_line_stays_on_the_line_with_one_error(tmp_path):
    app, session, broker = spread_app(tmp_path)
    msgs = []
    async with app.run_test(size=(80, 24), message_hook=msgs.append) as pilot:
        await started(pilot)
        await command(pilot, "buy 1 AAPL 2026-12-18 190/180 call vertical @ 3.10",
                      lambda a: any(isinstance(m, IntentFailed) for m in msgs))
        await settle(pilot)
        [failed] = [m for m in msgs if isinstance(m, IntentFailed)]
        assert "must go up" in failed.message and "\n" not in failed.message
        assert not isinstance(app.screen, ReviewScreen) and not session.oms.orders


# --------------------------------------------------------------------------- on the paper market


def paper_app(tmp_path):
    """The workstation on the paper market's matching engine (combos fill atomically), with
    quotes the test sets."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import msgspec

    from brokers.paper.broker import SimBroker, SimConfig, SimMarket
    from workstation.api import LocalEngine
    from workstation.core.clock import SimClock
    from workstation.core.config import Settings
    from workstation.core.model import Quote
    from workstation.core.symbols import parse_symbol
    from workstation.trading.session import Session
    from workstation.ui.app import WorkstationApp
    from workstation.ui.watchlists import Watchlists

    class Scripted(SimMarket):
        def __init__(self, book):
            super().__init__(0)
            self.book = book

        def quote(self, symbol, t):
            sym = parse_symbol(symbol).symbol
            bid, ask = self.book.get(sym, (185.0, 185.02))
            return Quote(sym, t, bid, ask, bid, 1000, 1000, 0.0, bid)

        def quotes(self, symbols, t):
            return [self.quote(s, t) for s in symbols]

    book = {"AAPL-2026-12-18-180-C": (9.30, 9.50), "AAPL-2026-12-18-190-C": (6.20, 6.40), "AAPL": (185.0, 185.02)}
    clock = SimClock(datetime(2026, 12, 1, 11, 0, tzinfo=ZoneInfo("America/New_York")).timestamp())
    settings = msgspec.convert({"watchlist": ["AAPL"], "alerts": {"bell": False}}, Settings, strict=False)
    broker = SimBroker(clock, SimConfig(), Scripted(book))
    session = Session.build(settings, "paper", data_root=tmp_path / "data", clock=clock, broker=broker)
    lists = Watchlists.load(tmp_path / "data" / "watchlists.json", ["AAPL"])
    return WorkstationApp(LocalEngine(session), settings, watchlists=lists, config_path=tmp_path / "settings.toml"), session


async def test_typed_vertical_confirmed_is_one_combo_order_filled_on_paper(tmp_path):
    from workstation.core.model import OrderStatus
    from workstation.ui.panes.orders import OrdersPane

    app, session = paper_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await command(pilot, "buy 1 AAPL 2026-12-18 180/190 call vertical @ 3.30", lambda a: isinstance(a.screen, ReviewScreen))
        combo = app.screen.review.combo
        assert (combo.max_profit, combo.max_loss, combo.breakevens) == (D(670), D(330), (D("183.30"),))
        assert app.screen.review.ok, app.screen.review.reason
        assert not session.oms.orders
        await pilot.press("enter")
        await until(pilot, lambda: [o.status for o in session.oms.orders.values()] == [OrderStatus.FILLED])
        [order] = session.oms.orders.values()
        assert [leg.symbol for leg in order.legs] == ["AAPL-2026-12-18-180-C", "AAPL-2026-12-18-190-C"]
        assert order.filled_qty == 1 and order.avg_fill_price == D("3.30")  # 9.50 paid, 6.20 received
        assert [(f.symbol, f.side, f.order_id) for f in session.journal.fills()] == [
            ("AAPL-2026-12-18-180-C", Side.BUY, order.id), ("AAPL-2026-12-18-190-C", Side.SELL, order.id)]
        await pilot.press("3", "a")  # the Orders pane, every order: the spread is one row
        await until(pilot, lambda: app.query_one(OrdersPane).keys == [order.id])


async def test_legs_ticket_builds_a_spread_from_the_keyboard_and_sends_it_as_one_combo(tmp_path):
    from textual.widgets import Input

    from workstation.core.model import OrderStatus
    from workstation.ui.screens.legs import LegsScreen

    app, session = paper_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await command(pilot, "legs", lambda a: isinstance(a.screen, LegsScreen))
        screen = app.screen
        box = screen.query_one("#legs-box")
        assert box.region.right <= 80 and box.region.bottom <= 24
        leg = screen.query_one("#legs-leg", Input)
        assert app.focused is leg

        async def type_leg(text):
            leg.insert_text_at_cursor(text)
            await pilot.press("enter")
            await settle(pilot)

        await type_leg("AAPL")  # no sign
        assert "must start with + (buy) or - (sell)" in str(screen.query_one("#legs-error").content)
        leg.value = ""
        await type_leg("+AAPL")  # not a contract: one line, nothing added
        error = str(screen.query_one("#legs-error").content)
        assert "not an option or a future" in error and "\n" not in error and screen.legs == []
        assert leg.value == "+AAPL"  # kept as typed
        leg.value = ""
        await type_leg("+AAPL-2026-12-18-180-C")
        await type_leg("-MSFT-2026-12-18-190-C")  # another underlying: refused
        assert "share one underlying" in str(screen.query_one("#legs-error").content) and len(screen.legs) == 1
        leg.value = ""
        await type_leg("-AAPL-2026-12-18-200-C")
        await pilot.press("ctrl+r")  # the last leg goes
        await type_leg("-AAPL-2026-12-18-190-C")
        assert [(x.symbol, x.side) for x in screen.legs] == [("AAPL-2026-12-18-180-C", Side.BUY), ("AAPL-2026-12-18-190-C", Side.SELL)]
        assert str(screen.query_one("#legs-kind").content) == "AAPL 2026-12-18 180/190 call vertical"
        net = screen.query_one("#legs-net", Input)
        net.focus()
        net.insert_text_at_cursor("3.30")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        combo = app.screen.review.combo
        assert (combo.max_profit, combo.max_loss) == (D(670), D(330))
        await pilot.press("y")
        await until(pilot, lambda: [o.status for o in session.oms.orders.values()] == [OrderStatus.FILLED])
        [order] = session.oms.orders.values()
        assert len(order.legs) == 2 and order.avg_fill_price == D("3.30")


async def test_legs_ticket_closes_without_a_trade(tmp_path):
    from workstation.ui.screens.legs import LegsScreen

    app, session, broker = spread_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await command(pilot, "legs", lambda a: isinstance(a.screen, LegsScreen))
        await pilot.press("enter")  # no legs yet: says so, stays
        assert "no legs yet" in str(app.screen.query_one("#legs-error").content)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LegsScreen))
        assert not session.oms.orders
