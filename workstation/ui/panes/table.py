"""A live table on Textual's Line API: only the rows whose content changed are repainted.

Textual's stock ``DataTable`` re-renders the whole table on every change; a watchlist that
ticks many times a second cannot afford that. ``LiveTable`` keeps one rendered ``Strip`` per
row, keyed by the row's cells, the width and whether the cursor is on it, and asks Textual
to repaint just the lines whose cells changed (``refresh_line``).

Columns that do not fit the pane's width are dropped from the right by priority rather
than cut mid-value; a header line stays at the top while the rows scroll.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = tuple[str, str]  # (text, palette role: "", "up", "down", "buy", "sell", "muted", "stale", ...)


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    right: bool = False
    priority: int = 0  # higher: kept longer when the pane is narrow
    flexible: bool = False  # takes the remaining width; may be shortened with an ellipsis (messages)


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    cells: tuple[Cell, ...]
    background: str = ""  # palette role for the whole row (a flash), or ""


class LiveTable(ScrollView, can_focus=True):
    """Rows by key; ``set_rows`` repaints only what changed."""

    DEFAULT_CSS = """
    LiveTable { height: 1fr; overflow-x: hidden; scrollbar-size-vertical: 1; }
    """

    BINDINGS = [
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("g,home", "edge(0)", "First row", show=False, id="table.first"),
        Binding("G,end", "edge(1)", "Last row", show=False, id="table.last"),
    ]

    cursor: reactive[int] = reactive(0, repaint=False, init=False)
    """Index of the selected row among the visible (filtered) rows."""

    class Highlighted(Message):
        """The cursor moved to another row."""

        def __init__(self, table: LiveTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LiveTable:
            return self.table

    def __init__(self, columns: list[Column], *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = columns
        self._widths = {c.key: c.width for c in columns}
        self._all: list[Row] = []
        self._rows: list[Row] = []
        self._index: dict[str, int] = {}
        self._cache: dict[str, tuple[tuple, Strip]] = {}
        self._header: tuple[tuple, Strip] | None = None
        self._layout: list[tuple[Column, int, int]] = []
        self._layout_key: tuple = ()
        self.filter = ""
        self.generation = 0  # bump to drop every cached line (a theme change)
        self.repainted = 0  # rows repainted by the last set_rows (for tests and the benchmark)

    # ------------------------------------------------------------------ data
    @property
    def selected_key(self) -> str | None:
        if 0 <= self.cursor < len(self._rows):
            return self._rows[self.cursor].key
        return None

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self._rows]

    def row(self, key: str) -> Row | None:
        i = self._index.get(key)
        return self._rows[i] if i is not None else None

    def set_rows(self, rows: list[Row]) -> None:
        """Replace the rows; repaint only the lines whose content changed."""
        self._all = rows
        self._apply(force=False)

    def set_filter(self, text: str) -> None:
        self.filter = text.strip().lower()
        self._apply(force=True)

    def _visible(self, rows: list[Row]) -> list[Row]:
        if not self.filter:
            return rows
        f = self.filter
        return [r for r in rows if any(f in text.lower() for text, _ in r.cells)]

    def _apply(self, force: bool) -> None:
        old_keys = [r.key for r in self._rows]
        old = {r.key: r for r in self._rows}
        selected = self.selected_key
        rows = self._visible(self._all)
        self._rows = rows
        self._index = {r.key: i for i, r in enumerate(rows)}
        grew = self._grow_widths(rows)
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        if selected is not None and selected in self._index:
            self.set_reactive(LiveTable.cursor, self._index[selected])
        elif self.cursor >= len(rows):
            self.set_reactive(LiveTable.cursor, max(0, len(rows) - 1))
        if force or grew or old_keys != [r.key for r in rows]:
            self.repainted = len(rows)
            self.refresh()
        else:
            changed = 0
            for i, r in enumerate(rows):
                if old.get(r.key) != r:
                    changed += 1
                    self.refresh_line(i + 1)
            self.repainted = changed
        if self.selected_key != selected:
            self.post_message(self.Highlighted(self, self.selected_key))

    def _grow_widths(self, rows: list[Row]) -> bool:
        """Widen a column to its longest value so nothing is cut (widths only grow)."""
        grew = False
        for col_i, col in enumerate(self.columns):
            if col.flexible:
                continue
            need = max((len(r.cells[col_i][0]) for r in rows if col_i < len(r.cells)), default=0)
            if need > self._widths[col.key]:
                self._widths[col.key] = need
                grew = True
        return grew

    # ------------------------------------------------------------------ layout
    def _fit(self, width: int) -> list[tuple[Column, int, int]]:
        """The columns that fit ``width`` (dropping the lowest priority first) and their widths."""
        key = (width, tuple(self._widths.values()))
        if key == self._layout_key:
            return self._layout
        cols = list(enumerate(self.columns))
        def total(cs):
            return sum(self._widths[c.key] if not c.flexible else 8 for _, c in cs) + max(0, len(cs) - 1)
        while cols and total(cols) > width - 1:
            candidates = [c for c in cols if c[0] > 0] or cols
            drop = min(candidates, key=lambda ic: (ic[1].priority, -ic[0]))
            cols.remove(drop)
        fixed = total([c for c in cols if not c[1].flexible])
        layout = []
        for i, c in cols:
            w = self._widths[c.key]
            if c.flexible:
                w = max(8, width - 1 - fixed - (1 if len(cols) > 1 else 0))
            layout.append((c, w, i))
        self._layout = layout
        self._layout_key = key
        return self._layout

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._rows) + 1)
        self._cache.clear()
        self._header = None

    def palette_style(self, role: str) -> Style:
        """A Rich style for a palette role (overridden by the app's theme palette)."""
        palette = getattr(self.app, "palette_styles", {})
        return palette.get(role, Style())

    # ------------------------------------------------------------------ rendering
    def _line(self, cells: list[tuple[str, Style]], width: int, base: Style) -> Strip:
        segments = [Segment(" ", base)]
        used = 1
        for n, (text, style) in enumerate(cells):
            if n:
                segments.append(Segment(" ", base))
                used += 1
            segments.append(Segment(text, base + style))
            used += len(text)
        if used < width:
            segments.append(Segment(" " * (width - used), base))
        return Strip(segments, max(width, used)).crop(0, width)

    def _cells(self, row_cells: tuple[Cell, ...] | None, labels: bool) -> list[tuple[str, Style]]:
        out = []
        for col, w, i in self._fit(self.size.width):
            if labels:
                text, role = col.label, "header"
            else:
                text, role = row_cells[i] if row_cells is not None and i < len(row_cells) else ("", "")
            if len(text) > w:
                text = text[: max(0, w - 1)] + "…"
            text = text.rjust(w) if col.right else text.ljust(w)
            out.append((text, self.palette_style(role) if role else Style()))
        return out

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            key = (width, self.generation, tuple(self._widths.values()))
            if self._header is None or self._header[0] != key:
                self._header = (key, self._line(self._cells(None, True), width, base + Style(bold=True)))
            return self._header[1]
        index = int(self.scroll_offset.y) + y - 1
        if not 0 <= index < len(self._rows):
            return Strip.blank(width, base)
        row = self._rows[index]
        selected = index == self.cursor
        focused = self.has_focus
        key = (row, width, selected, focused, self.generation, tuple(self._widths.values()))
        hit = self._cache.get(row.key)
        if hit is not None and hit[0] == key:
            return hit[1]
        style = base
        if row.background:
            style = style + self.palette_style(row.background)
        if selected:
            style = style + (self.palette_style("cursor") if focused else Style(underline=True))
        strip = self._line(self._cells(row.cells, False), width, style)
        if selected and not focused:
            strip = Strip([Segment(s.text, (s.style or Style()) + Style(underline=True)) for s in strip], width)
        self._cache[row.key] = (key, strip)
        return strip

    # ------------------------------------------------------------------ cursor
    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        top = int(self.scroll_offset.y)
        body = max(1, self.size.height - 1)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + body:
            self.scroll_to(y=new - body + 1, animate=False)
        self.post_message(self.Highlighted(self, self.selected_key))

    def action_cursor(self, delta: int) -> None:
        if self._rows:
            self.cursor = max(0, min(len(self._rows) - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 2))

    def action_edge(self, end: int) -> None:
        if self._rows:
            self.cursor = len(self._rows) - 1 if end else 0

    def select_key(self, key: str) -> bool:
        i = self._index.get(key)
        if i is None:
            return False
        self.cursor = i
        return True

    def on_focus(self) -> None:
        self._cache.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._cache.clear()
        self.refresh()

    def on_click(self, event) -> None:
        index = int(self.scroll_offset.y) + event.y - 1
        if 0 <= index < len(self._rows):
            self.cursor = index
