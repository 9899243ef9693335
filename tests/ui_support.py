"""Helpers for the workstation's tests: an app on a deterministic market."""

from __future__ import annotations

import time
from pathlib import Path

from tests.fakes.market import InstantBroker
from workstation.api import LocalEngine
from workstation.core.clock import SimClock
from workstation.core.config import Profile, Settings, UISettings
from workstation.trading.session import Session
from workstation.ui.watchlists import Watchlists

POLL_S = 0.005  # how often until() looks (a bare pilot.pause() waits at least ~20 ms and until the app is idle)
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


async def until(pilot, condition, timeout: float = 5.0, what: str = "") -> None:
    """Wait until ``condition()`` is true: look, then pause a few milliseconds and repaint (as
    ``settle`` does) between looks, for at most ``timeout`` seconds. A condition that raises
    (a row not there yet) counts as false; on time-out the test fails saying what it waited for."""
    deadline = time.monotonic() + timeout
    error: Exception | None = None
    while True:
        try:
            if condition():
                return
            error = None
        except Exception as exc:  # noqa: BLE001 - not there yet: look again
            error = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {timeout} s: {what or describe(condition)}") from error
        await pilot.pause(POLL_S)
        pilot.app.repaint()


async def started(pilot) -> None:
    """Wait until the app has started its engine and shown the first quotes."""
    await until(pilot, lambda: pilot.app._started, what="the engine started")


def describe(condition) -> str:
    """A condition as its source line, for a failure message."""
    import inspect

    try:
        return inspect.getsource(condition).strip()
    except (OSError, TypeError):
        return repr(condition)
