"""The option chain screen, driven as a user drives it (Pilot): open it, move, switch expiry
and side, buy from a cell, see the smile; bad input is one line."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.market import InstantBroker
from tests.fakes.option_chains import EXPIRIES, ChainBroker
from tests.ui_support import START, SYMBOLS, settle, started, until
from workstation.api import LocalEngine
from workstation.core.clock import SimClock
from workstation.core.config import Settings, UISettings
from workstation.trading.session import Session
from workstation.ui.watchlists import Watchlists

NARROW, WIDE = (80, 24), (160, 45)


def chain_app(root, broker=None, symbols=SYMBOLS):
    from workstation.ui.app import WorkstationApp

    settings = Settings(watchlist=list(symbols), ui=UISettings(theme="dark"))
    broker = broker or ChainBroker(ts=START)
    session = Session.build(settings, data_root=root / "data", clock=SimClock(START), broker=broker)
    lists = Watchlists.load(root / "data" / "watchlists.json", list(settings.watchlist))
    app = WorkstationApp(LocalEngine(session), settings, watchlists=lists, config_path=root / "settings.toml", save_settings=False)
    return app, broker


async def type_command(pilot, text: str) -> None:
    await pilot.press("colon", *[{" ": "space"}.get(ch, ch) for ch in text], "enter")


def chain_screen(app):
    from workstation.ui.screens.chain import ChainScreen

    return app.screen if isinstance(app.screen, ChainScreen) else None


async def open_chain(pilot, text: str = "chain AAPL"):
    await started(pilot)
    await type_command(pilot, text)
    await until(pilot, lambda: chain_screen(pilot.app) is not None and chain_screen(pilot.app).rows, what="the chain screen")
    await settle(pilot)
    return chain_screen(pilot.app)


def cell(screen, strike: str, side: str, label: str) -> str:
    """The text of one figure of one strike's call (``side="c"``) or put (``"p"``) as the table holds it."""
    table = screen.table
    i = next(n for n, col in enumerate(table.columns) if col.key.startswith(side + ".") and col.label == label)
    return table.row(strike).cells[i][0]


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_chain_command_opens_strikes_around_the_money_with_calls_left_and_puts_right(tmp_path, size):
    app, _ = chain_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        screen = await open_chain(pilot, "chain aapl")
        table = screen.table
        assert table.keys == [str(Decimal(135 + 5 * i)) for i in range(21)]  # every listed strike, lowest first
        assert table.selected_key == "185"  # the cursor starts at the money (AAPL at 185)
        assert "▸185.00◂" in [c[0] for c in table.row("185").cells]  # the row at the money is marked
        assert "AAPL" in screen.title_line and "CALLS" in screen.title_line and "AAPL-2026-10-16-185-C" in screen.title_line
        shown = table.shown_figures()
        assert {"Bid", "Ask", "IV", "Delta"} <= set(shown)
        if size == NARROW:
            assert "Vol" not in shown and "OI" not in shown  # the least useful go first, from both sides
        else:
            assert shown == ["Bid", "Ask", "IV", "Delta", "Last", "Gamma", "Theta", "Vega", "OI", "Vol"]
        # calls mirrored on the left (bid next to the strike), puts on the right
        labels = [c.label for c, _, _ in table._fit(table._width)]
        strike_at = labels.index("Strike")
        assert labels[strike_at - 1] == "Bid" and labels[strike_at + 1] == "Bid"
        assert cell(screen, "185", "c", "IV").endswith("%") and float(cell(screen, "185", "c", "Delta")) == pytest.approx(0.55, abs=0.1)
        assert float(cell(screen, "185", "p", "Delta")) < 0


