"""Alert delivery off the trading path: the terminal bell and apprise channels.

``Dispatcher.deliver`` only puts the alert on a bounded queue and returns; one background
thread does the slow work (SMTP, HTTP). Each channel (an apprise URL: ``mailto://``,
``json://``, ``slack://``, ``tgram://``...) has a minimum priority. A send that fails is
retried with backoff; a channel that still fails is reported once through ``report``
(not once per alert), and once more when it recovers. A full queue drops the alert from
external delivery (it is already journaled and shown in the workstation) and counts it.

Quiet hours: a channel may have daily quiet hours (``quiet = "22:00-07:00"`` in its time
zone, ``workstation.core.alert_rules.QuietHours``). An alert raised inside them is held for
that channel (other channels and the workstation get it at once) and delivered, oldest first,
when they end: the worker looks every ``tick`` seconds of the engine's clock (``now``) and
before each new alert. At most ``HELD_MAX`` alerts are held per channel (older ones are then
dropped from that channel and counted in ``dropped``).
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workstation.alerts.engine import Alert
from workstation.core.alert_rules import QuietHours, priority_rank
from workstation.core.model import iso

log = logging.getLogger(__name__)

Report = Callable[[str, str, bool], None]  # (channel label, problem, recovered)
HELD_MAX = 1_000


def ring_terminal() -> None:
    """The terminal bell (BEL on stderr, which stays the terminal under the workstation); never into a pipe."""
    stream = sys.__stderr__
    if stream is not None and stream.isatty():
        stream.write("\a")
        stream.flush()


@dataclass
class Channel:
    url: str
    min_priority: str = "high"
    label: str = ""
    failing: bool = False
    sent: int = 0
    failed: int = 0
    quiet: QuietHours | None = None
    held: list[Alert] = field(default_factory=list)
    _notifier: Any = field(default=None, repr=False)

    def notifier(self) -> Any:
        if self._notifier is None:
            import apprise

            # a failing channel is reported once by the dispatcher, not per attempt by the library
            logging.getLogger("apprise").setLevel(logging.CRITICAL)
            ap = apprise.Apprise()
            if not ap.add(self.url):
                raise ValueError(f"apprise cannot use the URL of {self.label}")
            self._notifier = ap
        return self._notifier

    def send(self, alert: Alert) -> bool:
        import apprise

        kind = {
            "critical": apprise.NotifyType.FAILURE, "high": apprise.NotifyType.WARNING,
        }.get(alert.priority, apprise.NotifyType.INFO)
        title = f"[{alert.priority.upper()}] {alert.title}"
        body = f"{alert.message}\n({alert.source}, {iso(alert.ts)}, alert {alert.id})"
        return bool(self.notifier().notify(title=title, body=body, notify_type=kind))


def channel_label(url: str, n: int) -> str:
    """A name for a channel that never shows its secrets: ``channel 2 (mailto://user:****@smtp.example.com:587/)``."""
    import apprise

    try:
        service = apprise.Apprise.instantiate(url)
    except Exception:
        service = None
    if not service:
        return f"channel {n} ({url.partition('://')[0]}://, not a URL apprise can use)"
    return f"channel {n} ({service.url(privacy=True).split('?', 1)[0]})"


def channels_from(settings: list[Any]) -> list[Channel]:
    """The channels of ``[[alerts.channels]]`` (``AlertChannel``), each with its quiet hours."""
    from workstation.core.alert_rules import parse_quiet

    return [
        Channel(c.url, c.min_priority, channel_label(c.url, n), quiet=parse_quiet(c.quiet, c.timezone) if c.quiet else None)
        for n, c in enumerate(settings, 1)
    ]


class Dispatcher:
    def __init__(
        self,
        channels: list[Channel],
        *,
        bell: bool = False,
        ring: Callable[[], None] = ring_terminal,
        report: Report | None = None,
        retries: int = 2,
        retry_delay: float = 1.0,
        queue_size: int = 1_000,
        now: Callable[[], float] | None = None,
        tick: float = 30.0,
    ) -> None:
        self.channels = channels
        self.bell = bell
        self.ring = ring
        self.report = report or (lambda label, problem, recovered: None)
        self.retries = retries
        self.retry_delay = retry_delay
        self._queue: queue.Queue[Alert | None] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.rung = 0
        self.now = now
        self.tick = tick

    @property
    def active(self) -> bool:
        return bool(self.channels) or self.bell

    def start(self) -> None:
        if self._thread is None and self.active:
            self._thread = threading.Thread(target=self._run, name="alert-delivery", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (within ``timeout``), then end the thread."""
        if self._thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            self._stop.set()
        self._thread.join(timeout)
        self._stop.set()
        self._thread = None

    def wants(self, priority: str) -> bool:
        rank = priority_rank(priority)
        if self.bell and rank >= priority_rank("high"):
            return True
        return any(rank >= priority_rank(c.min_priority) for c in self.channels)

    def deliver(self, alert: Alert) -> None:
        """Queue an alert for the bell and the channels; never blocks."""
        if not self.wants(alert.priority):
            return
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.dropped += 1

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """For tests and shutdown: wait until everything queued has been handled."""
        done = threading.Event()

        def waiter() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=waiter, daemon=True).start()
        return done.wait(timeout)

    # -- the worker
    def _run(self) -> None:
        while True:
            try:
                alert = self._queue.get(timeout=self.tick) if self.now is not None else self._queue.get()
            except queue.Empty:  # nothing new: quiet hours that ended release what they held
                try:
                    self._release(self.now() if self.now is not None else 0.0)
                except Exception:
                    log.exception("alert delivery failed")
                continue
            try:
                if alert is None:
                    return
                self._handle(alert)
            except Exception:
                log.exception("alert delivery failed")
            finally:
                self._queue.task_done()

    def held(self) -> int:
        """Alerts waiting for a channel's quiet hours to end."""
        return sum(len(c.held) for c in self.channels)

    def _release(self, now: float) -> None:
        for channel in self.channels:
            if channel.held and (channel.quiet is None or not channel.quiet.contains(now)):
                held, channel.held = channel.held, []
                for alert in held:
                    self._send(channel, alert)

    def _handle(self, alert: Alert) -> None:
        rank = priority_rank(alert.priority)
        self._release(self.now() if self.now is not None else alert.ts)
        if self.bell and rank >= priority_rank("high"):
            self.ring()
            self.rung += 1
        for channel in self.channels:
            if rank < priority_rank(channel.min_priority):
                continue
            if channel.quiet is not None and channel.quiet.contains(alert.ts):
                channel.held.append(alert)
                if len(channel.held) > HELD_MAX:
                    del channel.held[0]
                    self.dropped += 1
                continue
            self._send(channel, alert)

    def _send(self, channel: Channel, alert: Alert) -> None:
        problem = ""
        ok = False
        for attempt in range(self.retries + 1):
            try:
                ok = channel.send(alert)
                problem = "" if ok else "delivery failed"
            except Exception as exc:  # a broken URL, a library error: the channel fails, not the thread
                problem = f"{type(exc).__name__}: {exc}"
            if ok or attempt == self.retries or self._stop.wait(self.retry_delay * (2**attempt)):
                break
        if ok:
            channel.sent += 1
            if channel.failing:
                channel.failing = False
                self.report(channel.label, "", True)
        else:
            channel.failed += 1
            if not channel.failing:
                channel.failing = True
                self.report(channel.label, f"{problem or 'delivery failed'} after {self.retries + 1} attempts", False)
