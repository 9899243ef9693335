"""Snapshots of the panes with long values: at 80x24 each in turn (its number key) under the
watchlist, and the whole screen, every pane, at 160x45. Columns are dropped whole or text wraps; nothing is cut.

Regenerate after a deliberate change with
``pytest tests/ui/test_ui_pane_snapshots.py --snapshot-update`` and look at the SVGs.
"""

import pytest

from tests.ui_support import make_app, settle

PANES = "23689"  # the panes long values reach (the watchlist shows above each; ticket, risk and chart are fixed-width)


async def _long_values(pilot) -> None:
    app = pilot.app
    await settle(pilot)
    app.confirm_orders = False
    for line in (
        "buy 20000 EUR/USD",
        "buy 100 AAPL",
        "buy 0.25 BTC/USD",
        "buy 1000000 NVDA",  # blocked: its review names the rule; closed, nothing sent
        "buy 10 MSFT lmt 400 tp 420 sl 390",  # a bracket: legs under their entry
        "sell 5 TSLA lmt 260 gtc",
    ):
        app.run_command(line)
        await settle(pilot)
        while app.screen is not app.screen_stack[0]:  # a blocked order's review: close it
            await pilot.press("escape")
            await settle(pilot)
    app.broker_for_tests.move("AAPL", 187.25)
    await settle(pilot)
    for _ in range(5):  # let the flashes run out: repaints, not time, end them
        app.repaint()
    app.clear_notifications()
    await settle(pilot)


def _app(tmp_path):
    app, session, broker = make_app(tmp_path)
    app.broker_for_tests = broker
    return app


@pytest.mark.parametrize("pane", PANES)
def test_each_pane_at_80x24(snap_compare, tmp_path, pane):
    async def scene(pilot) -> None:
        await _long_values(pilot)
        await pilot.press(pane)
        pilot.app.clear_notifications()
        await settle(pilot)

    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=scene)


def test_every_pane_at_160x45(snap_compare, tmp_path):
    async def scene(pilot) -> None:
        await _long_values(pilot)
        await pilot.press("3", "a")  # every order of the day, the refused one with its reason
        pilot.app.clear_notifications()
        await settle(pilot)

    assert snap_compare(_app(tmp_path), terminal_size=(160, 45), run_before=scene)
