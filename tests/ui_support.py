"""Helpers for the workstation's tests: an app on a deterministic market."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.market import InstantBroker
from workstation.api import LocalEngine
from workstation.core.clock import SimClock
from workstation.core.config import Profile, Settings, UISettings
from workstation.trading.session import Session
from workstation.ui.watchlists import Watchlists

START = 1_790_000_000.0  # a fixed instant: the header clock and every timestamp are stable
SYMBOLS = ["AAPL", "MSFT", "NVDA", "TSLA", "SPY", "BTC/USD", "EUR/USD"]


def make_app(root: Path, *, theme: str = "dark", confirm: bool = True, bindings: dict[str, str] | None = None, symbols=None, live: bool = False):
    from workstation.ui.app import WorkstationApp

    profiles = {"live-test": Profile(name="live-test", live=True)} if live else {}
    settings = Settings(watchlist=list(symbols or SYMBOLS), profiles=profiles, ui=UISettings(theme=theme, confirm_orders=confirm, bindings=bindings or {}))
    broker = InstantBroker(ts=START)
    clock = SimClock(START)
    session = Session.build(settings, "live-test" if live else None, data_root=root / "data", clock=clock, broker=broker)
    engine = LocalEngine(session)
    lists = Watchlists.load(root / "data" / "watchlists.json", list(settings.watchlist))
    app = WorkstationApp(engine, settings, watchlists=lists, config_path=root / "settings.toml")
    return app, session, broker


async def settle(pilot, n: int = 3) -> None:
    for _ in range(n):
        await pilot.pause()
    pilot.app.repaint()
    await pilot.pause()
