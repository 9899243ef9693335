"""Orders: working ones and today's finished ones, newest first, with state and reasons."""

from __future__ import annotations

from datetime import datetime, timezone

from textual.binding import Binding
from textual.message import Message

from workstation.core.model import Order, OrderStatus, OrderType, plain
from workstation.ui.panes.format import num, price
from workstation.ui.panes.table import Column, LiveTable, Row

STATUS_ROLE = {
    OrderStatus.FILLED: "up", OrderStatus.REJECTED: "down", OrderStatus.CANCELED: "muted",
    OrderStatus.EXPIRED: "muted", OrderStatus.PARTIALLY_FILLED: "stale",
    OrderStatus.UNKNOWN: "stale",  # shown as UNKNOWN: working or filled at the broker, nobody can tell yet
}


def order_price(o: Order) -> str:
    if o.type is OrderType.MARKET:
        return "mkt"
    if o.type is OrderType.TRAILING_STOP:
        return f"trail {plain(o.trail_percent)}%" if o.trail_percent is not None else f"trail {plain(o.trail_amount)}"
    parts = []
    if o.stop_price is not None:
        parts.append(f"stp {plain(o.stop_price)}")
    if o.limit_price is not None:
        parts.append(plain(o.limit_price) if o.type is OrderType.LIMIT else f"lmt {plain(o.limit_price)}")
    return " ".join(parts)


class OrdersPane(LiveTable):
    BINDINGS = [
        Binding("c", "cancel", "Cancel", id="orders.cancel", tooltip="Cancel the selected order"),
        Binding("C", "cancel_all", "Cancel all", id="orders.cancel_all", tooltip="Cancel every working order"),
        Binding("m", "modify", "Modify", id="orders.modify", tooltip="Modify the selected order (sent as a replace)"),
    ]

    COLUMNS = [
        Column("id", "ID", 3, right=True, priority=9),
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

    def show(self, orders: list[Order]) -> None:
        self.orders = {o.id: o for o in orders}
        rows = []
        for o in orders:
            t = datetime.fromtimestamp(o.created, tz=timezone.utc).strftime("%H:%M:%S")
            status = o.status.value.replace("partially_filled", "partial").replace("unknown", "UNKNOWN")
            role = STATUS_ROLE.get(o.status, "")
            if o.parent_id and o.status is OrderStatus.NEW:
                status = "held"
            rows.append(Row(o.id, (
                (o.id, "muted"), (t, "muted"), (o.symbol, ""), (o.side.value, o.side.value), (num(o.qty), ""),
                (o.type.value.replace("_", "-").replace("trailing-stop", "trail"), ""), (order_price(o), ""),
                (o.tif.value, "muted"), (status, role), (num(o.filled_qty) if o.filled_qty else "", ""),
                (price(o.avg_fill_price) if o.avg_fill_price is not None else "", ""), (o.reason or "", "down" if o.reason else ""),
            )))
        self.set_rows(rows)

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
