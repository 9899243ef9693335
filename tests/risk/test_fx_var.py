"""Foreign-currency moves in the VaR (workstation.risk.portfolio_model): a EUR-quoted holding
moves with its own returns and the euro's, (1 + r_local)(1 + r_fx) - 1; foreign cash is an
exposure to its rate; a currency without history is named in left_out, never riskless."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from decimal import Decimal

import numpy as np
import pytest

from workstation.core.model import AssetClass, Bar, Instrument, Position
from workstation.core.symbols import parse_symbol
from workstation.risk.portfolio_model import load_portfolio_risk
from workstation.risk.var import historical_var, risk_report
from workstation.trading.greeks import GreekBook
from workstation.trading.portfolio import Portfolio

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc).timestamp()
DAYS = 120
SAP = Instrument(symbol="SAP", asset_class=AssetClass.EQUITY, currency="EUR")
RATE = Decimal("1.10")  # USD per EUR today


def _returns(seed: int, sd: float) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, sd, DAYS)


LOCAL = _returns(1, 0.015)  # SAP in euros
FX = _returns(2, 0.006)  # the euro in dollars


def _bars(symbol: str, returns: np.ndarray, last_close: float) -> list[Bar]:
    closes = np.concatenate([[1.0], np.cumprod(1 + returns)])
    closes = closes * last_close / closes[-1]
    last = int(NOW // 86_400)
    days = range(last - len(closes) + 1, last + 1)
    return [Bar(symbol, d * 86_400.0, c, c, c, c, 0.0, 86_400) for d, c in zip(days, closes.tolist())]


def history_of(series: dict[str, list[Bar]]):
    async def history(symbol: str, seconds: int, start: float, end: float) -> list[Bar]:
        return [b for b in series.get(symbol, []) if start <= b.ts < end]
    return history


def instrument(symbol: str) -> Instrument:
    return SAP if symbol == "SAP" else parse_symbol(symbol)


def _load(positions, cash, series):
    p = Portfolio(base_currency="USD", instrument=instrument, rate=lambda ccy: RATE if ccy == "EUR" else None)
    p.adopt(positions, cash=cash)
    p.mark("SAP", 150.0)
    p.mark("AAPL", 200.0)
    book = GreekBook(instrument=instrument, quote=lambda s: None, now=lambda: NOW, last=p.last)
    return asyncio.run(load_portfolio_risk(p, instrument, book, history_of(series), NOW, lookback=DAYS))


def test_a_eur_holding_moves_with_its_local_returns_and_the_euros():
    series = {"SAP": _bars("SAP", LOCAL, 150.0), "EUR/USD": _bars("EUR/USD", FX, 1.10)}
    inputs = _load([Position(symbol="SAP", qty=Decimal(100), avg_price=Decimal(140))], {"USD": Decimal(0)}, series)
    assert inputs.left_out == ()
    value = 100 * 150 * 1.10  # 16,500 USD
    pnl = value * ((1 + LOCAL) * (1 + FX) - 1)  # each past day's P&L in dollars
    expected = -float(np.percentile(pnl, 1.0))  # numpy's own, independently of the model
    report = risk_report(inputs, methods=["historical", "parametric"])
    got = report.figure("historical", 0.99, 1).var
    assert got == pytest.approx(expected, rel=1e-9)
    local_only = historical_var(value * LOCAL, 0.99)
    assert abs(got - local_only) > 1.0  # the euro's moves change the figure
    sd = np.std(pnl)  # parametric: the compounded returns' volatility times z
    assert report.figure("parametric", 0.99, 1).var == pytest.approx(2.3263478740408408 * sd, rel=1e-6)


def test_foreign_cash_alone_has_the_var_of_its_rate():
    series = {"EUR/USD": _bars("EUR/USD", FX, 1.10)}
    inputs = _load([], {"USD": Decimal(0), "EUR": Decimal(10_000)}, series)
    (cash,) = inputs.positions
    assert (cash.symbol, cash.factor, cash.value, cash.asset_class) == ("EUR cash", "EUR/USD", 11_000.0, "cash")
    got = risk_report(inputs, methods=["historical"]).figure("historical", 0.99, 1).var
    assert got == pytest.approx(-float(np.percentile(11_000.0 * FX, 1.0)), rel=1e-9)


def test_the_inverse_pair_serves_when_the_direct_one_has_no_history():
    inverse = _bars("USD/EUR", (1 / (1 + FX)) - 1, 1 / 1.10)  # USD/EUR quoted: the euro's returns, inverted
    inputs = _load([], {"USD": Decimal(0), "EUR": Decimal(10_000)}, {"USD/EUR": inverse})
    got = risk_report(inputs, methods=["historical"]).figure("historical", 0.99, 1).var
    assert got == pytest.approx(historical_var(11_000.0 * FX, 0.99), rel=1e-9)


def test_a_currency_without_history_is_named_in_left_out_not_riskless():
    series = {"SAP": _bars("SAP", LOCAL, 150.0), "AAPL": _bars("AAPL", LOCAL[::-1].copy(), 200.0)}
    inputs = _load(
        [Position(symbol="SAP", qty=Decimal(100), avg_price=Decimal(140)), Position(symbol="AAPL", qty=Decimal(10), avg_price=Decimal(200))],
        {"USD": Decimal(0), "EUR": Decimal(5_000)}, series,
    )
    assert [e.symbol for e in inputs.positions] == ["AAPL"]
    assert "SAP: no daily history of EUR/USD or USD/EUR: its currency's moves cannot be measured" in inputs.left_out
    assert "EUR cash: no daily history of EUR/USD" in inputs.left_out
