"""The alert rules view: every rule with its statistics, and the keys that manage them.

``r`` on the Alerts pane opens it. One row per rule (settings file and added ones): its id,
on/off, the rule, times fired, when it last fired and how many firings the cooldown held
back (the engine's ``RuleStatus``, from the journal). Keys: ``a`` adds a rule (as ``:alert
RULE`` does, in the edit dialog), space disables or enables the
selected rule (it keeps its id and statistics), ``e`` edits it (a line prefilled with the
rule; the engine checks it and a problem stays in the dialog), ``d`` deletes it after a
yes/no question, Escape closes. Every change goes through ``EngineAPI.alert_rule`` (the
owning engine over the socket when attached), journaled as ``main.py alert ...`` is; a
refusal is one line on the status line and changes nothing.

With no rules the table gives way to one line saying how to add one. The view reads the
rules again every ``REFRESH_S`` seconds, so a rule added elsewhere (``main.py alert`` on the
owning engine, another face) and the statistics of the shown ones appear while it is open.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Static

from workstation.core.alert_rules import RuleStatus
from workstation.core.model import IntentError, ModelError
from workstation.ui.panes.table import Column, LiveTable, Row
from workstation.ui.screens.confirm import ConfirmScreen

REFRESH_S = 1.0  # how often the open view reads the rules again
EMPTY = "No alert rules yet: press a to add one (AAPL > 200, AAPL rsi14 < 30)"

COLUMNS = [
    Column("id", "Id", 3, priority=9),
    Column("state", "State", 3, priority=8),
    Column("rule", "Rule", 12, priority=9, flexible=True),
    Column("fired", "Fired", 5, right=True, priority=7),
    Column("last", "Last fired", 8, priority=5),
    Column("suppressed", "Held", 4, right=True, priority=6),
]


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%m-%d %H:%M")


def rule_row(r: RuleStatus) -> Row:
    role = "" if r.enabled else "muted"
    text = r.text + (" (settings file)" if r.origin == "settings" else "")
    return Row(r.id, (
        (r.id, role), ("on" if r.enabled else "off", "up" if r.enabled else "muted"), (text, role),
        (str(r.fired), role), (_when(r.last_fired), "muted"), (str(r.suppressed), "stale" if r.suppressed else "muted"),
    ))


class RuleEditScreen(ModalScreen[str | None]):
    """One line: the rule's new text (``rule_id`` None: a new rule). Enter applies (the engine
    checks it); Escape cancels."""

    DEFAULT_CSS = """
    RuleEditScreen { align: center middle; }
    RuleEditScreen > Vertical { width: 72; max-width: 100%; height: auto; border: thick $primary; background: $surface; padding: 0 1; }
    RuleEditScreen Input { height: 3; }
    RuleEditScreen #rule-error { color: $error; height: auto; display: none; }
    RuleEditScreen #rule-error.-open { display: block; }
    RuleEditScreen #rule-keys { color: $text-muted; }
    """

    BINDINGS = [Binding("escape,ctrl+g", "cancel", "Cancel", id="alert_rule_edit.cancel")]

    def __init__(self, rule_id: str | None, text: str, apply: Callable[[str], Awaitable[str]]) -> None:
        super().__init__()
        self.rule_id = rule_id
        self.text = text
        self.apply = apply

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Add an alert rule" if self.rule_id is None else f"Edit alert rule {self.rule_id}"
            yield Input(self.text, id="rule-input", placeholder="AAPL > 200 · AAPL rsi14 < 30 · AAPL cross sma50")
            yield Static("", id="rule-error")
            keeps = "" if self.rule_id is None else "; keeps the id and statistics"
            yield Static(f"Enter apply (journaled{keeps}) · Esc cancel", id="rule-keys")

    def error(self, text: str) -> None:
        err = self.query_one("#rule-error", Static)
        err.update(text)
        err.set_class(bool(text), "-open")

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            shown = await self.apply(event.value.strip())
        except ModelError as exc:
            self.error(str(exc))
            return
        self.dismiss(shown)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AlertRulesScreen(Screen[None]):
    DEFAULT_CSS = """
    AlertRulesScreen #rules-title { height: 1; text-style: bold; padding: 0 1; }
    AlertRulesScreen LiveTable { height: 1fr; }
    AlertRulesScreen #rules-empty { height: 1fr; padding: 1 1; color: $text-muted; display: none; }
    AlertRulesScreen.-empty #rules-empty { display: block; }
    AlertRulesScreen.-empty LiveTable { display: none; }
    AlertRulesScreen #rules-status { height: auto; color: $text-muted; padding: 0 1; }
    """

    BINDINGS = [
        Binding("a", "add", "Add", id="alert_rules.add", tooltip="Add an alert rule (as :alert RULE does)"),
        Binding("space", "toggle", "On/off", id="alert_rules.toggle", tooltip="Disable or enable the selected rule (journaled)"),
        Binding("e", "edit", "Edit", id="alert_rules.edit", tooltip="Change the selected rule, keeping its id and statistics"),
        Binding("d", "delete", "Delete", id="alert_rules.delete", tooltip="Delete the selected rule (asks first)"),
        Binding("escape,q", "close", "Close", id="alert_rules.close"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rules: list[RuleStatus] = []

    def compose(self) -> ComposeResult:
        yield Static("Alert rules", id="rules-title")
        yield LiveTable(list(COLUMNS), id="rules-table")
        yield Static(EMPTY, id="rules-empty")
        yield Static("", id="rules-status")
        yield Footer()

    @property
    def table(self) -> LiveTable:
        return self.query_one("#rules-table", LiveTable)

    def on_mount(self) -> None:
        self.table.focus()
        self.reload()
        self.set_interval(REFRESH_S, self._refresh)

    def _refresh(self) -> None:
        """Read the rules again, the status line kept (unless the view turns empty or not)."""
        busy = any(w.group in ("alert-rules", "alert-rule-op") and not w.is_finished for w in self.app.workers)
        if not busy:  # (a read or a change under way: its own reload shows what it did)
            self.reload(keep_status=True)

    def status(self, text: str) -> None:
        self.query_one("#rules-status", Static).update(text)

    def reload(self, note: str = "", keep_status: bool = False) -> None:
        async def go() -> None:
            try:
                rules = await self.app.engine.alert_rules()  # type: ignore[attr-defined]
            except IntentError as exc:
                self.status(f"rules not read: {exc}")
                return
            was_empty = self.has_class("-empty")
            self.rules = rules
            self.table.set_rows([rule_row(r) for r in self.rules])
            self.set_class(not self.rules, "-empty")
            if keep_status and was_empty == (not self.rules):
                return
            if not self.rules:
                self.status(note or "a add · Esc close")
            else:
                if was_empty and self.app.screen is self:
                    self.table.focus()
                self.status(note or "a add · space on/off · e edit · d delete · Esc close")

        self.run_worker(go(), group="alert-rules", exclusive=True, exit_on_error=False, name="alert rules")

    def selected(self) -> RuleStatus | None:
        key = self.table.selected_key
        return next((r for r in self.rules if r.id == key), None)

    def change(self, op: str, text: str, done: str) -> None:
        async def go() -> None:
            try:
                got = await self.app.engine.alert_rule(op, text)  # type: ignore[attr-defined]
            except IntentError as exc:
                self.app.bell()
                self.status(str(exc))
                return
            self.reload(f"{done} {got['id']}: {got['text']}")

        self.run_worker(go(), group="alert-rule-op", exit_on_error=False, name=f"alert {op}")

    def action_toggle(self) -> None:
        rule = self.selected()
        if rule is None:
            self.app.bell()
            return
        self.change("disable" if rule.enabled else "enable", rule.id, "disabled" if rule.enabled else "enabled")

    def action_edit(self) -> None:
        rule = self.selected()
        if rule is None:
            self.app.bell()
            return
        if rule.origin == "settings":
            self.app.bell()
            self.status(f"alert rule {rule.id} comes from the settings file ([alerts] rules): edit it there")
            return

        async def apply(text: str) -> str:
            got = await self.app.engine.alert_rule("edit", f"{rule.id} {text}")  # type: ignore[attr-defined]
            return f"{got['id']}: {got['text']}"

        def done(shown: str | None) -> None:
            if shown is not None:
                self.reload(f"edited {shown}")

        self.app.push_screen(RuleEditScreen(rule.id, rule.text, apply), done)

    def action_add(self) -> None:
        async def apply(text: str) -> str:
            got = await self.app.engine.alert_rule("add", text)  # type: ignore[attr-defined]
            return f"{got['id']}: {got['text']}"

        def done(shown: str | None) -> None:
            if shown is not None:
                self.reload(f"added {shown}")

        self.app.push_screen(RuleEditScreen(None, "", apply), done)

    def action_delete(self) -> None:
        rule = self.selected()
        if rule is None:
            self.app.bell()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.change("rm", rule.id, "deleted")

        self.app.push_screen(ConfirmScreen(f"Delete alert rule {rule.id}: {rule.text}?", "Delete alert rule"), answered)

    def action_close(self) -> None:
        self.dismiss(None)


def open_alert_rules(app) -> None:  # noqa: ANN001 (the WorkstationApp)
    if not isinstance(app.screen, AlertRulesScreen):
        app.push_screen(AlertRulesScreen())
