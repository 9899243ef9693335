"""Quotes for a backtest's spread model: a quote file, or the bid and ask columns of a bar file.

``QuoteTable`` holds one symbol's quotes as float64 columns: ``ts`` (epoch seconds, in time
order), ``bid`` and ``ask`` (NaN where a bar file's cell is empty: no quote known then).

* ``read_quote_file(path)``: a CSV whose header is ``timestamp,bid,ask`` (any case; the first
  column may be named as a bar file's is: timestamp, datetime, date or time). Timestamps are
  read by the bar files' own rules (``brokers.paper.barrows``: ISO date-times, naive ones in
  New York time, bare dates at 09:30, epoch seconds or milliseconds); rows may come in any
  order (sorted here; of two quotes with one timestamp the later row wins). A row that is not
  ``timestamp,bid,ask`` with positive prices and ``bid <= ask`` refuses the whole file with
  one line naming the file and the line. Arrow reads the file (a million quotes in about a
  second); what it refuses, or a row that breaks a rule, sends the file to the row-by-row
  reader, which names the row.
* ``bar_file_quotes(path)``: a bar file whose header ends with ``bid`` and ``ask`` (the bar
  readers skip those columns): each row's quote is the quote at that bar's *close*, so its
  timestamp is the bar's open plus the bar length. Empty cells are no quote (NaN); the other
  rules are the quote file's. ``None`` when the file has no such columns.

The fill model looks a bar's quote up as the last one at or before the bar's open
(``brokers.paper.fill_models.ModelInputs``): for a bar file's own columns that is the
previous bar's close quote.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from brokers.paper.barrows import (
    ReplayError,
    _parse_stamp,
    arrow_reader,
    check_readable,
    csv_header,
    kind_of,
    open_text,
    Rows,
    quote_columns,
)

_FIRST = frozenset({"timestamp", "datetime", "date", "time"})


@dataclass(frozen=True, slots=True)
class QuoteTable:
    """One symbol's quotes in time order (float64 columns; NaN: no quote then)."""

    ts: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    source: str  # the file they came from

    def __len__(self) -> int:
        return len(self.ts)


