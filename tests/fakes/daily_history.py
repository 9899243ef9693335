"""The instant fake broker with daily bars: a year of a fixed wiggle per symbol (no randomness),
for the portfolio risk model's tests."""

from __future__ import annotations

import math

from tests.fakes.market import InstantBroker
from workstation.core.model import Bar

DAY = 86_400


class HistoryBroker(InstantBroker):
    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.history_calls = 0
        self.days: int | None = None  # the newest this many bars only (None: all asked for)

    async def history(self, symbol, seconds, start, end):
        self.history_calls += 1
        base = self.prices.get(symbol, 100.0)
        k = sum(map(ord, symbol)) % 7 + 1
        days = range(int(start // DAY) + 1, int(end // DAY))
        days = days[-self.days:] if self.days is not None else days
        return [
            Bar(symbol=symbol, ts=d * DAY, open=c, high=c, low=c, close=c, seconds=DAY)
            for d in days
            for c in [base * (1 + 0.02 * math.sin(d * k * 0.7) + 0.01 * math.cos(d * 1.3))]
        ]
