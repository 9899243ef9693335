"""A live table on Textual's Line API: only the rows whose content changed are repainted.

Textual's stock ``DataTable`` re-renders the whole table on every change; a watchlist that
ticks many times a second cannot afford that. ``LiveTable`` keeps one rendered ``Strip`` per
row, keyed by the row's cells, the width and whether the cursor is on it, and asks Textual
to repaint just the lines whose cells changed (``refresh_line``).

Columns are declared with a ``priority``: a column is as wide as its longest value (it only
ever widens), and when the pane is too narrow for all of them the lowest priority is
dropped whole, never cut with ``…``. A ``flexible`` column (free text: a message, a
reason) takes the width left over and wraps its text onto more lines of the same row
rather than cutting it. A header line stays at the top while the rows scroll.

Declaring a pane's columns::

    COLUMNS = [
        Column("symbol", "Symbol", 8, priority=9),          # kept longest
        Column("avg", "Avg", 8, right=True, priority=3),    # dropped first when narrow
        Column("reason", "Reason", 8, priority=5, flexible=True),  # wraps, never cut
    ]
"""

from __future__ import annotations

from bisect import bisect_right
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


def wrap(text: str, width: int) -> list[str]:
    """``text`` as lines of at most ``width`` characters, broken between words where it can."""
    width = max(1, width)
    lines: list[str] = []
    for para in text.splitlines() or [""]:
        line = ""
        for word in para.split(" "):
            while len(word) > width:  # a word longer than the column: split it
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:width])
                word = word[width:]
            if not line:
                line = word
            elif len(line) + 1 + len(word) <= width:
                line += " " + word
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines or [""]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    right: bool = False
    priority: int = 0  # higher: kept longer when the pane is narrow; the lowest is dropped whole first
    flexible: bool = False  # takes the remaining width (at least ``width``); longer text wraps onto more lines


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
        self._widths = {c.key: max(c.width, len(c.label)) for c in columns}
        self._all: list[Row] = []
        self._rows: list[Row] = []
        self._index: dict[str, int] = {}
        self._cache: dict[str, tuple[tuple, list[Strip]]] = {}
        self._starts: list[int] = []  # first body line of each visible row (a wrapped row takes more)
        self._lines = 0  # body lines in all
        self._header: tuple[tuple, Strip] | None = None
        self._layout: list[tuple[Column, int, int]] = []
        self._layout_key: tuple = ()
        self.filter = ""
        self.note = ""  # the pane's own border subtitle (the active filter is shown before it)
        self.empty = ""  # a line shown in place of rows while there are none (how to get some)
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
        """Show only the rows with ``text`` in a cell; the border says so while it is active."""
        self.filter = text.strip().lower()
        self._apply(force=True)
        self._show_subtitle()

    def set_note(self, text: str) -> None:
        """The pane's own border subtitle (after the active filter, if any)."""
        self.note = text
        self._show_subtitle()

    def _show_subtitle(self) -> None:
        parts = [f"filter: {self.filter}"] if self.filter else []
        if self.note:
            parts.append(self.note)
        self.border_subtitle = " · ".join(parts)

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
        old_starts = self._starts
        self._place()
        if selected is not None and selected in self._index:
            self.set_reactive(LiveTable.cursor, self._index[selected])
        elif self.cursor >= len(rows):
            self.set_reactive(LiveTable.cursor, max(0, len(rows) - 1))
        if force or grew or old_keys != [r.key for r in rows] or old_starts != self._starts:
            self.repainted = len(rows)
            self.refresh()
        else:
            changed = 0
            for i, r in enumerate(rows):
                if old.get(r.key) != r:
                    changed += 1
                    self.refresh_lines(self._starts[i] + 1, self._height(i))
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
    def _place(self) -> None:
        """Where each visible row starts: one line each, more for wrapped free text."""
        flex = [(w, i) for c, w, i in self._fit(self._width) if c.flexible] if self._width else []
        starts, at = [], 0
        for r in self._rows:
            starts.append(at)
            tall = 1
            for w, i in flex:
                text = r.cells[i][0] if i < len(r.cells) else ""
                if len(text) > w or "\n" in text:
                    tall = max(tall, len(wrap(text, w)))
            at += tall
        self._starts, self._lines = starts, at
        self.virtual_size = Size(self._width, at + 1)

    def _height(self, index: int) -> int:
        end = self._starts[index + 1] if index + 1 < len(self._starts) else self._lines
        return end - self._starts[index]

    def _row_at(self, line: int) -> tuple[int, int]:
        """(row index, line within the row) of a body line, or (-1, 0) past the end."""
        if not 0 <= line < self._lines:
            return -1, 0
        i = bisect_right(self._starts, line) - 1
        return i, line - self._starts[i]

    def _fit(self, width: int) -> list[tuple[Column, int, int]]:
        """The columns that fit ``width`` (dropping the lowest priority first) and their widths."""
        key = (width, tuple(self._widths.values()))
        if key == self._layout_key:
            return self._layout
        cols = list(enumerate(self.columns))

        def total(cs):
            return sum(self._widths[c.key] if not c.flexible else c.width for _, c in cs) + max(0, len(cs) - 1)

        while cols and total(cols) > width - 1:
            candidates = [c for c in cols if c[0] > 0] or cols
            drop = min(candidates, key=lambda ic: (ic[1].priority, -ic[0]))
            cols.remove(drop)
        fixed = total([c for c in cols if not c[1].flexible])
        layout = []
        for i, c in cols:
            w = self._widths[c.key]
            if c.flexible:
                w = max(c.width, width - 1 - fixed - (1 if len(cols) > 1 else 0))
            layout.append((c, w, i))
        self._layout = layout
        self._layout_key = key
        return self._layout

    def on_resize(self) -> None:
        self._place()
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

    def _cells(self, row_cells: tuple[Cell, ...] | None, labels: bool) -> list[list[tuple[str, Style]]]:
        """The lines of one row (the header: one line); wrapped free text makes more lines."""
        columns = []
        for col, w, i in self._fit(self._width):
            if labels:
                text, role = col.label, "header"
            else:
                text, role = row_cells[i] if row_cells is not None and i < len(row_cells) else ("", "")
            parts = wrap(text, w) if col.flexible and (len(text) > w or "\n" in text) else [text]
            style = self.palette_style(role) if role else Style()
            columns.append([(p.rjust(w) if col.right else p.ljust(w), style) for p in parts])
        tall = max((len(c) for c in columns), default=1)
        blank = [(" " * w, Style()) for _, w, _ in self._fit(self._width)]
        return [[c[n] if n < len(c) else blank[k] for k, c in enumerate(columns)] for n in range(tall)]

    @property
    def _width(self) -> int:
        """The columns a line may use: the pane's width less its scrollbar, when it shows one."""
        return self.scrollable_content_region.width

    def render_line(self, y: int) -> Strip:
        width = self._width
        base = self.rich_style
        if y == 0:
            key = (width, self.generation, tuple(self._widths.values()))
            if self._header is None or self._header[0] != key:
                self._header = (key, self._line(self._cells(None, True)[0], width, base + Style(bold=True)))
            return self._header[1]
        index, sub = self._row_at(int(self.scroll_offset.y) + y - 1)
        if index < 0:
            if not self._rows and (self.empty or self.filter):  # say why the pane is empty
                text = f"no row matches the filter {self.filter!r} (/ then Esc clears it)" if self.filter and self._all else self.empty
                lines = wrap(text, width - 2)
                if y - 1 < len(lines):
                    return self._line([(lines[y - 1], self.palette_style("muted"))], width, base)
            return Strip.blank(width, base)
        row = self._rows[index]
        selected = index == self.cursor
        focused = self.has_focus
        key = (row, width, selected, focused, self.generation, tuple(self._widths.values()))
        hit = self._cache.get(row.key)
        if hit is not None and hit[0] == key:
            return hit[1][sub] if sub < len(hit[1]) else Strip.blank(width, base)
        style = base
        if row.background:
            style = style + self.palette_style(row.background)
        if selected:
            style = style + (self.palette_style("cursor") if focused else Style(underline=True))
        strips = [self._line(line, width, style) for line in self._cells(row.cells, False)]
        if selected and not focused:
            strips = [Strip([Segment(s.text, (s.style or Style()) + Style(underline=True)) for s in strip], width) for strip in strips]
        self._cache[row.key] = (key, strips)
        return strips[sub] if sub < len(strips) else Strip.blank(width, base)

    # ------------------------------------------------------------------ cursor
    def watch_cursor(self, old: int, new: int) -> None:
        for i in (old, new):
            if 0 <= i < len(self._starts):
                self.refresh_lines(self._starts[i] + 1, self._height(i))
        if 0 <= new < len(self._starts):
            top = int(self.scroll_offset.y)
            body = max(1, self.size.height - 1)
            first, last = self._starts[new], self._starts[new] + self._height(new) - 1
            if first < top:
                self.scroll_to(y=first, animate=False)
            elif last >= top + body:
                self.scroll_to(y=min(first, last - body + 1), animate=False)
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
        index, _ = self._row_at(int(self.scroll_offset.y) + event.y - 1)
        if index >= 0:
            self.cursor = index
