"""Execution quality in money a user can add up: per contract, converted to the base currency
at the rate the journal's own FX fills show, or left in its own currency and named."""

from __future__ import annotations

from decimal import Decimal

from workstation.core.model import BUY, Fill
from workstation.research import analytics as a


class _Order:
    def __init__(self, decision: str) -> None:
        self.decision_price = Decimal(decision)


def _fill(n: int, symbol: str, qty: str, price: str, ts: float) -> Fill:
    return Fill(exec_id=f"x{n}", order_id=str(n), symbol=symbol, side=BUY, qty=Decimal(qty), price=Decimal(price), ts=ts)


def test_a_foreign_fill_converts_at_the_journals_fx_rate_or_keeps_its_currency() -> None:
    sap = _fill(1, "SAP", "100", "200.50", 10.0)  # a euro-quoted share, 0.50 EUR worse than decided
    eurusd = _fill(2, "EUR/USD", "1000", "1.1000", 5.0)
    orders = {"1": _Order("200.00"), "2": _Order("1.1000")}
    ccy = {"SAP": "EUR", "EUR/USD": "USD"}.get

    rows = a.execution_quality([sap, eurusd], orders, currency=lambda s: ccy(s) or "USD", base="USD")
    assert rows[0].currency == "USD" and rows[0].vs_decision == Decimal("55.00000")  # 50 EUR at 1.10

    alone = a.execution_quality([sap, _fill(3, "AAPL", "1", "100.01", 11.0)], {**orders, "3": _Order("100.00")},
                                currency=lambda s: ccy(s) or "USD", base="USD")
    assert alone[0].currency == "EUR" and alone[0].vs_decision == Decimal("50.00")  # no rate: euros, and says so
    summary = a.execution_summary(alone, "strategy")["manual"]
    assert summary["vs_decision"] is None  # never euros and dollars added up as one number
    assert summary["vs_decision_by_currency"] == {"EUR": Decimal("50.00"), "USD": Decimal("0.01")}
