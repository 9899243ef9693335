"""Recent alerts and the count nobody has read yet, kept by the engine for every face.

Low-priority alerts (a fill's note) are kept but not counted as unread. The engine keeps
the book, not the screen: alerts raised while no workstation was
attached are there (with their unread count) when one attaches. Reading them (the Alerts
pane getting focus, ``ack``) sets the count to zero for every client; an acknowledged alert
is kept marked so (as the journal has it after a restart). The book is bounded
(``ALERTS_KEPT``): what a face receives on attach does not grow with the day.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

import msgspec

from workstation.core.model import AlertRaised

ALERTS_KEPT = 200


class AlertBook:
    def __init__(self, recent: list[AlertRaised] | None = None, unread: int = 0, keep: int = ALERTS_KEPT) -> None:
        self.recent: deque[AlertRaised] = deque(recent or (), maxlen=keep)
        self.unread = unread

    def add(self, alert: AlertRaised) -> None:
        self.recent.append(alert)
        if alert.priority != "low":  # a fill's note is not news to count
            self.unread += 1

    def latest(self, n: int = ALERTS_KEPT) -> list[AlertRaised]:
        """The ``n`` most recent alerts, oldest first."""
        if n >= len(self.recent):
            return list(self.recent)
        return list(islice(reversed(self.recent), n))[::-1]

    def set_unread(self, n: int) -> None:
        self.unread = n

    def acked(self, ids: tuple[int, ...] | list[int], unread: int) -> None:
        """These alerts were acknowledged (journaled): a face attaching later shows them so."""
        done = set(ids)
        if any(a.alert_id in done and not a.acked for a in self.recent):
            self.recent = deque(
                (msgspec.structs.replace(a, acked=True) if a.alert_id in done else a for a in self.recent), maxlen=self.recent.maxlen
            )
        self.unread = unread

    def ack(self) -> None:
        self.unread = 0
