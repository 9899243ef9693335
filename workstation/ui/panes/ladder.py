"""The depth ladder's body: one line per price, drawn on Textual's Line API.

``Ladder`` holds one content key per line (the cells and their palette roles, as
``DepthScreen`` computes them) and repaints only the lines whose key changed; each line's
``Strip`` is kept until its content, the width or the theme changes. ``size_bar`` is the bar
drawn beside a level's size.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


class Ladder(Widget):
    """The ladder's lines (header first), drawn from what the screen computed (``show``)."""

    DEFAULT_CSS = """
    Ladder { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[tuple] = []  # one key per body line: what it shows
        self._strips: dict[int, tuple[tuple, Strip]] = {}
        self.header: tuple = ()
        self.repaints = 0  # lines rebuilt (tests and the bench)

    def show(self, header: tuple, rows: list[tuple]) -> None:
        """New content: only the lines whose content changed are repainted."""
        width = self.size.width
        if header != self.header:
            self.header = header
            self.refresh(Region(0, 0, width, 1))
        old = self.rows
        self.rows = rows
        for y, row in enumerate(rows):
            if y >= len(old) or old[y] != row:
                self.refresh(Region(0, y + 1, width, 1))
        if len(old) > len(rows):
            self.refresh(Region(0, len(rows) + 1, width, len(old) - len(rows)))

    def _style(self, role: str) -> Style:
        return getattr(self.app, "palette_styles", {}).get(role, Style()) if role else Style()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            return _strip(self.header, width, base, self._style)
        if y - 1 >= len(self.rows):
            return Strip.blank(width, base)
        row = self.rows[y - 1]
        key = (row, width, id(getattr(self.app, "palette_styles", None)))
        hit = self._strips.get(y)
        if hit is not None and hit[0] == key:
            return hit[1]
        strip = _strip(row, width, base, self._style)
        self._strips[y] = (key, strip)
        self.repaints += 1
        return strip

    def on_resize(self) -> None:
        self._strips.clear()

    def plain_lines(self) -> list[str]:
        """The ladder as plain text, header first (tests)."""
        return ["".join(t for t, _ in self.header[0])] + ["".join(t for t, _ in r[0]) for r in self.rows]


def _strip(row: tuple, width: int, base: Style, style_of) -> Strip:
    """A line from ``row``: (((text, role), ...), the line's role); a role may join several with ``+``."""
    cells, line_role = row if row else ((), "")
    line = base + style_of(line_role) if line_role else base
    segments, used = [], 0
    for text, role in cells:
        st = line
        for r in role.split("+") if role else ():
            st = st + (Style(reverse=True) if r == "reverse" else Style(bold=True) if r == "bold" else style_of(r))
        segments.append(Segment(text, st))
        used += len(text)
    if used < width:
        segments.append(Segment(" " * (width - used), line))
    return Strip(segments, max(width, used)).crop(0, width)



def size_bar(size: float, biggest: float, width: int) -> str:
    """A bar of full blocks as long as ``size`` against ``biggest`` over ``width`` columns (one at least)."""
    if size <= 0 or biggest <= 0 or width <= 0:
        return ""
    return "█" * max(1, min(width, round(size / biggest * width)))
