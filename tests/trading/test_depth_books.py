"""Books and tapes in the engine (``workstation.trading.depth`` through ``Session`` and
``LocalEngine``): conflated views, the end of a burst, gaps healed by a fresh snapshot,
crossed and locked books on the data-quality badges, the tape, one-line refusals."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes.depth_feed import ScriptedDepthBroker
from tests.fakes.scripted import ScriptedBroker
from workstation.api import IntentError, LocalEngine
from workstation.core.book import BookView, TradePrint
from workstation.core.clock import SimClock
from workstation.core.config import ConfigError, DepthSettings, Settings, load_settings
from workstation.trading.session import Session

T0 = 1_790_000_000.0


async def until(cond, timeout: float = 2.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


@pytest.fixture
async def engine(tmp_path):
    clock = SimClock(T0)
    broker = ScriptedDepthBroker(clock=clock, snapshot_on_subscribe=True)
    session = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=broker)
    eng = LocalEngine(session)
    events: list[object] = []
    eng.subscribe(lambda e: events.append(e) if isinstance(e, (BookView, TradePrint)) else None)
    await eng.start([])
    yield eng, broker, clock, events
    await eng.stop()


def views(events, symbol="AAPL") -> list[BookView]:
    return [e for e in events if isinstance(e, BookView) and e.symbol == symbol]


async def test_a_burst_of_100_deltas_in_one_interval_reaches_a_subscriber_as_one_view_of_the_final_state(engine):
    eng, broker, clock, events = engine
    await eng.watch_depth(["AAPL"], levels=5)
    broker.push_snapshot("AAPL", [(100.0, 5), (99.99, 7)], [(100.01, 4), (100.02, 9)])
    for i in range(100):
        broker.push_delta("AAPL", bids=[(100.0, 6 + i)])
    await until(lambda: views(events))
    await asyncio.sleep(0.05)
    (view,) = views(events)
    assert view.seq == 101 and view.state == "ok"
    assert [(lv.price, lv.size) for lv in view.bids] == [(100.0, 105), (99.99, 7)]
    assert [(lv.price, lv.size) for lv in view.asks] == [(100.01, 4), (100.02, 9)]
    assert eng.book("AAPL") == view


async def test_updates_inside_the_interval_wait_and_the_last_state_of_the_burst_is_published_after_it(engine):
    eng, broker, clock, events = engine
    await eng.watch_depth(["AAPL"], levels=3)
    broker.push_snapshot("AAPL", [(100.0, 5)], [(100.01, 4)])
    await until(lambda: len(views(events)) == 1)
    clock.advance(0.03)
    for size in (10, 20, 30):
        broker.push_delta("AAPL", asks=[(100.01, size)])
    await asyncio.sleep(0.05)
    assert len(views(events)) == 1  # still inside the interval: nothing more yet
    clock.advance(0.08)  # the interval has passed since the first view
    await until(lambda: len(views(events)) == 2)
    last = views(events)[-1]
    assert last.asks[0].size == 30 and last.seq == 4
    await asyncio.sleep(0.15)
    assert len(views(events)) == 2  # nothing changed since: no more views


async def test_the_depth_interval_is_a_validated_setting(tmp_path):
    bad = tmp_path / "settings.toml"
    bad.write_text("[depth]\ninterval = 0\n")
    with pytest.raises(ConfigError, match="depth.interval"):
        load_settings(bad)
    good = tmp_path / "good.toml"
    good.write_text("[depth]\ninterval = 0.5\n")
    assert load_settings(good).depth.interval == 0.5
    clock = SimClock(T0)
    session = Session.build(
        Settings(depth=DepthSettings(interval=0.5)), "paper", data_root=tmp_path, clock=clock,
        broker=ScriptedDepthBroker(clock=clock),
    )
    assert session.depth is not None and session.depth.interval == 0.5
    session.journal.close()


async def test_a_sequence_gap_marks_the_book_stale_asks_for_a_fresh_snapshot_once_and_the_snapshot_heals_it(engine):
    eng, broker, clock, events = engine
    await eng.watch_depth(["AAPL"], levels=5)
    broker.push_snapshot("AAPL", [(100.0, 5)], [(100.01, 4)])
    await until(lambda: len(views(events)) == 1)
    clock.advance(5)  # well past the subscribe: a gap may ask at once
    broker.snapshot_on_subscribe = False  # the adapter's snapshot comes later, by hand
    broker.push_delta("AAPL", bids=[(100.0, 1)], lost=True)  # never arrives
    broker.push_delta("AAPL", bids=[(99.99, 2)])  # refused: seq 3 after 1
    broker.push_delta("AAPL", bids=[(99.98, 2)])  # refused too, asks nothing more
    await until(lambda: ("subscribe_depth", ("AAPL",), 5) in broker.calls[1:])
    assert broker.calls.count(("unsubscribe_depth", ("AAPL",), None)) == 1
    assert broker.calls.count(("subscribe_depth", ("AAPL",), 5)) == 2  # the watch, then the resync
    await until(lambda: views(events)[-1].state == "stale")
    assert eng._s.depth.gaps["AAPL"] == 1
    assert "gap" in eng.badges("AAPL")
    clock.advance(0.2)
    broker.push_snapshot("AAPL", [(100.0, 1), (99.99, 2), (99.98, 2)], [(100.01, 4)])
    await until(lambda: views(events)[-1].state == "ok")
    healed = views(events)[-1]
    assert [lv.price for lv in healed.bids] == [100.0, 99.99, 99.98]
    assert "gap" not in eng.badges("AAPL")
    broker.push_delta("AAPL", asks=[(100.01, 9)])  # deltas apply again
    clock.advance(0.2)
    await until(lambda: views(events)[-1].asks[0].size == 9)


async def test_a_book_that_stays_stale_asks_again_only_after_the_resync_pause(engine):
    eng, broker, clock, events = engine
    broker.snapshot_on_subscribe = False
    await eng.watch_depth(["AAPL"], levels=5)
    broker.push_snapshot("AAPL", [(100.0, 5)], [(100.01, 4)])
    clock.advance(5)
    broker.push_delta("AAPL", bids=[(100.0, 1)], lost=True)
    for _ in range(50):
        broker.push_delta("AAPL", bids=[(99.9, 1)])
    await asyncio.sleep(0.05)
    assert broker.calls.count(("unsubscribe_depth", ("AAPL",), None)) == 1
    clock.advance(1.5)
    broker.push_delta("AAPL", bids=[(99.9, 2)])
    await asyncio.sleep(0.05)
    assert broker.calls.count(("unsubscribe_depth", ("AAPL",), None)) == 2


async def test_crossed_and_locked_books_raise_the_quote_badges_and_a_clean_book_clears_them(engine):
    eng, broker, clock, events = engine
    await eng.watch_depth(["AAPL"])
    broker.push_snapshot("AAPL", [(100.0, 5)], [(100.01, 4)])
    await until(lambda: len(views(events)) == 1)
    assert "crossed" not in eng.badges("AAPL")
    clock.advance(0.2)
    broker.push_delta("AAPL", bids=[(100.02, 3)])  # bid above the ask
    await until(lambda: views(events)[-1].state == "crossed")
    assert "crossed" in eng.badges("AAPL")
    # a clean quote does not clear what the book says
    eng._s.quality.on_quote(eng._s.broker.snapshot("AAPL") or eng.quote("AAPL"))
    assert "crossed" in eng.badges("AAPL")
    clock.advance(0.2)
    broker.push_delta("AAPL", bids=[(100.02, 0), (100.01, 3)])  # bid equals the ask
    await until(lambda: views(events)[-1].state == "locked")
    assert "locked" in eng.badges("AAPL") and "crossed" not in eng.badges("AAPL")
    clock.advance(0.2)
    broker.push_delta("AAPL", bids=[(100.01, 0)])
    await until(lambda: views(events)[-1].state == "ok")
    assert not {"locked", "crossed"} & set(eng.badges("AAPL"))


async def test_prints_reach_subscribers_at_once_and_the_tape_is_newest_first_and_keeps_the_last_1000(engine):
    eng, broker, clock, events = engine
    await eng.watch_depth(["AAPL"])
    for i in range(1_205):
        broker.push_trade("AAPL", 100 + i / 100, 10, "buy" if i % 2 else "sell", trade_id=str(i))
    prints = [e for e in events if isinstance(e, TradePrint)]
    assert len(prints) == 1_205 and prints[-1].trade_id == "1204"
    tape = eng.tape("AAPL", limit=5_000)
    assert len(tape) == 1_000
    assert [p.trade_id for p in tape[:3]] == ["1204", "1203", "1202"] and tape[-1].trade_id == "205"
    assert [p.trade_id for p in eng.tape("AAPL")][:1] == ["1204"] and len(eng.tape("AAPL")) == 200
    assert eng.tape("MSFT") == []
    broker.push_trade("MSFT", 400, 1)  # not watched: dropped
    assert not [e for e in events if isinstance(e, TradePrint) and e.symbol == "MSFT"]


async def test_unwatch_stops_views_and_prints_and_unsubscribes_the_broker(engine):
    eng, broker, clock, events = engine
    await eng.watch_depth(["AAPL", "MSFT"])
    await eng.watch_depth(["AAPL"])  # idempotent: not subscribed twice
    assert broker.calls.count(("subscribe_trades", ("AAPL", "MSFT"), None)) == 1
    assert sum(1 for c in broker.calls if c[0] == "subscribe_depth") == 1
    broker.push_snapshot("AAPL", [(100.0, 5)], [(100.01, 4)])
    await until(lambda: len(views(events)) == 1)
    await eng.unwatch_depth(["aapl"])
    assert ("unsubscribe_depth", ("AAPL",), None) in broker.calls
    assert ("unsubscribe_trades", ("AAPL",), None) in broker.calls
    clock.advance(1)
    broker.push_delta("AAPL", bids=[(100.0, 9)])
    broker.push_trade("AAPL", 100.0, 5)
    await asyncio.sleep(0.05)
    assert len(views(events)) == 1
    assert not [e for e in events if isinstance(e, TradePrint)]
    assert eng.book("AAPL") is None and eng.tape("AAPL") == []
    assert "AAPL" not in broker.depth_subs and "MSFT" in broker.depth_subs


async def test_depth_requests_that_cannot_be_served_are_one_line_and_watch_nothing(engine, tmp_path):
    eng, broker, clock, events = engine
    with pytest.raises(IntentError, match="malformed symbol") as bad:
        await eng.watch_depth(["12x"])
    assert "\n" not in str(bad.value)
    with pytest.raises(IntentError, match="levels"):
        await eng.watch_depth(["AAPL"], levels=0)
    with pytest.raises(IntentError, match="limit"):
        eng.tape("AAPL", limit=0)
    with pytest.raises(IntentError, match="malformed symbol"):
        eng.book("12x")
    broker.refuse = {"TSLA"}
    with pytest.raises(IntentError, match="^TSLA: the venue refuses its book$"):
        await eng.watch_depth(["TSLA"])
    assert eng._s.depth.watched() == [] and eng.book("TSLA") is None

    clock = SimClock(T0)
    plain = Session.build(Settings(), "paper", data_root=tmp_path / "plain", clock=clock, broker=ScriptedBroker())
    other = LocalEngine(plain)
    await other.start([])
    try:
        with pytest.raises(IntentError, match="^AAPL: this broker sends no market depth$"):
            await other.watch_depth(["AAPL"])
        assert other.book("AAPL") is None and other.tape("AAPL") == []
    finally:
        await other.stop()


async def test_stop_ends_the_flush_task(tmp_path):
    clock = SimClock(T0)
    broker = ScriptedDepthBroker(clock=clock)
    session = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=broker)
    await session.start()
    await session.watch_depth(["AAPL"], 5)
    broker.push_snapshot("AAPL", [(100.0, 5)], [(100.01, 4)])
    before = set(session._background)
    assert any("run" in repr(t.get_coro()) for t in before)
    await session.stop()
    assert all(t.done() for t in before)


def test_whatever_the_bursts_and_pauses_the_last_view_published_is_the_final_book_and_views_keep_their_interval():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from workstation.core.book import BookDelta, BookLevel, BookSnapshot, OrderBook
    from workstation.core.bus import Bus
    from workstation.trading.depth import DepthBooks

    level = st.tuples(st.integers(9_990, 10_010), st.integers(0, 5))
    step = st.tuples(st.lists(level, max_size=4), st.lists(level, max_size=4), st.sampled_from([0.0, 0.0, 0.03, 0.1, 0.25]))

    @settings(max_examples=150, deadline=None)
    @given(st.lists(step, min_size=1, max_size=60))
    def check(steps):
        bus, clock = Bus(), SimClock(T0)
        books = DepthBooks(bus, clock, interval=0.1)
        published: list[tuple[float, BookView]] = []
        bus.subscribe(BookView, lambda v: published.append((clock.time(), v)))
        books.watch("AAPL", 50)
        mirror = OrderBook("AAPL")
        snap = BookSnapshot(symbol="AAPL", ts=T0, seq=1, bids=(BookLevel(99.0, 1.0),), asks=(BookLevel(101.0, 1.0),))
        books.on_book(snap)
        mirror.apply(snap)
        for seq, (bids, asks, pause) in enumerate(steps, start=2):
            delta = BookDelta(
                symbol="AAPL", ts=clock.time(), seq=seq,
                bids=tuple(BookLevel(p / 100, float(s)) for p, s in dict(bids).items()),
                asks=tuple(BookLevel(p / 100 + 1, float(s)) for p, s in dict(asks).items()),
            )
            books.on_book(delta)
            mirror.apply(delta)
            books.flush()
            clock.advance(pause)
        clock.advance(0.1)
        books.flush()
        assert published and published[-1][1] == mirror.view(50)
        times = [t for t, _ in published]
        assert all(b - a >= 0.1 - 1e-6 for a, b in zip(times, times[1:]))

    check()
