"""Recorded bars, read from a file and played back as quotes.

``ReplayFeed.from_file`` reads CSV (any extension: ``.csv``, ``.txt``), Parquet
(``.parquet``, ``.pq``) or Feather/Arrow IPC (``.feather``, ``.arrow``, ``.ipc``) in one
of three layouts, recognised by the header (case-insensitive), through the columnar
loader ``brokers.paper.barfile`` (``read_bars``):

==========  =============================================================
yahoo       ``Date,Open,High,Low,Close,Adj Close,Volume`` (daily)
generic     ``timestamp,open,high,low,close,volume`` (``date``, ``datetime``
            or ``time`` may name the first column)
intraday    ``Date,Time,Open,High,Low,Close,Volume,OpenInterest``
==========  =============================================================

Timestamps: a bare date is a daily bar opening at 09:30 in ``tz`` (New York by
default); a date and time without an offset is local to ``tz``; a number is epoch
seconds (milliseconds above 1e11). In the intraday layout the time labels the bar's
*end*, as in the files backtrader publishes (a session's first 5-minute bar is stamped
09:05); in the generic layout it labels the bar's start. The bar length is the most
common gap between consecutive rows (a day for daily files). Prices are replayed as
published (``Adj Close`` is read, checked and not used).

Every problem is a ``ReplayError`` (a ``ValueError``) with a one-line message naming
the file, the line (``row`` for Parquet and Feather) and the problem: a missing file, an unknown
header, a wrong number of fields, a field that is not a number or a date, a price that
is not positive, a high below the low, an open or close outside the high-low range,
negative volume, and timestamps that repeat or go back.

Playback: ``speed`` is bars per second of clock time. Each bar becomes four quotes, a
quarter of a bar apart: the open, the extreme the bar reached first (the low for a bar
that closed up, the high otherwise), the other extreme, and the close. ``advance(t)``
returns the quotes due by clock time ``t`` since the first call, so a slow caller
still sees every price. A quote's ``ts`` is the clock time it was played at (the bar's
own time is ``feed.bar.ts``); its spread is the larger of one tick and 2 bps around
the price, its displayed size is a thousandth of the bar's volume (at least 100 lots),
its ``volume`` the day's volume so far, and ``prev_close`` the previous day's last close.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec

from brokers.paper.barfile import read_bars
from brokers.paper.barrows import ReplayError, symbol_from_path
from workstation.core.model import Bar, Instrument, ModelError, Quote
from workstation.core.symbols import parse_symbol

_EVENTS_PER_BAR = 4
_SPREAD = 2e-4

__all__ = ["ReplayError", "ReplayFeed", "symbol_from_path"]


class ReplayFeed:
    """Bars of one symbol, and their playback as quotes at ``speed`` bars per clock second."""

    def __init__(
        self, symbol: str, bars: Sequence[Bar], speed: float = 1.0, source: str = "", tz: str = "America/New_York"
    ) -> None:
        if not bars:
            raise ReplayError(f"{source or symbol}: no bars to replay")
        if not speed > 0 or not math.isfinite(speed):
            raise ReplayError(f"{source or symbol}: speed must be a positive number of bars per second, got {speed!r}")
        try:
            self.instrument: Instrument = parse_symbol(symbol)
        except ModelError as e:
            raise ReplayError(f"{source or symbol}: {e}") from None
        self.symbol = self.instrument.symbol
        self.bars: list[Bar] = [
            b if b.symbol == self.symbol else msgspec.structs.replace(b, symbol=self.symbol) for b in bars
        ]
        self.speed = float(speed)
        self.source = source
        self._tz = ZoneInfo(tz)
        self._tick = Fraction(self.instrument.tick_size)
        self._lot = Fraction(self.instrument.lot_size)
        self._prev_close, self._day_before = self._day_figures()
        self._t0: float | None = None
        self._next = 0  # index of the next event to play
        self.last: Quote | None = None

    @classmethod
    def from_file(
        cls, path: str | Path, symbol: str | None = None, speed: float = 1.0, tz: str = "America/New_York"
    ) -> ReplayFeed:
        """Read and validate a bar file; ``symbol`` defaults to the file name's first part."""
        info, cols = read_bars(path, symbol, tz)
        seconds = info.seconds
        bars = [
            Bar(info.symbol, ts, o, h, lo, c, vol, seconds)
            for ts, o, h, lo, c, vol in zip(*(column.tolist() for column in cols), strict=True)
        ]
        return cls(info.symbol, bars, speed, info.name, tz)

    # -- playback

    @property
    def events(self) -> int:
        return len(self.bars) * _EVENTS_PER_BAR

    @property
    def done(self) -> bool:
        return self._next >= self.events

    @property
    def started(self) -> bool:
        return self._t0 is not None

    @property
    def bar(self) -> Bar:
        """The bar being played (the first before the start, the last after the end)."""
        return self.bars[min(max(self._next - 1, 0) // _EVENTS_PER_BAR, len(self.bars) - 1)]

    def start(self, t: float) -> None:
        """Start (or restart) playback at clock time ``t``."""
        self._t0 = float(t)
        self._next = 0
        self.last = None

    def advance(self, t: float) -> list[Quote]:
        """The quotes due by clock time ``t``, in order; the first call starts playback."""
        t = float(t)
        if self._t0 is None:
            self.start(t)
        assert self._t0 is not None
        due = min(math.floor((t - self._t0) * self.speed * _EVENTS_PER_BAR + 1e-9) + 1, self.events)
        out = [self._quote(e, t) for e in range(self._next, due)]
        self._next = max(self._next, due)
        if out:
            self.last = out[-1]
        return out

    def current(self, t: float) -> Quote:
        """The latest played quote (restamped at ``t``), or the first bar's open before the start."""
        if self.last is None:
            return self._quote(0, t)
        q = self.last
        return Quote(q.symbol, t, q.bid, q.ask, q.last, q.bid_size, q.ask_size, q.volume, q.prev_close)

    def history(self, seconds: int, start: float, end: float) -> list[Bar]:
        """The file's bars opening in ``[start, end)``, merged into ``seconds`` buckets when longer."""
        chosen = [b for b in self.bars if start <= b.ts < end]
        if not chosen or seconds <= chosen[0].seconds:
            return chosen
        merged: list[Bar] = []
        for b in chosen:
            bucket = math.floor(b.ts / seconds) * seconds
            if merged and merged[-1].ts == bucket:
                m = merged[-1]
                merged[-1] = msgspec.structs.replace(
                    m, high=max(m.high, b.high), low=min(m.low, b.low), close=b.close, volume=m.volume + b.volume
                )
            else:
                merged.append(Bar(b.symbol, bucket, b.open, b.high, b.low, b.close, b.volume, seconds))
        return merged

    # -- quotes

    def _day_figures(self) -> tuple[list[float], list[float]]:
        prev_close: list[float] = []
        before: list[float] = []
        day: date | None = None
        last_close = self.bars[0].open
        day_close = last_close
        cum = 0.0
        for b in self.bars:
            d = datetime.fromtimestamp(b.ts, self._tz).date()
            if d != day:
                day, day_close, cum = d, last_close, 0.0
            prev_close.append(day_close)
            before.append(cum)
            cum += b.volume
            last_close = b.close
        return prev_close, before

    def _quote(self, event: int, t: float) -> Quote:
        i, k = divmod(event, _EVENTS_PER_BAR)
        b = self.bars[i]
        first, second = (b.low, b.high) if b.close >= b.open else (b.high, b.low)
        price = (b.open, first, second, b.close)[k]
        tick_p, tick_q = self._tick.numerator, self._tick.denominator
        ticks = max(math.floor(price * tick_q / tick_p + 0.5), 1)
        spread = max(1, math.ceil(price * _SPREAD * tick_q / tick_p - 1e-9))
        bid = max(ticks - spread // 2, 1)
        lot_p, lot_q = self._lot.numerator, self._lot.denominator
        lots = max(100, math.floor(b.volume / 1000.0 * lot_q / lot_p))
        size = lots * lot_p / lot_q
        volume = self._day_before[i] + b.volume * (k + 1) / _EVENTS_PER_BAR
        prev = max(math.floor(self._prev_close[i] * tick_q / tick_p + 0.5), 1)
        return Quote(
            self.symbol, float(t), bid * tick_p / tick_q, (bid + spread) * tick_p / tick_q, ticks * tick_p / tick_q,
            size, size, volume, prev * tick_p / tick_q,
        )
