"""The watchlist: last, change, bid/ask, volume and a trend per symbol, flashing on moves.

Quotes are not drawn as they arrive: the app stores the latest quote per symbol and calls
``update`` at the capped repaint rate, so a burst of ticks becomes one repaint of only the
rows that changed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from textual.binding import Binding
from textual.message import Message

from workstation.core import formatting as fmt
from workstation.core.model import Quote
from workstation.ui.panes.table import Column, LiveTable, Row

SPARK = "▁▂▃▄▅▆▇█"
# data-quality badges as the flag column shows them, most urgent first
BADGES = (("crossed", "X"), ("locked", "LCK"), ("spike", "SPK"), ("gap", "GAP"))
FLASH_FRAMES = 3  # repaints a flash lasts


def sparkline(points: list[float], width: int = 8) -> str:
    pts = points[-width:]
    if len(pts) < 2:
        return ""
    lo, hi = min(pts), max(pts)
    if hi - lo <= 0:
        return SPARK[3] * len(pts)
    return "".join(SPARK[min(7, int((p - lo) / (hi - lo) * 7.999))] for p in pts)


def fmt_volume(v: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if v >= size:
            return f"{v / size:.1f}{unit}"
    return f"{v:.0f}"


@dataclass(slots=True)
class SymbolState:
    quote: Quote | None = None
    flash: int = 0
    direction: int = 0
    spark: deque[float] = field(default_factory=lambda: deque(maxlen=24))
    bucket: float = -1.0
    row: Row | None = None  # the last row built: rebuilt only when something changed
    stale: bool = False
    badges: tuple[str, ...] = ()  # from the data-quality monitor: crossed, locked, spike, gap, stale


class WatchlistPane(LiveTable):
    """Symbols of the active named list; ``b``/``s`` open the ticket prefilled."""

    BINDINGS = [
        Binding("b", "trade('buy')", "Buy", id="watchlist.buy", tooltip="Open the ticket to buy the selected symbol"),
        Binding("s", "trade('sell')", "Sell", id="watchlist.sell", tooltip="Open the ticket to sell the selected symbol"),
        Binding("a", "add", "Add", id="watchlist.add", tooltip="Add a symbol to this list"),
        Binding("d,delete", "remove", "Remove", id="watchlist.remove", tooltip="Remove the selected symbol"),
        Binding("right_square_bracket", "cycle(1)", "Next list", id="watchlist.next_list"),
        Binding("left_square_bracket", "cycle(-1)", "Prev list", id="watchlist.prev_list"),
    ]

    # narrow, the sparkline goes first, then volume, bid/ask, change; a data-quality flag stays
    COLUMNS = [
        Column("symbol", "Symbol", 8, priority=9),
        Column("last", "Last", 9, right=True, priority=8),
        Column("chg", "Chg", 7, right=True, priority=5),
        Column("pct", "Chg%", 7, right=True, priority=7),
        Column("bid", "Bid", 9, right=True, priority=4),
        Column("ask", "Ask", 9, right=True, priority=4),
        Column("vol", "Volume", 6, right=True, priority=2),
        Column("trend", "Trend", 8, priority=1),
        Column("flag", "", 5, priority=6),
    ]

    class Trade(Message):
        """``b`` or ``s`` on a row: open the ticket for this symbol at its last price."""

        def __init__(self, side: str, symbol: str, price: float | None) -> None:
            super().__init__()
            self.side, self.symbol, self.price = side, symbol, price

    class AddSymbol(Message):
        pass

    class RemoveSymbol(Message):
        def __init__(self, symbol: str) -> None:
            super().__init__()
            self.symbol = symbol

    class CycleList(Message):
        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(list(self.COLUMNS), id=id, classes=classes)
        self.symbols: list[str] = []
        self.state: dict[str, SymbolState] = {}
        self.digits: dict[str, int] = {}
        self.stale_after = 15.0
        self.spark_seconds = 5.0
        self.plain = False  # low bandwidth: no flashing, no sparklines

    def show_list(self, active: str, names: list[str]) -> None:
        """The border names the list shown; with several, which of them and the keys to switch."""
        if len(names) > 1 and active in names:
            self.set_note(f"{active} · {names.index(active) + 1}/{len(names)} lists · [ ] switch")
        else:
            self.set_note(active)

    def set_symbols(self, symbols: list[str], digits: dict[str, int]) -> None:
        self.symbols = list(symbols)
        self.digits.update(digits)
        for s in symbols:
            self.state.setdefault(s, SymbolState())

    def on_quote(self, q: Quote) -> None:
        """Take in the latest quote of a symbol (called at the repaint rate, not per tick)."""
        st = self.state.get(q.symbol)
        if st is None:
            return
        if st.quote is not None and q.last != st.quote.last:
            st.direction = 1 if q.last > st.quote.last else -1
            st.flash = 0 if self.plain else FLASH_FRAMES
        bucket = q.ts // self.spark_seconds
        if bucket != st.bucket or not st.spark:
            st.spark.append(q.last)
            st.bucket = bucket
        else:
            st.spark[-1] = q.last
        st.quote = q
        st.row = None

    def set_badges(self, symbol: str, badges: tuple[str, ...]) -> None:
        """The data-quality badges of a symbol changed: its row is rebuilt at the next repaint."""
        st = self.state.get(symbol)
        if st is not None and tuple(badges) != st.badges:
            st.badges = tuple(badges)
            st.row = None

    @property
    def pending(self) -> bool:
        """A row waits to be rebuilt (a new quote, a flash running or just ended)."""
        return any(st.row is None or st.flash for st in self.state.values())

    def repaint(self, now: float) -> None:
        rows = []
        for sym in self.symbols:
            st = self.state[sym]
            stale = st.quote is not None and (now - st.quote.ts > self.stale_after or "stale" in st.badges)
            if st.row is None or st.flash or stale != st.stale:
                st.stale = stale
                st.row = self._row(sym, st, now)
            rows.append(st.row)
            if st.flash:
                st.flash -= 1
                if not st.flash:
                    st.row = None  # the flash is over: redraw without it
        self.set_rows(rows)

    def _row(self, sym: str, st: SymbolState, now: float) -> Row:
        q = st.quote
        flag = " ".join(short for badge, short in BADGES if badge in st.badges)
        if q is None:
            return Row(sym, ((sym, ""), ("—", "muted"), ("", ""), ("", ""), ("", ""), ("", ""), ("", ""), ("", ""), (flag, "stale")))
        d = self.digits.get(sym, 2)
        move = "up" if q.change > 0 else "down" if q.change < 0 else ""
        stale = now - q.ts > self.stale_after or "stale" in st.badges
        if stale:
            flag = f"{flag} STALE" if flag else "STALE"
        cells = (
            (sym, ""),
            (fmt.price(q.last, d), ""),
            (fmt.price_change(q.change, d), move),
            (fmt.percent(q.change_pct, signed=True), move),
            (fmt.price(q.bid, d), "muted"),
            (fmt.price(q.ask, d), "muted"),
            (fmt_volume(q.volume), "muted"),
            ("" if self.plain else sparkline(list(st.spark)), move or "muted"),
            (flag, "stale"),
        )
        background = ("flash_up" if st.direction > 0 else "flash_down") if st.flash else ""
        return Row(sym, cells, background)

    # -- actions
    def action_trade(self, side: str) -> None:
        sym = self.selected_key
        if sym is None:
            self.app.bell()
            return
        q = self.state.get(sym, SymbolState()).quote
        self.post_message(self.Trade(side, sym, q.last if q else None))

    def action_add(self) -> None:
        self.post_message(self.AddSymbol())

    def action_remove(self) -> None:
        if self.selected_key is not None:
            self.post_message(self.RemoveSymbol(self.selected_key))

    def action_cycle(self, step: int) -> None:
        self.post_message(self.CycleList(step))
