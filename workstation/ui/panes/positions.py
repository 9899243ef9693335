"""Positions: quantity, average cost, last, market value, P&L (coloured), share of equity.

Below the open positions, the ones closed this trading day stay (muted, quantity 0) with the
P&L they realized; "today" is the risk engine's trading day, the one the daily-loss limit
counts. The total line sums unrealized P&L and P&L realized today and gives the net
exposure under Mkt value, with the gross exposure on the line below. Realized is today's,
in every row.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message

from workstation.api import PositionRow, PositionTotals
from workstation.ui.panes.format import digits_of, money, num, price, signed
from workstation.ui.panes.table import Column, LiveTable, Row

TOTAL, GROSS = "\0total", "\0gross"  # row keys no symbol can have


class PositionsPane(LiveTable):
    BINDINGS = [Binding("x", "close", "Close position", id="positions.close", tooltip="Close the selected position at market")]

    COLUMNS = [
        Column("symbol", "Symbol", 8, priority=9),
        Column("qty", "Qty", 6, right=True, priority=9),
        Column("avg", "Avg cost", 9, right=True, priority=4),
        Column("last", "Last", 9, right=True, priority=6),
        Column("mv", "Mkt value", 11, right=True, priority=5),
        Column("upl", "Unrealized", 10, right=True, priority=8),
        Column("rpl", "Realized", 9, right=True, priority=7),
        Column("pct", "%Eq", 6, right=True, priority=3),
    ]

    class Close(Message):
        def __init__(self, symbol: str) -> None:
            super().__init__()
            self.symbol = symbol

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(list(self.COLUMNS), id=id, classes=classes)
        self.open_symbols: set[str] = set()

    def show(self, positions: tuple[PositionRow, ...], closed: tuple[PositionRow, ...] = (), totals: PositionTotals | None = None) -> None:
        rows = []
        self.open_symbols = {p.symbol for p in positions}
        for p in positions:
            upl, upl_role = signed(p.unrealized_pnl)
            rpl, rpl_role = signed(p.realized_today)
            d = digits_of(self.app, p.symbol)
            rows.append(Row(p.symbol, (
                (p.symbol, ""), (num(p.qty), "buy" if p.qty > 0 else "sell"), (price(p.avg_price, d), ""),
                (price(p.last, d), ""), (money(p.market_value), ""), (upl, upl_role), (rpl, rpl_role),
                (f"{p.pct_of_equity}%", "muted"),
            )))
        for p in closed:
            rpl, rpl_role = signed(p.realized_today)
            rows.append(Row(p.symbol, (
                (p.symbol, "muted"), ("0", "muted"), ("", ""), (price(p.last, digits_of(self.app, p.symbol)), "muted"), ("", ""), ("", ""),
                (rpl, rpl_role), ("", ""),
            )))
        if totals is not None and (positions or closed):
            upl, upl_role = signed(totals.unrealized)
            rpl, rpl_role = signed(totals.realized_today)
            rows.append(Row(TOTAL, (
                ("Total", "header"), ("net", "muted"), ("", ""), ("", ""), (money(totals.net_exposure), "header"),
                (upl, upl_role), (rpl, rpl_role), ("", ""),
            )))
            rows.append(Row(GROSS, (
                ("", ""), ("gross", "muted"), ("", ""), ("", ""), (money(totals.gross_exposure), "header"),
                ("", ""), ("", ""), ("", ""),
            )))
        self.set_rows(rows)

    @property
    def keys(self) -> list[str]:
        """The symbols shown, open then closed today (the total lines are not positions)."""
        return [k for k in super().keys if k not in (TOTAL, GROSS)]

    def action_close(self) -> None:
        if self.selected_key not in self.open_symbols:  # nothing, a closed row or the total line
            self.app.bell()
            return
        self.post_message(self.Close(self.selected_key))
