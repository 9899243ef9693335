"""Bar files read as columns: a million rows in a fraction of a second, in little memory.

``read_bars(path)`` returns a ``BarFileInfo`` (layout, bar length, rows, first and last
bar, tick) and ``BarColumns``: six float64 numpy arrays (``ts`` is the bar's open in
epoch seconds, as ``Bar.ts``). ``scan_bars`` checks a whole file keeping only a few
numbers per batch, and ``iter_bars`` then hands out its columns in chunks: together they
read files larger than memory. The layouts, the timestamp rules and every error message
are those of ``brokers.paper.replay`` (see its docstring); a file gives the same bars
and is refused with the same words whichever way it is read.

How: CSV goes through ``pyarrow.csv`` (typed columns, a batch at a time, from the
system allocator so memory goes back to the OS), Parquet and Feather/Arrow IPC files
through their own readers. Timestamps are parsed by Arrow and naive ones localised with
``assume_timezone``; a wall-clock time that does not exist (the hour skipped when the
clocks go forward) is done in Python as before, so it lands where it always did. The
checks are vectorized: the first bad row's number is found on the error path (counting
records as the csv module does: blank lines, a BOM, CRLF) and the row itself is judged by
the row-by-row rules in ``brokers.paper.barrows``, which also read, streaming, anything
Arrow refuses (a cell that is not a number, a wrong number of fields, an unusual date).
pyarrow is imported on first use: commands that read no bar file do not load it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

from brokers.paper.barrows import (
    LAYOUTS,
    ExactRows,
    ReplayError,
    RowChecker,
    Rows,
    arrow_reader,
    check_readable,
    csv_header,
    kind_of,
    layout_of,
    open_text,
    symbol_from_path,
)
from workstation.core.model import ModelError
from workstation.core.symbols import parse_symbol

if TYPE_CHECKING:
    import numpy as np

_CLOCK = r"([01]\d|2[0-3]):[0-5]\d"
_TIME = rf"^{_CLOCK}(:[0-5]\d)?$"
_SESSION_OPEN_US = (9 * 3600 + 30 * 60) * 1_000_000
_BLOCK = 1 << 20  # bytes of CSV per Arrow batch (about 20,000 one-minute bars)


def _pool():
    """The allocator for everything Arrow makes here: the C library's, which hands memory
    back to the OS (the default pool keeps tens of megabytes for itself)."""
    import pyarrow as pa

    return pa.system_memory_pool()

_MAX_DECIMALS = 8  # tick_from_prices' default


class BarColumns(NamedTuple):
    """A file's bars as float64 arrays (C-contiguous); ``ts`` is each bar's open, epoch seconds."""

    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


@dataclass(frozen=True, slots=True)
class BarFileInfo:
    """What a bar file holds: its symbol and layout, the bar length in seconds (a day for
    daily files), how many bars, the first and last bar's open, and the tick its prices lie on."""

    name: str
    symbol: str
    layout: str
    seconds: int
    daily: bool
    rows: int
    first_ts: float
    last_ts: float
    tick: Decimal


# ----------------------------------------------------------------------------- API


def read_bars(path: str | Path, symbol: str | None = None, tz: str = "America/New_York") -> tuple[BarFileInfo, BarColumns]:
    """The whole file as columns, checked, in one pass."""
    import numpy as np

    src = _Source(path, symbol, tz)
    stats = _Stats()
    store = [np.empty(src.rows_estimate(), dtype=np.float64) for _ in range(6)]
    n = 0
    for batch in src.batches():
        stats.add(batch)
        m = len(batch.ts)
        if n + m > len(store[0]):
            grown = max(n + m, int(len(store[0]) * 1.25) + 1024)
            for a in store:
                a.resize(grown, refcheck=False)
        for a, values in zip(store, batch.columns(), strict=True):
            a[n : n + m] = values
        n += m
    for a in store:
        a.resize(n, refcheck=False)
    info = stats.info(src)
    if info.layout == "intraday":
        store[0] -= stats.shift(src)
    _release()
    return info, BarColumns(*store)


def scan_bars(path: str | Path, symbol: str | None = None, tz: str = "America/New_York") -> BarFileInfo:
    """Check the whole file, streaming, and say what it holds (no columns are kept)."""
    src = _Source(path, symbol, tz)
    stats = _Stats()
    for batch in src.batches():
        stats.add(batch)
    _release()
    return stats.info(src)


