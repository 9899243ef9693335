"""Bar files read row by row: the exact rules and every error message, streaming.

``brokers.paper.barfile`` reads bar files as columns (pyarrow) and checks them with
numpy. What Arrow refuses (a cell that is not a number, a wrong number of fields, a date
written some way Arrow does not parse) and every error message come from here: the
rules as they were written for one row, applied to the rows one at a time, so a file
that is refused is refused with the same words whichever path read it. Nothing here
keeps a row once it is checked: a ten-million-line file streams in constant memory
(the columns a caller asks for are kept as ``array('d')``, eight bytes a value).

The layouts, the timestamp rules and the messages are described in
``brokers.paper.replay``'s docstring.
"""

from __future__ import annotations

import csv
import math
from array import array
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

LAYOUTS: dict[str, tuple[str, ...]] = {
    "yahoo": ("date", "open", "high", "low", "close", "adj close", "volume"),
    "generic": ("timestamp", "open", "high", "low", "close", "volume"),
    "intraday": ("date", "time", "open", "high", "low", "close", "volume", "openinterest"),
}
_GENERIC_FIRST = frozenset({"timestamp", "datetime", "date", "time"})
_EXPECTED = (
    "Date,Open,High,Low,Close,Adj Close,Volume; timestamp,open,high,low,close,volume; "
    "Date,Time,Open,High,Low,Close,Volume,OpenInterest"
)
SESSION_OPEN = time(9, 30)
PARQUET = (".parquet", ".pq")
FEATHER = (".feather", ".arrow", ".ipc")


class ReplayError(ValueError):
    """A replay file cannot be used; the message names the file, the line and the problem."""


def _show(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def symbol_from_path(path: Path) -> str:
    """``orcl-1995-2014.txt`` -> ``ORCL``: the file name up to the first ``-``, ``_`` or ``.``."""
    stem = path.name
    for sep in "-_.":
        stem = stem.split(sep)[0]
    return stem.upper()


def kind_of(path: Path) -> str:
    """``csv``, ``parquet`` or ``feather``, from the file's extension."""
    suffix = path.suffix.lower()
    return "parquet" if suffix in PARQUET else "feather" if suffix in FEATHER else "csv"


class Rows:
    """Raw rows of a file with the words that locate a row in an error message."""

    def __init__(self, name: str, header: list[str], rows: Iterator[tuple[int, Sequence[object]]], unit: str) -> None:
        self.name, self.header, self.rows, self.unit = name, header, rows, unit

    def error(self, n: int, problem: str) -> ReplayError:
        return ReplayError(f"{self.name}, {self.unit} {n}: {problem}")


# ----------------------------------------------------------------------------- reading


def open_text(path: Path, name: str) -> IO[str]:
    try:
        return path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReplayError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ReplayError(f"{name}: is a directory, not a file") from None
    except OSError as e:
        raise ReplayError(f"{name}: cannot open: {e.strerror or e}") from None


def check_readable(path: Path, name: str) -> None:
    """Read the whole CSV once, keeping nothing: a file that cannot be decoded or split is
    refused before any of its rows is judged (as when the whole file was read first)."""
    with open_text(path, name) as handle:
        try:
            for _ in csv.reader(handle):
                pass
        except (csv.Error, UnicodeDecodeError) as e:
            raise ReplayError(f"{name}: not a readable CSV file ({e})") from None


def csv_header(path: Path, name: str) -> list[str]:
    """The first record's fields, stripped (a file with no header is refused)."""
    with open_text(path, name) as handle:
        try:
            first = next(csv.reader(handle), [])
        except (csv.Error, UnicodeDecodeError):
            first = []
            check_readable(path, name)  # raises the decoding error, as a whole-file read would
    if not any(f.strip() for f in first):
        check_readable(path, name)
        raise ReplayError(f"{name}: empty file, expected a header line")
    return [f.strip() for f in first]


def csv_rows(path: Path, name: str) -> Rows:
    """The CSV's non-blank records after the header, streamed, numbered as lines from 1."""
    check_readable(path, name)
    header = csv_header(path, name)

    def body() -> Iterator[tuple[int, Sequence[object]]]:
        with open_text(path, name) as handle:
            for i, r in enumerate(csv.reader(handle), start=1):
                if i > 1 and any(f.strip() for f in r):
                    yield i, r

    return Rows(name, header, body(), "line")


def arrow_reader(path: Path, name: str, kind: str, columns: Sequence[str] | None = None, batch_rows: int = 65_536):
    """A Parquet or Feather file as ``(column names, iterator of record batches)``."""
    if not path.exists():
        raise ReplayError(f"{name}: no such file")
    import pyarrow as pa

    what = "Parquet" if kind == "parquet" else "Feather"
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path, memory_map=True)
            names = list(pf.schema_arrow.names)
            batches = pf.iter_batches(batch_size=batch_rows, columns=list(columns) if columns else None)
        else:
            source = pa.memory_map(str(path))
            try:
                reader = pa.ipc.open_file(source)
                names = list(reader.schema.names)
                batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
            except pa.ArrowInvalid:
                stream = pa.ipc.open_stream(pa.memory_map(str(path)))
                names = list(stream.schema.names)
                batches = iter(stream)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise ReplayError(f"{name}: not a readable {what} file ({first_line(e)})") from None

    def guarded():
        try:
            yield from batches
        except (pa.ArrowException, OSError, ValueError) as e:
            raise ReplayError(f"{name}: not a readable {what} file ({first_line(e)})") from None

    return names, guarded()


