"""The checks and figures of a bar file, a batch at a time, in numpy.

``first_bad`` finds the first row of a batch that breaks a rule (a price not positive or
not finite, a high below the low, an open or close outside the range, negative volume, a
timestamp that repeats or goes back, ...); the words for it come from the row rules in
``brokers.paper.barrows``. ``Stats`` keeps what a whole file's figures need while the
file streams by, in constant memory: the row count, first and last stamp, the gap
histogram (the bar length is the most common gap, the first seen winning a tie) and the
tick levels every price lies on (``tick_from_prices``' rule, combined exactly across
batches).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import numpy as np

MAX_DECIMALS = 8  # brokers.paper.bars.tick_from_prices' default


class Batch(NamedTuple):
    ts: np.ndarray  # unshifted stamps
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    extra_ok: np.ndarray | None  # Adj Close > 0 / OpenInterest finite, where the layout has them
    bare: bool  # every stamp was a bare date

    def columns(self) -> tuple[np.ndarray, ...]:
        return self.ts, self.open, self.high, self.low, self.close, self.volume


def first_bad(b: Batch, prev: float | None) -> int:
    """Index of the batch's first row that breaks a rule (-1 when none does)."""
    import numpy as np

    o, h, lo, c, v, ts = b.open, b.high, b.low, b.close, b.volume, b.ts
    with np.errstate(all="ignore"):
        ok = np.isfinite(o + h + lo + c + v)
    ok &= o > 0
    ok &= lo > 0
    ok &= h >= lo
    ok &= o >= lo
    ok &= o <= h
    ok &= c >= lo
    ok &= c <= h
    ok &= v >= 0
    ok &= np.isfinite(ts)
    if b.extra_ok is not None:
        ok &= b.extra_ok
    ok[1:] &= ts[1:] > ts[:-1]
    if prev is not None and len(ts):
        ok[0] &= ts[0] > prev
    if ok.all():
        return -1
    return int(np.argmin(ok))


class Stats:
    """What is kept while a file streams by: rows, first and last stamp, the gap
    histogram (rounded gap -> count and first row) and which tick levels every price meets."""

    def __init__(self) -> None:
        self.rows = 0
        self.first = self.last = math.nan
        self.gaps: dict[float, list[int]] = {}
        self.levels = (1 << (MAX_DECIMALS + 1)) - 1  # bit d: every price so far lies on 10**-d

    def add(self, b: Batch) -> None:
        import numpy as np

        n = len(b.ts)
        if not n:
            return
        ts = b.ts
        if self.rows:
            gaps = np.empty(n, dtype=np.float64)
            gaps[0] = ts[0] - self.last
            np.subtract(ts[1:], ts[:-1], out=gaps[1:])
            start = self.rows - 1  # the pair ending at this batch's first row
        else:
            self.first = float(ts[0])
            gaps = np.diff(ts)
            start = 0
        self._count_gaps(gaps, start)
        if self.levels:  # levels an earlier batch failed are not tried again
            start = (self.levels & -self.levels).bit_length() - 1
            self.levels &= tick_levels(b.open, b.high, b.low, b.close, start=start)
        self.rows += n
        self.last = float(ts[-1])

    def _count_gaps(self, gaps: np.ndarray, start: int) -> None:
        import numpy as np

        if not len(gaps):
            return
        if (gaps == gaps[0]).all():
            uniq, first, counts = gaps[:1], np.zeros(1, dtype=np.int64), np.array([len(gaps)])
        else:
            uniq, first, counts = np.unique(gaps, return_index=True, return_counts=True)
        for g, i, k in zip(uniq.tolist(), first.tolist(), counts.tolist(), strict=True):
            if not g > 0:
                continue
            key = round(g, 3)
            slot = self.gaps.get(key)
            if slot is None:
                self.gaps[key] = [k, start + i]
            else:
                slot[0] += k
                slot[1] = min(slot[1], start + i)

    def seconds(self, daily: bool) -> float:
        """The bar length: a day for daily files, else the most common gap (a minute for one bar)."""
        if daily:
            return 86_400.0
        if not self.gaps:
            return 60.0
        return min(self.gaps.items(), key=lambda kv: (-kv[1][0], kv[1][1]))[0]

    def tick(self) -> Decimal:
        """The coarsest tick every price so far lies on (the finest when none)."""
        for d in range(MAX_DECIMALS + 1):
            if self.levels >> d & 1:
                return Decimal(1).scaleb(-d)
        return Decimal(1).scaleb(-MAX_DECIMALS)


def tick_levels(*columns: np.ndarray, start: int = 0) -> int:
    """Bit ``d`` (for ``d >= start``) set when every price of the batch lies on ``10**-d``
    by the rule of ``brokers.paper.bars.tick_from_prices`` (within 1e-6, or 1e-12 of the
    scaled price), so that a whole file's levels are the AND of its batches' and its tick
    the first level set. (The rule is written here too: ``bars`` imports the broker, which
    imports the replay that reads bar files; the tests hold the two to the same answers.)

    Levels below ``start`` are left out (an earlier batch already failed them). The first
    level that holds is found as ``tick_from_prices`` finds it; a price within rounding
    noise of that level (error at most 1e-13 of its scaled value) holds at every finer
    level too, so only the others (usually none) are tried at the finer levels."""
    import numpy as np

    values = np.concatenate([np.asarray(c, dtype=np.float64).ravel() for c in columns])
    for first in range(start, MAX_DECIMALS + 1):
        scaled = values * 10.0**first
        err = np.abs(scaled - np.round(scaled))
        size = np.abs(scaled)
        if np.all(err <= np.maximum(1e-6, size * 1e-12)):
            break
    else:
        return 0
    doubtful = values[err > size * 1e-13]
    bits = 1 << first
    for finer in range(first + 1, MAX_DECIMALS + 1):
        if not len(doubtful) or holds(doubtful, finer):
            bits |= 1 << finer
    return bits


def holds(values: np.ndarray, d: int) -> bool:
    """Every value lies on ``10**-d`` (``tick_from_prices``' test for one level)."""
    import numpy as np

    scaled = values * 10.0**d
    err = np.abs(scaled - np.round(scaled))
    return bool(np.all(err <= np.maximum(1e-6, np.abs(scaled) * 1e-12)))
