"""The option chain screen: expiries as tabs, strikes as rows, calls and puts side by side.

``:chain AAPL`` or ``o`` on a watchlist row opens it. The call's figures are on the left
(mirrored, so bid and ask sit next to the strike), the put's on the right, the at-the-money
row marked; the cursor is on a strike and on one side (call or put), and ``b``/``s`` close the
screen with that contract for the order ticket. At 80 columns a side shows bid, ask, IV and
delta; wider terminals add last, the Greeks, open interest and volume (the same figures drop
from both sides, least useful first).

The screen never blocks: a worker asks the engine for the chain (``EngineAPI.option_chain``)
at most ``FETCH_HZ`` times a second and never twice at once (a tick that finds one in flight
is skipped: the next answer is the newer state anyway), stores the answer, and a timer at
the app's repaint rate shows it: the table repaints only the rows whose text changed, and
the IV smile (``i``) is rebuilt at most ``SMILE_HZ`` times a second, only when shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual_plotext import PlotextPlot

from workstation.core.chain import OptionChain
from workstation.core.chart_series import nice_ticks
from workstation.core.chain_view import FIGURES, StrikeRow, expiry_label, figure, strike_rows, strike_text
from workstation.core.model import IntentError, Right, plain
from workstation.ui.title_line import show_title
from workstation.ui.panes.table import Column, LiveTable, Row

FETCH_HZ = 4.0  # chain requests a second at most (twice the paper market's quote rate)
SMILE_HZ = 2.0  # smile plots built a second at most (plotext builds the whole plot)
STRIKE_KEEP = 100  # the strike column is never dropped


@dataclass(frozen=True, slots=True)
class ChainTrade:
    """What ``b``/``s`` hand back: the side, the contract and the price to prefill (the ask to
    buy, the bid to sell, else the last)."""

    side: str
    symbol: str
    price: float | None


def strike_key(strike: Decimal) -> str:
    """The row key of a strike: its plain digits (``185``, ``187.5``)."""
    return plain(strike) or "0"


def _columns() -> list[Column]:
    calls = [Column(f"c.{f.key}", f.label, len(f.label), right=True, priority=f.keep) for f in reversed(FIGURES)]
    puts = [Column(f"p.{f.key}", f.label, len(f.label), right=True, priority=f.keep) for f in FIGURES]
    return [*calls, Column("strike", "Strike", 8, right=True, priority=STRIKE_KEEP), *puts]


class ChainTable(LiveTable):
    """The strikes: a figure is dropped from both sides at once when the screen is narrow."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(_columns(), id=id)
        self.empty = "no strikes listed for this expiry"

    def _fit(self, width: int) -> list[tuple[Column, int, int]]:
        key = (width, tuple(self._widths.values()))
        if key == self._layout_key:
            return self._layout
        cols = list(enumerate(self.columns))

        def total(cs) -> int:
            return sum(self._widths[c.key] for _, c in cs) + max(0, len(cs) - 1)

        for keep in sorted({c.priority for c in self.columns}):
            if total(cols) <= width - 1 or keep >= STRIKE_KEEP:
                break
            cols = [(i, c) for i, c in cols if c.priority != keep]
        self._layout = [(c, self._widths[c.key], i) for i, c in cols]
        self._layout_key = key
        return self._layout

    def shown_figures(self) -> list[str]:
        """The labels of one side's figures shown now (tests, the bench)."""
        return [c.label for c, _, _ in self._fit(self._width) if c.key.startswith("p.")]

    def palette_style(self, role: str) -> Style:
        if role == "atm":
            return super().palette_style("stale") + Style(bold=True, reverse=True)
        if role == "strike":
            return Style(bold=True)
        if role == "side":
            return Style(bold=True, reverse=True)
        return super().palette_style(role)


