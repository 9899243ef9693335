"""VWAP: work a parent order following the symbol's historical volume profile."""

from __future__ import annotations

from workstation.strategies.execution import ScheduledExecution
from workstation.strategies.api import Param


class Vwap(ScheduledExecution):
    """Volume-weighted: each slice's share of the parent follows the volume traded at the same
    time of day in the history (bars of ``bar_seconds`` over the last ``lookback_days``);
    equal slices when there is no volume history."""

    name = "vwap"
    bar_seconds = Param(60, min=1, max=3_600, description="history bar size for the volume profile")
    lookback_days = Param(5, min=1, max=60, description="days of history in the volume profile")

    def weights(self) -> list[float]:
        count = int(self.lookback_days * 86_400 / self.bar_seconds)
        bars = self.ctx.history(self.symbol, self.bar_seconds, count)
        profile = [0.0] * self.slices
        start_of_day = self.start % 86_400
        for bar in bars:
            offset = (bar.ts % 86_400 - start_of_day) % 86_400
            if offset < self.duration:
                profile[min(self.slices - 1, int(offset // self.interval))] += bar.volume
        if sum(profile) <= 0:
            self.ctx.log("no volume history: equal slices (TWAP)")
            return super().weights()
        floor = sum(profile) / self.slices * 0.01  # never a slice of nothing: it would stall the schedule
        return [max(v, floor) for v in profile]