def first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0]


def arrow_rows(path: Path, name: str, kind: str) -> Rows:
    """A Parquet or Feather file's rows as Python values, a batch at a time, numbered from 1."""
    names, batches = arrow_reader(path, name, kind)

    def body() -> Iterator[tuple[int, Sequence[object]]]:
        n = 0
        for batch in batches:
            data = batch.to_pydict()
            for i in range(batch.num_rows):
                n += 1
                yield n, [data[c][i] for c in names]

    return Rows(name, names, body(), "row")


def read_rows(path: Path, name: str) -> Rows:
    kind = kind_of(path)
    return csv_rows(path, name) if kind == "csv" else arrow_rows(path, name, kind)


QUOTE_COLUMNS = frozenset({"bid", "ask"})


def quote_columns(header: Sequence[str]) -> int:
    """2 when the header ends with ``bid`` and ``ask`` (either order, any case) after a
    layout's columns (read by ``brokers.paper.quotefile``; the bar readers skip them), else 0."""
    return 2 if len(header) > 2 and {str(c).strip().lower() for c in header[-2:]} == QUOTE_COLUMNS else 0


def layout_of(name: str, header: Sequence[str], unit: str) -> str:
    cols = tuple(c.strip().lower() for c in header)
    cols = cols[: len(cols) - quote_columns(cols)]
    for layout, expected in LAYOUTS.items():
        if cols == expected:
            return layout
        if layout == "generic" and len(cols) == 6 and cols[0] in _GENERIC_FIRST and cols[1:] == expected[1:]:
            return layout
    where = f"{name}, line 1" if unit == "line" else name
    raise ReplayError(f"{where}: unrecognised columns {_show(','.join(header))}; expected {_EXPECTED}")


# ----------------------------------------------------------------------------- one row


def _number(rows: Rows, n: int, column: str, value: object) -> float:
    if isinstance(value, bool) or value is None:
        raise rows.error(n, f"{column} is not a number: {_show(value)}")
    if isinstance(value, int | float):
        x = float(value)
    else:
        text = str(value).strip()
        try:
            x = float(text)
        except ValueError:
            raise rows.error(n, f"{column} is not a number: {_show(text)}") from None
    if not math.isfinite(x):
        raise rows.error(n, f"{column} is not a finite number: {_show(value)}")
    return x


