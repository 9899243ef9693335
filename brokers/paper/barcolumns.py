"""Arrow columns of a bar file as numpy arrays: numbers, dates, clock times, timestamps.

Each function takes one Arrow column of a batch and gives float64 (or int64 microsecond)
numpy values, or raises ``Refused`` when Arrow would read the column differently from the
row-by-row rules (``brokers.paper.barrows``), which then read the file instead. Arrow's
parsers accept a subset of what Python's ``float``, ``date.fromisoformat`` and
``datetime.fromisoformat`` accept, and give the same values for it (the loader's tests
compare the two on every form); naive wall-clock times are localised with
``assume_timezone`` as ``datetime.replace(tzinfo=tz)`` does (fold=0), the skipped hour in
Python. Values are taken from Arrow's buffers directly (``to_numpy`` would import pandas)
and every Arrow allocation uses the C library's allocator, which gives memory back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import numpy as np

CLOCK_PATTERN = r"([01]\d|2[0-3]):[0-5]\d"
TIME_PATTERN = rf"^{CLOCK_PATTERN}(:[0-5]\d)?$"
SESSION_OPEN_US = (9 * 3600 + 30 * 60) * 1_000_000


class Refused(Exception):
    """Arrow cannot read this column the way the row rules would: read the file row by row."""


def pool():
    """The allocator for everything Arrow makes here: the C library's, which hands memory
    back to the OS (the default pool keeps tens of megabytes for itself)."""
    import pyarrow as pa

    return pa.system_memory_pool()


def release() -> None:
    """Hand freed memory back to the OS (``malloc_trim``: a batch's buffers, once freed,
    would otherwise stay in the process as holes in the heap)."""
    import pyarrow as pa

    pa.system_memory_pool().release_unused()


def as_numpy(col, dtype) -> np.ndarray:
    """A fixed-width Arrow array's values as a numpy view (by its buffers: ``to_numpy``
    would import pandas, a second of start-up)."""
    import numpy as np

    return np.frombuffer(col.buffers()[1], dtype=dtype, count=len(col), offset=col.offset * np.dtype(dtype).itemsize)


def as_arrow(values: np.ndarray, type_):
    import pyarrow as pa

    return pa.Array.from_buffers(type_, len(values), [None, pa.py_buffer(values)])


def valid(col) -> np.ndarray:
    import numpy as np

    bits = np.unpackbits(np.frombuffer(col.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[col.offset : col.offset + len(col)].astype(bool)


def floats(col) -> np.ndarray:
    """A numeric Arrow column as float64 (nulls as NaN, refused as bad rows later)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    if pa.types.is_float64(t) and col.null_count == 0:
        return as_numpy(col, np.float64)
    if pa.types.is_integer(t):
        values = as_numpy(col.cast(pa.int64(), memory_pool=pool()), np.int64).astype(np.float64)
    elif pa.types.is_floating(t):
        values = as_numpy(pc.cast(col, pa.float64(), memory_pool=pool()), np.float64).copy()
    else:
        raise Refused
    if col.null_count:
        values[~valid(col)] = np.nan
    return values


def strings(col):
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)) or col.null_count:
        raise Refused
    return pc.utf8_trim_whitespace(col, memory_pool=pool())


def all_true(mask) -> bool:
    import pyarrow.compute as pc

    return bool(pc.all(mask).as_py())


def days_us(col) -> np.ndarray:
    """A date column as naive microseconds since the epoch (midnight)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_date(col.type) and not col.null_count:
        days = pc.cast(col, pa.date32(), memory_pool=pool())
    else:
        days = pc.cast(strings(col), pa.date32(), memory_pool=pool())  # YYYY-MM-DD only (Python's other forms: row by row)
    return as_numpy(days.cast(pa.int32(), memory_pool=pool()), np.int32).astype(np.int64) * 86_400_000_000


def clock_us(col) -> np.ndarray:
    """An ``HH:MM[:SS]`` column as microseconds since midnight."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    mp = pool()
    text = strings(col)
    if not all_true(pc.match_substring_regex(text, TIME_PATTERN, memory_pool=mp)):
        raise Refused
    h, m, s = (
        as_numpy(pc.cast(pc.utf8_slice_codeunits(text, a, a + 2, memory_pool=mp), pa.int64(), memory_pool=mp), np.int64)
        for a in (0, 3, 6)
    )
    s = np.where(as_numpy(pc.utf8_length(text, memory_pool=mp), np.int32) > 5, s, 0)  # HH:MM: no seconds
    return ((h * 60 + m) * 60 + s) * 1_000_000


