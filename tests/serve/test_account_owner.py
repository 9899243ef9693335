"""One engine owns an account: commands from several terminals at once go through it.

Every process that writes an account's journal holds its lock and listens on its socket;
every other one reaches the account through that process, or (read-only commands) reads
the journal read-only. These tests run real processes at once on one data directory.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.serve_support import short_home  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def _env(home: Path) -> dict[str, str]:
    return dict(os.environ, WORKSTATION_HOME=str(home), PYTHONPATH=str(ROOT), COLUMNS="200")


def spawn(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *args], env=_env(home), cwd=str(ROOT),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def journal_rows(journal: Path) -> tuple[list[dict], list[dict]]:
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        orders = [json.loads(r[0]) for r in db.execute("SELECT data FROM orders ORDER BY id")]
        fills = [{"order_id": r[0], "qty": Decimal(r[1]), "exec_id": r[2]} for r in db.execute("SELECT order_id, qty, exec_id FROM fills")]
    finally:
        db.close()
    return orders, fills


def assert_books_agree(journal: Path) -> list[dict]:
    """Every order's filled quantity is the sum of its fills and never more than its quantity."""
    orders, fills = journal_rows(journal)
    by_order: dict[str, Decimal] = {}
    for f in fills:
        by_order[f["order_id"]] = by_order.get(f["order_id"], Decimal(0)) + f["qty"]
    for o in orders:
        filled = Decimal(o["filled_qty"])
        assert filled == by_order.get(o["id"], Decimal(0)), o
        assert filled <= Decimal(o["qty"]), o
    assert set(by_order) <= {o["id"] for o in orders}
    return orders


def settings(home: Path, risk: str, cash: int = 100_000) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text(f"[profiles.paper]\ninitial_cash = {cash}\n[profiles.paper.risk]\n{risk}\n")


OWNER_LINE = "is owned by"


@pytest.mark.timeout(400)
@pytest.mark.parametrize("size,rounds", [(2, 8), (4, 8), (8, 8)])  # 24 rounds in all, each size on its own account (OWNER_ROUNDS=N for more)
def test_concurrent_commands_fill_each_order_once_and_hold_the_limits(short_home, size, rounds):
    """N processes (2, 4, 8) running buy/status/orders at once on one data directory, 24
    rounds: no order is filled twice, no limit is passed, and each command either did its
    work through the account's owner or said who holds the account."""
    home = short_home
    settings(home, "max_position_qty = 400\nmax_orders_per_second = 1000\nmax_orders_per_minute = 10000")
    rng = random.Random(14 + size)
    rounds = int(os.environ.get("OWNER_ROUNDS", str(rounds)))
    journal = home / "data" / "paper" / "journal.sqlite"
    accepted = 0
    for _n in range(rounds):
        commands = []
        for _ in range(size):
            pick = rng.random()
            if pick < 0.5:
                commands.append(("buy", str(rng.choice((50, 100))), "AAPL"))
            elif pick < 0.6:
                commands.append(("sell", "50", "AAPL"))
            elif pick < 0.8:
                commands.append(("status", "--json"))
            else:
                commands.append(("orders", "--json"))
        procs = [(cmd, spawn(home, *cmd)) for cmd in commands]
        for cmd, proc in procs:
            out, err = proc.communicate(timeout=60)
            assert "Traceback" not in err, (cmd, err)
            if proc.returncode == 0:
                if cmd[0] in ("buy", "sell"):
                    accepted += 1
                else:
                    json.loads(out)  # a whole document, from the owner or the read-only journal
                continue
            lines = err.strip().splitlines()
            assert len(lines) == 1, (cmd, err)
            assert lines[0].startswith("error: rejected:") or OWNER_LINE in lines[0], (cmd, err)
    orders = assert_books_agree(journal)
    assert accepted > 0
    # the position never passed the limit, at any point of the day
    _, fills = journal_rows(journal)
    sides = {o["id"]: o["side"] for o in orders}
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    position = Decimal(0)
    for order_id, qty in db.execute("SELECT order_id, qty FROM fills ORDER BY seq"):
        position += Decimal(qty) if sides[order_id] == "buy" else -Decimal(qty)
        assert position <= 400
    db.close()
    working = [o for o in orders if o["status"] in ("submitted", "accepted", "partially_filled")]
    assert not [o for o in working if o["type"] == "market"], working


def test_two_concurrent_buys_cannot_pass_a_position_limit_together(short_home):
    """Five times, two buys of the whole limit at once, each time on a symbol not held yet (the
    limit is per symbol: no sell between rounds, which kept the processes per round to two)."""
    home = short_home
    settings(home, "max_position_qty = 100")
    journal = home / "data" / "paper" / "journal.sqlite"
    for symbol in ("AAPL", "MSFT", "NVDA", "TSLA", "SPY"):
        procs = [spawn(home, "buy", "100", symbol) for _ in range(2)]
        results = [p.communicate(timeout=60) + (p.returncode,) for p in procs]
        oks = [r for r in results if r[2] == 0]
        assert len(oks) <= 1, results
        orders, fills = journal_rows(journal)
        mine = {o["id"] for o in orders if o["symbol"] == symbol}
        assert sum(f["qty"] for f in fills if f["order_id"] in mine) <= 100, (symbol, fills)
    r = run_cli("positions", "--json", home=home)
    rows = json.loads(r.stdout)
    assert rows and all(Decimal(p["qty"]) <= 100 for p in rows), rows


