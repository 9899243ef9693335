"""Edit a strategy's parameters: one field each, validated before anything changes.

Enter (in any field) or Ctrl+S applies: the values are checked against the parameters'
types, bounds and the strategy's own rules, and a problem is shown in the dialog (the
values stay as typed). Escape or Ctrl+G closes without changes. The screen dismisses with
the changed values (``{name: text}``) or None.

The problem line sits right under the title and the fields scroll below it, so it stays in
sight at 80x24 however many parameters the strategy has.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from workstation.strategies.desk import ParamRow


class StrategyParamsScreen(ModalScreen[dict[str, str] | None]):
    DEFAULT_CSS = """
    StrategyParamsScreen { align: center middle; }
    StrategyParamsScreen > Vertical { width: 72; max-width: 100%; height: auto; max-height: 100%; border: thick $primary; background: $surface; padding: 0 1; }
    StrategyParamsScreen Label { color: $text-muted; }
    StrategyParamsScreen #params-fields { height: auto; max-height: 1fr; }
    StrategyParamsScreen Input { margin-bottom: 1; }
    StrategyParamsScreen #params-error { color: $error; height: auto; display: none; text-style: bold; }
    StrategyParamsScreen #params-error.-open { display: block; }
    StrategyParamsScreen #params-keys { color: $text-muted; }
    """

    BINDINGS = [
        Binding("ctrl+s", "apply", "Apply", id="params.apply"),
        Binding("escape,ctrl+g", "cancel", "Cancel", id="params.cancel"),
    ]

    def __init__(self, name: str, params: list[ParamRow], check: Callable[[dict[str, str]], str | None]) -> None:
        super().__init__()
        self.strategy = name
        self.rows = params
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Parameters of {self.strategy}"
            yield Static("", id="params-error")
            with VerticalScroll(id="params-fields", can_focus=False):  # Tab goes field to field
                for p in self.rows:
                    hint = ", ".join(x for x in (p.kind, p.range) if x)
                    yield Label(f"{p.name} — {p.description} ({hint})" if p.description else f"{p.name} ({hint})")
                    yield Input(p.value, id=f"param-{p.name}", compact=True)
            yield Static("Enter/Ctrl+S apply · Esc/Ctrl+G cancel (a running strategy restarts)", id="params-keys")

    def values(self) -> dict[str, str]:
        return {p.name: self.query_one(f"#param-{p.name}", Input).value.strip() for p in self.rows}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def action_apply(self) -> None:
        values = self.values()
        problem = self.check(values)
        error = self.query_one("#params-error", Static)
        if problem:
            error.update(problem)
            error.add_class("-open")
            return
        changed = {k: v for k, v in values.items() if v != next(p.value for p in self.rows if p.name == k)}
        self.dismiss(changed or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
