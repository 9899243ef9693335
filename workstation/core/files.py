"""Private files and directories: what only the user may read (journals, backups).

``private_dir`` makes a directory 0700 (its missing parents too) and tightens one that
exists; ``private_file`` does the same for a file (0600); ``private_umask`` makes
everything created inside it private, whatever the process's umask.

Tightening never loosens a mode, never touches a file someone else owns, and leaves
alone the directories that are shared by nature: a sticky one (``/tmp``), the home
directory and the current directory (``--journal ./run.sqlite`` must not close the
user's working directory to their group).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
PRIVATE_UMASK = 0o077

_POSIX = os.name == "posix"


@contextmanager
def private_umask() -> Iterator[None]:
    """Create files and directories private (umask 0o077) inside the block.

    The umask belongs to the process: a file another thread creates meanwhile is private
    too (more private, never less). The previous umask is restored afterwards."""
    if not _POSIX:
        yield
        return
    old = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(old)


def tighten(path: Path | str, mode: int) -> bool:
    """Take away every permission bit not in ``mode`` from ``path`` if we own it.

    Returns whether the mode changed. A missing path, someone else's file and the shared
    directories named in the module notes are left as they are."""
    if not _POSIX:
        return False
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        return False
    if st.st_uid != os.geteuid():
        return False
    if stat.S_ISDIR(st.st_mode) and _shared_dir(p, st):
        return False
    current = stat.S_IMODE(st.st_mode)
    wanted = current & mode
    if wanted == current:
        return False
    os.chmod(p, wanted)
    return True


def private_dir(path: Path | str, *, tighten_existing: bool = True) -> Path:
    """``path`` as a directory only its owner can enter (0700), made with its parents.

    Parents that are created are 0700 too; an existing directory we own is tightened to
    0700 unless ``tighten_existing`` is False (a directory the user named for a file)."""
    p = Path(path)
    with private_umask():
        p.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if tighten_existing:
        tighten(p, DIR_MODE)
    return p


def private_file(path: Path | str) -> Path:
    """``path`` as a file only its owner can read and write (0600): created empty if
    missing, tightened if it exists."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        tighten(p, FILE_MODE)
    else:
        os.close(fd)
    return p


def _shared_dir(p: Path, st: os.stat_result) -> bool:
    if st.st_mode & stat.S_ISVTX:
        return True
    try:
        real = p.resolve()
        return real in (Path.home().resolve(), Path.cwd().resolve())
    except (OSError, RuntimeError):
        return True
