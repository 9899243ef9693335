"""``main.py serve`` as a user runs it: a real process, clients that come, go and get killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.serve_support import short_home  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def paper_socket() -> Path:
    """The paper account's socket under this test's WORKSTATION_HOME."""
    from workstation.serve.rundir import socket_path

    return socket_path("paper")


def current_holder(profile: str):
    from workstation.serve.owner import current_holder as holder

    return holder(profile)


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, WORKSTATION_HOME=str(home), PYTHONPATH=str(ROOT))
    return env


def start_serve(home: Path, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "serve", "-s", "AAPL", "-s", "MSFT", *extra],
        env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
    )
    seen = []
    for _ in range(50):  # the engine logs (strategies starting...) before its banner
        line = proc.stderr.readline()
        seen.append(line)
        if "serving profile paper on" in line or not line:
            break
    assert "serving profile paper on" in seen[-1], "".join(seen) + (proc.stderr.read() if proc.poll() is not None else "")
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep draining: a full pipe would block the engine
    return proc


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def resting_limit(home: Path, symbol: str) -> str:
    """A buy limit 5% under the market: inside the price collar, far from filling."""
    r = run_cli("prices", "-s", symbol, "--json", home=home)
    assert r.returncode == 0, r.stderr
    return f"{float(json.loads(r.stdout)[0]['last']) * 0.95:.2f}"


def status(home: Path) -> dict:
    r = run_cli("status", "--json", home=home)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def journal_orders(home: Path) -> list[dict]:
    import sqlite3

    db = sqlite3.connect(str(home / "data" / "paper" / "journal.sqlite"))
    try:
        return [json.loads(row[0]) for row in db.execute("SELECT data FROM orders ORDER BY id")]
    finally:
        db.close()


async def attach_pilot(home: Path):
    from workstation.serve.remote import RemoteEngine

    return RemoteEngine(paper_socket(), kind="tui")


def test_engine_outlives_a_killed_workstation_and_shows_it_all_on_reattach(short_home):
    engine = start_serve(short_home)
    client = None
    try:
        report = short_home / "client.json"
        limit = resting_limit(short_home, "MSFT")
        client = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "serve_tui_client.py"), str(paper_socket()), str(report), "buy 5 AAPL", f"buy 2 MSFT limit {limit}"],
            env=_env(short_home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        wait_for(report.exists, timeout=60)
        sent = json.loads(report.read_text())
        assert len(sent["orders"]) == 2 and sent["client"].startswith("tui#")
        assert set(sent["orders"]) <= set(sent["shown"])  # the Orders pane showed them
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=10)

        # the engine kept running, its working order untouched, and it keeps trading
        assert engine.poll() is None
        doc = status(short_home)
        assert [o["id"] for o in doc["open_orders"]] == [sent["orders"][1]]
        assert {p["symbol"]: p["qty"] for p in doc["positions"]} == {"AAPL": "5"}
        r = run_cli("buy", "3", "AAPL", home=short_home)  # activity while no workstation is attached
        assert r.returncode == 0 and "filled 3" in r.stdout, r.stderr

        # attach again: the same state at once, the kill recorded as a lost connection
        import asyncio

        async def reattach():
            from workstation.ui.app import WorkstationApp
            from workstation.core.config import Settings, UISettings
            from workstation.ui.panes.orders import OrdersPane
            from workstation.ui.panes.positions import PositionsPane
            from workstation.ui.watchlists import Watchlists

            remote = await attach_pilot(short_home)
            settings = Settings(watchlist=["AAPL", "MSFT"], ui=UISettings(confirm_orders=False))
            app = WorkstationApp(remote, settings, watchlists=Watchlists.load(short_home / "wl.json", ["AAPL", "MSFT"]), save_settings=False)
            async with app.run_test(size=(160, 50)) as pilot:
                while not app._started:
                    await pilot.pause(0.02)
                app.query_one(OrdersPane).action_toggle_view()  # every order of the day, not only the working ones
                app.repaint()
                await pilot.pause()
                shown = app.query_one(OrdersPane).keys
                positions = app.query_one(PositionsPane).keys
                await pilot.press("ctrl+d")  # detach
            return shown, positions, remote.client_id

        shown, positions, again = asyncio.run(reattach())
        assert set(sent["orders"]) <= set(shown) and len(shown) == 3
        assert positions == ["AAPL"]
        assert again != sent["client"]
        assert engine.poll() is None  # detaching left it running
        sources = {o["id"]: o["source"] for o in journal_orders(short_home)}
        assert sources[sent["orders"][0]] == sent["client"] and sources[sent["orders"][1]] == sent["client"]
        assert next(s for i, s in sources.items() if i not in sent["orders"]).startswith("cli#")
    finally:
        if client is not None and client.poll() is None:
            client.kill()
        stop(engine)
    assert engine.returncode == 0
    assert not paper_socket().exists()


def test_a_killed_engine_restarts_from_its_journal_and_the_client_reattaches(short_home):
    import asyncio

    engine = start_serve(short_home)
    try:
        assert run_cli("buy", "7", "AAPL", home=short_home).returncode == 0
        r = run_cli("buy", "1", "MSFT", "--limit", resting_limit(short_home, "MSFT"), "--tif", "gtc", home=short_home)
        assert r.returncode == 0, r.stderr

        async def scenario():
            from workstation.serve.remote import RemoteEngine

            remote = RemoteEngine(paper_socket(), kind="tui")
            await remote.start(["AAPL"])
            before = {o.id: o.status for o in remote.orders()}
            nonlocal engine
            engine.send_signal(signal.SIGKILL)
            engine.wait(timeout=10)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while remote.attached and loop.time() < deadline:
                await asyncio.sleep(0.02)
            assert not remote.attached  # it noticed
            engine = await loop.run_in_executor(None, start_serve, short_home)
            deadline = loop.time() + 30
            while not remote.attached and loop.time() < deadline:
                await asyncio.sleep(0.05)
            after = {o.id: o.status for o in remote.orders()}
            held = {p.symbol: p.qty for p in remote.snapshot().positions}
            await remote.stop()
            return before, after, held, remote.snapshots

        before, after, held, snapshots = asyncio.run(scenario())
        assert snapshots == 2
        assert after == before and len(after) == 2
        assert str(held["AAPL"]) == "7"
    finally:
        stop(engine)


def test_detach_writes_pid_and_log_and_stop_ends_it(short_home):
    r = run_cli("serve", "--detach", "-s", "AAPL", home=short_home)
    try:
        assert r.returncode == 0, r.stderr
        assert "serving in the background" in r.stdout
        holder = current_holder("paper")
        assert holder is not None and holder.kind == "serve"
        os.kill(holder.pid, 0)
        assert (short_home / "data" / "paper" / "serve.log").exists()
        again = run_cli("serve", "-s", "AAPL", home=short_home)
        assert again.returncode == 1 and f"is owned by an engine (main.py serve), pid {holder.pid}" in again.stderr
        assert "Traceback" not in again.stderr
        assert status(short_home)["clients"]  # answered by the engine, not a second one
    finally:
        s = run_cli("serve", "--stop", home=short_home)
    assert s.returncode == 0, s.stderr
    assert current_holder("paper") is None
    assert run_cli("serve", "--stop", home=short_home).returncode == 1


def test_attach_without_an_engine_says_how_to_start_one(short_home):
    r = run_cli("attach", home=short_home)
    assert r.returncode == 1
    assert r.stderr.strip() == "error: no engine is serving profile 'paper': start one with `main.py serve --detach`"


def test_web_serves_the_workstation_on_localhost(short_home):
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = start_serve(short_home)
    token = "web-token-for-this-test-0123456789"
    auth = {"Authorization": f"Bearer {token}"}  # the page and its websocket want the token
    web = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "web", "--port", str(port)],
        env=dict(_env(short_home), WORKSTATION_WEB_TOKEN=token), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
    )
    try:
        def page():
            try:
                with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/", headers=auth), timeout=2) as resp:
                    return resp.read().decode()
            except OSError:
                return None

        html = wait_for(page, timeout=30)
        assert "workstation (paper)" in html and f"ws://127.0.0.1:{port}/ws" in html

        # a browser tab: the websocket starts an attached workstation, which the engine sees
        import asyncio

        import aiohttp

        async def tab() -> list[str]:
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(f"http://127.0.0.1:{port}/ws?width=160&height=50", headers=auth) as ws:
                    loop = asyncio.get_running_loop()
                    deadline = loop.time() + 30
                    while loop.time() < deadline:
                        try:
                            await asyncio.wait_for(ws.receive(), 0.5)
                        except TimeoutError:
                            pass
                        clients = await loop.run_in_executor(None, lambda: status(short_home)["clients"])
                        if any(c.startswith("web#") for c in clients):
                            return clients
            return []

        clients = asyncio.run(tab())
        assert any(c.startswith("web#") for c in clients), clients
    finally:
        stop(web, signal.SIGINT)
        stop(engine)


def test_tcp_listener_from_the_settings_file_wants_its_token(short_home):
    import asyncio
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (short_home / "settings.toml").write_text(f'[serve]\ntcp_port = {port}\ntoken = "letmein"\n')
    engine = start_serve(short_home)
    try:
        async def attach(token):
            from workstation.serve.remote import EngineUnavailable, RemoteEngine

            remote = RemoteEngine(("127.0.0.1", port), kind="tui", token=token)
            try:
                await remote.start(["AAPL"])
            except EngineUnavailable as exc:
                return str(exc)
            client = remote.client_id
            await remote.stop()
            return client

        assert "wrong or missing token" in asyncio.run(attach("guess"))
        assert asyncio.run(attach("letmein")).startswith("tui#")
    finally:
        stop(engine)


def test_a_tcp_listener_without_a_token_is_refused_at_start(short_home):
    (short_home / "settings.toml").write_text("[serve]\ntcp_port = 7011\n")
    r = run_cli("serve", home=short_home)
    assert r.returncode == 2 and r.stderr.strip() == "error: [serve] tcp_port is set but token is empty: a TCP listener needs a token"


def test_kill_risk_and_alert_commands_run_in_the_serving_engine(short_home):
    engine = start_serve(short_home)
    try:
        assert run_cli("buy", "5", "AAPL", home=short_home).returncode == 0
        assert run_cli("buy", "1", "MSFT", "--limit", resting_limit(short_home, "MSFT"), home=short_home).returncode == 0
        r = run_cli("alert", "add", "AAPL > 100000", home=short_home)
        assert r.returncode == 0 and r.stdout.startswith("alert u1: "), r.stderr
        r = run_cli("risk", "set", "max_order_qty", "500", home=short_home)
        assert r.returncode == 0 and "max_order_qty = 500" in r.stdout, r.stderr
        r = run_cli("buy", "600", "AAPL", home=short_home)  # the engine applies the new limit at once
        assert r.returncode in (1, 2) and "500" in r.stderr, r.stderr
        r = run_cli("kill", "--yes", "--reason", "test", home=short_home)
        assert r.returncode == 0 and "KILLED" in r.stdout, r.stderr
        doc = status(short_home)
        assert doc["positions"] == [] and doc["open_orders"] == []
        assert doc["risk"]["breaker"]["tripped"] is True
        assert engine.poll() is None
        r = run_cli("risk", "reset-breaker", "--yes", home=short_home)
        assert r.returncode == 0 and "circuit breaker reset" in r.stdout, r.stderr
    finally:
        stop(engine)
    # everything above was written by the one serving process, each tagged with its client
    import sqlite3

    db = sqlite3.connect(str(short_home / "data" / "paper" / "journal.sqlite"))
    try:
        kinds = [k for (k,) in db.execute("SELECT kind FROM events ORDER BY seq")]
        sources = {json.loads(d)["source"] for (d,) in db.execute("SELECT data FROM orders")}
        killers = {json.loads(d).get("by") for (d,) in db.execute("SELECT data FROM events WHERE kind = 'risk.kill'")}
    finally:
        db.close()
    assert "alert.rule" in kinds and "risk.set" in kinds
    assert all(s.startswith("cli#") or s == "kill-switch" for s in sources), sources
    assert "kill-switch" in sources  # the flatten orders, through the same order manager
    assert {k for k in killers if k} and all(k.startswith("cli#") for k in killers if k), killers


def test_a_strategy_keeps_trading_while_no_workstation_is_attached(short_home):
    import asyncio

    (short_home / "settings.toml").write_text(
        'watchlist = ["AAPL", "MSFT"]\n\n[[strategies]]\nplugin = "twap"\nsymbols = ["AAPL"]\nautostart = true\n'
        'params = { side = "buy", qty = "100", duration = 100.0, slices = 100 }\n'
    )
    engine = start_serve(short_home)
    client = None
    try:
        report = short_home / "client.json"
        client = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "serve_tui_client.py"), str(paper_socket()), str(report), "buy 1 MSFT"],
            env=_env(short_home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        wait_for(report.exists, timeout=60)
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=10)

        def twap_orders() -> int:
            r = run_cli("orders", "--json", home=short_home)
            assert r.returncode == 0, r.stderr
            return sum(1 for o in json.loads(r.stdout) if o["strategy"] == "twap")

        before = twap_orders()
        assert wait_for(lambda: twap_orders() >= before + 2, timeout=20)  # slices keep going, nobody watching

        async def look():
            from workstation.serve.remote import RemoteEngine

            remote = RemoteEngine(paper_socket(), kind="tui")
            await remote.start(["AAPL"])
            rows = {r.name: r for r in remote.strategies.rows()}
            params = {p.name: p.value for p in remote.strategies.params("twap")}
            state = remote.strategies.pause("twap")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while loop.time() < deadline and remote.strategies.rows()[0].state != "paused":
                await asyncio.sleep(0.05)
            after = remote.strategies.rows()[0].state
            await remote.stop()
            return rows, params, state, after

        rows, params, state, after = asyncio.run(look())
        assert rows["twap"].state == "running" and rows["twap"].trades >= 2
        assert params["slices"] == "100"
        assert state == "paused" and after == "paused"  # a face's intent, carried out by the engine
        assert engine.poll() is None
    finally:
        if client is not None and client.poll() is None:
            client.kill()
        stop(engine)
