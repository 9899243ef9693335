"""The position heatmap: tiles sized by exposure, coloured by day P&L %, grouped by sector.

``Heatmap.show(tiles, base_currency)`` takes the risk report's ``HeatTile`` list (it may be
called every few seconds: the selected symbol stays selected while it is still held). The
layout is ``workstation.risk.treemap`` (squarified, whole cells); each sector has a header row
(its name, its share of the book and its exposure) when it has room for one. A tile reads
``AAPL +1.2% $12.3k`` (on one line, or one figure a line when the tile is taller), as much
as fits, the symbol always first; a short position reads ``-AAPL``; ``—`` when the day's
P&L is unknown. Positions too small for a tile are counted in their sector's ``+N more``.

Colour: five bands of the day P&L % (below -2, -2 to -0.5, -0.5 to 0.5, 0.5 to 2, above 2):
the strong bands on the theme's flash backgrounds (``flash_down``/``flash_up``) in bold, the
mild ones in the ``down``/``up`` text colours, flat in the normal text colour, unknown in
``muted``: every pair is one the theme contrast test keeps readable in 16 colours, and the
sign is in the text, so it reads without colour. Each tile's first line (its symbol) is bold,
and a blank column parts it from its right neighbour. The selected tile is reversed and bold
(underlined when the heatmap does not have the focus).

Keys: arrows or h/j/k/l move to the nearest tile in that direction, Home/End to the first
(largest) and last tile, a click to the tile under the pointer; ``Heatmap.Selected(symbol)`` is posted each time the cursor moves.

Drawn with the Line API: a ``Strip`` per row, built once per layout, data, selection, focus
and theme, so a repaint only hands back cached strips.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from workstation.risk.report_doc import HeatTile
from workstation.risk.treemap import MORE_GROUP, Layout, layout

__all__ = ["BANDS", "Heatmap", "band", "compact_money", "tile_lines"]

MIN_W = 5  # four characters of label and the gap that parts a tile from its right neighbour
BANDS = (-2.0, -0.5, 0.5, 2.0)  # day P&L % band edges
_BAND_ROLE = {None: "muted", 0: "strong_down", 1: "down", 2: "flat", 3: "up", 4: "strong_up"}
_BOLD = Style(bold=True)  # a tile's first line (its symbol): where one tile ends and the next begins
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def band(pct: float | None) -> int | None:
    """The colour band of a day P&L %: 0 (below -2%) … 4 (above +2%); None when unknown."""
    if pct is None or not math.isfinite(pct):
        return None
    return sum(1 for edge in BANDS if pct > edge) if pct >= 0 else sum(1 for edge in BANDS if pct >= edge)


def compact_money(value: float, currency: str = "USD") -> str:
    """``$12.3k``, ``$1.2M``, ``€950``: an absolute exposure in a few characters."""
    sign = _SYMBOLS.get(currency, "")
    v = abs(value)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= size * 0.9995:
            text = f"{v / size:.1f}{unit}"
            break
    else:
        text = f"{v:.0f}"
    return f"{sign}{text}" if sign else f"{text} {currency}"


def _pct(pct: float | None) -> str:
    if pct is None or not math.isfinite(pct):
        return "—"
    text = f"{pct:+.1f}%"
    return "+0.0%" if text == "-0.0%" else text


def tile_lines(tile: HeatTile | None, hidden: int, width: int, height: int, currency: str) -> list[str]:
    """What a tile of ``width`` x ``height`` characters says, a line each (at most ``height``),
    the symbol first; ``tile`` None: a "+N more" tile standing for ``hidden`` positions."""
    if width <= 0 or height <= 0:
        return []
    if tile is None:
        words = [f"+{hidden} more", f"+{hidden}"]
        return [next((w for w in words if len(w) <= width), words[-1][:width])]
    name = ("-" if tile.exposure < 0 else "") + tile.symbol
    parts = [name, _pct(tile.day_pnl_pct), compact_money(tile.exposure, currency)]
    if height == 1:
        line = parts[0]
        for p in parts[1:]:
            if len(line) + 1 + len(p) <= width:
                line += " " + p
            else:
                break
        return [line[:width]]
    if height == 2:
        second = parts[1]
        if len(second) + 1 + len(parts[2]) <= width:
            second += " " + parts[2]
        return [parts[0][:width], second if len(second) <= width else ""]
    return [p[:width] if i == 0 else (p if len(p) <= width else "") for i, p in enumerate(parts)]


@dataclass(frozen=True, slots=True)
class _Cell:
    """A tile as drawn: its place, what it shows, its colour role."""

    index: int  # in the layout's tiles
    symbol: str | None
    x: int
    y: int
    w: int
    h: int
    lines: tuple[str, ...]
    role: str


class Heatmap(Widget, can_focus=True):
    """The positions as a treemap of tiles; see the module docstring."""

    DEFAULT_CSS = """
    Heatmap { width: 1fr; height: 1fr; }
    """

    BINDINGS = [
        Binding("left,h", "move('left')", "Left", show=False, id="heatmap.left"),
        Binding("right,l", "move('right')", "Right", show=False, id="heatmap.right"),
        Binding("up,k", "move('up')", "Up", show=False, id="heatmap.up"),
        Binding("down,j", "move('down')", "Down", show=False, id="heatmap.down"),
        Binding("home", "first", "First", show=False, id="heatmap.first", tooltip="The largest position"),
        Binding("end", "last", "Last", show=False, id="heatmap.last", tooltip="The smallest position shown"),
    ]

    @dataclass
    class Selected(Message):
        """The cursor moved to the tile of ``symbol``."""

        symbol: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._tiles: list[HeatTile] = []
        self._by_symbol: dict[str, HeatTile] = {}
        self._currency = "USD"
        self._selected: str | None = None
        self._layout: Layout | None = None
        self._layout_key: tuple = ()
        self._cells: list[_Cell] = []
        self._strips: list[Strip] = []
        self._strips_key: tuple = ()
        self._data_generation = 0
        self._fallback: dict[str, Style] | None = None

    # ------------------------------------------------------------------ data
    @property
    def selected(self) -> str | None:
        """The selected tile's symbol (None: no positions)."""
        return self._selected

    @property
    def symbols(self) -> list[str]:
        """The symbols that have a tile now, in layout order (largest sector, largest first)."""
        return [c.symbol for c in self._laid_out() if c.symbol is not None]

    def show(self, tiles: Sequence[HeatTile], base_currency: str) -> None:
        """Draw these positions; the selected symbol stays selected while it is still here."""
        self._by_symbol = {t.symbol: t for t in tiles if math.isfinite(t.exposure) and t.exposure != 0.0}
        self._tiles = list(self._by_symbol.values())
        self._currency = base_currency
        self._data_generation += 1
        self._layout = None
        self._strips_key = ()
        if self._selected is not None and self._selected in self._by_symbol:
            self.refresh()
            return
        self._selected = None
        if self.size.width > 0:
            self._select_first()
        self.refresh()

    # ------------------------------------------------------------------ layout
    def _laid_out(self) -> list[_Cell]:
        width, height = self.size.width, self.size.height
        key = (width, height, self._data_generation)
        if self._layout is not None and key == self._layout_key:
            return self._cells
        groups: dict[str, list[tuple[str, float]]] = {}
        for t in self._tiles:
            groups.setdefault(t.sector or "Other", []).append((t.symbol, abs(t.exposure)))
        self._layout = layout(groups, width, height, min_w=MIN_W, min_h=1)
        self._layout_key = key
        self._cells = []
        for i, tile in enumerate(self._layout.tiles):
            heat = self._by_symbol.get(tile.key) if tile.key is not None else None
            lines = tile_lines(heat, len(tile.hidden), tile.w - 1, tile.h, self._currency)
            role = "muted" if heat is None else _BAND_ROLE[band(heat.day_pnl_pct)]
            self._cells.append(_Cell(index=i, symbol=tile.key, x=tile.x, y=tile.y, w=tile.w, h=tile.h, lines=tuple(lines), role=role))
        self._strips_key = ()
        return self._cells

    def _select_first(self) -> None:
        symbols = self.symbols
        if symbols:
            self._move_to(symbols[0])

    def _move_to(self, symbol: str) -> None:
        if symbol == self._selected:
            return
        self._selected = symbol
        self._strips_key = ()
        self.refresh()
        self.post_message(self.Selected(symbol))

    def on_resize(self) -> None:
        self._layout = None
        self._strips_key = ()
        if self._selected is None or self._selected not in self.symbols:
            self._selected = None
            self._select_first()

    # ------------------------------------------------------------------ keys
    def action_move(self, direction: str) -> None:
        cells = [c for c in self._laid_out() if c.symbol is not None]
        here = next((c for c in cells if c.symbol == self._selected), None)
        if here is None:
            self._select_first()
            return
        best: tuple[float, float, int] | None = None
        target: _Cell | None = None
        for c in cells:
            if c is here:
                continue
            if direction == "right":
                ahead, gap = c.x - (here.x + here.w), _gap(here.y, here.h, c.y, c.h) * 2
            elif direction == "left":
                ahead, gap = here.x - (c.x + c.w), _gap(here.y, here.h, c.y, c.h) * 2
            elif direction == "down":
                ahead, gap = (c.y - (here.y + here.h)) * 2, _gap(here.x, here.w, c.x, c.w)
            else:
                ahead, gap = (here.y - (c.y + c.h)) * 2, _gap(here.x, here.w, c.x, c.w)
            if ahead < 0:
                continue
            centre = abs((c.y + c.h / 2) - (here.y + here.h / 2)) * 2 if direction in ("left", "right") else abs((c.x + c.w / 2) - (here.x + here.w / 2))
            score = (ahead + 2 * gap, centre, c.index)
            if best is None or score < best:
                best, target = score, c
        if target is not None and target.symbol is not None:
            self._move_to(target.symbol)

    def on_click(self, event: events.Click) -> None:
        """A click selects the tile under the pointer."""
        for c in self._laid_out():
            if c.symbol is not None and c.x <= event.x < c.x + c.w and c.y <= event.y < c.y + c.h:
                self._move_to(c.symbol)
                return

    def action_first(self) -> None:
        symbols = self.symbols
        if symbols:
            self._move_to(symbols[0])

    def action_last(self) -> None:
        symbols = self.symbols
        if symbols:
            self._move_to(symbols[-1])

    # ------------------------------------------------------------------ drawing
    def _styles(self) -> dict[str, Style]:
        palette = getattr(self.app, "palette_styles", None)
        if palette is None:
            if self._fallback is None:
                from themes import DEFAULT, load_themes

                p = load_themes()[DEFAULT].palette
                self._fallback = {"up": Style(color=p.up), "down": Style(color=p.down), "muted": Style(color=p.muted),
                                  "flash_up": Style(bgcolor=p.flash_up), "flash_down": Style(bgcolor=p.flash_down),
                                  "header": Style(color=p.muted, bold=True)}
            palette = self._fallback
        return palette

    def _role_style(self, palette: dict[str, Style], role: str) -> Style:
        if role == "strong_up":
            return palette.get("flash_up", Style()) + Style(bold=True)
        if role == "strong_down":
            return palette.get("flash_down", Style()) + Style(bold=True)
        if role == "flat":
            return Style()
        return palette.get(role, Style())

    def _build(self) -> list[Strip]:
        width, height = self.size.width, self.size.height
        cells = self._laid_out()
        palette = self._styles()
        base = self.rich_style
        key = (width, height, self._data_generation, self._selected, self.has_focus, id(palette), base)
        if key == self._strips_key:
            return self._strips
        rows: list[list[tuple[int, str, Style]]] = [[] for _ in range(height)]  # (x, text, style) per row
        if not self._tiles:
            text = "no positions"[:width]
            strips = [Strip([Segment(text, base + palette.get("muted", Style())), Segment(" " * (width - len(text)), base)], width)]
            strips += [Strip.blank(width, base)] * max(0, height - 1)
            self._strips, self._strips_key = strips, key
            return strips
        layout_ = self._layout
        assert layout_ is not None
        total = sum(g.weight for g in layout_.groups) or 1.0
        header_style = base + palette.get("header", Style(bold=True))
        for g in layout_.groups:
            if not g.header or g.name == MORE_GROUP:
                continue
            share = f"{g.name} {g.weight / total * 100:.0f}%"
            label = next((t for t in (f"{share} {compact_money(g.weight, self._currency)}", share) if len(t) <= g.w - 1), g.name)
            rows[g.y].append((g.x, (label[: g.w - 1]).ljust(g.w), header_style))
        cursor = Style(reverse=True, bold=True) if self.has_focus else Style(bold=True, underline=True)
        looks: dict[tuple[str, bool], tuple[Style, Style]] = {}  # (role, selected) -> (first line, the rest)
        blanks: dict[int, str] = {}
        for c in cells:
            if c.w <= 0 or c.h <= 0:
                continue
            selected = c.symbol is not None and c.symbol == self._selected
            look = looks.get((c.role, selected))
            if look is None:
                style = base + self._role_style(palette, c.role)
                if selected:
                    style = style + cursor
                look = looks[(c.role, selected)] = (style + _BOLD, style)
            inner = c.w - 1
            for dy in range(c.h):
                text = c.lines[dy] if dy < len(c.lines) else ""
                row = rows[c.y + dy]
                if inner > 0:
                    row.append((c.x, text.ljust(inner) if text else blanks.setdefault(inner, " " * inner), look[0] if dy == 0 else look[1]))
                row.append((c.x + max(inner, 0), " ", base))  # the gap that parts it from its right neighbour
        strips = []
        for row in rows:
            row.sort(key=lambda r: r[0])
            strips.append(Strip([Segment(text, style) for _, text, style in row if text], width).crop(0, width))
        self._strips, self._strips_key = strips, key
        return strips

    def render_line(self, y: int) -> Strip:
        # a repaint asks for every line in turn: the (costlier) check of what changed runs at
        # its first line, the rest hand back the strips built then
        strips = self._strips if y and self._strips_key else self._build()
        if 0 <= y < len(strips):
            return strips[y]
        return Strip.blank(self.size.width, self.rich_style)

    def on_focus(self) -> None:
        self._strips_key = ()
        self.refresh()

    def on_blur(self) -> None:
        self._strips_key = ()
        self.refresh()


def _gap(a: int, alen: int, b: int, blen: int) -> int:
    """The distance between the spans [a, a+alen) and [b, b+blen) (0 when they overlap)."""
    if b >= a + alen:
        return b - (a + alen) + 1
    if a >= b + blen:
        return a - (b + blen) + 1
    return 0
