"""``main.py serve``, ``attach`` and ``web``: the engine in the background, faces that come and go.

Also the one door the one-shot commands use to reach a serving engine (``via_engine``):
while an engine serves a profile, ``status``, ``buy``, ``cancel``... ask it over the socket,
so the serving process stays the only writer of the journal.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from workstation.cli import CliError, ConfigOpt, DataDirOpt, ProfileOpt, SymbolsOpt, _profile, _settings, _symbols
from workstation.config import ConfigError, Settings

T = TypeVar("T")

LowBandwidthOpt = Annotated[bool, typer.Option("--low-bandwidth", help="Slow link: fewer repaints, no flashing, no sparklines.")]
MAIN = Path(__file__).resolve().parent.parent / "main.py"
START_TIMEOUT = 30.0


def client_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def _profile_name(settings: Settings, profile: str | None) -> str:
    return _profile(settings, profile).name


def serving_socket(profile_name: str, data: Path | None = None) -> Path | None:
    """The account's socket if one exists (it may be stale: connecting tells)."""
    from workstation.rundir import RunDirError, socket_path

    try:
        path = socket_path(profile_name, data)
    except RunDirError:
        return None
    return path if path.exists() else None


def serving_pid(profile_name: str, data: Path | None = None) -> int | None:
    """The pid of the process that owns this account (serve, a workstation or a command), if any."""
    from workstation.owner import current_holder

    holder = current_holder(profile_name, data)
    return holder.pid if holder is not None else None


MISSING: Any = object()  # nobody answered on the account's socket


def _contradiction(profile_name: str, data: Path | None, config: Path | None) -> None:
    """An explicit ``--config`` that is not the one the account's owner runs with: refused."""
    if config is None:
        return
    from workstation.owner import current_holder

    from workstation.config import config_path

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
    from workstation.remote import EngineUnavailable, RemoteEngine

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
    from workstation.owner import POLL_S, WAIT_S, AccountLock, busy_message, current_holder

    from workstation.cli import _check_live as check_live

    settings = _settings(config)
    prof = _profile(settings, profile)
    check_live(prof)
    if mode == "view":
        return _run_view(settings, prof, data, local, feed, symbols)
    _contradiction(prof.name, data, config)
    from workstation.clock import LiveClock

    clock = LiveClock()
    deadline = clock.monotonic() + WAIT_S
    lock = AccountLock(prof.name, data)
    while True:
        if remote is not None:
            result = _ask_owner(prof.name, data, remote, refused_code)
            if result is not MISSING:
                return result
        if mode == "read" and prof.broker == "sim":
            return _run_view(settings, prof, data, local, feed, symbols)
        if lock.try_acquire("cli", config=config, command=" ".join(sys.argv[1:3])):
            try:
                return _run_owner(settings, prof, data, lock, local, feed, symbols)
            finally:
                lock.release()
        if clock.monotonic() >= deadline:
            raise CliError(busy_message(prof.name, lock.root, current_holder(prof.name, data)), 1)
        time.sleep(POLL_S)


def _build(settings: Settings, prof, data: Path | None, *, readonly: bool):
    from workstation.journal import JournalError
    from workstation.session import Session

    try:
        return Session.build(settings, prof.name, data_root=data, readonly=readonly)
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None
    except JournalError as exc:
        raise CliError(str(exc), 1) from None


def _run_view(settings: Settings, prof, data: Path | None, local, feed: bool, symbols) -> Any:
    session = _build(settings, prof, data, readonly=True)

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
    from workstation.cli import status_document
    from workstation.owner import Owner

    session = _build(settings, prof, data, readonly=False)

    async def body() -> Any:
        owner = None
        try:
            await session.start(list(symbols), feed=feed)
            engine = LocalEngine(session, source="engine")
            owner = await Owner.listen(lock, engine, session, status=lambda: status_document(session), account_hz=0)
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
    from workstation.cli import _check_live as check_live

    settings = _settings(config)
    name = _profile_name(settings, profile)
    if serving_socket(name, data) is None:
        return None
    check_live(settings.profile(name))  # a live engine answers only a command that says --live
    _contradiction(name, data, config)
    result = _ask_owner(name, data, fn, refused_code)
    return None if result is MISSING else result


_ACCOUNT_TEXT = {"currency"}
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

        from workstation.risk import RiskStatus

        doc["risk"] = msgspec.convert(doc["risk"], RiskStatus, strict=False)
    return doc


# --------------------------------------------------------------------------- engines for faces


def remote_engine(profile_name: str, *, kind: str = "tui", expect=None, data: Path | None = None):
    """A RemoteEngine for the account's owner, or None when nothing listens there."""
    from workstation.remote import RemoteEngine

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


# --------------------------------------------------------------------------- serve


def _live() -> bool:
    from workstation.cli import LIVE_FLAG

    return LIVE_FLAG.get()


