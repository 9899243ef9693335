"""The crash-safe journal: SQLite in WAL mode, written before anything is shown.

Tables
------
``meta``      key/value facts: schema version, creation time, initial cash, order id counter.
``orders``    the latest state of every order (one row per order, JSON of ``model.Order``).
``events``    an append-only log of everything that happened: order events, cash movements,
              risk changes, alerts, sessions (``kind`` + JSON payload).
``fills``     every execution, unique by ``exec_id``: a duplicated broker report is dropped
              here, so a fill is counted once however often it arrives.
``alert_state`` per alert key: when an alert with that key last fired (its cooldown) and,
              for a rule, whether its condition has been false since (re-armed); kept by
              triggers from ``alert`` and ``alert.armed`` events, read when an engine starts.

Each write is one statement and so one transaction (triggers keep ``orders`` and ``fills``
current inside it), committed before the caller publishes the change. With
``synchronous=NORMAL`` (the default) a committed transaction survives a killed process;
``synchronous=FULL`` (a setting) also survives a power cut.

Recovery: orders come back from ``orders``, positions and cash are recomputed from
``fills``, the cash entries and the ``settle`` events in ``events`` by the portfolio (see
``Session``). A settlement (``record_settlement``: an option's exercise or expiry, a
future's daily or final settlement) is its fills and one ``settle`` event keyed by what it
settles (``expiry:<symbol>:<date>``, ``variation:<symbol>:<date>``), written in one
transaction, and never twice for one key.

Versions: a new file is created at ``SCHEMA_VERSION``; an older one is copied next to
itself (``journal.sqlite.v1.bak``) and brought up to date by ``MIGRATIONS`` in one
transaction when it is opened for writing; a newer one is refused. ``readonly=True``
opens without writing anything (no migration, no file created).

Files: the journal, its ``-wal`` and ``-shm`` are 0600 in a 0700 directory
(``workstation.core.files``).

The write-ahead log stays bounded without checkpoint work on the caller's thread: commits
never checkpoint (``wal_autocheckpoint=0``); a checkpointer thread of the journal's own,
started by the first write and stopped by ``close``, folds the log into the database every
``CHECKPOINT_EVERY_WRITES`` writes and at least every ``CHECKPOINT_EVERY_S`` seconds, and
makes the log start over when it holds more than ``WAL_LIMIT`` (see ``Journal._fold``);
``journal_size_limit`` cuts a file grown past ``WAL_BOUND`` back when the log starts over.
The -wal file stays near ``WAL_LIMIT`` and under ``WAL_BOUND`` even for a writer that never
pauses (docs/journal.md has the figures).

Why one module: one SQLite file's schema, migrations, writes, reads and checkpointer: they
share the connection, the write lock and the schema version.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import re
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from workstation.core.files import FILE_MODE, private_dir, private_file, private_umask, tighten
from workstation.core.model import Fill, Order

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3

WAL_LIMIT = 16 * 1024 * 1024
"""A write-ahead log holding more than this is made to start over (``Journal._fold``).
Not lower: each such restart holds this process's writers for one sync of the disk
(measured 5-10 ms), and they must stay rare for the order path's p99."""
WAL_BOUND = 64 * 1024 * 1024
"""The most the -wal file holds, and its ``journal_size_limit``."""
_FRAME_HEADER = 24  # bytes before each page in the write-ahead log
CHECKPOINT_EVERY_WRITES = 256
CHECKPOINT_EVERY_S = 10.0
CHECKPOINT_BUSY_S = 0.1
"""How long a checkpoint waits for another process's writer or reader before giving up
until next time: short, because a RESTART checkpoint that waits holds writers back."""

# The events ``events_kind`` indexes: all but order events and fills, which are most of the
# log and never followed by kind (so the order path writes no index page for them). A query
# uses the index only if its WHERE has this same text (see ``events_after``).
_FOLLOWABLE = "substr(kind, 1, 6) <> 'order.' AND kind <> 'fill'"

# a settlement already journaled under a key (``record_settlement``): through ``events_kind``
_SETTLED = f"SELECT 1 FROM events WHERE kind = 'settle' AND ref = ? AND {_FOLLOWABLE}"

