"""Who owns an account: one engine process at a time writes a profile's journal.

The owner holds an exclusive ``flock`` on ``<data>/<profile>/engine.lock`` for its whole
life, taken before the journal is opened for writing; the kernel releases it when the
process ends, however it ends, so a killed owner leaves no stale lock. The lock file names
the holder (pid, kind, socket, settings file) for the one-line messages that say who holds
an account. The owner also listens on the account's socket (``rundir.socket_path``), so
every other face reaches the account through it: ``serve``, the embedded workstation and a
one-shot command that found no owner (for the length of its run) all do.

``AccountLock`` is the lock; ``Owner`` is an owned account's server on its socket, closed
gently (no new clients, the attached ones finish) when a one-shot owner is done.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from workstation.core.clock import Clock, LiveClock
from workstation.serve.rundir import account_dir, prepare_runtime_dir, socket_path

LOCK_NAME = "engine.lock"
WAIT_S = 10.0  # how long a second would-be owner waits for the lock
POLL_S = 0.05


class Holder(msgspec.Struct, frozen=True, kw_only=True):
    """What the lock file says about the process that owns the account."""

    pid: int
    kind: str  # serve, tui, cli
    socket: str = ""
    config: str | None = None  # the settings file it was started with (resolved), None: the default
    command: str = ""

    def describe(self) -> str:
        what = {"serve": "an engine (main.py serve)", "tui": "a workstation", "cli": "a command"}.get(self.kind, self.kind)
        text = f"{what}, pid {self.pid}" if self.pid else what
        return f"{text} ({self.command})" if self.command and self.kind == "cli" else text


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Holder).decode


class AccountBusy(Exception):
    """Another process owns the account; the message names it."""

    def __init__(self, message: str, holder: Holder | None = None) -> None:
        super().__init__(message)
        self.holder = holder


def private_dir(path: Path) -> Path:
    """``path`` (and its parents) as a directory only this user may enter (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = path.stat()
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


class AccountLock:
    """The exclusive lock on one account (``<data>/<profile>``)."""

    def __init__(self, profile: str, data: str | Path | None = None) -> None:
        self.profile = profile
        self.root = account_dir(profile, data)
        self.path = self.root / LOCK_NAME
        self.socket = socket_path(profile, data)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self, kind: str, *, config: Path | None = None, command: str = "") -> bool:
        """Take the lock if nobody holds it; write who we are into it. The engine's files are
        private from here on (umask 077: journal, logs and backups 0600)."""
        if self._fd is not None:
            return True
        private_dir(self.root.parent)  # the data directory, and the account's own
        private_dir(self.root)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.umask(0o077)
        os.fchmod(fd, 0o600)
        holder = Holder(
            pid=os.getpid(), kind=kind, socket=str(self.socket),
            config=str(config.expanduser().resolve()) if config is not None else None, command=command[:200],
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, _encode(holder) + b"\n", 0)
        self._fd = fd
        return True

    def acquire(
        self, kind: str, *, config: Path | None = None, command: str = "", wait: float = WAIT_S, clock: Clock | None = None,
        meanwhile: Callable[[], Any] | None = None,
    ) -> Any:
        """Take the lock (None), waiting up to ``wait`` seconds for a short-lived owner (a
        one-shot command) to finish. ``meanwhile`` is asked first on every round (reach the
        owner on its socket): whatever it returns other than None is returned instead, and
        the lock is not taken. Without it, a long-lived owner (``serve``, a workstation) is
        named at once; with it, one still opening its socket is waited for."""
        clock = clock or LiveClock()
        deadline = clock.monotonic() + wait
        while True:
            if meanwhile is not None and (answer := meanwhile()) is not None:
                return answer
            if self.try_acquire(kind, config=config, command=command):
                return None
            holder = current_holder(self.profile, self.root.parent)
            if (meanwhile is None and holder is not None and holder.kind in ("serve", "tui")) or clock.monotonic() >= deadline:
                raise AccountBusy(busy_message(self.profile, self.root, holder), holder)
            time.sleep(POLL_S)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # a stale description would only mislead
        except OSError:
            pass
        os.close(fd)  # closing the last descriptor releases the flock


def busy_message(profile: str, root: Path, holder: Holder | None) -> str:
    who = holder.describe() if holder is not None else "another process"
    return f"account {profile!r} ({root}) is owned by {who}; it did not answer on its socket"


def current_holder(profile: str, data: str | Path | None = None) -> Holder | None:
    """The process holding the account's lock now, or None when nobody does (a lock file left
    by a killed owner is not held: the kernel let it go)."""
    path = account_dir(profile, data) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 4096, 0).strip()
            try:
                return _decode(text)
            except (msgspec.DecodeError, msgspec.ValidationError):
                return Holder(pid=0, kind="engine")  # writing its name this instant
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- the owner's socket


class Owner:
    """An owned account's socket server (``workstation.serve.server.EngineServer``) and its lock."""

    def __init__(self, lock: AccountLock, server: Any) -> None:
        self.lock = lock
        self.server = server

    @classmethod
    async def listen(
        cls, lock: AccountLock, engine: Any, session: Any, *, status: Callable[[], dict[str, Any]] | None = None,
        token: str | None = None, account_hz: float = 1.0,
    ) -> Owner:
        from workstation.serve.server import EngineServer

        kill = getattr(session, "kill", None)
        server = EngineServer(
            engine, session, status=status, token=token, account_hz=account_hz,
            kill=(lambda reason, who: kill(reason, who=who)) if kill is not None else None,
        )
        prepare_runtime_dir(lock.socket.parent)
        await server.listen_unix(lock.socket)
        return cls(lock, server)

    async def finish(self, linger: float = 30.0) -> None:
        """No new clients; let the attached ones finish what they asked (up to ``linger``
        seconds), then close. A one-shot owner calls this when its own work is done."""
        server = self.server
        server.stop_listening()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + linger
        while server.busy() and loop.time() < deadline:
            await asyncio.sleep(POLL_S)
        await server.close()

    async def close(self) -> None:
        await self.server.close()


def owning_engine(session: Any, lock: AccountLock, *, status: Callable[[], dict[str, Any]] | None = None, **kwargs: Any) -> Any:
    """A ``LocalEngine`` that owns the account: on start it also listens on the account's
    socket (so ``main.py buy``, ``kill``, ``risk set`` from another terminal act through it),
    on stop it closes the socket and lets the lock go. The embedded workstation runs on one."""
    from workstation.api import LocalEngine

    class OwningEngine(LocalEngine):
        owner: Owner | None = None

        async def start(self, symbols: list[str]) -> None:
            await super().start(symbols)
            self.owner = await Owner.listen(lock, self, session, status=status)

        async def stop(self) -> None:
            try:
                if self.owner is not None:
                    await self.owner.close()
                    self.owner = None
                await super().stop()
            finally:
                lock.release()

    return OwningEngine(session, **kwargs)
