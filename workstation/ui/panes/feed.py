"""Alerts and Log: newest first, coloured by priority."""

from __future__ import annotations

from datetime import datetime, timezone

from workstation.ui.panes.table import Column, LiveTable, Row

ROLE = {"low": "muted", "normal": "", "info": "", "high": "stale", "warning": "stale", "critical": "down", "error": "down"}


class FeedPane(LiveTable):
    """A capped, newest-first list of timestamped lines (the Alerts and the Log panes)."""

    COLUMNS = [
        Column("time", "Time", 8, priority=5),
        Column("level", "Level", 8, priority=4),
        Column("text", "Message", 10, priority=9, flexible=True),
    ]

    def __init__(self, *, cap: int = 500, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(list(self.COLUMNS), id=id, classes=classes)
        self.cap = cap
        self.entries: list[Row] = []
        self._n = 0

    def add(self, ts: float, level: str, text: str) -> None:
        self._n += 1
        t = datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%H:%M:%S")
        role = ROLE.get(level, "")
        self.entries.insert(0, Row(str(self._n), ((t, "muted"), (level, role), (text, role))))
        del self.entries[self.cap:]
        self.set_rows(self.entries)

    @property
    def texts(self) -> list[str]:
        return [r.cells[2][0] for r in self.entries]
