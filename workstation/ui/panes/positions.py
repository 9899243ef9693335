"""Positions: quantity, average cost, last, market value, P&L (coloured), share of equity.

Below the open positions, the ones closed this trading day stay (muted, quantity 0) with the
P&L they realized; "today" is the risk engine's trading day, the one the daily-loss limit
counts. The total line sums unrealized P&L and P&L realized today and gives the net
exposure under Mkt value, with the gross exposure on the line below. Realized is today's,
in every row.

In this (P&L) view, a combo whose legs are exactly what is held of them
(``workstation.api.combo_groups``: combos among the day's orders) is one group line (its name, units, net cost, net last, the legs'
value and P&L summed) with its legs indented below; ``x`` on that line closes the combo as ONE
reverse order (after a confirmation). A leg held beyond its combo stays a plain row.

``v`` switches to the Greeks view (and back), at any width: per position its delta in shares
of the underlying, dollar delta, gamma (shares of delta per $1), theta per day, vega per vol
point and an option's IV (``workstation.trading.greeks``); blank, never 0, where a figure is
unknown. Below the positions, a total line per underlying that has options (its legs' shares
add up), then the account's total (money terms only) and its beta-weighted delta in SPY
shares (``β SPY``; "β=1" marks underlyings without the history for a beta).
"""

from __future__ import annotations

from decimal import Decimal

from textual.binding import Binding
from textual.message import Message

from workstation.api import GreekTotals, PositionRow, PositionTotals, combo_groups
from workstation.core.model import Order
from workstation.core.formatting import percent, ratio
from workstation.ui.panes.format import digits_of, money, num, price, signed
from workstation.ui.panes.table import Column, LiveTable, Row

TOTAL, GROSS, BETA = "\0total", "\0gross", "\0beta"  # row keys no symbol can have
UNDERLYING = "\0u:"  # + the underlying: its total line in the Greeks view
COMBO = "\0combo:"  # + a combo order's id: its group line, its legs' rows below it


def _fig(x: float | None, places: int) -> str:
    """A Greek as the pane shows it: blank when unknown, never ``-0``."""
    return "" if x is None else ratio(x, places)


