"""``main.py web`` lets in only the holder of its token, from its own origin, and its faces
end with their link.

Most tests run ``workstation.serve.web.WebServer`` in this process on an ephemeral port with a
stand-in for the workstation (a small Python process that writes a marker file when it
starts), so they need no engine. The last ones run ``main.py web`` itself.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import ROOT, run_cli
from workstation.serve.web import COOKIE, WebServer

TOKEN = "s3cret-" + "x" * 30


def stand_in(marker: Path, *, ignore_term: bool = False) -> list[str]:
    """A face that records its pid on start and then idles (deaf to its stdin)."""
    code = (
        "import os, signal, time\n"
        + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if ignore_term else "")
        + f"open({str(marker)!r}, 'w').write(str(os.getpid()))\n"
        + "time.sleep(60)\n"
    )
    return [sys.executable, "-c", code]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone (reaped between the open and the read: ESRCH)
        return False


async def until(predicate, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class Running:
    """A WebServer listening on 127.0.0.1:<ephemeral> for the length of an ``async with``."""

    def __init__(self, argv: list[str], **kw) -> None:
        self.server = WebServer(argv, host="127.0.0.1", port=0, title="workstation (test)", token=TOKEN, quit_grace=0.5, term_grace=0.5, **kw)
        self.stop = asyncio.Event()

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.server.run(self.stop))
        await until(lambda: self.server.bound is not None or self.task.done())
        if self.task.done():
            self.task.result()
        self.port = self.server.bound[1]
        self.base = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


async def login(http: aiohttp.ClientSession, base: str) -> str:
    """Open the printed address; the session cookie's value."""
    async with http.get(f"{base}/?token={TOKEN}", allow_redirects=False) as resp:
        assert resp.status == 303
        return resp.cookies[COOKIE].value


async def ws_status(http: aiohttp.ClientSession, url: str, **headers) -> int:
    """The status a WebSocket upgrade gets (101 when accepted; the socket is closed again)."""
    try:
        async with http.ws_connect(url, headers=headers) as ws:
            await ws.close()
            return 101
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


def run(coro):
    return asyncio.run(coro)


# --------------------------------------------------------------------------- the gate


def test_without_the_token_there_is_no_page_no_websocket_and_no_face(tmp_path):
    marker = tmp_path / "started"

    async def scenario():
        async with Running(stand_in(marker)) as web, aiohttp.ClientSession() as http:
            pages = []
            for path in ("/", "/static/js/textual.js", "/download/x", "/?fontsize=20"):
                async with http.get(web.base + path, allow_redirects=False) as resp:
                    pages.append((resp.status, COOKIE in resp.cookies))
            ws = await ws_status(http, f"{web.base}/ws?width=80&height=24")
            await asyncio.sleep(0.5)  # time enough for a process to have started
            return pages, ws, len(web.server.faces)

    pages, ws, faces = run(scenario())
    assert pages == [(401, False)] * 4
    assert ws == 401
    assert faces == 0 and not marker.exists()  # refused before textual-serve spawned anything


def test_a_wrong_token_cookie_or_bearer_gets_nothing(tmp_path):
    marker = tmp_path / "started"

    async def scenario():
        async with Running(stand_in(marker)) as web, aiohttp.ClientSession() as http:
            async with http.get(f"{web.base}/?token=guess", allow_redirects=False) as resp:
                page = (resp.status, COOKIE in resp.cookies, resp.headers.get("Location"))
            async with http.get(f"{web.base}/?token={TOKEN[:-1]}", allow_redirects=False) as resp:
                almost = resp.status
            forged = await ws_status(http, f"{web.base}/ws", Cookie=f"{COOKIE}={TOKEN}")  # the token is not the session
            bearer = await ws_status(http, f"{web.base}/ws", Authorization="Bearer guess")
            in_query = await ws_status(http, f"{web.base}/ws?token={TOKEN}")  # the token is accepted on the page only
            await asyncio.sleep(0.5)
            return page, almost, forged, bearer, in_query

    page, almost, forged, bearer, in_query = run(scenario())
    assert page == (401, False, None) and almost == 401
    assert (forged, bearer, in_query) == (401, 401, 401)
    assert not marker.exists()


