"""Alerts and Log: newest first, coloured by priority."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from textual.binding import Binding
from textual.message import Message

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
        self.entries.insert(0, self._row(ts, level, text))
        del self.entries[self.cap:]
        self.set_rows(self.entries)

    def _row(self, ts: float, level: str, text: str) -> Row:
        self._n += 1
        t = datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%H:%M:%S")
        role = ROLE.get(level, "")
        return Row(str(self._n), ((t, "muted"), (level, role), (text, role)))

    @property
    def texts(self) -> list[str]:
        return [r.cells[2][0] for r in self.entries]


class AlertsPane(FeedPane):
    """The Alerts pane: a FeedPane whose rows know the alert engine's ids, to acknowledge them.

    Rows are in the order the alerts were raised, newest first, whatever order they arrive
    in (alerts raised while the workstation starts come before the journal's backlog); an
    acknowledged alert shows ``acked`` in the level column, after a restart too. ``r`` opens
    the alert rules view (``workstation.ui.screens.alert_rules``).
    """

    BINDINGS = [
        Binding("a", "ack", "Ack", id="alerts.ack", tooltip="Acknowledge the selected alert (journaled)"),
        Binding("A", "ack_all", "Ack all", id="alerts.ack_all", tooltip="Acknowledge every alert (journaled)"),
        Binding("r", "rules", "Rules", id="alerts.rules", tooltip="The alert rules with their statistics: enable, disable, edit, delete"),
    ]

    @dataclass
    class Ack(Message):
        ids: list[int] | None  # None: every unacknowledged alert

    def __init__(self, *, cap: int = 500, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(cap=cap, id=id, classes=classes)
        self.alert_ids: dict[str, int] = {}  # row key -> the alert engine's id
        self._when: dict[str, tuple[float, int]] = {}  # row key -> (raised at, order of arrival)

    def add(self, ts: float, level: str, text: str, alert_id: int = 0, acked: bool = False) -> None:
        row = self._row(ts, "acked" if acked else level, text)
        self._when[row.key] = (ts, self._n)
        if alert_id:
            self.alert_ids[row.key] = alert_id
        at = 0  # below every alert raised later (on a tie, below none: the later arrival on top)
        while at < len(self.entries) and self._when.get(self.entries[at].key, (ts, 0)) > (ts, self._n):
            at += 1
        self.entries.insert(at, row)
        del self.entries[self.cap:]
        if len(self._when) > len(self.entries):
            live = {r.key for r in self.entries}
            self._when = {k: v for k, v in self._when.items() if k in live}
            self.alert_ids = {k: v for k, v in self.alert_ids.items() if k in live}
        self.set_rows(self.entries)

    def mark_acked(self, ids: list[int]) -> None:
        """Acknowledged rows show ``acked`` in the level column."""
        done = set(ids)
        self.entries = [
            Row(r.key, (r.cells[0], ("acked", "muted"), r.cells[2])) if self.alert_ids.get(r.key) in done else r
            for r in self.entries
        ]
        self.set_rows(self.entries)

    def action_ack(self) -> None:
        alert_id = self.alert_ids.get(self.selected_key or "")
        if not alert_id:
            self.app.bell()
            self.notify("this alert has no id to acknowledge (not from the alert engine)", severity="warning")
            return
        self.post_message(self.Ack([alert_id]))

    def action_ack_all(self) -> None:
        self.post_message(self.Ack(None))

    def action_rules(self) -> None:
        from workstation.ui.screens.alert_rules import open_alert_rules

        open_alert_rules(self.app)
