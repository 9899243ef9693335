"""Where a serving engine can be found, and who may talk to it.

* Socket: ``<runtime dir>/<profile>-<account hash>.sock``, the runtime dir being
  ``$WORKSTATION_HOME/run`` when that is set, else the platform's user runtime directory
  (``/run/user/UID/workstation`` on Linux). The hash is of the account's directory
  (``<data>/<profile>``, resolved), so the data directory is part of the socket's identity:
  ``--data-dir A`` and ``--data-dir B`` never meet on one socket. A runtime directory too deep
  for a socket path falls back to ``<tmp>/workstation-UID``. Directories 0700, the socket 0600.
* The account's lock (``workstation.serve.owner``): ``<data>/<profile>/engine.lock``.
* Log of a detached engine: ``<data>/<profile>/serve.log``.
* Only the socket's owner may connect: the server reads the peer's uid from the kernel
  (``SO_PEERCRED``) and refuses any other.
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import struct
import tempfile
import warnings
from pathlib import Path

from workstation.core.config import data_dir, home

MAX_SOCKET_PATH = 107  # sun_path is 108 bytes with the terminating NUL


class RunDirError(Exception):
    """The runtime directory cannot hold a socket (too long a path, wrong owner)."""


def runtime_dir() -> Path:
    root = home()
    if root is not None:
        return root / "run"
    import platformdirs

    with warnings.catch_warnings():  # no XDG_RUNTIME_DIR (su, some SSH logins): its fallback, without a warning on screen
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir("workstation"))


def account_dir(profile: str, data: str | Path | None = None) -> Path:
    """``<data>/<profile>``, resolved: the one name of an account's journal and lock."""
    return (data_dir(data) / profile).expanduser().resolve()


def fallback_runtime_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"workstation-{os.getuid()}"


def socket_path(profile: str, data: str | Path | None = None) -> Path:
    """The socket the owner of ``<data>/<profile>`` listens on."""
    digest = hashlib.sha256(os.fsencode(account_dir(profile, data))).hexdigest()[:12]
    name = f"{profile[:40]}-{digest}.sock"
    path = runtime_dir() / name
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        path = fallback_runtime_dir() / name
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise RunDirError(f"socket path {path} is too long for a Unix socket: set WORKSTATION_HOME to a shorter directory")
    return path


def log_path(profile: str, data: str | Path | None = None) -> Path:
    return data_dir(data) / profile / "serve.log"


def prepare_runtime_dir(path: Path | None = None) -> Path:
    """Create the runtime directory private to this user (0700), or refuse one that is not."""
    path = path or runtime_dir()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = path.stat()
    if info.st_uid != os.getuid():
        raise RunDirError(f"runtime directory {path} belongs to another user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


# --------------------------------------------------------------------------- peer credentials

_UCRED = struct.Struct("3i")  # pid, uid, gid (struct ucred)


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a Unix socket, from the kernel."""
    data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(data)
    return pid, uid, gid


def peer_refusal(peer_uid: int, owner_uid: int) -> str | None:
    """Why a peer may not connect (None: it may). Only the owner; not even root slips through."""
    if peer_uid == owner_uid:
        return None
    return f"refused: uid {peer_uid} is not the owner of this engine (uid {owner_uid})"
