"""Replay feeds: parsing the three real files and other layouts, every validation error, playback,
and the paper broker trading against a replayed file."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from brokers.base import BrokerAccepted, BrokerFill, BrokerReport
from brokers.paper.replay import ReplayError, ReplayFeed, symbol_from_path
from brokers.paper.broker import SimBroker, SimConfig
from workstation.core.clock import SimClock
from workstation.core.model import (
    Bar,
    Order,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    TimeInForce,
)

DATA = Path(__file__).parents[1] / "data"
NY = ZoneInfo("America/New_York")
YAHOO = "Date,Open,High,Low,Close,Adj Close,Volume\n"
LAYOUTS = (
    "Date,Open,High,Low,Close,Adj Close,Volume; timestamp,open,high,low,close,volume; "
    "Date,Time,Open,High,Low,Close,Volume,OpenInterest"
)


def ny(y: int, m: int, d: int, hh: int = 9, mm: int = 30) -> float:
    return datetime(y, m, d, hh, mm, tzinfo=NY).timestamp()


def write(tmp_path: Path, text: str, name: str = "test.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- the real files


def test_oracle_daily_yahoo_file() -> None:
    feed = ReplayFeed.from_file(DATA / "orcl-1995-2014.txt")
    assert feed.symbol == "ORCL" and len(feed.bars) == 5036
    first, last = feed.bars[0], feed.bars[-1]
    assert first == Bar("ORCL", ny(1995, 1, 3), 2.179012, 2.191358, 2.117284, 2.117284, 36301200.0, 86400)
    assert last.ts == ny(2014, 12, 31) and last.close == 44.970001 and last.volume == 13269200.0


def test_nvidia_daily_yahoo_file() -> None:
    feed = ReplayFeed.from_file(str(DATA / "nvda-1999-2014.txt"), speed=10)
    assert feed.symbol == "NVDA" and len(feed.bars) == 4012 and feed.speed == 10.0
    assert feed.bars[0].ts == ny(1999, 1, 22) and feed.bars[0].high == 1.953125
    assert all(b.seconds == 86_400 for b in feed.bars)


def test_intraday_five_minute_file_labels_bars_by_their_end() -> None:
    feed = ReplayFeed.from_file(DATA / "2006-min-005.txt", symbol="ES-2006-03")
    assert feed.symbol == "ES-2006-03" and len(feed.bars) == 2142
    first = feed.bars[0]
    assert first.seconds == 300 and first.ts == ny(2006, 1, 2, 9, 0)  # stamped 09:05, the bar's end
    assert (first.open, first.high, first.low, first.close, first.volume) == (3578.73, 3587.88, 3578.73, 3582.99, 0.0)
    assert feed.bars[-1].ts == ny(2006, 1, 30, 17, 25)


def test_symbol_from_the_file_name() -> None:
    assert symbol_from_path(Path("orcl-1995-2014.txt")) == "ORCL"
    assert symbol_from_path(Path("/x/spy_daily.csv")) == "SPY"
    assert symbol_from_path(Path("msft.parquet")) == "MSFT"


def test_a_file_name_that_is_no_symbol_asks_for_one() -> None:
    with pytest.raises(ReplayError, match=r"2006-min-005\.txt: malformed symbol '2006'.*pass a symbol"):
        ReplayFeed.from_file(DATA / "2006-min-005.txt")


# ----------------------------------------------------------------------------- other layouts


def test_generic_layout_with_epoch_and_iso_timestamps(tmp_path: Path) -> None:
    text = "timestamp,open,high,low,close,volume\n1700000000,10,11,9,10.5,100\n1700000060,10.5,10.6,10.4,10.5,50\n"
    epoch = write(tmp_path, text, "btc.csv")
    feed = ReplayFeed.from_file(epoch, symbol="BTC/USD")
    assert [b.ts for b in feed.bars] == [1_700_000_000.0, 1_700_000_060.0] and feed.bars[0].seconds == 60
    text = "datetime,open,high,low,close,volume\n2024-03-01T14:30:00Z,1,1,1,1,0\n2024-03-01 09:35,1,1,1,1,0\n"
    iso = write(tmp_path, text, "x.csv")
    bars = ReplayFeed.from_file(iso).bars
    assert bars[0].ts == datetime(2024, 3, 1, 14, 30, tzinfo=UTC).timestamp()
    assert bars[1].ts == ny(2024, 3, 1, 9, 35) and bars[0].seconds == 300
    text = "Date,Open,High,Low,Close,Volume\n2024-03-01,1,2,1,2,10\n2024-03-04,2,2,1,1,10\n"
    dates = write(tmp_path, text, "spy.csv")
    daily = ReplayFeed.from_file(dates).bars
    assert daily[0].ts == ny(2024, 3, 1) and daily[0].seconds == 86_400


def test_parquet_in_the_generic_and_yahoo_layouts(tmp_path: Path) -> None:
    stamps = [datetime(2024, 3, 1, 14, 30, tzinfo=UTC), datetime(2024, 3, 1, 14, 31, tzinfo=UTC)]
    table = pa.table({
        "timestamp": pa.array(stamps, pa.timestamp("s", tz="UTC")),
        "open": [1.0, 2.0], "high": [2.0, 2.0], "low": [1.0, 1.5], "close": [2.0, 1.5], "volume": [10, 20],
    })
    pq.write_table(table, tmp_path / "eth.parquet")
    feed = ReplayFeed.from_file(tmp_path / "eth.parquet", symbol="ETH/USD")
    assert [b.ts for b in feed.bars] == [s.timestamp() for s in stamps] and feed.bars[1].volume == 20.0
    yahoo = pa.table({
        "Date": [date(2024, 3, 1), date(2024, 3, 4)], "Open": [1.0, 2.0], "High": [2.0, 2.0], "Low": [1.0, 1.0],
        "Close": [2.0, 1.0], "Adj Close": [2.0, 1.0], "Volume": [100, 200],
    })
    pq.write_table(yahoo, tmp_path / "ibm.parquet")
    feed = ReplayFeed.from_file(tmp_path / "ibm.parquet")
    assert feed.symbol == "IBM" and feed.bars[0].ts == ny(2024, 3, 1)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file, expected a header line"),
        ("a,b,c\n1,2,3\n", f"line 1: unrecognised columns 'a,b,c'; expected {LAYOUTS}"),
        (YAHOO, "no bars after the header"),
        (YAHOO + "2020-01-02,1,2,0.5,1.5,1.5\n", "line 2: expected 7 fields, got 6"),
        (YAHOO + "2020-01-02,1,2,abc,1.5,1.5,100\n", "line 2: Low is not a number: 'abc'"),
        (YAHOO + "2020-01-02,1,2,nan,1.5,1.5,100\n", "line 2: Low is not a finite number: 'nan'"),
        (YAHOO + "2020-13-02,1,2,0.5,1.5,1.5,100\n", "line 2: Date is not a date (YYYY-MM-DD): '2020-13-02'"),
        (YAHOO + "2020-01-02,1,0.5,2,1,1,100\n", "line 2: High 0.5 is below Low 2"),
        (YAHOO + "2020-01-02,3,2,0.5,1.5,1.5,100\n", "line 2: Open 3 is outside the bar's range 0.5..2"),
        (YAHOO + "2020-01-02,1,2,0.5,2.5,2,100\n", "line 2: Close 2.5 is outside the bar's range 0.5..2"),
        (YAHOO + "2020-01-02,0,2,0,1,1,100\n", "line 2: Open must be positive, got 0"),
        (YAHOO + "2020-01-02,1,2,0.5,1.5,1.5,-5\n", "line 2: Volume must not be negative, got -5"),
        (YAHOO + "2020-01-03,1,2,0.5,1.5,1.5,100\n2020-01-02,1,2,0.5,1.5,1.5,100\n",
         "line 3: timestamp 2020-01-02 is before 2020-01-03 on line 2: rows must be in time order"),
        (YAHOO + "2020-01-02,1,2,0.5,1.5,1.5,100\n\n2020-01-02,1,2,0.5,1.5,1.5,100\n",
         "line 4: duplicate timestamp 2020-01-02 (also on line 2)"),
        ("Date,Time,Open,High,Low,Close,Volume,OpenInterest\n2006-01-02,25:00:00,1,1,1,1,0,0\n",
         "line 2: Time is not a time (HH:MM:SS): '25:00:00'"),
        ("Date,Time,Open,High,Low,Close,Volume,OpenInterest\n2006-01-02,09:05:00,1,1,1,1,0,x\n",
         "line 2: OpenInterest is not a number: 'x'"),
        ("timestamp,open,high,low,close,volume\nyesterday,1,1,1,1,0\n",
         "line 2: timestamp is not a date, a date and time, or epoch seconds: 'yesterday'"),
    ],
)
def test_malformed_files_name_the_file_line_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text, "abc.csv")
    with pytest.raises(ReplayError) as caught:
        ReplayFeed.from_file(path)
    text_of = str(caught.value)
    assert text_of in (f"{path}: {message}", f"{path}, {message}")
    assert "\n" not in text_of and isinstance(caught.value, ValueError)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match=r"nope\.csv: no such file$"):
        ReplayFeed.from_file(tmp_path / "nope.csv")
    with pytest.raises(ReplayError, match=r"nope\.parquet: no such file$"):
        ReplayFeed.from_file(tmp_path / "nope.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(ReplayError, match=r"junk\.parquet: not a readable Parquet file"):
        ReplayFeed.from_file(tmp_path / "junk.parquet")
    pq.write_table(pa.table({"when": [1], "price": [2.0]}), tmp_path / "odd.parquet")
    with pytest.raises(ReplayError, match=r"odd\.parquet: unrecognised columns 'when,price'"):
        ReplayFeed.from_file(tmp_path / "odd.parquet")
    with pytest.raises(ReplayError, match="speed must be a positive number of bars per second"):
        ReplayFeed.from_file(DATA / "orcl-1995-2014.txt", speed=0)


def test_parquet_errors_name_the_row(tmp_path: Path) -> None:
    table = pa.table({"timestamp": [1_700_000_000, 1_700_000_000], "open": [1.0, 1.0], "high": [1.0, 1.0],
                      "low": [1.0, 1.0], "close": [1.0, 1.0], "volume": [0, 0]})
    pq.write_table(table, tmp_path / "dup.parquet")
    with pytest.raises(ReplayError, match=r"dup\.parquet, row 2: duplicate timestamp"):
        ReplayFeed.from_file(tmp_path / "dup.parquet", symbol="X")


# ----------------------------------------------------------------------------- playback


def two_bars(tmp_path: Path, speed: float = 1.0) -> ReplayFeed:
    text = YAHOO + "2020-01-02,10.00,10.50,9.80,10.40,1000000,2000000\n"
    text += "2020-01-03,10.40,10.45,9.90,10.00,2000000,3000000\n"
    return ReplayFeed.from_file(write(tmp_path, text, "abc.csv"), speed=speed)


def test_each_bar_plays_as_open_extremes_and_close(tmp_path: Path) -> None:
    feed = two_bars(tmp_path)
    played: list[Quote] = []
    for i in range(8):
        played += feed.advance(100.0 + i * 0.25)
    # the first bar closed up: open, low, high, close; the second closed down: open, high, low, close
    assert [q.last for q in played] == [10.0, 9.8, 10.5, 10.4, 10.4, 10.45, 9.9, 10.0]
    assert [q.ts for q in played[:2]] == [100.0, 100.25]
    for q in played:
        assert q.bid < q.ask and q.bid <= q.last <= q.ask and q.symbol == "ABC"
        assert D(repr(q.bid)) % D("0.01") == 0 and D(repr(q.ask)) % D("0.01") == 0
    assert [q.prev_close for q in played] == [10.0] * 4 + [10.4] * 4
    assert [q.volume for q in played[:4]] == [500000.0, 1000000.0, 1500000.0, 2000000.0]
    assert played[0].ask_size == 2000.0
    assert feed.done and feed.advance(200.0) == []
    assert feed.current(300.0).last == 10.0 and feed.current(300.0).ts == 300.0


def test_speed_is_bars_per_second_and_late_calls_catch_up(tmp_path: Path) -> None:
    feed = two_bars(tmp_path, speed=2.0)
    assert len(feed.advance(50.0)) == 1
    assert feed.current(50.0).last == 10.0 and feed.bar.ts == ny(2020, 1, 2)
    assert len(feed.advance(50.5)) == 4  # one bar per half second: the rest of bar 1 and bar 2's open
    assert feed.bar.ts == ny(2020, 1, 3)
    assert len(feed.advance(60.0)) == 3 and feed.done


def test_history_returns_the_file_bars_and_merges_longer_buckets() -> None:
    feed = ReplayFeed.from_file(DATA / "orcl-1995-2014.txt")
    january = feed.history(86_400, ny(2014, 1, 1), ny(2014, 2, 1))
    assert len(january) == 21 and january[0].ts == ny(2014, 1, 2)
    weeks = feed.history(7 * 86_400, ny(2014, 1, 1), ny(2014, 2, 1))
    assert 4 <= len(weeks) <= 6 and sum(w.volume for w in weeks) == sum(b.volume for b in january)
    assert max(w.high for w in weeks) == max(b.high for b in january)


# ----------------------------------------------------------------------------- the broker on a replay


async def test_the_paper_broker_trades_against_a_replayed_file(tmp_path: Path) -> None:
    clock = SimClock(1_000.0)
    feed = two_bars(tmp_path)
    broker = SimBroker(clock, SimConfig(), feed=feed)
    reports: list[BrokerReport] = []
    quotes: list[Quote] = []
    broker.attach(reports.append, quotes.append, lambda s: None)
    await broker.subscribe(["MSFT"])
    assert broker.snapshot("ABC") is not None and broker.snapshot("ABC").last == 10.0  # type: ignore[union-attr]
    order = Order(id="o1", client_id="r1", symbol="ABC", side=Side.BUY, qty=D(100), type=OrderType.LIMIT,
                  limit_price=D("9.90"), tif=TimeInForce.GTC, status=OrderStatus.SUBMITTED)
    await broker.submit(order)
    assert [type(r) for r in reports] == [BrokerAccepted]
    stepped = broker.step()
    assert [q.symbol for q in stepped] == ["ABC", "MSFT"] and quotes == stepped
    clock.advance(0.25)
    broker.step()  # the bar's low, 9.80: the resting buy limit fills at its limit
    fills = [r for r in reports if isinstance(r, BrokerFill)]
    assert [(f.qty, f.price) for f in fills] == [(D(100), D("9.90"))]
    history = await broker.history("ABC", 86_400, 0, 2e9)
    assert len(history) == 2


async def test_a_replayed_symbol_trades_even_when_the_calendar_is_closed(tmp_path: Path) -> None:
    clock = SimClock(ny(2025, 6, 14, 12))  # a Saturday
    broker = SimBroker(clock, SimConfig(calendar="nyse"), feed=two_bars(tmp_path))
    reports: list[BrokerReport] = []
    broker.attach(reports.append, lambda q: None, lambda s: None)
    order = Order(id="o1", client_id="r2", symbol="ABC", side=Side.SELL, qty=D(10), type=OrderType.MARKET,
                  tif=TimeInForce.DAY, status=OrderStatus.SUBMITTED)
    await broker.submit(order)
    fills = [r for r in reports if isinstance(r, BrokerFill)]
    assert [(f.qty, f.price) for f in fills] == [(D(10), D(10))]  # the bid at the first open
    assert "E" not in str(fills[0].price)  # never an exponent
