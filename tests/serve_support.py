"""Helpers for the serving-engine tests: an engine server in this process, on a test broker."""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.fakes.market import InstantBroker
from workstation.api import LocalEngine
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.serve.remote import RemoteEngine
from workstation.serve.server import EngineServer
from workstation.trading.session import Session

START = 1_790_000_000.0
SYMBOLS = ["AAPL", "MSFT", "BTC/USD"]


@pytest.fixture
def short_home(monkeypatch):
    """WORKSTATION_HOME short enough for a Unix socket path (pytest's are long), removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="ws", dir="/tmp"))
    monkeypatch.setenv("WORKSTATION_HOME", str(home))
    yield home
    shutil.rmtree(home, ignore_errors=True)


def short_socket(tmp: Path) -> Path:
    """A socket path under sun_path's 107 bytes, whatever the test's name."""
    return tmp / "e.sock"


@asynccontextmanager
async def engine_server(root: Path, *, must_limit: int = 10_000, token: str | None = None):
    settings = Settings(watchlist=list(SYMBOLS))
    broker = InstantBroker(ts=START)
    session = Session.build(settings, data_root=root / "data", clock=SimClock(START), broker=broker)
    engine = LocalEngine(session, source="engine")
    server = EngineServer(engine, session, must_limit=must_limit, token=token, account_hz=0)
    await engine.start(SYMBOLS)
    path = short_socket(root)
    await server.listen_unix(path)
    try:
        yield server, session, broker, path
    finally:
        await server.close()
        await engine.stop()


async def attached(path: Path, kind: str = "tui", **kw) -> RemoteEngine:
    engine = RemoteEngine(path, kind=kind, **kw)
    await engine.start(SYMBOLS)
    return engine


async def until(predicate, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def stalled_client(path: Path) -> socket.socket:
    """A client that says hello and then never reads a byte (tiny receive buffer)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(str(path))
    from workstation.serve.protocol import VERSION

    s.sendall(b'{"t":"hello","v":%d,"kind":"stalled","quotes":true}\n{"t":"watch","id":1,"symbols":["AAPL","MSFT","BTC/USD"]}\n' % VERSION)
    return s
