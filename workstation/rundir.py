"""Where a serving engine can be found, and who may talk to it.

* Socket: ``<runtime dir>/<profile>.sock``, the runtime dir being ``$WORKSTATION_HOME/run``
  when that is set, else the platform's user runtime directory (``/run/user/UID/workstation``
  on Linux). The directory is made 0700 and the socket 0600.
* Pid file and log of a detached engine: ``<data>/<profile>/serve.pid`` and ``serve.log``.
* Only the socket's owner may connect: the server reads the peer's uid from the kernel
  (``SO_PEERCRED``) and refuses any other.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
from pathlib import Path

from workstation.config import data_dir, home

MAX_SOCKET_PATH = 107  # sun_path is 108 bytes with the terminating NUL


class RunDirError(Exception):
    """The runtime directory cannot hold a socket (too long a path, wrong owner)."""


def runtime_dir() -> Path:
    root = home()
    if root is not None:
        return root / "run"
    import platformdirs

    return Path(platformdirs.user_runtime_dir("workstation"))


def socket_path(profile: str) -> Path:
    path = runtime_dir() / f"{profile}.sock"
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise RunDirError(f"socket path {path} is too long for a Unix socket: set WORKSTATION_HOME to a shorter directory")
    return path


def pid_path(profile: str, data: str | Path | None = None) -> Path:
    return data_dir(data) / profile / "serve.pid"


def log_path(profile: str, data: str | Path | None = None) -> Path:
    return data_dir(data) / profile / "serve.log"


def prepare_runtime_dir() -> Path:
    """Create the runtime directory private to this user (0700), or refuse one that is not."""
    path = runtime_dir()
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
