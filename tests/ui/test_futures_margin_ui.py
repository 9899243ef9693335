"""Futures on margin in the workstation: the review of a futures order shows the initial
margin it needs, and once it fills the Risk pane shows the margin used against max_margin_pct
and the maintenance margin against equity (e on the margin row edits max_margin_pct)."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from tests.ui.test_ui_flows import command, reviewing
from tests.ui_support import make_app, started, until
from workstation.core.model import OrderStatus
from workstation.ui.panes.risk import RiskPane
from workstation.ui.screens.limit_edit import LimitEditScreen

ES = "ES-2026-12"


def review_text(app) -> str:
    console = Console(width=100, record=True, color_system=None)
    console.print(app.screen.query_one("#review-body").content)
    return console.export_text()


def pane_lines(pane) -> list[str]:
    return ["".join(seg.text for seg in pane.render_line(y)) for y in range(pane.size.height)]


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_a_futures_order_is_reviewed_with_its_margin_and_the_risk_pane_shows_it(tmp_path, size):
    app, session, broker = make_app(tmp_path)
    broker.prices[ES] = 6000.0
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await command(pilot, f"buy 2 {ES}", reviewing)
        text = review_text(app)
        assert "Initial margin" in text and "30,000.00" in text  # 2 x $15,000, not the $600,000 notional
        assert "passes the pre-trade checks" in text
        await pilot.press("y")
        await until(pilot, lambda: session.portfolio.qty(ES) == 2, what="the ES order filled")
        assert [o.status for o in session.oms.orders.values()] == [OrderStatus.FILLED]
        await pilot.press("5")
        pane = app.main.query_one(RiskPane)
        await until(pilot, lambda: "margin used" in pane.rows_shown, what="the margin rows")
        assert pane.select_key("margin used")
        await until(pilot, lambda: any("margin used" in line for line in pane_lines(pane)), what="the margin row on screen")
        line = next(line for line in pane_lines(pane) if "margin used" in line)
        # $30,000 of about $100,000 equity (the fill paid the spread), against max_margin_pct
        assert re.search(r"margin used +30\.0\d% +80\.00%", line), line
        assert pane.select_key("maintenance margin")
        await until(pilot, lambda: any("maint. margin" in line and "27,000.00" in line for line in pane_lines(pane)))
        assert pane.select_key("margin used")
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, LimitEditScreen))
        from textual.widgets import Input

        assert app.screen.query_one(Input).value == "max_margin_pct 80"
