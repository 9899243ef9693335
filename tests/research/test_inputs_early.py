"""``main.py backtest --data FILE`` starts reading its files before the command line is
parsed: the command takes those readers only for the same files and symbols, and reads
anything else itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from workstation.research import inputs

DATA = Path(__file__).parents[1] / "data"
ORCL = DATA / "orcl-1995-2014.txt"


@pytest.fixture(autouse=True)
def _clean():
    inputs._early.clear()
    yield
    inputs._early.clear()


def test_the_command_takes_the_early_reader_of_its_own_files() -> None:
    inputs.read_early(["backtest", "--strategy", "ma_crossover", "--data", str(ORCL), "--symbol=ORCL", "--json"])
    early = inputs._early[((str(ORCL),), ("ORCL",))]
    assert inputs.start_loading([ORCL], ["ORCL"]) is early  # taken, once
    assert not inputs._early
    series = early(0)
    assert series.symbol == "ORCL" and len(series) > 4000


def test_other_files_symbols_or_commands_are_read_by_the_command_itself() -> None:
    inputs.read_early(["backtest", "--data", str(ORCL)])
    loaded = inputs.start_loading([ORCL], ["ORCL"])  # a symbol the early reader was not given
    assert loaded is not None and loaded(0).symbol == "ORCL"
    assert len(inputs._early) == 1  # left unused
    inputs._early.clear()
    for argv in (["optimize", "--data", str(ORCL)], ["backtest", "-s", "AAPL"], ["backtest", "--data"], []):
        inputs.read_early(argv)
        assert not inputs._early


def test_an_unreadable_file_read_early_fails_as_the_command_says(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    inputs.read_early(["backtest", "--data", str(missing)])
    loaded = inputs.start_loading([missing], None)
    with pytest.raises(Exception, match="nope.csv"):
        loaded(0)


def test_a_file_too_big_to_hold_is_left_to_the_command(tmp_path: Path, monkeypatch) -> None:
    import workstation.research.series as series

    monkeypatch.setattr(series, "STREAM_ROWS", 100)  # the ORCL file (about 5,000 bars) would be streamed
    inputs.read_early(["backtest", "--data", str(ORCL)])
    assert not inputs._early
