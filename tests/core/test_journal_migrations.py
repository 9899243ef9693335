"""Journal versions: a journal written by an older workstation opens, is copied aside and
upgraded exactly once, in one transaction; a failed upgrade leaves the file as it was."""

import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

import workstation.core.journal as journal_mod
from workstation.core.journal import MIGRATIONS, SCHEMA_VERSION, Journal, JournalError

FIXTURES = Path(__file__).parents[1] / "data" / "journals"
V1 = FIXTURES / "v1-9352c03.sqlite"  # written by the workstation at commit 9352c03 (make_v1.py)


def _copy(tmp_path: Path, src: Path = V1) -> Path:
    path = tmp_path / "paper" / "journal.sqlite"
    path.parent.mkdir(parents=True)
    shutil.copyfile(src, path)
    return path


def _contents(path: Path):
    with Journal(path, readonly=True) as j:
        return j.orders(), j.fills(), j.cash_entries(), [e[2] for e in j.events()], j.meta("schema_version")


def _objects(path: Path) -> dict[tuple[str, str], str]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    finally:
        db.close()
    return {(t, n): " ".join((sql or "").split()) for t, n, sql in rows}


def test_the_v1_fixture_reads_as_an_account(tmp_path):
    orders, fills, cash, kinds, version = _contents(_copy(tmp_path))  # (a copy: reading makes a -shm)
    assert version == "1"
    assert [o.status.value for o in orders] == ["filled", "filled", "accepted", "filled"]
    assert [(f.symbol, f.qty) for f in fills] == [("AAPL", Decimal(10)), ("MSFT", Decimal(5)), ("AAPL", Decimal(4))]
    assert cash == [(Decimal("2500.75"), "USD", "deposit")]
    assert "risk.set" in kinds


def test_a_v1_journal_is_backed_up_and_upgraded_once(tmp_path):
    path = _copy(tmp_path)
    before = _contents(path)

    with Journal(path) as j:
        assert j.meta("schema_version") == str(SCHEMA_VERSION) == "3"
        assert (j.orders(), j.fills(), j.cash_entries()) == before[:3]
        assert j.meta("initial_cash") == "100000"  # the rest of meta survives

    backup = path.with_name("journal.sqlite.v1.bak")
    assert backup.is_file()
    assert _contents(backup) == before  # the copy is the v1 journal, whole
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    assert {"orders_updated", "events_kind"} <= {name for _, name in _objects(path)}
    assert not {"orders_updated", "events_kind"} & {name for _, name in _objects(backup)}

    backup.unlink()
    with Journal(path) as j:  # already current: no second upgrade, no new copy
        assert j.meta("schema_version") == str(SCHEMA_VERSION)
        assert len(j.orders()) == 4
    assert not backup.exists()


def test_an_upgraded_journal_keeps_working(tmp_path):
    path = _copy(tmp_path)
    with Journal(path) as j:
        assert j.next_order_number() == 22  # the v1 file had reserved 21
        j.append("risk.set", {"name": "max_order_qty", "value": "7", "strategy": None}, 5.0)
        followed = j.events_after(0, ("risk.set",))
    assert [e[4]["value"] for e in followed] == ["500", "7"]


def test_a_failed_upgrade_leaves_the_file_at_v1(tmp_path, monkeypatch):
    path = _copy(tmp_path)
    before = _contents(path)

    def half_done(db):
        db.execute("CREATE INDEX orders_updated ON orders(updated)")
        db.execute("DELETE FROM orders")
        raise sqlite3.OperationalError("disk on fire\nsecond line")

    monkeypatch.setattr(journal_mod, "MIGRATIONS", [(2, half_done)])
    with pytest.raises(JournalError) as err:
        Journal(path)
    message = str(err.value)
    assert "\n" not in message
    assert "from version 1 to 2" in message and "disk on fire" in message and "unchanged" in message
    assert _contents(path) == before  # nothing of the step stayed: one transaction
    assert "orders_updated" not in {name for _, name in _objects(path)}

    monkeypatch.undo()
    with Journal(path) as j:  # the real upgrade still works afterwards
        assert j.meta("schema_version") == str(SCHEMA_VERSION)
        assert len(j.orders()) == 4


def test_every_step_of_a_multi_step_upgrade_rolls_back_together(tmp_path, monkeypatch):
    path = _copy(tmp_path)

    def broken(db):
        raise RuntimeError("step 3 broke")

    monkeypatch.setattr(journal_mod, "MIGRATIONS", [*MIGRATIONS, (3, broken)])
    monkeypatch.setattr(journal_mod, "SCHEMA_VERSION", 3)
    with pytest.raises(JournalError, match="from version 1 to 3: step 3 broke"):
        Journal(path)
    assert _contents(path)[4] == "1"
    assert "orders_updated" not in {name for _, name in _objects(path)}  # step 2 undone too


def test_a_new_journal_is_created_at_the_current_version_without_a_copy(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        assert j.meta("schema_version") == str(SCHEMA_VERSION)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.sqlite"]


def test_a_new_journal_and_an_upgraded_one_have_the_same_schema(tmp_path):
    new = tmp_path / "new.sqlite"
    Journal(new).close()
    old = _copy(tmp_path)
    Journal(old).close()
    assert _objects(new) == _objects(old)


def test_a_journal_from_a_newer_workstation_is_refused(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    for readonly in (False, True):
        with pytest.raises(JournalError, match="newer version"):
            Journal(path, readonly=readonly)


def test_migration_steps_go_one_version_at_a_time_to_the_current():
    assert [v for v, _ in MIGRATIONS] == list(range(2, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.sqlite")), ids=lambda p: p.name)
def test_every_saved_old_journal_opens_at_the_current_version(tmp_path, fixture):
    path = _copy(tmp_path, fixture)
    count = len(_contents(path)[0])
    with Journal(path) as j:
        assert j.meta("schema_version") == str(SCHEMA_VERSION)
        assert len(j.orders()) == count
