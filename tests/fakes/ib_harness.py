"""A workstation session on the ib-paper profile wired to a fake TWS, for the IB tests."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from brokers.ib.adapter import IBBroker, IBConfig
from tests.fakes.tws_fake import FakeTWS
from workstation.core.clock import LiveClock
from workstation.core.config import Settings
from workstation.trading.session import Session

FAST = dict(backoff_initial=0.05, backoff_max=0.2, submit_timeout=2.0, commission_wait=0.5, connect_timeout=3.0, first_quote_wait=0.0)


def ib_broker(port: int, **config) -> IBBroker:
    return IBBroker(IBConfig(name="ib-paper", port=port, **{**FAST, **config}), LiveClock(), rng=random.Random(7))


@contextlib.asynccontextmanager
async def ib_session(home: Path, symbols: list[str] = (), fake: FakeTWS | None = None, **config) -> AsyncIterator[tuple[Session, FakeTWS]]:
    fake = fake or FakeTWS()
    if not fake.port:
        await fake.start()
    session = Session.build(Settings(), "ib-paper", data_root=home / "data", broker=ib_broker(fake.port, **config))
    try:
        await session.start(list(symbols))
        yield session, fake
    finally:
        await session.stop()
        await fake.stop()


async def until(predicate: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    """Wait for ``predicate()`` to become true, polling the event loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