def test_the_token_sets_a_strict_httponly_cookie_and_leaves_the_address_bar(tmp_path):
    marker = tmp_path / "started"

    async def scenario():
        async with Running(stand_in(marker)) as web, aiohttp.ClientSession() as http:
            async with http.get(f"{web.base}/?token={TOKEN}&fontsize=20", allow_redirects=False) as resp:
                status, location = resp.status, resp.headers["Location"]
                set_cookie = resp.headers["Set-Cookie"]
                session = resp.cookies[COOKIE].value
            cookie = {"Cookie": f"{COOKIE}={session}"}
            async with http.get(web.base + location, headers=cookie) as resp:
                html = await resp.text()
                page = resp.status
            async with http.get(f"{web.base}/static/js/textual.js", headers=cookie) as resp:
                script = resp.status
            async with http.ws_connect(f"{web.base}/ws?width=100&height=30", headers=cookie) as ws:
                await until(marker.exists)
                pid = int(marker.read_text())
                running = alive(pid)
                await ws.close()
            await until(lambda: not alive(pid))  # the tab went: so did its face
            return status, location, set_cookie, session, page, html, script, running, web.port

    status, location, set_cookie, session, page, html, script, running, port = run(scenario())
    assert status == 303 and location == "/?fontsize=20"  # no token left in the address bar
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and "Path=/" in set_cookie
    assert TOKEN not in set_cookie and TOKEN not in session
    assert page == 200 and script == 200
    assert "workstation (test)" in html and f"ws://127.0.0.1:{port}/ws" in html and TOKEN not in html
    assert running


def test_the_page_points_the_browser_back_at_the_host_it_used(tmp_path):
    """Opened as localhost, the page's WebSocket is on localhost too (cookies are per host)."""

    async def scenario():
        async with Running(stand_in(tmp_path / "m")) as web, aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {TOKEN}", "Host": f"localhost:{web.port}"}
            async with http.get(web.base + "/", headers=headers) as resp:
                return web.port, await resp.text()

    port, html = run(scenario())
    assert f"ws://localhost:{port}/ws" in html and f"http://localhost:{port}/static/" in html


def test_a_foreign_origin_is_refused_even_with_the_cookie(tmp_path):
    marker = tmp_path / "started"

    async def scenario():
        async with Running(stand_in(marker)) as web, aiohttp.ClientSession() as http:
            cookie = f"{COOKIE}={await login(http, web.base)}"
            url = f"{web.base}/ws"
            foreign = await ws_status(http, url, Cookie=cookie, Origin="http://evil.example")
            other_port = await ws_status(http, url, Cookie=cookie, Origin=f"http://127.0.0.1:{web.port + 1}")
            null = await ws_status(http, url, Cookie=cookie, Origin="null")
            await asyncio.sleep(0.5)
            spawned = marker.exists()
            own = await ws_status(http, url, Cookie=cookie, Origin=f"http://127.0.0.1:{web.port}")
            alias = await ws_status(http, url, Cookie=cookie, Origin=f"http://localhost:{web.port}")
            return foreign, other_port, null, spawned, own, alias

    foreign, other_port, null, spawned, own, alias = run(scenario())
    assert (foreign, other_port, null) == (403, 403, 403)
    assert not spawned
    assert own == 101 and alias == 101  # the server's own origin, by either loopback name


