"""Change one risk limit: a line ``NAME VALUE``, checked, then applied by the engine.

Enter applies through the callable given (the engine's ``risk_set``, journaled as
``main.py risk set`` is); a problem (unknown name, bad value, the engine's refusal) is
shown in the dialog and the text stays as typed. Escape or Ctrl+G closes without change.
The screen dismisses with ``"NAME = VALUE"`` as the engine shows it, or None.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from workstation.ui.commands import ParseError, parse

Apply = Callable[[str, str], Awaitable[str]]  # (name, value) -> the value as shown; IntentError when refused


class LimitEditScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    LimitEditScreen { align: center middle; }
    LimitEditScreen > Vertical { width: 72; max-width: 100%; height: auto; border: thick $primary; background: $surface; padding: 0 1; }
    LimitEditScreen Input { height: 3; }
    LimitEditScreen #limit-error { color: $error; height: auto; display: none; }
    LimitEditScreen #limit-error.-open { display: block; }
    LimitEditScreen #limit-keys { color: $text-muted; }
    """

    BINDINGS = [Binding("escape,ctrl+g", "cancel", "Cancel", id="limit.cancel")]

    def __init__(self, prefill: str, apply: Apply) -> None:
        super().__init__()
        self.prefill = prefill
        self.apply = apply

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Change a risk limit"
            yield Input(self.prefill, id="limit-input", placeholder="NAME VALUE  (off removes it, default returns to the settings file)")
            yield Static("", id="limit-error")
            yield Static("Enter apply (journaled) · Esc/Ctrl+G cancel", id="limit-keys")

    def error(self, text: str) -> None:
        err = self.query_one("#limit-error", Static)
        err.update(text)
        err.set_class(bool(text), "-open")

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        from workstation.core.model import ModelError

        event.stop()
        try:
            cmd = parse(f"risk set {event.value.strip()}")
        except ParseError as exc:
            self.error(str(exc).replace("risk set NAME VALUE", "NAME VALUE"))
            return
        try:
            shown = await self.apply(cmd.name, cmd.value)  # type: ignore[union-attr]
        except ModelError as exc:
            self.error(str(exc))
            return
        self.dismiss(f"{cmd.name} = {shown}")  # type: ignore[union-attr]

    def action_cancel(self) -> None:
        self.dismiss(None)
