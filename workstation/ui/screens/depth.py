"""The depth ladder: a price row for every tick, the book's sizes either side, orders worked
from the keyboard; time and sales beside it (below it on a small terminal).

``:depth AAPL`` or ``D`` on a watchlist (or positions) row opens it; ``:tape AAPL`` opens the
time and sales alone. Prices run down the middle on the instrument's tick grid (higher
prices on top), every tick a row even where the book has no size; bid sizes are on the
left, ask sizes on the right, each with a bar as long as its size against the largest
level shown. The user's working orders are marked at their levels (``B 300`` on the bid
side, ``S 200`` on the ask side; several orders at one price summed). A trade flashes its
price for about a second (``FLASH_NS``), in the aggressor's colour.

Keys: ``↑ ↓ k j`` move the cursor a tick, ``PgUp PgDn`` a page, ``space``/``home`` centre
the touch again. ``b``/``s`` review a LIMIT at the cursor's price (the quantity is the
ticket's, or digits typed on the ladder: ``300 b``); the order goes through the same review
and the one order door as any other. ``m`` moves a working order to the cursor's price (a
replace, confirmed first): the order at the cursor's level is picked up by a first ``m``
and put down by a second one elsewhere; with one working order in the symbol a single ``m``
moves it. ``c`` cancels the order(s) at the cursor's level (asks first). Escape drops a
picked-up order, then closes the screen and stops the book.

Data comes only through the ``EngineAPI``: ``watch_depth`` when the screen opens (a broker
without depth: its one-line reason is what the screen shows), then ``BookView`` and
``TradePrint`` events handed over by the app (``WorkstationApp.depth_sink``) are only stored;
a timer at the app's repaint rate draws what changed (one repaint per frame at most: the
ladder rebuilds only the lines whose content changed). ``unwatch_depth`` when it closes.
"""

from __future__ import annotations

from decimal import Decimal

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, Static

from workstation.api import IntentError, working
from workstation.core.book import BookView, TradePrint
from workstation.core.clock import perf_ns
from workstation.core.formatting import price as fmt_price
from workstation.core.formatting import quantity, tick_digits
from workstation.core.model import Instrument, ModelError, Order, OrderEvent, OrderRequest, OrderType, Side, TimeInForce, plain
from workstation.ui.title_line import show_title
from workstation.ui.panes.ladder import Ladder, size_bar
from workstation.ui.panes.tape import TapePane

LEVELS = 50  # levels each side asked of the engine (more than a tall ladder shows)
FLASH_NS = 1_000_000_000  # a trade's flash lasts this long
WIDE = 120  # from this many columns the tape sits beside the ladder
MINE_W = 9  # columns for the user's orders on each side
SIZE_W = 9  # columns for a level's size
BAR_MAX = 30  # the longest size bar (columns)