class SmilePlot(PlotextPlot):
    """IV against strike for the calls and the puts of the expiry shown (plotext)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text()
        self.built = 0  # plots built (tests and the bench)
        self.points: tuple[list[float], list[float], list[float], list[float]] = ([], [], [], [])

    def render(self) -> Text:
        return self._text

    def on_resize(self) -> None:
        self.draw(self.points, self._title if hasattr(self, "_title") else "")

    def draw(self, points: tuple[list[float], list[float], list[float], list[float]], title: str) -> None:
        self.points, self._title = points, title
        width, height = self.size.width, self.size.height
        if not self.is_mounted or width <= 0 or height <= 0:
            return
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        ck, civ, pk, piv = points
        if ck:
            plt.plot(ck, civ, label="calls", marker="braille", color="cyan")
        if pk:
            plt.plot(pk, piv, label="puts", marker="braille", color="magenta")
        ivs = civ + piv
        if ivs:
            ticks = nice_ticks(min(ivs), max(ivs), max(2, min(5, (height - 4) // 2)))
            plt.yticks(ticks, [f"{t:g}%" for t in ticks])
            ks = ck + pk
            xt = nice_ticks(min(ks), max(ks), max(2, min(8, width // 12)))
            plt.xticks(xt, [f"{t:g}" for t in xt])
        plt.title(title if ivs else f"{title} · no IV to draw")
        plt.plotsize(width, height)
        plt._set_size(width, height)
        plt.theme(self._get_plotext_theme_name(self.app.theme))
        self._text = Text.from_ansi(plt.build())
        self.built += 1
        self.refresh()


class ChainScreen(Screen[ChainTrade | None]):
    DEFAULT_CSS = """
    ChainScreen { layout: vertical; background: $surface; }
    ChainScreen #chain-title { height: 1; padding: 0 1; background: $panel; }
    ChainScreen #chain-tabs { height: 1; padding: 0 1; }
    ChainScreen #chain-table { height: 1fr; }
    ChainScreen #chain-smile { height: 45%; display: none; }
    ChainScreen.-smile #chain-smile { display: block; }
    """

    BINDINGS = [
        Binding("escape,ctrl+g", "close", "Close", id="chain.close", tooltip="Back to the workstation"),
        Binding("b", "trade('buy')", "Buy", id="chain.buy", tooltip="Open the ticket to buy the selected contract"),
        Binding("s", "trade('sell')", "Sell", id="chain.sell", tooltip="Open the ticket to sell the selected contract"),
        Binding("space,tab", "switch_side", "Call/put", id="chain.side", tooltip="Switch the selected side: calls or puts"),
        Binding("left,left_square_bracket", "expiry(-1)", "Prev expiry", id="chain.prev_expiry", tooltip="The previous expiry"),
        Binding("right,right_square_bracket", "expiry(1)", "Next expiry", id="chain.next_expiry", tooltip="The next expiry"),
        Binding("i", "smile", "IV smile", id="chain.smile", tooltip="Show or hide the IV smile of this expiry"),
        Binding("a", "atm", "ATM", show=False, id="chain.atm", tooltip="Back to the strike at the money"),
    ]

    def __init__(self, chain: OptionChain, *, strikes: int | None = 40, repaint_hz: float = 10.0) -> None:
        super().__init__()
        self.chain = chain
        self.underlying = chain.underlying
        self.expiry: date | None = chain.expiry
        self.strikes = strikes
        self.side = Right.CALL
        self.repaint_hz = repaint_hz
        self.rows: list[StrikeRow] = []
        self.error = ""
        self.fetches = 0  # chains received (tests and the bench)
        self.repaints = 0  # table repaints with a new chain (tests and the bench)
        self._fresh: OptionChain | None = chain
        self._fetching = False
        self._cells: dict[str, tuple] = {}
        self._smile_dirty = True
        self._smile_at = 0.0
        self._placed = False
        self.title_line = ""  # the title as plain text (tests)

    def compose(self) -> ComposeResult:
        yield Static("", id="chain-title")
        yield Static("", id="chain-tabs")
        yield ChainTable(id="chain-table")
        yield SmilePlot(id="chain-smile")
        yield Footer()

    @property
    def table(self) -> ChainTable:
        return self.query_one(ChainTable)

    def on_mount(self) -> None:
        self.set_interval(1.0 / FETCH_HZ, self.fetch, name="chain-fetch")
        self.set_interval(1.0 / max(1.0, self.repaint_hz), self.repaint, name="chain-repaint")
        self.repaint()
        self.table.focus()

    # ------------------------------------------------------------------ fetching (worker)
    def fetch(self) -> None:
        """Ask for the chain again unless an answer is still on its way (coalesced)."""
        if self._fetching:
            return
        self._fetching = True
        self.run_worker(self._fetch(self.expiry), group="chain-fetch", exit_on_error=False, name="chain")

    async def _fetch(self, expiry: date | None) -> None:
        engine = self.app.engine  # type: ignore[attr-defined]
        try:
            chain = await engine.option_chain(self.underlying, expiry, self.strikes)
        except IntentError as exc:
            self.error = str(exc)
            return
        except Exception as exc:  # an engine gone or a broker hiccup: one line on the title, the screen stays
            self.error = f"{type(exc).__name__}: {exc}"
            return
        finally:
            self._fetching = False
        if expiry == self.expiry or self.expiry is None:  # not an answer for an expiry left meanwhile
            self.error = ""
            self._fresh = chain
            self.fetches += 1

    # ------------------------------------------------------------------ repaint (timer)
    def repaint(self) -> None:
        fresh, self._fresh = self._fresh, None
        if fresh is not None and self.expiry is not None and fresh.expiry != self.expiry:
            fresh = None  # an answer for the expiry just left
        if fresh is not None:
            self.chain = fresh
            self.expiry = fresh.expiry
            self.rows = strike_rows(fresh)
            self._show_rows()
            self._show_tabs()
            self._smile_dirty = True
            self.repaints += 1
            if not self._placed and self.rows:
                self._placed = True
                self.action_atm()
                self.call_after_refresh(self.reveal)
        self._show_title()
        smile = self.query_one(SmilePlot)
        if self.has_class("-smile") and self._smile_dirty:
            now = self.app.engine.time()  # type: ignore[attr-defined]
            if now - self._smile_at >= 1.0 / SMILE_HZ or now < self._smile_at:
                self._smile_dirty = False
                self._smile_at = now
                smile.draw(self.smile_points(), f"{self.underlying} {self.expiry.isoformat() if self.expiry else ''} IV smile")

    def _today(self) -> date:
        from workstation.core.options import NEW_YORK

        return datetime.fromtimestamp(self.app.engine.time(), NEW_YORK).date()  # type: ignore[attr-defined]

    def _row(self, r: StrikeRow, selected: bool) -> Row:
        key = strike_key(r.strike)
        cached = self._cells.get(key)
        if cached is None or cached[0] != r:  # formatted again only when a figure changed
            calls = tuple((figure(r.call, f.key), "") for f in reversed(FIGURES))
            puts = tuple((figure(r.put, f.key), "") for f in FIGURES)
            k = strike_text(r.strike)
            mid = (f"▸{k}◂", "atm") if r.atm else (k, "strike")
            cached = self._cells[key] = (r, calls, mid, puts)
        _, calls, mid, puts = cached
        if selected:
            if self.side is Right.CALL:
                calls = tuple((t, "side") for t, _ in calls)
            else:
                puts = tuple((t, "side") for t, _ in puts)
        return Row(key, (*calls, mid, *puts))

    def _show_rows(self) -> None:
        table = self.table
        selected = table.selected_key
        if selected is None and self.rows:
            atm = next((r for r in self.rows if r.atm), self.rows[len(self.rows) // 2])
            selected = strike_key(atm.strike)
        keys = {strike_key(r.strike) for r in self.rows}
        self._cells = {k: v for k, v in self._cells.items() if k in keys}
        table.set_rows([self._row(r, strike_key(r.strike) == selected) for r in self.rows])

    def _show_tabs(self) -> None:
        tabs = self.query_one("#chain-tabs", Static)
        expiries = list(self.chain.expiries)
        if not expiries:
            tabs.update("", layout=False)
            return
        today = self._today()
        labels = [expiry_label(d, today) for d in expiries]
        at = expiries.index(self.expiry) if self.expiry in expiries else 0
        room = max(10, self.size.width - 4)
        lo = hi = at  # widen a window around the tab shown while it fits
        used = len(labels[at]) + 2
        while True:
            grew = False
            for j in (hi + 1, lo - 1):
                if 0 <= j < len(labels) and not lo <= j <= hi and used + len(labels[j]) + 3 <= room:
                    used += len(labels[j]) + 3
                    lo, hi = min(lo, j), max(hi, j)
                    grew = True
            if not grew:
                break
        text = Text("‹ " if lo > 0 else "  ", style="dim")
        for j in range(lo, hi + 1):
            if j > lo:
                text.append(" │ ", style="dim")
            text.append(f" {labels[j]} " if j != at else f"[{labels[j]}]", style="bold reverse" if j == at else "")
        if hi < len(labels) - 1:
            text.append(" ›", style="dim")
        if text != getattr(tabs, "_shown", None):
            tabs._shown = text  # type: ignore[attr-defined]
            tabs.update(text, layout=False)  # one line, always: no layout of the screen

    def _show_title(self) -> None:
        c = self.chain
        today = self._today()
        parts: list[tuple[str, str]] = [(c.underlying, "bold")]
        if c.spot is not None:
            parts.append((f"spot {c.spot:,.2f}", ""))
        if self.expiry is not None:
            n = (self.expiry - today).days
            parts.append((f"{self.expiry.isoformat()} ({n} day{'' if n == 1 else 's'})", ""))
        parts.append((f" {'CALLS' if self.side is Right.CALL else 'PUTS'} ", "bold reverse"))
        selected = self.selected_contract()
        if selected is not None:
            parts.append((selected.symbol, ""))
        if self.error:
            parts.append((self.error, "bold red"))
        shown = show_title(self.query_one("#chain-title", Static), parts)
        if shown is not None:
            self.title_line = shown

    # ------------------------------------------------------------------ reads
    def selected_row(self) -> StrikeRow | None:
        key = self.table.selected_key
        return next((r for r in self.rows if strike_key(r.strike) == key), None)

    def selected_contract(self):
        r = self.selected_row()
        return r.side(self.side) if r is not None else None

    def smile_points(self) -> tuple[list[float], list[float], list[float], list[float]]:
        """(call strikes, call IVs in %, put strikes, put IVs in %): contracts with an IV only."""
        out: tuple[list[float], list[float], list[float], list[float]] = ([], [], [], [])
        for r in self.rows:
            for q, (ks, ivs) in ((r.call, (out[0], out[1])), (r.put, (out[2], out[3]))):
                if q is not None and q.iv is not None and math.isfinite(q.iv):
                    ks.append(float(q.strike))
                    ivs.append(q.iv * 100.0)
        return out

    # ------------------------------------------------------------------ keys
    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        if self.rows:
            self._show_rows()
            self._show_title()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_switch_side(self) -> None:
        self.side = Right.PUT if self.side is Right.CALL else Right.CALL
        self._show_rows()
        self._show_title()

    def action_expiry(self, step: int) -> None:
        expiries = list(self.chain.expiries)
        if not expiries:
            return
        at = expiries.index(self.expiry) if self.expiry in expiries else 0
        to = max(0, min(len(expiries) - 1, at + step))
        if expiries[to] == self.expiry:
            return
        self.expiry = expiries[to]  # the cursor stays on its strike where the new expiry lists it
        self._show_tabs()
        self._show_title()
        self._fetching = False  # an answer for the old expiry is dropped when it comes
        self.fetch()

    def action_smile(self) -> None:
        self.toggle_class("-smile")
        self._smile_dirty = True
        self._smile_at = -math.inf
        self.repaint()
        self.call_after_refresh(self.reveal)

    def reveal(self) -> None:
        """Scroll the strikes so the cursor's row is in the middle of what shows."""
        table = self.table
        if not 0 <= table.cursor < len(table.keys):
            return
        body = max(1, table.size.height - 1)
        table.scroll_to(y=max(0, table.cursor - body // 2), animate=False)

    def action_atm(self) -> None:
        atm = next((r for r in self.rows if r.atm), None)
        if atm is not None:
            self.table.select_key(strike_key(atm.strike))

    def action_trade(self, side: str) -> None:
        q = self.selected_contract()
        if q is None:
            self.notify("no contract on this strike", severity="warning")
            return
        raw = q.ask if side == "buy" else q.bid
        price = raw if raw is not None and raw > 0 else q.last if q.last is not None and q.last > 0 else None
        self.dismiss(ChainTrade(side, q.symbol, price))
