"""Risk: whatever rows the engine publishes, each a (name, used, limit) with a usage bar."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from textual.binding import Binding
from textual.message import Message

from workstation.api import RiskRow
from workstation.core.formatting import percent
from workstation.core.model import plain
from workstation.ui.panes.format import money, num
from workstation.ui.panes.table import Column, LiveTable, Row

BAR = 8


def usage_bar(used, limit) -> str:
    if limit is None or limit <= 0:
        return ""
    frac = max(0.0, min(1.0, float(abs(used) / limit)))
    full = round(frac * BAR)
    return "█" * full + "░" * (BAR - full) + f" {frac * 100:3.0f}%"


SHORT = {
    "intraday drawdown": "intraday DD", "drawdown from peak": "drawdown", "orders per second": "orders/s",
    "orders per minute": "orders/min", "buying power used": "BP used", "gross exposure": "gross exp.",
    "net exposure": "net exp.", "buying power": "buying power", "largest position (qty)": "max pos qty",
    "largest position ($)": "max pos $", "symbol concentration": "symbol conc.", "sector concentration": "sector conc.",
    "maintenance margin": "maint. margin",  # above equity: a margin call
    "underlying delta": "und. delta", "underlying gamma": "und. gamma", "underlying vega": "und. vega",
    "VaR % equity": "VaR %",
    "orders per hour": "orders/h", "open positions": "open pos.", "gross leverage": "leverage", "day trades (5d)": "day trades",
}  # short enough that the Check column leaves Value and Limit room in a 40-column pane
# the limit behind each row (the editor opens on it)
LIMIT_OF = {
    "day loss": "max_daily_loss", "intraday drawdown": "max_intraday_drawdown_pct", "drawdown from peak": "max_drawdown_pct",
    "gross exposure": "max_gross_exposure", "net exposure": "max_net_exposure", "largest position (qty)": "max_position_qty",
    "largest position ($)": "max_position_notional", "symbol concentration": "max_symbol_pct",
    "sector concentration": "max_sector_pct", "open orders": "max_open_orders", "orders per second": "max_orders_per_second",
    "orders per minute": "max_orders_per_minute", "orders today": "max_orders_per_day",
    "margin used": "max_margin_pct",
    "net delta": "max_net_delta", "net gamma": "max_net_gamma", "net vega": "max_net_vega",  # workstation.risk.greek_limits
    "underlying delta": "max_underlying_delta", "underlying gamma": "max_underlying_gamma", "underlying vega": "max_underlying_vega",
    "VaR": "max_var", "VaR % equity": "max_var_pct",  # workstation.risk.var_limits
    "stress loss": "max_stress_loss", "stress loss %": "max_stress_loss_pct",
    "orders per hour": "max_orders_per_hour", "open positions": "max_open_positions",  # workstation.risk.compliance
    "gross leverage": "max_gross_leverage",
}
ROLE = {"breach": "down", "near": "stale", "ok": "", "off": "muted"}


def fmt(value: Decimal | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "$":
        return money(value)
    if unit == "%":
        return percent(value)
    return num(value)


class RiskPane(LiveTable):
    """Whatever rows the engine publishes; near a limit in the warning colour, over it in red."""

    BINDINGS = [
        Binding("e", "edit", "Edit limit", id="risk.edit", tooltip="Change a limit now (journaled): NAME VALUE"),
        Binding("R", "reset_breaker", "Reset breaker", id="risk.reset_breaker", tooltip="Reset the tripped circuit breaker (asks first)"),
        Binding("p", "portfolio_risk", "Portfolio risk", id="risk.portfolio", tooltip="The Risk screen: VaR, decomposition, correlation, stress, heatmap"),
    ]

    @dataclass
    class EditLimit(Message):
        prefill: str  # "NAME VALUE" of the selected row's limit, or ""

    class ResetBreaker(Message):
        pass

    class PortfolioRisk(Message):
        """Open the Risk screen (``workstation.ui.screens.risk``)."""

    COLUMNS = [
        Column("name", "Check", 12, priority=9),
        Column("used", "Value", 10, right=True, priority=9),
        Column("limit", "Limit", 10, right=True, priority=7),
        Column("bar", "Use", 13, priority=5),
        Column("detail", "Basis", 18, priority=3),  # the VaR's method, the worst stress scenario (when the pane is wide)
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(list(self.COLUMNS), id=id, classes=classes)
        self.rows_shown: dict[str, RiskRow] = {}

    def show(self, rows: tuple[RiskRow, ...]) -> None:
        self.rows_shown = {r.name: r for r in rows}
        out = []
        for r in rows:
            role = ROLE.get(r.state, "")
            name = SHORT.get(r.name, r.name)
            out.append(Row(r.name, (
                (name, role if r.state in ("near", "breach") else ""), (fmt(r.used, r.unit), role if r.state != "off" else ""),
                (fmt(r.limit, r.unit), "muted"),
                (usage_bar(r.used, r.limit) if r.used else "", role or "muted"),
                (r.detail, "muted"),
            )))
        self.set_rows(out)

    def action_edit(self) -> None:
        r = self.rows_shown.get(self.selected_key or "")
        name = LIMIT_OF.get(r.name) if r is not None else None
        prefill = ""
        if name:
            prefill = f"{name} {plain(r.limit)}" if r.limit is not None else f"{name} "
        self.post_message(self.EditLimit(prefill))

    def action_reset_breaker(self) -> None:
        self.post_message(self.ResetBreaker())

    def action_portfolio_risk(self) -> None:
        self.post_message(self.PortfolioRisk())
