"""``main.py execution``: slippage money per whole contract and in the base currency."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from workstation.cli.app import main
from workstation.core.journal import Journal
from workstation.core.model import BUY, Fill, Order, OrderStatus, OrderType, TimeInForce

OPTION = "AAPL-2027-01-15-200-C"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def _journal(path) -> None:
    j = Journal(path)
    try:
        for n, (symbol, qty, decision, price) in enumerate(
            ((OPTION, "10", "8.00", "8.10"), ("USD/JPY", "10000", "150.00", "150.05")), 1,
        ):
            order = Order(
                id=str(n), client_id=f"c-{n}", symbol=symbol, side=BUY, qty=Decimal(qty), type=OrderType.MARKET,
                tif=TimeInForce.DAY, status=OrderStatus.FILLED, filled_qty=Decimal(qty), avg_fill_price=Decimal(price),
                created=1_700_000_000.0 + n, updated=1_700_000_000.0 + n, decision_price=Decimal(decision),
            )
            j.record_order("submitted", order, order.created)
            j.record_fill(Fill(exec_id=f"x{n}", order_id=str(n), symbol=symbol, side=BUY, qty=Decimal(qty),
                               price=Decimal(price), ts=order.created), order)
    finally:
        j.close()


def test_option_slippage_is_per_contract_and_usd_jpy_is_in_dollars(capsys, tmp_path) -> None:
    path = tmp_path / "journal.sqlite"
    _journal(path)
    code, out, err = cli(capsys, "execution", "--journal", str(path), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["currency"] == "USD"
    option, fx = doc["by_symbol"][OPTION], doc["by_symbol"]["USD/JPY"]
    # 0.10 a share on 10 contracts of 100 shares: $100, not $1
    assert Decimal(option["vs_decision"]) == Decimal(100) and option["currency"] == "USD"
    # 0.05 yen on 10,000 dollars is 500 yen: $3.33 at 150.05, not "$500"
    assert Decimal(fx["vs_decision"]).quantize(Decimal("0.01")) == Decimal("3.33") and fx["currency"] == "USD"
    assert Decimal(doc["by_strategy"]["manual"]["vs_decision"]).quantize(Decimal("0.01")) == Decimal("103.33")
    code, out, err = cli(capsys, "execution", "--journal", str(path))
    assert code == 0, err
    assert "vs decision USD" in out and "100.00" in out and "3.33" in out and "500.00" not in out