def generic_stamps(col, tz: ZoneInfo, tz_name: str) -> tuple[np.ndarray, bool]:
    """Epoch seconds of a generic first column, and whether every stamp was a bare date."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    if pa.types.is_timestamp(t) and t.unit in ("s", "ms", "us") and not col.null_count:
        us = as_numpy(col.cast(pa.int64(), memory_pool=pool()), np.int64) * {"s": 1_000_000, "ms": 1_000, "us": 1}[t.unit]
        if t.tz is None:
            return localise(us, tz, tz_name), False
        return us / 1e6, False
    if pa.types.is_date(t) and not col.null_count:
        return localise(days_us(col) + SESSION_OPEN_US, tz, tz_name), True
    if (pa.types.is_integer(t) or pa.types.is_floating(t)) and not col.null_count:
        return epoch(floats(col)), False
    text = strings(col)
    if not len(text):
        return np.empty(0), True
    first = text[0].as_py()
    if is_number(first):
        numbers = pc.cast(text, pa.float64(), memory_pool=pool())  # all numbers, or row by row
        return epoch(as_numpy(numbers, np.float64)), False
    dates = as_numpy(pc.utf8_length(text, memory_pool=pool()), np.int32) == 10  # a bare date (Arrow parses a subset of Python's forms)
    if dates.all():
        return localise(days_us(text) + SESSION_OPEN_US, tz, tz_name), True
    if dates.any():
        raise Refused  # dates and times mixed: row by row
    if first.endswith("Z") or "+" in first[10:] or "-" in first[10:]:
        stamps = pc.cast(text, pa.timestamp("us", "UTC"), memory_pool=pool())  # every stamp with an offset, else row by row
        return as_numpy(stamps.cast(pa.int64(), memory_pool=pool()), np.int64) / 1e6, False
    naive = pc.cast(text, pa.timestamp("us"), memory_pool=pool())
    return localise(as_numpy(naive.cast(pa.int64(), memory_pool=pool()), np.int64), tz, tz_name), False


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def epoch(x: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.where(np.abs(x) > 1e11, x / 1000.0, x)


def localise(naive_us: np.ndarray, tz: ZoneInfo, tz_name: str) -> np.ndarray:
    """Epoch seconds of wall-clock times in ``tz`` as ``datetime.replace(tzinfo=tz)`` gives
    them (fold=0: a repeated hour is its first pass, a skipped hour uses the offset before
    the change)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    naive_us = np.ascontiguousarray(naive_us, dtype=np.int64)
    naive = as_arrow(naive_us, pa.timestamp("us"))
    try:
        try:
            aware = pc.assume_timezone(naive, tz_name, ambiguous="earliest", nonexistent="raise", memory_pool=pool())
            skipped = None
        except pa.ArrowInvalid:
            aware = pc.assume_timezone(naive, tz_name, ambiguous="earliest", nonexistent="earliest", memory_pool=pool())
            back = as_numpy(pc.local_timestamp(aware, memory_pool=pool()).cast(pa.int64(), memory_pool=pool()), np.int64)
            skipped = np.flatnonzero(back != naive_us)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise Refused from None  # a zone Arrow does not know
    out = as_numpy(aware.cast(pa.int64(), memory_pool=pool()), np.int64) / 1e6
    if skipped is not None and len(skipped):
        from datetime import datetime, timedelta

        epoch = datetime(1970, 1, 1)
        for i in skipped:
            wall = epoch + timedelta(microseconds=int(naive_us[i]))
            out[i] = wall.replace(tzinfo=tz).timestamp()
    return out
