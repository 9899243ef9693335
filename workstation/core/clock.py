"""The only source of "now". Inject a LiveClock in live sessions, a SimClock in backtests and tests.

No other module reads the wall clock (``datetime.now()``, ``time.time()``); a test checks this.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Epoch seconds (UTC)."""

    def now(self) -> datetime:
        """Timezone-aware UTC datetime."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; for measuring intervals."""


class LiveClock:
    """The wall clock."""

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()


class SimClock:
    """A clock that moves only when told to: backtests, replays and tests.

    ``set`` refuses to go back in time. A driver that already moves time in order may assign
    ``t`` directly instead (a backtest's replay loop does, once or twice per bar)."""

    __slots__ = ("t",)

    def __init__(self, start: float = 0.0) -> None:
        self.t = float(start)

    def time(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, tz=timezone.utc)

    def monotonic(self) -> float:
        return self.t

    def set(self, t: float) -> None:
        if t < self.t:
            raise ValueError("a simulated clock cannot go back in time")
        self.t = float(t)

    def advance(self, seconds: float) -> None:
        self.set(self.t + seconds)


def perf_ns() -> int:
    """A high-resolution counter for benchmarks and latency measurement."""
    return time.perf_counter_ns()