def iter_bars(
    path: str | Path, info: BarFileInfo, chunk_rows: int = 65_536, tz: str = "America/New_York"
) -> Iterator[BarColumns]:
    """A scanned file's columns, ``chunk_rows`` bars at a time (the last chunk may be shorter),
    the same values ``read_bars`` gives; the file is checked again as it is read."""
    import numpy as np

    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    src = _Source(path, info.symbol, tz)
    shift = float(info.seconds) if info.layout == "intraday" else 0.0
    pending: list[list[np.ndarray]] = [[] for _ in range(6)]
    held = 0
    for batch in src.batches():
        for parts, values in zip(pending, batch.columns(), strict=True):
            parts.append(values)
        held += len(batch.ts)
        while held >= chunk_rows:
            joined = [np.concatenate(parts) if len(parts) > 1 else parts[0] for parts in pending]
            yield _chunk([a[:chunk_rows] for a in joined], shift)
            pending = [[a[chunk_rows:]] for a in joined]
            held -= chunk_rows
    if held:
        yield _chunk([np.concatenate(parts) for parts in pending], shift)
    _release()


def _chunk(columns: list[np.ndarray], shift: float) -> BarColumns:
    import numpy as np

    out = [np.array(a, dtype=np.float64, order="C", copy=True) for a in columns]
    if shift:
        out[0] -= shift
    return BarColumns(*out)


def _release() -> None:
    """Hand freed memory back to the OS (``malloc_trim``: a batch's buffers, once freed,
    would otherwise stay in the process as holes in the heap)."""
    import pyarrow as pa

    pa.system_memory_pool().release_unused()


# ----------------------------------------------------------------------------- a file and its batches


class _Refused(Exception):
    """Arrow cannot read this file the fast way: read it row by row."""


class _Batch(NamedTuple):
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


