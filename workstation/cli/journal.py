"""``main.py backup [FILE]``: a consistent copy of a profile's journal, safe while an engine
writes to it (SQLite's online backup API on a read-only connection).

Hooked into the main app by ``register(app)`` (see ``workstation.cli.app``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from workstation.cli.common import CliError, ConfigOpt, DataDirOpt, ProfileOpt, profile_of, read_settings
from workstation.core.clock import LiveClock
from workstation.core.config import data_dir
from workstation.core.files import private_dir
from workstation.core.journal import Journal, JournalError


def backup(
    file: Annotated[Path | None, typer.Argument(help="Where to write the copy (default: <data>/<profile>/backups/journal-YYYYmmdd-HHMMSS.sqlite).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Copy the profile's journal to FILE, even while the workstation is running."""
    prof = profile_of(read_settings(config), profile)
    root = data_dir(data_dir_) / prof.name
    source = root / "journal.sqlite"
    if not source.is_file():
        raise CliError(f"no journal for profile {prof.name!r} at {source}", 1)
    if file is None:
        dest = _default_dest(root)
    else:
        dest = file.expanduser()
        if dest.is_dir():
            raise CliError(f"{dest} is a directory: name the backup file", 2)
        if dest.exists() and not force:
            raise CliError(f"{dest} already exists: pass --force to replace it", 2)
        if dest.resolve() == source.resolve():
            raise CliError(f"{dest} is the journal itself", 2)
    try:
        with Journal(source, readonly=True) as journal:
            journal.backup_to(dest, overwrite=force)
        with Journal(dest, readonly=True) as copy:
            orders, fills = copy.counts()
    except JournalError as exc:
        raise CliError(str(exc), 1) from None
    size = dest.stat().st_size
    typer.echo(f"backed up {source} to {dest} ({_size(size)}, {orders} orders, {fills} fills)")  # one line, never wrapped


def _default_dest(root: Path) -> Path:
    try:
        folder = private_dir(root / "backups")
    except OSError as exc:
        raise CliError(f"cannot make {root / 'backups'}: {exc.strerror or exc}", 1) from None
    stamp = datetime.fromtimestamp(LiveClock().time()).strftime("%Y%m%d-%H%M%S")
    dest = folder / f"journal-{stamp}.sqlite"
    n = 1
    while dest.exists():  # two backups in one second
        n += 1
        dest = folder / f"journal-{stamp}-{n}.sqlite"
    return dest


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