def _parse_date(rows: Rows, n: int, column: str, value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise rows.error(n, f"{column} is not a date (YYYY-MM-DD): {_show(value)}") from None


def _parse_time(rows: Rows, n: int, value: object) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        raise rows.error(n, f"Time is not a time (HH:MM:SS): {_show(value)}") from None


def _parse_stamp(rows: Rows, n: int, value: object, tz: ZoneInfo) -> tuple[float, bool]:
    """Epoch seconds of a generic timestamp, and whether it was a bare date."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=tz)).timestamp(), False
    if isinstance(value, date):
        return datetime.combine(value, SESSION_OPEN, tz).timestamp(), True
    if isinstance(value, int | float) and not isinstance(value, bool):
        x = float(value)
        return (x / 1000.0 if abs(x) > 1e11 else x), False
    text = str(value).strip()
    try:
        x = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(x):
            return (x / 1000.0 if abs(x) > 1e11 else x), False
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), SESSION_OPEN, tz).timestamp(), True
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise rows.error(n, f"timestamp is not a date, a date and time, or epoch seconds: {_show(text)}") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=tz)).timestamp(), False


def when(t: float, daily: bool, tz: ZoneInfo) -> str:
    dt = datetime.fromtimestamp(t, tz)
    return dt.date().isoformat() if daily else dt.isoformat(sep=" ", timespec="seconds")


class RowChecker:
    """The rules for one row, given what the rows before it left: the last timestamp and
    its line, and whether every timestamp so far was a bare date."""

    def __init__(self, rows: Rows, layout: str, tz: ZoneInfo) -> None:
        self.rows, self.layout, self.tz = rows, layout, tz
        self.width = len(LAYOUTS[layout])
        self.names = [c.strip() for c in rows.header]
        self.last_stamp: float | None = None
        self.last_line = 0
        self.all_dates = True

    def check(self, n: int, fields: Sequence[object]) -> tuple[float, float, float, float, float, float]:
        """``(stamp, open, high, low, close, volume)`` of a valid row, else the row's error."""
        rows, layout, names, tz = self.rows, self.layout, self.names, self.tz
        first_price = 2 if layout == "intraday" else 1
        vol_col = 6 if layout in ("yahoo", "intraday") else 5
        if len(fields) != self.width:
            raise rows.error(n, f"expected {self.width} fields, got {len(fields)}")
        if layout == "intraday":
            d = _parse_date(rows, n, names[0], fields[0])
            stamp = datetime.combine(d, _parse_time(rows, n, fields[1]), tz).timestamp()
            self.all_dates = False
        elif layout == "yahoo":
            stamp = datetime.combine(_parse_date(rows, n, names[0], fields[0]), SESSION_OPEN, tz).timestamp()
        else:
            stamp, bare = _parse_stamp(rows, n, fields[0], tz)
            self.all_dates = self.all_dates and bare
        o, h, lo, c = (_number(rows, n, names[first_price + i], fields[first_price + i]) for i in range(4))
        for column, price in zip(names[first_price : first_price + 4], (o, h, lo, c), strict=True):
            if price <= 0:
                raise rows.error(n, f"{column} must be positive, got {price:g}")
        if h < lo:
            raise rows.error(n, f"{names[first_price + 1]} {h:g} is below {names[first_price + 2]} {lo:g}")
        for column, price in ((names[first_price], o), (names[first_price + 3], c)):
            if not lo <= price <= h:
                raise rows.error(n, f"{column} {price:g} is outside the bar's range {lo:g}..{h:g}")
        if layout == "yahoo":
            adj = _number(rows, n, names[5], fields[5])
            if adj <= 0:
                raise rows.error(n, f"{names[5]} must be positive, got {adj:g}")
        vol = _number(rows, n, names[vol_col], fields[vol_col])
        if vol < 0:
            raise rows.error(n, f"{names[vol_col]} must not be negative, got {vol:g}")
        if layout == "intraday":
            _number(rows, n, names[7], fields[7])
        daily = layout == "yahoo" or (layout == "generic" and self.all_dates)
        last = self.last_stamp
        if last is not None and stamp == last:
            raise rows.error(n, f"duplicate timestamp {when(stamp, daily, tz)} (also on {rows.unit} {self.last_line})")
        if last is not None and stamp < last:
            earlier = f"{when(last, daily, tz)} on {rows.unit} {self.last_line}"
            raise rows.error(n, f"timestamp {when(stamp, daily, tz)} is before {earlier}: rows must be in time order")
        self.last_stamp, self.last_line = stamp, n
        return stamp, o, h, lo, c, vol


class ExactRows:
    """A whole file read row by row (the path for what Arrow refuses): ``chunks()`` yields
    checked rows as six ``array('d')`` (unshifted stamp, open, high, low, close, volume),
    at most ``chunk_rows`` at a time; ``all_dates`` tells afterwards whether every stamp
    was a bare date."""

    def __init__(self, path: Path, name: str, tz: ZoneInfo) -> None:
        self.name = name
        self._rows = read_rows(path, name)
        extra = quote_columns(self._rows.header)
        if extra:  # the bid and ask columns are not the bars' (brokers.paper.quotefile reads them)
            rows = self._rows
            self._rows = Rows(name, rows.header[:-extra], ((n, f[:-extra]) for n, f in rows.rows), rows.unit)
        self.layout = layout_of(name, self._rows.header, self._rows.unit)
        self._checker = RowChecker(self._rows, self.layout, tz)

    @property
    def all_dates(self) -> bool:
        return self._checker.all_dates

    def chunks(self, chunk_rows: int = 65_536) -> Iterator[tuple[array, ...]]:
        check = self._checker.check
        columns = tuple(array("d") for _ in range(6))
        count = 0
        for n, fields in self._rows.rows:
            for column, v in zip(columns, check(n, fields), strict=True):
                column.append(v)
            count += 1
            if len(columns[0]) >= chunk_rows:
                yield columns
                columns = tuple(array("d") for _ in range(6))
        if not count:
            raise ReplayError(f"{self.name}: no bars after the header")
        if len(columns[0]):
            yield columns
