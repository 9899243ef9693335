"""The columnar bar-file loader gives the bars and the errors the row-by-row parser gave:
on the real files, on generated edge cases (DST, gaps, dates, epochs, offsets, CRLF, BOM,
blank lines, Parquet, Feather), streamed in chunks, and in bounded memory."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from brokers.paper.bars import tick_from_prices
from brokers.paper.barchecks import Batch, Stats
from brokers.paper.barfile import BarColumns, iter_bars, read_bars, scan_bars
from brokers.paper.replay import ReplayError, ReplayFeed
from tests.brokers.legacy_bar_parser import ReplayError as LegacyError
from tests.brokers.legacy_bar_parser import legacy_bars

DATA = Path(__file__).parents[1] / "data"
ROOT = Path(__file__).parents[2]
NY = "America/New_York"
YAHOO = "Date,Open,High,Low,Close,Adj Close,Volume\n"
GENERIC = "timestamp,open,high,low,close,volume\n"
INTRADAY = "Date,Time,Open,High,Low,Close,Volume,OpenInterest\n"


def write(tmp_path: Path, text: str, name: str = "abc.csv", raw: bytes | None = None) -> Path:
    path = tmp_path / name
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_bytes(text.encode())
    return path


def assert_same_bars(path: Path, symbol: str | None = None, tz: str = NY, reference: Path | None = None) -> None:
    """read_bars == the legacy parser (on ``reference`` when the legacy parser cannot read ``path``)."""
    bars = legacy_bars(reference or path, symbol, tz)
    info, cols = read_bars(path, symbol, tz)
    want = BarColumns(*(np.array(c, dtype=np.float64) for c in zip(*((b.ts, b.open, b.high, b.low, b.close, b.volume) for b in bars), strict=True)))
    for got, expected, name in zip(cols, want, BarColumns._fields, strict=True):
        assert got.dtype == np.float64 and got.flags.c_contiguous, name
        assert np.array_equal(got, expected), f"{name} differs at {np.flatnonzero(got != expected)[:5]}"
    assert info.seconds == bars[0].seconds and info.rows == len(bars)
    assert (info.first_ts, info.last_ts) == (bars[0].ts, bars[-1].ts)
    assert info.tick == tick_from_prices(want.open, want.high, want.low, want.close)
    assert info.daily == (info.seconds == 86_400 and info.layout != "intraday")


def legacy_error(path: Path, symbol: str | None = None) -> str:
    with pytest.raises(LegacyError) as caught:
        legacy_bars(path, symbol)
    return str(caught.value)


def assert_same_error(path: Path, symbol: str | None = None) -> str:
    """read_bars and scan_bars refuse the file with the legacy message."""
    expected = legacy_error(path, symbol)
    with pytest.raises(ReplayError) as read:
        read_bars(path, symbol)
    with pytest.raises(ReplayError) as scanned:
        scan_bars(path, symbol)
    assert str(read.value) == str(scanned.value) == expected
    return expected


# ----------------------------------------------------------------------------- the same bars


@pytest.mark.parametrize(("name", "symbol"), [("orcl-1995-2014.txt", None), ("nvda-1999-2014.txt", None),
                                              ("2006-min-005.txt", "ES-2006-03")])
def test_every_real_file_gives_the_legacy_bars(name: str, symbol: str | None) -> None:
    assert_same_bars(DATA / name, symbol)


def _walk(n: int, start: float = 100.0) -> list[tuple[float, float, float, float, float]]:
    rng = np.random.default_rng(7)
    rows, price = [], start
    for _ in range(n):
        o = price
        c = round(max(o + rng.normal(0, 0.3), 1.0), 2)
        h, lo = round(max(o, c) + abs(rng.normal(0, 0.1)), 2), round(min(o, c) - abs(rng.normal(0, 0.1)), 2)
        rows.append((o, h, lo, c, float(rng.integers(0, 5000))))
        price = c
    return rows


def _csv(stamps: list[str], header: str = GENERIC, newline: str = "\n") -> str:
    body = "".join(f"{s},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{v:.0f}{newline}"
                   for s, (o, h, lo, c, v) in zip(stamps, _walk(len(stamps)), strict=True))
    return header.replace("\n", newline) + body


def _naive_minutes(start: datetime, n: int, step: int = 30) -> list[str]:
    return [(start + timedelta(minutes=step * i)).isoformat(sep=" ") for i in range(n)]


EDGE_CASES = {
    # naive local times across both DST changes (the skipped 02:xx and the repeated 01:xx)
    "dst_spring": _csv([s for s in _naive_minutes(datetime(2024, 3, 9, 22, 0), 20) if s[11:16] not in ("03:00", "03:30")]),
    "dst_autumn": _csv([s for s in _naive_minutes(datetime(2024, 11, 2, 22, 0), 20)]),
    "gaps": _csv(["2024-03-01 09:30", "2024-03-01 09:31", "2024-03-01 09:35", "2024-03-01 09:36",
                  "2024-03-01 10:00", "2024-03-01 10:05", "2024-03-01 10:10"]),
    "bare_dates": _csv(["2024-03-01", "2024-03-04", "2024-03-05", "2024-03-07"], "Date,Open,High,Low,Close,Volume\n"),
    "epoch_s": _csv([str(1_700_000_000 + 60 * i) for i in range(5)]),
    "epoch_ms": _csv([str(1_700_000_000_000 + 60_000 * i) for i in range(5)]),
    "epoch_float": _csv([f"{1_700_000_000.25 + 0.5 * i}" for i in range(5)]),
    "offsets": _csv(["2024-03-01T14:30:00+02:00", "2024-03-01T13:31:00Z", "2024-03-01T14:32:00.500+01:00",
                     "2024-03-01T13:33:00.123456Z"]),
    "utc_z": _csv([f"2024-03-01T14:{m:02d}:00Z" for m in range(10)]),
    "crlf": _csv(_naive_minutes(datetime(2024, 3, 1, 9, 30), 6, 1), newline="\r\n"),
    "quoted": GENERIC + '"2024-03-01 09:30","1.5","2","1","1.75","10"\n"2024-03-01 09:31",1.5,2,1,1.75,10\n',
    "padded": GENERIC + " 2024-03-01 09:30 , 1.5 ,2,1,1.75,10\n2024-03-01 09:31,1.5,2,1,1.75, 10\n",
    "mixed_forms": GENERIC + "2024-03-01,1,1,1,1,0\n2024-03-01 10:00,1,1,1,1,0\n1709310000,1,1,1,1,0\n",
    "mixed_offsets": GENERIC + "2024-03-01 09:30,1,1,1,1,0\n2024-03-01T14:31:00Z,1,1,1,1,0\n",
    "underscore": GENERIC + "2024-03-01 09:30,1,1,1,1,1_000\n",
    "basic_iso": GENERIC + "20240301T0930,1,1,1,1,0\n20240301T0931,1,1,1,1,0\n",
    "one_row": GENERIC + "2024-03-01 09:30,1,1,1,1,0\n",
    "intraday_dst": INTRADAY + "".join(f"2024-03-10,{h:02d}:{m:02d}:00,5,6,4,5,0,0\n"
                                        for h in (0, 1, 2, 4) for m in (0, 30)),
    "intraday_short_time": INTRADAY + "2024-03-01,09:05,5,6,4,5,0,0\n2024-03-01,09:10,5,6,4,5,0,0\n",
    "yahoo": YAHOO + "2024-03-08,1,2,0.5,1.5,1.4,100\n2024-03-11,1,2,0.5,1.5,1.4,100\n2024-11-04,1,2,0.5,1.5,1.4,0\n",
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_generated_edge_cases_give_the_legacy_bars(tmp_path: Path, case: str) -> None:
    path = write(tmp_path, EDGE_CASES[case])
    assert_same_bars(path)


def test_a_bom_and_blank_lines_change_nothing(tmp_path: Path) -> None:
    text = _csv(_naive_minutes(datetime(2024, 3, 1, 9, 30), 8, 1), newline="\r\n")
    lines = text.split("\r\n")
    lines[3:3] = ["", ""]
    path = write(tmp_path, "", raw=b"\xef\xbb\xbf" + "\r\n".join(lines).encode())
    assert_same_bars(path)


def test_the_skipped_and_repeated_hours_land_where_python_puts_them(tmp_path: Path) -> None:
    path = write(tmp_path, GENERIC + "2024-03-10 01:30,1,1,1,1,0\n2024-03-10 02:30,1,1,1,1,0\n"
                 "2024-11-03 01:30,1,1,1,1,0\n")
    _, cols = read_bars(path)
    tz = ZoneInfo(NY)
    assert cols.ts.tolist() == [datetime(2024, 3, 10, 1, 30, tzinfo=tz).timestamp(),
                                datetime(2024, 3, 10, 2, 30, tzinfo=tz).timestamp(),  # 07:30 UTC, as fold=0 says
                                datetime(2024, 11, 3, 1, 30, tzinfo=tz).timestamp()]  # the first 01:30 (EDT)
    assert cols.ts[1] == datetime(2024, 3, 10, 7, 30, tzinfo=UTC).timestamp()


def _table(n: int = 50) -> pa.Table:
    rows = _walk(n)
    start = datetime(2024, 3, 8, 14, 30, tzinfo=UTC)
    return pa.table({
        "timestamp": pa.array([start + timedelta(days=i // 3, minutes=i) for i in range(n)], pa.timestamp("ms", tz="UTC")),
        "open": [r[0] for r in rows], "high": [r[1] for r in rows], "low": [r[2] for r in rows],
        "close": [r[3] for r in rows], "volume": pa.array([int(r[4]) for r in rows], pa.int64()),
    })


def test_parquet_and_feather_read_as_columns(tmp_path: Path) -> None:
    table = _table()
    pq.write_table(table, tmp_path / "spy.parquet", row_group_size=7)
    assert_same_bars(tmp_path / "spy.parquet")
    feather.write_feather(table, tmp_path / "spy.feather", chunksize=9)
    assert_same_bars(tmp_path / "spy.feather", reference=tmp_path / "spy.parquet")
    naive = table.set_column(0, "timestamp", table.column(0).cast(pa.timestamp("us")))
    pq.write_table(naive, tmp_path / "naive.parquet")
    assert_same_bars(tmp_path / "naive.parquet", symbol="QQQ")
    dates = pa.table({"Date": pa.array([datetime(2024, 3, 1 + i).date() for i in range(5)], pa.date32()),
                      "Open": [1.0] * 5, "High": [2.0] * 5, "Low": [0.5] * 5, "Close": [1.5] * 5,
                      "Adj Close": [1.4] * 5, "Volume": [100] * 5})
    pq.write_table(dates, tmp_path / "ibm.parquet")
    assert_same_bars(tmp_path / "ibm.parquet")
    strings = pa.table({"timestamp": ["2024-03-01 09:30", "2024-03-01 09:31"], "open": ["1.5", "1.5"],
                        "high": ["2", "2"], "low": ["1", "1"], "close": ["1.5", "1.5"], "volume": [1, None]})
    pq.write_table(strings, tmp_path / "str.parquet")
    assert_same_error(tmp_path / "str.parquet")  # strings read row by row; the missing volume as before


# ----------------------------------------------------------------------------- the same errors


BAD = [
    "",
    "\n" + GENERIC + "2024-03-01 09:30,1,1,1,1,0\n",
    "a,b,c\n1,2,3\n",
    YAHOO,
    YAHOO + "\n\n",
    YAHOO + "2020-01-02,1,2,0.5,1.5,1.5\n",
    YAHOO + "2020-01-02,1,2,0.5,1.5,1.5,100,7\n",
    YAHOO + "2020-01-02,1,2,abc,1.5,1.5,100\n",
    YAHOO + "2020-01-02,1,2,nan,1.5,1.5,100\n",
    YAHOO + "2020-01-02,1,2,inf,1.5,1.5,100\n",
    YAHOO + "2020-01-02,1,2,,1.5,1.5,100\n",
    YAHOO + "2020-13-02,1,2,0.5,1.5,1.5,100\n",
    YAHOO + "2020-01-02,1,0.5,2,1,1,100\n",
    YAHOO + "2020-01-02,3,2,0.5,1.5,1.5,100\n",
    YAHOO + "2020-01-02,1,2,0.5,2.5,2,100\n",
    YAHOO + "2020-01-02,0,2,0,1,1,100\n",
    YAHOO + "2020-01-02,1,2,0.5,1.5,0,100\n",
    YAHOO + "2020-01-02,1,2,0.5,1.5,1.5,-5\n",
    YAHOO + "2020-01-03,1,2,0.5,1.5,1.5,100\n2020-01-02,1,2,0.5,1.5,1.5,100\n",
    YAHOO + "2020-01-02,1,2,0.5,1.5,1.5,100\n\n2020-01-02,1,2,0.5,1.5,1.5,100\n",
    INTRADAY + "2006-01-02,25:00:00,1,1,1,1,0,0\n",
    INTRADAY + "2006-01-02,09:05:00,1,1,1,1,0,x\n",
    INTRADAY + "2006-01-02,09:05:00,1,1,1,1,0,nan\n",
    INTRADAY + "2006-01-02,09:05:00,1,1,1,1,0,0\n2006-01-02,09:05:00,1,1,1,1,0,0\n",
    GENERIC + "yesterday,1,1,1,1,0\n",
    GENERIC + "nan,1,1,1,1,0\n",
    GENERIC + "2024-03-01 09:31,1,1,1,1,0\r\n\r\n2024-03-01 09:30,1,1,1,1,0\r\n",
    GENERIC + "2024-03-01,1,1,1,1,0\n2024-03-01,1,1,1,1,0\n",
    GENERIC + "2024-11-03 01:30,1,1,1,1,0\n2024-11-03 01:30,1,1,1,1,0\n",
    GENERIC + "2024-03-01T14:30:00Z,1,1,1,1,0\n2024-03-01T09:30:00-05:00,1,1,1,1,0\n",
    GENERIC + "1709303400,1,1,1,1,0\n1709303400000,1,1,1,1,0\n",
    GENERIC + "2024-03-01 09:30,1,1,1,1,0\n   \n,,,,,\n2024-03-01 09:30,2,2,2,2,0\n",
    _csv(_naive_minutes(datetime(2024, 3, 9, 22, 0), 20)),  # 02:30 is 03:30 EDT (fold=0): 03:00 goes back
]


@pytest.mark.parametrize("text", BAD, ids=range(len(BAD)))
def test_every_error_is_todays_message(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    message = assert_same_error(path)
    assert "\n" not in message and message.startswith(str(path))
    with pytest.raises(ReplayError, match="^" + re.escape(message) + "$"):
        ReplayFeed.from_file(path)


def test_errors_of_unreadable_and_missing_files(tmp_path: Path) -> None:
    assert_same_error(tmp_path / "nope.csv")
    assert_same_error(write(tmp_path, "", "abc.csv", raw=GENERIC.encode() + b"2024-03-01 09:30,1,1,1,\xff,0\n"))
    assert_same_error(write(tmp_path, "", "1999.csv", raw=GENERIC.encode() + b"2024-03-01 09:30,1,1,1,1,0\n"))
    pq.write_table(pa.table({"when": [1], "price": [2.0]}), tmp_path / "odd.parquet")
    assert_same_error(tmp_path / "odd.parquet")


def _long_file(n: int, newline: str = "\n") -> list[str]:
    start = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    return [f"{(start + timedelta(minutes=i)).strftime('%Y-%m-%dT%H:%M:%SZ')},10.00,10.50,9.50,10.25,{i % 900}"
            for i in range(n)]


@pytest.mark.parametrize(("row", "bad", "problem"), [
    (25_000, "{same}", "duplicate timestamp"),
    (25_000, "{earlier}", "is before"),
    (25_000, "{stamp},10.00,9.00,9.50,9.60,5", "is below"),
    (25_000, "{stamp},10.00,10.50,9.50,10.25", "expected 6 fields, got 5"),
    (25_000, "{stamp},10.00,10.50,9.50,10.25,many", "is not a number"),
])
def test_a_bad_row_deep_in_a_large_file_names_its_line(tmp_path: Path, row: int, bad: str, problem: str) -> None:
    lines = _long_file(30_000)  # Arrow reads it in two batches
    stamp = lines[row].split(",")[0]
    lines[row] = bad.format(same=lines[row - 1], earlier=lines[row - 2], stamp=stamp)
    lines[100:100] = ["", ""]  # blank lines before it: line numbers count them
    raw = b"\xef\xbb\xbf" + (GENERIC.replace("\n", "\r\n") + "\r\n".join(lines) + "\r\n").encode()
    path = write(tmp_path, "", raw=raw)
    message = assert_same_error(path, "X")
    assert f", line {row + 4}: " in message and problem in message  # header, two blank lines, 1-based


def test_a_bad_row_at_a_batch_boundary_is_compared_with_the_row_before_it(tmp_path: Path, monkeypatch) -> None:
    import brokers.paper.barfile as barfile

    monkeypatch.setattr(barfile, "_BLOCK", 4096)  # about 75 rows a batch
    for row in range(60, 90):
        lines = _long_file(200)
        lines[row] = lines[row - 1] if row % 2 else lines[row - 2]
        path = write(tmp_path, "\n".join([GENERIC.strip(), *lines]) + "\n", f"x{row}.csv")
        assert f"line {row + 2}: " in assert_same_error(path, "X")


def test_parquet_and_feather_errors_name_the_row(tmp_path: Path) -> None:
    table = _table(40)
    high = table.column("high").to_pylist()
    high[33] = 0.5
    bad = table.set_column(2, "high", pa.array(high))
    pq.write_table(bad, tmp_path / "bad.parquet", row_group_size=10)
    assert "bad.parquet, row 34: high 0.5 is below low" in assert_same_error(tmp_path / "bad.parquet", "X")
    feather.write_feather(bad, tmp_path / "bad.feather", chunksize=10)
    with pytest.raises(ReplayError, match=r"bad\.feather, row 34: high 0\.5 is below low"):
        read_bars(tmp_path / "bad.feather", "X")
    stamps = table.column("timestamp").to_pylist()
    stamps[21] = stamps[20]
    dup = table.set_column(0, "timestamp", pa.array(stamps, table.column(0).type))
    pq.write_table(dup, tmp_path / "dup.parquet", row_group_size=10)
    assert "row 22: duplicate timestamp" in assert_same_error(tmp_path / "dup.parquet", "X")
    volume = table.column("volume").to_pylist()
    volume[5] = None
    pq.write_table(table.set_column(5, "volume", pa.array(volume, pa.int64())), tmp_path / "null.parquet")
    assert "row 6: volume is not a number: 'None'" in assert_same_error(tmp_path / "null.parquet", "X")


# ----------------------------------------------------------------------------- streaming


def _concat(chunks: list[BarColumns]) -> BarColumns:
    return BarColumns(*(np.concatenate(parts) for parts in zip(*chunks, strict=True)))


@pytest.mark.parametrize("chunk_rows", [1, 7, 65_536])
def test_scan_then_iterate_gives_what_read_bars_gives(tmp_path: Path, chunk_rows: int) -> None:
    files = [(DATA / "2006-min-005.txt", "ES-2006-03"), (write(tmp_path, "\n".join([GENERIC.strip(), *_long_file(30_000)])), "X")]
    if chunk_rows != 1:
        files.append((DATA / "orcl-1995-2014.txt", None))
    for path, symbol in files:
        info, whole = read_bars(path, symbol)
        assert scan_bars(path, symbol) == info
        chunks = list(iter_bars(path, info, chunk_rows=chunk_rows))
        assert all(len(c.ts) == chunk_rows for c in chunks[:-1]) and 0 < len(chunks[-1].ts) <= chunk_rows
        joined = _concat(chunks)
        for got, expected in zip(joined, whole, strict=True):
            assert np.array_equal(got, expected)
        assert all(c.ts.flags.c_contiguous and c.ts.dtype == np.float64 for c in chunks)


def test_the_tick_of_batches_combined_is_the_whole_files_tick() -> None:
    rng = np.random.default_rng(3)
    cases = [
        [np.round(rng.uniform(1, 500, 300), 2), np.round(rng.uniform(1, 500, 300), 4)],
        [np.round(rng.uniform(1, 500, 300), 6), np.round(rng.uniform(1, 5, 300), 1), np.array([3578.75])],
        [np.array([1.0000005]), np.array([1.5])],  # on 1 by the rule's tolerance, then 0.1: the file is on 1e-7
        [np.array([2.179012, 44.970001]), np.array([100.0])],
        [np.array([np.pi]), np.array([1.0])],  # on no tick: the finest
    ]
    for batches in cases:
        stats = Stats()
        for values in batches:
            stats.add(Batch(np.arange(len(values), dtype=float) + stats.rows, values, values, values, values,
                             values, None, False))
        whole = np.concatenate(batches)
        assert stats.tick() == tick_from_prices(whole, whole, whole, whole), batches
    assert Stats().tick() == Decimal("1")  # (no prices: the first level holds)


# ----------------------------------------------------------------------------- cost


def test_importing_the_loader_does_not_load_pyarrow() -> None:
    code = "import sys, brokers.paper.replay; print('pyarrow' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


_MEMORY = """
import sys
sys.path.insert(0, {root!r})
import numpy, pyarrow, pyarrow.csv, pyarrow.compute, brokers.paper.bars
from brokers.paper.barfile import read_bars
read_bars({warm!r}, "X")  # the libraries' own first-use cost, outside the measure

