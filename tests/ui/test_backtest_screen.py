"""Pilot test: the Backtest screen runs a strategy on a file in a worker and shows equity and metrics."""

from __future__ import annotations

from pathlib import Path

from tests.ui_support import make_app, settle

ORCL = str(Path(__file__).parents[1] / "data" / "orcl-1995-2014.txt")


async def _wait(pilot, screen, attr: str, tries: int = 1200) -> None:
    for _ in range(tries):
        await pilot.pause(0.05)
        if getattr(screen, attr):
            return


async def test_shift_b_opens_the_backtest_screen_which_runs_and_shows_the_results(tmp_path: Path) -> None:
    from textual.widgets import Input, ProgressBar, Select

    from workstation.ui.screens.backtest import BacktestScreen

    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("B")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BacktestScreen)
        screen.query_one("#bt-strategy", Select).value = "ma_crossover"
        screen.query_one("#bt-data", Input).value = ORCL
        screen.query_one("#bt-params", Input).value = "fast=10 slow=30 qty=100"
        await pilot.press("ctrl+r")
        await _wait(pilot, screen, "result")
        assert screen.result is not None
        assert str(screen.result.final_equity.quantize(1)) == "102646"
        assert screen.query_one("#bt-progress", ProgressBar).percentage == 1.0
        assert "sharpe: " in screen.metrics_text and "max drawdown: " in screen.metrics_text
        assert "195 fills" in screen.status_text
        assert session.portfolio.fills == 0  # the backtest never touched the paper account
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, BacktestScreen)


async def test_bad_input_shows_on_the_status_line(tmp_path: Path) -> None:
    from textual.widgets import Input, Static

    app, _, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("B")
        await settle(pilot)
        screen = app.screen
        screen.query_one("#bt-data", Input).value = "/no/such/file.csv"
        await pilot.press("ctrl+r")
        status = screen.query_one("#bt-status", Static)
        for _ in range(1200):
            await pilot.pause(0.05)
            if "error" in screen.status_text:
                break
        assert "error: /no/such/file.csv" in screen.status_text
        assert status.has_class("error")
