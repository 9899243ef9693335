"""``main.py`` (no command) and ``main.py tui``: open the Textual workstation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from workstation.cli.common import LIVE_FLAG, CliError, ConfigOpt, DataDirOpt, ProfileOpt, profile_of, read_settings
from workstation.core.config import data_dir

LiveOpt = Annotated[bool, typer.Option("--live", help="Allow a live profile (it must also say live = true).")]


def run_tui(
    profile: str | None = None, config: Path | None = None, data: Path | None = None, live: bool = False, *,
    attach: str = "auto", low_bandwidth: bool = False, kind: str = "tui", address: tuple[str, int] | Path | None = None,
) -> None:
    """``attach``: "auto" joins an engine serving the profile if one runs, "force" insists, "never" embeds."""
    live = live or LIVE_FLAG.get()  # main() takes --live off the line for every command
    LIVE_FLAG.set(live)
    settings = read_settings(config)
    prof = profile_of(settings, profile)
    if prof.live and not live:
        raise CliError(f"profile {prof.name!r} trades live money: pass --live to open it", 2)
    if live and not prof.live:
        raise CliError(f"--live given but profile {prof.name!r} is not live (set live = true in it)", 2)
    from workstation.api import EngineInfo
    from workstation.cli.account import remote_engine
    from workstation.ui.app import WorkstationApp
    from workstation.ui.hangup import HangupWatch
    from workstation.ui.watchlists import Watchlists

    expect = EngineInfo(profile=prof.name, live=prof.live, broker="engine", currency=prof.base_currency)
    engine = remote_engine(prof.name, kind=kind, expect=expect, data=data) if attach != "never" else None
    if address is not None:  # a forwarded socket, or a TCP listener (the token goes in the hello)
        from workstation.cli.account import client_name
        from workstation.serve.remote import RemoteEngine

        engine = RemoteEngine(address, kind=kind, name=client_name(), token=settings.serve.token or None, expect=expect)
    if engine is None and attach == "force":
        raise CliError(f"no engine is serving profile {prof.name!r}: start one with `main.py serve --detach`", 1)
    if engine is None:
        engine = _own(settings, prof, config, data, kind, expect, may_attach=attach != "never")
    watchlists = Watchlists.load(data_dir(data) / "watchlists.json", list(settings.watchlist))
    crash_log = data_dir(data) / "errors.log"
    app = WorkstationApp(engine, settings, watchlists=watchlists, config_path=config, low_bandwidth=low_bandwidth, crash_log=crash_log)
    # a terminal that goes away (a dropped SSH link) ends the process, as SIGHUP would
    watch = HangupWatch(sys.stdin.fileno()).start() if sys.stdin is not None and sys.stdin.isatty() else None
    try:
        app.run()
    finally:
        if watch is not None:
            watch.stop()
    if app.return_code:
        raise CliError(f"the workstation stopped on an error (details in {crash_log})", 1)
    if app.engine_gone:
        raise CliError(f"detached: {app.engine_gone}", 1)


def _own(settings, prof, config: Path | None, data: Path | None, kind: str, expect, *, may_attach: bool):
    """No owner answered: own the account here (its lock, its socket), waiting up to 10 s for
    a one-shot command that holds it now; an owner that comes up meanwhile is attached to."""
    from workstation.cli.account import build_session, refuse_contradiction, remote_engine
    from workstation.serve.owner import AccountBusy, AccountLock, owning_engine
    from workstation.trading.status import status_document

    refuse_contradiction(prof.name, data, config)
    lock = AccountLock(prof.name, data)

    def attach():  # an owner that comes up meanwhile is attached to
        return remote_engine(prof.name, kind=kind, expect=expect, data=data)

    try:
        engine = lock.acquire("tui", config=config, meanwhile=attach if may_attach else None)
    except AccountBusy as exc:
        raise CliError(str(exc), 1) from None
    if engine is not None:
        return engine
    try:
        session = build_session(settings, prof, data, readonly=False)
    except BaseException:
        lock.release()
        raise
    return owning_engine(
        session, lock, status=lambda: status_document(session, str(lock.socket)), strategies=settings.strategies, config_path=config,
    )


def register(app: typer.Typer) -> None:
    if any(c.name == "tui" for c in app.registered_commands):
        return

    @app.command()
    def tui(
        profile: ProfileOpt = None,
        config: ConfigOpt = None,
        data_dir_: DataDirOpt = None,
        live: LiveOpt = False,
        low_bandwidth: Annotated[bool, typer.Option("--low-bandwidth", help="Slow link: fewer repaints, no flashing, no sparklines.")] = False,
    ) -> None:
        """Open the workstation (the default when no command is given; a live profile needs --live); it attaches to a serving engine."""
        run_tui(profile, config, data_dir_, live, low_bandwidth=low_bandwidth)
