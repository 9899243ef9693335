"""Every key binding (as currently mapped) and the command-line grammar."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 96; max-width: 100%; height: 90%; border: thick $primary; background: $surface; padding: 0 1; }
    """

    BINDINGS = [
        Binding("question_mark,q,n,ctrl+g,escape", "close", "Close", id="help.close"),
        Binding("down,j", "scroll(1)", "Down", show=False, id="help.down"),
        Binding("up,k", "scroll(-1)", "Up", show=False, id="help.up"),
    ]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str, str]]]], grammar: tuple[str, ...]) -> None:
        super().__init__()
        self.sections = sections
        self.grammar = grammar

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "Help · ? or q closes"
            for title, rows in self.sections:
                table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 1), expand=True)
                table.add_column("Keys", style="bold", width=22, no_wrap=True)
                table.add_column("Action")
                table.add_column("Id", style="dim", no_wrap=True)
                for keys, description, binding_id in rows:
                    table.add_row(keys, description, binding_id)
                yield Static(table)
            text = Text("Command line (:)\n", style="bold")
            for line in self.grammar:
                text.append(f"  {line}\n")
            text.append("  Verbs and keywords accept unambiguous prefixes; symbols are case-insensitive.\n", style="dim")
            text.append("\nRemap a key in the settings file:  [ui.bindings]  \"orders.cancel\" = \"c,delete\"\n", style="dim")
            yield Static(text)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll(self, direction: int) -> None:
        self.query_one(VerticalScroll).scroll_relative(y=direction, animate=False)
