"""Market depth through the owning engine's socket: a remote face watches a book and its tape,
gets the views conflated and the prints in order (a slow face loses the oldest prints,
counted, never reordered), and its books stop when it leaves unless another face wants them."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes.depth_feed import ScriptedDepthBroker
from tests.serve_support import START, attached, engine_server, short_socket, until
from workstation.api import IntentError, LocalEngine
from workstation.core.book import BookView, TradePrint
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.serve import protocol as P
from workstation.serve.server import EngineServer
from workstation.trading.session import Session

BIDS = [(100.0, 5.0), (99.99, 7.0), (99.98, 3.0), (99.97, 8.0)]
ASKS = [(100.01, 4.0), (100.02, 9.0), (100.03, 6.0), (100.04, 2.0)]


async def _serve(root):
    clock = SimClock(START)
    broker = ScriptedDepthBroker(clock=clock, snapshot_on_subscribe=True)
    session = Session.build(Settings(), "paper", data_root=root / "data", clock=clock, broker=broker)
    engine = LocalEngine(session, source="engine")
    server = EngineServer(engine, session, account_hz=0)
    await engine.start([])
    path = short_socket(root)
    await server.listen_unix(path)
    return engine, server, session, broker, path


async def _close(engine, server) -> None:
    await server.close()
    await engine.stop()


def _levels(side) -> list[tuple[float, float]]:
    return [(lv.price, lv.size) for lv in side]


async def test_a_remote_face_gets_the_book_cut_to_its_levels_and_every_print_in_order(tmp_path):
    engine, server, session, broker, path = await _serve(tmp_path)
    try:
        broker.push_snapshot("AAPL", BIDS, ASKS)  # the venue's book before anyone watches
        remote = await attached(path, "tui")
        events: list[object] = []
        remote.subscribe(lambda e: events.append(e) if isinstance(e, (BookView, TradePrint)) else None)
        try:
            await remote.watch_depth(["aapl"], levels=2)
            await until(lambda: remote.book("AAPL") is not None)
            assert _levels(remote.book("AAPL").bids) == BIDS[:2] and _levels(remote.book("AAPL").asks) == ASKS[:2]
            for i in range(300):
                broker.push_trade("AAPL", 100.0 + i / 100, 1 + i, "buy" if i % 2 else "sell", trade_id=str(i))
                if i % 7 == 0:
                    await asyncio.sleep(0)  # the engine's loop turns between some prints
            broker.push_delta("AAPL", bids=[(100.0, 50.0)], asks=[(100.01, 0.0)])
            session.clock.advance(1.0)
            await until(lambda: len([e for e in events if isinstance(e, TradePrint)]) == 300)
            await until(lambda: remote.book("AAPL").bids[0].size == 50.0)
        finally:
            await remote.stop()
        prints = [e for e in events if isinstance(e, TradePrint)]
        assert [p.trade_id for p in prints] == [str(i) for i in range(300)]  # in the venue's order
        assert prints[1].aggressor == "buy" and prints[1].size == 2
        assert [p.trade_id for p in remote.tape("AAPL", limit=3)] == ["299", "298", "297"]  # newest first
        view = remote.book("AAPL")
        assert _levels(view.bids) == [(100.0, 50.0), (99.99, 7.0)]  # two levels, as this face asked
        assert _levels(view.asks) == [(100.02, 9.0), (100.03, 6.0)]
        assert engine.book("AAPL").bids == view.bids  # the engine's own book says the same
    finally:
        await _close(engine, server)


async def test_a_face_that_falls_behind_gets_the_latest_book_and_loses_only_its_oldest_prints(tmp_path):
    engine, server, session, broker, path = await _serve(tmp_path)
    try:
        remote = await attached(path, "tui")
        events: list[object] = []
        remote.subscribe(lambda e: events.append(e) if isinstance(e, (BookView, TradePrint)) else None)
        try:
            await remote.watch_depth(["AAPL"], levels=5)
            broker.push_snapshot("AAPL", BIDS, ASKS)
            await until(lambda: remote.book("AAPL") is not None)
            events.clear()
            # the engine runs on without a turn of the loop: this face cannot read meanwhile
            for i in range(100):
                broker.push_delta("AAPL", bids=[(100.0, 10.0 + i)])
                session.clock.advance(0.2)
                session.depth.flush()  # a view published on the bus every time
            n = P.TRADES_MAX + 2_500
            for i in range(n):
                broker.push_trade("AAPL", 100.0, 1.0, "buy", trade_id=str(i))
            await until(lambda: remote.prints_dropped == 2_500 and len([e for e in events if isinstance(e, TradePrint)]) == P.TRADES_MAX)
            await until(lambda: any(isinstance(e, BookView) for e in events))
            await asyncio.sleep(0.05)
        finally:
            await remote.stop()
        views = [e for e in events if isinstance(e, BookView)]
        assert len(views) == 1 and _levels(views[0].bids)[0] == (100.0, 109.0)  # the latest, not a backlog
        ids = [int(e.trade_id) for e in events if isinstance(e, TradePrint)]
        assert ids == list(range(2_500, n))  # the newest 10,000, in order: the oldest went
        assert server.links == {} or all(not link.cut for link in server.links.values())  # dropped prints never cut a face
    finally:
        await _close(engine, server)


async def test_books_stop_when_the_last_face_that_wants_them_leaves(tmp_path):
    engine, server, session, broker, path = await _serve(tmp_path)
    try:
        a = await attached(path, "tui")
        b = await attached(path, "cli")
        await a.watch_depth(["AAPL", "MSFT"], levels=5)
        await b.watch_depth(["AAPL"], levels=10)
        await engine.watch_depth(["MSFT"], levels=5)  # the owner's own face (its workstation)
        assert broker.depth_subs == {"AAPL": 10, "MSFT": 5}  # the larger ask wins in the engine
        await a.stop()
        await until(lambda: len(server.links) == 1)
        await asyncio.sleep(0.05)
        assert set(broker.depth_subs) == {"AAPL", "MSFT"}  # b still watches AAPL; the owner's face MSFT
        await engine.unwatch_depth(["AAPL"])  # the owner's face never watched AAPL: b's book carries on
        assert "AAPL" in broker.depth_subs
        await b.stop()
        await until(lambda: "AAPL" not in broker.depth_subs)
        assert "AAPL" not in broker.trade_subs and session.depth.watched() == ["MSFT"]
        c = await attached(path, "tui")
        await c.watch_depth(["MSFT"])
        await c.unwatch_depth(["MSFT"])
        await asyncio.sleep(0.05)
        assert "MSFT" in broker.depth_subs  # the owner's face still wants it
        await engine.unwatch_depth(["MSFT"])
        assert broker.depth_subs == {}
        await c.stop()
    finally:
        await _close(engine, server)


async def test_refusals_come_back_as_one_line_and_watch_nothing(tmp_path):
    engine, server, session, broker, path = await _serve(tmp_path)
    try:
        broker.refuse.add("TSLA")
        remote = await attached(path, "cli")
        try:
            with pytest.raises(IntentError, match="malformed symbol"):
                await remote.watch_depth(["AAPL!"])
            with pytest.raises(IntentError, match="levels must be a whole number from 1 to 1000, got 0"):
                await remote.watch_depth(["AAPL"], levels=0)
            with pytest.raises(IntentError, match="TSLA: the venue refuses its book"):
                await remote.watch_depth(["TSLA"])
            assert remote.book("TSLA") is None and remote.tape("TSLA") == []
            await remote.watch_depth(["AAPL"], levels=5)
            with pytest.raises(IntentError, match="got 0"):
                await remote.watch_depth(["AAPL"], levels=0)  # a refused change keeps the book it had
            assert session.depth.watched() == ["AAPL"]
        finally:
            await remote.stop()
        await until(lambda: session.depth.watched() == [])  # and it stops when the face leaves
    finally:
        await _close(engine, server)
    async with engine_server(tmp_path / "plain") as (_server, _session, _broker, plain):
        remote = await attached(plain, "cli")
        try:
            with pytest.raises(IntentError, match="^AAPL: this broker sends no market depth$"):
                await remote.watch_depth(["AAPL"])
        finally:
            await remote.stop()
