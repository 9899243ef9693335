"""What a backtest keeps of its equity and prices: exact figures over every bar, a bounded curve.

A run of ten million bars cannot keep three floats per bar and stay small, and the figures
do not need it: returns are computed on the last equity of each New York day, and the
drawdown, its duration, the exposure and the mean equity are running figures. So the run
hands its per-bar samples to a ``CurveBuilder`` a chunk at a time; the builder folds them
into those exact figures (the same float operations as over the whole array: running maxima
are exact, and so are counts) and keeps a curve for charts and CSV exports: every sample
while there are at most ``cap`` of them, then every second one, every fourth... (each day's
last value is always kept apart, in ``days``/``day_equity``).

``PriceTracker`` does the same for one symbol's bars: its first open, last close, the last
close of each New York day (the buy-and-hold benchmark) and a bounded sample of closes
(the report's price chart).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from workstation.research.analytics import local_days

SUM_BLOCK = 4_096  # the mean equity is summed in blocks of this many samples, whatever the chunks
CAP = 1 << 20  # curve samples kept at full resolution (a million bars: every bar)
PRICE_CAP = 1 << 16  # price samples kept per symbol for charts


class _Daily:
    """The last value of each New York day, from samples given in time order, chunk by chunk
    (``analytics.daily`` over the whole series, computed in pieces)."""

    def __init__(self) -> None:
        self._days: list[np.ndarray] = []
        self._values: list[np.ndarray] = []
        self._last_day: int | None = None

    def add(self, t: np.ndarray, v: np.ndarray) -> None:
        if not len(t):
            return
        local = local_days(t)
        last = np.flatnonzero(np.append(local[1:] != local[:-1], True))
        days, values = local[last], v[last]
        if self._last_day is not None and int(days[0]) == self._last_day:
            self._values[-1] = self._values[-1].copy()
            self._values[-1][-1] = values[0]  # the day the last chunk ended goes on: its last value is here
            days, values = days[1:], values[1:]
        if len(days):
            self._days.append(days)
            self._values.append(np.array(values, dtype=np.float64))
            self._last_day = int(days[-1])

    def result(self) -> tuple[list[date], np.ndarray]:
        if not self._days:
            return [], np.zeros(0)
        days = np.concatenate(self._days)
        return [date.fromordinal(int(d) + 719_163) for d in days.tolist()], np.concatenate(self._values)


class _Sample:
    """A bounded sample of a series: all of it while it fits in ``cap``, then every 2nd, 4th...
    (sample ``i`` of the series is kept while ``i`` is a multiple of ``step``; the last one
    offered is always added by ``result``)."""

    def __init__(self, columns: int, cap: int, expected: int = 0) -> None:
        self._cap = max(2, cap)
        self.step = 1
        self._seen = 0  # samples offered so far
        self._cols = [np.empty(min(self._cap, max(expected, 1024))) for _ in range(columns)]
        self._n = 0  # samples kept
        self._last: tuple[float, ...] = ()

    def add(self, *cols: np.ndarray) -> None:
        n = len(cols[0])
        if not n:
            return
        while True:
            first = (-self._seen) % self.step
            take = len(range(first, n, self.step))
            if self._n + take <= self._cap:
                break
            for c in self._cols:  # halve the resolution: kept sample j is series sample j * step
                kept = c[: self._n : 2].copy()
                c[: len(kept)] = kept
            self._n = (self._n + 1) // 2
            self.step *= 2
        need = self._n + take
        if need > len(self._cols[0]):
            size = min(self._cap, max(need, 2 * len(self._cols[0])))
            self._cols = [np.concatenate([c[: self._n], np.empty(size - self._n)]) for c in self._cols]
        for dst, src in zip(self._cols, cols, strict=True):
            dst[self._n : need] = src[first :: self.step]
        self._n = need
        self._seen += n
        self._last = tuple(float(c[-1]) for c in cols)

    def result(self) -> list[np.ndarray]:
        out = [c[: self._n] for c in self._cols]  # (views: the buffers are the result's)
        if self._seen and (self._seen - 1) % self.step:  # the last sample was skipped: add it
            out = [np.append(c, v) for c, v in zip(out, self._last, strict=True)]
        return out


@dataclass(frozen=True, slots=True)
class EquityCurve:
    """The run's equity: exact figures over every bar close, and a bounded curve."""

    days: list[date]  # New York days with a bar close
    day_equity: np.ndarray  # the last equity of each day (what returns are computed on)
    ts: np.ndarray  # sampled bar close times (every bar while the run has at most ``CAP``)
    equity: np.ndarray
    gross: np.ndarray  # gross exposure at each kept sample
    samples: int  # bar closes in the run (timestamps: several symbols closing at once count once)
    step: int  # 1: ``ts`` holds every bar close; k: every k-th (and the last)
    max_drawdown: float  # over every close and the starting cash, a non-positive fraction
    max_drawdown_seconds: float  # the longest time below a previous peak
    exposure: float  # fraction of bar closes with a position open
    mean_equity: float


