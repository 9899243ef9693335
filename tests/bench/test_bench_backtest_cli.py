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