async def test_unknown_iv_and_greeks_are_blank_not_zero(tmp_path):
    app, _ = chain_app(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_chain(pilot)
        # the 235 call has no bid (far out of the money): no IV, no Greeks, its ask still shows
        assert cell(screen, "235", "c", "Bid") == "0.00"
        assert cell(screen, "235", "c", "IV") == "" and cell(screen, "235", "c", "Delta") == "" and cell(screen, "235", "c", "Vega") == ""
        assert cell(screen, "235", "c", "Ask") == "0.05"
        assert cell(screen, "185", "c", "IV") != "" and cell(screen, "185", "p", "Vega") != ""  # the money has them


async def test_o_on_a_watchlist_row_opens_its_chain(tmp_path):
    app, broker = chain_app(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await started(pilot)
        await pilot.press("1", "j")  # MSFT
        await pilot.press("o")
        await until(pilot, lambda: chain_screen(app) is not None and chain_screen(app).rows, what="MSFT's chain")
        assert chain_screen(app).underlying == "MSFT" and broker.asked[-1][0] == "MSFT"
        await pilot.press("escape")
        await until(pilot, lambda: chain_screen(app) is None, what="the chain closed")
        assert app.focused is app.main.query_one("#watchlist")


async def test_o_on_an_option_row_opens_its_underlying_at_its_expiry(tmp_path):
    app, broker = chain_app(tmp_path, symbols=["AAPL-2026-11-20-190-P", "AAPL"])
    async with app.run_test(size=NARROW) as pilot:
        await started(pilot)
        await pilot.press("1", "o")
        await until(pilot, lambda: chain_screen(app) is not None and chain_screen(app).rows, what="AAPL's chain")
        screen = chain_screen(app)
        assert screen.underlying == "AAPL" and screen.chain.expiry == EXPIRIES[1]
        assert broker.asked[-1] == ("AAPL", EXPIRIES[1])


async def test_expiries_are_tabs_changed_with_arrows_and_brackets(tmp_path):
    app, broker = chain_app(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        screen = await open_chain(pilot)
        tabs = str(screen.query_one("#chain-tabs").render())
        assert "[Oct 16]" in tabs and "Nov 20" in tabs and "Dec 18" in tabs
        await pilot.press("j", "j")  # two strikes up: 195
        await pilot.press("right")
        await until(pilot, lambda: screen.chain.expiry == EXPIRIES[1], what="the second expiry")
        assert (("AAPL", EXPIRIES[1])) in broker.asked
        assert screen.table.selected_key == "195"  # the cursor keeps its strike
        assert "[Nov 20]" in str(screen.query_one("#chain-tabs").render())
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: screen.chain.expiry == EXPIRIES[2], what="the third expiry")
        await pilot.press("right")  # past the last: stays
        await settle(pilot)
        assert screen.expiry == EXPIRIES[2]
        await pilot.press("left_square_bracket", "left")
        await until(pilot, lambda: screen.chain.expiry == EXPIRIES[0], what="back to the first")
        assert "AAPL-2026-10-16-195-C" in screen.title_line


async def test_b_on_a_put_opens_the_ticket_for_that_contract_at_its_ask(tmp_path):
    app, _ = chain_app(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        screen = await open_chain(pilot)
        await pilot.press("k", "space")  # one strike down (180), the put side
        await settle(pilot)
        assert "PUTS" in screen.title_line and screen.selected_contract().symbol == "AAPL-2026-10-16-180-P"
        ask = screen.selected_contract().ask
        await pilot.press("b")
        await until(pilot, lambda: chain_screen(app) is None, what="the chain closed")
        ticket = app.main.query_one("#ticket")
        assert ticket.value("symbol") == "AAPL-2026-10-16-180-P"
        assert ticket.value("side") == "buy" and ticket.value("type") == "limit"
        assert Decimal(ticket.value("limit")) == Decimal(repr(ask))
        assert ticket.value("qty") == "1"
        assert ticket.has_focus_within


async def test_s_on_a_call_sells_at_its_bid_and_enter_reviews_it(tmp_path):
    app, _ = chain_app(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_chain(pilot)
        bid = screen.selected_contract().bid
        await pilot.press("s")
        await until(pilot, lambda: chain_screen(app) is None, what="the chain closed")
        ticket = app.main.query_one("#ticket")
        assert ticket.value("side") == "sell" and Decimal(ticket.value("limit")) == Decimal(repr(bid))
        await pilot.press("enter")
        from workstation.ui.screens.review import ReviewScreen

        await until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="the review")
        assert app.screen.request.symbol == "AAPL-2026-10-16-185-C" and app.screen.request.qty == 1


async def test_the_screen_follows_the_quotes_without_a_request_pileup(tmp_path):
    app, broker = chain_app(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        screen = await open_chain(pilot)
        before = cell(screen, "185", "c", "Bid")
        broker.move("AAPL", 190.0)  # the underlying moves: the calls get dearer
        await until(pilot, lambda: cell(screen, "185", "c", "Bid") != before, what="the chain refreshed")
        assert float(cell(screen, "185", "c", "Bid")) > float(before)
        # a slow engine: one request at a time, however long the answers take
        engine = app.engine
        real = engine.option_chain
        running = []
        peak = []

        async def slow(*args, **kw):
            running.append(1)
            peak.append(len(running))
            await asyncio.sleep(0.6)
            try:
                return await real(*args, **kw)
            finally:
                running.pop()

        engine.option_chain = slow
        fetched = screen.fetches
        await until(pilot, lambda: screen.fetches >= fetched + 2, timeout=5, what="two slow answers")
        assert max(peak) == 1


async def test_i_draws_the_iv_smile_of_the_expiry(tmp_path):
    from workstation.ui.screens.chain import SmilePlot

    app, _ = chain_app(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_chain(pilot)
        smile = screen.query_one(SmilePlot)
        assert not smile.display
        await pilot.press("i")
        await until(pilot, lambda: smile.display and smile.built >= 1, what="the smile drawn")
        ck, civ, pk, piv = smile.points
        assert len(ck) == sum(1 for r in screen.rows if r.call is not None and r.call.iv is not None) and len(pk) >= 10
        assert min(civ) == pytest.approx(min(civ[len(civ) // 2 - 3 : len(civ) // 2 + 3]), abs=2)  # lowest near the money
        text = smile.render().plain
        assert "IV smile" in text and "calls" in text and "puts" in text
        await pilot.press("i")
        await settle(pilot)
        assert not smile.display


@pytest.mark.parametrize(
    ("command", "needle"),
    [
        ("chain BTC/USD", "BTC/USD lists no options"),
        ("chain AAPL 2026-10-17", "no expiry 2026-10-17"),
        ("chain AAPL 2026-13-01", "malformed expiry"),
        ("chain AAPL!", "malformed symbol"),
    ],
)
async def test_a_bad_chain_command_is_one_line_under_the_command_line(tmp_path, command, needle):
    app, _ = chain_app(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await started(pilot)
        await type_command(pilot, command)
        error = app.main.query_one("#cmd-error")
        await until(pilot, lambda: needle in str(error.render()), what=needle)
        assert chain_screen(app) is None
        assert app.main.query_one("#cmdline").value.strip() == command


async def test_a_broker_without_chains_says_so(tmp_path):
    app, _ = chain_app(tmp_path, InstantBroker(ts=START))
    async with app.run_test(size=NARROW) as pilot:
        await started(pilot)
        await pilot.press("1", "o")
        error_seen = []
        await until(pilot, lambda: any("lists no option chains" in str(n.message) for n in app._notifications) or error_seen, what="the refusal")
        assert chain_screen(app) is None


async def test_help_lists_the_chain_keys(tmp_path):
    app, _ = chain_app(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await started(pilot)
        from workstation.ui.help import sections

        titles = {title: rows for title, rows in sections(app)}
        chain_rows = next(rows for title, rows in titles.items() if title.startswith("Option chain"))
        keys = {k for k, _, _ in chain_rows}
        assert {"b", "s", "i", "Esc Ctrl+G"} <= keys
        assert any(k == "o" for k, _, _ in titles["Everywhere"])


# --------------------------------------------------------------------------- the grammar (pure)


@settings(max_examples=300, deadline=None)
@given(
    symbol=st.sampled_from(["AAPL", "spy", "Msft", "SPX"]),
    expiry=st.one_of(st.none(), st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))),
    strikes=st.one_of(st.none(), st.integers(min_value=1, max_value=1000)),
    swap=st.booleans(),
)
def test_chain_command_reads_symbol_expiry_and_strikes_in_either_order(symbol, expiry, strikes, swap):
    from workstation.ui.commands import ChainCommand, parse

    extra = [w for w in (expiry.isoformat() if expiry else None, str(strikes) if strikes else None) if w]
    if swap:
        extra.reverse()
    assert parse(" ".join([":chain", symbol, *extra])) == ChainCommand(symbol.upper(), expiry, strikes)


@settings(max_examples=300, deadline=None)
@given(rest=st.lists(st.text(min_size=1, max_size=12).filter(lambda w: not any(c.isspace() for c in w)), max_size=4))
def test_any_chain_line_is_a_command_or_one_readable_line(rest):
    from workstation.ui.commands import ChainCommand, ParseError, parse

    try:
        cmd = parse(" ".join(["chain", *rest]))
    except ParseError as exc:
        assert "\n" not in str(exc) and str(exc)
    else:
        assert isinstance(cmd, ChainCommand) and (cmd.strikes is None or 1 <= cmd.strikes <= 1000)
