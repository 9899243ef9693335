"""The bar cache: history fetched once from a broker, kept as Parquet, read without the network.

One file per symbol and bar size, ``<data>/bars/<SYMBOL>/<1m|5m|1h|1d>.parquet`` (a slash in
a symbol becomes ``-``: ``BTC-USD``), in the generic bar layout
``timestamp,open,high,low,close,volume`` with ``timestamp`` the epoch seconds of the bar's
open, so ``brokers.paper.replay`` (and ``main.py backtest --data``) read it as any bar file.
The schema metadata (key ``workstation.bars``) holds the symbol, the bar size and where the
bars came from (profile and broker, one entry per source that contributed).

A fetch is merged with what the file already holds (one bar per timestamp, the newer fetch
winning, sorted) and written to a temporary file that is renamed over the old one: a crash
leaves the old file whole. Every problem is a ``CacheError`` with one line naming the file.

``main.py data fetch`` and ``data list`` (``workstation.cli.data``) and the backtest inputs
(``workstation.research.inputs``) use it; pyarrow and numpy are imported on first use.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workstation.core.clock import LiveClock
from workstation.core.model import Bar, ModelError

BAR_SIZES: dict[str, int] = {"1m": 60, "5m": 300, "1h": 3600, "1d": 86_400}
"""The bar sizes the cache keeps, by the name a person types."""

PIECE_BARS = 10_000
"""Bars asked of a broker in one request (Alpaca's page; IB and exchanges take far fewer)."""

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
META_KEY = b"workstation.bars"


class CacheError(ModelError):
    """A cache file or a fetch request that cannot be used; the message is one line."""


@dataclass(frozen=True, slots=True)
class CachedFile:
    """What ``data list`` shows of one cache file."""

    path: Path
    symbol: str
    bar: str
    first: float
    last: float
    count: int
    source: str
    size: int


def bar_seconds(bar: str) -> int:
    """``1m`` -> 60; an unknown size is a CacheError naming the known ones."""
    try:
        return BAR_SIZES[bar.strip().lower()]
    except KeyError:
        raise CacheError(f"unknown bar size {bar!r} (one of: {', '.join(BAR_SIZES)})") from None


def bars_root(data: Path) -> Path:
    return data / "bars"


def cache_path(data: Path, symbol: str, bar: str) -> Path:
    """Where the bars of ``symbol`` (canonical) at ``bar`` size live under the data directory."""
    return bars_root(data) / symbol.replace("/", "-") / f"{bar}.parquet"


def removal_hint(path: Path) -> str:
    return f"remove it (rm {path}) and fetch again with main.py data fetch"


# --------------------------------------------------------------------------- reading


def _read_table(path: Path, columns: list[str] | None = None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError, ValueError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        first = re.sub(r"^Could not open Parquet input source '[^']*': ", "", first).split(". ")[0].rstrip(".")
        raise CacheError(f"{path}: not a readable cache file ({first}): {removal_hint(path)}") from None
    missing = [c for c in (columns or COLUMNS) if c not in table.column_names]
    if missing:
        raise CacheError(f"{path}: not a cache file (no {', '.join(missing)} column): {removal_hint(path)}")
    return table


def _meta(table: Any) -> dict[str, Any]:
    raw = (table.schema.metadata or {}).get(META_KEY)
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _columns(table: Any) -> dict[str, Any]:
    import numpy as np

    out = {"timestamp": table.column("timestamp").to_numpy().astype(np.int64)}
    for name in COLUMNS[1:]:
        out[name] = table.column(name).to_numpy().astype(np.float64)
    return out


def describe(path: Path) -> CachedFile:
    """One cache file's summary (reads only its timestamps and metadata)."""
    table = _read_table(path, ["timestamp"])
    meta = _meta(table)
    ts = table.column("timestamp")
    count = table.num_rows
    first = float(ts[0].as_py()) if count else 0.0
    last = float(ts[count - 1].as_py()) if count else 0.0
    sources = ", ".join(f"{s.get('profile')} ({s.get('broker')})" for s in meta.get("sources", []) if isinstance(s, dict))
    return CachedFile(
        path=path, symbol=str(meta.get("symbol") or path.parent.name), bar=str(meta.get("bar") or path.stem),
        first=first, last=last, count=count, source=sources or "unknown", size=path.stat().st_size,
    )


def listing(data: Path) -> tuple[list[CachedFile], list[str]]:
    """Every cache file under the data directory (by symbol, then bar size), and a one-line
    problem for each file that cannot be read."""
    root = bars_root(data)
    found: list[CachedFile] = []
    problems: list[str] = []
    if not root.is_dir():
        return found, problems
    order = list(BAR_SIZES)
    paths = sorted(root.glob("*/*.parquet"), key=lambda p: (p.parent.name, order.index(p.stem) if p.stem in order else 99))
    for path in paths:
        try:
            found.append(describe(path))
        except CacheError as exc:
            problems.append(str(exc))
    return found, problems


def cached_file(data: Path, symbol: str, bar: str = "1m") -> Path | None:
    """The cache file of ``symbol`` at ``bar`` size, if there is one."""
    path = cache_path(data, symbol, bar)
    return path if path.is_file() else None


# --------------------------------------------------------------------------- writing


def merge(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Old and new columns as one: one bar per timestamp (the new one where both have it), sorted."""
    import numpy as np

    if old is None or not len(old["timestamp"]):
        both = new
    else:
        both = {c: np.concatenate([new[c], old[c]]) for c in COLUMNS}
    _, first = np.unique(both["timestamp"], return_index=True)  # sorted timestamps; first sighting = newest fetch
    return {c: both[c][first] for c in COLUMNS}


def columns_of(bars: list[Bar]) -> dict[str, Any]:
    import numpy as np

    return {
        "timestamp": np.fromiter((round(b.ts) for b in bars), dtype=np.int64, count=len(bars)),
        "open": np.fromiter((b.open for b in bars), dtype=np.float64, count=len(bars)),
        "high": np.fromiter((b.high for b in bars), dtype=np.float64, count=len(bars)),
        "low": np.fromiter((b.low for b in bars), dtype=np.float64, count=len(bars)),
        "close": np.fromiter((b.close for b in bars), dtype=np.float64, count=len(bars)),
        "volume": np.fromiter((b.volume for b in bars), dtype=np.float64, count=len(bars)),
    }


def write_atomic(path: Path, cols: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write the columns to ``path`` through a temporary file in the same folder, renamed over
    it once complete and on disk: a crash leaves the old file (or none), never half a file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({c: cols[c] for c in COLUMNS}).replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # the rename itself survives a power cut once the folder is on disk too
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def check_existing(data: Path, symbol: str, bar: str) -> None:
    """Refuse (before anything is fetched) to merge into a cache file that cannot be read."""
    path = cached_file(data, symbol, bar)
    if path is not None:
        _read_table(path)


def store(data: Path, symbol: str, bar: str, bars: list[Bar] | dict[str, Any], source: dict[str, str]) -> tuple[Path, int, int]:
    """Merge ``bars`` (Bars, or columns as ``fetch`` returns them) into the cache file of
    ``symbol``; returns (file, bars new to it, bars in it)."""
    path = cache_path(data, symbol, bar)
    old = None
    meta: dict[str, Any] = {}
    if path.is_file():
        table = _read_table(path)
        old, meta = _columns(table), _meta(table)
    merged = merge(old, bars if isinstance(bars, dict) else columns_of(bars))
    before = len(old["timestamp"]) if old is not None else 0
    sources = [s for s in meta.get("sources", []) if isinstance(s, dict) and s != source] + [source]
    doc = {
        "symbol": symbol, "bar": bar, "seconds": BAR_SIZES[bar], "sources": sources,
        "fetched": LiveClock().now().isoformat(timespec="seconds"),
    }
    write_atomic(path, merged, doc)
    return path, len(merged["timestamp"]) - before, len(merged["timestamp"])


# --------------------------------------------------------------------------- fetching


History = Callable[[str, int, float, float], Awaitable[list[Bar]]]


def pieces(start: float, end: float, seconds: int, per_piece: int = PIECE_BARS) -> list[tuple[float, float]]:
    """``[start, end)`` cut into spans of at most ``per_piece`` bars."""
    span = float(seconds * per_piece)
    out = []
    t = start
    while t < end:
        out.append((t, min(t + span, end)))
        t += span
    return out


async def fetch(
    history: History, symbol: str, seconds: int, start: float, end: float,
    progress: Callable[[float, int], None] | None = None, per_piece: int = PIECE_BARS,
) -> dict[str, Any]:
    """The bars of ``symbol`` whose open lies in ``[start, end)`` as columns, asked for in
    pieces of at most ``per_piece`` bars (each piece becomes columns at once: no Python object
    per bar outlives its piece); ``progress(time reached, bars so far)`` after each piece."""
    import numpy as np

    parts: list[dict[str, Any]] = []
    count = 0
    for lo, hi in pieces(start, end, seconds, per_piece):
        got = await history(symbol, seconds, lo, hi)
        part = columns_of([b for b in got if lo <= b.ts < hi])  # a broker's end may be inclusive
        parts.append(part)
        count += len(part["timestamp"])
        if progress is not None:
            progress(hi, count)
    if not parts:
        return columns_of([])
    return {c: np.concatenate([p[c] for p in parts]) for c in COLUMNS}
