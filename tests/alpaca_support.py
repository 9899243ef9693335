"""Shared pieces of the Alpaca tests: the fake, the keys, a session pointed at the fake."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import tomli_w

from tests.fakes.alpaca_fake import KEY, SECRET, AlpacaFake
from workstation.core.config import Profile, Settings

FAST = {"backoff_min": 0.05, "backoff_max": 0.2, "connect_timeout": 3.0, "request_timeout": 3.0}


@pytest.fixture
def fake():
    f = AlpacaFake().start()
    yield f
    f.stop()


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")


def settings_for(fake: AlpacaFake, **options: object) -> Settings:
    profile = Profile(name="alpaca-paper", broker="alpaca", options={**fake.options(), **FAST, **options})
    return Settings(profiles={"alpaca-paper": profile})


def write_settings(home: Path, fake: AlpacaFake, **options: object) -> None:
    """A settings file in WORKSTATION_HOME that overrides only the base URLs (and test pacing)."""
    home.mkdir(parents=True, exist_ok=True)
    table = {"profiles": {"alpaca-paper": {"options": {**fake.options(), **FAST, **options}}}}
    (home / "settings.toml").write_text(tomli_w.dumps(table), encoding="utf-8")


async def until(pred: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
