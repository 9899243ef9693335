"""The crash-safe journal: SQLite in WAL mode, written before anything is shown.

Tables
------
``meta``      key/value facts: schema version, creation time, initial cash, order id counter.
``orders``    the latest state of every order (one row per order, JSON of ``model.Order``).
``events``    an append-only log of everything that happened: order events, cash movements,
              risk changes, alerts, sessions (``kind`` + JSON payload).
``fills``     every execution, unique by ``exec_id``: a duplicated broker report is dropped
              here, so a fill is counted once however often it arrives.

Each write is one statement and so one transaction (triggers keep ``orders`` and ``fills``
current inside it), committed before the caller publishes the change. With
``synchronous=NORMAL`` (the default) a committed transaction survives a killed process;
``synchronous=FULL`` (a setting) also survives a power cut.

Recovery: orders come back from ``orders``, positions and cash are recomputed from
``fills`` and the cash entries in ``events`` by the portfolio (see ``Session``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from workstation.model import Fill, Order

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    symbol TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    ref TEXT,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS fills (
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
);
CREATE INDEX IF NOT EXISTS fills_ts ON fills(ts);
-- an order event carries the order's new state; this keeps ``orders`` current in the same
-- statement, so journaling an order event is one atomic write
CREATE TRIGGER IF NOT EXISTS order_state AFTER INSERT ON events
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
END;
-- a fill event fills the ``fills`` index in the same statement
CREATE TRIGGER IF NOT EXISTS fill_row AFTER INSERT ON events
WHEN NEW.kind = 'fill'
BEGIN
    INSERT INTO fills(exec_id, order_id, symbol, side, qty, price, commission, ts, strategy, seq) VALUES (
        json_extract(NEW.data, '$.exec_id'), json_extract(NEW.data, '$.order_id'),
        json_extract(NEW.data, '$.symbol'), json_extract(NEW.data, '$.side'),
        json_extract(NEW.data, '$.qty'), json_extract(NEW.data, '$.price'),
        json_extract(NEW.data, '$.commission'), NEW.ts, json_extract(NEW.data, '$.strategy'), NEW.seq
    );
END;
"""

_encode = msgspec.json.Encoder().encode
_decode_order = msgspec.json.Decoder(Order).decode


class JournalError(Exception):
    """The journal file is unreadable or from an unknown future version."""


class Journal:
    def __init__(self, path: Path | str, *, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        sync = synchronous.upper()
        if sync not in ("NORMAL", "FULL", "OFF"):
            raise ValueError(f"journal synchronous must be NORMAL or FULL, got {synchronous!r}")
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, timeout=10.0, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={sync}")
            # checkpoints run off the trading path (``checkpoint``), not inside a commit
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._db.executescript(_SCHEMA)
            version = self.meta("schema_version")
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"journal {path} is unreadable: {exc}") from None
        if version is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        elif int(version) > SCHEMA_VERSION:
            raise JournalError(f"journal {path} is from a newer version ({version}) of the workstation")

    def close(self) -> None:
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:
            pass  # another process is reading: it will checkpoint later
        self._db.close()

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database without blocking writers.

        Runs on its own connection, so a session can call it from a worker thread."""
        if str(self.path) == ":memory:":
            return
        db = sqlite3.connect(str(self.path), timeout=1.0)
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.OperationalError:
            pass
        finally:
            db.close()

    # -- meta
    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))

    def ensure_meta(self, key: str, value: str) -> str:
        """Set ``key`` only if missing; return the stored value."""
        self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES(?, ?)", (key, value))
        stored = self.meta(key)
        assert stored is not None
        return stored

    def next_order_number(self, count: int = 1) -> int:
        """Reserve ``count`` order numbers atomically (safe across processes); return the last."""
        with self._tx():
            self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES('order_seq', '0')")
            row = self._db.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key='order_seq' RETURNING value", (count,)
            ).fetchone()
        return int(row[0])

    # -- writes
    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            if exc_type is None:
                self.db.execute("COMMIT")
            else:
                self.db.execute("ROLLBACK")

    def _tx(self) -> Journal._Tx:
        return Journal._Tx(self._db)

    def _upsert_order(self, db: sqlite3.Connection, order: Order) -> None:
        db.execute(
            "INSERT INTO orders(id, client_id, status, symbol, created, updated, data) VALUES(?,?,?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET status=excluded.status, updated=excluded.updated, data=excluded.data",
            (int(order.id), order.client_id, order.status.value, order.symbol, order.created, order.updated, _encode(order)),
        )

    def record_order(self, kind: str, order: Order, ts: float, extra: dict[str, Any] | None = None) -> None:
        """Write an order event with the order's new state: one statement, one transaction
        (the ``order_state`` trigger updates ``orders`` inside it)."""
        payload: dict[str, Any] = {"status": order.status.value}
        if order.reason:
            payload["reason"] = order.reason
        if extra:
            payload.update({k: str(v) if isinstance(v, Decimal) else v for k, v in extra.items()})
        payload["order"] = order
        self._db.execute(
            "INSERT INTO events(ts, kind, ref, data) VALUES(?,?,?,?)",
            (ts, f"order.{kind}", order.id, _encode(payload)),
        )

    def record_fill(self, fill: Fill, order: Order | None) -> bool:
        """Write a fill (and its order's new state) in one statement, one transaction.

        Returns False, writing nothing, when a fill with this ``exec_id`` is already there.
        The ``fill_row`` and ``order_state`` triggers write ``fills`` and ``orders``.
        """
        data = msgspec.structs.asdict(fill)
        if order is not None:
            data["order"] = order
        cur = self._db.execute(
            "INSERT INTO events(ts, kind, ref, data) "
            "SELECT ?, 'fill', ?, ? WHERE NOT EXISTS (SELECT 1 FROM fills WHERE exec_id=?)",
            (fill.ts, fill.order_id, _encode(data), fill.exec_id),
        )
        return cur.rowcount > 0

    def has_fill(self, exec_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM fills WHERE exec_id=?", (exec_id,)).fetchone() is not None

    def append(self, kind: str, data: Any, ts: float, ref: str | None = None) -> int:
        """Append a free-form event (cash movement, risk change, alert, session mark)."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO events(ts, kind, ref, data) VALUES(?,?,?,?)",
                (ts, kind, ref, _encode(data)),
            )
        return int(cur.lastrowid or 0)

    def record_cash(self, amount: Decimal, currency: str, reason: str, ts: float) -> None:
        self.append("cash", {"amount": str(amount), "currency": currency, "reason": reason}, ts)

    # -- reads
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

    def last_seq(self) -> int:
        """The sequence number of the newest event (0 for an empty journal)."""
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        return int(row[0])

    def events_after(self, seq: int, kinds: tuple[str, ...]) -> list[tuple[int, float, str, str | None, Any]]:
        """Events newer than ``seq`` whose kind is one of ``kinds`` (exactly), oldest first:
        how a running session follows what another process wrote to the same journal."""
        marks = ",".join("?" * len(kinds))
        rows = self._db.execute(
            f"SELECT seq, ts, kind, ref, data FROM events WHERE seq > ? AND kind IN ({marks}) ORDER BY seq", (seq, *kinds)
        )
        return [(q, ts, kind, ref, json.loads(data)) for q, ts, kind, ref, data in rows]
