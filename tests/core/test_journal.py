import sqlite3
from decimal import Decimal

import pytest

from workstation.core.journal import Journal, JournalError
from workstation.core.model import Fill, Order, OrderStatus, OrderType, Side, TimeInForce


def order(i=1, status=OrderStatus.SUBMITTED):
    return Order(id=str(i), client_id=f"c-{i}", symbol="AAPL", side=Side.BUY, qty=Decimal(100), type=OrderType.LIMIT, tif=TimeInForce.GTC, limit_price=Decimal("185.5"), status=status, created=1.0, updated=1.0)


def test_orders_round_trip_exactly(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    o = order()
    j.record_order("submitted", o, 1.0)
    j.close()
    j2 = Journal(tmp_path / "j.sqlite")
    assert j2.orders() == [o]
    assert j2.order("1") == o
    assert j2.orders(("filled",)) == []


def test_duplicate_fill_is_written_once(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    f = Fill(exec_id="x1", order_id="1", symbol="AAPL", side=Side.BUY, qty=Decimal(100), price=Decimal("185.50"), commission=Decimal("1.00"), ts=2.0)
    assert j.record_fill(f, order(status=OrderStatus.FILLED)) is True
    assert j.record_fill(f, order(status=OrderStatus.FILLED)) is False
    assert j.fills() == [f]
    assert j.has_fill("x1")


def test_order_numbers_are_unique_and_persistent(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    assert [j.next_order_number() for _ in range(3)] == [1, 2, 3]
    j.close()
    assert Journal(tmp_path / "j.sqlite").next_order_number() == 4


def test_wal_mode_and_sync_setting(tmp_path):
    j = Journal(tmp_path / "j.sqlite", synchronous="FULL")
    assert j._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert j._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    with pytest.raises(ValueError):
        Journal(tmp_path / "k.sqlite", synchronous="SOMETIMES")


def test_corrupt_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError, match="unreadable"):
        Journal(bad)


def test_cash_and_free_form_events(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    j.record_cash(Decimal("500.25"), "USD", "deposit", 3.0)
    j.append("risk.set", {"name": "max_order_qty", "value": "10"}, 4.0)
    assert j.cash_entries() == [(Decimal("500.25"), "USD", "deposit")]
    kinds = [e[2] for e in j.events()]
    assert kinds == ["cash", "risk.set"]


# --------------------------------------------------------------------------- read-only

import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

_WRITER = """
import sys
import sqlite3
from decimal import Decimal
from workstation.core.journal import Journal
from workstation.core.model import Order, OrderStatus, OrderType, Side, TimeInForce
j = Journal(sys.argv[1])
def put(i):
    j.record_order("submitted", Order(id=str(i), client_id=f"c-{i}", symbol="AAPL", side=Side.BUY, qty=Decimal(1),
        type=OrderType.LIMIT, tif=TimeInForce.GTC, limit_price=Decimal("1.5"), status=OrderStatus.SUBMITTED, created=1.0, updated=1.0), 1.0)
for i in range(1, 4):
    put(i)
print("wrote 3", flush=True)
sys.stdin.readline()
for i in range(4, 6):
    put(i)
print("wrote 5", flush=True)
sys.stdin.readline()
j.close()
"""


def _python(code: str, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, text=True, **kw)


def test_read_only_journal_of_a_missing_file_is_empty_and_creates_nothing(tmp_path):
    path = tmp_path / "none" / "journal.sqlite"
    j = Journal(path, readonly=True)
    assert j.orders() == [] and j.fills() == [] and j.cash_entries() == [] and list(j.events()) == []
    assert j.meta("initial_cash") is None
    assert j.ensure_meta("initial_cash", "100000") == "100000"
    j.close()
    assert not path.parent.exists()


def test_read_only_journal_refuses_every_write(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as w:
        w.set_meta("initial_cash", "5000")
        w.record_order("submitted", order(), 1.0)
    j = Journal(path, readonly=True)
    assert j.ensure_meta("initial_cash", "100000") == "5000"  # the stored value, nothing written
    fill = Fill(exec_id="x1", order_id="1", symbol="AAPL", side=Side.BUY, qty=Decimal(1), price=Decimal(1), commission=Decimal(0), ts=2.0)
    writes = [
        lambda: j.record_order("filled", order(status=OrderStatus.FILLED), 2.0),
        lambda: j.record_fill(fill, None),
        lambda: j.append("risk.set", {}, 2.0),
        lambda: j.record_cash(Decimal(1), "USD", "deposit", 2.0),
        lambda: j.set_meta("initial_cash", "1"),
        lambda: j.next_order_number(),
    ]
    for write in writes:
        with pytest.raises(JournalError, match="read-only"):
            write()
    j.close()
    with Journal(path, readonly=True) as again:
        assert again.orders() == [order()] and again.fills() == [] and again.meta("initial_cash") == "5000"


def test_read_only_journal_sees_what_a_running_writer_commits(tmp_path):
    path = tmp_path / "j.sqlite"
    writer = _python(_WRITER, str(path), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert writer.stdout.readline().strip() == "wrote 3"
        assert Path(str(path) + "-wal").exists()  # the writer is in WAL mode, log not folded
        j = Journal(path, readonly=True)
        assert [o.id for o in j.orders()] == ["1", "2", "3"]
        writer.stdin.write("more\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "wrote 5"
        assert [o.id for o in j.orders()] == ["1", "2", "3", "4", "5"]
        wal = Path(str(path) + "-wal").stat().st_size
        j.close()  # a reader does not checkpoint: the writer's log is untouched
        assert Path(str(path) + "-wal").stat().st_size == wal
        writer.stdin.write("stop\n")
        writer.stdin.flush()
        assert writer.wait(timeout=30) == 0
    finally:
        writer.kill()
    with Journal(path, readonly=True) as j:
        assert len(j.orders()) == 5


def test_read_only_journal_with_no_writer_and_no_log_files(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as w:
        w.record_order("submitted", order(), 1.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.sqlite"]  # a clean close leaves no -wal/-shm
    with Journal(path, readonly=True) as j:
        assert j.orders() == [order()]


def test_read_only_journal_in_a_directory_it_cannot_write(tmp_path):
    """mode=ro needs to create the -shm file; without a -wal the file alone is read (immutable)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ro-journal-"))
    try:
        path = folder / "j.sqlite"
        with Journal(path) as w:
            w.record_order("submitted", order(), 1.0)
        os.chmod(path, 0o644)
        os.chmod(folder, 0o555)
        code = (
            "import sys; from workstation.core.journal import Journal\n"
            "j = Journal(sys.argv[1], readonly=True); print([o.id for o in j.orders()]); j.close()"
        )
        if os.geteuid() == 0:  # root writes anywhere: read as nobody
            if not Path("/usr/bin/setpriv").exists():
                pytest.skip("needs setpriv to drop root")
            cmd = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code, str(path)]
        else:
            cmd = [sys.executable, "-c", code, str(path)]
        out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "['1']"
        assert sorted(p.name for p in folder.iterdir()) == ["j.sqlite"]
    finally:
        os.chmod(folder, 0o700)
        shutil.rmtree(folder)


def test_read_only_v1_journal_reads_without_the_v2_indexes(tmp_path):
    src = tmp_path / "v1.sqlite"  # a copy: reading makes a -shm beside the file
    shutil.copyfile(Path(__file__).parents[1] / "data" / "journals" / "v1-9352c03.sqlite", src)
    with Journal(src, readonly=True) as j:
        assert j.meta("schema_version") == "1"
        assert [e[2] for e in j.events_after(0, ("risk.set", "cash"))] == ["cash", "risk.set"]
        assert len(j.orders(("filled",))) == 3


# --------------------------------------------------------------------------- the write-ahead log

import shutil  # noqa: E402

from workstation.core import journal as journal_mod  # noqa: E402

WAL_TEST_BOUND = 64 * 1024 * 1024
"""The bound this file checks for 10,000 order events written without a pause (the
documented worst case; an engine that pauses between orders stays near WAL_LIMIT). Before
the journal had its own checkpointer the log reached ~190 MB here."""


def _orders(n):
    return [
        Order(id=str(i), client_id=f"c-{i}", symbol="AAPL", side=Side.BUY, qty=Decimal(100), type=OrderType.LIMIT,
              tif=TimeInForce.GTC, limit_price=Decimal("185.5"), status=OrderStatus.SUBMITTED, created=1.0, updated=float(i))
        for i in range(1, n + 1)
    ]


def test_wal_stays_bounded_over_10000_order_events(tmp_path):
    path = tmp_path / "j.sqlite"
    wal = Path(str(path) + "-wal")
    j = Journal(path)
    seen = [0]
    done = threading.Event()

    def watch():
        while not done.is_set():
            try:
                seen[0] = max(seen[0], wal.stat().st_size)
            except FileNotFoundError:
                pass
            done.wait(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for o in _orders(10_000):
            j.record_order("submitted", o, 1.0)
    finally:
        done.set()
        watcher.join()
    after = wal.stat().st_size
    checkpointer = j._checkpointer
    assert checkpointer is not None and checkpointer.is_alive()
    j.close()
    assert not checkpointer.is_alive()  # close stops it
    assert 0 < seen[0] < WAL_TEST_BOUND, seen[0]
    assert after < WAL_TEST_BOUND
    with Journal(path, readonly=True) as r:
        assert r.counts() == (10_000, 0)


_CRASHER = """
import os, signal, sys
import sqlite3
from decimal import Decimal
from workstation.core.journal import Journal
from workstation.core.model import Order, OrderStatus, OrderType, Side, TimeInForce
j = Journal(sys.argv[1])
for i in range(1, 10_001):
    j.record_order("submitted", Order(id=str(i), client_id=f"c-{i}", symbol="AAPL", side=Side.BUY, qty=Decimal(100),
        type=OrderType.LIMIT, tif=TimeInForce.GTC, limit_price=Decimal("185.5"), status=OrderStatus.SUBMITTED,
        created=1.0, updated=float(i)), 1.0)
os.kill(os.getpid(), signal.SIGKILL)  # no close: the log is left as a crash leaves it
"""


def test_wal_is_bounded_after_a_crash_and_nothing_is_lost(tmp_path):
    path = tmp_path / "j.sqlite"
    proc = _python(_CRASHER, str(path))
    assert proc.wait(timeout=120) == -signal.SIGKILL
    wal = Path(str(path) + "-wal")
    assert wal.exists()  # it did not close
    assert wal.stat().st_size < WAL_TEST_BOUND
    with Journal(path) as j:
        assert j.counts() == (10_000, 0)


def test_every_write_counts_towards_a_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_mod, "CHECKPOINT_EVERY_WRITES", 2)
    j = Journal(tmp_path / "j.sqlite")
    fill = Fill(exec_id="x1", order_id="1", symbol="AAPL", side=Side.BUY, qty=Decimal(1), price=Decimal(1), commission=Decimal(0), ts=2.0)
    writes = [
        lambda: j.record_order("submitted", order(), 1.0),
        lambda: j.record_fill(fill, None),
        lambda: j.append("risk.set", {}, 2.0),
        lambda: j.set_meta("k", "v"),
        lambda: j.ensure_meta("k2", "v"),
        lambda: j.next_order_number(),
    ]
    assert j._checkpointer is None  # no thread until the first write
    for n, write in enumerate(writes, 1):
        write()
        assert j._writes == n
    assert j._checkpointer is not None and j._checkpointer.is_alive()
    j.close()
    assert not j._checkpointer.is_alive()


def test_checkpoint_on_demand_still_works(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    j._wake_at = sys.maxsize  # keep the journal's own checkpointer out of it
    for o in _orders(300):
        j.record_order("submitted", o, 1.0)
    j.checkpoint()
    probe = sqlite3.connect(tmp_path / "j.sqlite")
    busy, frames, done = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    probe.close()
    assert frames == done  # everything had been copied into the database
    j.close()
