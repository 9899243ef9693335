"""The workstation attached to a serving engine (Pilot, RemoteEngine in this process)."""

from __future__ import annotations

from tests.serve_support import SYMBOLS, engine_server, until
from tests.ui_support import settle
from workstation.core.config import Settings, UISettings
from workstation.core.model import AlertRaised
from workstation.serve.remote import RemoteEngine
from workstation.ui.watchlists import Watchlists


def _app(path, root, *, low_bandwidth=False):
    from workstation.ui.app import WorkstationApp

    settings = Settings(watchlist=list(SYMBOLS), ui=UISettings(confirm_orders=False))
    engine = RemoteEngine(path, kind="tui")
    lists = Watchlists.load(root / "wl.json", list(SYMBOLS))
    return WorkstationApp(engine, settings, watchlists=lists, save_settings=False, low_bandwidth=low_bandwidth), engine


def _header(app) -> str:
    from workstation.ui.panes.header import HeaderBar

    return str(app.main.query_one(HeaderBar).render())


async def test_alerts_raised_while_away_show_with_an_unread_count_until_read(tmp_path):
    async with engine_server(tmp_path) as (_server, session, _broker, path):
        session.bus.publish(AlertRaised(title="Stop hit", message="AAPL stop filled", priority="high", ts=1_790_000_000.0))
        session.bus.publish(AlertRaised(title="Breaker", message="daily loss", priority="high", ts=1_790_000_001.0))
        app, engine = _app(path, tmp_path)
        async with app.run_test(size=(160, 50)) as pilot:
            await until(lambda: app._started)
            await settle(pilot)
            from workstation.ui.panes.feed import FeedPane

            texts = app.main.query_one("#alerts", FeedPane).texts
            assert texts == ["Breaker: daily loss", "Stop hit: AAPL stop filled"]
            assert "2 unread" in _header(app)
            await pilot.press("6")  # the Alerts pane: read
            await until(lambda: engine.unread_alerts() == 0)
            await settle(pilot)
            assert "unread" not in _header(app)
            assert engine.client_id in " ".join(app.main.query_one("#log", FeedPane).texts)
            await pilot.press("ctrl+d")  # detach: the app closes, the engine does not
        assert not app.is_running
        assert _server.alerts.unread == 0  # read for every face, kept by the engine
        await until(lambda: not _server.links)


async def test_low_bandwidth_paints_no_flashes_and_no_sparklines_at_a_lower_rate(tmp_path):
    async with engine_server(tmp_path) as (_server, _session, broker, path):
        app, _engine = _app(path, tmp_path, low_bandwidth=True)
        async with app.run_test(size=(160, 50)) as pilot:
            await until(lambda: app._started)
            assert app.repaint_hz <= 2
            for last in (186.0, 187.0, 188.0):
                broker.move("AAPL", last)
                await settle(pilot)
            from workstation.ui.panes.watchlist import WatchlistPane

            wl = app.main.query_one(WatchlistPane)
            row = wl.row("AAPL")
            assert row.background == ""  # no flash
            assert row.cells[7][0] == ""  # no sparkline
            assert row.cells[1][0] == "188.00"


async def test_an_attached_workstation_ends_when_its_engine_goes_away(tmp_path):
    """The engine stops and does not come back: the face says why and ends within seconds,
    instead of reconnecting for ever."""
    import asyncio

    from workstation.ui.app import WorkstationApp

    async with engine_server(tmp_path) as (server, _session, _broker, path):
        settings = Settings(watchlist=list(SYMBOLS), ui=UISettings(confirm_orders=False))
        engine = RemoteEngine(path, kind="tui", give_up_after=1.0)
        lists = Watchlists.load(tmp_path / "wl.json", list(SYMBOLS))
        app = WorkstationApp(engine, settings, watchlists=lists, save_settings=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(lambda: app._started)
            await server.close()  # the engine goes away, socket and all
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 8
            while app.is_running and loop.time() < deadline:
                await pilot.pause(0.1)
            assert not app.is_running
        assert "the engine is gone" in app.engine_gone
