"""What the workstation does with an intent: commands, the ticket, cancels, closes.

Every order goes the same way: the engine reviews it (validation and the pre-trade
checks, nothing sent), the review screen shows the verdict, and only a ``y``/Enter sends
it. Cancels, replaces and closes ask for confirmation first. Errors are one line: inline
where the input was typed, in a notification, and in the Log.
"""

from __future__ import annotations

import logging

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from workstation.api import IntentError, working
from workstation.core.model import ModelError, Order, OrderRequest, OrderType, Side, plain, to_decimal
from workstation.ui.commands import (
    GRAMMAR_HELP,
    CancelCommand,
    FlattenCommand,
    AlertCommand,
    ChainCommand,
    DepthCommand,
    RiskScreenCommand,
    HelpCommand,
    KillCommand,
    LegsCommand,
    OrderCommand,
    ParseError,
    ResetBreakerCommand,
    RiskSetCommand,
    SpreadCommand,
    ThemeCommand,
    WatchCommand,
    notional_qty,
    parse,
)
from workstation.ui.messages import IntentDone, IntentFailed, OrderSent
from workstation.ui.panes.orders import OrdersPane, order_price
from workstation.ui.panes.positions import PositionsPane
from workstation.ui.panes.ticket import TicketPane
from workstation.ui.panes.watchlist import WatchlistPane
from workstation.ui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from workstation.ui.app import WorkstationApp


def describe_order(o: Order) -> str:
    text = f"order {o.id} {o.side.value} {plain(o.qty)} {o.symbol} {o.type.value.replace('_', '-')}"
    price = order_price(o)
    if price and price != "mkt":
        text += f" {price}"
    text += f": {o.status.value.replace('_', ' ')}"
    if o.filled_qty:
        text += f" {plain(o.filled_qty)}"
        if o.avg_fill_price is not None:
            text += f" @ {plain(o.avg_fill_price.quantize(Decimal('0.0001')))}"
    if o.reason:
        text += f" ({o.reason})"
    return text


log = logging.getLogger(__name__)

CHAIN_STRIKES = 40  # strikes around the money the chain screen asks for unless told


def spread_request(cmd: SpreadCommand, source: str = "ui") -> OrderRequest:
    """The combo OrderRequest a typed spread stands for (legs for one unit bought; the engine
    names the order and checks its legs and net price)."""
    return OrderRequest(
        symbol=cmd.spread.underlying, side=cmd.side, qty=cmd.qty,
        type=OrderType.MARKET if cmd.limit_price is None else OrderType.LIMIT,
        limit_price=cmd.limit_price, tif=cmd.tif, legs=cmd.spread.legs, source=source,
    )


def command_problem(exc: Exception) -> str:
    """One line for a command that could not become an intent, whatever went wrong."""
    if isinstance(exc, (ParseError, ModelError)):
        return str(exc)
    if isinstance(exc, ArithmeticError):  # decimal.InvalidOperation, Overflow: absurd magnitudes
        return "a number in this command is out of range"
    log.exception("command could not be read")
    return f"cannot read this command: {type(exc).__name__}: {exc}"


