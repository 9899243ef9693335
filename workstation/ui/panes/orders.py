"""Orders: the working ones (or, on ``a``, today's finished ones too), newest first.

A bracket's take-profit and stop-loss sit under their entry ("└ TP", "└ SL"), and the
other orders of an OCO group under its first one ("└ OCO"). A working trailing stop shows
where it would trigger now; a canceled order says who canceled it (the user, a strategy,
the kill switch, the circuit breaker, its OCO sibling or its entry). An extended-hours order
reads "limit ext" in the Type column: it may fill pre- and post-market.
"""

from __future__ import annotations

from datetime import datetime, timezone

from textual.binding import Binding
from textual.message import Message

from workstation.api import working
from workstation.core.model import Order, OrderStatus, OrderType, plain
from workstation.ui.panes import PANES
from workstation.ui.panes.format import digits_of, num, price
from workstation.ui.panes.table import Column, LiveTable, Row

STATUS_ROLE = {
    OrderStatus.FILLED: "up", OrderStatus.REJECTED: "down", OrderStatus.CANCELED: "muted",
    OrderStatus.EXPIRED: "muted", OrderStatus.PARTIALLY_FILLED: "stale",
    OrderStatus.UNKNOWN: "stale",  # shown as UNKNOWN: working or filled at the broker, nobody can tell yet
}


LEG = {"take_profit": "TP", "stop_loss": "SL"}


def order_price(o: Order) -> str:
    if o.type is OrderType.MARKET:
        return "mkt"
    if o.type is OrderType.TRAILING_STOP:
        trail = f"trail {plain(o.trail_percent)}%" if o.trail_percent is not None else f"trail {plain(o.trail_amount)}"
        # the engine gives a working trailing stop's current trigger as its stop price
        return f"{trail} stp {plain(o.stop_price)}" if o.stop_price is not None and o.status.is_working else trail
    parts = []
    if o.stop_price is not None:
        parts.append(f"stp {plain(o.stop_price)}")
    if o.limit_price is not None:
        parts.append(plain(o.limit_price) if o.type is OrderType.LIMIT else f"lmt {plain(o.limit_price)}")
    return " ".join(parts)


def cancel_reason(o: Order) -> str:
    """Who or what canceled an order, in a word or two (other statuses keep their reason)."""
    why = o.reason or ""
    if o.status is not OrderStatus.CANCELED:
        return why
    if why.startswith("kill switch"):
        return "kill switch"
    if why.startswith("circuit breaker"):
        return "breaker" + why[len("circuit breaker"):]
    if why.startswith("OCO with "):
        return f"OCO #{why[len('OCO with '):]}"
    if why.startswith("entry "):  # "entry 12 canceled": a bracket leg goes with its entry
        return f"entry #{why.split()[1]}"
    if why == "canceled by user":
        return "user"
    if why == "canceled by request":  # the broker's words: the order's own strategy asked
        return "strategy" if o.strategy else "user"
    return why or "canceled"


def linked(orders: list[Order]) -> list[tuple[Order, str]]:
    """Orders in display order with their link mark: children right under their parent."""
    ids = {o.id for o in orders}
    heads: dict[str, str] = {}  # OCO group -> its first (oldest) order
    for o in sorted(orders, key=_num):
        if o.oco_group and not o.parent_id:
            heads.setdefault(o.oco_group, o.id)
    under: dict[str, list[tuple[Order, str]]] = {}
    top: list[Order] = []
    for o in orders:
        if o.parent_id in ids:
            under.setdefault(o.parent_id, []).append((o, LEG.get(o.role or "", "leg")))
        elif o.oco_group and not o.parent_id and heads.get(o.oco_group, o.id) != o.id:
            under.setdefault(heads[o.oco_group], []).append((o, "OCO"))
        else:
            top.append(o)
    out: list[tuple[Order, str]] = []
    for o in top:
        out.append((o, ""))
        out.extend(sorted(under.get(o.id, ()), key=lambda om: _num(om[0])))
    return out


def _num(o: Order) -> int:
    return int(o.id) if o.id.isdigit() else 0