def _check_live(prof, live: bool) -> None:
    if prof.live and not live:
        raise CliError(f"profile {prof.name!r} trades live money: pass --live to serve it", 2)
    if live and not prof.live:
        raise CliError(f"--live given but profile {prof.name!r} is not live (set live = true in it)", 2)


def run_serve(
    profile: str | None, config: Path | None, data: Path | None, symbols: list[str] | None, live: bool,
) -> None:
    import logging

    from workstation.owner import AccountBusy
    from workstation.serving import serve_engine

    settings = _settings(config)
    prof = _profile(settings, profile)
    _check_live(prof, live)
    if settings.serve.tcp_port and not settings.serve.token:
        raise CliError("[serve] tcp_port is set but token is empty: a TCP listener needs a token", 2)
    syms = _symbols(symbols, settings)
    logging.getLogger("workstation").setLevel(logging.INFO)

    async def body() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a closed terminal stops it cleanly too
            loop.add_signal_handler(sig, stop.set)

        def ready(where: dict[str, Any]) -> None:
            tcp = f", tcp {where['tcp']}" if "tcp" in where else ""
            print(f"serving profile {where['profile']} on {where['socket']}{tcp} (pid {where['pid']}); Ctrl+C or SIGTERM stops", file=sys.stderr, flush=True)

        await serve_engine(settings, prof.name, data=data, stop=stop, ready=ready, symbols=syms, config_path=config)
        print(f"engine for profile {prof.name} stopped", file=sys.stderr, flush=True)

    from workstation.journal import JournalError
    from workstation.rundir import RunDirError

    try:
        asyncio.run(body())
    except (AccountBusy, RunDirError, JournalError) as exc:
        raise CliError(str(exc), 1) from None
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None


def _forward(profile: str, config: Path | None, data: Path | None, symbols: list[str] | None, live: bool) -> list[str]:
    args = ["--profile", profile]
    if config is not None:  # resolved: the child runs from /
        args += ["--config", str(config.expanduser().resolve())]
    if data is not None:
        args += ["--data-dir", str(data.expanduser().resolve())]
    for s in symbols or ():
        args += ["--symbols", s]
    if live:
        args.append("--live")
    return args


def start_detached(profile: str | None, config: Path | None, data: Path | None, symbols: list[str] | None, live: bool) -> tuple[int, Path, Path]:
    """Start ``serve`` in its own session, stdio to the log; wait for its socket. (pid, socket, log)."""
    from workstation.clock import LiveClock
    from workstation.rundir import log_path, socket_path

    from workstation.owner import current_holder, private_dir

    settings = _settings(config)
    prof = _profile(settings, profile)
    _check_live(prof, live)
    if (holder := current_holder(prof.name, data)) is not None:
        raise CliError(f"account {prof.name!r} is already owned by {holder.describe()}", 1)
    log = log_path(prof.name, data)
    private_dir(log.parent)
    sock = socket_path(prof.name, data)
    with open(os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, str(MAIN), "serve", *_forward(prof.name, config, data, symbols, live)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd="/",
        )
    clock = LiveClock()
    deadline = clock.monotonic() + START_TIMEOUT
    while clock.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            raise CliError(f"the engine did not start: {tail[0] if tail else 'see ' + str(log)}", 1)
        if sock.exists() and remote_engine(prof.name, data=data) is not None:
            return proc.pid, sock, log
        time.sleep(0.1)
    raise CliError(f"the engine did not open its socket within {START_TIMEOUT:.0f}s (see {log})", 1)


def stop_serving(profile: str | None, config: Path | None, data: Path | None) -> int:
    from workstation.clock import LiveClock

    from workstation.owner import current_holder

    settings = _settings(config)
    name = _profile_name(settings, profile)
    holder = current_holder(name, data)
    if holder is None:
        raise CliError(f"no engine is serving profile {name!r}", 1)
    if holder.kind != "serve" or not holder.pid:
        raise CliError(f"account {name!r} is owned by {holder.describe()}, not by main.py serve: close it there", 1)
    pid = holder.pid
    os.kill(pid, signal.SIGTERM)
    clock = LiveClock()
    deadline = clock.monotonic() + 30.0
    while clock.monotonic() < deadline:
        if serving_pid(name, data) is None:
            return pid
        time.sleep(0.1)
    raise CliError(f"engine pid {pid} did not stop within 30s", 1)


# --------------------------------------------------------------------------- commands


