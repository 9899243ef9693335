"""Gaps in the live bars filled from the broker's history: asked once, inserted in order,
marked backfilled, the gap badge cleared (or saying what the history lacks)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import msgspec
import pytest

from brokers.paper.broker import SimBroker
from tests.fakes.binance_session import fake, keys, profile_options  # noqa: F401
from tests.fakes.scripted import ScriptedBroker
from tests.risk_helpers import settings
from workstation.core.bus import Bus
from workstation.core.clock import SimClock
from workstation.core.model import AlertRaised, Bar, Quote
from workstation.risk.dataquality import DataQualityMonitor, QualityChanged
from workstation.trading.backfill import Backfiller, LiveBars
from workstation.trading.session import Session

T0 = datetime(2023, 11, 14, 15, 30, tzinfo=timezone.utc).timestamp()  # 10:30 in New York: the market is open
HOLE = (T0 + 60, T0 + 360)  # the bars of 15:31 to 15:35 never come


class HistoryBroker(ScriptedBroker):
    """A scripted broker whose history answers what the test says, and records each request."""

    def __init__(self, bars: list[Bar] | None = None) -> None:
        super().__init__()
        self.bars = bars or []
        self.asked: list[tuple[str, int, float, float]] = []

    async def history(self, symbol, seconds, start, end):
        self.asked.append((symbol, seconds, start, end))
        return [b for b in self.bars if start <= b.ts < end]


def quote(symbol: str, t: float, price: float) -> Quote:
    return Quote(symbol=symbol, ts=t, bid=price - 0.01, ask=price + 0.01, last=price, bid_size=100, ask_size=100)


def feed(s: Session, clock: SimClock, times, make) -> None:
    """The broker's feed: a quote at each of ``times`` into the session's quote sink."""
    for t in times:
        clock.set(t)
        s.quality.on_quote(make(t))


def every(start: float, end: float, step: float = 10.0, skip: tuple[float, float] = HOLE):
    t = start
    while t < end:
        if not skip[0] <= t < skip[1]:
            yield t
        t += step


def record(s: Session) -> tuple[list[QualityChanged], list[AlertRaised]]:
    changes: list[QualityChanged] = []
    alerts: list[AlertRaised] = []
    s.bus.subscribe(QualityChanged, changes.append)
    s.bus.subscribe(AlertRaised, lambda a: alerts.append(a) if a.source == "data" else None)
    return changes, alerts


async def test_a_five_minute_hole_in_the_paper_feed_is_filled_from_its_history(tmp_path):
    clock = SimClock(T0)
    broker = SimBroker(clock)
    s = Session.build(settings(), "paper", data_root=tmp_path, clock=clock, broker=broker)
    changes, _ = record(s)
    strategy_bars: list[Bar] = []
    s.bus.subscribe(Bar, strategy_bars.append)
    feed(s, clock, every(T0, T0 + 430), lambda t: broker.market.quotes(["AAPL"], t)[0])
    assert "gap" in s.quality.badges("AAPL")  # the bar of 15:36 came after the one of 15:30
    await s.drain()
    assert s.backfill.requests == [("AAPL", 60, *HOLE)]  # exactly the hole, once
    bars = s.backfill.bars.bars("AAPL")
    assert [b.ts for b in bars] == [T0 + 60 * i for i in range(7)]  # in order, no hole left
    truth = await broker.history("AAPL", 60, *HOLE)
    assert bars[1:6] == truth  # the paper market's own bars of those minutes
    assert [s.backfill.bars.backfilled("AAPL", b.ts) for b in bars] == [False, True, True, True, True, True, False]
    assert "gap" not in s.quality.badges("AAPL")  # the badge is gone
    assert changes[-1].badges == () and changes[-1].backfilled == tuple(truth)
    assert b'"backfilled":[{' in msgspec.json.encode(changes[-1])  # faces (and the socket) get them
    assert [r["backfilled"] for r in s.backfill.bars.rows("AAPL")][1] is True
    # strategies and indicator alerts never receive a backfilled bar: only the live ones went on the bus
    assert [b.ts for b in strategy_bars] == [T0, T0 + 360]


async def test_a_history_with_no_bars_leaves_a_badge_that_says_so(tmp_path):
    clock = SimClock(T0)
    broker = HistoryBroker()
    s = Session.build(settings(), "paper", data_root=tmp_path, clock=clock, broker=broker)
    changes, alerts = record(s)
    feed(s, clock, every(T0, T0 + 430), lambda t: quote("AAPL", t, 100.0))
    await s.drain()
    assert broker.asked == [("AAPL", 60, *HOLE)]
    assert s.quality.badges("AAPL") == ("gap",)
    assert s.quality.note("AAPL") == "gap: history has no bars for 15:31-15:35 UTC"
    assert changes[-1].note == "gap: history has no bars for 15:31-15:35 UTC"
    assert alerts[-1].title == "Gap not filled" and alerts[-1].message == "AAPL gap: history has no bars for 15:31-15:35 UTC"
    assert [b.ts for b in s.backfill.bars.bars("AAPL")] == [T0, T0 + 360]  # nothing made up


async def test_a_history_with_part_of_the_hole_fills_that_part_and_names_the_rest(tmp_path):
    clock = SimClock(T0)
    some = [Bar("AAPL", T0 + 60 * i, 100.0, 100.5, 99.5, 100.2, 10.0, 60) for i in (1, 2, 3)]
    broker = HistoryBroker(some)
    s = Session.build(settings(), "paper", data_root=tmp_path, clock=clock, broker=broker)
    changes, _ = record(s)
    feed(s, clock, every(T0, T0 + 430), lambda t: quote("AAPL", t, 100.0))
    await s.drain()
    assert [b.ts for b in s.backfill.bars.bars("AAPL")] == [T0, T0 + 60, T0 + 120, T0 + 180, T0 + 360]
    assert s.quality.note("AAPL") == "gap: history has no bars for 15:34-15:35 UTC"
    assert changes[-1].backfilled == tuple(some)


async def test_a_broker_error_is_one_line_under_the_badge(tmp_path):
    class Failing(HistoryBroker):
        async def history(self, symbol, seconds, start, end):
            self.asked.append((symbol, seconds, start, end))
            raise RuntimeError("history service down\nTraceback (most recent call last): ...")

    clock = SimClock(T0)
    broker = Failing()
    s = Session.build(settings(), "paper", data_root=tmp_path, clock=clock, broker=broker)
    feed(s, clock, every(T0, T0 + 430), lambda t: quote("AAPL", t, 100.0))
    await s.drain()
    assert s.quality.note("AAPL") == "gap: history failed for 15:31-15:35 UTC: history service down"
    assert s.quality.badges("AAPL") == ("gap",)


async def test_the_history_is_not_asked_again_and_again(tmp_path):
    clock = SimClock(T0)
    broker = HistoryBroker()  # it never has the bars
    s = Session.build(settings(), "paper", data_root=tmp_path, clock=clock, broker=broker)
    feed(s, clock, every(T0, T0 + 430), lambda t: quote("AAPL", t, 100.0))
    await s.drain()
    # twenty more minutes of a clean feed: the unfilled hole is not asked again
    feed(s, clock, every(T0 + 430, T0 + 1620), lambda t: quote("AAPL", t, 100.0))
    await s.drain()
    assert broker.asked == [("AAPL", 60, *HOLE)]
    # a flapping feed (one minute in two lost for ten minutes): one request per pause of
    # min_interval seconds, the holes found meanwhile merged, no window asked twice
    start = T0 + 1620
    flapping = [t for t in every(start, start + 600, skip=(0, 0)) if int((t - start) // 60) % 2 == 0]
    feed(s, clock, [*flapping, *every(start + 600, start + 1000, skip=(0, 0))], lambda t: quote("AAPL", t, 100.0))
    await s.drain()
    later = broker.asked[1:]
    assert s.backfill.min_interval == 300
    assert [(a - start) / 60 for _, _, a, _ in later] == [1, 3, 9]  # at +4 min, then +10 min, then +15 min
    asked_minutes = {ts for _, _, a, b in later for ts in range(int(a), int(b), 60)}
    assert {int(start + 60 * i) for i in (1, 3, 5, 7, 9)} <= asked_minutes
    assert len(set(broker.asked)) == len(broker.asked)


def test_live_bars_insert_keeps_time_order_and_never_overwrites_a_live_bar():
    bars = LiveBars(Bus())
    for t in (T0, T0 + 30, T0 + 240, T0 + 250, T0 + 300):
        bars.on_quote(quote("AAPL", t, 100.0 + (t - T0) / 100))
    live = bars.bars("AAPL")
    assert [b.ts for b in live] == [T0, T0 + 240]
    filled = [Bar("AAPL", T0 + 60 * i, 1.0, 1.0, 1.0, 1.0, 0.0, 60) for i in (4, 2, 1, 3)]
    new = bars.insert("AAPL", filled)
    assert [b.ts for b in new] == [T0 + 60, T0 + 120, T0 + 180]  # the bar of 15:34 was live: kept
    assert [b.ts for b in bars.bars("AAPL")] == [T0 + 60 * i for i in range(5)]
    assert bars.bars("AAPL")[4] == live[1]


@pytest.mark.usefixtures("keys")
async def test_the_ccxt_adapter_fills_a_hole_from_the_exchanges_klines(fake):
    from brokers.exchanges.adapter import CcxtBroker, CcxtConfig
    from workstation.core.clock import LiveClock

    broker = CcxtBroker(CcxtConfig(**profile_options(fake)), LiveClock())
    await broker.connect()
    try:
        t0 = (fake._now / 1000 // 60 - 30) * 60  # half an hour ago, on the minute
        hole = (t0 + 60, t0 + 360)
        clock = SimClock(t0)
        bus = Bus()
        quality = DataQualityMonitor(lambda q: bus.publish(q), bus, clock)
        live = LiveBars(bus)
        tasks: set[asyncio.Task] = set()
        filler = Backfiller(broker.history, clock, quality, live, lambda c: tasks.add(asyncio.ensure_future(c)))
        quality.on_gap = filler.on_gap
        bus.subscribe(Quote, live.on_quote)
        bus.subscribe(Bar, quality.on_bar)
        for t in every(t0, t0 + 430, skip=hole):
            clock.set(t)
            quality.on_quote(quote("BTC/USD", t, 60000.0))
        assert "gap" in quality.badges("BTC/USD")
        await asyncio.gather(*tasks)
        assert filler.requests == [("BTC/USD", 60, *hole)]
        got = live.bars("BTC/USD")
        assert [b.ts for b in got] == [t0 + 60 * i for i in range(7)]
        assert all(live.backfilled("BTC/USD", b.ts) for b in got[1:6])
        assert got[1].volume == 10.0 and got[1].high - got[1].low == 10.0  # the exchange's klines
        assert "gap" not in quality.badges("BTC/USD")
    finally:
        await broker.close()


async def test_a_night_without_quotes_is_no_gap(tmp_path):
    from workstation.core.sessions import prepare

    evening = datetime(2023, 11, 15, 0, 50, tzinfo=timezone.utc).timestamp()  # 19:50 New York, post-market
    morning = datetime(2023, 11, 15, 9, 0, tzinfo=timezone.utc).timestamp()  # 04:00 New York, pre-market opens
    prepare("XNYS", evening)  # the calendar (the engine loads it in a worker thread)
    clock = SimClock(evening)
    broker = HistoryBroker()
    s = Session.build(settings(), "paper", data_root=tmp_path, clock=clock, broker=broker)
    changes, alerts = record(s)
    night = (evening + 660, morning)  # the last quote at 20:00:50 New York, the next at 04:00
    feed(s, clock, every(evening, morning + 130, skip=night), lambda t: quote("AAPL", t, 100.0))
    await s.drain()
    assert broker.asked == [] and s.quality.badges("AAPL") == () and alerts == []
    assert [b.ts for b in s.backfill.bars.bars("AAPL")][-3:] == [evening + 600, morning, morning + 60]


def test_a_remote_face_gets_the_backfilled_bars_over_the_socket():
    from workstation.serve import protocol as P

    bars = (Bar("AAPL", T0 + 60, 100.0, 100.5, 99.5, 100.2, 10.0, 60),)
    event = QualityChanged(symbol="AAPL", badges=(), ts=T0 + 400, backfilled=bars)
    data = P.line(P.encoder(), P.QualityUpdate(event=event))
    assert b'"backfilled":[{"symbol":"AAPL"' in data
    assert P.server_decoder(data).event.backfilled == bars  # what the chart of a face on the socket receives
