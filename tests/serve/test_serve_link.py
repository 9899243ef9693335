"""The engine server and RemoteEngine in one process: clients, ordering, slow readers, auth."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from decimal import Decimal

import pytest

from tests.serve_support import SYMBOLS, attached, engine_server, short_home, until  # noqa: F401 (fixture)
from workstation.serve import protocol as P
from workstation.api import IntentError
from workstation.core.model import AlertRaised, OrderEvent, OrderFilled, OrderRequest, OrderType, Quote, Side
from workstation.serve.remote import EngineUnavailable, RemoteEngine
from workstation.serve.rundir import peer_credentials, peer_refusal


def stalled_client(path) -> socket.socket:
    """A client that says hello and then never reads a byte (tiny receive buffer)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(str(path))
    hello = json.dumps({"t": "hello", "v": P.VERSION, "kind": "stalled", "quotes": True})
    s.sendall(hello.encode() + b'\n{"t":"watch","id":1,"symbols":["AAPL","MSFT","BTC/USD"]}\n')
    return s


def test_only_the_owner_may_connect():
    assert peer_refusal(1000, 1000) is None
    assert "not the owner" in peer_refusal(1001, 1000)
    assert peer_refusal(0, 1000) is not None  # not even root
    a, b = socket.socketpair(socket.AF_UNIX)
    try:
        pid, uid, _gid = peer_credentials(a)
        assert (pid, uid) == (os.getpid(), os.getuid())
    finally:
        a.close()
        b.close()


async def test_socket_is_private_to_its_owner(tmp_path):
    async with engine_server(tmp_path) as (_server, _session, _broker, path):
        assert oct(path.stat().st_mode & 0o777) == "0o600"


async def test_a_stranger_is_refused(tmp_path, monkeypatch):
    """The server compares the kernel's peer uid with its own: pretend to be somebody else."""
    async with engine_server(tmp_path) as (server, _session, _broker, path):
        server.owner_uid = os.getuid() + 1
        with pytest.raises(EngineUnavailable, match="not the owner"):
            await attached(path)
        assert not server.links


async def test_two_clients_see_each_others_orders_tagged_by_client(tmp_path):
    async with engine_server(tmp_path) as (_server, session, _broker, path):
        a = await attached(path, "tui")
        b = await attached(path, "tui")
        seen_by_b = []
        b.subscribe(lambda e: seen_by_b.append(e) if isinstance(e, OrderFilled) else None)
        order = await a.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(10)))
        await until(lambda: seen_by_b)
        assert seen_by_b[0].order.id == order.id
        assert [o.id for o in b.orders()] == [order.id]
        other = await b.submit(OrderRequest(symbol="MSFT", side=Side.BUY, qty=Decimal(5), type=OrderType.LIMIT, limit_price=Decimal(400)))
        await until(lambda: other.id in {o.id for o in a.orders()})
        journaled = {o.id: o.source for o in session.journal.orders()}
        assert journaled == {order.id: a.client_id, other.id: b.client_id}
        assert a.client_id != b.client_id and a.client_id.startswith("tui#")
        await a.stop()
        await b.stop()
        def kinds() -> list[str]:
            return [kind for _seq, _ts, kind, _ref, _data in session.journal.events("client.")]

        await until(lambda: kinds().count("client.detach") == 2)
        assert kinds().count("client.attach") == 2


async def test_refusals_come_back_as_one_line(tmp_path):
    async with engine_server(tmp_path) as (_server, _session, _broker, path):
        a = await attached(path)
        with pytest.raises(IntentError, match="no working order|unknown order|no order"):
            await a.cancel("999")
        review = await a.review(OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(1)))
        assert review.ok and review.symbol == "AAPL"
        await a.stop()


