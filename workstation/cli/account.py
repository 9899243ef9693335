"""How a command reaches an account: through its owner, as its owner, or through a view.

``through_account`` (and ``with_session`` over it) is the one door: an owner that answers
on the account's socket carries the command out; with none, a writing command becomes the
owner for its run (``workstation.serve.owner``) and a reading one opens a read-only view. Also
the faces' way to an owner (``remote_engine``) and the status document as it comes back
over the wire (``revive_status``).
"""

from __future__ import annotations

import asyncio
import getpass
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from workstation.cli.common import CliError, check_live, profile_of, read_settings
from workstation.core.config import ConfigError, Settings

T = TypeVar("T")


def client_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def profile_name(settings: Settings, profile: str | None) -> str:
    return profile_of(settings, profile).name


def serving_socket(profile_name: str, data: Path | None = None) -> Path | None:
    """The account's socket if one exists (it may be stale: connecting tells)."""
    from workstation.serve.rundir import RunDirError, socket_path

    try:
        path = socket_path(profile_name, data)
    except RunDirError:
        return None
    return path if path.exists() else None


def serving_pid(profile_name: str, data: Path | None = None) -> int | None:
    """The pid of the process that owns this account (serve, a workstation or a command), if any."""
    from workstation.serve.owner import current_holder

    holder = current_holder(profile_name, data)
    return holder.pid if holder is not None else None


MISSING: Any = object()  # nobody answered on the account's socket


def refuse_contradiction(profile_name: str, data: Path | None, config: Path | None) -> None:
    """An explicit ``--config`` that is not the one the account's owner runs with: refused."""
    if config is None:
        return
    from workstation.serve.owner import current_holder

    from workstation.core.config import config_path

    holder = current_holder(profile_name, data)
    if holder is None:
        return
    wanted = str(config.expanduser().resolve())
    theirs = holder.config or str(config_path(None).expanduser().resolve())
    if theirs != wanted:
        raise CliError(
            f"account {profile_name!r} is owned by {holder.describe()} running with {theirs}, not {wanted}: "
            "stop it, or run this command without --config", 2,
        )


def _ask_owner(profile_name: str, data: Path | None, fn: Callable[[Any], Awaitable[T]], refused_code: int) -> T:
    """``fn(remote_engine)`` on the account's owner; MISSING when nobody answers on its socket."""
    from workstation.api import IntentError
    from workstation.serve.remote import EngineUnavailable, RemoteEngine

    path = serving_socket(profile_name, data)
    if path is None:
        return MISSING

    async def body() -> Any:
        engine = RemoteEngine(path, kind="cli", name=client_name(), quotes=False, reconnect=False)
        try:
            await engine.connect()
        except EngineUnavailable as exc:
            if exc.refused:  # an engine answered and said no (another uid, too many connections)
                raise CliError(str(exc), 1) from None
            return MISSING  # a socket left by a killed owner, or one closing this instant
        try:
            return await fn(engine)
        except IntentError as exc:
            raise CliError(str(exc), refused_code) from None
        finally:
            await engine.stop()

    return asyncio.run(body())


def through_account(
    profile: str | None,
    config: Path | None,
    data: Path | None,
    local: Callable[[Any], Awaitable[T]],
    *,
    remote: Callable[[Any], Awaitable[T]] | None = None,
    mode: str = "write",
    feed: bool = False,
    symbols: list[str] | tuple[str, ...] = (),
    refused_code: int = 1,
) -> T:
    """The one way a command reaches an account, so that one process writes its journal.

    * An owner answers on the account's socket: ``remote(engine)`` runs there.
    * ``mode="write"`` and no owner: this process takes the account's lock, becomes its owner
      for the run (listening on the socket, so commands from other terminals go through it)
      and runs ``local(session)``. A second would-be owner waits up to 10 s, then says who
      holds the account.
    * ``mode="read"`` and no owner: a read-only view (``local(view)``): the journal read
      only, no market, nothing sent or written. On a real broker, whose account figures come
      from the broker, the command becomes the owner for its run instead (it sends nothing).
    * ``mode="view"``: always the read-only view (journal facts, quotes).
    """
    from workstation.serve.owner import AccountBusy, AccountLock

    settings = read_settings(config)
    prof = profile_of(settings, profile)
    check_live(prof)
    if mode == "view":
        return _run_view(settings, prof, data, local, feed, symbols)
    refuse_contradiction(prof.name, data, config)
    answered: list[Any] = []

    def ask() -> bool | None:  # the owner's answer, when an owner answers
        if remote is None:
            return None
        result = _ask_owner(prof.name, data, remote, refused_code)
        if result is MISSING:
            return None
        answered.append(result)
        return True

    if mode == "read" and prof.broker == "sim":
        return answered[0] if ask() else _run_view(settings, prof, data, local, feed, symbols)
    lock = AccountLock(prof.name, data)
    try:
        if lock.acquire("cli", config=config, command=" ".join(sys.argv[1:3]), meanwhile=ask):
            return answered[0]
    except AccountBusy as exc:
        raise CliError(str(exc), 1) from None
    try:
        return _run_owner(settings, prof, data, lock, local, feed, symbols)
    finally:
        lock.release()


