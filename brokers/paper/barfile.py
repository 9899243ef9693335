"""Bar files read as columns: a million rows in about a second (16 s row by row), in little memory.

``read_bars(path)`` returns a ``BarFileInfo`` (layout, bar length, rows, first and last
bar, tick) and ``BarColumns``: six float64 numpy arrays (``ts`` is the bar's open in
epoch seconds, as ``Bar.ts``). ``scan_bars`` checks a whole file keeping only a few
numbers per batch, and ``iter_bars`` then hands out its columns in chunks: together they
read files larger than memory. A header may end with ``bid`` and ``ask`` columns (any case,
either order): the bar readers skip them, and ``brokers.paper.quotefile.bar_file_quotes``
reads them as the quote at each bar's close (NaN where a cell is empty). The layouts, the timestamp rules and every error message
are those of ``brokers.paper.replay`` (see its docstring); a file gives the same bars
and is refused with the same words whichever way it is read.

How: CSV goes through ``pyarrow.csv`` (typed columns, a batch at a time, from the
system allocator so memory goes back to the OS), Parquet and Feather/Arrow IPC files
through their own readers; ``brokers.paper.barcolumns`` turns a batch's Arrow columns
into numpy (timestamps parsed by Arrow, naive ones localised as Python does), and
``brokers.paper.barchecks`` checks the batch and keeps the file's figures. The first bad
row's number is found on the error path (counting records as the csv module does: blank
lines, a BOM, CRLF) and the row itself is judged by the row-by-row rules in
``brokers.paper.barrows``, which also read, streaming, anything Arrow refuses (a cell
that is not a number, a wrong number of fields, an unusual date). pyarrow is imported on
first use: commands that read no bar file do not load it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

from brokers.paper.barchecks import Batch, Stats, first_bad
from brokers.paper.barcolumns import (
    SESSION_OPEN_US,
    Refused,
    clock_us,
    days_us,
    floats,
    generic_stamps,
    localise,
    pool,
    release,
)
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
    quote_columns,
    symbol_from_path,
)
from workstation.core.model import ModelError
from workstation.core.symbols import parse_symbol

if TYPE_CHECKING:
    import numpy as np

_BLOCK = 1 << 20  # bytes of CSV per Arrow batch (about 20,000 one-minute bars)


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
    stats = Stats()
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
    info = _info(stats, src)
    if info.layout == "intraday":
        store[0] -= float(info.seconds)  # the intraday time labels the bar's end
    release()
    return info, BarColumns(*store)


def scan_bars(path: str | Path, symbol: str | None = None, tz: str = "America/New_York") -> BarFileInfo:
    """Check the whole file, streaming, and say what it holds (no columns are kept)."""
    src = _Source(path, symbol, tz)
    stats = Stats()
    for batch in src.batches():
        stats.add(batch)
    release()
    return _info(stats, src)


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
    release()


def _info(stats: Stats, src: _Source) -> BarFileInfo:
    daily = src.layout == "yahoo" or (src.layout == "generic" and src.all_dates)
    seconds = stats.seconds(daily)
    shift = seconds if src.layout == "intraday" else 0.0
    return BarFileInfo(
        name=src.name, symbol=src.symbol, layout=src.layout, seconds=int(seconds), daily=daily, rows=stats.rows,
        first_ts=stats.first - shift, last_ts=stats.last - shift, tick=stats.tick(),
    )


def _chunk(columns: list[np.ndarray], shift: float) -> BarColumns:
    import numpy as np

    out = [np.array(a, dtype=np.float64, order="C", copy=True) for a in columns]
    if shift:
        out[0] -= shift
    return BarColumns(*out)


# ----------------------------------------------------------------------------- a file and its batches


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
        self.extra = quote_columns(self.header)  # trailing bid and ask columns: skipped here (see quotefile)
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

    def batches(self) -> Iterator[Batch]:
        """The file's batches, every row checked; a bad row raises today's message for it."""
        import numpy as np

        done = 0
        prev: float | None = None
        try:
            reader = self._csv_batches() if self.kind == "csv" else self._arrow_batches()
            for batch in reader:
                if not len(batch.ts):
                    continue
                bad = first_bad(batch, prev)
                if bad >= 0:
                    dates_before = self.all_dates and (batch.bare or bad == 0)
                    self._explain(done + bad, batch.ts[bad - 1] if bad else prev, dates_before)
                    raise Refused  # the rules accept the row: let them read the whole file
                self.all_dates = self.all_dates and batch.bare
                done += len(batch.ts)
                release()  # glibc keeps freed batches in the heap's middle unless asked
                prev = float(batch.ts[-1])
                yield batch
        except Refused:
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
            yield Batch(*cols, extra_ok=None, bare=True)
        self.all_dates = exact.all_dates

    # -- the fast readers

    def _csv_batches(self) -> Iterator[Batch]:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        width = len(LAYOUTS[self.layout])
        strings = 2 if self.layout == "intraday" else 1
        names = [f"c{i}" for i in range(width + self.extra)]
        types = {n: (pa.string() if i < strings else pa.float64()) for i, n in enumerate(names[:width])}
        try:
            reader = pcsv.open_csv(
                pa.OSFile(str(self.path)),  # read, not mapped: mapped pages would count as the process's memory
                read_options=pcsv.ReadOptions(column_names=names, skip_rows=1, block_size=_BLOCK, use_threads=True),
                convert_options=pcsv.ConvertOptions(
                    column_types=types, null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False,
                    include_columns=names[:width],
                ),
                memory_pool=pool(),
            )
            for record_batch in reader:
                yield self._convert([record_batch.column(i) for i in range(width)])
        except pa.ArrowException:
            raise Refused from None

    def _arrow_batches(self) -> Iterator[Batch]:
        import pyarrow as pa

        _, batches = arrow_reader(self.path, self.name, self.kind)
        width = len(LAYOUTS[self.layout])
        try:
            for record_batch in batches:
                yield self._convert([record_batch.column(i) for i in range(width)])
        except pa.ArrowException:
            raise Refused from None

    def _convert(self, cols: list) -> Batch:
        import numpy as np

        layout = self.layout
        first = 2 if layout == "intraday" else 1
        o, h, lo, c = (floats(cols[first + i]) for i in range(4))
        vol = floats(cols[6 if layout in ("yahoo", "intraday") else 5])
        extra_ok = None
        bare = False
        if layout == "yahoo":
            ts = localise(days_us(cols[0]) + SESSION_OPEN_US, self.tz, self.tz_name)
            adj = floats(cols[5])
            extra_ok = adj > 0
            extra_ok &= np.isfinite(adj)
        elif layout == "intraday":
            ts = localise(days_us(cols[0]) + clock_us(cols[1]), self.tz, self.tz_name)
            extra_ok = np.isfinite(floats(cols[7]))
        else:
            ts, bare = generic_stamps(cols[0], self.tz, self.tz_name)
        return Batch(ts, o, h, lo, c, vol, extra_ok, bare)

    # -- the error path

    def _explain(self, k: int, prev: float | None, dates_before: bool) -> None:
        """Raise today's message for data row ``k`` (0-based), the first the checks refused."""
        unit = self.unit
        header = list(self.header)
        rows = Rows(self.name, header[: len(header) - self.extra], iter(()), unit)
        checker = RowChecker(rows, self.layout, self.tz)
        if self.kind == "csv":
            check_readable(self.path, self.name)
            n, prev_line, fields = _csv_record(self.path, self.name, k)
        else:
            n, prev_line, fields = k + 1, k, self._arrow_row(k)
        if fields is None:
            return
        if self.extra and len(fields) == len(self.header):
            fields = list(fields)[: -self.extra]
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






__all__ = ["BarColumns", "BarFileInfo", "ReplayError", "iter_bars", "read_bars", "scan_bars"]