def read_quote_file(path: str | Path, tz: str = "America/New_York") -> QuoteTable:
    """A ``timestamp,bid,ask`` CSV as a ``QuoteTable`` (see the module docstring)."""
    p, name = Path(path), str(path)
    if kind_of(p) != "csv":
        raise ReplayError(f"{name}: a quote file is a CSV of timestamp,bid,ask")
    header = csv_header(p, name)
    cols = [c.lower() for c in header]
    if len(cols) != 3 or cols[0] not in _FIRST or cols[1:] != ["bid", "ask"]:
        check_readable(p, name)
        raise ReplayError(f"{name}, line 1: unrecognised columns {','.join(header)!r}; expected timestamp,bid,ask")
    zone = ZoneInfo(tz)
    fast = _columns(p, zone, tz)
    if fast is not None:
        t, bid, ask = fast
        order = np.argsort(t, kind="stable")
        return QuoteTable(t[order], bid[order], ask[order], name)
    check_readable(p, name)
    rows = Rows(name, header, iter(()), "line")
    ts: list[float] = []
    bids: list[float] = []
    asks: list[float] = []
    with open_text(p, name) as handle:
        for n, record in enumerate(csv.reader(handle), start=1):
            if n == 1 or not any(f.strip() for f in record):
                continue
            if len(record) != 3:
                raise rows.error(n, f"expected 3 fields, got {len(record)}")
            stamp, _ = _parse_stamp(rows, n, record[0], zone)
            bid, ask = _quote(rows, n, header[1], record[1], header[2], record[2], empty_ok=False)
            ts.append(stamp)
            bids.append(bid)
            asks.append(ask)
    if not ts:
        raise ReplayError(f"{name}: no quotes after the header")
    t = np.array(ts, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    return QuoteTable(t[order], np.array(bids)[order], np.array(asks)[order], name)


def _columns(p: Path, zone: ZoneInfo, tz: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The file's columns read by Arrow (a million quotes in well under a second), or ``None``
    when Arrow refuses it or a row breaks a rule: the row-by-row reader then names the row."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from brokers.paper.barcolumns import Refused, floats, generic_stamps, pool, release

    names = ["t", "b", "a"]
    try:
        table = pcsv.read_csv(
            pa.OSFile(str(p)),
            read_options=pcsv.ReadOptions(column_names=names, skip_rows=1),
            convert_options=pcsv.ConvertOptions(
                column_types={"t": pa.string(), "b": pa.float64(), "a": pa.float64()}, null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
            memory_pool=pool(),
        )
        if not table.num_rows:
            return None
        ts = np.concatenate([generic_stamps(c, zone, tz)[0] for c in table.column("t").chunks])
        bid = np.concatenate([floats(c) for c in table.column("b").chunks])
        ask = np.concatenate([floats(c) for c in table.column("a").chunks])
    except (pa.ArrowException, Refused):
        return None
    finally:
        release()
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(ts) & np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (bid <= ask)
    return (ts, bid.copy(), ask.copy()) if bool(ok.all()) else None


def bar_file_quotes(path: str | Path, symbol: str | None = None, tz: str = "America/New_York") -> QuoteTable | None:
    """The bid and ask columns of a bar file, each row the quote at its bar's close; ``None``
    when the file has none. The bars themselves are read (and checked) by ``read_bars``."""
    from brokers.paper.barfile import read_bars

    p, name = Path(path), str(path)
    kind = kind_of(p)
    if kind == "csv":
        try:
            header = csv_header(p, name)
        except ReplayError:
            return None  # (the bar reader says what is wrong with the file)
    else:
        header, _ = arrow_reader(p, name, kind)
    extra = quote_columns(header)
    if not extra:
        return None
    info, cols = read_bars(p, symbol, tz)
    names = [str(h).strip() for h in header]
    lower = [h.lower() for h in names]
    bi, ai = lower.index("bid", len(names) - extra), lower.index("ask", len(names) - extra)
    rows = Rows(name, names, iter(()), "line" if kind == "csv" else "row")
    bids: list[float] = []
    asks: list[float] = []
    if kind == "csv":
        with open_text(p, name) as handle:
            for n, record in enumerate(csv.reader(handle), start=1):
                if n == 1 or not any(f.strip() for f in record):
                    continue
                bid, ask = _quote(rows, n, names[bi], record[bi], names[ai], record[ai], empty_ok=True)
                bids.append(bid)
                asks.append(ask)
    else:
        _, batches = arrow_reader(p, name, kind, columns=[names[bi], names[ai]])
        n = 0
        for batch in batches:
            for b, a in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
                n += 1
                bid, ask = _quote(rows, n, names[bi], "" if b is None else b, names[ai], "" if a is None else a,
                                  empty_ok=True)
                bids.append(bid)
                asks.append(ask)
    if len(bids) != len(cols.ts):
        raise ReplayError(f"{name}: {len(bids)} bid/ask rows for {len(cols.ts)} bars")
    return QuoteTable(cols.ts + float(info.seconds), np.array(bids, dtype=np.float64),
                      np.array(asks, dtype=np.float64), name)


def _quote(rows: Rows, n: int, bid_name: str, bid: object, ask_name: str, ask: object,
           *, empty_ok: bool) -> tuple[float, float]:
    """A row's ``(bid, ask)``: positive, ``bid <= ask``; ``(nan, nan)`` for empty cells when allowed."""
    values: list[float] = []
    for column, cell in ((bid_name, bid), (ask_name, ask)):
        text = str(cell).strip()
        if not text and empty_ok:
            return math.nan, math.nan
        try:
            x = float(text)
        except ValueError:
            raise rows.error(n, f"{column} is not a number: {text[:40]!r}") from None
        if not math.isfinite(x) or x <= 0:
            raise rows.error(n, f"{column} must be a positive price, got {text[:40]!r}")
        values.append(x)
    if values[0] > values[1]:
        raise rows.error(n, f"{bid_name} {values[0]:g} is above {ask_name} {values[1]:g}")
    return values[0], values[1]


__all__ = ["QuoteTable", "bar_file_quotes", "read_quote_file"]
