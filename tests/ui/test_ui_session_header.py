"""The header says the paper market's session under the exchange calendar: pre, open, post or
closed (NYSE hours with holidays and early closes), at 80 and 160 columns."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.market import InstantBroker
from tests.ui_support import started, until
from workstation.api import LocalEngine
from workstation.core.clock import SimClock
from workstation.core.config import Profile, Settings, SimSettings
from workstation.trading.session import Session
from workstation.ui.watchlists import Watchlists

NY = ZoneInfo("America/New_York")


def exchange_app(root, t: float, calendar: str = "exchange"):
    from workstation.ui.app import WorkstationApp

    profile = Profile(name="paper", sim=SimSettings(calendar=calendar))
    settings = Settings(watchlist=["AAPL", "BTC/USD"], profiles={"paper": profile})
    session = Session.build(settings, "paper", data_root=root / "data", clock=SimClock(t), broker=InstantBroker(ts=t))
    lists = Watchlists.load(root / "data" / "watchlists.json", list(settings.watchlist))
    return WorkstationApp(LocalEngine(session), settings, watchlists=lists, config_path=root / "settings.toml")


def header_text(app) -> str:
    from workstation.ui.panes.header import HeaderBar

    return app.query_one(HeaderBar).render().plain


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
@pytest.mark.parametrize(
    ("when", "word"),
    [
        ((2028, 3, 13, 8, 0), "market pre"),  # a Monday, 08:00 New York
        ((2028, 3, 13, 11, 0), "market open"),
        ((2028, 11, 24, 14, 0), "market post"),  # after the 13:00 early close
        ((2028, 11, 23, 11, 0), "market closed"),  # Thanksgiving
    ],
)
async def test_the_header_shows_the_session(tmp_path, size, when, word) -> None:
    app = exchange_app(tmp_path, datetime(*when, tzinfo=NY).timestamp())
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await until(pilot, lambda: word in header_text(app), what=f"{word!r} in the header")
        assert "PAPER" in header_text(app)


async def test_the_always_calendar_is_open_at_any_hour(tmp_path) -> None:
    app = exchange_app(tmp_path, datetime(2028, 11, 23, 3, 0, tzinfo=NY).timestamp(), calendar="always")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await until(pilot, lambda: "market open" in header_text(app), what="market open")