class OrdersPane(LiveTable):
    BINDINGS = [
        Binding("a", "toggle_view", "All/working", id="orders.view", tooltip="Show every order of the day, or the working ones only"),
        Binding("c", "cancel", "Cancel", id="orders.cancel", tooltip="Cancel the selected order"),
        Binding("C", "cancel_all", "Cancel all", id="orders.cancel_all", tooltip="Cancel every working order"),
        Binding("m", "modify", "Modify", id="orders.modify", tooltip="Modify the selected order (sent as a replace)"),
    ]

    COLUMNS = [
        Column("id", "ID", 3, priority=9),
        Column("time", "Time", 8, priority=1),
        Column("symbol", "Symbol", 7, priority=9),
        Column("side", "Side", 4, priority=9),
        Column("qty", "Qty", 5, right=True, priority=9),
        Column("type", "Type", 6, priority=4),
        Column("price", "Price", 8, right=True, priority=8),
        Column("tif", "TIF", 3, priority=2),
        Column("status", "Status", 8, priority=9),
        Column("filled", "Filled", 6, right=True, priority=6),
        Column("avg", "Avg", 8, right=True, priority=3),
        Column("reason", "Reason", 8, priority=5, flexible=True),
    ]

    class Cancel(Message):
        def __init__(self, order_id: str | None) -> None:
            super().__init__()
            self.order_id = order_id  # None: all

    class Modify(Message):
        def __init__(self, order: Order) -> None:
            super().__init__()
            self.order = order

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(list(self.COLUMNS), id=id, classes=classes)
        self.orders: dict[str, Order] = {}
        self.show_all = False
        """False: only working orders (UNKNOWN ones included) and the entries of working legs."""
        self._last: list[Order] = []

    @property
    def trailing(self) -> bool:
        """A trailing stop is working: its trigger moves with the market, so reread the orders often."""
        return any(o.type is OrderType.TRAILING_STOP and o.status.is_working for o in self._last)

    @property
    def view(self) -> str:
        return "all" if self.show_all else "working"

    def action_toggle_view(self) -> None:
        self.show_all = not self.show_all
        self.show(self._last)

    def _title(self, shown: int, total: int) -> None:
        key, title = next(((k, t) for k, pane, t in PANES if pane == self.id), ("", "Orders"))
        view = "all" if self.show_all else "working"
        if total:
            view += f" ({total})" if self.show_all else f" ({shown} of {total})"
        self.border_title = f"{key} {title} · {view}".lstrip()

    def show(self, orders: list[Order]) -> None:
        self._last = orders
        self.orders = {o.id: o for o in orders}
        if self.show_all:
            chosen = orders
        else:
            keep = {o.id for o in working(orders)}
            keep |= {o.parent_id for o in orders if o.id in keep and o.parent_id}  # an entry stays above its working legs
            chosen = [o for o in orders if o.id in keep]
        rows = []
        for o, leg in linked(chosen):
            t = datetime.fromtimestamp(o.created, tz=timezone.utc).strftime("%H:%M:%S")
            status = o.status.value.replace("partially_filled", "partial").replace("unknown", "UNKNOWN")
            role = STATUS_ROLE.get(o.status, "")
            if o.parent_id and o.status is OrderStatus.NEW:
                status = "held"
            reason = cancel_reason(o)
            rows.append(Row(o.id, (
                (f" └ {leg} {o.id}" if leg else o.id, "muted"), (t, "muted"), (o.symbol, ""), (o.side.value, o.side.value), (num(o.qty), ""),
                (o.type.value.replace("_", "-").replace("trailing-stop", "trail") + (" ext" if o.extended else ""), ""), (order_price(o), ""),
                (o.tif.value, "muted"), (status, role), (num(o.filled_qty) if o.filled_qty else "", ""),
                (price(o.avg_fill_price, digits_of(self.app, o.symbol)) if o.avg_fill_price is not None else "", ""), (reason, ("muted" if o.status is OrderStatus.CANCELED else "down") if reason else ""),
            )))
        self.set_rows(rows)
        self._title(len(chosen), len(orders))

    @property
    def selected(self) -> Order | None:
        key = self.selected_key
        return self.orders.get(key) if key is not None else None

    def action_cancel(self) -> None:
        o = self.selected
        if o is None:
            self.app.bell()
            return
        self.post_message(self.Cancel(o.id))

    def action_cancel_all(self) -> None:
        self.post_message(self.Cancel(None))

    def action_modify(self) -> None:
        o = self.selected
        if o is None:
            self.app.bell()
            return
        self.post_message(self.Modify(o))
