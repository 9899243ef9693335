"""The bars a backtest runs on: one symbol's columns in memory, or a file read chunk by chunk.

``BarSeries`` holds a symbol's bars as numpy columns. A file of more than ``STREAM_ROWS``
bars (ten million one-minute bars are 480 MB of columns) is not held: ``load_series`` checks
it whole first (every error a reader finds, with its line, before the run starts), and
returns a ``StreamedSeries`` that the run reads in chunks, a second pass over the file, so
the bars in memory at once are one chunk's. A streamed series keeps, for warm-up before
``--from``, only the last ``WARM_BARS`` bars; several symbols, or the spike filter, need the
bars in memory (``load``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from brokers.paper.bars import tick_from_prices
from brokers.paper.market import SimMarket
from workstation.core.bus import Bus
from workstation.core.clock import SimClock
from workstation.core.model import Bar, ModelError, Quote
from workstation.core.symbols import parse_symbol

STREAM_ROWS = 2_000_000  # bars above which a file is streamed rather than held
WARM_BARS = 10_000  # bars before ``--from`` a streamed series keeps for the strategies' warm-up
READ_ROWS = 65_536  # rows a streamed file is read at a time


class BacktestError(ModelError):
    """Bad backtest input (data, options): one line a user can read."""


@dataclass(frozen=True, slots=True)
class BarSeries:
    """One symbol's bars as numpy columns, oldest first, with the tick its prices lie on."""

    symbol: str
    ts: np.ndarray  # bar open, epoch seconds
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    seconds: int
    tick: Decimal
    source: str = ""

    @classmethod
    def from_bars(cls, bars: Sequence[Bar], source: str = "", tick: Decimal | None = None) -> BarSeries:
        if not bars:
            raise BacktestError(f"{source or 'data'}: no bars")
        cols = np.array([(b.ts, b.open, b.high, b.low, b.close, b.volume) for b in bars], dtype=np.float64)
        return cls.from_arrays(bars[0].symbol, *cols.T, seconds=bars[0].seconds, source=source, tick=tick)

    @classmethod
    def from_arrays(
        cls, symbol: str, ts: Any, o: Any, h: Any, lo: Any, c: Any, v: Any | None = None, *,
        seconds: int, source: str = "", tick: Decimal | None = None,
    ) -> BarSeries:
        arrays = [np.ascontiguousarray(x, dtype=np.float64) for x in (ts, o, h, lo, c)]
        vol = np.zeros_like(arrays[0]) if v is None else np.ascontiguousarray(v, dtype=np.float64)
        if tick is None:
            tick = tick_from_prices(*arrays[1:])
        return cls(symbol, *arrays, vol, int(seconds), tick, source)

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def first_ts(self) -> float:
        return float(self.ts[0])

    def ts_at(self, index: int) -> float:
        """The open time of bar ``index``."""
        return float(self.ts[index])

    def between(self, start: float | None, end: float | None) -> BarSeries:
        """The bars opening in ``[start, end)`` (either bound optional)."""
        lo = 0 if start is None else int(np.searchsorted(self.ts, start, "left"))
        hi = len(self.ts) if end is None else int(np.searchsorted(self.ts, end, "left"))
        return BarSeries(
            self.symbol, self.ts[lo:hi], self.open[lo:hi], self.high[lo:hi], self.low[lo:hi], self.close[lo:hi],
            self.volume[lo:hi], self.seconds, self.tick, self.source,
        )

    def select(self, keep: np.ndarray) -> BarSeries:
        """The bars where ``keep`` is true."""
        return BarSeries(
            self.symbol, self.ts[keep], self.open[keep], self.high[keep], self.low[keep], self.close[keep],
            self.volume[keep], self.seconds, self.tick, self.source,
        )

    def bar(self, i: int) -> Bar:
        return Bar(self.symbol, float(self.ts[i]), float(self.open[i]), float(self.high[i]), float(self.low[i]),
                   float(self.close[i]), float(self.volume[i]), self.seconds)


