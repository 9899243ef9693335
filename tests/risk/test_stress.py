"""Stress scenarios: hand P&L of the shipped scenarios, options revalued by the model, the
dollar, precedence, and a historical replay over real bars (ORCL and NVDA, October 2008)."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.core.model import AssetClass, Bar, Instrument, Right
from workstation.core.options import bsm_greeks
from workstation.core.sectors import SectorMap
from workstation.core.symbols import parse_symbol
from workstation.risk.stress import SHIPPED, Holding, Scenario, StressError, StressInputs, replay, run

D = Decimal
DATA = Path(__file__).resolve().parents[1] / "data"
SECTORS = SectorMap()


def shipped(name: str) -> Scenario:
    return next(s for s in SHIPPED if s.name == name)


def hold(symbol: str, qty: str, price: str, inst: Instrument | None = None) -> Holding:
    inst = inst or parse_symbol(symbol)
    return Holding(inst, D(qty), D(price), SECTORS.sector(symbol))


SAP = Instrument(symbol="SAP", asset_class=AssetClass.EQUITY, currency="EUR")


def hand_portfolio() -> StressInputs:
    return StressInputs(
        base="USD", equity=D(100_000),
        holdings=(
            hold("AAPL", "100", "200"),
            hold("BTC/USD", "0.5", "60000"),
            Holding(parse_symbol("ES-2026-12"), D(1), D(5000), "Broad Market ETF"),
            hold("EUR/USD", "10000", "1.10"),
            Holding(SAP, D(10), D(150), "Information Technology"),
        ),
        cash={"USD": D(50_000), "EUR": D(1000)}, fx={"EUR": D("1.10")},
    )


def pnl_of(result, symbol: str) -> Decimal:
    return next(p.pnl for p in result.positions if p.symbol == symbol)


def test_equities_down_10_gives_the_hand_pnl_exactly():
    r = run(hand_portfolio(), shipped("equities -10%"))
    assert pnl_of(r, "AAPL") == D("-2000")
    assert pnl_of(r, "ES-2026-12") == D("-25000")  # 1 x 50 x 5000 x -10%: the future moves with its index
    assert pnl_of(r, "SAP") == D("-165")  # 10 x 150 EUR x 1.10 x -10%
    assert pnl_of(r, "BTC/USD") == 0 and pnl_of(r, "EUR/USD") == 0
    assert r.pnl == D("-27165")
    assert r.pnl_pct == D("-27.16")  # -27.165%, to the nearest even cent
    assert [p.symbol for p in r.worst(2)] == ["ES-2026-12", "AAPL"]
    assert dict(r.by_sector)["Broad Market ETF"] == D("-25000")
    assert dict(r.by_asset_class)["equity"] == D("-2165")


def test_equities_down_20_and_crypto_down_30():
    assert run(hand_portfolio(), shipped("equities -20%")).pnl == D("-54330")
    r = run(hand_portfolio(), shipped("crypto -30%"))
    assert r.pnl == D("-9000") and pnl_of(r, "BTC/USD") == D("-9000")
    assert r.positions[0].source == "equity market" and pnl_of(r, "AAPL") == 0


def test_dollar_up_5_revalues_eurusd_a_eur_asset_and_eur_cash():
    r = run(hand_portfolio(), shipped("dollar +5%"))
    # a dollar worth 5% more: a euro is worth 1/1.05 as many dollars
    assert pnl_of(r, "EUR/USD") == D("-523.81")  # 11,000 x (1/1.05 - 1)
    assert pnl_of(r, "SAP") == D("-78.57")  # 1,650 x (1/1.05 - 1)
    assert pnl_of(r, "EUR cash") == D("-52.38")  # 1,100 x (1/1.05 - 1)
    assert pnl_of(r, "AAPL") == 0 and pnl_of(r, "BTC/USD") == 0 and pnl_of(r, "ES-2026-12") == 0
    assert r.pnl == D("-654.76")


def test_precedence_symbol_over_sector_over_asset_class_over_market():
    s = Scenario(
        "mixed", equity=D("-0.1"), crypto=D("-0.3"),
        symbols={"NVDA": D("-0.4"), "SPY": D("-0.15")}, sectors={"Information Technology": D("-0.25")},
        asset_classes={"crypto": D("-0.5")},
    )
    inputs = StressInputs(base="USD", equity=D(100_000), holdings=(
        hold("NVDA", "10", "100"), hold("MSFT", "10", "100"), hold("JPM", "10", "100"), hold("ETH/USD", "1", "1000"),
        Holding(parse_symbol("MES-2026-12"), D(1), D(5000), "Broad Market ETF"),
        Holding(parse_symbol("NQ-2026-12"), D(1), D(20000), "Broad Market ETF"),
    ))
    r = run(inputs, s)
    got = {p.symbol: (p.move, p.source) for p in r.positions}
    assert got["NVDA"] == (D("-0.4"), "symbol NVDA")
    assert got["MSFT"] == (D("-0.25"), "sector Information Technology")
    assert got["JPM"] == (D("-0.1"), "equity market")
    assert got["ETH/USD"] == (D("-0.5"), "asset class crypto")
    assert got["MES-2026-12"] == (D("-0.15"), "symbol SPY")  # the future moves with its index's ETF
    assert got["NQ-2026-12"] == (D("-0.1"), "equity market")
    assert pnl_of(r, "MES-2026-12") == D("-3750")  # 5 x 5000 x -15%


def option(symbol: str, qty: str, spot: float, iv: float, years: float) -> tuple[Holding, float, float]:
    inst = parse_symbol(symbol)
    g = bsm_greeks(spot, float(inst.strike), years, 0.04, 0.0, iv, inst.right is Right.CALL)
    price = D(repr(round(float(g.price), 2)))
    h = Holding(inst, D(qty), price, "Information Technology", parse_symbol(inst.underlying), spot=spot, iv=iv, years=years)
    return h, float(g.delta), float(g.vega)


def test_a_long_put_gains_more_than_delta_says_in_a_selloff_and_a_short_call_loses_in_a_rally():
    put, put_delta, _ = option("AAPL-2026-12-18-200-P", "1", 200.0, 0.3, 30 / 365)
    call, call_delta, _ = option("AAPL-2026-12-18-200-C", "-1", 200.0, 0.3, 30 / 365)
    inputs = StressInputs(base="USD", equity=D(100_000), holdings=(put, call))
    down = run(inputs, shipped("equities -20%"))
    put_pnl = pnl_of(down, "AAPL-2026-12-18-200-P")
    delta_says = D(repr(put_delta * 100 * -40.0))  # 1 contract x 100 x delta x (-$40)
    assert put_pnl > delta_says > 0
    assert next(p for p in down.positions if p.symbol.endswith("P")).revalued
    up = run(inputs, Scenario("rally", symbols={"AAPL": D("0.2")}))
    call_pnl = pnl_of(up, "AAPL-2026-12-18-200-C")
    assert call_pnl < D(repr(-call_delta * 100 * 40.0)) < 0  # short gamma: worse than delta says


def test_volatility_up_50_moves_options_by_about_vega_times_the_iv_change():
    h, _, vega = option("AAPL-2026-12-18-210-C", "2", 200.0, 0.3, 60 / 365)
    r = run(StressInputs(base="USD", equity=D(100_000), holdings=(h, hold("AAPL", "100", "200"))), shipped("volatility +50%"))
    expected = 2 * 100 * vega * 15.0  # +50% of 30 vol points = 15 points
    got = float(pnl_of(r, "AAPL-2026-12-18-210-C"))
    assert got > 0 and abs(got - expected) / expected < 0.1
    assert pnl_of(r, "AAPL") == 0


def test_an_option_without_implied_vol_is_not_revalued_and_the_result_says_so():
    inst = parse_symbol("AAPL-2026-12-18-200-P")
    h = Holding(inst, D(1), D(5), "Information Technology", parse_symbol("AAPL"), spot=200.0, iv=None, years=0.1)
    r = run(StressInputs(base="USD", equity=D(1000), holdings=(h,)), shipped("equities -20%"))
    assert r.pnl == 0 and not r.positions[0].revalued
    assert any("AAPL-2026-12-18-200-P" in n for n in r.notes)


def read_bars(path: Path, symbol: str) -> list[Bar]:
    out = []
    with path.open() as f:
        for row in csv.DictReader(f):
            ts = datetime.fromisoformat(row["Date"]).replace(tzinfo=UTC).timestamp()
            out.append(Bar(symbol, ts, float(row["Open"]), float(row["High"]), float(row["Low"]), float(row["Close"]), float(row["Volume"]), 86_400))
    return out


def test_historical_replay_of_a_week_of_real_bars_with_a_fallback_for_a_symbol_without_data():
    bars = {"ORCL": read_bars(DATA / "orcl-2008-10.csv", "ORCL"), "NVDA": read_bars(DATA / "nvda-2008-10.csv", "NVDA")}
    s = replay(bars, "2008-10-06..2008-10-10", held=["ORCL", "NVDA", "MSFT", "JPM"])
    assert s.symbols["ORCL"] == D("-0.143737")  # 16.68 (Oct 10 close) / 19.48 (Oct 3 close) - 1
    assert s.symbols["NVDA"] == D("-0.245847")  # 6.81 / 9.03 - 1
    assert s.symbols["MSFT"] == D("-0.194792")  # no bars: its sector's average (ORCL and NVDA)
    assert s.symbols["JPM"] == D("-0.194792")  # no sector measured: every symbol's average
    assert any(n.startswith("MSFT: no bars") and "Information Technology" in n for n in s.notes)
    r = run(StressInputs(base="USD", equity=D(10_000), holdings=(hold("ORCL", "100", "20"),)), s)
    assert r.pnl == D("-287.474")  # 100 x 20 x -14.3737%


def test_a_replay_window_that_cannot_be_read_or_holds_no_bars_is_one_clear_error():
    with pytest.raises(StressError, match="START..END"):
        replay({}, "2008-10-06")
    with pytest.raises(StressError, match="no bars in 2001-01-01..2001-01-05"):
        replay({"ORCL": read_bars(DATA / "orcl-2008-10.csv", "ORCL")}, (date(2001, 1, 1), date(2001, 1, 5)))


def test_a_running_paper_sessions_portfolio_is_stressed_in_one_call(tmp_path):
    """The engine glue: positions at their marks, the option's IV from the GreekBook, the
    account's equity; the long put gains, the stock loses, by the shipped -20%."""
    from brokers.paper.broker import SimBroker
    from workstation.core.clock import SimClock
    from workstation.core.config import Settings
    from workstation.core.model import Position, Quote
    from workstation.risk.stress import inputs_from_session
    from workstation.trading.session import Session

    clock = SimClock(datetime(2026, 11, 18, 15, tzinfo=UTC).timestamp())
    s = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=SimBroker(clock=clock))
    try:
        put = "AAPL-2026-12-18-200-P"
        s.portfolio.adopt([Position(symbol="AAPL", qty=D(100), avg_price=D(190)), Position(symbol=put, qty=D(2), avg_price=D(5), multiplier=D(100))])
        now = clock.time()
        for q in (Quote("AAPL", now, 199.95, 200.05, 200.0), Quote(put, now, 6.4, 6.6, 6.5)):
            s.quotes.on_quote(q)
            s.portfolio.on_quote(q)
        inputs = inputs_from_session(s)
        held = {h.instrument.symbol: h for h in inputs.holdings}
        assert held["AAPL"].price == D("200") and held["AAPL"].sector == "Information Technology"
        assert held[put].spot == pytest.approx(200.0) and 0.1 < held[put].iv < 1.0 and held[put].years > 0
        assert inputs.equity == s.portfolio.equity()
        r = run(inputs, shipped("equities -20%"))
        assert pnl_of(r, "AAPL") == D("-4000")
        assert pnl_of(r, put) > D(2 * 100 * 30)  # worth at least its new intrinsic value ($40) less today's $6.5
        assert r.pnl == pnl_of(r, "AAPL") + pnl_of(r, put)
    finally:
        s.journal.close()


