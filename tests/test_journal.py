from decimal import Decimal

import pytest

from workstation.journal import Journal, JournalError
from workstation.model import Fill, Order, OrderStatus, OrderType, Side, TimeInForce


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