def load_series(path: str | Path, symbol: str | None = None, *, stream: bool | None = None) -> BarSeries | StreamedSeries:
    """Read a bar file (CSV, Parquet or Feather: see ``brokers.paper.barfile``) into columns, or,
    for a file of more than ``STREAM_ROWS`` bars (or with ``stream=True``), check it whole and
    return a ``StreamedSeries`` that a run reads chunk by chunk. Errors name file and line."""
    from brokers.paper.barfile import read_bars, scan_bars

    p = Path(path)
    if stream is None:
        stream = _estimated_rows(p) > STREAM_ROWS
    if stream:
        info = scan_bars(p, symbol)
        return StreamedSeries(info.symbol, info.seconds, info.tick, str(path), info, info.rows, info.first_ts)
    info, cols = read_bars(p, symbol)
    return BarSeries(info.symbol, *cols, seconds=int(info.seconds), tick=info.tick, source=str(path))


def _estimated_rows(path: Path) -> int:
    """About how many bars a file holds, without reading it (0 when it cannot tell)."""
    try:
        size = path.stat().st_size
    except OSError:
        return 0  # (the reader says what is wrong with the path)
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        except Exception:  # noqa: BLE001 - a damaged file: the reader says what is wrong
            return 0
    if path.suffix.lower() in (".feather", ".arrow", ".ipc"):
        return size // 48  # six 8-byte columns
    try:
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return 0
    lines = head.count(b"\n")
    return size * lines // len(head) if lines and head else 0


def synthetic_series(symbol: str, days: float, *, end: float, seed: int = 0, seconds: int = 60,
                     calendar: str = "nyse") -> BarSeries:
    """``days`` of simulated bars of ``symbol`` ending at ``end`` (deterministic per seed)."""
    try:
        inst = parse_symbol(symbol)
    except ModelError as e:
        raise BacktestError(str(e)) from None
    if not days > 0:
        raise BacktestError(f"days must be positive, got {days}")
    cal = calendar if inst.asset_class.value in ("equity", "option") else "always"
    bars = SimMarket(seed).bars(inst.symbol, seconds, end - days * 86_400, end, cal)
    if not bars:
        raise BacktestError(f"no simulated bars for {inst.symbol} in those {days:g} days")
    return BarSeries.from_bars(bars, source=f"simulated {inst.symbol} (seed {seed})", tick=inst.tick_size)


def regular_session_only(series: BarSeries) -> tuple[BarSeries, int]:
    """An intraday series of a NYSE-listed instrument (equities, ETFs, their options, cash
    indexes) within the exchange's regular sessions (``workstation.core.sessions``): a bar
    that does not overlap one (pre- and post-market, a holiday, after an early close) is left
    out, as a broker would not fill a regular order then. Returns the series and how many bars
    were left out; daily and longer bars, and other venues' series, come back whole."""
    from workstation.core import sessions

    if series.seconds >= 86_400 or not len(series):
        return series, 0
    try:
        venue = sessions.venue_of(parse_symbol(series.symbol))
    except ModelError:
        return series, 0
    if venue != "XNYS":
        return series, 0
    spans = sessions.regular_sessions(venue, float(series.ts[0]), float(series.ts[-1]) + series.seconds)
    if spans:
        opens = np.array([o for o, _ in spans])
        closes = np.array([c for _, c in spans])
        i = np.searchsorted(closes, series.ts, side="right")  # the first session closing after the bar opens
        keep = (i < len(closes)) & (opens[np.minimum(i, len(opens) - 1)] < series.ts + series.seconds)
    else:
        keep = np.zeros(len(series), dtype=bool)
    dropped = int(len(series) - keep.sum())
    return (series.select(keep) if dropped else series), dropped


