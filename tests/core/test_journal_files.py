"""Private files: the journal, its log files and its backups are the user's alone; and
``main.py backup`` copies a journal consistently, even while an engine writes to it."""

import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from workstation.cli.app import CliError
from workstation.cli.journal import register
from workstation.core.files import private_dir, private_file, private_umask
from workstation.core.journal import Journal
from workstation.core.model import Order, OrderStatus, OrderType, Side, TimeInForce

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> str:
    return oct(path.stat().st_mode & 0o777)


def order(i: int) -> Order:
    return Order(id=str(i), client_id=f"c-{i}", symbol="AAPL", side=Side.BUY, qty=Decimal(1), type=OrderType.LIMIT,
                 tif=TimeInForce.GTC, limit_price=Decimal("10.25"), status=OrderStatus.SUBMITTED, created=1.0, updated=float(i))


# --------------------------------------------------------------------------- modes


def test_a_new_journal_is_private(tmp_path):
    path = tmp_path / "data" / "paper" / "journal.sqlite"
    old = os.umask(0o022)
    try:
        j = Journal(path)
        j.record_order("submitted", order(1), 1.0)
        assert mode(path.parent) == "0o700"
        assert mode(path.parent.parent) == "0o700"  # a parent it made, too
        for name in ("journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm"):
            assert mode(path.parent / name) == "0o600", name
        j.close()
        assert os.umask(0o022) == 0o022  # the process's umask is back
    finally:
        os.umask(old)


def test_an_open_layout_is_tightened(tmp_path):
    folder = tmp_path / "paper"
    path = folder / "journal.sqlite"
    with Journal(path) as j:
        j.record_order("submitted", order(1), 1.0)
    os.chmod(folder, 0o755)
    os.chmod(path, 0o644)
    for name in ("journal.sqlite-wal", "journal.sqlite-shm"):  # left by an old version's crash
        (folder / name).touch()
        os.chmod(folder / name, 0o644)
    with Journal(path) as j:
        assert [o.id for o in j.orders()] == ["1"]
        assert mode(folder) == "0o700"
        for name in ("journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm"):
            assert mode(folder / name) == "0o600", name


def test_private_helpers_never_loosen_and_leave_shared_directories(tmp_path, monkeypatch):
    strict = tmp_path / "strict"
    strict.mkdir(mode=0o500)
    os.chmod(strict, 0o500)
    assert mode(private_dir(strict)) == "0o500"  # tighter than 0700 stays so
    sticky = tmp_path / "shared"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    private_dir(sticky)
    assert oct(sticky.stat().st_mode & 0o7777) == "0o1777"  # a /tmp-like directory is not ours to close
    here = tmp_path / "work"
    here.mkdir()
    os.chmod(here, 0o755)
    monkeypatch.chdir(here)
    private_dir(here)
    assert mode(here) == "0o755"  # nor the directory the user works in
    f = private_file(tmp_path / "f")
    assert mode(f) == "0o600"
    with private_umask():
        (tmp_path / "g").touch()
    assert mode(tmp_path / "g") == "0o600"


# --------------------------------------------------------------------------- backup


@pytest.fixture
def app():
    a = typer.Typer()
    register(a)

    @a.command("noop")  # two commands, so ``backup`` is a subcommand as in the real app
    def noop() -> None:
        pass

    return a


def _journal(data: Path, n: int = 3) -> Path:
    path = data / "paper" / "journal.sqlite"
    with Journal(path) as j:
        for i in range(1, n + 1):
            j.record_order("submitted", order(i), 1.0)
    return path


def test_backup_to_the_default_place(tmp_path, app):
    data = tmp_path / "data"
    _journal(data)
    result = CliRunner().invoke(app, ["backup", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    copies = list((data / "paper" / "backups").glob("journal-*.sqlite"))
    assert len(copies) == 1
    copy = copies[0]
    assert len(copy.stem) == len("journal-20260101-120000")
    assert result.output.count("\n") == 1
    assert str(copy) in result.output and "3 orders, 0 fills" in result.output
    assert mode(copy) == "0o600" and mode(copy.parent) == "0o700"
    assert sorted(p.name for p in copy.parent.iterdir()) == [copy.name]  # one self-contained file
    with Journal(copy, readonly=True) as j:
        assert [o.id for o in j.orders()] == ["1", "2", "3"]
    again = CliRunner().invoke(app, ["backup", "--data-dir", str(data)])  # within the same second
    assert again.exit_code == 0
    assert len(list(copy.parent.glob("journal-*.sqlite"))) == 2


def test_backup_errors_are_one_line(tmp_path, app):
    data = tmp_path / "data"
    result = CliRunner().invoke(app, ["backup", "--data-dir", str(data)])
    assert isinstance(result.exception, CliError)
    assert str(result.exception) == f"no journal for profile 'paper' at {data / 'paper' / 'journal.sqlite'}"
    _journal(data)
    dest = tmp_path / "copy.sqlite"
    dest.write_text("keep me")
    result = CliRunner().invoke(app, ["backup", "--data-dir", str(data), str(dest)])
    assert isinstance(result.exception, CliError) and "already exists: pass --force" in str(result.exception)
    assert result.exception.code == 2
    assert dest.read_text() == "keep me"
    result = CliRunner().invoke(app, ["backup", "--data-dir", str(data), "--force", str(dest)])
    assert result.exit_code == 0, result.output
    with Journal(dest, readonly=True) as j:
        assert j.counts() == (3, 0)
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    result = CliRunner().invoke(app, ["backup", "--data-dir", str(data), str(blocked / "x.sqlite")])
    assert isinstance(result.exception, CliError)
    assert str(result.exception).startswith(f"cannot write {blocked / 'x.sqlite'}") and "\n" not in str(result.exception)
    assert not list(tmp_path.glob("**/*.partial"))


_BUSY_WRITER = """
import sys
from decimal import Decimal
from workstation.core.journal import Journal
from workstation.core.model import Order, OrderStatus, OrderType, Side, TimeInForce
j = Journal(sys.argv[1])
i = 0
while True:
    i += 1
    j.record_order("submitted", Order(id=str(i), client_id=f"c-{i}", symbol="AAPL", side=Side.BUY, qty=Decimal(1),
        type=OrderType.LIMIT, tif=TimeInForce.GTC, limit_price=Decimal("10.25"), status=OrderStatus.SUBMITTED,
        created=1.0, updated=float(i)), 1.0)
    print(i, flush=True)
"""


def test_backup_while_an_engine_writes_is_consistent(tmp_path, app):
    data = tmp_path / "data"
    path = _journal(data, 0)
    writer = subprocess.Popen([sys.executable, "-c", _BUSY_WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        committed = 0
        while committed < 2000:
            committed = int(writer.stdout.readline())
        dest = tmp_path / "out" / "copy.sqlite"
        result = CliRunner().invoke(app, ["backup", "--data-dir", str(data), str(dest)])
        assert result.exit_code == 0, result.output
        later = int(writer.stdout.readline())
        assert writer.poll() is None  # the writer went on writing
    finally:
        writer.kill()
        writer.wait()
    assert later > committed
    db = sqlite3.connect(dest)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with Journal(dest, readonly=True) as j:
        ids = [int(o.id) for o in j.orders()]
        events = list(j.events())
    assert len(ids) >= committed  # everything committed before the backup began
    assert ids == list(range(1, len(ids) + 1))  # and no hole: one moment's state
    assert len(events) == len(ids)
    assert mode(dest) == "0o600" and mode(dest.parent) == "0o700"
    assert f"{len(ids)} orders, 0 fills" in result.output
