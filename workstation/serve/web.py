"""``main.py web``: the workstation in a browser tab, behind a secret.

textual-serve runs one ``main.py attach --as web`` process per browser tab and relays its
screen over a WebSocket. On its own it has no login: any local user, and any web page the
owner happens to visit (a WebSocket from a foreign origin), could open a tab and trade as
the owner. ``WebServer`` wraps textual-serve's ``Server``:

* a **token** (``secrets.token_urlsafe(32)``, or ``WORKSTATION_WEB_TOKEN``) is printed once
  in the address the user opens; the first page load with ``?token=`` sets an HttpOnly,
  SameSite=Strict session cookie and redirects to the address without it. Every request
  (page, static files, downloads, the WebSocket) must carry that cookie or an
  ``Authorization: Bearer <token>`` header, compared in constant time; the rest get 401
  before any handler runs, so a refused WebSocket never spawns a process;
* an **Origin check**: an ``Origin`` header, when present, must be this server's own
  (the scheme, host and port the browser used; ``127.0.0.1``, ``localhost`` and ``::1``
  count as one host), else 403; on a loopback listener the ``Host`` header must name the
  loopback too (a DNS-rebound name gets 403);
* a **peer check** on a loopback listener (Linux): a connection opened by another user
  than the server's own (or root) gets 403 even with a stolen cookie (cookies are not
  scoped to a port, so another local web server could collect it);
* **no token in logs**: no access log, and every log line is scrubbed of the token;
* **faces end with their link**: each tab's process runs in its own process group; when
  its WebSocket closes, or the server stops, it is asked to quit, then terminated, then
  killed. On Linux the kernel also sends it SIGTERM should the server die without
  cleaning up (``PR_SET_PDEATHSIG``).

Imported only by ``main.py web`` (textual-serve, aiohttp and rich, never Textual).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

log = logging.getLogger("workstation.serve.web")

TOKEN_ENV = "WORKSTATION_WEB_TOKEN"
COOKIE = "workstation_web"
MIN_TOKEN = 16
_HOST_RE = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::\d{1,5})?$")


class WebError(Exception):
    """A start-up refusal, one line; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- addresses


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``... (a bracketed IPv6 literal too)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_listen_address(host: str, port: int, allow_remote: bool) -> None:
    """Refuse a listener beyond this machine unless the user said so."""
    if is_loopback(host) or allow_remote:
        return
    raise WebError(
        f"--host {host} would let other machines reach the workstation: keep the default 127.0.0.1 and "
        f"use SSH forwarding instead (ssh -L {port}:127.0.0.1:{port} <this host>), or pass --allow-remote",
        2,
    )


def resolve_token(configured: str | None) -> str:
    """The configured token (``WORKSTATION_WEB_TOKEN``), or a fresh random one."""
    if configured is None or configured == "":
        return secrets.token_urlsafe(32)
    configured = configured.strip()
    if len(configured) < MIN_TOKEN:
        raise WebError(f"{TOKEN_ENV} is shorter than {MIN_TOKEN} characters: use a long random secret (or unset it for a fresh one)", 2)
    return configured


def browser_url(host: str, port: int, token: str | None = None) -> str:
    """The address a browser opens (with ``?token=`` when given)."""
    if host in ("", "0.0.0.0", "::"):
        import socket

        host = socket.gethostname()
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    url = f"http://{host}:{port}/"
    return f"{url}?token={token}" if token is not None else url


def _split_host(value: str, default_port: int) -> tuple[str, int] | None:
    """``host[:port]`` (IPv6 in brackets) -> (lower-case host without brackets, port)."""
    if not _HOST_RE.match(value):
        return None
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return name.lower(), int(port) if port else default_port


def _same_host(a: str, b: str) -> bool:
    return a == b or (is_loopback(a) and is_loopback(b))


# --------------------------------------------------------------------------- who is on the other end


def _proc_net_entries(path: str) -> list[tuple[str, str, int]]:
    try:
        with open(path) as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) > 7 and parts[7].isdigit():
            out.append((parts[1], parts[2], int(parts[7])))
    return out


