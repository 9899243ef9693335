"""The ``:`` command line (and the ``/`` filter line) with its inline error line."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class CommandLine(Input):
    """One line of input; Ctrl+G or Escape closes it, up/down walk the history."""

    BINDINGS = [
        Binding("ctrl+g,escape", "close", "Close", show=False, id="cmdline.close"),
        Binding("up", "history(-1)", "Previous", show=False, id="cmdline.history_prev"),
        Binding("down", "history(1)", "Next", show=False, id="cmdline.history_next"),
    ]

    class Closed(Message):
        pass

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, compact=True, select_on_focus=False)
        self.mode = "command"  # or "filter"
        self.history: list[str] = []
        self._pos = 0

    def open(self, mode: str, text: str = "") -> None:
        self.mode = mode
        self.placeholder = "buy 100 AAPL · cancel all · help" if mode == "command" else "filter rows (empty clears)"
        self.value = text
        self.cursor_position = len(text)
        self._pos = len(self.history)

    def remember(self, text: str) -> None:
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self._pos = len(self.history)

    def action_history(self, step: int) -> None:
        if self.mode != "command" or not self.history:
            return
        self._pos = max(0, min(len(self.history), self._pos + step))
        self.value = self.history[self._pos] if self._pos < len(self.history) else ""
        self.cursor_position = len(self.value)

    def action_close(self) -> None:
        self.post_message(self.Closed())
