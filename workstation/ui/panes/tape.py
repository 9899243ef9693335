"""Time and sales: one symbol's prints, newest first, as a Line API widget.

Each line is a print's time (UTC, to the millisecond where the pane is wide enough), price
at the instrument's tick digits, size, and the aggressor as a letter (``B`` lifted the offer,
``S`` hit the bid, ``·`` the venue does not say) in the theme's up and down colours, so
the side reads in 16 colours and in monochrome alike. A **large print** (a size at least
``LARGE_FACTOR`` times the median of the last ``MEDIAN_OF`` prints, once ``MIN_PRINTS`` have
come) is shown in reverse video with a ``◆`` after its letter.

The widget only stores what it is given (``add``, ``set_prints``); the screen that owns it
calls ``flush`` from its repaint timer, so a burst of prints costs one repaint.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from statistics import median

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from workstation.core.book import TradePrint
from workstation.core.formatting import price as fmt_price
from workstation.core.formatting import quantity

LARGE_FACTOR = 5.0  # a print this many times the median size is large
MEDIAN_OF = 200  # the median is taken over this many latest prints
MIN_PRINTS = 10  # fewer prints than this: no median, nothing is large
KEEP = 200  # prints the pane holds


def large_threshold(sizes: list[float], factor: float = LARGE_FACTOR) -> float | None:
    """The size from which a print is large: ``factor`` x the median of ``sizes`` (the latest
    first; at most ``MEDIAN_OF`` of them count); None with fewer than ``MIN_PRINTS``."""
    recent = [s for s in sizes[:MEDIAN_OF] if s > 0]
    if len(recent) < MIN_PRINTS:
        return None
    return median(recent) * factor


class TapePane(Widget):
    """The prints of one symbol, newest first (header line, then one line per print)."""

    DEFAULT_CSS = """
    TapePane { height: 1fr; }
    """

    def __init__(self, digits: int, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.digits = digits
        self.prints: deque[TradePrint] = deque(maxlen=KEEP)
        self.threshold: float | None = None
        self.price_w = 9  # the price column: as wide as the widest price held
        self.repaints = 0  # flushes that changed the pane (tests and the bench)
        self._dirty = False
        self._cache: dict[int, tuple[tuple, Strip]] = {}

    # ------------------------------------------------------------------ data
    def set_prints(self, prints: list[TradePrint]) -> None:
        """Replace what is shown with ``prints`` (newest first)."""
        self.prints.clear()
        self.prints.extend(prints[:KEEP])
        self._dirty = True

    def add(self, p: TradePrint) -> None:
        """One new print (it goes on top)."""
        self.prints.appendleft(p)
        self._dirty = True

    def flush(self) -> bool:
        """Repaint if anything came since the last flush; True if it did."""
        if not self._dirty:
            return False
        self._dirty = False
        self.threshold = large_threshold([p.size for p in self.prints])
        self.price_w = max([9, *(len(fmt_price(p.price, self.digits)) for p in self.prints)])
        self.repaints += 1
        self.refresh()
        return True

    def is_large(self, p: TradePrint) -> bool:
        return self.threshold is not None and p.size >= self.threshold

    def lines(self) -> list[str]:
        """The pane's rows as plain text, header first (tests)."""
        width = max(30, self.size.width)
        return [self._text(None, width)] + [self._text(p, width) for p in self.prints]

    # ------------------------------------------------------------------ rendering
    def _style(self, role: str) -> Style:
        return getattr(self.app, "palette_styles", {}).get(role, Style())

    def _text(self, p: TradePrint | None, width: int) -> str:
        millis = width >= 34
        tw = 12 if millis else 8
        pw = self.price_w
        if p is None:
            return f" {'Time':<{tw}} {'Price':>{pw}} {'Size':>9}  Side"
        t = datetime.fromtimestamp(p.ts, UTC)
        when = t.strftime("%H:%M:%S") + (f".{t.microsecond // 1000:03d}" if millis else "")
        letter = {"buy": "B", "sell": "S"}.get(p.aggressor, "·")
        mark = " ◆" if self.is_large(p) else ""
        return f" {when:<{tw}} {fmt_price(p.price, self.digits):>{pw}} {quantity(p.size):>9}  {letter}{mark}"

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            return self._strip(self._text(None, width), width, base + self._style("header"))
        if y - 1 >= len(self.prints):
            if y == 1 and not self.prints:
                return self._strip(" no trades yet", width, base + self._style("muted"))
            return Strip.blank(width, base)
        p = self.prints[y - 1]
        large = self.is_large(p)
        key = (p, width, large, self.digits, id(getattr(self.app, "palette_styles", None)))
        hit = self._cache.get(y)
        if hit is not None and hit[0] == key:
            return hit[1]
        role = {"buy": "up", "sell": "down"}.get(p.aggressor, "muted")
        style = base + self._style(role)
        if large:
            style = style + Style(bold=True, reverse=True)
        strip = self._strip(self._text(p, width), width, style)
        self._cache[y] = (key, strip)
        return strip

    @staticmethod
    def _strip(text: str, width: int, style: Style) -> Strip:
        return Strip([Segment(text[:width].ljust(width), style)], width)

    def on_resize(self) -> None:
        self._cache.clear()