def _hex_address(ip: str, port: int) -> str:
    """An address as /proc/net/tcp{,6} writes it (host byte order words, little-endian here)."""
    addr = ipaddress.ip_address(ip)
    packed = addr.packed
    words = "".join(packed[i:i + 4][::-1].hex().upper() for i in range(0, len(packed), 4))
    return f"{words}:{port:04X}"


def peer_uid(peer: tuple[str, int], local: tuple[str, int]) -> int | None:
    """The uid owning the client end of a loopback TCP connection, from /proc (None: unknown)."""
    try:
        ip = ipaddress.ip_address(peer[0])
    except ValueError:
        return None
    candidates = [(peer[0], local[0], "/proc/net/tcp6" if ip.version == 6 else "/proc/net/tcp")]
    if ip.version == 6 and ip.ipv4_mapped is not None:  # a v4 client on a dual-stack listener
        candidates.append((str(ip.ipv4_mapped), str(ipaddress.ip_address(local[0]).ipv4_mapped or local[0]), "/proc/net/tcp"))
    for peer_ip, local_ip, table in candidates:
        try:
            want_local = _hex_address(peer_ip, peer[1])  # the client's socket: its local end is our peer
            want_remote = _hex_address(local_ip, local[1])
        except ValueError:
            continue
        for loc, rem, uid in _proc_net_entries(table):
            if loc == want_local and rem == want_remote:
                return uid
    return None


# --------------------------------------------------------------------------- the gate


