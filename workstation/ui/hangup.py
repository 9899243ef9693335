"""Leave when the terminal goes away.

A dropped SSH link, a closed window or a killed terminal multiplexer leaves the workstation
with a hung-up terminal. The kernel does not always send it SIGHUP (a multiplexer that kills
the session first, a wrapper in between), and a Textual app whose terminal is gone neither
draws nor exits: its writer stops and its input thread spins. ``HangupWatch`` waits, on a
thread of its own, for the terminal to report a hang-up and then ends the process the way
SIGHUP would. Nothing is lost: every order event and fill is journaled before it is shown,
and the next start rebuilds the state from the journal and reconciles it with the broker.
"""

from __future__ import annotations

import os
import select
import signal
import threading
from collections.abc import Callable

_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL


class HangupWatch:
    """Call ``on_hangup`` (by default: end the process as SIGHUP does) once ``fd``, a terminal,
    hangs up. ``stop`` ends the watch; it checks for that every ``interval`` seconds."""

    def __init__(self, fd: int, on_hangup: Callable[[], None] | None = None, interval: float = 0.5) -> None:
        self.fd = fd
        self.on_hangup = on_hangup or _end_as_sighup
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="terminal-hangup", daemon=True)

    def start(self) -> HangupWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.fd, 0)  # no events asked for: a hang-up and errors are always reported
        while not self._stop.is_set():
            if any(events & _GONE for _, events in poller.poll(self.interval * 1000)):
                if not self._stop.is_set():
                    self.on_hangup()
                return


def _end_as_sighup(grace: float = 2.0) -> None:
    """SIGHUP to this process (its default action ends it); should a handler catch it on a main
    thread that no longer runs, leave anyway after ``grace`` seconds, with SIGHUP's exit status."""
    os.kill(os.getpid(), signal.SIGHUP)
    threading.Event().wait(grace)
    os._exit(128 + signal.SIGHUP)


__all__ = ["HangupWatch"]
