"""TEST-ONLY: the bar-file parser as it was before the columnar loader (``brokers/paper/barfile.py``).

Copied from ``brokers/paper/replay.py`` (row by row with the csv module) so the equivalence
tests compare the new loader against the behaviour users had: same bars, same errors.
``legacy_bars`` is ``ReplayFeed.from_file``'s reading half. Not used by the product.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

from workstation.core.model import Bar, ModelError
from workstation.core.symbols import parse_symbol

_LAYOUTS: dict[str, tuple[str, ...]] = {
    "yahoo": ("date", "open", "high", "low", "close", "adj close", "volume"),
    "generic": ("timestamp", "open", "high", "low", "close", "volume"),
    "intraday": ("date", "time", "open", "high", "low", "close", "volume", "openinterest"),
}
_GENERIC_FIRST = frozenset({"timestamp", "datetime", "date", "time"})
_EXPECTED = (
    "Date,Open,High,Low,Close,Adj Close,Volume; timestamp,open,high,low,close,volume; "
    "Date,Time,Open,High,Low,Close,Volume,OpenInterest"
)
_SESSION_OPEN = time(9, 30)


class ReplayError(ValueError):
    """A replay file cannot be used; the message names the file, the line and the problem."""


def _show(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


class _Rows:
    """Raw rows of a file with the words that locate a row in an error message."""

    def __init__(self, name: str, header: list[str], rows: Iterator[tuple[int, Sequence[object]]], unit: str) -> None:
        self.name, self.header, self.rows, self.unit = name, header, rows, unit

    def error(self, n: int, problem: str) -> ReplayError:
        return ReplayError(f"{self.name}, {self.unit} {n}: {problem}")


def _read_csv(path: Path, name: str) -> _Rows:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReplayError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ReplayError(f"{name}: is a directory, not a file") from None
    except OSError as e:
        raise ReplayError(f"{name}: cannot open: {e.strerror or e}") from None
    with handle:
        try:
            lines = list(csv.reader(handle))
        except (csv.Error, UnicodeDecodeError) as e:
            raise ReplayError(f"{name}: not a readable CSV file ({e})") from None
    if not lines or not any(f.strip() for f in lines[0]):
        raise ReplayError(f"{name}: empty file, expected a header line")
    body = ((i, r) for i, r in enumerate(lines[1:], start=2) if any(f.strip() for f in r))
    return _Rows(name, [f.strip() for f in lines[0]], body, "line")


def _read_parquet(path: Path, name: str) -> _Rows:
    if not path.exists():
        raise ReplayError(f"{name}: no such file")
    import pyarrow as pa  # imported on first use: most replays are CSV
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise ReplayError(f"{name}: not a readable Parquet file ({first})") from None
    columns = table.column_names
    data = table.to_pydict()
    body = ((i + 1, [data[c][i] for c in columns]) for i in range(table.num_rows))
    return _Rows(name, list(columns), body, "row")


def _layout(rows: _Rows) -> str:
    cols = tuple(c.strip().lower() for c in rows.header)
    for layout, expected in _LAYOUTS.items():
        if cols == expected:
            return layout
        if layout == "generic" and len(cols) == 6 and cols[0] in _GENERIC_FIRST and cols[1:] == expected[1:]:
            return layout
    where = f"{rows.name}, line 1" if rows.unit == "line" else rows.name
    raise ReplayError(f"{where}: unrecognised columns {_show(','.join(rows.header))}; expected {_EXPECTED}")


def _number(rows: _Rows, n: int, column: str, value: object) -> float:
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


def _parse_date(rows: _Rows, n: int, column: str, value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise rows.error(n, f"{column} is not a date (YYYY-MM-DD): {_show(value)}") from None


def _parse_time(rows: _Rows, n: int, value: object) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        raise rows.error(n, f"Time is not a time (HH:MM:SS): {_show(value)}") from None


def _parse_stamp(rows: _Rows, n: int, value: object, tz: ZoneInfo) -> tuple[float, bool]:
    """Epoch seconds of a generic timestamp, and whether it was a bare date."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=tz)).timestamp(), False
    if isinstance(value, date):
        return datetime.combine(value, _SESSION_OPEN, tz).timestamp(), True
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
            return datetime.combine(date.fromisoformat(text), _SESSION_OPEN, tz).timestamp(), True
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise rows.error(n, f"timestamp is not a date, a date and time, or epoch seconds: {_show(text)}") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=tz)).timestamp(), False