class PositionsPane(LiveTable):
    BINDINGS = [
        Binding("x", "close", "Close position", id="positions.close", tooltip="Close the selected position at market (on a combo's line: the combo, as one order)"),
        Binding("v", "toggle_greeks", "P&L/Greeks", id="positions.greeks", tooltip="Show the positions' Greeks (delta, gamma, theta, vega), or their P&L"),
    ]

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

    GREEK_COLUMNS = [
        Column("symbol", "Symbol", 8, priority=9),
        Column("qty", "Qty", 6, right=True, priority=9),
        Column("delta", "Delta", 8, right=True, priority=8),
        Column("ddelta", "$Delta", 10, right=True, priority=5),
        Column("gamma", "Gamma", 7, right=True, priority=6),
        Column("theta", "Theta", 8, right=True, priority=7),
        Column("vega", "Vega", 8, right=True, priority=7),
        Column("iv", "IV", 6, right=True, priority=4),
    ]

    class Close(Message):
        def __init__(self, symbol: str) -> None:
            super().__init__()
            self.symbol = symbol

    class CloseCombo(Message):
        """Close a combo's legs still held as one reverse combo order (``x`` on its group line)."""

        def __init__(self, order: Order) -> None:
            super().__init__()
            self.order = order

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(list(self.COLUMNS), id=id, classes=classes)
        self.open_symbols: set[str] = set()
        self.greeks_view = False
        self._combos: dict[str, Order] = {}  # the combos grouped on screen, by order id
        self._shown: tuple = ((), (), None, ())

    def show(
        self, positions: tuple[PositionRow, ...], closed: tuple[PositionRow, ...] = (), totals: PositionTotals | None = None,
        greeks: tuple[GreekTotals, ...] = (),
    ) -> None:
        self._shown = (positions, closed, totals, greeks)
        self.open_symbols = {p.symbol for p in positions}
        if self.greeks_view:
            self.set_rows(self._greek_rows(positions, closed, greeks))
            return
        rows, positions = self._combo_rows(positions)
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

    def _greek_rows(self, positions: tuple[PositionRow, ...], closed: tuple[PositionRow, ...], greeks: tuple[GreekTotals, ...]) -> list[Row]:
        rows = []
        for p in positions:
            rows.append(Row(p.symbol, (
                (p.symbol, ""), (num(p.qty), "buy" if p.qty > 0 else "sell"), (_fig(p.delta, 1), ""),
                (_fig(p.dollar_delta, 0), ""), (_fig(p.gamma, 2), ""), (_fig(p.theta, 2), ""), (_fig(p.vega, 2), ""),
                (percent(p.iv * 100, 1) if p.iv is not None else "", "muted"),
            )))
        for p in closed:
            rows.append(Row(p.symbol, ((p.symbol, "muted"), ("0", "muted"), *((("", ""),) * 6))))
        account = next((t for t in greeks if t.underlying is None), None)
        for t in greeks:
            if t.underlying is None or not t.has_options:
                continue
            rows.append(Row(UNDERLYING + t.underlying, (
                (f"{t.underlying} total", "header"), ("", ""), (_fig(t.delta_shares, 1), "header"),
                (_fig(t.dollar_delta, 0), "header"), (_fig(t.gamma_shares, 2), "header"), (_fig(t.theta, 2), "header"),
                (_fig(t.vega, 2), "header"), (f"{t.unknown} ?" if t.unknown else "", "muted"),
            )))
        if account is not None and positions:
            rows.append(Row(TOTAL, (
                ("Total", "header"), ("", ""), ("", ""), (_fig(account.dollar_delta, 0), "header"),
                ("", ""), (_fig(account.theta, 2), "header"), (_fig(account.vega, 2), "header"),
                (f"{account.unknown} ?" if account.unknown else "", "muted"),
            )))
            fallback = account.beta_source.startswith("fallback")
            spy = account.beta_delta_spy
            rows.append(Row(BETA, (
                ("β SPY", "muted"), ("", ""), (_fig(spy, 1), "header"),
                (_fig(spy * account.spy_price, 0) if spy is not None and account.spy_price else "", "header"),
                ("β=1" if fallback else "", "muted"), ("", ""), ("", ""), ("", ""),
            )))
        return rows

    def action_toggle_greeks(self) -> None:
        """Switch between the P&L columns and the Greeks columns (any width)."""
        self.greeks_view = not self.greeks_view
        columns = self.GREEK_COLUMNS if self.greeks_view else self.COLUMNS
        self.columns = list(columns)
        self._widths = {c.key: max(c.width, len(c.label)) for c in columns}
        self._layout_key = ()  # the layout is worked out again for the new columns
        self.generation += 1  # every cached line goes
        self.set_note("Greeks · v: P&L" if self.greeks_view else "")
        self.show(*self._shown)
        self.on_resize()
        self.refresh()

    def _combo_rows(self, positions: tuple[PositionRow, ...]) -> tuple[list[Row], list[PositionRow]]:
        """Each combo whose legs are exactly what is held of them (``combo_groups``): a group line
        (its name, units, net cost, net last, and its legs' value and P&L summed), then its legs
        indented; and the positions left for plain rows."""
        engine = getattr(self.app, "engine", None)
        if engine is None or len(positions) < 2:
            return [], list(positions)
        groups = combo_groups(engine.orders(), positions)
        self._combos = {order.id: order for order, _ in groups}
        by_symbol = {p.symbol: p for p in positions}
        rows: list[Row] = []
        for order, units in groups:
            legs = [by_symbol.pop(leg.symbol) for leg in order.legs]
            lasts = [p.last for p in legs]
            last = None if None in lasts else sum((leg.side.sign * leg.ratio * p.last for leg, p in zip(order.legs, legs)), Decimal(0))
            upl, upl_role = signed(sum((p.unrealized_pnl for p in legs), Decimal(0)))
            rpl, rpl_role = signed(sum((p.realized_today for p in legs), Decimal(0)))
            rows.append(Row(COMBO + order.id, (
                (order.symbol, "header"), (num(units if order.side.sign > 0 else -units), order.side.value),
                (price(order.avg_fill_price, 2), ""), (price(last, 2), ""), (money(sum((p.market_value for p in legs), Decimal(0))), ""),
                (upl, upl_role), (rpl, rpl_role), ("combo", "muted"),
            )))
            for p in legs:
                upl, upl_role = signed(p.unrealized_pnl)
                rpl, rpl_role = signed(p.realized_today)
                d = digits_of(self.app, p.symbol)
                rows.append(Row(p.symbol, (
                    (f"  {p.symbol}", "muted"), (num(p.qty), "buy" if p.qty > 0 else "sell"), (price(p.avg_price, d), ""),
                    (price(p.last, d), ""), (money(p.market_value), ""), (upl, upl_role), (rpl, rpl_role),
                    (f"{p.pct_of_equity}%", "muted"),
                )))
        return rows, list(by_symbol.values())

    @property
    def keys(self) -> list[str]:
        """The symbols shown, open then closed today (the total and combo lines are not positions)."""
        return [k for k in super().keys if k not in (TOTAL, GROSS, BETA) and not k.startswith((UNDERLYING, COMBO))]

    def action_close(self) -> None:
        key = self.selected_key or ""
        if key.startswith(COMBO) and key[len(COMBO):] in self._combos:  # a combo's group line: close it as one order
            self.post_message(self.CloseCombo(self._combos[key[len(COMBO):]]))
            return
        if self.selected_key not in self.open_symbols:  # nothing, a closed row or the total line
            self.app.bell()
            return
        self.post_message(self.Close(self.selected_key))