def kib(field):
    return int(open("/proc/self/status").read().split(field + ":")[1].split()[0])

open("/proc/self/clear_refs", "w").write("5")  # the peak starts again from here
before = kib("VmRSS")
if sys.argv[1] == "columns":
    info, cols = read_bars({path!r}, "X")
    assert info.rows == {rows}
else:  # one Python object per row (a tuple of its numbers), as a row-by-row reader keeps
    per_row = [(i * 60.0, i + 0.5, i + 1.5, i + 0.25, i + 1.0, i * 2.0) for i in range({rows})]
print(kib("VmHWM") - before)
"""


def test_reading_200k_bars_grows_memory_by_the_columns_not_by_objects_per_row(tmp_path: Path) -> None:
    rows = 200_000
    path = tmp_path / "big.csv"
    path.write_text("\n".join([GENERIC.strip(), *_long_file(rows)]) + "\n")
    warm = write(tmp_path, "\n".join([GENERIC.strip(), *_long_file(100)]) + "\n", "warm.csv")
    script = _MEMORY.format(root=str(ROOT), path=str(path), warm=str(warm), rows=rows)

    def grown(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", script, mode], cwd=ROOT, capture_output=True, text=True, check=True)
        return int(out.stdout.split()[-1])  # KiB

    columns, objects = grown("columns"), grown("objects")
    # six float64 columns are 9.4 MiB (measured growth about 25 MiB with Arrow's batches);
    # a tuple per row takes about 57 MiB, the row-by-row parser several times that
    bound = 40 * 1024
    assert columns < bound < objects, (columns, objects)
