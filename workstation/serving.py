"""The headless engine process behind ``main.py serve``: one profile, served until stopped.

``serve_engine`` builds the session (journal, portfolio, risk, order manager, broker),
starts the feed for the watchlist and every held symbol, listens on the profile's Unix
socket (and on TCP when ``[serve] tcp_port`` is set), and runs until ``stop`` is set. A
lock on the pid file keeps a second engine off the same profile. On the way out it
closes the listeners, detaches the clients, drains the order manager and closes the
journal; a SIGKILL skips all that, and the journal alone restores the state next time.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workstation.api import LocalEngine
from workstation.clock import Clock
from workstation.config import Settings
from workstation.rundir import pid_path, prepare_runtime_dir, socket_path
from workstation.server import EngineServer

log = logging.getLogger(__name__)


class AlreadyServing(Exception):
    """Another engine holds this profile; the message names its pid."""


@contextmanager
def pid_lock(path: Path):
    """Hold an exclusive lock on the pid file for the life of the engine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        raise AlreadyServing(f"an engine is already serving this profile (pid {other or '?'})") from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        os.close(fd)


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


async def serve_engine(
    settings: Settings,
    profile: str | None,
    *,
    data: Path | None = None,
    stop: asyncio.Event,
    ready: Callable[[dict[str, Any]], None] | None = None,
    clock: Clock | None = None,
    broker: Any = None,
    symbols: list[str] | None = None,
    config_path: Path | None = None,
) -> None:
    from workstation.cli import status_document
    from workstation.session import Session

    prof = settings.profile(profile)
    sock = socket_path(prof.name)
    with pid_lock(pid_path(prof.name, data)):
        session = Session.build(settings, prof.name, data_root=data, clock=clock, broker=broker)
        # the strategies of [[strategies]] run here, as in the workstation (autostart ones start)
        engine = LocalEngine(session, source="engine", strategies=settings.strategies, config_path=config_path)
        kill = getattr(session, "kill", None)
        server = EngineServer(
            engine, session, status=lambda: status_document(session), token=settings.serve.token or None,
            kill=(lambda reason, who: kill(reason, who=who)) if kill is not None else None,
        )
        try:
            await engine.start(list(symbols if symbols is not None else settings.watchlist))
            prepare_runtime_dir()
            await server.listen_unix(sock)
            where: dict[str, Any] = {"socket": str(sock), "pid": os.getpid(), "profile": prof.name}
            if settings.serve.tcp_port:
                where["tcp"] = f"{settings.serve.tcp_host}:{await server.listen_tcp(settings.serve.tcp_host, settings.serve.tcp_port)}"
            session.journal.append("serve.start", where, engine.time())
            if ready is not None:
                ready(where)
            await stop.wait()
        finally:
            await server.close()
            session.journal.append("serve.stop", {"pid": os.getpid()}, engine.time())
            await engine.stop()
