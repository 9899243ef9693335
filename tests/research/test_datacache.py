"""The bar cache in-process: a write cut short leaves the old file whole, merges keep one bar
per timestamp (the newer fetch's), and a fetch asks the broker in bounded pieces."""

from __future__ import annotations

import asyncio

import pytest

from workstation.core.model import Bar
from workstation.research import datacache as dc

SOURCE = {"profile": "paper", "broker": "sim"}


def _bars(start: int, n: int, price: float = 100.0, seconds: int = 60) -> list[Bar]:
    return [Bar("AAPL", float(start + seconds * i), price, price + 1, price - 1, price, 10.0, seconds) for i in range(n)]


def test_an_interrupted_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path, _, total = dc.store(tmp_path, "AAPL", "1m", _bars(1_767_600_000, 100), SOURCE)
    before = path.read_bytes()
    import pyarrow.parquet as pq

    real = pq.write_table

    def crash_halfway(table, where, **kw):  # the process dies with half a file written
        real(table, where, **kw)
        with open(where, "r+b") as fh:
            fh.truncate(100)
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", crash_halfway)
    with pytest.raises(KeyboardInterrupt):
        dc.store(tmp_path, "AAPL", "1m", _bars(1_767_606_000, 100, price=120.0), SOURCE)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["1m.parquet"]  # no temporary file left behind
    assert dc.describe(path).count == total == 100


def test_a_merge_keeps_one_bar_per_timestamp_the_newer_one_sorted(tmp_path):
    dc.store(tmp_path, "AAPL", "1m", _bars(1_767_600_000 + 3000, 100, price=100.0), SOURCE)
    path, added, total = dc.store(tmp_path, "AAPL", "1m", _bars(1_767_600_000, 80, price=150.0), {"profile": "alpaca-paper", "broker": "alpaca"})
    assert (added, total) == (50, 150)
    from brokers.paper.replay import ReplayFeed

    bars = ReplayFeed.from_file(path, "AAPL").bars
    assert [b.ts for b in bars] == sorted({b.ts for b in bars}) and len(bars) == 150
    assert [b.close for b in bars[:80]] == [150.0] * 80 and bars[80].close == 100.0
    assert dc.describe(path).source == "paper (sim), alpaca-paper (alpaca)"


def test_a_fetch_asks_in_bounded_pieces_and_keeps_bars_inside_its_span():
    asked: list[tuple[float, float]] = []

    async def history(symbol: str, seconds: int, start: float, end: float) -> list[Bar]:
        asked.append((start, end))
        first = int(start // seconds * seconds)
        return _bars(first, int((end - first) // seconds) + 1, seconds=seconds)  # one bar too many: end inclusive

    cols = asyncio.run(dc.fetch(history, "AAPL", 60, 0.0, 60.0 * 2_500, per_piece=1_000))
    assert [round((hi - lo) / 60) for lo, hi in asked] == [1_000, 1_000, 500]
    assert cols["timestamp"].tolist() == [60 * i for i in range(2_500)]


def test_unknown_bar_size_names_the_known_ones():
    with pytest.raises(dc.CacheError, match="unknown bar size '2h' \\(one of: 1m, 5m, 1h, 1d\\)"):
        dc.bar_seconds("2h")
