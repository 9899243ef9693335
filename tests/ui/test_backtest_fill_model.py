"""The Backtest screen's fill model fields (spread, participation, impact): read by the CLI's
parsers, shown in the result with the costs split; a bad value is one line and runs nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.ui_support import make_app, settle, started, until

RUN_S = 60.0


async def _open(pilot, app):
    from workstation.ui.screens.backtest import BacktestScreen

    await started(pilot)
    await pilot.press("B")
    await until(pilot, lambda: isinstance(app.screen, BacktestScreen))
    return app.screen


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_participation_and_auto_spread_run_and_show_the_model_and_its_costs(tmp_path: Path, size) -> None:
    from textual.widgets import Input, Select

    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        screen = await _open(pilot, app)
        screen.query_one("#bt-strategy", Select).value = "ma_crossover"
        screen.query_one("#bt-data", Input).value = "AAPL"
        screen.query_one("#bt-days", Input).value = "3"
        screen.query_one("#bt-params", Input).value = "fast=5 slow=20 qty=100"
        # the fields are reached from the keyboard: Tab from Days goes to Spread, Participation, Impact
        screen.query_one("#bt-days", Input).focus()
        await pilot.press("tab")
        await pilot.press(*"auto")
        await pilot.press("tab")
        await pilot.press(*"10%")
        assert screen.query_one("#bt-spread", Input).value == "auto"
        assert screen.query_one("#bt-participation", Input).value == "10%"
        await pilot.press("ctrl+r")
        await until(pilot, lambda: screen.result is not None or "error" in screen.status_text, timeout=RUN_S)
        await settle(pilot)
        assert screen.result is not None, screen.status_text
        r = screen.result
        assert r.fill_model["name"] == "spread+volume"
        assert r.fill_count > 0 and Decimal(r.model_costs["spread"]) > 0
        assert "fill model: spread+volume" in screen.metrics_text
        spread_line = next(line for line in screen.metrics_text.splitlines() if line.startswith("spread cost: "))
        assert spread_line != "spread cost: 0.00"
        assert "impact cost: 0.00" in screen.metrics_text and "total costs: " in screen.metrics_text
        assert session.portfolio.fills == 0


async def test_a_bad_participation_is_one_line_and_runs_nothing(tmp_path: Path) -> None:
    from textual.widgets import Input, Static

    app, _, _ = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, app)
        screen.query_one("#bt-data", Input).value = "AAPL"
        screen.query_one("#bt-participation", Input).value = "150%"
        await pilot.press("ctrl+r")
        await settle(pilot)
        status = screen.query_one("#bt-status", Static)
        assert screen.status_text == "error: participation must be above 0% and at most 100%, got '150%'"
        assert status.has_class("error") and "\n" not in screen.status_text
        assert not screen.workers and screen.result is None  # nothing ran
        assert not list((tmp_path / "data").glob("**/backtests/*.sqlite"))
