"""Risk: whatever rows the engine publishes, each a (name, used, limit) with a usage bar."""

from __future__ import annotations

from decimal import Decimal

from workstation.api import RiskRow
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
    "net exposure": "net exp.", "buying power": "buying power",
}
ROLE = {"breach": "down", "near": "stale", "ok": "", "off": "muted"}


def fmt(value: Decimal | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "$":
        return money(value)
    if unit == "%":
        return f"{value:.2f}%"
    return num(value)


class RiskPane(LiveTable):
    """Whatever rows the engine publishes; near a limit in the warning colour, over it in red."""

    COLUMNS = [
        Column("name", "Check", 12, priority=9),
        Column("used", "Value", 10, right=True, priority=9),
        Column("limit", "Limit", 10, right=True, priority=7),
        Column("bar", "Use", 13, priority=5),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(list(self.COLUMNS), id=id, classes=classes)

    def show(self, rows: tuple[RiskRow, ...]) -> None:
        out = []
        for r in rows:
            role = ROLE.get(r.state, "")
            name = SHORT.get(r.name, r.name)
            out.append(Row(r.name, (
                (name, role if r.state in ("near", "breach") else ""), (fmt(r.used, r.unit), role if r.state != "off" else ""),
                (fmt(r.limit, r.unit), "muted"),
                (usage_bar(r.used, r.limit) if r.used else "", role or "muted"),
            )))
        self.set_rows(out)
