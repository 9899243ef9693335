"""Helpers for ccxt tests: a binance fake per test, keys in the environment, a session on it."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.binance_fake import BinanceFake
from workstation.core.config import Profile, Settings
from workstation.trading.session import Session

KEY = "fake-key-7f3a9c"
SECRET = "fake-secret-b81e44"
PROFILE = "binance-fake"


def profile_options(fake: BinanceFake, **extra: Any) -> dict[str, Any]:
    """A testnet profile pointed at the fake (``url_override`` is for tests only)."""
    return {
        "exchange": "binance", "sandbox": True, "url_override": fake.url, "rate_limit_ms": 1,
        "reconnect_base_seconds": 0.05, "reconnect_max_seconds": 0.2, "submit_timeout_seconds": 2.0,
        "timeout_seconds": 5.0, "connect_timeout_seconds": 5.0, **extra,
    }


def settings_for(fake: BinanceFake, **extra: Any) -> Settings:
    profile = Profile(name=PROFILE, broker="ccxt", account_type="cash", leverage=Decimal(1), options=profile_options(fake, **extra))
    return Settings(profiles={PROFILE: profile})


def toml_for(fake: BinanceFake, **extra: Any) -> str:
    lines = [f"[profiles.{PROFILE}]", 'broker = "ccxt"', 'account_type = "cash"', "leverage = 1", f"[profiles.{PROFILE}.options]"]
    for k, v in profile_options(fake, **extra).items():
        lines.append(f"{k} = " + ("true" if v is True else "false" if v is False else repr(v) if not isinstance(v, str) else f'"{v}"'))
    return "\n".join(lines) + "\n"


@pytest.fixture
def fake():
    f = BinanceFake(api_key=KEY, secret=SECRET).start()
    yield f
    f.stop()


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("WORKSTATION_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("WORKSTATION_BINANCE_SECRET", SECRET)


async def open_session(fake: BinanceFake, tmp_path, symbols=("BTC/USD",), **extra: Any) -> Session:
    session = Session.build(settings_for(fake, **extra), PROFILE, data_root=tmp_path / "data")
    await session.start(list(symbols))
    await settle(session)
    return session


async def settle(session: Session) -> None:
    """Let follow-up work (resync, spawned report handling) finish."""
    for _ in range(3):
        await asyncio.sleep(0.05)
        tasks = [t for t in session._tasks if not t.done() and "resync" in t.get_coro().__qualname__]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await session.oms.drain()


async def until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
