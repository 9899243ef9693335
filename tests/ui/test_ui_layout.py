"""What a trader sees at 80x24 and 160x45: whole columns, readable small screens, a visible filter.

Columns are dropped whole by priority and free text wraps: no cell ever ends in ``…``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from tests.ui_support import make_app, settle, started, until
from workstation.api import RiskRow
from workstation.core.model import Quote
from workstation.strategies.desk import ParamRow, StrategyRow

LONG = "AAPL fast SMA crossed above the slow SMA: bought 100 at 201.14 after the cancel by the kill switch"


def lines(table) -> list[str]:
    return ["".join(seg.text for seg in table.render_line(y)) for y in range(table.size.height)]


class Harness(App[None]):
    """One pane filling the screen (80x24) or 40 columns of it (its width in the 160x45 grid)."""

    def __init__(self, pane, width: int | None) -> None:
        super().__init__()
        self.pane, self.width = pane, width

    def compose(self) -> ComposeResult:
        if self.width:
            self.pane.styles.width = self.width
        yield self.pane


def fill(pane) -> None:
    from workstation.ui.panes.feed import FeedPane
    from workstation.ui.panes.risk import RiskPane
    from workstation.ui.panes.strategies import StrategiesPane
    from workstation.ui.panes.watchlist import WatchlistPane

    if isinstance(pane, StrategiesPane):
        pane.show([StrategyRow(name="ma_crossover_aapl_msft", plugin="ma_crossover", state="running", symbols=("AAPL", "MSFT", "NVDA"),
                               allocation="25%", pnl=Decimal("-12345.67"), trades=1234, message=LONG)])
    elif isinstance(pane, RiskPane):
        pane.show((
            RiskRow(name="largest position (qty)", used=Decimal("1000"), limit=Decimal("5000"), state="ok"),
            RiskRow(name="symbol concentration", used=Decimal("20.11"), limit=Decimal("25"), unit="%", state="near"),
            RiskRow(name="gross exposure", used=Decimal("40154.09"), limit=Decimal("1000000"), unit="$", state="ok"),
        ))
    elif isinstance(pane, WatchlistPane):
        pane.set_symbols(["BTC/USD", "EUR/USD"], {"BTC/USD": 2, "EUR/USD": 5})
        pane.on_quote(Quote("BTC/USD", bid=112323.05, ask=112334.29, last=112326.37, ts=0.0, volume=6200.0, prev_close=113890.67))
        pane.on_quote(Quote("EUR/USD", bid=0.99859, ask=0.99865, last=0.99859, ts=0.0, volume=3.2e10, prev_close=0.99745))
        pane.repaint(0.0)
    elif isinstance(pane, FeedPane):
        pane.add(0.0, "warning", LONG)


@pytest.mark.parametrize("kind", ["strategies", "risk", "watchlist", "log"])
@pytest.mark.parametrize("size,width", [((80, 24), None), ((160, 45), 40)])
async def test_no_cell_is_cut_with_an_ellipsis(kind: str, size, width) -> None:
    from workstation.ui.panes.feed import FeedPane
    from workstation.ui.panes.risk import RiskPane
    from workstation.ui.panes.strategies import StrategiesPane
    from workstation.ui.panes.watchlist import WatchlistPane

    pane = {"strategies": StrategiesPane, "risk": RiskPane, "watchlist": WatchlistPane, "log": FeedPane}[kind]()
    app = Harness(pane, width)
    async with app.run_test(size=size) as pilot:
        fill(pane)
        await pilot.pause()
        text = lines(pane)
        assert not any("…" in line for line in text), "\n".join(text)
        shown = {c.key for c, _, _ in pane._fit(pane.size.width)}
        for i, col in enumerate(pane.columns):  # every column shown holds its values whole
            if col.key in shown and not col.flexible:
                for row in pane._rows:
                    assert row.cells[i][0] in "\n".join(text)
        if kind in ("strategies", "log") and any(c.flexible for c in pane.columns if c.key in shown):
            words = " ".join(" ".join(text).split())
            assert LONG in words  # the message wraps onto more lines, every word of it on screen
        if kind == "risk":
            assert "Limit" in text[0] and "5,000" in "\n".join(text)  # Limit kept once positions exist


async def test_watchlist_at_80x24_drops_the_sparkline_before_ask_and_shows_eight_rows(tmp_path: Path) -> None:
    from workstation.ui.panes.watchlist import WatchlistPane

    pane = WatchlistPane()
    async with Harness(pane, None).run_test(size=(80, 24)) as pilot:
        fill(pane)  # BTC/USD at 112,326.37: not every column fits in 80
        await pilot.pause()
        header = lines(pane)[0]
        assert "Ask" in header and "Bid" in header and "Trend" not in header
    app, _, _ = make_app(tmp_path, symbols=["AAPL", "MSFT", "NVDA", "TSLA", "SPY", "QQQ", "AMZN", "GOOGL", "META", "IBM"])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        wl = app.query_one(WatchlistPane)
        assert wl.size.height - 1 >= 8  # rows below the header (6 before)


async def test_a_notification_at_80x24_takes_two_lines_at_most(tmp_path: Path) -> None:
    from textual.widgets._toast import Toast

    app, _, _ = make_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await started(pilot)
        app.notify("order 12 rejected: buying power 1,234.56 is less than the order's 20,114.00 " * 2, title="Order", severity="error")
        await until(pilot, lambda: list(app.query(Toast))[0].region.height, timeout=10)
        toasts = list(app.query(Toast))
        assert toasts and all(t.region.height <= 2 for t in toasts)


async def test_the_parameter_error_is_on_screen_at_80x24(tmp_path: Path) -> None:
    from textual.widgets import Static

    from workstation.ui.screens.strategy_params import StrategyParamsScreen

    rows = [ParamRow(name=f"p{i}", value=str(i), kind="a whole number", range="1..100", description="a parameter") for i in range(8)]
    app, _, _ = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        app.push_screen(StrategyParamsScreen("many", rows, lambda raw: "p0 must be at least 1, got 0"))
        await until(pilot, lambda: isinstance(app.screen, StrategyParamsScreen))
        await pilot.press("enter")
        await until(pilot, lambda: "p0 must be at least 1" in str(app.screen.query_one("#params-error", Static).render()))
        await settle(pilot)  # laid out: where the error line sits
        error = app.screen.query_one("#params-error", Static)
        assert error.display and error.region.height >= 1
        assert app.screen.region.contains_region(error.region)
        assert "p0 must be at least 1" in str(error.render())


async def test_the_filter_shows_in_the_border_esc_clears_it_and_reopening_starts_empty(tmp_path: Path) -> None:
    from workstation.ui.panes.cmdline import CommandLine
    from workstation.ui.panes.watchlist import WatchlistPane

    app, _, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        wl = app.query_one(WatchlistPane)
        assert wl.border_subtitle == "default"  # not "default (1 lists: [ ])"
        await pilot.press("slash", "U", "S", "enter")
        await until(pilot, lambda: wl.keys == ["BTC/USD", "EUR/USD"] and wl.border_subtitle.startswith("filter: us"))
        assert wl.border_subtitle.startswith("filter: us")
        assert wl.keys == ["BTC/USD", "EUR/USD"]
        await pilot.press("slash")
        await until(pilot, lambda: app.focused is app.query_one(CommandLine))
        assert app.query_one(CommandLine).value == ""
        await pilot.press("escape")
        await until(pilot, lambda: len(wl.keys) == 7)
        assert "filter" not in wl.border_subtitle and len(wl.keys) == 7


async def test_the_backtest_params_placeholder_is_the_chosen_strategys_own(tmp_path: Path) -> None:
    from textual.widgets import Input, Select

    from workstation.ui.screens.backtest import BacktestScreen

    app, _, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await pilot.press("B")
        await until(pilot, lambda: isinstance(app.screen, BacktestScreen))
        screen = app.screen
        assert isinstance(screen, BacktestScreen)
        params = screen.query_one("#bt-params", Input)
        screen.query_one("#bt-strategy", Select).value = "rsi_reversion"
        await until(pilot, lambda: params.placeholder.startswith("period=14 oversold=30.0"))
        assert params.placeholder.startswith("period=14 oversold=30.0")
        screen.query_one("#bt-strategy", Select).value = "ma_crossover"
        await until(pilot, lambda: params.placeholder.startswith("fast=10 slow=30 qty=100"))
        assert params.placeholder.startswith("fast=10 slow=30 qty=100")