class Gate:
    """Who may reach the workstation: the token's holder, from this server's own origin."""

    def __init__(self, token: str, *, loopback_only: bool = True, check_peer: bool = True) -> None:
        self._token = token.encode()
        self._session = hmac.new(self._token, b"workstation web session", hashlib.sha256).hexdigest().encode()
        self.loopback_only = loopback_only
        self.check_peer = check_peer and sys.platform.startswith("linux")
        self._uid = os.geteuid() if hasattr(os, "geteuid") else None

    def is_token(self, value: str) -> bool:
        return hmac.compare_digest(value.encode(), self._token)

    def is_session(self, value: str) -> bool:
        return hmac.compare_digest(value.encode(), self._session)

    @property
    def session_value(self) -> str:
        return self._session.decode()

    # each check returns a refusal (status, text) or None

    def host_refusal(self, request: web.Request) -> tuple[int, str] | None:
        host = _split_host(request.headers.get("Host", ""), 80)
        if host is None:
            return 400, "malformed Host header"
        if self.loopback_only and not is_loopback(host[0]):
            return 403, "this server answers only to 127.0.0.1 / localhost"
        return None

    def origin_refusal(self, request: web.Request) -> tuple[int, str] | None:
        origin = request.headers.get("Origin")
        if origin is None:
            return None
        parts = urlsplit(origin)
        host = _split_host(request.headers.get("Host", ""), 80)
        if parts.scheme not in ("http", "https") or not parts.hostname or host is None:
            return 403, "foreign origin"
        try:
            origin_port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return 403, "foreign origin"
        if origin_port != host[1] or not _same_host(parts.hostname.lower(), host[0]):
            return 403, "foreign origin"
        return None

    def peer_refusal(self, request: web.Request) -> tuple[int, str] | None:
        if not self.check_peer or self._uid is None or request.transport is None:
            return None
        peer = request.transport.get_extra_info("peername")
        local = request.transport.get_extra_info("sockname")
        if not peer or not local or not is_loopback(str(peer[0])):
            return None  # a remote browser (--allow-remote): the token is the only key
        uid = peer_uid((peer[0], peer[1]), (local[0], local[1]))
        if uid is None or uid in (self._uid, 0):
            return None
        return 403, "this workstation belongs to another user"

    def authorized(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value and self.is_token(value.strip()):
            return True
        cookie = request.cookies.get(COOKIE)
        return cookie is not None and self.is_session(cookie)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        for check in (self.host_refusal, self.peer_refusal, self.origin_refusal):
            if (refusal := check(request)) is not None:
                return _refuse(*refusal)
        if "token" in request.query and request.path == "/":
            if not self.is_token(request.query["token"]):
                return _refuse(401, "wrong token: open the address `main.py web` printed")
            query = request.query.copy()
            del query["token"]
            response = web.Response(status=303, headers={"Location": str(request.rel_url.with_query(query))})
            response.set_cookie(COOKIE, self.session_value, httponly=True, samesite="Strict", path="/")
            _private(response)
            return response
        if not self.authorized(request):
            return _refuse(401, "no session: open the address `main.py web` printed (it carries the token)")
        response = await handler(request)
        _private(response)
        return response


def _refuse(status: int, text: str) -> web.Response:
    response = web.Response(status=status, text=text + "\n")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="workstation"'
    _private(response)
    return response


def _private(response: web.StreamResponse) -> None:
    if response.prepared:  # a WebSocket, already switched
        return
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")


# --------------------------------------------------------------------------- logs without the token


class _Scrubbing(logging.Formatter):
    def __init__(self, secrets_: Sequence[str]) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self._secrets = [s for s in secrets_ if s]

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for s in self._secrets:
            text = text.replace(s, "[token]")
        return text


# --------------------------------------------------------------------------- one tab's process


_prctl: Any = None


def _death_signal() -> Callable[[], None] | None:
    """A preexec function asking the kernel to SIGTERM the child when this process dies
    (Linux ``PR_SET_PDEATHSIG``). libc is looked up here, in the parent: the function run
    between fork and exec imports nothing and takes no lock."""
    global _prctl
    if not sys.platform.startswith("linux"):
        return None
    if _prctl is None:
        try:
            import ctypes

            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _prctl = False
    if not _prctl:
        return None
    prctl = _prctl

    def die_with_parent() -> None:
        prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG: the server gone without a word ends the face too

    return die_with_parent


class Face(AppService):
    """One tab's ``attach --as web`` process: argv (no shell), its own process group,
    the token not in its environment, and an end that does not depend on its good will."""

    def __init__(self, argv: Sequence[str], *, quit_grace: float = 5.0, term_grace: float = 3.0, **kw: Any) -> None:
        super().__init__(shlex.join(argv), **kw)
        self.argv = list(argv)
        self.quit_grace = quit_grace
        self.term_grace = term_grace
        self.on_link_lost: Callable[[], Any] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width=width, height=height)
        env.pop(TOKEN_ENV, None)
        return env

    async def _open_app_process(self, width: int = 80, height: int = 24):
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            start_new_session=True, preexec_fn=_death_signal(),
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def run(self) -> None:
        try:
            await super().run()
        finally:  # its output ended (or the tab could not take it): the link is gone, so is the face
            if self.on_link_lost is not None:
                self.on_link_lost()

    async def end(self) -> None:
        """Ask it to quit; terminate its process group if it does not; kill it if that fails too."""
        process = self._process
        if process is None:
            return
        await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        if process.returncode is None:
            if self._stdin is not None and not self._stdin.is_closing():
                await self.send_meta({"type": "quit"})
            for sig, grace in ((None, self.quit_grace), (signal.SIGTERM, self.term_grace), (signal.SIGKILL, 5.0)):
                if sig is not None and process.returncode is None:
                    _signal_group(process.pid, sig)
                try:
                    await asyncio.wait_for(asyncio.shield(process.wait()), grace)
                    break
                except TimeoutError:
                    continue
        if self._task is not None:
            task, self._task = self._task, None
            try:
                await asyncio.wait_for(task, 2.0)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()

    def kill_now(self) -> None:
        """Last resort, synchronous: the server is leaving and this one is still there."""
        if self._process is not None and self._process.returncode is None:
            _signal_group(self._process.pid, signal.SIGKILL)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # its own session: the group is the face and anything it started
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


# --------------------------------------------------------------------------- the server


