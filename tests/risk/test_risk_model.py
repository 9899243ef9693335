"""The risk model's inputs from an engine (workstation.risk.portfolio_model): exposures of each
kind of position in the base currency, labels, what is left out and why, the cache, and a paper
session's report end to end."""

from __future__ import annotations

import asyncio
import math
from datetime import date, datetime, timezone
from decimal import Decimal

import numpy as np
import pytest

from workstation.core.model import BUY, SELL, Bar, Fill, Quote
from workstation.core.options import bsm_greeks, bsm_price, year_fraction
from workstation.core.symbols import parse_symbol
from workstation.risk.portfolio_model import ReturnCache, load_portfolio_risk
from workstation.risk.var import RiskModelError, risk_report
from workstation.trading.greeks import GreekBook
from workstation.trading.portfolio import Portfolio

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc).timestamp()
OPTION = "AAPL-2026-12-18-200-C"
PRICES = {"AAPL": 200.0, "MSFT": 400.0, "ES-2026-12": 6000.0, "SPY": 600.0, "BTC/USD": 90_000.0}


def _closes(symbol: str, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(sum(map(ord, symbol)))
    path = np.cumprod(1 + rng.normal(0, 0.012, n))
    return PRICES.get(symbol, PRICES.get(symbol.split("-")[0], 100.0)) * path / path[-1]


class FakeHistory:
    """Daily bars of every symbol it knows, one per UTC day up to ``NOW``; counts the calls."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.calls: list[str] = []

    async def __call__(self, symbol: str, seconds: int, start: float, end: float) -> list[Bar]:
        self.calls.append(symbol)
        if symbol not in self.known:
            raise LookupError(f"no history for {symbol}")
        last = int(end // 86_400)
        closes = _closes(symbol)
        days = range(last - len(closes) + 1, last + 1)
        return [Bar(symbol, d * 86_400.0, c, c, c, c, 0.0, 86_400) for d, c in zip(days, closes) if d * 86_400 >= start]


def _quote(symbol: str, mid: float) -> Quote:
    return Quote(symbol=symbol, ts=NOW, bid=mid - 0.01, ask=mid + 0.01, last=mid)


def _book(portfolio: Portfolio, quotes: dict[str, Quote]) -> GreekBook:
    return GreekBook(instrument=parse_symbol, quote=quotes.get, now=lambda: NOW, last=portfolio.last)


def _fill(n: int, symbol: str, qty: int, price: str, strategy: str | None = None) -> Fill:
    side = BUY if qty > 0 else SELL
    return Fill(exec_id=f"e{n}", order_id=f"o{n}", symbol=symbol, side=side, qty=Decimal(abs(qty)),
                price=Decimal(price), ts=NOW - 3600, strategy=strategy)


def _option_mid(iv: float = 0.30) -> float:
    years = year_fraction(date(2026, 12, 18), NOW)
    return float(bsm_price(200.0, 200.0, years, 0.04, 0.0, iv, True))


def _portfolio(base: str = "USD", rate: Decimal | None = None) -> tuple[Portfolio, GreekBook]:
    p = Portfolio(base_currency=base, instrument=parse_symbol, initial_cash=Decimal(1_000_000),
                  rate=(lambda ccy: rate) if rate else None)
    mid = _option_mid()
    p.apply_fill(_fill(1, "AAPL", 100, "200", strategy="trend"))
    p.apply_fill(_fill(2, "MSFT", -50, "400"))
    p.apply_fill(_fill(3, "ES-2026-12", 2, "6000"))
    p.apply_fill(_fill(4, OPTION, 3, f"{mid:.2f}"))
    quotes = {s: _quote(s, v) for s, v in PRICES.items()} | {OPTION: _quote(OPTION, mid)}
    for s, q in quotes.items():
        p.mark(s, q.last)
    return p, _book(p, quotes)


def _load(p: Portfolio, book: GreekBook, history: FakeHistory, **kw: object):
    return asyncio.run(load_portfolio_risk(p, parse_symbol, book, history, NOW, **kw))


def test_each_kind_of_position_becomes_its_exposure_on_its_factors_returns():
    p, book = _portfolio()
    inputs = _load(p, book, FakeHistory({"AAPL", "MSFT", "ES", "SPY"}))
    by = {e.symbol: e for e in inputs.positions}
    assert by["AAPL"].value == 20_000.0 and by["AAPL"].factor == "AAPL"
    assert by["MSFT"].value == -20_000.0
    fut = by["ES-2026-12"]
    assert (fut.value, fut.factor, fut.asset_class) == (2 * 50 * 6000.0, "ES", "future")
    opt = by[OPTION]
    years = year_fraction(date(2026, 12, 18), NOW)
    delta = float(bsm_greeks(200.0, 200.0, years, 0.04, 0.0, 0.30, True).delta)
    assert opt.factor == "AAPL" and opt.asset_class == "option"
    assert opt.value == pytest.approx(delta * 100 * 3 * 200.0, rel=1e-4)  # delta x multiplier x qty x spot
    assert opt.option.vol == pytest.approx(0.30, abs=1e-4) and opt.option.units == 300.0
    assert opt.option.years == pytest.approx(years)
    assert inputs.returns.symbols == ("AAPL", "ES", "MSFT")
    assert len(inputs.returns.days) == 250 and inputs.benchmark is not None
    assert inputs.left_out == ()


def test_positions_carry_their_sector_asset_class_and_strategy():
    p, book = _portfolio()
    inputs = _load(p, book, FakeHistory({"AAPL", "MSFT", "ES", "SPY"}))
    by = {e.symbol: e for e in inputs.positions}
    assert by["AAPL"].sector == "Information Technology" and by["AAPL"].strategy == "trend"
    assert by[OPTION].sector == "Information Technology" and by[OPTION].strategy == "manual"
    report = risk_report(inputs)
    groups = {(g.by, g.name) for g in report.groups}
    assert {("strategy", "trend"), ("strategy", "manual"), ("asset_class", "future"), ("asset_class", "option")} <= groups


def test_exposures_are_converted_to_the_base_currency():
    p, book = _portfolio(base="EUR", rate=Decimal("0.9"))
    inputs = _load(p, book, FakeHistory({"AAPL", "MSFT", "ES", "SPY", "USD/EUR"}))
    by = {e.symbol: e for e in inputs.positions}
    assert by["AAPL"].value == pytest.approx(18_000.0)
    assert by["AAPL"].factor == "AAPL in EUR (USD)"  # its dollar moves and the dollar's against the euro
    assert by["USD cash"].factor == "USD/EUR" and by["USD cash"].asset_class == "cash"
    assert by[OPTION].option.units == pytest.approx(270.0)
    assert risk_report(inputs).base_currency == "EUR"


def test_a_symbol_without_history_is_left_out_and_named_a_future_falls_back_to_its_contract():
    p, book = _portfolio()
    history = FakeHistory({"AAPL", "SPY", "ES-2026-12"})  # no MSFT at all; ES only as the contract
    inputs = _load(p, book, history)
    assert {e.symbol for e in inputs.positions} == {"AAPL", OPTION, "ES-2026-12"}
    assert inputs.left_out == ("MSFT: no daily history of MSFT",)
    assert "ES-2026-12" in history.calls
    assert risk_report(inputs).left_out == ["MSFT: no daily history of MSFT"]


def test_an_option_without_an_iv_is_left_out_not_counted_as_riskless():
    p, _ = _portfolio()
    quotes = {s: _quote(s, v) for s, v in PRICES.items()}  # no quote for the option, no IV known
    p.marks.pop(OPTION)
    inputs = _load(p, _book(p, quotes), FakeHistory({"AAPL", "MSFT", "ES", "SPY"}))
    assert OPTION not in {e.symbol for e in inputs.positions}
    assert inputs.left_out == (f"{OPTION}: no implied volatility or underlying price",)


def test_the_returns_and_covariance_are_cached_per_holdings_and_day():
    p, book = _portfolio()
    history = FakeHistory({"AAPL", "MSFT", "ES", "SPY"})
    cache = ReturnCache()
    first = _load(p, book, history, cache=cache)
    asked = len(history.calls)
    again = _load(p, book, history, cache=cache)
    assert len(history.calls) == asked and cache.misses == 1  # the broker is not asked again
    assert again.cov is first.cov
    p.apply_fill(_fill(9, "BTC/USD", 1, "90000"))
    _load(p, book, FakeHistory({"AAPL", "MSFT", "ES", "SPY", "BTC/USD"}), cache=cache)
    assert cache.misses == 2  # a new holding: measured again
    asyncio.run(load_portfolio_risk(p, parse_symbol, book, history, NOW + 86_400, cache=cache))
    assert cache.misses == 3  # a new day too


def test_the_ewma_option_reaches_the_cached_covariance():
    p, book = _portfolio()
    history = FakeHistory({"AAPL", "MSFT", "ES", "SPY"})
    plain = _load(p, book, history)
    ewma = _load(p, book, history, decay=0.94)
    assert ewma.decay == 0.94 and not np.allclose(plain.cov, ewma.cov)


def test_no_positions_is_one_clear_line():
    p = Portfolio(instrument=parse_symbol)
    inputs = _load(p, _book(p, {}), FakeHistory({"SPY"}))
    with pytest.raises(RiskModelError, match="^no open positions: nothing to measure$"):
        risk_report(inputs)


def test_a_paper_sessions_positions_get_a_full_risk_report(tmp_path):
    from brokers.paper.broker import SimBroker
    from workstation.core.clock import SimClock
    from workstation.core.config import Settings
    from workstation.core.model import Position
    from workstation.trading.session import Session

    clock = SimClock(1_790_000_000.0)
    s = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=SimBroker(clock=clock))
    try:
        s.portfolio.adopt([Position(symbol="AAPL", qty=Decimal(100), avg_price=Decimal(200)),
                           Position(symbol="XOM", qty=Decimal(-40), avg_price=Decimal(110))])
        for sym in ("AAPL", "XOM"):
            s.portfolio.mark(sym, s.broker.snapshot(sym).last)
        inputs = asyncio.run(load_portfolio_risk(
            s.portfolio, s.oms.instrument_cached, s.greeks, s.broker.history, clock.time()))
        report = risk_report(inputs)
    finally:
        s.journal.close()
    assert report.days == 250 and report.left_out == []
    h = report.figure("historical", 0.99, 1)
    assert 0 < h.var <= h.cvar
    assert report.figure("historical", 0.95, 1).var < h.var
    assert math.fsum(p.component_var["historical"] for p in report.positions) == pytest.approx(h.var)
    assert all(p.beta is not None for p in report.positions)
    assert report.correlation_symbols == ["AAPL", "XOM"]