class DepthScreen(Screen[None]):
    DEFAULT_CSS = """
    DepthScreen { layout: vertical; background: $surface; }
    DepthScreen #depth-title { height: 1; padding: 0 1; background: $panel; }
    DepthScreen #depth-body { height: 1fr; layout: vertical; }
    DepthScreen.-wide #depth-body { layout: horizontal; }
    DepthScreen #depth-ladder { width: 1fr; height: 1fr; }
    DepthScreen #depth-tape { width: 1fr; height: 7; border-top: solid $panel-lighten-2; }
    DepthScreen.-wide #depth-tape { height: 1fr; width: 46; border-top: none; border-left: solid $panel-lighten-2; }
    DepthScreen.-tape #depth-ladder { display: none; }
    DepthScreen.-tape #depth-tape { height: 1fr; width: 1fr; border: none; }
    """

    BINDINGS = [
        Binding("escape,ctrl+g", "close", "Close", id="depth.close", tooltip="Drop a picked-up order, else back to the workstation"),
        Binding("up,k", "move(1)", "Up", show=False, id="depth.up", tooltip="Cursor one tick up"),
        Binding("down,j", "move(-1)", "Down", show=False, id="depth.down", tooltip="Cursor one tick down"),
        Binding("pageup", "page(1)", "Page up", show=False, id="depth.page_up", tooltip="Cursor a page up"),
        Binding("pagedown", "page(-1)", "Page down", show=False, id="depth.page_down", tooltip="Cursor a page down"),
        Binding("space,home", "centre", "Centre", id="depth.centre", tooltip="Centre the ladder on the touch"),
        Binding("b", "trade('buy')", "Buy", id="depth.buy", tooltip="Review a limit buy at the cursor's price (quantity: digits typed first, else the ticket's)"),
        Binding("s", "trade('sell')", "Sell", id="depth.sell", tooltip="Review a limit sell at the cursor's price"),
        Binding("m", "move_order", "Move", id="depth.move", tooltip="Move a working order to the cursor's price (pick it up at its level, put it down with m)"),
        Binding("c", "cancel_order", "Cancel", id="depth.cancel", tooltip="Cancel the working order at the cursor's level (asks first)"),
    ]

    def __init__(self, inst: Instrument, *, tape_only: bool = False, repaint_hz: float = 10.0, default_qty: str = "") -> None:
        super().__init__()
        self.inst = inst
        self.symbol = inst.symbol
        self.tick = inst.tick_size
        self.digits = tick_digits(inst.tick_size)
        self.tape_only = tape_only
        self.repaint_hz = repaint_hz
        self.default_qty = default_qty
        self.qty_text = ""  # digits typed on the ladder: the next order's quantity
        self.view: BookView | None = None
        self.error = ""
        self.cursor: int | None = None  # the cursor's price in ticks
        self.top: int | None = None  # the top row's price in ticks
        self.picked: str | None = None  # the id of an order picked up by m
        self.watching = False
        self.repaints = 0  # repaints with something new (tests and the bench)
        self.title_line = ""
        self._fresh_view: BookView | None = None
        self._fresh_prints: list[TradePrint] = []
        self._orders_dirty = True
        self._orders: list[Order] = []
        self._flash: dict[int, tuple[int, str]] = {}  # tick -> (perf_ns, aggressor)
        self._moved = True
        self._on_book = False  # the ladder was centred on a book (not only on the last price)

    def compose(self) -> ComposeResult:
        yield Static("", id="depth-title")
        with Container(id="depth-body"):
            yield Ladder(id="depth-ladder")
            yield TapePane(self.digits, id="depth-tape")
        yield Footer()

    @property
    def ladder(self) -> Ladder:
        return self.query_one(Ladder)

    @property
    def tape(self) -> TapePane:
        return self.query_one(TapePane)

    def on_mount(self) -> None:
        self.set_class(self.tape_only, "-tape")
        self.set_class(self.app.size.width >= WIDE, "-wide")
        self.app.depth_sink = self.take  # type: ignore[attr-defined]
        self.set_interval(1.0 / max(1.0, self.repaint_hz), self.repaint, name="depth-repaint")
        self.run_worker(self._watch(), group="depth", exit_on_error=False, name="depth")
        self.repaint()

    def on_unmount(self) -> None:
        app = self.app
        if getattr(app, "depth_sink", None) == self.take:
            app.depth_sink = None  # type: ignore[attr-defined]
        if self.watching and not getattr(app, "_stopped", False):
            self.watching = False
            app.run_worker(app.engine.unwatch_depth([self.symbol]), group="depth-stop", exit_on_error=False, name="unwatch depth")  # type: ignore[attr-defined]

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width >= WIDE, "-wide")
        self._moved = True
        self.call_after_refresh(self._around_cursor)

    def _around_cursor(self) -> None:
        """After a resize: the cursor's row in the middle of the rows that now show."""
        if self.cursor is not None:
            self.top = self.cursor + self.body_rows // 2
            self._moved = True
        self.repaint()

    async def _watch(self) -> None:
        engine = self.app.engine  # type: ignore[attr-defined]
        try:
            await engine.watch_depth([self.symbol], LEVELS)
        except IntentError as exc:
            self.error = str(exc)
            self.repaint()
            return
        except Exception as exc:  # an engine gone: one line on the screen, never a traceback
            self.error = f"{type(exc).__name__}: {exc}"
            self.repaint()
            return
        self.watching = True
        if not self.is_attached:  # closed while the book was being asked for
            self.on_unmount()
            return
        view = engine.book(self.symbol)
        if view is not None and self._fresh_view is None:
            self._fresh_view = view
        self.tape.set_prints(engine.tape(self.symbol, 200))
        self.repaint()

    # ------------------------------------------------------------------ engine events (stored only)
    def take(self, event: object) -> None:
        """Called by the app for every engine event, synchronously: store and return."""
        kind = type(event)
        if kind is BookView:
            if event.symbol == self.symbol:  # type: ignore[attr-defined]
                self._fresh_view = event  # type: ignore[assignment]
        elif kind is TradePrint:
            if event.symbol == self.symbol:  # type: ignore[attr-defined]
                self._fresh_prints.append(event)  # type: ignore[arg-type]
        elif isinstance(event, OrderEvent) and event.order.symbol == self.symbol:
            self._orders_dirty = True

    # ------------------------------------------------------------------ ticks and prices
    def to_tick(self, price: float | Decimal) -> int:
        if isinstance(price, Decimal):
            return int((price / self.tick).to_integral_value())
        return round(price / float(self.tick))

    def price_of(self, tick: int) -> Decimal:
        return self.tick * tick

    def _touch(self) -> int | None:
        v = self.view
        bid = v.best_bid if v is not None else None
        ask = v.best_ask if v is not None else None
        if bid is not None and ask is not None:
            return (self.to_tick(bid) + self.to_tick(ask) + 1) // 2
        if bid is not None or ask is not None:
            return self.to_tick(bid if bid is not None else ask)  # type: ignore[arg-type]
        last = self.app.last_price(self.symbol) if hasattr(self.app, "last_price") else None  # type: ignore[attr-defined]
        return self.to_tick(last) if last else None

    @property
    def body_rows(self) -> int:
        return max(1, self.ladder.size.height - 1)

    # ------------------------------------------------------------------ repaint (timer)
    def repaint(self) -> None:
        if not self.is_attached:
            return
        changed = self._moved
        fresh, self._fresh_view = self._fresh_view, None
        if fresh is not None:
            self.view = fresh
            changed = True
        prints, self._fresh_prints = self._fresh_prints, []
        now = perf_ns()
        for p in prints:
            self.tape.add(p)
            if p.price > 0:
                self._flash[self.to_tick(p.price)] = (now, p.aggressor)
        if prints:
            changed = True
        expired = [t for t, (at, _) in self._flash.items() if now - at >= FLASH_NS]
        for t in expired:
            del self._flash[t]
        changed = changed or bool(expired)
        if self._orders_dirty:
            self._orders_dirty = False
            engine = self.app.engine  # type: ignore[attr-defined]
            self._orders = [o for o in working(engine.orders()) if o.symbol == self.symbol and not o.legs]
            if self.picked is not None and all(o.id != self.picked for o in self._orders):
                self.picked = None
            changed = True
        booked = self.view is not None and (self.view.bids or self.view.asks)
        if self.cursor is None or (booked and not self._on_book):  # the first book centres the ladder once
            self._on_book = bool(booked)
            touch = self._touch()
            if touch is not None:
                self.cursor = touch
                self.top = touch + self.body_rows // 2
                changed = True
        self.tape.flush()
        self._show_title()
        if changed and not self.tape_only:
            self._moved = False
            self._keep_cursor_shown()
            self._show_ladder()
            self.repaints += 1

    def _keep_cursor_shown(self) -> None:
        if self.cursor is None or self.top is None:
            return
        n = self.body_rows
        if self.cursor > self.top:
            self.top = self.cursor
        elif self.cursor < self.top - n + 1:
            self.top = self.cursor + n - 1

    def mine(self) -> dict[int, dict[Side, Decimal]]:
        """The user's working orders: remaining quantity per level and side (ticks)."""
        out: dict[int, dict[Side, Decimal]] = {}
        for o in self._orders:
            px = order_level(o)
            if px is None:
                continue
            side = out.setdefault(self.to_tick(px), {})
            side[o.side] = side.get(o.side, Decimal(0)) + (o.qty - o.filled_qty)
        return out

    def _show_ladder(self) -> None:
        ladder = self.ladder
        width = ladder.size.width
        if self.cursor is None or self.top is None:
            text = self.error or "waiting for the book…"
            ladder.show((((" " + text, "stale" if self.error else "muted"),), ""), [])
            return
        n = self.body_rows
        ticks = range(self.top, self.top - n, -1)
        bids: dict[int, float] = {}
        asks: dict[int, float] = {}
        if self.view is not None:
            for lv in self.view.bids:
                t = self.to_tick(lv.price)
                bids[t] = bids.get(t, 0.0) + lv.size
            for lv in self.view.asks:
                t = self.to_tick(lv.price)
                asks[t] = asks.get(t, 0.0) + lv.size
        best_bid = max(bids) if bids else None
        best_ask = min(asks) if asks else None
        shown = [bids.get(t, 0.0) for t in ticks] + [asks.get(t, 0.0) for t in ticks]
        biggest = max(shown) if shown else 0.0
        pw = max(len(fmt_price(self.price_of(t), self.digits)) for t in (ticks[0], ticks[-1])) + 4
        bar_w = max(0, min(BAR_MAX, (width - 2 * MINE_W - 2 * SIZE_W - pw - 4) // 2))
        pad = " " * max(0, (width - 2 * (MINE_W + SIZE_W + bar_w) - pw - 4) // 2)  # centred when the bars are capped
        header = ((
            (f"{pad}{'Mine':>{MINE_W}} {'':>{bar_w}}{'Bid size':>{SIZE_W}}", "header"),
            (f" {'Price':^{pw}} ", "header"),
            (f"{'Ask size':<{SIZE_W}}{'':<{bar_w}} {'Mine':<{MINE_W}}", "header"),
        ), "")
        mine = self.mine()
        picked = next((o for o in self._orders if o.id == self.picked), None)
        picked_tick = self.to_tick(order_level(picked)) if picked is not None and order_level(picked) is not None else None
        rows = []
        for t in ticks:
            b, a = bids.get(t, 0.0), asks.get(t, 0.0)
            mb = mine.get(t, {}).get(Side.BUY)
            ma = mine.get(t, {}).get(Side.SELL)
            mark_b = f"B {quantity(mb)}" if mb else ""
            mark_a = f"S {quantity(ma)}" if ma else ""
            if t == picked_tick:
                mark_b, mark_a = (f"»{mark_b}" if mark_b else mark_b), (f"{mark_a}«" if mark_a else mark_a)
            bb = size_bar(b, biggest, bar_w)
            ab = size_bar(a, biggest, bar_w)
            ptext = fmt_price(self.price_of(t), self.digits)
            cursor = t == self.cursor
            flash = self._flash.get(t)
            prole = "bold" if t in (best_bid, best_ask) else ""
            if flash is not None:
                prole = "reverse+bold+" + ({"buy": "up", "sell": "down"}.get(flash[1], "stale"))
            pcell = f"▸{ptext}◂" if cursor else (f"*{ptext}*" if flash is not None else ptext)
            cells = (
                (pad, ""),
                (f"{mark_b:>{MINE_W}} ", "buy" if mb else ""),
                (f"{bb:>{bar_w}}", "up"),
                (f"{quantity(b) if b else '':>{SIZE_W}}", "up+bold" if t == best_bid else "up"),
                (f" {pcell:^{pw}} ", prole),
                (f"{quantity(a) if a else '':<{SIZE_W}}", "down+bold" if t == best_ask else "down"),
                (f"{ab:<{bar_w}}", "down"),
                (f" {mark_a:<{MINE_W}}", "sell" if ma else ""),
            )
            rows.append((cells, "cursor" if cursor else ""))
        ladder.show(header, rows)

    def _show_title(self) -> None:
        v = self.view
        parts: list[tuple[str, str]] = [(self.symbol, "bold"), ("time and sales" if self.tape_only else "depth", "")]
        if self.picked is not None and not self.tape_only:
            parts.append((f"moving {self.picked}: m puts it down", "bold reverse"))
        if v is not None and not self.tape_only:
            if v.bids:
                parts.append((f"bid {fmt_price(v.bids[0].price, self.digits)} × {quantity(v.bids[0].size)}", ""))
            if v.asks:
                parts.append((f"ask {fmt_price(v.asks[0].price, self.digits)} × {quantity(v.asks[0].size)}", ""))
            if v.state != "ok":
                parts.append((f"book {v.state}", "bold red"))
        if not self.tape_only:
            parts.append((f"qty {self.qty_text or self.default_qty or '?'}", "bold" if self.qty_text else ""))
        if self.error:
            parts.append((self.error, "bold red"))
        shown = show_title(self.query_one("#depth-title", Static), parts)
        if shown is not None:
            self.title_line = shown

    # ------------------------------------------------------------------ keys
    def on_key(self, event: events.Key) -> None:
        if self.tape_only:
            return
        if event.character is not None and event.character.isdigit() and event.character.isascii():
            if len(self.qty_text) < 9:
                self.qty_text += event.character
            event.stop()
            self._show_title()
        elif event.key == "full_stop" and "." not in self.qty_text:  # a fractional quantity (crypto)
            self.qty_text += "."
            event.stop()
            self._show_title()
        elif event.key == "backspace" and self.qty_text:
            self.qty_text = self.qty_text[:-1]
            event.stop()
            self._show_title()

    def action_close(self) -> None:
        if self.picked is not None:
            self.picked = None
            self._moved = True
            self.repaint()
            return
        self.dismiss(None)

    def action_move(self, step: int) -> None:
        if self.cursor is None:
            return
        self.cursor += step
        self._moved = True
        self.repaint()

    def action_page(self, direction: int) -> None:
        self.action_move(direction * self.body_rows)

    def action_centre(self) -> None:
        touch = self._touch()
        if touch is None:
            return
        self.cursor = touch
        self.top = touch + self.body_rows // 2
        self._moved = True
        self.repaint()

    def cursor_price(self) -> Decimal | None:
        return self.price_of(self.cursor) if self.cursor is not None else None

    def _failed(self, action: str, message: str) -> None:
        self.app.failed(action, message)  # type: ignore[attr-defined]

    def action_trade(self, side: str) -> None:
        if self.tape_only:
            return
        price = self.cursor_price()
        if price is None or price <= 0:
            self._failed("order", f"{self.symbol}: no price under the cursor yet")
            return
        raw = self.qty_text or self.default_qty
        self.qty_text = ""
        try:
            qty = self.inst.check_qty(raw)
            self.inst.check_price(price, "limit price")
        except ModelError as exc:
            self._failed("order", str(exc))
            self._show_title()
            return
        request = OrderRequest(
            symbol=self.symbol, side=Side(side), qty=qty, type=OrderType.LIMIT, limit_price=price,
            tif=TimeInForce.DAY, source="ui",
        )
        self._show_title()
        self.app.review_and_send(request, origin="depth")  # type: ignore[attr-defined]

    def at_cursor(self) -> list[Order]:
        """Working orders of this symbol at the cursor's level."""
        return [o for o in self._orders if order_level(o) is not None and self.to_tick(order_level(o)) == self.cursor]  # type: ignore[arg-type]

    def action_move_order(self) -> None:
        if self.tape_only or self.cursor is None:
            return
        here = self.at_cursor()
        picked = next((o for o in self._orders if o.id == self.picked), None)
        if picked is None:
            if len(here) == 1:  # pick it up; the next m puts it down
                self.picked = here[0].id
                self._moved = True
                self.repaint()
                return
            movable = [o for o in self._orders if order_level(o) is not None]
            if len(here) > 1:
                self._failed("move", f"{len(here)} orders at {plain(self.cursor_price())}: cancel one, or move it from the Orders pane")
                return
            if len(movable) != 1:
                self._failed("move", f"no working {self.symbol} order here" if not movable else f"{len(movable)} working {self.symbol} orders: put the cursor on one's level and press m")
                return
            picked = movable[0]
        self.picked = None
        self._moved = True
        self.repaint()
        self._replace(picked)

    def _replace(self, o: Order) -> None:
        price = self.cursor_price()
        assert price is not None
        if o.type is OrderType.STOP:
            field, old = "stop", o.stop_price
        else:
            field, old = "limit", o.limit_price
        if price == old:
            self._failed("move", f"order {o.id} is already at {plain(price)}")
            return
        app = self.app
        engine = app.engine  # type: ignore[attr-defined]

        async def go() -> None:
            try:
                if field == "stop":
                    await engine.replace(o.id, stop_price=price)
                else:
                    await engine.replace(o.id, limit_price=price)
            except IntentError as exc:
                app.failed("modify", str(exc))  # type: ignore[attr-defined]
                return
            self._orders_dirty = True
            app._orders_dirty = True  # type: ignore[attr-defined]

        app.confirm(f"Replace order {o.id} ({o.side.value} {plain(o.qty - o.filled_qty)} {o.symbol}): {field} {plain(old)} → {plain(price)}?", "Modify order", go)  # type: ignore[attr-defined]

    def action_cancel_order(self) -> None:
        if self.tape_only or self.cursor is None:
            return
        here = self.at_cursor()
        if not here:
            self._failed("cancel", f"no working {self.symbol} order at {plain(self.cursor_price())}")
            return
        if len(here) == 1:
            self.app.ask_cancel(here[0].id)  # type: ignore[attr-defined]
            return
        app = self.app
        engine = app.engine  # type: ignore[attr-defined]
        ids = [o.id for o in here]

        async def go() -> None:
            for oid in ids:
                try:
                    await engine.cancel(oid)
                except IntentError as exc:
                    app.failed("cancel", str(exc))  # type: ignore[attr-defined]
            app._orders_dirty = True  # type: ignore[attr-defined]

        app.confirm(f"Cancel {len(ids)} orders at {plain(self.cursor_price())} ({', '.join(ids)})?", "Cancel orders", go)  # type: ignore[attr-defined]


def order_level(o: Order | None) -> Decimal | None:
    """The price an order rests at on the ladder: its limit (a stop order: its stop)."""
    if o is None:
        return None
    if o.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        return o.limit_price
    if o.type is OrderType.STOP:
        return o.stop_price
    return None


def open_depth(app, symbol: str, *, tape_only: bool = False, origin: str = "", text: str = "") -> None:
    """Push the ladder (or the tape alone) for ``symbol``; a symbol the engine does not know is one line."""
    try:
        inst = app.instrument(symbol)
    except (ModelError, IntentError) as exc:
        if origin == "command":
            app.action_command_line(text)
        app.failed("depth", str(exc), origin=origin)
        return
    from workstation.ui.panes.ticket import TicketPane

    qty = app.main.query_one(TicketPane).value("qty")
    app.push_screen(DepthScreen(inst, tape_only=tape_only, repaint_hz=app.repaint_hz, default_qty=qty))