# The alert state (version 3): an engine starting on this journal knows each alert's last
# firing and each rule's re-arm, so neither a cooldown nor a level rule starts over.
_ALERT_STATE: tuple[str, ...] = (
    # an alert's key, when it last fired, and whether its rule has re-armed since (0: it
    # fired and its condition has not been seen false again); ``rule`` is the rule's text
    # when it fired, so a settings rule whose id now names another rule starts afresh
    """CREATE TABLE IF NOT EXISTS alert_state (
        key TEXT PRIMARY KEY,
        fired REAL NOT NULL,
        armed INTEGER NOT NULL,
        rule TEXT
    )""",
    # a journaled alert (``ref`` is its de-duplication key) fires its key and disarms it
    """CREATE TRIGGER IF NOT EXISTS alert_fired AFTER INSERT ON events
    WHEN NEW.kind = 'alert' AND NEW.ref IS NOT NULL
    BEGIN
        INSERT INTO alert_state(key, fired, armed, rule) VALUES (NEW.ref, NEW.ts, 0, json_extract(NEW.data, '$.rule'))
        ON CONFLICT(key) DO UPDATE SET fired=excluded.fired, armed=0, rule=excluded.rule;
    END""",
    # a rule whose condition was seen false after it fired re-arms
    """CREATE TRIGGER IF NOT EXISTS alert_armed AFTER INSERT ON events
    WHEN NEW.kind = 'alert.armed' AND NEW.ref IS NOT NULL
    BEGIN
        UPDATE alert_state SET armed=1 WHERE key=NEW.ref;
    END""",
)