MONEY = st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2)
QTY = st.decimals(min_value=D("-1000"), max_value=D("1000"), places=3)
MOVE = st.decimals(min_value=D("-1"), max_value=D("2"), places=4)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["AAPL", "JPM", "XOM", "BTC/USD", "SPY"]), QTY, MONEY), min_size=1, max_size=8),
       MOVE, MOVE, st.dictionaries(st.sampled_from(["AAPL", "XOM"]), MOVE, max_size=2))
def test_linear_pnl_is_exact_and_every_breakdown_adds_up_to_the_total(rows, equity, crypto, symbols):
    holdings = tuple(hold(s, str(q), str(p)) for s, q, p in rows)
    scenario = Scenario("p", equity=equity, crypto=crypto, symbols=symbols)
    r = run(StressInputs(base="USD", equity=D(1_000_000), holdings=holdings), scenario)
    expected = sum((h.qty * h.price * (symbols.get(h.instrument.symbol, crypto if "/" in h.instrument.symbol else equity))
                    for h in holdings), D(0))
    assert r.pnl == expected
    assert sum((v for _, v in r.by_sector), D(0)) == r.pnl == sum((v for _, v in r.by_asset_class), D(0))
    assert all(p.pnl < 0 for p in r.worst(3)) and [p.pnl for p in r.worst(3)] == sorted(p.pnl for p in r.worst(3))