def spikes(series: BarSeries, settings: Any = None) -> np.ndarray:
    """Which bars the live data-quality monitor would drop as spikes: each close goes through
    ``DataQualityMonitor`` as a quote; a close it holds back and then calls a spike (the next
    close came back) is marked True. A held close that the next one confirms is kept."""
    from workstation.risk.dataquality import DataQualityMonitor

    passed: list[float] = []
    monitor = DataQualityMonitor(lambda q: passed.append(q.ts), Bus(), SimClock(float(series.ts[0])), settings)
    out = np.zeros(len(series), dtype=bool)
    held: int | None = None
    sym = series.symbol
    for i, (t, c) in enumerate(zip(series.ts.tolist(), series.close.tolist(), strict=True)):
        before = monitor.filtered(sym)
        n = len(passed)
        monitor.on_quote(Quote(sym, t, c, c, c))
        if held is not None and monitor.filtered(sym) > before:
            out[held] = True
        held = i if len(passed) == n and monitor.filtered(sym) == before else None
    return out


@dataclass(frozen=True, slots=True)
class StreamedSeries:
    """A checked bar file read chunk by chunk (``chunks``), optionally within ``[start, end)``."""

    symbol: str
    seconds: int
    tick: Decimal
    source: str  # the file
    info: Any  # its ``BarFileInfo`` (from ``scan_bars``)
    rows: int  # bars within the bounds
    first_ts: float  # the first of them
    start: float | None = None
    end: float | None = None

    def __len__(self) -> int:
        return self.rows

    def chunks(self) -> Iterator[tuple[np.ndarray, ...]]:
        """The bars' columns (ts, open, high, low, close, volume), in order, a file batch at a time."""
        from brokers.paper.barfile import iter_bars

        lo_t, hi_t = self.start, self.end
        for cols in iter_bars(Path(self.source), self.info, READ_ROWS):
            ts = cols[0]
            if hi_t is not None and len(ts) and ts[0] >= hi_t:
                return
            lo = 0 if lo_t is None else int(np.searchsorted(ts, lo_t, "left"))
            hi = len(ts) if hi_t is None else int(np.searchsorted(ts, hi_t, "left"))
            if hi > lo:
                yield tuple(c[lo:hi] for c in cols)

    def between(self, start: float | None, end: float | None) -> StreamedSeries:
        """The bars opening in ``[start, end)`` (counted with a pass over the file)."""
        if start is None and end is None:
            return self
        lo = start if self.start is None or (start is not None and start > self.start) else self.start
        hi = end if self.end is None or (end is not None and end < self.end) else self.end
        bounded = replace(self, start=lo, end=hi)
        rows, first = 0, self.first_ts
        for cols in bounded.chunks():
            if not rows:
                first = float(cols[0][0])
            rows += len(cols[0])
        return replace(bounded, rows=rows, first_ts=first)

    def ts_at(self, index: int) -> float:
        """The open time of bar ``index`` (a pass over the file up to it)."""
        seen = 0
        for cols in self.chunks():
            if index < seen + len(cols[0]):
                return float(cols[0][index - seen])
            seen += len(cols[0])
        raise IndexError(f"bar {index} of {self.rows}")

    def tail(self, count: int = WARM_BARS) -> BarSeries:
        """The last ``count`` bars, in memory."""
        kept: list[tuple[np.ndarray, ...]] = []
        held = 0
        for cols in self.chunks():
            kept.append(tuple(np.array(c) for c in cols))
            held += len(cols[0])
            while kept and held - len(kept[0][0]) >= count:
                held -= len(kept.pop(0)[0])
        if not kept:
            return BarSeries(self.symbol, *(np.zeros(0) for _ in range(6)), self.seconds, self.tick, self.source)
        cols = [np.concatenate([k[i] for k in kept])[-count:] for i in range(6)]
        return BarSeries(self.symbol, *cols, self.seconds, self.tick, self.source)

    def load(self) -> BarSeries:
        """Every bar, in memory."""
        parts = list(self.chunks())
        cols = [np.concatenate([p[i] for p in parts]) if parts else np.zeros(0) for i in range(6)]
        return BarSeries(self.symbol, *cols, self.seconds, self.tick, self.source)