# The schema at SCHEMA_VERSION: what a new journal is created with (one statement each;
# every one idempotent, so an open also puts back an object a BatchJournal dropped).
_SCHEMA: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS orders (
        id INTEGER PRIMARY KEY,
        client_id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        symbol TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        data BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        ref TEXT,
        data BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS fills (
        exec_id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        qty TEXT NOT NULL,
        price TEXT NOT NULL,
        commission TEXT NOT NULL,
        ts REAL NOT NULL,
        strategy TEXT,
        seq INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS fills_ts ON fills(ts)",
    # version 2
    "CREATE INDEX IF NOT EXISTS orders_updated ON orders(updated)",
    f"CREATE INDEX IF NOT EXISTS events_kind ON events(kind, seq) WHERE {_FOLLOWABLE}",
    # an order event carries the order's new state; this keeps ``orders`` current in the same
    # statement, so journaling an order event is one atomic write
    """CREATE TRIGGER IF NOT EXISTS order_state AFTER INSERT ON events
    WHEN (NEW.kind LIKE 'order.%' OR NEW.kind = 'fill') AND json_type(NEW.data, '$.order') = 'object'
    BEGIN
        INSERT INTO orders(id, client_id, status, symbol, created, updated, data) VALUES (
            CAST(NEW.ref AS INTEGER),
            json_extract(NEW.data, '$.order.client_id'),
            json_extract(NEW.data, '$.order.status'),
            json_extract(NEW.data, '$.order.symbol'),
            json_extract(NEW.data, '$.order.created'),
            json_extract(NEW.data, '$.order.updated'),
            json_extract(NEW.data, '$.order')
        ) ON CONFLICT(id) DO UPDATE SET status=excluded.status, updated=excluded.updated, data=excluded.data;
    END""",
    # a fill event fills the ``fills`` index in the same statement
    """CREATE TRIGGER IF NOT EXISTS fill_row AFTER INSERT ON events
    WHEN NEW.kind = 'fill'
    BEGIN
        INSERT INTO fills(exec_id, order_id, symbol, side, qty, price, commission, ts, strategy, seq) VALUES (
            json_extract(NEW.data, '$.exec_id'), json_extract(NEW.data, '$.order_id'),
            json_extract(NEW.data, '$.symbol'), json_extract(NEW.data, '$.side'),
            json_extract(NEW.data, '$.qty'), json_extract(NEW.data, '$.price'),
            json_extract(NEW.data, '$.commission'), NEW.ts, json_extract(NEW.data, '$.strategy'), NEW.seq
        );
    END""",
    # version 3
    *_ALERT_STATE,
)
_OBJECTS = tuple(re.search(r"IF NOT EXISTS (\w+)", s).group(1) for s in _SCHEMA)  # type: ignore[union-attr]


# --------------------------------------------------------------------------- migrations


def _to_v2(db: sqlite3.Connection) -> None:
    """Indexes the running engine reads by: recent orders by ``updated``, and the events
    of given kinds after a sequence number (``events_after``; order events and fills,
    the bulk of the log, left out)."""
    db.execute("CREATE INDEX IF NOT EXISTS orders_updated ON orders(updated)")
    db.execute(f"CREATE INDEX IF NOT EXISTS events_kind ON events(kind, seq) WHERE {_FOLLOWABLE}")


def _to_v3(db: sqlite3.Connection) -> None:
    """Alert state that outlives a process (``alert_state``): each key's last firing, from
    the alerts journaled so far. Every rule that has fired counts as not re-armed (nothing
    says its condition was false since), so a level that stays true does not fire again."""
    for statement in _ALERT_STATE:
        db.execute(statement)
    db.execute(
        "INSERT INTO alert_state(key, fired, armed, rule) "
        "SELECT ref, MAX(ts), 0, NULL FROM events WHERE kind = 'alert' AND ref IS NOT NULL GROUP BY ref"
    )


Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[tuple[int, Migration]] = [
    (2, _to_v2),
    (3, _to_v3),
]
"""The steps from each old schema to the next: ``(N, step)`` turns a version N-1 journal
into version N.

To change the schema: write ``_to_vN(db)`` doing the change with ``db.execute`` (never
``executescript``, which commits: every step of an upgrade runs in the one transaction
that also records the new version, so a failure leaves the file as it was), append
``(N, _to_vN)`` here, raise ``SCHEMA_VERSION`` to N, and make ``_SCHEMA`` create the same
objects for a new journal (tests/test_journal_migrations.py checks that a migrated
journal and a new one have the same schema, and that a journal of every earlier version
in tests/data/journals/ opens). Add a journal written by the old code to that folder.
A step must not commit, and should not assume it runs on a large file quickly: it runs
while the journal is opened, before anything trades.
"""


# --------------------------------------------------------------------------- the journal

_encode = msgspec.json.Encoder().encode
_decode_order = msgspec.json.Decoder(Order).decode


class JournalError(Exception):
    """The journal file is unreadable, from an unknown future version, could not be
    upgraded, or is open read-only and was asked to write. The message is one line."""


class Journal:
    """One journal file (or ``":memory:"``).

    ``readonly=True`` opens it without ever writing: no table created, no migration, no
    file made; a missing file reads as an empty journal, and every write raises
    ``JournalError``. It sees what writers commit, even while they run."""

    def __init__(self, path: Path | str, *, synchronous: str = "NORMAL", readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        sync = synchronous.upper()
        if sync not in ("NORMAL", "FULL", "OFF"):
            raise ValueError(f"journal synchronous must be NORMAL or FULL, got {synchronous!r}")
        self._sync = sync
        self._memory = str(path) == ":memory:"
        self._closed = False
        self._writes = 0
        # the write count at which the checkpointer is next woken (a file journal that writes)
        self._wake_at = sys.maxsize if (readonly or self._memory) else 1
        self._wake = threading.Event()
        self._stopping = False
        self._checkpointer: threading.Thread | None = None
        self._start_lock = threading.Lock()
        # held by each write, and by the checkpointer for the short step that restarts the
        # log: this process's writers then wait on a lock, not on SQLite's sleeping retries
        self._lock = threading.Lock()
        self._page = 0  # the database's page size, once the checkpointer has read it
        if readonly:
            self._db = self._open_readonly()
            return
        try:
            if not self._memory:
                private_dir(self.path.parent)
                private_file(self.path)
                self._tighten_side_files()
            with private_umask():
                self._db = sqlite3.connect(str(path), isolation_level=None, timeout=10.0, check_same_thread=False)
                try:
                    self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute(f"PRAGMA synchronous={sync}")
                    # commits never checkpoint: the checkpointer thread does, off the caller's thread
                    self._db.execute("PRAGMA wal_autocheckpoint=0")
                    self._db.execute(f"PRAGMA journal_size_limit={WAL_BOUND}")
                    self._prepare()
                except BaseException:
                    self._db.close()
                    raise
            if not self._memory:
                self._tighten_side_files()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"journal {path} is unreadable: {_one_line(exc)}") from None
        except OSError as exc:
            raise JournalError(f"journal {path} cannot be opened: {exc.strerror or _one_line(exc)}") from None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop_checkpointer()
        if not self.readonly:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError:
                pass  # another process is reading: it will checkpoint later
        self._db.close()

    # -- opening
    def _prepare(self) -> None:
        """Create a new journal at the current version, or bring an older one up to it
        (after a backup), in one transaction; refuse a newer one."""
        db = self._db
        version = self._stored_version(db)
        if version == SCHEMA_VERSION and self._complete(db):
            return
        self._refuse_newer(version)
        db.execute("BEGIN IMMEDIATE")
        try:
            version = self._stored_version(db)  # another process may have been first
            self._refuse_newer(version)
            if version is not None and version < SCHEMA_VERSION:
                self._migrate(version)
            for statement in _SCHEMA:
                db.execute(statement)
            if version != SCHEMA_VERSION:
                db.execute(
                    "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (str(SCHEMA_VERSION),),
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _migrate(self, version: int) -> None:
        backup = self.path.with_name(f"{self.path.name}.v{version}.bak")
        if not self._memory:
            # through another connection: this one holds the write lock, so the copy is
            # exactly the file the upgrade starts from
            try:
                with closing(_source(self.path)) as source:
                    _backup(source, backup, overwrite=True)
            except sqlite3.Error as exc:
                raise JournalError(f"journal {self.path} was not upgraded: it could not be copied: {_one_line(exc)}") from None
            except JournalError as exc:
                raise JournalError(f"journal {self.path} was not upgraded: {exc}") from None
        for target, step in MIGRATIONS:
            if target <= version:
                continue
            try:
                step(self._db)
            except Exception as exc:  # any failure: roll back, say so in one line
                raise JournalError(
                    f"journal {self.path} could not be upgraded from version {version} to {target}: "
                    f"{_one_line(exc)}; the file is unchanged (a copy is in {backup.name})"
                ) from None
        log.info("journal %s upgraded from version %d to %d (a copy is in %s)", self.path, version, SCHEMA_VERSION, backup.name)

    def _stored_version(self, db: sqlite3.Connection) -> int | None:
        if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone() is None:
            return None
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            return None
        try:
            return int(row[0])
        except ValueError:
            raise JournalError(f"journal {self.path} has a malformed schema version {row[0]!r}") from None

    def _refuse_newer(self, version: int | None) -> None:
        if version is not None and version > SCHEMA_VERSION:
            raise JournalError(f"journal {self.path} is from a newer version ({version}) of the workstation")

    @staticmethod
    def _complete(db: sqlite3.Connection) -> bool:
        marks = ",".join("?" * len(_OBJECTS))
        row = db.execute(f"SELECT count(*) FROM sqlite_master WHERE name IN ({marks})", _OBJECTS).fetchone()
        return int(row[0]) == len(_OBJECTS)

    def _open_readonly(self) -> sqlite3.Connection:
        if self._memory or not self.path.exists():
            return _empty()
        try:
            db = _source(self.path)
            try:
                version = self._stored_version(db)
                self._refuse_newer(version)
            except BaseException:
                db.close()
                raise
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"journal {self.path} is unreadable: {_one_line(exc)}") from None
        if version is None:  # a file with no journal in it (yet)
            db.close()
            return _empty()
        return db

    def _side_files(self) -> tuple[Path, Path]:
        return self.path.with_name(self.path.name + "-wal"), self.path.with_name(self.path.name + "-shm")

    def _tighten_side_files(self) -> None:
        tighten(self.path, FILE_MODE)
        for side in self._side_files():
            tighten(side, FILE_MODE)

    def _refuse(self) -> None:
        raise JournalError(f"journal {self.path} is open read-only")

    # -- the write-ahead log
    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database without blocking writers (and
        truncate the log if it is over ``WAL_LIMIT``).

        Runs on its own connection, so a session can call it from a worker thread. The
        journal's own checkpointer already does this; calling it as well is harmless."""
        if self._memory or self.readonly:
            return
        try:
            db = self._checkpoint_db()
        except sqlite3.Error:
            return
        try:
            self._fold(db)
        except sqlite3.OperationalError:
            pass
        finally:
            db.close()

    def _wrote(self) -> None:
        """Count a write; every ``CHECKPOINT_EVERY_WRITES`` wake the checkpointer (the
        first write starts it). Nothing else happens on the writer's thread."""
        self._writes += 1
        if self._writes >= self._wake_at:
            self._wake_at = self._writes + CHECKPOINT_EVERY_WRITES
            if self._checkpointer is None:
                self._start_checkpointer()
            else:
                self._wake.set()

    def _start_checkpointer(self) -> None:
        with self._start_lock:
            if self._checkpointer is not None or self._closed:
                return
            thread = threading.Thread(target=self._checkpoint_loop, name="journal-checkpoint", daemon=True)
            self._checkpointer = thread
            thread.start()

    def _stop_checkpointer(self) -> None:
        with self._start_lock:
            thread = self._checkpointer
            self._stopping = True
        if thread is not None:
            self._wake.set()
            thread.join(timeout=5.0)

    def _checkpoint_loop(self) -> None:
        db: sqlite3.Connection | None = None
        folded = 0  # the write count at the last checkpoint
        failing = False
        try:
            while True:
                self._wake.wait(CHECKPOINT_EVERY_S)
                self._wake.clear()
                if self._stopping:
                    return  # close() checkpoints on the journal's own connection
                if self._writes == folded:
                    continue
                folded = self._writes
                try:
                    if db is None:
                        db = self._checkpoint_db()
                    self._fold(db)
                    failing = False
                except sqlite3.Error as exc:
                    if not failing:
                        log.warning("journal %s: checkpoint failed (will retry): %s", self.path, exc)
                    failing = True
        finally:
            if db is not None:
                db.close()

    def _checkpoint_db(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), isolation_level=None, timeout=CHECKPOINT_BUSY_S, check_same_thread=False)
        db.execute(f"PRAGMA synchronous={self._sync}")
        db.execute(f"PRAGMA journal_size_limit={WAL_BOUND}")
        return db

    def _fold(self, db: sqlite3.Connection) -> None:
        """Checkpoint, keeping the log under the bound at little cost to writers.

        PASSIVE copies the log into the database (and syncs it) without making anyone
        wait, and the next write starts the log over if nothing came in meanwhile. A writer
        that does not pause keeps adding to it, so it never starts over by itself: when
        the log holds more than ``WAL_LIMIT``, a second PASSIVE copies what came in during
        the first (unless the log is half way to ``WAL_BOUND`` already), then, holding the
        write lock, RESTART copies the little left so the next write starts the log over,
        reusing the file (not TRUNCATE: giving the file's blocks back and taking them
        again is slow on some disks, and it would hold writers back; a file grown past
        ``WAL_BOUND`` is cut back to it by the writer that starts the log over, and
        ``close`` empties it)."""
        _busy, frames, _done = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        used = frames * (self._page_size(db) + _FRAME_HEADER)
        if used <= WAL_LIMIT:
            return
        if used <= WAL_BOUND // 2:  # time to spare: shorten the locked step
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        with self._lock:
            db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()

    def _page_size(self, db: sqlite3.Connection) -> int:
        if not self._page:
            self._page = int(db.execute("PRAGMA page_size").fetchone()[0])
        return self._page

    def _wal_size(self) -> int:
        try:
            return os.stat(self._side_files()[0]).st_size
        except FileNotFoundError:
            return 0

    # -- copies
    def backup_to(self, dest: Path | str, *, overwrite: bool = False) -> Path:
        """Copy the journal as it is now to ``dest`` (0600; missing directories 0700)
        through SQLite's online backup API: a consistent copy while writers keep writing,
        including what is still in the write-ahead log. Refuses an existing ``dest``
        unless ``overwrite``. Written to ``dest.partial`` first, so ``dest`` is whole or
        absent."""
        dest = Path(dest)
        if self.readonly or self._memory:
            return _backup(self._db, dest, overwrite=overwrite)
        with closing(_source(self.path)) as source:  # its own read transaction, not the writers' connection
            return _backup(source, dest, overwrite=overwrite)

    def counts(self) -> tuple[int, int]:
        """How many orders and fills the journal holds."""
        orders = self._db.execute("SELECT count(*) FROM orders").fetchone()[0]
        fills = self._db.execute("SELECT count(*) FROM fills").fetchone()[0]
        return int(orders), int(fills)

    # -- meta
    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        if self.readonly:
            self._refuse()
        with self._lock:
            self._db.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))
        self._wrote()

    def ensure_meta(self, key: str, value: str) -> str:
        """Set ``key`` only if missing; return the stored value (read-only: the stored
        value or ``value``, writing nothing)."""
        if self.readonly:
            stored = self.meta(key)
            return value if stored is None else stored
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES(?, ?)", (key, value))
        self._wrote()
        stored = self.meta(key)
        assert stored is not None
        return stored

    def next_order_number(self, count: int = 1) -> int:
        """Reserve ``count`` order numbers atomically (safe across processes); return the last."""
        if self.readonly:
            self._refuse()
        with self._tx():
            self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES('order_seq', '0')")
            row = self._db.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key='order_seq' RETURNING value", (count,)
            ).fetchone()
        self._wrote()
        return int(row[0])

    # -- writes
    class _Tx:
        def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
            self.db = db
            self.lock = lock

        def __enter__(self) -> sqlite3.Connection:
            self.lock.acquire()
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.lock.release()
                raise
            return self.db

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            try:
                if exc_type is None:
                    self.db.execute("COMMIT")
                else:
                    self.db.execute("ROLLBACK")
            finally:
                self.lock.release()

    def _tx(self) -> Journal._Tx:
        """One transaction of several statements, under the write lock."""
        return Journal._Tx(self._db, self._lock)

    def _upsert_order(self, db: sqlite3.Connection, order: Order) -> None:
        db.execute(
            "INSERT INTO orders(id, client_id, status, symbol, created, updated, data) VALUES(?,?,?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET status=excluded.status, updated=excluded.updated, data=excluded.data",
            (int(order.id), order.client_id, order.status.value, order.symbol, order.created, order.updated, _encode(order)),
        )

    def record_order(self, kind: str, order: Order, ts: float, extra: dict[str, Any] | None = None) -> None:
        """Write an order event with the order's new state: one statement, one transaction
        (the ``order_state`` trigger updates ``orders`` inside it)."""
        if self.readonly:
            self._refuse()
        payload: dict[str, Any] = {"status": order.status.value}
        if order.reason:
            payload["reason"] = order.reason
        if extra:
            payload.update({k: str(v) if isinstance(v, Decimal) else v for k, v in extra.items()})
        payload["order"] = order
        data = _encode(payload)
        with self._lock:
            self._db.execute("INSERT INTO events(ts, kind, ref, data) VALUES(?,?,?,?)", (ts, f"order.{kind}", order.id, data))
        self._wrote()

    def record_fill(self, fill: Fill, order: Order | None) -> bool:
        """Write a fill (and its order's new state) in one statement, one transaction.

        Returns False, writing nothing, when a fill with this ``exec_id`` is already there.
        The ``fill_row`` and ``order_state`` triggers write ``fills`` and ``orders``.
        """
        if self.readonly:
            self._refuse()
        data = msgspec.structs.asdict(fill)
        if order is not None:
            data["order"] = order
        encoded = _encode(data)
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO events(ts, kind, ref, data) "
                "SELECT ?, 'fill', ?, ? WHERE NOT EXISTS (SELECT 1 FROM fills WHERE exec_id=?)",
                (fill.ts, fill.order_id, encoded, fill.exec_id),
            )
        self._wrote()
        return cur.rowcount > 0

    def has_fill(self, exec_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM fills WHERE exec_id=?", (exec_id,)).fetchone() is not None

    def append(self, kind: str, data: Any, ts: float, ref: str | None = None) -> int:
        """Append a free-form event (cash movement, risk change, alert, session mark)."""
        if self.readonly:
            self._refuse()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO events(ts, kind, ref, data) VALUES(?,?,?,?)",
                (ts, kind, ref, _encode(data)),
            )
        self._wrote()
        return int(cur.lastrowid or 0)

    def record_settlement(self, key: str, ts: float, data: dict[str, Any], fills: list[tuple[Fill, Order | None]]) -> bool:
        """Write one settlement (an option's exercise, assignment, cash settlement or expiry, a
        future's final or daily settlement) in one transaction: its fills (each with its
        order's new state) and a ``settle`` event whose ``ref`` is ``key``.

        Returns False, writing nothing, when a settlement with this key is already there: the
        same expiry or day is never applied twice, whoever asks and however often."""
        if self.readonly:
            self._refuse()
        encoded = []
        for fill, order in fills:
            row = msgspec.structs.asdict(fill)
            if order is not None:
                row["order"] = order
            encoded.append((fill, _encode(row)))
        with self._tx() as db:
            if db.execute(_SETTLED, (key,)).fetchone() is not None:
                return False
            for fill, row in encoded:
                db.execute(
                    "INSERT INTO events(ts, kind, ref, data) "
                    "SELECT ?, 'fill', ?, ? WHERE NOT EXISTS (SELECT 1 FROM fills WHERE exec_id=?)",
                    (fill.ts, fill.order_id, row, fill.exec_id),
                )
            db.execute("INSERT INTO events(ts, kind, ref, data) VALUES(?,?,?,?)", (ts, "settle", key, _encode(data)))
        self._wrote()
        return True

    def has_settlement(self, key: str) -> bool:
        return self._db.execute(_SETTLED, (key,)).fetchone() is not None

    def settlements(self, since: float | None = None) -> list[tuple[float, str, Any]]:
        """Every settlement (``ts, key, data``), oldest first; ``since``: those journaled at or after it."""
        q = f"SELECT ts, ref, data FROM events WHERE kind = 'settle' AND {_FOLLOWABLE}"
        args: tuple[Any, ...] = ()
        if since is not None:
            q += " AND ts >= ?"
            args = (since,)
        return [(ts, ref, json.loads(data)) for ts, ref, data in self._db.execute(q + " ORDER BY seq", args)]

    def book_entries(self) -> Iterator[Fill | dict[str, Any]]:
        """Fills and settlements in the order they were journaled: what rebuilds positions and
        cash (a daily settlement resets a future's cost to the price it settled at, so where it
        falls among the fills matters)."""
        decode = msgspec.json.Decoder(Fill).decode
        fills = ((seq, decode(data)) for seq, data in self._db.execute(
            "SELECT f.seq, e.data FROM fills f JOIN events e ON e.seq = f.seq ORDER BY f.seq"))
        settled = ((seq, json.loads(data)) for seq, data in self._db.execute(
            f"SELECT seq, data FROM events WHERE kind = 'settle' AND {_FOLLOWABLE} ORDER BY seq").fetchall())
        for _seq, entry in heapq.merge(fills, settled, key=lambda pair: pair[0]):
            yield entry

    def last_ts(self) -> float | None:
        """When the newest event was journaled (None for an empty journal)."""
        row = self._db.execute("SELECT ts FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else float(row[0])

    def record_cash(self, amount: Decimal, currency: str, reason: str, ts: float) -> None:
        self.append("cash", {"amount": str(amount), "currency": currency, "reason": reason}, ts)

    # -- reads
    def iter_orders(self) -> Iterator[Order]:
        """Every order, by id, read as it is consumed (a long backtest's are many)."""
        for (data,) in self._db.execute("SELECT data FROM orders ORDER BY id"):
            yield _decode_order(data)

    def iter_fills(self) -> Iterator[Fill]:
        """Every fill, in the order it was journaled, read as it is consumed."""
        decode = msgspec.json.Decoder(Fill).decode
        for (data,) in self._db.execute("SELECT e.data FROM fills f JOIN events e ON e.seq = f.seq ORDER BY f.seq"):
            yield decode(data)

    def orders(self, statuses: tuple[str, ...] | None = None) -> list[Order]:
        if statuses:
            marks = ",".join("?" * len(statuses))
            rows = self._db.execute(f"SELECT data FROM orders WHERE status IN ({marks}) ORDER BY id", statuses)
        else:
            rows = self._db.execute("SELECT data FROM orders ORDER BY id")
        return [_decode_order(r[0]) for r in rows]

    def order(self, order_id: str) -> Order | None:
        try:
            key = int(order_id)
        except ValueError:
            return None
        row = self._db.execute("SELECT data FROM orders WHERE id=?", (key,)).fetchone()
        return _decode_order(row[0]) if row else None

    def fills(self, since: float | None = None) -> list[Fill]:
        q = "SELECT e.data FROM fills f JOIN events e ON e.seq = f.seq"
        args: tuple[Any, ...] = ()
        if since is not None:
            q += " WHERE f.ts >= ?"
            args = (since,)
        return [msgspec.json.decode(r[0], type=Fill) for r in self._db.execute(q + " ORDER BY f.seq", args)]

    def cash_entries(self) -> list[tuple[Decimal, str, str]]:
        out = []
        for (data,) in self._db.execute("SELECT data FROM events WHERE kind='cash' ORDER BY seq"):
            d = json.loads(data)
            out.append((Decimal(d["amount"]), d["currency"], d["reason"]))
        return out

    def events(self, kind_prefix: str | None = None, limit: int | None = None) -> Iterator[tuple[int, float, str, str | None, Any]]:
        q = "SELECT seq, ts, kind, ref, data FROM events"
        args: list[Any] = []
        if kind_prefix:
            q += " WHERE kind LIKE ?"
            args.append(kind_prefix + "%")
        q += " ORDER BY seq"
        if limit:
            q = f"SELECT * FROM ({q[:-len(' ORDER BY seq')]} ORDER BY seq DESC LIMIT {int(limit)}) ORDER BY seq"
        for seq, ts, kind, ref, data in self._db.execute(q, args):
            yield seq, ts, kind, ref, json.loads(data)

    def latest(self, kind: str, limit: int) -> list[tuple[int, float, str, str | None, Any]]:
        """The ``limit`` newest events of exactly ``kind``, oldest first."""
        rows = self._db.execute(
            "SELECT * FROM (SELECT seq, ts, kind, ref, data FROM events WHERE kind = ? AND "
            f"{_FOLLOWABLE} ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (kind, int(limit)),
        )
        return [(q, ts, k, ref, json.loads(data)) for q, ts, k, ref, data in rows]

    def alert_state(self) -> dict[str, tuple[float, bool, str | None]]:
        """Each alert key's last firing: ``key -> (fired, armed, rule text)`` (empty for a
        journal, opened read-only, that predates the table)."""
        try:
            rows = self._db.execute("SELECT key, fired, armed, rule FROM alert_state").fetchall()
        except sqlite3.OperationalError:
            return {}
        return {key: (fired, bool(armed), rule) for key, fired, armed, rule in rows}

    def last_seq(self) -> int:
        """The sequence number of the newest event (0 for an empty journal)."""
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        return int(row[0])

    def events_after(self, seq: int, kinds: tuple[str, ...]) -> list[tuple[int, float, str, str | None, Any]]:
        """Events newer than ``seq`` whose kind is one of ``kinds`` (exactly), oldest first:
        how a running session follows what another process wrote to the same journal."""
        marks = ",".join("?" * len(kinds))
        followable = all(not k.startswith("order.") and k != "fill" for k in kinds)
        where = f"seq > ? AND kind IN ({marks})" + (f" AND {_FOLLOWABLE}" if followable else "")
        rows = self._db.execute(f"SELECT seq, ts, kind, ref, data FROM events WHERE {where} ORDER BY seq", (seq, *kinds))
        return [(q, ts, kind, ref, json.loads(data)) for q, ts, kind, ref, data in rows]


# --------------------------------------------------------------------------- helpers


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _empty() -> sqlite3.Connection:
    """An empty journal in memory, for reading a journal that does not exist."""
    db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    for statement in _SCHEMA:
        db.execute(statement)
    db.execute("PRAGMA query_only=ON")
    return db


def _source(path: Path) -> sqlite3.Connection:
    """A connection that can only read ``path`` and sees what writers commit.

    ``mode=ro`` needs the ``-shm`` file of a WAL journal, and creates it when no writer
    has (leaving it, 0600 like the journal). Where it cannot (a directory we may not
    write) and there is no ``-wal`` file, the journal file alone is the whole journal, and
    it is read as ``immutable`` instead."""
    uri = path.resolve().as_uri()
    try:
        return _probe(sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, timeout=10.0, check_same_thread=False))
    except sqlite3.OperationalError:
        if path.with_name(path.name + "-wal").exists():
            raise
    return _probe(sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None, check_same_thread=False))


