"""The breaker banner and the data-quality badges on watchlist rows, embedded and attached."""

from __future__ import annotations

import html

from tests.serve_support import SYMBOLS, engine_server, until
from tests.ui_support import START, make_app, started
from tests.ui_support import until as ui_until
from workstation.core.model import Quote


def screen(app) -> str:
    """What the terminal shows, as plain text."""
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


def crossed(symbol: str, bid: float, ask: float) -> Quote:
    return Quote(symbol=symbol, ts=START, bid=bid, ask=ask, last=(bid + ask) / 2, bid_size=100, ask_size=100, volume=1_000, prev_close=ask)


def flag(app, symbol: str) -> str:
    from workstation.ui.panes.watchlist import WatchlistPane

    return app.main.query_one(WatchlistPane).row(symbol).cells[-1][0]


async def test_a_tripped_breaker_shows_a_red_banner_until_it_is_reset(tmp_path):
    from workstation.ui.panes.header import HaltBanner

    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        banner = app.main.query_one(HaltBanner)
        assert not banner.display and "BREAKER TRIPPED" not in screen(app)
        session.breaker.trip("day loss 5,000.00 over the 2,000.00 limit", source="test")
        await ui_until(pilot, lambda: "BREAKER TRIPPED: day loss 5,000.00 over the 2,000.00 limit" in screen(app) and banner.region.y == 1)
        assert banner.display and banner.region.y == 1  # right under the header
        assert "BREAKER TRIPPED: day loss 5,000.00 over the 2,000.00 limit" in screen(app)
        session.reset_breaker(confirmed=True, who="test")
        await ui_until(pilot, lambda: not banner.display and "BREAKER TRIPPED" not in screen(app))
        assert not banner.display and "BREAKER TRIPPED" not in screen(app)


async def test_the_kill_switch_and_a_trading_halt_show_on_the_banner(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await session.kill("panic", who="test")
        await ui_until(pilot, lambda: "BREAKER TRIPPED: kill switch: panic" in screen(app))
        assert "BREAKER TRIPPED: kill switch: panic" in screen(app)
        session.reset_breaker(confirmed=True, who="test")
        session.limits.set("trading_halted", "on")
        # no event for a limit: the twice-a-second account read picks it up
        await ui_until(pilot, lambda: "TRADING HALTED" in screen(app) and "BREAKER TRIPPED" not in screen(app))
        text = screen(app)
        assert "TRADING HALTED" in text and "BREAKER TRIPPED" not in text


async def test_a_crossed_quote_puts_a_badge_on_its_watchlist_row_until_it_uncrosses(tmp_path):
    app, session, broker = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        assert flag(app, "MSFT") == ""
        broker.quote_sink(crossed("MSFT", 101.0, 100.0))
        await ui_until(pilot, lambda: flag(app, "MSFT") == "X" and any(line.lstrip("│ ").startswith("MSFT") and line.rstrip(" │").endswith("X") for line in screen_lines(app)))
        assert session.quality.badges("MSFT") == ("crossed",)
        assert flag(app, "MSFT") == "X" and flag(app, "AAPL") == ""
        assert any(line.lstrip("│ ").startswith("MSFT") and line.rstrip(" │").endswith("X") for line in screen_lines(app))
        broker.quote_sink(crossed("MSFT", 100.0, 100.0))  # locked now
        await ui_until(pilot, lambda: flag(app, "MSFT") == "LCK")
        assert flag(app, "MSFT") == "LCK"
        broker.move("MSFT", 100.5)
        await ui_until(pilot, lambda: flag(app, "MSFT") == "")
        assert flag(app, "MSFT") == ""


def screen_lines(app) -> list[str]:
    """The watchlist's rows as the terminal shows them."""
    from workstation.ui.panes.watchlist import WatchlistPane

    wl = app.main.query_one(WatchlistPane)
    return ["".join(seg.text for seg in wl.render_line(y)) for y in range(1, len(wl.keys) + 1)]


async def test_attached_the_banner_and_badges_follow_the_serving_engine(tmp_path):
    from workstation.core.config import Settings, UISettings
    from workstation.serve.remote import RemoteEngine
    from workstation.ui.app import WorkstationApp
    from workstation.ui.watchlists import Watchlists

    async with engine_server(tmp_path) as (_server, session, broker, path):
        broker.quote_sink(crossed("MSFT", 101.0, 100.0))  # before the face attaches: in the snapshot
        engine = RemoteEngine(path, kind="tui")
        settings = Settings(watchlist=list(SYMBOLS), ui=UISettings(confirm_orders=False))
        app = WorkstationApp(engine, settings, watchlists=Watchlists.load(tmp_path / "wl.json", list(SYMBOLS)), save_settings=False)
        async with app.run_test(size=(160, 45)) as pilot:
            await until(lambda: app._started)
            await ui_until(pilot, lambda: flag(app, "MSFT") == "X")
            assert flag(app, "MSFT") == "X"
            broker.move("MSFT", 100.5)
            await until(lambda: engine.badges("MSFT") == ())
            await ui_until(pilot, lambda: flag(app, "MSFT") == "")
            assert flag(app, "MSFT") == ""
            broker.quote_sink(crossed("AAPL", 190.0, 189.0))
            await until(lambda: engine.badges("AAPL") == ("crossed",))
            await ui_until(pilot, lambda: flag(app, "AAPL") == "X")
            assert flag(app, "AAPL") == "X"
            session.breaker.trip("drawdown 12% over the 10% limit", source="test")
            await until(lambda: engine.snapshot().breaker is not None)
            await ui_until(pilot, lambda: "BREAKER TRIPPED: drawdown 12% over the 10% limit" in screen(app))
            assert "BREAKER TRIPPED: drawdown 12% over the 10% limit" in screen(app)
            session.reset_breaker(confirmed=True, who="test")
            await until(lambda: engine.snapshot().breaker is None)
            await ui_until(pilot, lambda: "BREAKER TRIPPED" not in screen(app))
            assert "BREAKER TRIPPED" not in screen(app)