class WebServer(Server):
    """textual-serve's server, behind ``Gate``, with faces that end with their link."""

    def __init__(
        self, argv: Sequence[str], *, host: str = "127.0.0.1", port: int = 8000, title: str | None = None,
        token: str, allow_remote: bool = False, quit_grace: float = 5.0, term_grace: float = 3.0,
    ) -> None:
        check_listen_address(host, port, allow_remote)
        super().__init__(shlex.join(argv), host=host, port=port, title=title)
        self.argv = list(argv)
        self.token = token
        self.gate = Gate(token, loopback_only=is_loopback(host))
        self.quit_grace = quit_grace
        self.term_grace = term_grace
        self.faces: set[Face] = set()
        self.bound: tuple[str, int] | None = None

    # -- the aiohttp application

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self.gate.middleware)
        return app

    async def build_app(self) -> web.Application:
        """The aiohttp application (tests run it on an ephemeral port)."""
        return await self._make_app()

    def initialize_logging(self) -> None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Scrubbing([self.token]))
        for name in ("textual-serve", "aiohttp", "workstation.serve.web"):
            logger = logging.getLogger(name)
            logger.handlers[:] = [handler]
            logger.propagate = False
            logger.setLevel(logging.DEBUG if self.debug else logging.WARNING)
        logging.getLogger("aiohttp.access").disabled = True  # request lines carry ?token=

    async def on_startup(self, app: web.Application) -> None:
        pass  # the command prints its own one line (textual-serve's banner would name no token but says nothing useful)

    async def on_shutdown(self, app: web.Application) -> None:
        await self.end_faces()

    async def end_faces(self) -> None:
        faces = list(self.faces)
        if faces:
            await asyncio.gather(*(f.end() for f in faces), return_exceptions=True)

    # -- pages

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """The page, its WebSocket and static addresses on the host the browser used
        (a cookie set for localhost is not sent to 127.0.0.1)."""
        router = request.app.router
        here = f"{request.scheme}://{request.host}"
        ws_scheme = "wss" if request.scheme == "https" else "ws"
        return {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{ws_scheme}://{request.host}{router['websocket'].url_for()}",
            "config": {"static": {"url": f"{here}{router['static'].url_for(filename='/')}".rstrip("/") + "/"}},
            "application": {"name": self.title},
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One tab: its face starts here (past the gate) and ends when the tab goes."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        await websocket.prepare(request)
        face = Face(
            self.argv, quit_grace=self.quit_grace, term_grace=self.term_grace,
            write_bytes=websocket.send_bytes, write_str=websocket.send_str, close=websocket.close,
            download_manager=self.download_manager, debug=self.debug,
        )
        face.on_link_lost = lambda: asyncio.ensure_future(websocket.close())
        self.faces.add(face)
        try:
            await face.start(width, height)
            await self._process_messages(websocket, face)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("the web face failed")
        finally:
            try:
                await face.end()
            finally:
                self.faces.discard(face)
                if not websocket.closed:
                    await websocket.close()
        return websocket

    # -- running

    async def run(self, stop: asyncio.Event, ready: Callable[[str, int], None] | None = None) -> None:
        """Listen until ``stop`` is set, then end every face."""
        runner = web.AppRunner(await self._make_app(), access_log=None, handle_signals=False, shutdown_timeout=10.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            try:
                await site.start()
            except OSError as exc:
                raise WebError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}", 1) from None
            addresses = runner.addresses
            self.bound = (self.host, addresses[0][1] if addresses else self.port)
            if ready is not None:
                ready(*self.bound)
            await stop.wait()
        finally:
            await runner.cleanup()
            for face in list(self.faces):
                face.kill_now()

    def serve(self, debug: bool = False, ready: Callable[[str, int], None] | None = None) -> None:  # type: ignore[override]
        """Run until SIGINT, SIGTERM or SIGHUP (a closed terminal)."""
        self.debug = debug
        self.initialize_logging()

        async def body() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, stop.set)
            await self.run(stop, ready)

        asyncio.run(body())


def serve_web(
    argv: Sequence[str], *, host: str, port: int, title: str, token: str, allow_remote: bool = False,
    ready: Callable[[str, int], None] | None = None,
) -> None:
    """Serve ``argv`` (one process per tab) on host:port behind the token; returns when stopped."""
    WebServer(argv, host=host, port=port, title=title, token=token, allow_remote=allow_remote).serve(ready=ready)


__all__ = [
    "COOKIE", "Face", "Gate", "TOKEN_ENV", "WebError", "WebServer", "browser_url", "check_listen_address",
    "is_loopback", "peer_uid", "resolve_token", "serve_web",
]