class _Source:
    """One bar file: its kind, layout and canonical symbol (checked in today's order), and
    its checked batches."""

    def __init__(self, path: str | Path, symbol: str | None, tz: str) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.tz_name = tz
        self.tz = ZoneInfo(tz)
        self.kind = kind_of(self.path)
        self.all_dates = True
        if self.kind == "csv":
            self.header = csv_header(self.path, self.name)
            self.unit = "line"
            self._num_rows: int | None = None
        else:
            self.header, _ = arrow_reader(self.path, self.name, self.kind)
            self.unit = "row"
        sym = symbol or symbol_from_path(self.path)
        try:
            self.symbol = parse_symbol(sym).symbol
        except ModelError as e:
            if self.kind == "csv":
                check_readable(self.path, self.name)
            hint = "" if symbol else " (named from the file; pass a symbol)"
            raise ReplayError(f"{self.name}: {e}{hint}") from None
        try:
            self.layout = layout_of(self.name, self.header, self.unit)
        except ReplayError:
            if self.kind == "csv":
                check_readable(self.path, self.name)
            raise

    def rows_estimate(self) -> int:
        """About how many bars the file holds (to size the columns once)."""
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(self.path).metadata.num_rows
        if self.kind == "feather":
            return 65_536  # grown as the batches come (Feather files are read by reference)
        size = self.path.stat().st_size
        with self.path.open("rb") as f:
            sample = f.read(1 << 20)
        lines = max(sample.count(b"\n"), 1)
        return int(size / len(sample) * lines * 1.02) + 16 if sample else 16

    def batches(self) -> Iterator[_Batch]:
        """The file's batches, every row checked; a bad row raises today's message for it."""
        import numpy as np

        done = 0
        prev: float | None = None
        try:
            reader = self._csv_batches() if self.kind == "csv" else self._arrow_batches()
            for batch in reader:
                if not len(batch.ts):
                    continue
                bad = _first_bad(batch, prev)
                if bad >= 0:
                    dates_before = self.all_dates and (batch.bare or bad == 0)
                    self._explain(done + bad, batch.ts[bad - 1] if bad else prev, dates_before)
                    raise _Refused  # the rules accept the row: let them read the whole file
                self.all_dates = self.all_dates and batch.bare
                done += len(batch.ts)
                _release()  # glibc keeps freed batches in the heap's middle unless asked
                prev = float(batch.ts[-1])
                yield batch
        except _Refused:
            pass
        else:
            if not done:
                if self.kind == "csv":
                    check_readable(self.path, self.name)
                raise ReplayError(f"{self.name}: no bars after the header")
            return
        exact = ExactRows(self.path, self.name, self.tz)
        skip = done
        for chunk in exact.chunks():
            cols = [np.frombuffer(c, dtype=np.float64) for c in chunk]
            if skip >= len(cols[0]):
                skip -= len(cols[0])
                continue
            cols = [c[skip:] for c in cols]
            skip = 0
            yield _Batch(*cols, extra_ok=None, bare=True)
        self.all_dates = exact.all_dates

    # -- the fast readers

    def _csv_batches(self) -> Iterator[_Batch]:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        width = len(LAYOUTS[self.layout])
        strings = 2 if self.layout == "intraday" else 1
        names = [f"c{i}" for i in range(width)]
        types = {n: (pa.string() if i < strings else pa.float64()) for i, n in enumerate(names)}
        try:
            reader = pcsv.open_csv(
                pa.OSFile(str(self.path)),  # read, not mapped: mapped pages would count as the process's memory
                read_options=pcsv.ReadOptions(column_names=names, skip_rows=1, block_size=_BLOCK, use_threads=False),
                convert_options=pcsv.ConvertOptions(
                    column_types=types, null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False
                ),
                memory_pool=_pool(),
            )
            for record_batch in reader:
                yield self._convert([record_batch.column(i) for i in range(width)])
        except pa.ArrowException:
            raise _Refused from None

    def _arrow_batches(self) -> Iterator[_Batch]:
        import pyarrow as pa

        _, batches = arrow_reader(self.path, self.name, self.kind)
        width = len(LAYOUTS[self.layout])
        try:
            for record_batch in batches:
                yield self._convert([record_batch.column(i) for i in range(width)])
        except pa.ArrowException:
            raise _Refused from None

    def _convert(self, cols: list) -> _Batch:
        import numpy as np

        layout = self.layout
        first = 2 if layout == "intraday" else 1
        o, h, lo, c = (_floats(cols[first + i]) for i in range(4))
        vol = _floats(cols[6 if layout in ("yahoo", "intraday") else 5])
        extra_ok = None
        bare = False
        if layout == "yahoo":
            ts = _local(_days(cols[0]) + _SESSION_OPEN_US, self.tz, self.tz_name)
            adj = _floats(cols[5])
            extra_ok = adj > 0
            extra_ok &= np.isfinite(adj)
        elif layout == "intraday":
            ts = _local(_days(cols[0]) + _clock(cols[1]), self.tz, self.tz_name)
            extra_ok = np.isfinite(_floats(cols[7]))
        else:
            ts, bare = _generic_stamps(cols[0], self.tz, self.tz_name)
        return _Batch(ts, o, h, lo, c, vol, extra_ok, bare)

    # -- the error path

    def _explain(self, k: int, prev: float | None, dates_before: bool) -> None:
        """Raise today's message for data row ``k`` (0-based), the first the checks refused."""
        unit = self.unit
        rows = Rows(self.name, list(self.header), iter(()), unit)
        checker = RowChecker(rows, self.layout, self.tz)
        if self.kind == "csv":
            check_readable(self.path, self.name)
            n, prev_line, fields = _csv_record(self.path, self.name, k)
        else:
            n, prev_line, fields = k + 1, k, self._arrow_row(k)
        if fields is None:
            return
        if prev is not None:
            checker.last_stamp, checker.last_line = float(prev), prev_line
        checker.all_dates = dates_before
        checker.check(n, fields)

    def _arrow_row(self, k: int) -> list[object] | None:
        names, batches = arrow_reader(self.path, self.name, self.kind)
        start = 0
        for batch in batches:
            if k < start + batch.num_rows:
                row = batch.slice(k - start, 1).to_pydict()
                return [row[c][0] for c in names]
            start += batch.num_rows
        return None


def _csv_record(path: Path, name: str, k: int) -> tuple[int, int, list[str] | None]:
    """The line number and fields of data row ``k`` (0-based), and the line of row ``k - 1``,
    counting records as the csv module reads them (blank ones are not rows)."""
    import csv

    prev_line = 0
    seen = -1
    with open_text(path, name) as handle:
        for i, record in enumerate(csv.reader(handle), start=1):
            if i > 1 and any(f.strip() for f in record):
                seen += 1
                if seen == k:
                    return i, prev_line, record
                prev_line = i
    return 0, prev_line, None


# ----------------------------------------------------------------------------- columns


def _np(col, dtype) -> np.ndarray:
    """A fixed-width Arrow array's values as a numpy view (by its buffers: ``to_numpy``
    would import pandas, a second of start-up)."""
    import numpy as np

    return np.frombuffer(col.buffers()[1], dtype=dtype, count=len(col), offset=col.offset * np.dtype(dtype).itemsize)


def _arrow(values: np.ndarray, type_):
    import pyarrow as pa

    return pa.Array.from_buffers(type_, len(values), [None, pa.py_buffer(values)])


