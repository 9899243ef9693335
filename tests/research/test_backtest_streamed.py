"""A bar file too big to hold is streamed: the run must be the same as with the bars in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.ma_crossover import MaCrossover
from workstation.research import backtest as bt_module
from workstation.research import series as series_module
from workstation.research.backtest import (
    BacktestConfig,
    BacktestError,
    BarSeries,
    StrategySpec,
    StreamedSeries,
    load_series,
    metrics,
    run_backtest,
)
from workstation.research.inputs import parse_when

DATA = Path(__file__).parents[1] / "data"


def _run(series, tmp_path: Path, name: str, warmup=()):
    spec = StrategySpec(MaCrossover, {"fast": 5, "slow": 20, "qty": 100, "bar_seconds": series.seconds})
    return run_backtest([series], [spec], BacktestConfig(), journal_path=tmp_path / f"{name}.sqlite", warmup=warmup)


def test_a_streamed_file_runs_exactly_as_the_same_bars_in_memory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(series_module, "READ_ROWS", 997)  # file batches that do not line up with...
    monkeypatch.setattr(bt_module, "CHUNK", 331)  # ...the loop's chunks
    monkeypatch.setattr(bt_module, "KEEP_FILLS", 10)  # and fills read back from the journal
    path = DATA / "orcl-1995-2014.txt"
    held = load_series(path, stream=False)
    streamed = load_series(path, stream=True)
    assert isinstance(held, BarSeries) and isinstance(streamed, StreamedSeries)
    assert len(streamed) == len(held) and streamed.first_ts == held.first_ts and streamed.tick == held.tick

    ours, theirs = _run(streamed, tmp_path, "streamed"), _run(held, tmp_path, "held")
    assert ours.kept_fills is None and ours.fill_count == theirs.fill_count > 50
    assert ours.fills == theirs.fills
    assert [o.status for o in ours.orders] == [o.status for o in theirs.orders]
    assert ours.final_equity == theirs.final_equity
    assert metrics(ours) == {**metrics(theirs), "bars_per_second": metrics(ours)["bars_per_second"]}
    assert ours.series == [] and ours.prices["ORCL"].last_close == float(held.close[-1])


def test_a_streamed_period_and_its_warm_up_match_the_bars_in_memory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(series_module, "READ_ROWS", 500)
    path = DATA / "orcl-1995-2014.txt"
    start, end = parse_when("2005-01-01", "--from"), parse_when("2009-01-01", "--to")
    held = load_series(path, stream=False)
    streamed = load_series(path, stream=True)
    part_held, part_streamed = held.between(start, end), streamed.between(start, end)
    assert len(part_streamed) == len(part_held) and part_streamed.first_ts == part_held.first_ts
    warm = streamed.between(None, start)
    assert len(warm) == len(held.between(None, start))
    ours = _run(part_streamed, tmp_path, "s", warmup=[warm])
    theirs = _run(part_held, tmp_path, "h", warmup=[held.between(None, start)])
    assert ours.fills == theirs.fills and ours.final_equity == theirs.final_equity
    assert ours.bars == len(part_held)


def test_the_spike_filter_on_a_streamed_file_is_refused_in_one_line() -> None:
    streamed = load_series(DATA / "orcl-1995-2014.txt", stream=True)
    with pytest.raises(BacktestError, match="spike filter needs the bars in memory"):
        bt_module.Backtest([streamed], [StrategySpec(MaCrossover, {})], BacktestConfig(spike_filter=True))


def test_a_sweep_split_by_fraction_finds_the_same_bar_in_a_streamed_file(monkeypatch) -> None:
    from workstation.research.optimize import split_point

    monkeypatch.setattr(series_module, "READ_ROWS", 333)
    path = DATA / "orcl-1995-2014.txt"
    held, streamed = load_series(path, stream=False), load_series(path, stream=True)
    assert split_point([streamed], "0.7", parse_when) == split_point([held], "0.7", parse_when)