async def test_a_stalled_client_never_holds_up_the_engine_or_the_others(tmp_path):
    """Ordering, not timing: while one client reads nothing, the engine processes every event
    and a reading client receives them all; the stalled one ends up cut, not waited for."""
    async with engine_server(tmp_path, must_limit=200) as (server, session, broker, path):
        stuck = stalled_client(path)
        reader = await attached(path, "tui")
        await until(lambda: len(server.links) == 2)
        events = []
        reader.subscribe(lambda e: events.append(e) if isinstance(e, OrderEvent) else None)
        price = 185.0
        for i in range(400):
            for _ in range(25):
                price += 0.01
                broker.move("AAPL", round(price, 2))  # 10,000 quotes in all: each conflates per client
            await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.BUY if i % 2 == 0 else Side.SELL, qty=Decimal(1)))
            session.clock.advance(0.06)  # within the engine's order-rate limit (20 a second)
            if i % 50 == 0:
                await asyncio.sleep(0)  # the engine's loop turns as it would, no more
        assert len(session.oms.orders) == 400  # the engine did all its work
        final = {o.id: o.status for o in session.oms.orders.values()}
        assert all(s.is_terminal for s in final.values())

        def seen_final() -> dict:
            return {e.order.id: e.order.status for e in events if e.order.status.is_terminal}

        await until(lambda: seen_final() == final, timeout=10)  # every order's outcome, none lost
        firsts = list(dict.fromkeys(e.order.id for e in events))
        assert firsts == sorted(firsts, key=int)  # in the order the engine made them
        stalled = [link for link in server.links.values() if link.client_id.startswith("stalled")]
        assert not stalled  # cut when its undeliverable order events passed the bound
        kinds = {(kind, data["reason"]) for _s, _t, kind, _r, data in session.journal.events("client.detach")}
        assert ("client.detach", "cut: too slow") in kinds
        await reader.stop()
        stuck.close()


async def test_a_slow_client_gets_the_latest_quote_not_a_backlog(tmp_path):
    async with engine_server(tmp_path) as (server, _session, broker, path):
        a = await attached(path)
        quotes: list[Quote] = []
        a.subscribe(lambda e: quotes.append(e) if type(e) is Quote and e.symbol == "AAPL" else None)
        for i in range(1000):
            broker.move("AAPL", 185.0 + i / 100)  # no await: the client cannot read in between
        await until(lambda: quotes and quotes[-1].last == pytest.approx(194.99))
        assert len(quotes) < 10  # a thousand ticks arrive as the newest one
        await a.stop()


async def test_alerts_raised_while_nobody_watched_are_there_on_attach(tmp_path):
    async with engine_server(tmp_path) as (_server, session, _broker, path):
        for n in range(3):
            session.bus.publish(AlertRaised(title="Test", message=f"alert {n}", priority="high", ts=1.0 + n))
        a = await attached(path)
        assert a.unread_alerts() == 3
        assert [x.message for x in a.alerts()] == ["alert 0", "alert 1", "alert 2"]
        b = await attached(path)
        await a.ack_alerts()
        await until(lambda: b.unread_alerts() == 0)
        session.bus.publish(AlertRaised(title="Test", message="alert 3"))
        await until(lambda: b.unread_alerts() == 1 and a.unread_alerts() == 1)
        await a.stop()
        await b.stop()


async def test_detaching_leaves_working_orders_alone(tmp_path):
    async with engine_server(tmp_path) as (_server, session, broker, path):
        a = await attached(path)
        order = await a.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(3), type=OrderType.LIMIT, limit_price=Decimal(180)))
        await a.stop()
        assert session.oms.orders[order.id].status.is_working
        broker.move("AAPL", 179.0)  # the engine fills it with nobody attached
        assert session.oms.orders[order.id].status.value == "filled"
        b = await attached(path)
        assert [(o.id, o.status.value) for o in b.orders()] == [(order.id, "filled")]
        assert [p.symbol for p in b.snapshot().positions] == ["AAPL"]
        await b.stop()


async def test_a_client_reconnects_and_resnapshots_after_a_cut(tmp_path):
    async with engine_server(tmp_path) as (server, session, broker, path):
        a = await attached(path)
        first = a.client_id
        server.links[first].drop("test")
        await until(lambda: a.client_id != first and a.attached)
        assert a.snapshots == 2
        order = await a.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(1)))
        assert order.source == a.client_id
        await a.stop()


