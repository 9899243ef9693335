"""The headless engine process behind ``main.py serve``: one profile, served until stopped.

``serve_engine`` builds the session (journal, portfolio, risk, order manager, broker),
starts the feed for the watchlist and every held symbol, listens on the account's Unix
socket (and on TCP when ``[serve] tcp_port`` is set), and runs until ``stop`` is set. It
owns the account (``workstation.serve.owner.AccountLock``, taken before the journal is opened):
a second engine, workstation or command on the same account goes through it. On the way out it
closes the listeners, detaches the clients, drains the order manager and closes the
journal; a SIGKILL skips all that, and the journal alone restores the state next time.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workstation.api import LocalEngine
from workstation.core.clock import Clock
from workstation.core.config import Settings
from workstation.serve.owner import AccountLock, Owner

log = logging.getLogger(__name__)


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
    from workstation.trading.status import status_document
    from workstation.trading.session import Session

    prof = settings.profile(profile)
    lock = AccountLock(prof.name, data)
    lock.acquire("serve", config=config_path)
    try:
        session = Session.build(settings, prof.name, data_root=data, clock=clock, broker=broker)
        # the strategies of [[strategies]] run here, as in the workstation (autostart ones start)
        engine = LocalEngine(session, source="engine", strategies=settings.strategies, config_path=config_path)
        owner: Owner | None = None
        try:
            await engine.start(list(symbols if symbols is not None else settings.watchlist))
            owner = await Owner.listen(
                lock, engine, session, status=lambda: status_document(session, str(lock.socket)), token=settings.serve.token or None,
            )
            server = owner.server
            where: dict[str, Any] = {"socket": str(lock.socket), "pid": os.getpid(), "profile": prof.name}
            if settings.serve.tcp_port:
                where["tcp"] = f"{settings.serve.tcp_host}:{await server.listen_tcp(settings.serve.tcp_host, settings.serve.tcp_port)}"
            session.journal.append("serve.start", where, engine.time())
            if ready is not None:
                ready(where)
            await stop.wait()
        finally:
            if owner is not None:
                await owner.close()
            session.journal.append("serve.stop", {"pid": os.getpid()}, engine.time())
            await engine.stop()
    finally:
        lock.release()