def test_a_bearer_header_opens_a_session_without_a_cookie(tmp_path):
    marker = tmp_path / "started"

    async def scenario():
        async with Running(stand_in(marker)) as web, aiohttp.ClientSession() as http:
            async with http.get(web.base + "/", headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                page = resp.status
            async with http.ws_connect(f"{web.base}/ws", headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
                await until(marker.exists)
                await ws.close()
            return page

    assert run(scenario()) == 200


def test_a_rebound_host_name_is_refused_on_a_loopback_listener(tmp_path):
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1."""

    async def scenario():
        async with Running(stand_in(tmp_path / "m")) as web, aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {TOKEN}", "Host": f"evil.example:{web.port}"}
            async with http.get(web.base + "/", headers=headers) as resp:
                return resp.status

    assert run(scenario()) == 403


# --------------------------------------------------------------------------- faces end with their link


def test_a_face_deaf_to_quit_and_sigterm_is_killed_when_its_tab_closes(tmp_path):
    marker = tmp_path / "started"

    async def scenario():
        async with Running(stand_in(marker, ignore_term=True)) as web, aiohttp.ClientSession() as http:
            async with http.ws_connect(f"{web.base}/ws", headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
                await until(marker.exists)
                pid = int(marker.read_text())
                await ws.close()
            await until(lambda: not alive(pid) and not web.server.faces, timeout=10)  # reaped, then forgotten
            return pid, len(web.server.faces)

    pid, faces = run(scenario())
    assert not alive(pid) and faces == 0


def test_stopping_the_web_server_ends_every_face(tmp_path):
    markers = [tmp_path / "a", tmp_path / "b"]

    async def scenario():
        web = Running(stand_in(tmp_path / "unused"))
        pids = []
        async with web, aiohttp.ClientSession() as http:
            sockets = []
            for marker in markers:
                web.server.argv = stand_in(marker, ignore_term=True)
                sockets.append(await http.ws_connect(f"{web.base}/ws", headers={"Authorization": f"Bearer {TOKEN}"}))
                await until(marker.exists)
                pids.append(int(marker.read_text()))
            assert all(alive(p) for p in pids)
            # leaving the block stops the server with both tabs still open
        return pids

    pids = run(scenario())
    assert not any(alive(p) for p in pids)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_web_server_takes_its_faces_with_it(tmp_path):
    """SIGKILL leaves no shutdown to run: the kernel tells the face (its stdin EOF alone would not)."""
    marker = tmp_path / "started"
    script = (
        "import sys\n"
        "from workstation.serve.web import serve_web\n"
        f"serve_web({stand_in(marker)!r}, host='127.0.0.1', port=0, title='t', token={TOKEN!r},\n"
        "          ready=lambda host, port: print(port, flush=True))\n"
    )
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=str(ROOT), env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        port = int(server.stdout.readline())

        async def tab() -> int:
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(f"http://127.0.0.1:{port}/ws", headers={"Authorization": f"Bearer {TOKEN}"}):
                    await until(marker.exists)
                    pid = int(marker.read_text())
                    assert alive(pid)
                    server.kill()
                    server.wait(10)
                    await until(lambda: not alive(pid), timeout=10)
                    return pid

        assert not alive(asyncio.run(tab()))
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


# --------------------------------------------------------------------------- another user on this machine


def _raw_status(port: int, request: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request.encode())
        head = s.recv(4096).decode("latin-1")
    return int(head.split()[1])


@pytest.mark.skipif(not hasattr(os, "fork") or os.geteuid() != 0 or not Path("/proc/net/tcp").exists(), reason="needs root (to become another user) and Linux")
def test_another_local_user_gets_no_session(tmp_path):
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' user")
    import encodings.idna  # noqa: F401 (the child cannot import once it is nobody: the interpreter's files are root's)

    marker = tmp_path / "started"

    def as_nobody(port: int, requests: list[str]) -> list[int]:
        """Fork, become nobody, send each raw request; the statuses."""
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: no imports, no event loop, only sockets
            try:
                os.close(read)
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
                out = ",".join(str(_raw_status(port, r)) for r in requests)
                os.write(write, out.encode())
            except BaseException as exc:
                os.write(write, f"error {exc!r}".encode())
            finally:
                os._exit(0)
        os.close(write)
        data = b""
        while chunk := os.read(read, 1024):
            data += chunk
        os.close(read)
        os.waitpid(pid, 0)
        assert not data.startswith(b"error"), data.decode()
        return [int(x) for x in data.decode().split(",") if x]

    async def scenario():
        async with Running(stand_in(marker)) as web, aiohttp.ClientSession() as http:
            session = await login(http, web.base)  # the owner's, as another user might steal it from a shared browser
            host = f"Host: 127.0.0.1:{web.port}\r\n"
            upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            requests = [
                f"GET / HTTP/1.1\r\n{host}Connection: close\r\n\r\n",
                f"GET /ws HTTP/1.1\r\n{host}{upgrade}\r\n",
                f"GET /ws HTTP/1.1\r\n{host}{upgrade}Cookie: {COOKIE}={session}\r\n\r\n",
                f"GET /ws HTTP/1.1\r\n{host}{upgrade}Authorization: Bearer {TOKEN}\r\n\r\n",
            ]
            loop = asyncio.get_running_loop()
            statuses = await loop.run_in_executor(None, as_nobody, web.port, requests)
            await asyncio.sleep(0.5)
            spawned = marker.exists()
            owner = await loop.run_in_executor(None, lambda: [_raw_status(web.port, r) for r in requests])
            return statuses, spawned, owner

    statuses, spawned, owner = run(scenario())
    assert owner == [401, 401, 101, 101]
    # no token: no page, no WebSocket; and even holding the owner's cookie or token (which the
    # same requests from the owner's uid turn into a session): not the owner, no session
    assert statuses == [403, 403, 403, 403]
    assert not spawned


# --------------------------------------------------------------------------- main.py web itself


def test_a_host_beyond_this_machine_needs_allow_remote(home):
    r = run_cli("web", "--host", "0.0.0.0", "--port", "8123", home=home)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --host 0.0.0.0")
    assert "ssh -L 8123:127.0.0.1:8123" in lines[0] and "--allow-remote" in lines[0]
    assert not (home / "data" / "paper" / "serve.log").exists()  # refused before starting an engine


def _web_faces(home: Path) -> list[int]:
    """Pids of the ``attach --as web`` processes running for this WORKSTATION_HOME."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"attach" in cmd and b"web" in cmd and f"WORKSTATION_HOME={home}".encode() in env and alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


@pytest.mark.slow
def test_a_web_session_started_its_engine_stops_it_and_leaves_no_token_behind(tmp_path):
    import json
    import shutil
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="ws", dir="/tmp"))  # short: the engine's socket lives under it
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, WORKSTATION_HOME=str(home), PYTHONPATH=str(ROOT), WORKSTATION_WEB_TOKEN=TOKEN)
    web = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "web", "--port", str(port), "--stop-engine"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT), start_new_session=True,
    )
    try:
        said = []
        while not any("?token=" in line for line in said):
            line = web.stderr.readline()
            assert line, "".join(said) + web.stderr.read()
            said.append(line)
        url = next(line for line in said if "?token=" in line).split()[-1]
        assert url == f"http://127.0.0.1:{port}/?token={TOKEN}"
        started = next(line for line in said if "started one in the background" in line)
        assert "it stops when the web server exits" in started

        async def tab() -> tuple[list[str], list[int]]:
            async with aiohttp.ClientSession() as http:
                session = await login(http, f"http://127.0.0.1:{port}")
                cookie = {"Cookie": f"{COOKIE}={session}"}
                async with http.ws_connect(f"http://127.0.0.1:{port}/ws?width=160&height=50", headers=cookie) as ws:
                    loop = asyncio.get_running_loop()
                    deadline = loop.time() + 40
                    while loop.time() < deadline:
                        try:
                            await asyncio.wait_for(ws.receive(), 0.5)
                        except TimeoutError:
                            pass
                        r = await loop.run_in_executor(None, lambda: run_cli("status", "--json", home=home))
                        clients = json.loads(r.stdout).get("clients", []) if r.returncode == 0 else []
                        if any(c.startswith("web#") for c in clients):
                            r = await loop.run_in_executor(None, lambda: run_cli("buy", "1", "AAPL", home=home))
                            assert r.returncode == 0, r.stderr
                            return clients, _web_faces(home)
            return [], []

        clients, faces = asyncio.run(tab())
        assert any(c.startswith("web#") for c in clients), clients
        assert faces
        os.kill(web.pid, signal.SIGTERM)  # the web server alone, as `kill` would
        out, err = web.communicate(timeout=60)
        assert web.returncode == 0, err
        assert "engine pid" in err and "stopped" in err
        assert run_cli("status", "--json", home=home).returncode in (0, 1)
        assert not any(alive(p) for p in faces)  # its face ended with it
        r = run_cli("serve", "--stop", home=home)
        assert r.returncode == 1 and "no engine" in r.stderr  # and so did the engine it started

        # the token: printed once, in the address; nowhere else
        output = "".join(said) + err + out
        assert output.count(TOKEN) == 1
        written = [p for p in home.rglob("*") if p.is_file()]
        assert any(p.name.startswith("journal") for p in written)
        leaked = [str(p) for p in written if TOKEN.encode() in p.read_bytes()]
        assert leaked == []
    finally:
        if web.poll() is None:
            os.killpg(web.pid, signal.SIGKILL)
            web.wait()
        for pid in _web_faces(home):
            os.kill(pid, signal.SIGKILL)
        run_cli("serve", "--stop", home=home)
        shutil.rmtree(home, ignore_errors=True)


def test_the_settings_file_can_hold_the_token(tmp_path, monkeypatch):
    """[web] token in the settings file is the token the web face asks for."""
    from workstation.core.config import load_settings
    from workstation.serve.web import resolve_token

    path = tmp_path / "settings.toml"
    path.write_text('[web]\ntoken = "a-long-settings-token-0123"\n')
    settings = load_settings(path)
    assert resolve_token(None or settings.web.token or None) == "a-long-settings-token-0123"