def test_status_never_fills_an_order_while_a_buy_owns_the_account(short_home):
    """The old double fill: every command replayed the journal's working orders into a paper
    market of its own. Now status reads the journal read-only or asks the owner.

    Twice, a buy that owns the account for about five seconds (its market order fills over
    several quotes) while two waves of three status commands run (twelve readers in all, as
    many as four buys with three readers each, at half the buys' waiting)."""
    home = short_home
    settings(home, "max_order_notional = 10000000\nmax_orders_per_second = 1000", cash=100_000_000)
    journal = home / "data" / "paper" / "journal.sqlite"
    for _ in range(2):
        buy = spawn(home, "buy", "6000", "AAPL")
        for _wave in range(2):
            readers = [spawn(home, "status", "--json") for _ in range(3)]
            for p in readers:
                _out, err = p.communicate(timeout=60)
                assert p.returncode == 0, err
        _out, err = buy.communicate(timeout=60)
        assert buy.returncode == 0, err
    orders = assert_books_agree(journal)  # never more than 6000 on any order, fills = filled
    assert len(orders) == 2 and "6000" in [o["filled_qty"] for o in orders]
    # (a market order bigger than the displayed size fills over several quotes: one the
    # command stopped waiting for stays working, in the journal, for the next owner)


def test_a_view_writes_nothing(short_home):
    """status, orders, positions, fills, risk show and alert list on an account nobody owns
    leave the journal's bytes as they were."""
    home = short_home
    assert run_cli("buy", "10", "AAPL", home=home).returncode == 0
    assert run_cli("buy", "5", "MSFT", "--limit", "1", "--tif", "gtc", home=home).returncode != 0
    run_cli("buy", "5", "AAPL", "--limit", "190", "--tif", "gtc", home=home)
    journal = home / "data" / "paper" / "journal.sqlite"
    before = journal.read_bytes()
    for cmd in (("status",), ("orders",), ("positions",), ("fills",), ("risk", "show"), ("alert", "list"), ("prices", "-s", "AAPL")):
        r = run_cli(*cmd, home=home)
        assert r.returncode == 0, (cmd, r.stderr)
    assert journal.read_bytes() == before
    assert not (journal.parent / "journal.sqlite-wal").exists() or (journal.parent / "journal.sqlite-wal").stat().st_size == 0


def test_data_dir_is_part_of_the_socket_identity(short_home):
    """serve --data-dir A and commands with --data-dir B never meet; a second serve on A is
    refused; a serve on B runs beside A without touching A's socket."""
    from tests.serve.test_serve_process import stop

    home = short_home
    a, b = home / "A", home / "B"
    serve_a = spawn(home, "serve", "--data-dir", str(a), "-s", "AAPL")
    try:
        _wait_banner(serve_a)
        r = run_cli("buy", "7", "AAPL", "--data-dir", str(b), home=home)
        assert r.returncode == 0, r.stderr
        orders_a, _ = journal_rows(a / "paper" / "journal.sqlite")
        orders_b, _ = journal_rows(b / "paper" / "journal.sqlite")
        assert [o["qty"] for o in orders_b] == ["7"] and orders_a == []
        second = run_cli("serve", "--data-dir", str(a), home=home, timeout=30)
        assert second.returncode == 1 and "is owned by an engine (main.py serve), pid" in second.stderr, second.stderr
        serve_b = spawn(home, "serve", "--data-dir", str(b), "-s", "AAPL")
        try:
            _wait_banner(serve_b)
            st = json.loads(run_cli("status", "--json", "--data-dir", str(a), home=home).stdout)
            assert st["served_by"] == serve_a.pid
            st = json.loads(run_cli("status", "--json", "--data-dir", str(b), home=home).stdout)
            assert st["served_by"] == serve_b.pid
        finally:
            stop(serve_b)
        st = json.loads(run_cli("status", "--json", "--data-dir", str(a), home=home).stdout)
        assert st["served_by"] == serve_a.pid  # stopping B left A's socket alone
    finally:
        stop(serve_a)


