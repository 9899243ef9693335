"""The Textual workstation: layout, key bindings, and the wiring to the engine.

The app talks only to an ``EngineAPI``. Engine events arrive synchronously on the app's
event loop: quotes are only stored (the latest per symbol wins) and a timer repaints at
``ui.repaint_hz``; order events, alerts and connection changes mark what needs a repaint
and go to the Log and Alerts panes. Intents (orders, cancels, flattens) run as workers
whose failures become a notification and a Log line, never a traceback on screen. What
to do with each intent lives in ``workstation.ui.intents``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from rich.style import Style
from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerState

from themes import DEFAULT, ThemeSpec, load_themes
from workstation.api import AccountSnapshot, EngineAPI, working
from workstation.core.clock import perf_ns
from workstation.core.config import Settings
from workstation.risk.dataquality import QualityChanged
from workstation.core.model import AlertRaised, AssetClass, ConnectionState, Instrument, ModelError, OrderEvent, OrderFilled, OrderRejected, Quote, plain
from workstation.serve.remote import engine_gone
from workstation.ui.intents import IntentsMixin, describe_order
from workstation.ui.messages import IntentFailed
from workstation.ui.palette import WorkstationCommands
from workstation.ui.risk_intents import RiskIntentsMixin
from workstation.ui.theming import ThemesMixin
from workstation.ui.panes.chart import ChartPane
from workstation.ui.panes.cmdline import CommandLine
from workstation.ui.panes.feed import AlertsPane, FeedPane
from workstation.ui.panes.header import HaltBanner, HeaderBar
from workstation.ui.panes.orders import OrdersPane
from workstation.ui.panes.positions import PositionsPane
from workstation.ui.panes.risk import RiskPane
from workstation.ui.panes.strategies import StrategiesPane
from workstation.ui.panes.table import LiveTable
from workstation.ui.panes.ticket import TicketPane
from workstation.ui.panes import PANES  # the layout: number key, DOM id, title
from workstation.ui.panes.watchlist import WatchlistPane
from workstation.ui.watchlists import Watchlists

WIDE = (140, 40)  # at least this many columns and rows: every pane at once
log = logging.getLogger(__name__)

CHART_HZ = 2.0
INPUT_QUIET_NS = 300_000_000  # after a key, expensive redraws (the chart) wait this long


class WorkstationApp(IntentsMixin, RiskIntentsMixin, ThemesMixin, App[None]):
    CSS_PATH = "workstation.tcss"
    TITLE = "workstation"
    COMMANDS = App.COMMANDS | {WorkstationCommands}
    ENABLE_COMMAND_PALETTE = True

    # Priority bindings: handled before the key reaches the focused widget, so keys typed
    # ahead (":buy 100 AAPL" arriving in one burst over SSH) land where the first one sent
    # them. ``check_action`` hands them back to text fields and dialogs.
    BINDINGS = [
        *[Binding(key, f"focus_pane('{pane}')", title, show=False, priority=True, id=f"focus.{pane}", tooltip=f"Focus the {title} pane") for key, pane, title in PANES],
        Binding("colon", "command_line", "Command", priority=True, id="app.command", tooltip="Open the command line"),
        Binding("slash", "filter", "Filter", priority=True, id="app.filter", tooltip="Filter the rows of the focused table"),
        Binding("question_mark,f1", "help", "Help", priority=True, id="app.help", tooltip="Every key binding"),
        Binding("t", "ticket", "Ticket", show=False, priority=True, id="app.ticket", tooltip="Go to the order ticket"),
        Binding("K", "kill", "Kill", show=False, priority=True, id="app.kill", tooltip="Kill switch: cancel every order, flatten every position, stop every strategy, trip the breaker (asks first)"),
        Binding("B", "backtest", "Backtest", show=False, priority=True, id="app.backtest", tooltip="Open the Backtest screen"),
        Binding("o", "chain", "Chain", show=False, id="app.chain", tooltip="Option chain of the selected watchlist (or positions) symbol: an option's underlying at its expiry"),
        Binding("D", "depth", "Depth", show=False, id="app.depth", tooltip="Depth ladder and time and sales of the selected watchlist (or positions) symbol"),
        Binding("q", "quit", "Quit", priority=True, id="app.quit", tooltip="Quit (asks while orders are working)"),
        Binding("ctrl+q", "request_quit", "Quit", show=False, priority=True, id="app.quit_anywhere", tooltip="Quit, even from a text field"),
        Binding("ctrl+d", "detach", "Detach", show=False, id="app.detach", tooltip="Leave a serving engine running and close this face"),
        Binding("ctrl+g", "close_palette", "Close", show=False, priority=True, id="app.close_palette", tooltip="Close the command palette (as Escape does)"),
    ]
    PASSIVE = {"focus_pane", "command_line", "filter", "help", "ticket", "quit", "backtest", "kill", "chain", "depth"}

    def __init__(
        self,
        engine: EngineAPI,
        settings: Settings | None = None,
        *,
        watchlists: Watchlists,
        config_path: Path | None = None,
        themes: dict[str, ThemeSpec] | None = None,
        save_settings: bool = True,
        low_bandwidth: bool = False,
        crash_log: Path | None = None,
    ) -> None:
        super().__init__()
        self.low_bandwidth = low_bandwidth
        self.engine = engine
        self.settings = settings or Settings()
        self.watchlists = watchlists
        self.config_path = config_path
        self.save_settings = save_settings
        self.crash_log = crash_log
        self.themes = themes or load_themes()
        self.palette_styles: dict[str, Style] = {}
        self.repaint_hz = max(1.0, min(2.0 if low_bandwidth else 60.0, float(self.settings.ui.repaint_hz)))
        self.confirm_orders = self.settings.ui.confirm_orders
        self._latest: dict[str, Quote] = {}
        self._dirty: set[str] = set()
        self._badges: dict[str, tuple[str, ...]] = {}  # data-quality badges not yet on the watchlist
        self._snapshot: AccountSnapshot | None = None
        self._connection: ConnectionState | None = None
        self._orders_dirty = True
        self._account_dirty = True
        self._chart_dirty = True
        self._ticks = 0
        self._started = False
        self._stopped = False
        self._return_focus: Widget | None = None
        self._filter_target: LiveTable | None = None
        self._ticket_origin: Widget | None = None
        self._instruments: dict[str, Instrument] = {}
        self._alerts_shown: list[AlertRaised] = []
        self._chart_drawn = 0
        self._last_input_ns = 0
        self._repaint_failed = False
        self.compact_pane = "positions"
        for spec in self.themes.values():
            self.register_theme(spec.textual())
        wanted = self.settings.ui.theme
        self.theme = wanted if wanted in self.themes else DEFAULT
        self._build_styles()
        self.depth_sink: Callable[[object], None] | None = None  # the open depth ladder's store (screens/depth.py)
        self._unsubscribe = engine.subscribe(self._on_engine_event)

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        yield HaltBanner(id="halt-banner")
        with Container(id="desk"):
            yield WatchlistPane(id="watchlist", classes="pane")
            yield ChartPane(id="chart", classes="pane")
            yield PositionsPane(id="positions", classes="pane")
            yield TicketPane(self.instrument, self.last_price, id="ticket", classes="pane")
            yield RiskPane(id="risk", classes="pane")
            yield OrdersPane(id="orders", classes="pane")
            yield AlertsPane(id="alerts", classes="pane")
            yield FeedPane(id="log", classes="pane")
            yield StrategiesPane(id="strategies", classes="pane")
        yield Static("", id="cmd-error")
        yield CommandLine(id="cmdline")
        yield Footer()

    def on_mount(self) -> None:
        if self.settings.ui.bindings:
            self.set_keymap(dict(self.settings.ui.bindings))
        for key, pane, title in PANES:
            self.main.query_one(f"#{pane}").border_title = f"{key} {title}"
        self._set_watchlist_title()
        self._layout_for(self.size.width, self.size.height)
        wl = self.main.query_one(WatchlistPane)
        wl.plain = self.low_bandwidth
        wl.set_symbols(self.watchlists.symbols, self._digits(self.watchlists.symbols))
        wl.focus()
        if self.watchlists.problem:  # a bad watchlists file: the default list, and one line saying so
            self.log_line("warning", self.watchlists.problem)
            self.notify(self.watchlists.problem, title="watchlists", severity="warning", timeout=15)
        self.theme_changed_signal.subscribe(self, self._apply_theme)
        self.set_interval(1.0 / self.repaint_hz, self.repaint, name="repaint")
        self.repaint()
        self.run_worker(self._start_engine(), group="engine", exit_on_error=False, name="start")

    async def _start_engine(self) -> None:
        await self.engine.start(list(self.watchlists.symbols))
        self._started = True
        for sym in self.watchlists.symbols:
            q = self.engine.quote(sym)
            if q is not None:
                self._latest[sym] = q
                self._dirty.add(sym)
            marks = self.engine.badges(sym) if hasattr(self.engine, "badges") else ()
            if marks:
                self._badges[sym] = marks
        self._connection = self.engine.connection()
        self._orders_dirty = self._account_dirty = True
        alerts = self.main.query_one("#alerts", AlertsPane)
        for a in self.engine.alerts():  # raised before this face opened, while nobody watched too
            if a not in self._alerts_shown:
                alerts.add(a.ts or self.engine.time(), a.priority, f"{a.title}: {a.message}", a.alert_id, acked=a.acked)
        attached = getattr(self.engine, "client_id", "")
        where = f" (attached as {attached}; ctrl+d detaches, the engine keeps running)" if attached else ""
        self.log_line("info", f"connected to {self.engine.info.broker} as profile {self.engine.info.profile}{where}")
        self.repaint()
        first = self.main.query_one(WatchlistPane).selected_key
        if first is not None:
            self._symbol_highlighted(LiveTable.Highlighted(self.main.query_one(WatchlistPane), first))

    async def on_unmount(self) -> None:
        await self.stop_engine()

    async def stop_engine(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._unsubscribe()
        await self.engine.stop()

    def on_resize(self, event) -> None:
        self._layout_for(event.size.width, event.size.height)

    def _layout_for(self, width: int, height: int) -> None:
        if not self.screen_stack:
            return
        wide = width >= WIDE[0] and height >= WIDE[1]
        self.main.set_class(wide, "-wide")
        self.main.set_class(not wide, "-compact")
        self._show_compact(self.compact_pane)

    @property
    def main(self):
        """The workstation's own screen (dialogs stack above it; ``self.screen`` is the top one)."""
        if not self.screen_stack:
            raise NoMatches("the workstation has no screen (starting or closed)")
        return self.screen_stack[0]

    @property
    def is_compact(self) -> bool:
        return self.main.has_class("-compact")

    def _show_compact(self, pane: str) -> None:
        if pane == "watchlist":
            return
        self.compact_pane = pane
        for _, pid, _ in PANES:
            self.main.query_one(f"#{pid}").set_class(pid == pane, "-active")

    def _set_watchlist_title(self) -> None:
        wl = self.main.query_one(WatchlistPane)
        wl.show_list(self.watchlists.active, list(self.watchlists.names))

    # ------------------------------------------------------------------ engine events
    def _on_engine_event(self, event: object) -> None:
        """Called synchronously by the engine: store, mark dirty, never draw here."""
        if self.depth_sink is not None:
            self.depth_sink(event)
        if type(event) is Quote:
            self._latest[event.symbol] = event
            self._dirty.add(event.symbol)
        elif isinstance(event, OrderEvent):
            self._orders_dirty = True
            self._account_dirty = True
            if isinstance(event, OrderFilled):
                f = event.fill
                self.log_line("fill", f"filled {f.side.value} {f.qty} {f.symbol} @ {f.price} (order {f.order_id})")
            else:
                self.log_line("order", describe_order(event.order))
            if isinstance(event, OrderRejected):
                self.notify(f"order {event.order.id} rejected: {event.order.reason}", severity="error", title="Rejected")
        elif isinstance(event, AlertRaised) and not self._stopped and self.screen_stack:
            if len(self._alerts_shown) < 1000:
                self._alerts_shown.append(event)
            self.main.query_one("#alerts", AlertsPane).add(event.ts or self.engine.time(), event.priority, f"{event.title}: {event.message}", event.alert_id)
            if event.priority in ("high", "critical"):
                self.notify(event.message, title=event.title, severity="error" if event.priority == "critical" else "warning")
        elif isinstance(event, ConnectionState):
            if engine_gone(event):  # an attached face whose engine stopped or vanished ends with it
                self.engine_gone = event.detail or "the engine is gone"
                self.exit()
                return
            self._connection = event
            self._orders_dirty = self._account_dirty = True  # after a reconnect the state is a fresh snapshot
            self.log_line("info", f"{event.broker} {event.state}" + (f": {event.detail}" if event.detail else ""))
        elif isinstance(event, AccountSnapshot):
            self._snapshot = event
            self._account_dirty = True
        elif isinstance(event, QualityChanged):
            self._badges[event.symbol] = event.badges
            self._chart_dirty = ChartPane.backfill_into(self, event.symbol, event.backfilled) or self._chart_dirty

    def log_line(self, level: str, text: str) -> None:
        if self.is_running and self.screen_stack and not self._stopped:
            try:
                self.main.query_one("#log", FeedPane).add(self.engine.time(), level, text)
            except NoMatches:  # before compose or after unmount: the line is dropped, not the app
                pass

    # ------------------------------------------------------------------ repaint
    def repaint(self) -> None:
        """The capped-rate repaint: only what changed since the last one."""
        if self._stopped or not self.screen_stack or not self.main.is_attached:
            return
        try:
            self._repaint()
        except NoMatches:  # shutting down: the panes are already gone
            pass
        except Exception as exc:  # a bug in one repaint must not take the screen down
            if not self._repaint_failed:
                self._repaint_failed = True
                log.exception("repaint failed")
                self.log_line("error", f"repaint failed: {type(exc).__name__}: {exc}")
                self.notify(f"{type(exc).__name__}: {exc}", title="Display error", severity="error")

    def _repaint(self) -> None:
        self._ticks += 1
        now = self.engine.time()
        wl = self.main.query_one(WatchlistPane)
        dirty, self._dirty = self._dirty, set()
        badges, self._badges = self._badges, {}
        for sym, marks in badges.items():
            wl.set_badges(sym, marks)
        for sym in dirty:
            q = self._latest[sym]
            wl.on_quote(q)
        if dirty or wl.pending or self._ticks % max(1, int(self.repaint_hz)) == 0:  # once a second: stale badges
            wl.repaint(now)
        orders = self.main.query_one(OrdersPane)
        if self._orders_dirty or (orders.trailing and self._ticks % max(1, int(self.repaint_hz)) == 0):  # trailing triggers move
            self._orders_dirty = False
            orders.show(self.engine.orders())
        if self._started and (self._account_dirty or self._ticks % max(1, int(self.repaint_hz // 2)) == 0):
            self._account_dirty = False
            self._snapshot = self.engine.snapshot()
            self.main.query_one(PositionsPane).show(
                self._snapshot.positions, self._snapshot.closed_today, self._snapshot.totals, self._snapshot.greeks,
            )
            self.main.query_one(RiskPane).show(self._snapshot.risk)
            self.main.query_one(StrategiesPane).show(self.engine.strategies.rows())
        unread = self.engine.unread_alerts() if self._started else 0
        self.main.query_one(HeaderBar).show(self.engine.info, self._snapshot, self._connection, now, self.palette_styles, self.size.width, unread=unread)
        self.main.query_one(HaltBanner).show(self._snapshot)
        chart = self.main.query_one(ChartPane)
        symbol = wl.selected_key
        if symbol in dirty or symbol != chart.symbol:
            self._chart_dirty = True
        # plotext redraws the whole plot: at most CHART_HZ times a second, never while typing
        due = self._ticks - self._chart_drawn >= max(1, round(self.repaint_hz / CHART_HZ))
        due = due and perf_ns() - self._last_input_ns > INPUT_QUIET_NS
        if chart.display and self._chart_dirty and due:
            self._chart_dirty = False
            self._chart_drawn = self._ticks
            if not chart.colours:
                self._chart_colours(chart)
            chart.show(symbol)

    # ------------------------------------------------------------------ reads for panes
    def instrument(self, symbol: str) -> Instrument:
        inst = self._instruments.get(symbol)
        if inst is None:
            inst = self._instruments[symbol] = self.engine.instrument(symbol)
        return inst

    def last_price(self, symbol: str) -> float | None:
        q = self._latest.get(symbol) or self.engine.quote(symbol)
        return q.last if q else None

    def _digits(self, symbols: list[str]) -> dict[str, int]:
        out = {}
        for s in symbols:
            try:
                exp = self.instrument(s).tick_size.normalize().as_tuple().exponent
                out[s] = max(0, -int(exp)) if isinstance(exp, int) else 2
            except ModelError:
                out[s] = 2
        return out

    # ------------------------------------------------------------------ focus and keys
    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self._last_input_ns = perf_ns()
        await super().on_event(event)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_palette":
            from textual.command import CommandPalette

            return isinstance(self.screen, CommandPalette)
        if action in self.PASSIVE:
            if len(self.screen_stack) > 1:
                return False  # a dialog is open: its own keys apply
            if isinstance(self.focused, Input):
                return False  # typing: the key is a character
        return True

    def action_focus_pane(self, pane: str) -> None:
        if self.is_compact:
            self._show_compact(pane)
        if pane == "alerts" and self._started and self.engine.unread_alerts():
            self.run_worker(self.engine.ack_alerts(), group="alerts", exit_on_error=False, name="read alerts")
        if pane == "ticket":
            ticket = self.main.query_one(TicketPane)
            if not ticket.has_focus_within:  # a send or Ctrl+G goes back there, however the ticket was opened
                self._ticket_origin = self.main.focused or self.main.query_one(WatchlistPane)
            self.focus_now(ticket.first_field())
            return
        self.focus_now(self.main.query_one(f"#{pane}"))

    def focus_now(self, widget: Widget) -> None:
        """Focus at once (``Widget.focus`` defers, and keys typed ahead would go astray)."""
        self.main.set_focus(widget)

    def action_ticket(self) -> None:
        self.action_focus_pane("ticket")

    def action_command_line(self, text: str = "") -> None:
        self._open_line("command", text)

    def action_filter(self) -> None:
        focused = self.focused
        self._filter_target = focused if isinstance(focused, LiveTable) else self.main.query_one(WatchlistPane)
        self._open_line("filter", "")  # starts empty: what is typed replaces the active filter

    def _open_line(self, mode: str, text: str) -> None:
        line = self.main.query_one(CommandLine)
        if not line.has_class("-open"):
            self._return_focus = self.focused
        line.open(mode, text)
        line.add_class("-open")
        self.command_error("")
        self.focus_now(line)

    def close_line(self) -> None:
        line = self.main.query_one(CommandLine)
        line.remove_class("-open")
        self.command_error("")
        target = self._return_focus
        self._return_focus = None
        if target is not None and target.is_attached and target.focusable:
            self.focus_now(target)
        else:
            self.focus_now(self.main.query_one(WatchlistPane))

    def command_error(self, text: str) -> None:
        err = self.main.query_one("#cmd-error", Static)
        err.update(text)
        err.set_class(bool(text), "-open")

    @on(CommandLine.Closed)
    def _line_closed(self) -> None:
        if self.main.query_one(CommandLine).mode == "filter" and self._filter_target is not None:
            self._filter_target.set_filter("")  # Esc drops the filter (Enter keeps it)
        self.close_line()

    @on(CommandLine.Changed, "#cmdline")
    def _line_changed(self, event: CommandLine.Changed) -> None:
        line = self.main.query_one(CommandLine)
        if line.mode == "filter" and self._filter_target is not None:
            self._filter_target.set_filter(event.value)
        elif self.main.query_one("#cmd-error", Static).has_class("-open"):
            self.command_error("")

    @on(CommandLine.Submitted, "#cmdline")
    def _line_submitted(self, event: CommandLine.Submitted) -> None:
        event.stop()
        line = self.main.query_one(CommandLine)
        if line.mode == "filter":
            self.close_line()
            return
        text = event.value.strip()
        if not text:
            self.close_line()
            return
        line.remember(text)
        self.run_command(text)

    @on(LiveTable.Highlighted, "#watchlist")
    def _symbol_highlighted(self, event: LiveTable.Highlighted) -> None:
        self._chart_dirty = True
        symbol = event.key
        if symbol is None:
            return
        ticket = self.main.query_one(TicketPane)
        if ticket.modifying is None and not ticket.has_focus_within:
            ticket.follow(symbol)

    def action_help(self) -> None:
        from workstation.ui.help import help_screen

        self.push_screen(help_screen(self))

    engine_gone: str = ""
    """Why this attached face ended by itself (its engine went away and did not come back)."""

    def action_detach(self) -> None:
        """Close this face; an engine serving in the background keeps running, orders and all."""
        if not getattr(self.engine, "client_id", ""):
            self.notify("this workstation runs its own engine: start one with `main.py serve --detach` to detach from it", title="Not attached")
            return
        self.exit()

    def action_close_palette(self) -> None:
        self.screen._action_escape()  # Escape's own action: Ctrl+G is the key that works everywhere

    def action_backtest(self) -> None:
        from workstation.ui.screens.backtest import BacktestScreen

        self.push_screen(BacktestScreen(self.config_path))

    def action_chain(self) -> None:
        """The option chain of the selected row (the watchlist's, or the positions' when focused there)."""
        focused = self.focused
        keys = [focused.selected_key] if isinstance(focused, PositionsPane) else []  # a total or combo line is no symbol
        keys.append(self.main.query_one(WatchlistPane).selected_key)
        for symbol in filter(None, keys):
            try:
                inst = self.instrument(symbol)
            except ModelError:
                continue
            if inst.asset_class is AssetClass.OPTION and inst.underlying:  # its underlying's chain at its expiry
                self.open_chain(inst.underlying, inst.expiry)
            else:
                self.open_chain(inst.symbol)
            return
        self.failed("chain", "no symbol selected")

    def action_depth(self) -> None:
        """The depth ladder of the selected row (the watchlist's, or the positions' when focused there)."""
        focused = self.focused
        keys = [focused.selected_key] if isinstance(focused, PositionsPane) else []
        keys.append(self.main.query_one(WatchlistPane).selected_key)
        from workstation.ui.screens.depth import open_depth

        symbol = next(filter(None, keys), None)
        open_depth(self, symbol) if symbol else self.failed("depth", "no symbol selected")

    def on_risk_pane_portfolio_risk(self, event: RiskPane.PortfolioRisk) -> None:
        self.open_risk_screen()

    def open_risk_screen(self) -> None:
        """The Risk screen (``workstation.ui.screens.risk``); Enter on a heatmap tile comes back
        with that position in the ticket, on the side that reduces it."""
        from workstation.ui.screens.risk import RiskScreen, RiskTrade

        if isinstance(self.screen, RiskScreen):
            return

        def done(trade: RiskTrade | None) -> None:
            if trade is None:
                return
            row = next((p for p in self.engine.snapshot().positions if p.symbol == trade.symbol and p.qty), None)
            ticket = self.main.query_one(TicketPane)
            ticket.prefill("buy" if row is not None and row.qty < 0 else "sell", trade.symbol, None)
            if row is not None:
                ticket.set_value("qty", plain(abs(row.qty)) or "")
            self._ticket_origin = self.main.query_one(RiskPane)
            self.action_focus_pane("ticket")

        self.push_screen(RiskScreen(), done)

    def action_request_quit(self) -> None:
        self.action_quit()

    def action_quit(self) -> None:
        if getattr(self.engine, "client_id", ""):
            self.exit()  # attached: quitting only detaches; the engine keeps the orders working
            return
        n = len(working(self.engine.orders())) if self._started else 0
        if n == 0:
            self.exit()
            return
        from workstation.ui.screens.confirm import ConfirmScreen

        def answer(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen(f"{n} order{'s are' if n != 1 else ' is'} working. Quit anyway? (they stay at the broker)", "Quit"), answer)

    # ------------------------------------------------------------------ errors
    def _fatal_error(self) -> None:
        """An unhandled error: its traceback goes to the crash log, one line to the screen."""
        import traceback

        from rich.text import Text

        self.bell()
        error = self._exception
        where = ""
        if self.crash_log is not None:
            try:
                from workstation.core.files import private_dir, private_file

                private_dir(self.crash_log.parent)
                with open(private_file(self.crash_log), "a", encoding="utf-8") as fh:
                    fh.write(traceback.format_exc())
                where = f" (details in {self.crash_log})"
            except OSError:
                pass
        self._exit_renderables.append(Text(f"error: {type(error).__name__}: {error}{where}"))
        self._close_messages_no_wait()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            exc = event.worker.error
            text = str(exc) if isinstance(exc, ModelError) else f"{type(exc).__name__}: {exc}"
            self.log_line("error", f"{event.worker.name or 'task'}: {text}")
            self.notify(text, title="Error", severity="error")
            self.post_message(IntentFailed(event.worker.name or "task", text))