class IntentsMixin:
    """Intent handling for ``WorkstationApp`` (kept apart so the app stays about layout).

    Handlers use Textual's naming convention (``on_<pane>_<message>``) because ``@on``
    only registers handlers declared on a message pump class itself.
    """

    # ------------------------------------------------------------------ the command line
    def run_command(self: WorkstationApp, text: str) -> None:
        try:
            cmd = parse(text)
            request, note = self.order_request(cmd) if isinstance(cmd, OrderCommand) else (None, "")
            if isinstance(cmd, SpreadCommand):
                request, note = spread_request(cmd), ""
        except Exception as exc:  # whatever the line holds, the workstation stays up: one line
            problem = command_problem(exc)
            self.command_error(problem)
            self.post_message(IntentFailed("command", problem))
            return
        if request is not None:
            self.close_line()
            self.review_and_send(request, note=note, origin="command", text=text)
            return
        self.close_line()
        if isinstance(cmd, CancelCommand):
            self.ask_cancel(cmd.order_id)
        elif isinstance(cmd, FlattenCommand):
            self.ask_flatten(cmd.symbol)
        elif isinstance(cmd, WatchCommand):
            self.watch_command(cmd)
        elif isinstance(cmd, ThemeCommand):
            try:
                self.set_theme(cmd.name)
            except ModelError as exc:
                self.failed("theme", str(exc))
        elif isinstance(cmd, HelpCommand):
            self.action_help()
        elif isinstance(cmd, LegsCommand):
            self.open_legs()
        elif isinstance(cmd, KillCommand):
            self.action_kill()
        elif isinstance(cmd, ResetBreakerCommand):
            self.ask_reset_breaker()
        elif isinstance(cmd, RiskSetCommand):
            self.set_limit(cmd.name, cmd.value)
        elif isinstance(cmd, AlertCommand):
            self.add_alert(cmd.rule)
        elif isinstance(cmd, ChainCommand):
            self.open_chain(cmd.symbol, cmd.expiry, cmd.strikes, origin="command", text=text)
        elif isinstance(cmd, RiskScreenCommand):
            self.open_risk_screen()
        elif isinstance(cmd, DepthCommand):
            from workstation.ui.screens.depth import open_depth

            open_depth(self, cmd.symbol, tape_only=cmd.tape_only, origin="command", text=text)

    def order_request(self: WorkstationApp, cmd: OrderCommand) -> tuple[OrderRequest, str]:
        """The OrderRequest a parsed command stands for (a notional becomes whole lots)."""
        inst = self.instrument(cmd.symbol)
        note = ""
        qty = cmd.qty
        if cmd.notional is not None:
            q = self._latest.get(inst.symbol) or self.engine.quote(inst.symbol)
            px = None
            if cmd.limit_price is not None:
                px = cmd.limit_price
            elif q is not None:
                raw = q.ask if cmd.side is Side.BUY else q.bid
                px = to_decimal(raw if raw > 0 else q.last)
            if px is None:
                raise ParseError(f"no price for {inst.symbol} yet to turn ${plain(cmd.notional)} into a quantity")
            qty = notional_qty(cmd.notional, px, inst.lot_size)
            note = f"${plain(cmd.notional)} at {plain(px)} → {plain(qty)} (whole lots, rounded down)"
        if cmd.short:
            held = self._snapshot and next((p.qty for p in self._snapshot.positions if p.symbol == inst.symbol), None)
            note = (note + "; " if note else "") + ("opens a short position" if not held or held <= 0 else f"sells {plain(qty)} against {plain(held)} held")
        assert qty is not None
        inst.check_qty(qty)  # tick and lot problems are named while the line is still open
        for price, what in ((cmd.limit_price, "limit price"), (cmd.stop_price, "stop price"), (cmd.take_profit, "take-profit price"), (cmd.stop_loss, "stop-loss price")):
            if price is not None:
                inst.check_price(price, what)
        request = OrderRequest(
            symbol=inst.symbol, side=cmd.side, qty=qty, type=cmd.type, limit_price=cmd.limit_price,
            stop_price=cmd.stop_price, trail_amount=cmd.trail_amount, trail_percent=cmd.trail_percent, tif=cmd.tif,
            take_profit=cmd.take_profit, stop_loss=cmd.stop_loss, source="ui", extended=cmd.extended,
        )
        return request, note

    def open_legs(self: WorkstationApp) -> None:
        """The ticket for legs; the combo it builds is reviewed like any order."""
        from workstation.ui.screens.legs import LegsScreen

        p = self.palette_styles

        def built(request: OrderRequest | None) -> None:
            if request is not None:
                self.review_and_send(request, origin="legs")

        self.push_screen(LegsScreen(buy_style=str(p["buy"].color.name if p["buy"].color else "green"),
                                    sell_style=str(p["sell"].color.name if p["sell"].color else "red")), built)

    # ------------------------------------------------------------------ review and send
    def review_and_send(self: WorkstationApp, request: OrderRequest, *, note: str = "", origin: str = "ticket", text: str = "") -> None:
        self.run_worker(self._review_and_send(request, note, origin, text), group="intents", exit_on_error=False, name="order")

    async def _review_and_send(self: WorkstationApp, request: OrderRequest, note: str, origin: str, text: str) -> None:
        from workstation.ui.screens.review import ReviewScreen

        try:
            review = await self.engine.review(request)
        except IntentError as exc:
            if origin == "command":  # back to the line, as typed, with the reason under it
                self.action_command_line(text)
            self.failed("order", str(exc), origin=origin)
            return
        if not self.confirm_orders and review.ok:
            await self._send(request, origin)
            return
        p = self.palette_styles
        screen = ReviewScreen(request, review, buy_style=str(p["buy"].color.name if p["buy"].color else "green"),
                              sell_style=str(p["sell"].color.name if p["sell"].color else "red"), note=note)

        async def decided(send: bool | None) -> None:
            if send:
                await self._send(request, origin)
            else:
                self.log_line("info", f"not sent: {request.side.value} {plain(request.qty)} {request.symbol}")

        self.push_screen(screen, decided)

    async def _send(self: WorkstationApp, request: OrderRequest, origin: str = "") -> None:
        try:
            order = await self.engine.submit(request)
        except IntentError as exc:
            self.failed("order", str(exc))
            return
        self._orders_dirty = self._account_dirty = True
        self.post_message(OrderSent(order))
        if origin == "ticket":
            self.leave_ticket()

    def leave_ticket(self: WorkstationApp) -> None:
        """Back to the pane that opened the ticket (``b``/``s``, ``m``), if there is one."""
        origin, self._ticket_origin = self._ticket_origin, None
        if origin is not None and origin.is_attached:
            if self.is_compact and origin.id != "watchlist":
                self._show_compact(origin.id or "positions")
            self.focus_now(origin)

    def on_ticket_pane_leave(self: WorkstationApp) -> None:
        origin = self._ticket_origin
        self.leave_ticket()
        if origin is None:
            self.focus_now(self.main.query_one(WatchlistPane))

    def failed(self: WorkstationApp, action: str, message: str, *, origin: str = "") -> None:
        """One line: inline where it was typed, a notification, and the Log."""
        if origin == "ticket":
            self.main.query_one(TicketPane).error(message)
        elif origin == "command":
            self.command_error(message)
        self.notify(message, title=f"{action} refused", severity="error")
        self.log_line("error", f"{action}: {message}")
        self.post_message(IntentFailed(action, message))

    # ------------------------------------------------------------------ ticket
    def on_ticket_pane_review(self: WorkstationApp, event: TicketPane.Review) -> None:
        self.review_and_send(event.request, origin="ticket")

    def on_ticket_pane_replace(self: WorkstationApp, event: TicketPane.Replace) -> None:
        o = event.order
        changes = [f"qty {plain(o.qty)} → {plain(event.qty)}"]
        if event.limit_price != o.limit_price:
            changes.append(f"limit {plain(o.limit_price)} → {plain(event.limit_price)}")
        if event.stop_price != o.stop_price:
            changes.append(f"stop {plain(o.stop_price)} → {plain(event.stop_price)}")

        async def go() -> None:
            try:
                await self.engine.replace(
                    o.id, qty=event.qty if event.qty != o.qty else None,
                    limit_price=event.limit_price if event.limit_price != o.limit_price else None,
                    stop_price=event.stop_price if event.stop_price != o.stop_price else None,
                )
            except IntentError as exc:
                self.failed("modify", str(exc), origin="ticket")
                return
            self.main.query_one(TicketPane).finish_modify()
            self._orders_dirty = True
            self.post_message(IntentDone("modify", f"order {o.id}: {', '.join(changes)}"))
            self.leave_ticket()

        self.confirm(f"Replace order {o.id} ({o.side.value} {o.symbol}): {', '.join(changes)}?", "Modify order", go)

    def on_watchlist_pane_trade(self: WorkstationApp, event: WatchlistPane.Trade) -> None:
        ticket = self.main.query_one(TicketPane)
        ticket.prefill(event.side, event.symbol, event.price)
        self._ticket_origin = self.focused
        self.action_focus_pane("ticket")

    # ------------------------------------------------------------------ the option chain
    def open_chain(
        self: WorkstationApp, symbol: str, expiry: date | None = None, strikes: int | None = None, *, origin: str = "", text: str = "",
    ) -> None:
        """Ask the engine for the chain (a worker); the screen opens with the first answer, a
        refusal is one line (under the command line when it was typed there)."""
        self.run_worker(self._open_chain(symbol, expiry, strikes, origin, text), group="chain", exclusive=True, exit_on_error=False, name="chain")

    async def _open_chain(self: WorkstationApp, symbol: str, expiry: date | None, strikes: int | None, origin: str, text: str) -> None:
        from workstation.ui.screens.chain import ChainScreen, ChainTrade

        count = strikes or CHAIN_STRIKES
        try:
            chain = await self.engine.option_chain(symbol, expiry, count)
        except IntentError as exc:
            if origin == "command":
                self.action_command_line(text)
            self.failed("chain", str(exc), origin=origin)
            return

        def done(trade: ChainTrade | None) -> None:
            if trade is None:
                return
            ticket = self.main.query_one(TicketPane)
            ticket.prefill(trade.side, trade.symbol, trade.price)
            ticket.set_value("qty", "1")  # one contract (x100 shares), not the last order's share count
            self._ticket_origin = self.main.query_one(WatchlistPane)
            self.action_focus_pane("ticket")

        self.push_screen(ChainScreen(chain, strikes=count, repaint_hz=self.repaint_hz), done)
        self.post_message(IntentDone("chain", chain.underlying))

    # ------------------------------------------------------------------ confirmations
    def confirm(self: WorkstationApp, question: str, title: str, then) -> None:
        def answer(yes: bool | None) -> None:
            if yes:
                self.run_worker(then(), group="intents", exit_on_error=False, name=title.lower())

        self.push_screen(ConfirmScreen(question, title), answer)

    def on_orders_pane_cancel(self: WorkstationApp, event: OrdersPane.Cancel) -> None:
        self.ask_cancel(event.order_id)

    def on_orders_pane_modify(self: WorkstationApp, event: OrdersPane.Modify) -> None:
        o = event.order
        if o.legs:  # a combo is not modified in place (its legs go out as one order)
            self.failed("modify", f"order {o.id} is a combo: cancel it and send a new one to change it")
            return
        if not (o.status.is_working and o.type in (OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT)):
            state = "held until its entry fills" if o.parent_id and o.status.value == "new" else o.status.value.replace("_", " ")
            self.failed("modify", f"order {o.id} is {state}: only working market, limit and stop orders can be modified")
            return
        self.main.query_one(TicketPane).load_order(o)
        self._ticket_origin = self.focused
        self.action_focus_pane("ticket")

    def on_positions_pane_close(self: WorkstationApp, event: PositionsPane.Close) -> None:
        self.ask_flatten(event.symbol)

    def on_positions_pane_close_combo(self: WorkstationApp, event: PositionsPane.CloseCombo) -> None:
        """Close a combo's legs still held: the reverse combo, as one market order, once confirmed."""
        from workstation.api import close_combo_request

        held = {p.symbol: p.qty for p in (self._snapshot or self.engine.snapshot()).positions}
        try:
            req = close_combo_request(event.order, lambda s: held.get(s, Decimal(0)), "cli")
        except IntentError as exc:
            self.failed("close combo", str(exc))
            return

        async def go() -> None:
            try:
                order = await self.engine.submit(req)
            except IntentError as exc:
                self.failed("close combo", str(exc))
                return
            self._orders_dirty = self._account_dirty = True
            self.post_message(OrderSent(order))

        self.confirm(f"Close combo {event.order.id} {event.order.symbol}: {req.side.value} {plain(req.qty)} at market, as one order?", "Close combo", go)

    def ask_cancel(self: WorkstationApp, order_id: str | None) -> None:
        if order_id is None:
            n = len(working(self.engine.orders()))
            if n == 0:
                self.failed("cancel", "no working orders")
                return

            async def all_() -> None:
                done = await self.engine.cancel_all()
                self._orders_dirty = True
                self.post_message(IntentDone("cancel", f"{len(done)} orders"))

            self.confirm(f"Cancel all {n} working order{'s' if n != 1 else ''}?", "Cancel all", all_)
            return
        order = next((o for o in self.engine.orders() if o.id == order_id), None)
        if order is None or not order.status.is_working and not (order.parent_id and order.status.value == "new"):
            state = order.status.value.replace("_", " ") if order else "unknown"
            self.failed("cancel", f"order {order_id} is not working ({state})")
            return

        async def one() -> None:
            try:
                await self.engine.cancel(order_id)
            except IntentError as exc:
                self.failed("cancel", str(exc))
                return
            self._orders_dirty = True
            self.post_message(IntentDone("cancel", f"order {order_id}"))

        self.confirm(f"Cancel order {order_id}: {order.side.value} {plain(order.qty)} {order.symbol} {order_price(order)}?", "Cancel order", one)

    def ask_flatten(self: WorkstationApp, symbol: str | None) -> None:
        snap = self._snapshot or self.engine.snapshot()
        if symbol is None:
            n = len(snap.positions)
            w = len(working(self.engine.orders()))
            if n == 0 and w == 0:
                self.failed("flatten", "no positions and no working orders")
                return
            question = f"Cancel {w} working order{'s' if w != 1 else ''} and close {n} position{'s' if n != 1 else ''} at market?"
        else:
            pos = next((p for p in snap.positions if p.symbol == symbol), None)
            if pos is None:
                self.failed("flatten", f"no position in {symbol}")
                return
            side = "sell" if pos.qty > 0 else "buy"
            question = f"Close {plain(pos.qty)} {symbol}: {side} {plain(abs(pos.qty))} at market?"

        async def go() -> None:
            try:
                done = await self.engine.flatten(symbol)
            except IntentError as exc:
                self.failed("flatten", str(exc))
                return
            self._orders_dirty = self._account_dirty = True
            for order in done:
                self.post_message(OrderSent(order))
            self.post_message(IntentDone("flatten", symbol or "all"))

        self.confirm(question, "Close position" if symbol else "Flatten all", go)

    # ------------------------------------------------------------------ watchlists
    def watch_command(self: WorkstationApp, cmd: WatchCommand) -> None:
        wl = self.main.query_one(WatchlistPane)
        if cmd.action == "add":
            if not self.watchlists.add(cmd.name):
                self.failed("watch", f"{cmd.name} is already on {self.watchlists.active}")
                return
        elif cmd.action == "rm":
            if not self.watchlists.remove(cmd.name):
                self.failed("watch", f"{cmd.name} is not on {self.watchlists.active}")
                return
        else:
            self.watchlists.switch(cmd.name)
        self._refresh_watchlist()
        if cmd.action == "add":
            wl.select_key(cmd.name)
        self.post_message(IntentDone("watch", f"{cmd.action} {cmd.name}"))

    def _refresh_watchlist(self: WorkstationApp) -> None:
        wl = self.main.query_one(WatchlistPane)
        symbols = list(self.watchlists.symbols)
        wl.set_symbols(symbols, self._digits(symbols))
        self._set_watchlist_title()
        for s in symbols:
            q = self.engine.quote(s)
            if q is not None:
                self._latest[s] = q
                self._dirty.add(s)
        if self._started:
            self.run_worker(self._watch(symbols), group="watch", exit_on_error=False, name="watch")
        wl.repaint(self.engine.time())

    async def _watch(self: WorkstationApp, symbols: list[str]) -> None:
        await self.engine.watch(symbols)
        for s in symbols:
            q = self.engine.quote(s)
            if q is not None and s not in self._latest:
                self._latest[s] = q
                self._dirty.add(s)

    def on_watchlist_pane_add_symbol(self: WorkstationApp) -> None:
        self.action_command_line("watch add ")

    def on_watchlist_pane_remove_symbol(self: WorkstationApp, event: WatchlistPane.RemoveSymbol) -> None:
        self.watch_command(WatchCommand("rm", event.symbol))

    def on_watchlist_pane_cycle_list(self: WorkstationApp, event: WatchlistPane.CycleList) -> None:
        self.cycle_watchlist(event.step)

    def cycle_watchlist(self: WorkstationApp, step: int) -> None:
        self.watchlists.cycle(step)
        self._refresh_watchlist()


__all__ = ["GRAMMAR_HELP", "IntentsMixin", "describe_order"]