def test_a_command_on_a_served_account_goes_through_the_engine(short_home):
    """buy run on the data directory of a running serve: the engine places it (its cash view
    stays right), and an explicit --config that is not the engine's is refused."""
    from tests.serve.test_serve_process import stop

    home = short_home
    serve = spawn(home, "serve", "-s", "AAPL")
    try:
        _wait_banner(serve)
        r = run_cli("buy", "7", "AAPL", "--json", home=home)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["id"] == "1"
        st = json.loads(run_cli("status", "--json", home=home).stdout)
        orders, _ = journal_rows(home / "data" / "paper" / "journal.sqlite")
        assert orders[0]["source"].startswith("cli#")  # placed by the engine for an attached client
        cost = Decimal(orders[0]["avg_fill_price"]) * 7
        assert Decimal(st["account"]["cash"]) == Decimal(100_000) - cost
        other = home / "other.toml"
        other.write_text("")
        r = run_cli("buy", "1", "AAPL", "--config", str(other), home=home)
        assert r.returncode == 2 and "run this command without --config" in r.stderr
    finally:
        stop(serve)


def test_a_second_owner_waits_then_names_the_holder(short_home):
    """A process that holds the lock but does not answer: a command waits up to 10 s, then one
    line naming the holder."""
    home = short_home
    code = (
        "import time, sys; sys.path.insert(0, %r)\n"
        "from workstation.serve.owner import AccountLock\n"
        "lock = AccountLock('paper'); assert lock.try_acquire('cli', command='hold it')\n"
        "print('held', flush=True); time.sleep(60)\n"
    ) % str(ROOT)
    holder = subprocess.Popen([sys.executable, "-c", code], env=_env(home), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        r = run_cli("buy", "1", "AAPL", home=home, timeout=60)
        waited = time.monotonic() - started
        assert r.returncode == 1
        assert f"is owned by a command, pid {holder.pid} (hold it)" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert waited >= 9.5
        # reading never waits for it
        r = run_cli("status", "--json", home=home)
        assert r.returncode == 0
    finally:
        holder.kill()
        holder.wait()
    # a killed owner leaves no lock behind: the kernel let it go
    r = run_cli("buy", "1", "AAPL", home=home)
    assert r.returncode == 0, r.stderr


def test_files_are_private_from_the_first_start(short_home):
    home = short_home
    assert run_cli("buy", "1", "AAPL", home=home).returncode == 0
    data = home / "data"
    mode = lambda p: p.stat().st_mode & 0o777  # noqa: E731
    assert mode(data) == 0o700 and mode(data / "paper") == 0o700
    assert mode(data / "paper" / "journal.sqlite") == 0o600
    assert mode(data / "paper" / "engine.lock") == 0o600


def _wait_banner(proc: subprocess.Popen) -> None:
    import threading

    seen = []
    for _ in range(50):
        line = proc.stderr.readline()
        seen.append(line)
        if "serving profile" in line or not line:
            break
    assert "serving profile" in seen[-1], "".join(seen)
    threading.Thread(target=proc.stderr.read, daemon=True).start()


def test_the_embedded_workstation_owns_the_account_and_others_act_through_it(short_home):
    """With the workstation owning the account (no serve), buy and kill --yes from another
    terminal act through it."""
    import asyncio

    from workstation.core.config import Settings
    from workstation.serve.owner import AccountLock, current_holder, owning_engine
    from workstation.trading.session import Session

    home = short_home

    async def main() -> None:
        lock = AccountLock("paper")
        assert lock.try_acquire("tui")
        session = Session.build(Settings(watchlist=["AAPL"]), "paper")
        engine = owning_engine(session, lock)
        await engine.start(["AAPL"])
        try:
            assert current_holder("paper").kind == "tui"
            r = await asyncio.to_thread(run_cli, "buy", "5", "AAPL", "--json", home=home)
            assert r.returncode == 0, r.stderr
            order = json.loads(r.stdout)
            assert order["status"] == "filled"
            assert session.portfolio.position("AAPL").qty == 5  # booked in the workstation's own engine
            r = await asyncio.to_thread(run_cli, "kill", "--yes", home=home)
            assert r.returncode == 0, r.stderr
            assert session.breaker.tripped
            for _ in range(100):
                if session.portfolio.position("AAPL").qty == 0:
                    break
                await asyncio.sleep(0.05)
            assert session.portfolio.position("AAPL").qty == 0
        finally:
            await engine.stop()
        assert current_holder("paper") is None

    asyncio.run(main())


def test_sigkilled_owner_mid_run_leaves_an_account_the_next_command_owns(short_home):
    home = short_home
    settings(home, "max_order_notional = 10000000", cash=100_000_000)
    proc = spawn(home, "buy", "6000", "AAPL")
    journal = home / "data" / "paper" / "journal.sqlite"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # killed once its order is journaled: mid-run, the order working
        try:
            if journal_rows(journal)[0]:
                break
        except sqlite3.Error:
            pass  # not created yet
        time.sleep(0.05)
    assert proc.poll() is None, "the buy ended before it could be killed mid-run"
    assert journal_rows(journal)[0], "the buy journaled no order within 30 s"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = run_cli("status", "--json", home=home)
    assert r.returncode == 0, r.stderr
    r = run_cli("buy", "1", "AAPL", home=home)
    assert r.returncode == 0, r.stderr
    assert_books_agree(home / "data" / "paper" / "journal.sqlite")
