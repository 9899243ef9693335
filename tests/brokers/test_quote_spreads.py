"""The spread model on quotes: a bar file's bid/ask columns and quote files, without look-ahead,
falling back to Corwin-Schultz where no quote is known (and counting each)."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from pathlib import Path

import numpy as np
import pytest

from brokers.paper.barfile import read_bars
from brokers.paper.barrows import ReplayError
from brokers.paper.fill_models import FillModel, corwin_schultz
from brokers.paper.quotefile import bar_file_quotes, read_quote_file
from workstation.core.model import Bar
from workstation.research.backtest import BacktestConfig, BarSeries, StrategySpec, run_backtest
from workstation.research.series import load_series
from workstation.strategies.api import Param, Strategy

OPEN_NY = 1_709_649_000.0  # 2024-03-05 09:30 New York: a regular session opens
CENT = Decimal("0.01")


def trade(size: int, buy_at: int, sell_at: int | None = None, seconds: int = 60) -> type[Strategy]:
    class Trade(Strategy):
        name = "trade"
        qty = Param(Decimal(size), min=Decimal(1), description="units")
        bar_seconds = Param(seconds, min=1, max=86_400, description="bar size")

        def on_start(self) -> None:
            self.n = 0
            self.ctx.subscribe(self.ctx.symbols, bars=self.bar_seconds, quotes=False)

        def on_bar(self, bar: Bar) -> None:
            if self.n == buy_at:
                self.ctx.buy(bar.symbol, self.qty, tif="gtc")
            if sell_at is not None and self.n == sell_at:
                self.ctx.sell(bar.symbol, self.qty, tif="gtc")
            self.n += 1

    return Trade


def run(series, strategy, **model):
    return run_backtest([series], [StrategySpec(strategy)], BacktestConfig(fill_model=FillModel(**model)))


def minute_series(rows, t0=OPEN_NY) -> BarSeries:
    ts = [t0 + 60 * i for i in range(len(rows))]
    o, h, lo, c = zip(*rows, strict=True)
    return BarSeries.from_arrays("AAA", ts, o, h, lo, c, [1000.0] * len(rows), seconds=60, tick=CENT)


FIVE_BARS = """Date,Open,High,Low,Close,Volume,Bid,Ask
2024-01-02,100,100.01,100,100,5000,99.98,100.02
2024-01-03,100,100.01,100,100,5000,99.50,100.50
2024-01-04,100,100.01,100,100,5000,99.97,100.03
2024-01-05,100,100.01,100,100,5000,,
2024-01-08,100,100.01,100,100,5000,99.00,101.00
"""


def test_a_bar_file_with_bid_and_ask_pays_half_the_quoted_spread_times_the_quantity(tmp_path: Path) -> None:
    path = tmp_path / "aaa.csv"
    path.write_text(FIVE_BARS)
    series = load_series(path)
    quotes = bar_file_quotes(path)
    assert quotes is not None
    # bought on bar 0, filled at bar 1's open on bar 0's close quote (0.04 wide, not bar 1's 1.00);
    # sold on bar 2, filled at bar 3's open on bar 2's close quote (0.06 wide)
    r = run(series, trade(70, buy_at=0, sell_at=2, seconds=86_400), spread="auto", quotes={"AAA": quotes})
    assert [(f.side.value, f.price) for f in r.fills] == [("buy", Decimal("100.02")), ("sell", Decimal("99.97"))]
    assert Decimal(r.model_costs["spread"]) == Decimal("0.02") * 70 + Decimal("0.03") * 70
    assert r.model_costs["quoted_spread_fills"] == 2 and r.model_costs["estimated_spread_fills"] == 0
    assert r.fill_model["spread_source"] == "quotes, else range"


def test_the_bar_readers_skip_the_quote_columns_and_empty_cells_are_no_quote(tmp_path: Path) -> None:
    quoted = tmp_path / "aaa.csv"
    quoted.write_text(FIVE_BARS)
    plain = tmp_path / "bbb.csv"
    plain.write_text("\n".join(",".join(line.split(",")[:6]) for line in FIVE_BARS.splitlines()) + "\n")
    (_, a), (_, b) = read_bars(quoted), read_bars(plain)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    q = bar_file_quotes(quoted)
    assert q is not None and np.isnan(q.bid[3]) and np.isnan(q.ask[3])
    assert list(q.ts) == list(a.ts + 86_400)  # each row: the quote at its bar's close
    assert bar_file_quotes(plain) is None


def test_a_bar_file_with_quotes_is_read_by_the_row_rules_too(tmp_path: Path) -> None:
    path = tmp_path / "aaa.csv"  # a timestamp Arrow does not parse sends the file to the row-by-row reader
    path.write_text(FIVE_BARS.replace("2024-01-08,", "2024-01-08T09:30:00.5-05:00,", 1))
    _, cols = read_bars(path)
    assert len(cols.ts) == 5
    bad = tmp_path / "ccc.csv"
    bad.write_text(FIVE_BARS.replace("2024-01-04,100,100.01", "2024-01-04,100,90", 1))
    with pytest.raises(ReplayError, match=r"ccc.csv, line 4: High 90 is below Low 100"):
        read_bars(bad)


def test_a_quote_after_the_fill_bars_open_is_not_used(tmp_path: Path) -> None:
    rows = [(100.0, 100.0, 100.0, 100.0)] * 4
    qf = tmp_path / "q.csv"
    # the order is sent on bar 0 and fills at bar 1's open (OPEN_NY + 60): the quote a second
    # later (1.00 wide) is not known then; the one before it (0.04 wide) is
    qf.write_text(f"timestamp,bid,ask\n{OPEN_NY + 61},99.50,100.50\n{OPEN_NY + 30},99.98,100.02\n")
    r = run(minute_series(rows), trade(10, buy_at=0), spread="quotes", quotes={"AAA": read_quote_file(qf)})
    assert [f.price for f in r.fills] == [Decimal("100.02")]
    assert Decimal(r.model_costs["spread"]) == Decimal("0.02") * 10
    qf.write_text(f"timestamp,bid,ask\n{OPEN_NY + 60},99.96,100.04\n{OPEN_NY + 30},99.98,100.02\n")
    r = run(minute_series(rows), trade(10, buy_at=0), spread="quotes", quotes={"AAA": read_quote_file(qf)})
    assert [f.price for f in r.fills] == [Decimal("100.04")]  # a quote at the open itself is known


def test_auto_falls_back_to_corwin_schultz_where_no_quote_is_known_and_counts_each(tmp_path: Path) -> None:
    rows = [(100.0, 101.0, 99.0, 100.0), (100.0, 100.5, 99.5, 100.0), (100.0, 100.2, 99.8, 100.0),
            (100.0, 100.0, 100.0, 100.0), (100.0, 100.0, 100.0, 100.0), (100.0, 100.0, 100.0, 100.0)]
    qf = tmp_path / "q.csv"
    qf.write_text(f"timestamp,bid,ask\n{OPEN_NY + 240},99.95,100.05\n")  # known from bar 4's open
    r = run(minute_series(rows), trade(20, buy_at=1, sell_at=3), spread="auto", quotes={"AAA": read_quote_file(qf)})
    buy, sell = r.fills
    cs = corwin_schultz(101.0, 99.0, 100.5, 99.5)  # the two bars before the buy's fill bar (bar 2)
    assert cs > 0
    half = Decimal(100) * Decimal(repr(cs)) / 2
    assert buy.price == (Decimal(100) + half).quantize(CENT, ROUND_CEILING)
    assert sell.price == Decimal("99.95")
    assert r.model_costs["estimated_spread_fills"] == 1 and r.model_costs["quoted_spread_fills"] == 1
    assert Decimal(r.model_costs["spread"]) == (buy.price - 100) * 20 + Decimal("0.05") * 20


def test_quotes_only_pays_no_spread_where_no_quote_is_known_and_counts_it(tmp_path: Path) -> None:
    qf = tmp_path / "q.csv"
    qf.write_text(f"timestamp,bid,ask\n{OPEN_NY + 3600},99.95,100.05\n")
    r = run(minute_series([(100.0, 101.0, 99.0, 100.0)] * 4), trade(5, buy_at=0), spread="quotes",
            quotes={"AAA": read_quote_file(qf)})
    assert [f.price for f in r.fills] == [Decimal(100)]
    assert r.model_costs["unquoted_fills"] == 1 and Decimal(r.model_costs["spread"]) == 0
    assert r.fill_model["spread_source"] == "quotes"


def test_the_result_names_the_spread_source() -> None:
    assert FillModel(spread="auto").describe()["spread_source"] == "range"
    assert FillModel(spread_bps=Decimal(5)).describe()["spread_source"] == "bps"


def test_quote_files_are_sorted_and_bad_ones_are_refused_with_one_line(tmp_path: Path) -> None:
    qf = tmp_path / "q.csv"
    qf.write_text("Timestamp,Bid,Ask\n2024-03-05 09:32:00,10,10.02\n2024-03-05 09:31:00,10,10.04\n")
    q = read_quote_file(qf)
    assert list(q.ask) == [10.04, 10.02] and q.ts[0] < q.ts[1]
    for body, problem in (
        ("timestamp,bid,ask\n2024-03-05 09:31:00,10.05,10\n", "line 2: bid 10.05 is above ask 10"),
        ("timestamp,bid,ask\n2024-03-05 09:31:00,0,10\n", "line 2: bid must be a positive price"),
        ("timestamp,bid,ask\n2024-03-05 09:31:00,10\n", "line 2: expected 3 fields, got 2"),
        ("timestamp,bid,ask\nsoon,10,10.1\n", "line 2: timestamp is not a date"),
        ("time,price\n", "line 1: unrecognised columns"),
        ("timestamp,bid,ask\n", "no quotes after the header"),
    ):
        qf.write_text(body)
        with pytest.raises(ReplayError, match=problem) as info:
            read_quote_file(qf)
        assert "\n" not in str(info.value)


def test_a_parquet_bar_file_carries_its_bid_and_ask_too(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "aaa.parquet"
    pq.write_table(pa.table({
        "timestamp": ["2024-01-02", "2024-01-03", "2024-01-04"], "open": [100.0] * 3, "high": [100.01] * 3,
        "low": [100.0] * 3, "close": [100.0] * 3, "volume": [5000.0] * 3,
        "BID": [99.98, None, 99.9], "ASK": [100.02, None, 100.1],
    }), path)
    _, cols = read_bars(path)
    q = bar_file_quotes(path)
    assert q is not None and len(cols.ts) == 3
    assert list(q.ask[[0, 2]]) == [100.02, 100.1] and np.isnan(q.bid[1])
    pq.write_table(pa.table({
        "timestamp": ["2024-01-02"], "open": [100.0], "high": [100.01], "low": [100.0], "close": [100.0],
        "volume": [5000.0], "bid": [100.5], "ask": [100.1],
    }), path)
    with pytest.raises(ReplayError, match="row 1: bid 100.5 is above ask 100.1"):
        bar_file_quotes(path)


@pytest.mark.parametrize("stamps", [
    ("1709649000", "1709649060"), ("1709649000000", "1709649060000"),
    ("2024-03-05 09:30:00", "2024-03-05T09:31:00"), ("2024-03-05T14:30:00Z", "2024-03-05T09:31:00-05:00"),
])
def test_quote_timestamps_are_read_as_bar_timestamps_are(tmp_path: Path, stamps: tuple[str, str]) -> None:
    qf = tmp_path / "q.csv"
    qf.write_text("timestamp,bid,ask\n" + "".join(f"{s},10,10.02\n" for s in reversed(stamps)))
    assert list(read_quote_file(qf).ts) == [OPEN_NY, OPEN_NY + 60]  # naive times are New York's
