"""Positions: quantity, average cost, last, market value, P&L (coloured), share of equity."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message

from workstation.api import PositionRow
from workstation.ui.panes.format import money, num, price, signed
from workstation.ui.panes.table import Column, LiveTable, Row


class PositionsPane(LiveTable):
    BINDINGS = [Binding("x", "close", "Close position", id="positions.close", tooltip="Close the selected position at market")]

    COLUMNS = [
        Column("symbol", "Symbol", 8, priority=9),
        Column("qty", "Qty", 6, right=True, priority=9),
        Column("avg", "Avg cost", 9, right=True, priority=6),
        Column("last", "Last", 9, right=True, priority=7),
        Column("mv", "Mkt value", 11, right=True, priority=5),
        Column("upl", "Unrealized", 10, right=True, priority=8),
        Column("rpl", "Realized", 9, right=True, priority=4),
        Column("pct", "%Eq", 6, right=True, priority=3),
    ]

    class Close(Message):
        def __init__(self, symbol: str) -> None:
            super().__init__()
            self.symbol = symbol

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(list(self.COLUMNS), id=id, classes=classes)

    def show(self, positions: tuple[PositionRow, ...]) -> None:
        rows = []
        for p in positions:
            upl, upl_role = signed(p.unrealized_pnl)
            rpl, rpl_role = signed(p.realized_pnl)
            rows.append(Row(p.symbol, (
                (p.symbol, ""), (num(p.qty), "buy" if p.qty > 0 else "sell"), (price(p.avg_price), ""),
                (price(p.last), ""), (money(p.market_value), ""), (upl, upl_role), (rpl, rpl_role),
                (f"{p.pct_of_equity}%", "muted"),
            )))
        self.set_rows(rows)

    def action_close(self) -> None:
        if self.selected_key is None:
            self.app.bell()
            return
        self.post_message(self.Close(self.selected_key))
