"""The alert rules view (``r`` on the Alerts pane): rules with their statistics, space to
disable/enable, ``e`` to edit keeping the id, ``d`` to delete after a question."""

import pytest

from tests.ui_support import make_app, settle, started, until
from workstation.ui.panes.feed import AlertsPane
from workstation.ui.screens.alert_rules import AlertRulesScreen, RuleEditScreen
from workstation.ui.screens.confirm import ConfirmScreen


def cells(screen, key):
    return [c[0] for c in screen.table.row(key).cells]


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_rules_view_toggles_edits_and_deletes(tmp_path, size):
    app, session, _ = make_app(tmp_path)
    session.alerts.add_rule("AAPL > 100000")
    session.alerts.add_rule("MSFT < 1")
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        app.focus_now(app.main.query_one("#alerts", AlertsPane))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, AlertRulesScreen) and app.screen.table.row("u2") is not None)
        screen = app.screen
        assert cells(screen, "u1")[:4] == ["u1", "on", "AAPL > 100000", "0"]
        await settle(pilot)
        await pilot.press("g", "space")  # the first rule off
        await until(pilot, lambda: cells(screen, "u1")[1] == "off")
        assert "u1" in session.alerts.disabled
        assert [d["op"] for *_x, d in session.journal.events("alert.rule")][-1] == "disable"
        await pilot.press("space")  # and on again
        await until(pilot, lambda: cells(screen, "u1")[1] == "on")
        assert "u1" not in session.alerts.disabled
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, RuleEditScreen))
        edit = app.screen
        edit.query_one("#rule-input").value = "AAPL rsi14 <"
        await pilot.press("enter")
        await until(pilot, lambda: "malformed indicator alert" in str(edit.query_one("#rule-error").render()))
        assert session.alerts.rules["u1"].text == "AAPL > 100000"  # a bad edit changes nothing
        edit.query_one("#rule-input").value = "AAPL rsi14 < 30"
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen and cells(screen, "u1")[2] == "AAPL rsi14 < 30")
        assert session.alerts.rules["u1"].text == "AAPL rsi14 < 30"
        await pilot.press("j", "d")  # the second rule: asks first
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await settle(pilot)
        assert "u2" in session.alerts.rules
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: "u2" not in session.alerts.rules and screen.table.row("u2") is None)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AlertRulesScreen))
