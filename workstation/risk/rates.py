"""How many orders went out: the windows the order-rate limits count (``PreTradeRisk``).

``OrderRate`` keeps the times of the orders sent *or refused* in the last second, minute and
hour (sliding windows: an hour boundary on the clock resets nothing) and a count for the
current trading day; ``TradingDays`` says when that day began (``day_roll`` in
``day_timezone``), recomputed only once a roll has passed.
"""

from __future__ import annotations

from collections import deque

from workstation.core.limits import RiskLimits, day_start


class OrderRate:
    """Orders sent in the last second, minute and hour, and the current trading day (O(1) per order)."""

    def __init__(self) -> None:
        self._second: deque[float] = deque()
        self._minute: deque[float] = deque()
        self._hour: deque[float] = deque()
        self._day_start = float("-inf")
        self.today = 0

    def record(self, ts: float, day_began: float) -> None:
        if day_began != self._day_start:
            self._day_start, self.today = day_began, 0
        self._second.append(ts)
        self._minute.append(ts)
        self._hour.append(ts)
        self.today += 1
        self._trim(ts)

    def _trim(self, now: float) -> None:
        while self._second and self._second[0] <= now - 1.0:
            self._second.popleft()
        while self._minute and self._minute[0] <= now - 60.0:
            self._minute.popleft()
        while self._hour and self._hour[0] <= now - 3600.0:
            self._hour.popleft()

    def counts(self, now: float, day_began: float) -> tuple[int, int, int]:
        self._trim(now)
        today = self.today if day_began == self._day_start else 0
        return len(self._second), len(self._minute), today

    def last_hour(self, now: float) -> int:
        self._trim(now)
        return len(self._hour)


def rate_limited(limits: RiskLimits) -> bool:
    """Whether any order-rate limit is set: only then must the orders sent be counted."""
    return any(x is not None for x in (
        limits.max_orders_per_second, limits.max_orders_per_minute, limits.max_orders_per_hour, limits.max_orders_per_day,
    ))


class TradingDays:
    """When the current trading day began, recomputed only when a roll has passed."""

    def __init__(self) -> None:
        self._key: tuple[str, str] | None = None
        self._start = self._end = 0.0

    def start(self, now: float, limits: RiskLimits) -> float:
        key = (limits.day_roll, limits.day_timezone)
        if key != self._key or not self._start <= now < self._end:
            self._key = key
            self._start = day_start(now, limits)
            self._end = day_start(self._start + 26 * 3600, limits)  # the next roll (days last 23 to 25 hours)
        return self._start
