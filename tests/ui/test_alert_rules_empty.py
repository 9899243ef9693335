"""The alert rules view with no rules: one line saying how to add one in place of an empty
table, and the table again as soon as a rule exists (read live while the view is open)."""

import pytest

from tests.ui_support import make_app, settle, started, until
from workstation.ui.panes.feed import AlertsPane
from workstation.ui.screens.alert_rules import AlertRulesScreen, RuleEditScreen


def empty_line_shown(screen) -> bool:
    empty = screen.query_one("#rules-empty")
    return empty.display and empty.region.height > 0 and not screen.table.display


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_no_rules_shows_how_to_add_one_and_a_new_rule_brings_the_table_back(tmp_path, size):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        app.focus_now(app.main.query_one("#alerts", AlertsPane))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, AlertRulesScreen) and app.screen.has_class("-empty"))
        screen = app.screen
        await settle(pilot)
        assert empty_line_shown(screen)
        assert str(screen.query_one("#rules-empty").render()) == (
            "No alert rules yet: press a to add one (AAPL > 200, AAPL rsi14 < 30)")
        session.alerts.add_rule("AAPL > 200")  # added elsewhere (main.py alert on this engine, another face)
        await until(pilot, lambda: screen.table.display and screen.table.row("u1") is not None)
        assert not screen.query_one("#rules-empty").display and screen.table.region.height > 0
        assert [c[0] for c in screen.table.row("u1").cells][:3] == ["u1", "on", "AAPL > 200"]
        assert app.focused is screen.table
        session.alerts.remove_rule("u1")  # and the last rule gone: the line again
        await until(pilot, lambda: empty_line_shown(screen))


async def test_a_view_with_rules_shows_the_table_and_not_the_line(tmp_path):
    app, session, _ = make_app(tmp_path)
    session.alerts.add_rule("MSFT < 1")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        app.focus_now(app.main.query_one("#alerts", AlertsPane))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, AlertRulesScreen) and app.screen.table.row("u1") is not None)
        await settle(pilot)
        assert app.screen.table.display and not app.screen.query_one("#rules-empty").display


async def test_a_on_the_empty_view_adds_a_rule_checked_by_the_engine(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        app.focus_now(app.main.query_one("#alerts", AlertsPane))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, AlertRulesScreen) and app.screen.has_class("-empty"))
        screen = app.screen
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, RuleEditScreen))
        dialog = app.screen
        await pilot.press(*"AAPL rsi14 <", "enter")  # malformed: the engine's one line stays in the dialog
        await until(pilot, lambda: "malformed indicator alert" in str(dialog.query_one("#rule-error").render()))
        assert not session.alerts.rules
        dialog.query_one("#rule-input").value = "AAPL rsi14 < 30"
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen and screen.table.row("u1") is not None and screen.table.display)
        assert session.alerts.rules["u1"].text == "AAPL rsi14 < 30"
        assert [d["op"] for *_x, d in session.journal.events("alert.rule")] == ["add"]
        assert "added u1: AAPL rsi14 < 30" in str(screen.query_one("#rules-status").render())