def build_session(settings: Settings, prof, data: Path | None, *, readonly: bool):
    from workstation.core.journal import JournalError
    from workstation.trading.session import Session

    try:
        return Session.build(settings, prof.name, data_root=data, readonly=readonly)
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None
    except JournalError as exc:
        raise CliError(str(exc), 1) from None


def _run_view(settings: Settings, prof, data: Path | None, local, feed: bool, symbols) -> Any:
    session = build_session(settings, prof, data, readonly=True)

    async def body() -> Any:
        try:
            await session.start(list(symbols), feed=feed)
            return await local(session)
        finally:
            await session.stop()

    return asyncio.run(body())


def _run_owner(settings: Settings, prof, data: Path | None, lock, local, feed: bool, symbols) -> Any:
    """Own the account for this run: build it, listen on its socket, do ``local``, then let
    any client that came meanwhile finish before closing."""
    from workstation.api import LocalEngine
    from workstation.trading.status import status_document
    from workstation.serve.owner import Owner

    session = build_session(settings, prof, data, readonly=False)

    async def body() -> Any:
        owner = None
        try:
            await session.start(list(symbols), feed=feed)
            engine = LocalEngine(session, source="engine")
            owner = await Owner.listen(lock, engine, session, status=lambda: status_document(session, str(lock.socket)), account_hz=0)
            return await local(session)
        finally:
            if owner is not None:
                await owner.finish()
            await session.stop()

    return asyncio.run(body())


def via_engine(
    profile: str | None, config: Path | None, fn: Callable[[Any], Awaitable[T]], *, refused_code: int = 1,
    data: Path | None = None,
) -> T | None:
    """Run ``fn(remote_engine)`` against the account's owner; None when no owner answers."""
    settings = read_settings(config)
    name = profile_name(settings, profile)
    if serving_socket(name, data) is None:
        return None
    check_live(settings.profile(name))  # a live engine answers only a command that says --live
    refuse_contradiction(name, data, config)
    result = _ask_owner(name, data, fn, refused_code)
    return None if result is MISSING else result


_ACCOUNT_TEXT = {"currency", "buying_power_source", "day_trades_left", "day_trade_count", "pattern_day_trader"}
_POSITION_NUMBERS = ("qty", "avg_price", "last", "market_value", "unrealized_pnl", "realized_pnl", "pct_of_equity")
_ORDER_NUMBERS = ("qty", "limit_price", "stop_price", "filled_qty", "avg_fill_price")


def _dec(v: Any) -> Any:
    return Decimal(v) if isinstance(v, str) else Decimal(str(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def revive_status(doc: dict[str, Any]) -> dict[str, Any]:
    """The status document from the wire, with its amounts as Decimals again."""
    doc = dict(doc)
    doc["account"] = {k: (v if k in _ACCOUNT_TEXT else _dec(v)) for k, v in doc.get("account", {}).items()}
    doc["positions"] = [{k: (_dec(v) if k in _POSITION_NUMBERS else v) for k, v in r.items()} for r in doc.get("positions", [])]
    doc["open_orders"] = [{k: (_dec(v) if k in _ORDER_NUMBERS else v) for k, v in r.items()} for r in doc.get("open_orders", [])]
    if isinstance(doc.get("risk"), dict):
        import msgspec

        from workstation.risk.checks import RiskStatus

        doc["risk"] = msgspec.convert(doc["risk"], RiskStatus, strict=False)
    return doc


# --------------------------------------------------------------------------- engines for faces


def remote_engine(profile_name: str, *, kind: str = "tui", expect=None, data: Path | None = None):
    """A RemoteEngine for the account's owner, or None when nothing listens there."""
    from workstation.serve.remote import RemoteEngine

    path = serving_socket(profile_name, data)
    if path is None:
        return None
    try:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        finally:
            probe.close()
    except OSError:
        return None  # a stale socket: nobody serves
    return RemoteEngine(path, kind=kind, name=client_name(), expect=expect)


def with_session(
    profile: str | None, config: Path | None, data: Path | None, fn: Callable[[Any], Awaitable[T]], *,
    remote: Callable[[Any], Awaitable[T]] | None = None, mode: str = "write", feed: bool = False,
    symbols: list[str] | tuple[str, ...] = (), refused_code: int = 1,
) -> T:
    """Reach the account as ``workstation.cli.serve.through_account`` says: through its owner
    (``remote``), as its owner for this run (``fn(session)``), or, for ``mode="read"`` and
    ``"view"``, through a read-only view that can neither fill nor write."""
    return through_account(
        profile, config, data, fn, remote=remote, mode=mode, feed=feed, symbols=symbols, refused_code=refused_code,
    )
