"""``main.py serve``, ``attach`` and ``web``: the engine in the background, faces that come and go.

How the other commands reach an account is ``workstation.cli.account``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from workstation.cli.account import (  # noqa: F401 (re-exported: the faces' way to an owner)
    client_name,
    profile_name,
    remote_engine,
    revive_status,
    serving_pid,
    serving_socket,
    through_account,
    via_engine,
)
from workstation.cli.common import LIVE_FLAG, CliError, ConfigOpt, DataDirOpt, ProfileOpt, SymbolsOpt, profile_of, read_settings, symbols_of
from workstation.core.config import ConfigError, Settings

T = TypeVar("T")

LowBandwidthOpt = Annotated[bool, typer.Option("--low-bandwidth", help="Slow link: fewer repaints, no flashing, no sparklines.")]
MAIN = Path(__file__).resolve().parents[2] / "main.py"
START_TIMEOUT = 30.0


# --------------------------------------------------------------------------- serve


def _live() -> bool:
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

    from workstation.serve.owner import AccountBusy
    from workstation.serve.serving import serve_engine

    settings = read_settings(config)
    prof = profile_of(settings, profile)
    _check_live(prof, live)
    if settings.serve.tcp_port and not settings.serve.token:
        raise CliError("[serve] tcp_port is set but token is empty: a TCP listener needs a token", 2)
    syms = symbols_of(symbols, settings)
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

    from workstation.core.journal import JournalError
    from workstation.serve.rundir import RunDirError

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
    from workstation.core.clock import LiveClock
    from workstation.serve.rundir import log_path, socket_path

    from workstation.serve.owner import current_holder, private_dir

    settings = read_settings(config)
    prof = profile_of(settings, profile)
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
    from workstation.core.clock import LiveClock

    from workstation.serve.owner import current_holder

    settings = read_settings(config)
    name = profile_name(settings, profile)
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
        from workstation.cli.tui import run_tui

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
        from workstation.serve.web import TOKEN_ENV, WebError, browser_url, check_listen_address, resolve_token, serve_web

        from_env = os.environ.pop(TOKEN_ENV, None)  # popped: no child (engine, faces) inherits it
        settings = read_settings(config)
        try:
            check_listen_address(host, port, allow_remote)
            token = resolve_token(from_env or settings.web.token or None)
        except WebError as exc:
            raise CliError(str(exc), exc.code) from None
        name = profile_name(settings, profile)
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