def register(app: typer.Typer) -> None:
    if any(c.name == "serve" for c in app.registered_commands):
        return

    @app.command()
    def serve(
        detach: Annotated[bool, typer.Option("--detach", help="Run in the background (pid and log files in the data directory).")] = False,
        stop: Annotated[bool, typer.Option("--stop", help="Stop the engine serving this profile.")] = False,
        symbols: SymbolsOpt = None,
        profile: ProfileOpt = None,
        config: ConfigOpt = None,
        data_dir_: DataDirOpt = None,
    ) -> None:
        """Run the engine headless until stopped; workstations and commands attach to it. A live profile needs --live."""
        live = _live()
        if stop:
            pid = stop_serving(profile, config, data_dir_)
            print(f"engine pid {pid} stopped", file=sys.stderr)
            return
        if detach:
            pid, sock, log = start_detached(profile, config, data_dir_, symbols, live)
            print(f"engine serving in the background: pid {pid}, socket {sock}, log {log}")
            return
        run_serve(profile, config, data_dir_, symbols, live)

    @app.command()
    def attach(
        profile: ProfileOpt = None,
        config: ConfigOpt = None,
        data_dir_: DataDirOpt = None,
        low_bandwidth: LowBandwidthOpt = False,
        tcp: Annotated[str | None, typer.Option("--tcp", metavar="HOST:PORT", help="Attach over TCP ([serve] token from the settings file).")] = None,
        kind: Annotated[str, typer.Option("--as", hidden=True, help="Client kind recorded in the journal.")] = "tui",
        socket_: Annotated[Path | None, typer.Option("--socket", help="Attach to the engine at this Unix socket (one forwarded over SSH).")] = None,
    ) -> None:
        """Open the workstation on the engine serving this profile (never an embedded one)."""
        from workstation.cli_tui import run_tui

        address: Any = socket_.expanduser() if socket_ is not None else None
        if tcp is not None:
            host, _, port = tcp.rpartition(":")
            if not host or not port.isdigit():
                raise CliError(f"malformed --tcp {tcp!r}: use HOST:PORT, e.g. 127.0.0.1:7011", 2)
            address = (host, int(port))
        run_tui(profile, config, data_dir_, _live(), attach="force", low_bandwidth=low_bandwidth, kind=kind, address=address)

    @app.command()
    def web(
        host: Annotated[str, typer.Option("--host", help="Address to listen on (default: this machine only; anything else needs --allow-remote).")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port for the browser.")] = 8000,
        allow_remote: Annotated[bool, typer.Option("--allow-remote", help="Accept a --host other machines can reach (prefer SSH forwarding: ssh -L 8000:127.0.0.1:8000 <host>).")] = False,
        stop_engine: Annotated[bool, typer.Option("--stop-engine", help="When the web server exits, stop the engine it started (only one it started itself; an engine already serving is left running).")] = False,
        profile: ProfileOpt = None,
        config: ConfigOpt = None,
        data_dir_: DataDirOpt = None,
        low_bandwidth: LowBandwidthOpt = False,
    ) -> None:
        """Serve the workstation in a browser (textual-serve), attached to the serving engine, behind a token printed once (WORKSTATION_WEB_TOKEN sets it)."""
        from workstation.web import TOKEN_ENV, WebError, browser_url, check_listen_address, resolve_token, serve_web

        from_env = os.environ.pop(TOKEN_ENV, None)  # popped: no child (engine, faces) inherits it
        settings = _settings(config)
        try:
            check_listen_address(host, port, allow_remote)
            token = resolve_token(from_env or settings.web.token or None)
        except WebError as exc:
            raise CliError(str(exc), exc.code) from None
        name = _profile_name(settings, profile)
        started = None
        if remote_engine(name, data=data_dir_) is None:
            started, sock, log = start_detached(name, config, data_dir_, None, _live())
            fate = "it stops when the web server exits (--stop-engine)" if stop_engine else "it keeps running after the web server exits (`main.py serve --stop` stops it)"
            print(f"no engine was serving profile {name}: started one in the background (pid {started}, log {log}); {fate}", file=sys.stderr)
        elif stop_engine:
            print(f"an engine was already serving profile {name}: --stop-engine leaves it running", file=sys.stderr)
        command = [sys.executable, str(MAIN), "attach", "--as", "web", *_forward(name, config, data_dir_, None, _live())]
        if low_bandwidth:
            command.append("--low-bandwidth")
        engine_fate = "and the engine it started" if started is not None and stop_engine else "not the engine"

        def ready(_host: str, bound_port: int) -> None:
            print(f"workstation for profile {name}: open {browser_url(host, bound_port, token)}", file=sys.stderr, flush=True)
            print(f"Ctrl+C stops the web server, {engine_fate}", file=sys.stderr, flush=True)

        try:
            serve_web(command, host=host, port=port, title=f"workstation ({name})", token=token, allow_remote=allow_remote, ready=ready)
        except WebError as exc:
            raise CliError(str(exc), exc.code) from None
        finally:
            if started is not None and stop_engine and serving_pid(name, data_dir_) == started:
                stop_serving(name, config, data_dir_)
                print(f"engine pid {started} stopped", file=sys.stderr)
