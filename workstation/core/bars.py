"""Bars of N seconds built from quotes, aligned to the clock (a 60 s bar opens on the minute).

A bar closes when the first quote of the next window arrives, or when ``flush(now)`` is
called after its window has ended (so a quiet symbol still gets its bar on time). The price
is the last trade (the mid when a quote has no trade); the volume is the growth of the
quote's cumulative day volume during the window.
"""

from __future__ import annotations

import math

from workstation.core.model import Bar, Quote


class BarBuilder:
    def __init__(self, symbol: str, seconds: int) -> None:
        if int(seconds) != seconds or seconds < 1:
            raise ValueError(f"bar size must be a whole number of seconds, got {seconds!r}")
        self.symbol = symbol
        self.seconds = int(seconds)
        self._start: float | None = None
        self._end = -math.inf  # the bar in progress's window ends here
        self._o = self._h = self._l = self._c = 0.0
        self._v = 0.0
        self._cum: float | None = None
        self._closed_until = -math.inf  # a late quote for a bar already closed is not reopened

    def _bucket(self, ts: float) -> float:
        return math.floor(ts / self.seconds) * self.seconds

    def on_quote(self, q: Quote) -> Bar | None:
        price = q.last if q.last > 0 else q.mid
        if price <= 0:
            return None
        if self._start is not None and self._start <= q.ts < self._end:  # the bar in progress (most quotes)
            if price > self._h:
                self._h = price
            elif price < self._l:
                self._l = price
            self._c = price
            if q.volume:
                self._volume(q.volume)
            return None
        start = self._bucket(q.ts)
        if start < self._closed_until:
            return None
        done = None
        if self._start is not None and start > self._start:
            done = self._close()
        if self._start is None:
            self._start, self._end = start, start + self.seconds
            self._o = self._h = self._l = self._c = price
            self._v = 0.0
        else:
            self._h = max(self._h, price)
            self._l = min(self._l, price)
            self._c = price
        if q.volume:
            self._volume(q.volume)
        return done

    def _volume(self, cumulative: float) -> None:
        if self._cum is not None and cumulative >= self._cum:
            self._v += cumulative - self._cum
        self._cum = cumulative

    def flush(self, now: float) -> Bar | None:
        """The current bar, closed, if its window ended before ``now``."""
        if self._start is not None and now >= self._start + self.seconds:
            return self._close()
        return None

    def _close(self) -> Bar:
        assert self._start is not None
        bar = Bar(
            symbol=self.symbol, ts=self._start, open=self._o, high=self._h, low=self._l, close=self._c,
            volume=self._v, seconds=self.seconds,
        )
        self._start = None
        self._closed_until = bar.ts + self.seconds
        return bar