def _when(t: float, daily: bool, tz: ZoneInfo) -> str:
    dt = datetime.fromtimestamp(t, tz)
    return dt.date().isoformat() if daily else dt.isoformat(sep=" ", timespec="seconds")


def _mode_gap(stamps: Sequence[float], default: float) -> float:
    gaps = Counter(round(b - a, 3) for a, b in pairwise(stamps) if b > a)
    return gaps.most_common(1)[0][0] if gaps else default


def _parse_bars(rows: _Rows, symbol: str, tz: ZoneInfo) -> list[Bar]:
    """Validate rows of any layout into bars (see the module docstring for the rules)."""
    layout = _layout(rows)
    width = len(_LAYOUTS[layout])
    first_price = 2 if layout == "intraday" else 1
    vol_col = 6 if layout in ("yahoo", "intraday") else 5
    names = [c.strip() for c in rows.header]
    stamps: list[float] = []
    lines: list[int] = []
    values: list[tuple[float, float, float, float, float]] = []
    all_dates = True
    for n, fields in rows.rows:
        if len(fields) != width:
            raise rows.error(n, f"expected {width} fields, got {len(fields)}")
        if layout == "intraday":
            d = _parse_date(rows, n, names[0], fields[0])
            stamp = datetime.combine(d, _parse_time(rows, n, fields[1]), tz).timestamp()
            all_dates = False
        elif layout == "yahoo":
            stamp = datetime.combine(_parse_date(rows, n, names[0], fields[0]), _SESSION_OPEN, tz).timestamp()
        else:
            stamp, bare = _parse_stamp(rows, n, fields[0], tz)
            all_dates = all_dates and bare
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
        daily = layout == "yahoo" or (layout == "generic" and all_dates)
        if stamps and stamp == stamps[-1]:
            raise rows.error(n, f"duplicate timestamp {_when(stamp, daily, tz)} (also on {rows.unit} {lines[-1]})")
        if stamps and stamp < stamps[-1]:
            earlier = f"{_when(stamps[-1], daily, tz)} on {rows.unit} {lines[-1]}"
            raise rows.error(n, f"timestamp {_when(stamp, daily, tz)} is before {earlier}: rows must be in time order")
        stamps.append(stamp)
        lines.append(n)
        values.append((o, h, lo, c, vol))
    if not values:
        raise ReplayError(f"{rows.name}: no bars after the header")
    daily = layout == "yahoo" or (layout == "generic" and all_dates)
    seconds = 86_400.0 if daily else _mode_gap(stamps, 60.0)
    shift = seconds if layout == "intraday" else 0.0
    return [
        Bar(symbol, ts - shift, o, h, lo, c, vol, int(seconds))
        for ts, (o, h, lo, c, vol) in zip(stamps, values, strict=True)
    ]


def symbol_from_path(path: Path) -> str:
    """``orcl-1995-2014.txt`` -> ``ORCL``: the file name up to the first ``-``, ``_`` or ``.``."""
    stem = path.name
    for sep in "-_.":
        stem = stem.split(sep)[0]
    return stem.upper()


def legacy_bars(path: str | Path, symbol: str | None = None, tz: str = "America/New_York") -> list[Bar]:
    """The bars ``ReplayFeed.from_file`` read before the columnar loader (or its ``ReplayError``)."""
    p = Path(path)
    name = str(path)
    rows = _read_parquet(p, name) if p.suffix.lower() in (".parquet", ".pq") else _read_csv(p, name)
    sym = symbol or symbol_from_path(p)
    try:
        canonical = parse_symbol(sym).symbol
    except ModelError as e:
        hint = "" if symbol else " (named from the file; pass a symbol)"
        raise ReplayError(f"{name}: {e}{hint}") from None
    return _parse_bars(rows, canonical, ZoneInfo(tz))