class CurveBuilder:
    """Folds a run's per-bar samples, chunk by chunk in time order, into an ``EquityCurve``.

    The starting cash is the first point (at ``start_ts``, a bar before the first close) for
    the drawdown figures, as a whole-array computation with it prepended would count it."""

    def __init__(self, start_ts: float, start_value: float, cap: int = CAP, expected: int = 0) -> None:
        self._peak = float(start_value)
        self._peak_t = float(start_ts)
        self._worst = 0.0
        self._longest = 0.0
        self._n = 0
        self._exposed = 0
        self._sum = 0.0
        self._carry = np.zeros(0)  # samples not yet in a whole block of the sum
        self._pending: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._daily = _Daily()
        self._sample = _Sample(3, cap, expected)  # (``expected`` samples: room made at once)

    def add(self, ts: np.ndarray, equity: np.ndarray, gross: np.ndarray) -> None:
        """Samples in time order (copied: the caller may reuse its arrays)."""
        if not len(ts):
            return
        if self._pending is not None:
            self._fold(*self._pending)
        self._pending = (np.array(ts, dtype=np.float64), np.array(equity, dtype=np.float64),
                         np.array(gross, dtype=np.float64))

    def finish(self, final_equity: float | None = None) -> EquityCurve:
        """The curve; ``final_equity`` replaces the last sample (the portfolio's own valuation)."""
        if self._pending is not None:
            t, e, g = self._pending
            if final_equity is not None and len(e):
                e[-1] = final_equity
            self._fold(t, e, g)
            self._pending = None
        days, day_equity = self._daily.result()
        ts, equity, gross = self._sample.result()
        return EquityCurve(
            days=days, day_equity=day_equity, ts=ts, equity=equity, gross=gross, samples=self._n,
            step=self._sample.step, max_drawdown=min(0.0, self._worst), max_drawdown_seconds=self._longest,
            exposure=self._exposed / self._n if self._n else 0.0,
            mean_equity=(self._sum + float(np.sum(self._carry))) / self._n if self._n else 0.0,
        )

    def _fold(self, t: np.ndarray, e: np.ndarray, g: np.ndarray) -> None:
        if not len(t):
            return
        peaks = np.maximum.accumulate(np.maximum(e, self._peak))
        with np.errstate(divide="ignore", invalid="ignore"):
            dd = np.where(peaks > 0, e / peaks - 1.0, 0.0)
        self._worst = min(self._worst, float(dd.min()))
        at_peak = e >= peaks
        last_peak = np.maximum.accumulate(np.maximum(np.where(at_peak, t, -np.inf), self._peak_t))
        self._longest = max(self._longest, float(np.max(t - last_peak)))
        self._peak = float(peaks[-1])
        self._peak_t = float(last_peak[-1])
        self._n += len(t)
        self._exposed += int(np.count_nonzero(g > 0))
        # the sum by blocks of SUM_BLOCK samples counted from the first: the same figure however
        # the run was chunked (a file streamed in batches, or the same bars held in memory)
        block = np.concatenate([self._carry, e])
        whole = len(block) - len(block) % SUM_BLOCK
        for part in block[:whole].reshape(-1, SUM_BLOCK).sum(axis=1).tolist():
            self._sum += part
        self._carry = block[whole:]
        self._daily.add(t, e)
        self._sample.add(t, e, g)


@dataclass(frozen=True, slots=True)
class PriceSummary:
    """What the figures need of one symbol's bars once the run is over (the bars may be gone)."""

    symbol: str
    seconds: int
    bars: int
    first_open: float
    last_close: float
    days: list[date]  # New York days with a bar close
    day_close: np.ndarray  # the last close of each day
    ts: np.ndarray  # a bounded sample of bar close times, for charts
    close: np.ndarray


class PriceTracker:
    """One symbol's ``PriceSummary``, built from its bars chunk by chunk in time order."""

    def __init__(self, symbol: str, seconds: int, span: float, cap: int = PRICE_CAP) -> None:
        self.symbol, self.seconds, self._span = symbol, seconds, float(span)
        self._first: float | None = None
        self._last = 0.0
        self._bars = 0
        self._daily = _Daily()
        self._sample = _Sample(2, cap)

    def add(self, ts_open: np.ndarray, open_: np.ndarray, close: np.ndarray) -> None:
        if not len(ts_open):
            return
        if self._first is None:
            self._first = float(open_[0])
        self._last = float(close[-1])
        self._bars += len(ts_open)
        self._daily.add(ts_open + self.seconds, close)  # (the day a bar closes in, as ``analytics.daily`` was given)
        self._sample.add(ts_open + self._span, close)

    def finish(self) -> PriceSummary:
        days, day_close = self._daily.result()
        ts, close = self._sample.result()
        return PriceSummary(self.symbol, self.seconds, self._bars, self._first or 0.0, self._last, days, day_close,
                            ts, close)
