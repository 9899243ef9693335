"""The workstation's Strategies pane: instances from the settings, start/pause/edit/stop by key."""

from decimal import Decimal

import pytest

from textual.widgets import Input, Static

from tests.fakes.market import InstantBroker
from tests.ui_support import START, SYMBOLS, settle
from workstation.api import LocalEngine
from workstation.core.clock import SimClock
from workstation.core.config import Settings, StrategySettings, UISettings
from workstation.trading.session import Session
from workstation.ui.watchlists import Watchlists


def make_app(root):
    from workstation.ui.app import WorkstationApp

    strategies = [
        StrategySettings(plugin="ma_crossover", symbols=["AAPL"], params={"fast": 5, "slow": 20}),
        StrategySettings(plugin="rsi_reversion", name="rsi_msft", symbols=["MSFT"], allocation="25%"),
        StrategySettings(plugin="no_such_plugin"),
    ]
    settings = Settings(watchlist=list(SYMBOLS), ui=UISettings(confirm_orders=False), strategies=strategies)
    session = Session.build(settings, data_root=root / "data", clock=SimClock(START), broker=InstantBroker(ts=START))
    engine = LocalEngine(session, strategies=settings.strategies)
    lists = Watchlists.load(root / "data" / "watchlists.json", list(settings.watchlist))
    return WorkstationApp(engine, settings, watchlists=lists, config_path=root / "settings.toml", save_settings=False), engine


def cells(pane, key):
    return {c.key: text for c, (text, _) in zip(pane.columns, pane.row(key).cells)}


async def wait(pilot, cond, n=1500):
    for _ in range(n):
        if cond():
            return
        await pilot.pause(0.01)
    raise AssertionError("not reached")


@pytest.mark.slow
async def test_strategies_pane_start_pause_edit_stop(tmp_path):
    from workstation.ui.panes.strategies import StrategiesPane
    from workstation.ui.screens.strategy_params import StrategyParamsScreen

    app, engine = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait(pilot, lambda: app._started)
        await settle(pilot)
        pane = app.query_one(StrategiesPane)
        assert pane.keys == ["ma_crossover", "rsi_msft"]
        row = cells(pane, "rsi_msft")
        assert row["state"] == "stopped" and row["symbols"] == "MSFT" and row["alloc"] == "25%"
        assert row["pnl"] == "+0.00" and row["trades"] == "0"
        alerts = app.query_one("#alerts")
        assert any("no_such_plugin" in line for line in alerts.texts)  # the bad entry is named, the rest load

        await pilot.press("9")
        assert app.focused is pane and pane.selected_key == "ma_crossover"
        await pilot.press("s")
        await wait(pilot, lambda: cells(pane, "ma_crossover")["state"] == "running")
        await pilot.press("p")
        await wait(pilot, lambda: cells(pane, "ma_crossover")["state"] == "paused")
        await pilot.press("p")
        await wait(pilot, lambda: cells(pane, "ma_crossover")["state"] == "running")

        await pilot.press("e")
        await wait(pilot, lambda: isinstance(app.screen, StrategyParamsScreen))
        screen = app.screen
        assert screen.query_one("#param-fast", Input).value == "5"
        screen.query_one("#param-fast", Input).value = "50"
        screen.query_one("#param-fast", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        error = screen.query_one("#params-error", Static)
        assert app.screen is screen and error.has_class("-open")
        assert "fast (50) must be shorter than slow (20)" in str(error.render())
        assert engine.strategies.runner.instances["ma_crossover"].params["fast"] == 5  # nothing changed
        screen.query_one("#param-fast", Input).value = "8"
        await pilot.press("enter")
        await wait(pilot, lambda: engine.strategies.runner.instances["ma_crossover"].params["fast"] == 8)
        assert not isinstance(app.screen, StrategyParamsScreen)
        await wait(pilot, lambda: cells(pane, "ma_crossover")["state"] == "running")  # restarted with the new values

        await pilot.press("x")
        await wait(pilot, lambda: cells(pane, "ma_crossover")["state"] == "stopped")
        await pilot.press("down", "p")  # pausing a stopped strategy is refused with a notice
        await pilot.pause()
        assert cells(pane, "rsi_msft")["state"] == "stopped"
        assert engine.strategies.runner.instances["rsi_msft"].params["period"] == 14
        assert engine.strategies.runner.instances["rsi_msft"].allocation.fraction == Decimal("0.25")
