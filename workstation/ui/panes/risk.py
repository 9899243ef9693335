"""Risk: whatever rows the engine publishes, each a (name, used, limit) with a usage bar."""

from __future__ import annotations

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


class RiskPane(LiveTable):
    COLUMNS = [
        Column("name", "Check", 12, priority=9),
        Column("used", "Value", 10, right=True, priority=9),
        Column("limit", "Limit", 10, right=True, priority=7),
        Column("bar", "Use", 13, priority=5),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(list(self.COLUMNS), id=id, classes=classes)

    def show(self, rows: tuple[RiskRow, ...]) -> None:
        fmt = money
        out = []
        for r in rows:
            f = fmt if r.money else num
            role = "down" if r.breached else ""
            out.append(Row(r.name, (
                (r.name, role), (f(r.used) if r.used is not None else "—", role),
                (f(r.limit) if r.limit is not None else "—", "muted"),
                (usage_bar(r.used, r.limit) if r.used else "", "down" if r.breached else "muted"),
            )))
        self.set_rows(out)