def _valid(col) -> np.ndarray:
    import numpy as np

    bits = np.unpackbits(np.frombuffer(col.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[col.offset : col.offset + len(col)].astype(bool)


def _floats(col) -> np.ndarray:
    """A numeric Arrow column as float64 (nulls as NaN, refused as bad rows later)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    if pa.types.is_float64(t) and col.null_count == 0:
        return _np(col, np.float64)
    if pa.types.is_integer(t):
        values = _np(col.cast(pa.int64(), memory_pool=_pool()), np.int64).astype(np.float64)
    elif pa.types.is_floating(t):
        values = _np(pc.cast(col, pa.float64(), memory_pool=_pool()), np.float64).copy()
    else:
        raise _Refused
    if col.null_count:
        values[~_valid(col)] = np.nan
    return values


def _strings(col):
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)) or col.null_count:
        raise _Refused
    return pc.utf8_trim_whitespace(col, memory_pool=_pool())


def _all(mask) -> bool:
    import pyarrow.compute as pc

    return bool(pc.all(mask).as_py())


def _days(col) -> np.ndarray:
    """A date column as naive microseconds since the epoch (midnight)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_date(col.type) and not col.null_count:
        days = pc.cast(col, pa.date32(), memory_pool=_pool())
    else:
        days = pc.cast(_strings(col), pa.date32(), memory_pool=_pool())  # YYYY-MM-DD only (Python's other forms: row by row)
    return _np(days.cast(pa.int32(), memory_pool=_pool()), np.int32).astype(np.int64) * 86_400_000_000


def _clock(col) -> np.ndarray:
    """An ``HH:MM[:SS]`` column as microseconds since midnight."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _strings(col)
    if not _all(pc.match_substring_regex(text, _TIME, memory_pool=_pool())):
        raise _Refused
    pool = _pool()
    h, m, s = (
        _np(pc.cast(pc.utf8_slice_codeunits(text, a, a + 2, memory_pool=pool), pa.int64(), memory_pool=pool), np.int64)
        for a in (0, 3, 6)
    )
    s = np.where(_np(pc.utf8_length(text, memory_pool=_pool()), np.int32) > 5, s, 0)  # HH:MM: no seconds
    return ((h * 60 + m) * 60 + s) * 1_000_000


def _generic_stamps(col, tz: ZoneInfo, tz_name: str) -> tuple[np.ndarray, bool]:
    """Epoch seconds of a generic first column, and whether every stamp was a bare date."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    if pa.types.is_timestamp(t) and t.unit in ("s", "ms", "us") and not col.null_count:
        us = _np(col.cast(pa.int64(), memory_pool=_pool()), np.int64) * {"s": 1_000_000, "ms": 1_000, "us": 1}[t.unit]
        if t.tz is None:
            return _local(us, tz, tz_name), False
        return us / 1e6, False
    if pa.types.is_date(t) and not col.null_count:
        return _local(_days(col) + _SESSION_OPEN_US, tz, tz_name), True
    if (pa.types.is_integer(t) or pa.types.is_floating(t)) and not col.null_count:
        return _epoch(_floats(col)), False
    text = _strings(col)
    if not len(text):
        return np.empty(0), True
    first = text[0].as_py()
    if _is_number(first):
        numbers = pc.cast(text, pa.float64(), memory_pool=_pool())  # all numbers, or row by row
        return _epoch(_np(numbers, np.float64)), False
    dates = _np(pc.utf8_length(text, memory_pool=_pool()), np.int32) == 10  # a bare date (Arrow parses a subset of Python's forms)
    if dates.all():
        return _local(_days(text) + _SESSION_OPEN_US, tz, tz_name), True
    if dates.any():
        raise _Refused  # dates and times mixed: row by row
    if first.endswith("Z") or "+" in first[10:] or "-" in first[10:]:
        stamps = pc.cast(text, pa.timestamp("us", "UTC"), memory_pool=_pool())  # every stamp with an offset, else row by row
        return _np(stamps.cast(pa.int64(), memory_pool=_pool()), np.int64) / 1e6, False
    naive = pc.cast(text, pa.timestamp("us"), memory_pool=_pool())
    return _local(_np(naive.cast(pa.int64(), memory_pool=_pool()), np.int64), tz, tz_name), False


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _epoch(x: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.where(np.abs(x) > 1e11, x / 1000.0, x)


def _local(naive_us: np.ndarray, tz: ZoneInfo, tz_name: str) -> np.ndarray:
    """Epoch seconds of wall-clock times in ``tz`` as ``datetime.replace(tzinfo=tz)`` gives
    them (fold=0: a repeated hour is its first pass, a skipped hour uses the offset before
    the change)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    naive_us = np.ascontiguousarray(naive_us, dtype=np.int64)
    naive = _arrow(naive_us, pa.timestamp("us"))
    try:
        try:
            aware = pc.assume_timezone(naive, tz_name, ambiguous="earliest", nonexistent="raise", memory_pool=_pool())
            skipped = None
        except pa.ArrowInvalid:
            aware = pc.assume_timezone(naive, tz_name, ambiguous="earliest", nonexistent="earliest", memory_pool=_pool())
            back = _np(pc.local_timestamp(aware, memory_pool=_pool()).cast(pa.int64(), memory_pool=_pool()), np.int64)
            skipped = np.flatnonzero(back != naive_us)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _Refused from None  # a zone Arrow does not know
    out = _np(aware.cast(pa.int64(), memory_pool=_pool()), np.int64) / 1e6
    if skipped is not None and len(skipped):
        from datetime import datetime, timedelta

        epoch = datetime(1970, 1, 1)
        for i in skipped:
            wall = epoch + timedelta(microseconds=int(naive_us[i]))
            out[i] = wall.replace(tzinfo=tz).timestamp()
    return out


# ----------------------------------------------------------------------------- checks and figures


def _first_bad(b: _Batch, prev: float | None) -> int:
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


class _Stats:
    """What is kept while a file streams by: rows, first and last stamp, the gap
    histogram (rounded gap -> count and first row) and which tick levels every price meets."""

    def __init__(self) -> None:
        self.rows = 0
        self.first = self.last = math.nan
        self.gaps: dict[float, list[int]] = {}
        self.levels = (1 << (_MAX_DECIMALS + 1)) - 1  # bit d: every price so far lies on 10**-d

    def add(self, b: _Batch) -> None:
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
        self.levels &= _tick_levels(b.open, b.high, b.low, b.close)
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

    def shift(self, src: _Source) -> float:
        return self.seconds(src) if src.layout == "intraday" else 0.0

    def seconds(self, src: _Source) -> float:
        if self.daily(src):
            return 86_400.0
        if not self.gaps:
            return 60.0
        return min(self.gaps.items(), key=lambda kv: (-kv[1][0], kv[1][1]))[0]

    def daily(self, src: _Source) -> bool:
        return src.layout == "yahoo" or (src.layout == "generic" and src.all_dates)

    def tick(self) -> Decimal:
        for d in range(_MAX_DECIMALS + 1):
            if self.levels >> d & 1:
                return Decimal(1).scaleb(-d)
        return Decimal(1).scaleb(-_MAX_DECIMALS)

    def info(self, src: _Source) -> BarFileInfo:
        shift = self.shift(src)
        return BarFileInfo(
            name=src.name, symbol=src.symbol, layout=src.layout, seconds=int(self.seconds(src)),
            daily=self.daily(src), rows=self.rows, first_ts=self.first - shift, last_ts=self.last - shift,
            tick=self.tick(),
        )


def _tick_levels(*columns: np.ndarray) -> int:
    """Bit ``d`` set when every price of the batch lies on ``10**-d`` by ``tick_from_prices``'
    rule, so that the levels of a whole file are the AND of its batches'.

    ``tick_from_prices`` gives the first level that holds; a price that sits within rounding
    noise of that level (error at most 1e-13 of its scaled value) holds at every finer level
    too, so only the others (usually none) are tried at the finer levels."""
    import numpy as np

    from brokers.paper.bars import tick_from_prices  # bars imports the broker, which imports replay

    d = _digits(tick_from_prices(*columns, max_decimals=_MAX_DECIMALS))
    values = np.concatenate([np.ravel(c) for c in columns])
    if d == _MAX_DECIMALS and not _holds(values, d):
        return 0  # no level holds (tick_from_prices fell back to the finest)
    scaled = values * 10.0**d
    doubtful = values[np.abs(scaled - np.round(scaled)) > np.abs(scaled) * 1e-13]
    bits = 1 << d
    for finer in range(d + 1, _MAX_DECIMALS + 1):
        if not len(doubtful) or _holds(doubtful, finer):
            bits |= 1 << finer
    return bits


def _holds(values: np.ndarray, d: int) -> bool:
    """Every value lies on ``10**-d`` (asked of ``tick_from_prices`` itself)."""
    from brokers.paper.bars import tick_from_prices

    return tick_from_prices(values * 10.0**d, max_decimals=1) == 1


def _digits(tick: Decimal) -> int:
    return -tick.as_tuple().exponent  # type: ignore[operator]


__all__ = ["BarColumns", "BarFileInfo", "ReplayError", "iter_bars", "read_bars", "scan_bars"]
