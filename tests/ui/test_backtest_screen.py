"""Pilot test: the Backtest screen runs a strategy on a file in a worker and shows equity and metrics."""

from __future__ import annotations

from pathlib import Path

from tests.ui_support import make_app, started, until

ORCL = str(Path(__file__).parents[1] / "data" / "orcl-1995-2014.txt")
RUN_S = 60.0  # how long a backtest of the file may take on a slow machine


async def test_shift_b_opens_the_backtest_screen_which_runs_and_shows_the_results(tmp_path: Path) -> None:
    from textual.widgets import Input, ProgressBar, Select

    from workstation.ui.screens.backtest import BacktestScreen

    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("B")
        await until(pilot, lambda: isinstance(app.screen, BacktestScreen))
        screen = app.screen
        assert isinstance(screen, BacktestScreen)
        screen.query_one("#bt-strategy", Select).value = "ma_crossover"
        screen.query_one("#bt-data", Input).value = ORCL
        screen.query_one("#bt-params", Input).value = "fast=10 slow=30 qty=100"
        await pilot.press("ctrl+r")
        await until(pilot, lambda: screen.result is not None, timeout=RUN_S)
        assert screen.result is not None
        assert str(screen.result.final_equity.quantize(1)) == "102646"
        assert screen.query_one("#bt-progress", ProgressBar).percentage == 1.0
        assert "sharpe: " in screen.metrics_text and "max drawdown: " in screen.metrics_text
        assert "195 fills" in screen.status_text
        assert session.portfolio.fills == 0  # the backtest never touched the paper account
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, BacktestScreen))
        assert not isinstance(app.screen, BacktestScreen)


async def test_bad_input_shows_on_the_status_line(tmp_path: Path) -> None:
    from textual.widgets import Input, Static

    app, _, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("B")
        await until(pilot, lambda: app.screen.query_one("#bt-data", Input))
        screen = app.screen
        screen.query_one("#bt-data", Input).value = "/no/such/file.csv"
        await pilot.press("ctrl+r")
        status = screen.query_one("#bt-status", Static)
        await until(pilot, lambda: "error" in screen.status_text, timeout=RUN_S)
        assert "error: /no/such/file.csv" in screen.status_text
        assert status.has_class("error")