def _probe(db: sqlite3.Connection) -> sqlite3.Connection:
    try:
        db.execute("PRAGMA query_only=ON")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        db.close()
        raise
    return db


def _backup(source: sqlite3.Connection, dest: Path, *, overwrite: bool) -> Path:
    """Copy the database behind ``source`` to ``dest`` with ``Connection.backup`` (all pages
    in one step: one read transaction, so one consistent state)."""
    partial = dest.with_name(dest.name + ".partial")
    try:
        if dest.exists() and not overwrite:
            raise JournalError(f"{dest} already exists")
        private_dir(dest.parent, tighten_existing=False)
        for stale in (partial, *_sidecars(partial)):
            stale.unlink(missing_ok=True)
        private_file(partial)
        target = sqlite3.connect(str(partial), isolation_level=None)
        try:
            source.backup(target)
            # a copy is one self-contained file: reading it makes no -wal/-shm beside it
            # (a Journal that opens it for writing turns the log back on)
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
        for stale in _sidecars(dest):  # an old copy's log must not be read into the new one
            stale.unlink(missing_ok=True)
        os.replace(partial, dest)
    except OSError as exc:
        _discard(partial)
        raise JournalError(f"cannot write {dest}: {exc.strerror or _one_line(exc)}") from None
    except sqlite3.Error as exc:
        _discard(partial)
        raise JournalError(f"cannot copy the journal to {dest}: {_one_line(exc)}") from None
    return dest


def _sidecars(path: Path) -> tuple[Path, ...]:
    return tuple(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))


def _discard(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass
