"""The whole-process backtest benchmark reads fills right and says which differences are ties."""

from __future__ import annotations

import sys

import numpy as np

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import bench_backtest_cli as bench  # noqa: E402


def test_fills_are_read_and_differences_on_tied_averages_are_told_apart() -> None:
    # SMA 2 over SMA 4 on these closes: the two averages are exactly equal on bars 3 and 5
    closes = np.array([4, 4, 4, 4, 6, 2, 5, 5, 5])
    tied = bench.tied_bars(closes, fast=2, slow=4)
    assert tied.tolist() == [False, False, False, True, False, True, False, False, False]

    doc = {"fills": [
        {"ts": "2020-09-13T12:28:40.000Z", "side": "buy", "price": "4.00", "qty": "100"},  # bar 2 (60 s bars)
        {"ts": "2020-09-13T12:31:40Z", "side": "buy", "price": "2.05", "qty": "100"},  # bar 5
    ]}
    ours = bench.our_fills(doc)
    assert ours == [(2, "buy", 400), (5, "buy", 205)]
    theirs = bench.backtrader_fills([
        '{"bar": 2, "side": "buy", "cents": 400}',
        '{"bar": 4, "side": "buy", "cents": 600}',  # decided on bar 3, a tie
        '{"bar": 8, "side": "sell", "cents": 500}',  # decided on bar 7, no tie on 6 or 7
        '{"final_value": 1000000.0}',
    ])

    same = bench.compare(ours, list(ours), tied)
    assert same["identical"] and same["differences"] == 0

    diff = bench.compare(ours, theirs, tied)
    assert not diff["identical"]
    assert diff["fills"] == [2, 3]
    assert diff["differences"] == 3
    assert diff["differences_on_ties"] == 2  # bar 5 was decided on bar 4, measured from the tie on 3
    assert [(d["bar"], d["only_in"], d["on_tie"]) for d in diff["first_differences"]] == [
        (4, "second", True), (5, "first", True), (8, "second", False),
    ]


def test_on_whole_cents_backtrader_fills_exactly_as_we_do_and_the_reference(tmp_path) -> None:
    import json
    import os
    import subprocess

    from bench_backtest import reference

    data = tmp_path / "bars.csv"
    cents = bench.write_csv(3_000, data, in_cents=True)
    assert data.read_text().splitlines()[1] == "2020-09-13T12:26:40Z,10000,10007,9999,10005,1000"  # whole cents
    env = dict(os.environ, WORKSTATION_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    ours = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "backtest", "--data", str(data), "--strategy", "ma_crossover",
         "--param", "fast=10", "--param", "slow=30", "--qty", "100", "--cash", "100000000", "--commission", "0",
         "--json", "--data-dir", str(tmp_path / "d"), "--all-sessions"],  # as the bench runs it: every bar, as backtrader
        capture_output=True, text=True, env=env, cwd=str(ROOT), check=True,
    )
    theirs = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "_backtrader_sma.py"), str(data), "--cash", "100000000", "--cents"],
        capture_output=True, text=True, cwd=str(ROOT), check=True,
    )
    ours_fills = bench.our_fills(json.loads(ours.stdout), to_cents=1)
    ref = reference(cents["open"], cents["close"], 10, 30, 100)
    tied = bench.tied_bars(cents["close"])
    assert len(ours_fills) > 50 and tied.any()  # ties there are, and they make no difference
    assert bench.compare(ours_fills, ref, tied)["identical"]
    assert bench.compare(ours_fills, bench.backtrader_fills(theirs.stdout.splitlines()), tied)["identical"]
