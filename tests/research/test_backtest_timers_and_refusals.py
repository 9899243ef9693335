"""Backtests: strategies' timers run on the simulated clock; refused orders are reported by rule."""

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from plugins.ma_crossover import MaCrossover
from plugins.twap import Twap
from plugins.vwap import Vwap
from workstation.research import report
from workstation.research.backtest import BacktestConfig, StrategySpec, load_series, refusals, run_backtest

DATA = Path(__file__).parents[1] / "data"
INTRADAY = DATA / "2006-min-005.txt"  # 5-minute bars


@pytest.mark.parametrize("cls", [Twap, Vwap])
def test_twap_and_vwap_of_1000_complete_in_a_backtest_over_intraday_bars(cls):
    series = load_series(INTRADAY, "SPY")
    result = run_backtest(
        [series], [StrategySpec(cls, {"qty": 1000, "duration": 3000, "slices": 10})],
        BacktestConfig(cash=Decimal(10_000_000)),
    )
    assert sum(f.qty for f in result.fills) == 1000
    assert len(result.orders) == 10  # one child per slice, each sent when its timer fired
    created = sorted(o.created for o in result.orders)
    assert created[-1] - created[0] >= 2400  # spread over the window, not all at once


def _all_refused():
    return run_backtest([load_series(INTRADAY, "ES-2006-03")], [StrategySpec(MaCrossover, {})])


def test_a_backtest_whose_orders_are_all_refused_says_so_by_rule_in_the_summary_and_the_json():
    result = _all_refused()
    assert not result.fills
    found = refusals(result)
    assert list(found) == ["buying_power"] and found["buying_power"]["count"] == len(result.orders) > 0
    assert found["buying_power"]["example"].startswith("insufficient buying power")
    out = io.StringIO()
    Console(file=out, width=160).print(report.summary(result))
    text = out.getvalue()
    assert f"Orders refused: {len(result.orders)}" in text and "buying_power" in text
    assert "insufficient buying power: order needs" in text
    doc = json.loads(report.to_json(result))
    assert doc["refusals"]["buying_power"]["count"] == len(result.orders)


async def test_the_backtest_screen_shows_the_refusals(tmp_path):
    from textual.widgets import Input, Select

    from tests.ui_support import make_app, settle
    from workstation.ui.screens.backtest import BacktestScreen

    app, _, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("B")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BacktestScreen)
        screen.query_one("#bt-strategy", Select).value = "ma_crossover"
        screen.query_one("#bt-data", Input).value = str(DATA / "orcl-1995-2014.txt")
        screen.query_one("#bt-params", Input).value = "fast=10 slow=30 qty=1000000"
        await pilot.press("ctrl+r")
        for _ in range(1200):
            await pilot.pause(0.05)
            if screen.result is not None:
                break
        assert "orders refused" in screen.status_text
        assert "refused: buying power:" in screen.metrics_text and "insufficient buying power" in screen.metrics_text