async def test_protocol_version_and_garbage_are_refused(tmp_path):
    async with engine_server(tmp_path) as (server, _session, _broker, path):
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(b'{"t":"hello","v":99}\n')
        bye = json.loads(await reader.readline())
        assert bye == {"t": "bye", "reason": f"refused: protocol version 99 (this engine speaks {P.VERSION})"}
        writer.close()
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(b"GET / HTTP/1.1\r\n")
        assert json.loads(await reader.readline())["t"] == "bye"
        writer.close()


async def test_tcp_listener_wants_the_token(tmp_path):
    async with engine_server(tmp_path, token="s3cret") as (server, _session, _broker, _path):
        port = await server.listen_tcp("127.0.0.1", 0)
        with pytest.raises(EngineUnavailable, match="token"):
            await RemoteEngine(("127.0.0.1", port), token="wrong").start([])
        ok = RemoteEngine(("127.0.0.1", port), token="s3cret")
        await ok.start(SYMBOLS)
        assert ok.info.profile == "paper"
        await ok.stop()


def test_messages_round_trip_with_exact_money():
    enc = P.encoder()
    req = OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal("0.1"), type=OrderType.LIMIT, limit_price=Decimal("185.10"))
    data = P.line(enc, P.Submit(id=7, request=req))
    assert b'"limit_price":"185.10"' in data and data.endswith(b"\n") and data.count(b"\n") == 1
    back = P.client_decoder(data)
    assert back == P.Submit(id=7, request=req)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as a second user")
async def test_a_second_user_is_refused_by_the_kernel_checked_uid(tmp_path):
    """Even with the file permissions opened up, the peer-credential check turns a stranger away."""
    import shutil
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp(prefix="ws", dir="/tmp"))  # pytest's own folders are 0700
    try:
        await _stranger(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def _stranger(root):
    import subprocess
    import sys

    async with engine_server(root) as (server, _session, _broker, path):
        os.chmod(root, 0o755)
        os.chmod(path, 0o666)  # only the uid check is left standing
        probe = (
            "import os, socket, sys; os.setgid(65534); os.setuid(65534); "
            "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
            "print(s.makefile().readline().strip())"  # refused before any hello is read
        )
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", probe, str(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, err
        bye = json.loads(out)
        assert bye["t"] == "bye" and "uid 65534 is not the owner" in bye["reason"]
        assert not server.links


async def test_faces_attach_only_where_an_engine_listens(short_home):
    """The workstation picks a serving engine when one answers, and embeds one otherwise:
    a socket file left behind by a killed engine is not an engine."""
    from workstation.cli.serve import remote_engine, via_engine
    from workstation.serve.rundir import socket_path

    home = short_home
    (home / "run").mkdir(mode=0o700)
    sock = socket_path("paper")
    sock.parent.mkdir(mode=0o700, exist_ok=True)
    assert remote_engine("paper") is None  # nothing there
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sock))
    stale.close()  # the file stays, nobody listens
    assert remote_engine("paper") is None

    async def never(engine):
        raise AssertionError("no engine to talk to")

    assert await asyncio.to_thread(via_engine, None, None, never) is None  # the one-shot command embeds
    async with engine_server(home / "run", token=None) as (_server, _session, _broker, path):
        sock.unlink()
        path.rename(sock)
        found = remote_engine("paper", kind="tui")
        assert isinstance(found, RemoteEngine)
        await found.start([])
        assert found.info.profile == "paper"
        await found.stop()


def test_status_without_a_runtime_dir_variable_prints_no_warning(tmp_path):
    """A login without XDG_RUNTIME_DIR (su, some SSH set-ups) and no WORKSTATION_HOME: the
    socket's directory falls back quietly; nothing but the status reaches the screen."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "WORKSTATION_HOME")}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"), COLUMNS="200")
    out = subprocess.run([sys.executable, str(ROOT / "main.py"), "status"], capture_output=True, text=True, env=env, timeout=60, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr
    assert "profile paper" in out.stdout
    assert out.stderr == ""
