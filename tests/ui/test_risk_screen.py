"""The Risk screen, driven as a user drives it (Pilot, at 80x24 and 160x45): ``p`` on the Risk
pane or ``:risk`` opens it on a paper book with a year of daily bars; keys 1-4 switch tabs;
the decomposition lists every position and its components add up to the VaR; the correlation
grid prints the symbols and their numbers; the stress tab has a row per scenario; Escape
closes; a refresh that fails says why in one line and keeps the last figures; an empty book
says so calmly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.fakes.daily_history import HistoryBroker
from tests.ui_support import START, settle, started, until
from workstation.api import LocalEngine
from workstation.core.clock import SimClock
from workstation.core.config import Settings, UISettings
from workstation.core.model import IntentError, OrderRequest, Side
from workstation.trading.session import Session
from workstation.ui.watchlists import Watchlists

NARROW, WIDE = (80, 24), (160, 45)
SYMBOLS = ["AAPL", "MSFT", "NVDA", "BTC/USD", "SPY"]
BOOK = (("AAPL", Side.BUY, "10"), ("MSFT", Side.BUY, "5"), ("NVDA", Side.SELL, "20"), ("BTC/USD", Side.BUY, "0.1"))


class FailingEngine(LocalEngine):
    """A local engine whose risk report can be made to fail (a broker gone, an engine busy)."""

    fail: str = ""

    async def risk_report(self, methods=None, lookback=250, decay=None):
        if self.fail:
            raise IntentError(self.fail)
        return await super().risk_report(methods, lookback, decay)


def risk_app(root, *, symbols=SYMBOLS, prices=None):
    from workstation.ui.app import WorkstationApp

    settings = Settings(watchlist=list(symbols), ui=UISettings(theme="dark", confirm_orders=False))
    broker = HistoryBroker(prices, ts=START)
    session = Session.build(settings, data_root=root / "data", clock=SimClock(START), broker=broker)
    engine = FailingEngine(session)
    lists = Watchlists.load(root / "data" / "watchlists.json", list(settings.watchlist))
    app = WorkstationApp(engine, settings, watchlists=lists, config_path=root / "settings.toml", save_settings=False)
    return app, session, engine


async def book(pilot, session, orders=BOOK) -> None:
    await started(pilot)
    for sym, side, qty in orders:
        await pilot.app.engine.submit(OrderRequest(symbol=sym, side=side, qty=Decimal(qty)))
    await session.oms.drain()
    await until(pilot, lambda: len(session.journal.fills()) == len(orders), what="the book filled")


def risk_screen(app):
    from workstation.ui.screens.risk import RiskScreen

    return app.screen if isinstance(app.screen, RiskScreen) else None


async def open_from_pane(pilot):
    await pilot.press("5", "p")
    await until(pilot, lambda: risk_screen(pilot.app) is not None and risk_screen(pilot.app).fetches >= 1, what="the Risk screen with a report")
    await settle(pilot)
    return risk_screen(pilot.app)


async def type_command(pilot, text: str) -> None:
    await pilot.press("colon", *[{" ": "space"}.get(ch, ch) for ch in text], "enter")


def cell(table, key: str, column: str) -> str:
    i = next(n for n, c in enumerate(table.columns) if c.key == column)
    return table.row(key).cells[i][0]


def shown(widget) -> str:
    """The text a Static shows now."""
    return str(widget.render())


def lines(table) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_p_on_the_risk_pane_opens_the_report_and_the_tabs_switch_by_key(tmp_path, size):
    app, session, engine = risk_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await book(pilot, session)
        screen = await open_from_pane(pilot)
        report = screen.report
        assert report is not None and {p.symbol for p in report.risk.positions} == {"AAPL", "MSFT", "NVDA", "BTC/USD"}
        assert "Portfolio risk" in screen.title_line and "250 days" in screen.title_line and "UTC" in screen.title_line
        assert ("equal weights" if size == WIDE else "equal wts") in screen.title_line and "lookback 250 days" in screen.status_line
        assert len(screen.title_line) <= size[0] - 2 and len(screen.status_line) <= size[0] - 2  # one whole line each
        assert screen.tab == "heatmap"
        for key, tab in (("2", "decomposition"), ("3", "correlation"), ("4", "stress"), ("1", "heatmap")):
            await pilot.press(key)
            await settle(pilot)
            assert screen.tab == tab
            assert pilot.app.focused is not None and pilot.app.focused.screen is screen
        await pilot.press("escape")
        await until(pilot, lambda: risk_screen(pilot.app) is None, what="the screen closed")
        assert pilot.app.focused is not None  # back on the workstation with a focus


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_the_heatmap_shows_the_positions_and_enter_puts_the_selected_one_in_the_ticket(tmp_path, size):
    from workstation.ui.heatmap import Heatmap
    from workstation.ui.panes.ticket import TicketPane

    app, session, engine = risk_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await book(pilot, session)
        screen = await open_from_pane(pilot)
        heat = screen.query_one(Heatmap)
        assert pilot.app.focused is heat
        assert set(heat.symbols) == {"AAPL", "MSFT", "NVDA", "BTC/USD"}
        first = heat.selected
        line = shown(screen.query_one("#risk-heat-line"))
        assert line.startswith(first) and "exposure" in line and "VaR contribution" in line and "beta" in line and "day" in line
        for key in ("l", "j", "h", "k", "right", "down"):  # move until another tile is selected
            await pilot.press(key)
            await settle(pilot)
            if heat.selected != first:
                break
        chosen = heat.selected
        assert chosen != first and shown(screen.query_one("#risk-heat-line")).startswith(chosen)
        await pilot.press("enter")
        await until(pilot, lambda: risk_screen(pilot.app) is None, what="the screen closed")
        ticket = pilot.app.main.query_one(TicketPane)
        qty = {"AAPL": "10", "MSFT": "5", "NVDA": "20", "BTC/USD": "0.1"}[chosen]
        assert ticket.value("symbol") == chosen and ticket.value("qty") == qty
        assert ticket.value("side") == ("buy" if chosen == "NVDA" else "sell")  # the side that reduces it
        assert ticket.has_focus_within


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_the_decomposition_lists_every_position_and_its_components_sum_to_the_var(tmp_path, size):
    app, session, engine = risk_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await book(pilot, session)
        screen = await open_from_pane(pilot)
        await pilot.press("2")
        await settle(pilot)
        table = screen.query_one("#risk-decomposition")
        keys = table.keys
        assert [k for k in keys if k.startswith("pos:")] and {k[4:] for k in keys if k.startswith("pos:")} == {"AAPL", "MSFT", "NVDA", "BTC/USD"}
        r = screen.report.risk
        var = r.figure("historical", 0.99, 1).var
        assert cell(table, "total", "component") == f"{var:,.2f}"  # the components add up to the 99% 1-day VaR
        assert cell(table, "total", "share") == "100%"
        assert "h:sector" in keys and "h:asset_class" in keys and "sector:Information Technology" in keys
        headline = shown(screen.query_one("#risk-headline"))
        for m in ("historical 1d", "historical 10d", "parametric 1d", "full 10d"):
            assert m in headline
        assert f"{var:,.2f}" in headline
        summary = shown(screen.query_one("#risk-summary"))
        assert "beta to SPY" in summary and "diversification ratio" in summary
        text = "\n".join(lines(table))
        for col in ("Position", "Exposure", "Comp. VaR", "% VaR", "Beta"):
            assert col in text  # nothing that matters dropped, even at 80 columns
        for sym in ("AAPL", "MSFT", "NVDA"):
            assert sym in text
        await pilot.press("m")  # the parametric method's components, which also add up
        await settle(pilot)
        assert screen.method == "parametric"
        assert cell(table, "total", "component") == f"{r.figure('parametric', 0.99, 1).var:,.2f}"
        assert "by parametric 99% 1d" in shown(screen.query_one("#risk-summary"))


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_the_correlation_grid_prints_the_symbols_and_their_numbers(tmp_path, size):
    app, session, engine = risk_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await book(pilot, session)
        screen = await open_from_pane(pilot)
        await pilot.press("3")
        await settle(pilot)
        text = shown(screen.query_one("#risk-correlation"))
        r = screen.report.risk
        for sym in ("AAPL", "MSFT", "NVDA"):
            assert sym in text
        i, j = r.correlation_symbols.index("AAPL"), r.correlation_symbols.index("MSFT")
        assert f"{r.correlation[i][j]:+.2f}".lstrip("+") in text  # two decimals, always printed
        assert " 1.00" in text  # the diagonal
        assert "bands:" in text


async def test_at_80x24_the_correlation_grid_shows_what_fits_and_says_how_many_more(tmp_path):
    symbols = ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "GOOGL", "META", "JPM", "XOM", "JNJ", "PG", "KO", "WMT", "BAC", "CVX", "PFE", "SPY"]
    app, session, engine = risk_app(tmp_path, symbols=symbols, prices={s: 100.0 + 10 * i for i, s in enumerate(symbols)})
    async with app.run_test(size=NARROW) as pilot:
        await book(pilot, session, [(s, Side.BUY, str(i + 1)) for i, s in enumerate(symbols[:-1])])
        screen = await open_from_pane(pilot)
        await pilot.press("3")
        await settle(pilot)
        grid = screen.query_one("#risk-correlation")
        text = shown(grid)
        assert "more (largest exposures shown)" in text
        assert max(len(line) for line in text.splitlines()) <= grid.size.width  # no line cut at the edge


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_the_stress_tab_has_a_row_per_scenario_and_the_selected_ones_worst_positions(tmp_path, size):
    app, session, engine = risk_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await book(pilot, session)
        screen = await open_from_pane(pilot)
        await pilot.press("4")
        await settle(pilot)
        table = screen.query_one("#risk-stress")
        report = screen.report
        assert len(table.keys) == len(report.stress) >= 5
        first = report.stress[0]
        assert cell(table, "s0", "name") == "equities -10%"
        assert cell(table, "s0", "pnl") == f"{first.pnl:+,.2f}"
        detail = shown(screen.query_one("#risk-stress-detail"))
        assert "equities -10%" in detail and "worst: MSFT" in detail and "by sector:" in detail
        await pilot.press("j")
        await settle(pilot)
        assert report.stress[1].scenario in shown(screen.query_one("#risk-stress-detail"))
        text = "\n".join(lines(table))
        assert "P&L" in text and "% equity" in text and "equities -10%" in text


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_the_risk_command_opens_the_screen_and_risk_with_a_word_is_one_line(tmp_path, size):
    app, session, engine = risk_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await book(pilot, session)
        await type_command(pilot, "risk show")
        await settle(pilot)
        assert risk_screen(pilot.app) is None
        assert "usage: risk set NAME VALUE" in str(pilot.app.main.query_one("#cmd-error").render())
        await pilot.press("escape")
        await type_command(pilot, "risk")
        await until(pilot, lambda: risk_screen(pilot.app) is not None and risk_screen(pilot.app).fetches >= 1, what="the Risk screen")
        await pilot.press("escape")
        await until(pilot, lambda: risk_screen(pilot.app) is None, what="the screen closed")


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_a_failing_refresh_shows_its_reason_and_keeps_the_last_figures(tmp_path, size):
    app, session, engine = risk_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await book(pilot, session)
        screen = await open_from_pane(pilot)
        good = screen.report
        engine.fail = "the broker's daily bars are not available right now"
        await pilot.press("r")
        await until(pilot, lambda: screen.error != "", what="the refresh failed")
        await settle(pilot)
        assert screen.report is good  # the last good figures stay
        assert screen.status_line.startswith("refresh failed: the broker's daily bars are not available right now")
        assert "figures of" in screen.status_line and "UTC" in screen.status_line
        assert "Traceback" not in screen.status_line
        await pilot.press("2")
        await settle(pilot)
        assert screen.query_one("#risk-decomposition").row("total") is not None  # figures still shown
        engine.fail = ""
        await pilot.press("r")
        await until(pilot, lambda: screen.error == "" and screen.fetches >= 2, what="the refresh recovered")
        await settle(pilot)
        assert not screen.status_line.startswith("refresh failed")


async def test_an_unexpected_error_is_one_line_too(tmp_path):
    app, session, engine = risk_app(tmp_path)

    async def broken(*args, **kw):
        raise ConnectionResetError("the engine went away")

    async with app.run_test(size=NARROW) as pilot:
        await book(pilot, session)
        engine.risk_report = broken  # type: ignore[method-assign]
        await pilot.press("5", "p")
        await until(pilot, lambda: risk_screen(pilot.app) is not None and risk_screen(pilot.app).error, what="the error")
        await settle(pilot)
        screen = risk_screen(pilot.app)
        assert screen.status_line == "refresh failed: ConnectionResetError: the engine went away"
        assert "the engine went away" in shown(screen.query_one("#risk-empty"))


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_an_empty_book_says_no_open_positions_calmly(tmp_path, size):
    app, session, engine = risk_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await pilot.press("5", "p")
        await until(pilot, lambda: risk_screen(pilot.app) is not None and risk_screen(pilot.app).error, what="the answer")
        await settle(pilot)
        screen = risk_screen(pilot.app)
        assert screen.report is None and screen.status_line == "no open positions"
        assert "no open positions: nothing at risk" in shown(screen.query_one("#risk-empty"))
        assert screen.query_one("#risk-empty").display and not screen.query_one("#risk-tabs").display


async def test_the_help_screen_lists_the_risk_screen_and_its_keys(tmp_path):
    app, session, engine = risk_app(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await started(pilot)
        from workstation.ui.help import sections

        found = dict(sections(pilot.app))
        assert any(desc.startswith("The Risk screen") and keys == "p" for keys, desc, _ in found["Risk"])
        screen_keys = found["Risk screen (:risk, or p on the Risk pane)"]
        assert {keys for keys, _, _ in screen_keys} >= {"Esc Ctrl+G", "1", "2", "3", "4", "m", "r"}


async def test_a_face_attached_through_the_socket_shows_the_owning_engines_report(tmp_path):
    from tests.serve_support import short_socket
    from workstation.serve.remote import RemoteEngine
    from workstation.serve.server import EngineServer
    from workstation.ui.app import WorkstationApp

    session = Session.build(Settings(watchlist=list(SYMBOLS)), data_root=tmp_path / "data", clock=SimClock(START), broker=HistoryBroker(ts=START))
    owner = LocalEngine(session, source="engine")
    server = EngineServer(owner, session, account_hz=0)
    await owner.start(SYMBOLS)
    path = short_socket(tmp_path)
    await server.listen_unix(path)
    try:
        for sym, side, qty in BOOK:
            await owner.submit(OrderRequest(symbol=sym, side=side, qty=Decimal(qty)))
        await session.oms.drain()
        settings = Settings(watchlist=list(SYMBOLS), ui=UISettings(theme="dark", confirm_orders=False))
        app = WorkstationApp(RemoteEngine(path, kind="tui"), settings, watchlists=Watchlists.load(tmp_path / "wl.json", list(SYMBOLS)), save_settings=False)
        async with app.run_test(size=NARROW) as pilot:
            await started(pilot)
            screen = await open_from_pane(pilot)
            assert {p.symbol for p in screen.report.risk.positions} == {"AAPL", "MSFT", "NVDA", "BTC/USD"}
            local = await owner.risk_report()
            await pilot.press("2")
            await settle(pilot)
            total = cell(screen.query_one("#risk-decomposition"), "total", "component")
            assert total == f"{local.risk.figure('historical', 0.99, 1).var:,.2f}"
            await pilot.press("escape")
            await until(pilot, lambda: risk_screen(pilot.app) is None, what="the screen closed")
    finally:
        await server.close()
        await owner.stop()
