"""The simulated market: determinism, quote shape, price dynamics, levels, bars and calendars."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import pytest

from brokers.paper.market import (
    CRYPTO_USD,
    EQUITIES,
    FUTURES,
    SimMarket,
    day_end,
    is_open,
    is_trading_day,
    nyse_sessions,
    prev_close_time,
)
from workstation.core.clock import perf_ns
from workstation.core.model import Quote
from workstation.core.symbols import parse_symbol

NY = ZoneInfo("America/New_York")
T0 = datetime(2025, 6, 10, 11, 0, tzinfo=NY).timestamp()  # a Tuesday morning
ROOT = Path(__file__).resolve().parents[2]

EVERY_CLASS = [
    "AAPL", "SPY", "XYZQ", "BRK.B",  # equities
    "BTC/USD", "ETH/USD", "SOL/USDT", "ETH/BTC", "PEPE/USD",  # crypto
    "EUR/USD", "USD/JPY", "EUR/GBP", "USD/MXN",  # forex
    "ES-2026-12", "MES-2026-12", "CL-2026-03", "ZN-2026-12", "6E-2026-12", "GC-2026-12",  # futures
    "AAPL-2026-12-18-200-C", "AAPL-2026-12-18-200-P", "SPY-2026-06-19-900-C", "TSLA-2025-06-20-100-P",  # options
]


def on_tick(price: float, tick: Decimal) -> bool:
    return Decimal(repr(price)) % tick == 0


# ----------------------------------------------------------------------------- determinism


def test_two_markets_with_the_same_seed_agree() -> None:
    a, b = SimMarket(seed=7), SimMarket(seed=7)
    for t in (T0, T0 + 0.25, T0 + 3_600.5, T0 + 86_400 * 40):
        assert a.quotes(EVERY_CLASS, t) == b.quotes(EVERY_CLASS, t)
    assert SimMarket(seed=8).quote("AAPL", T0) != a.quote("AAPL", T0)


def test_the_vectorised_path_matches_one_quote_at_a_time() -> None:
    market = SimMarket()
    symbols = EVERY_CLASS + [f"Z{i}" for i in range(60)]
    for t in (T0, T0 + 12_345.75):
        batch = market.quotes(symbols, t)
        single = [SimMarket().quote(s, t) for s in symbols]
        assert batch == single


def test_another_process_computes_the_same_quotes() -> None:
    symbols = ["AAPL", "BTC/USD", "EUR/USD", "ES-2026-12", "AAPL-2026-12-18-200-C", "QWERTY"]
    t = T0 + 777.5
    code = (
        "import msgspec; from brokers.paper.market import SimMarket; "
        f"print(msgspec.json.encode(SimMarket(seed=11).quotes({symbols!r}, {t!r})).decode())"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    ours = msgspec.json.encode(SimMarket(seed=11).quotes(symbols, t)).decode()
    assert out.stdout.strip() == ours


# ----------------------------------------------------------------------------- quote shape


@pytest.mark.parametrize("symbol", EVERY_CLASS)
def test_quotes_are_on_tick_with_a_positive_spread(symbol: str) -> None:
    inst = parse_symbol(symbol)
    market = SimMarket(seed=5)
    for i in range(40):
        q = market.quote(symbol, T0 + i * 9_017.25)
        assert q.symbol == inst.symbol
        assert 0 < q.bid < q.ask
        assert q.bid <= q.last <= q.ask
        for price in (q.bid, q.ask, q.last, q.prev_close):
            assert on_tick(price, inst.tick_size), (price, inst.tick_size)
        assert Decimal(repr(q.ask)) - Decimal(repr(q.bid)) >= inst.tick_size
        for size in (q.bid_size, q.ask_size):
            assert size > 0 and Decimal(repr(size)) % inst.lot_size == 0
        assert q.volume >= 0 and Decimal(repr(q.volume)) % inst.lot_size == 0


@pytest.mark.parametrize(
    ("symbol", "max_bps"), [("AAPL", 3.0), ("SPY", 1.5), ("EUR/USD", 1.5), ("BTC/USD", 2.5), ("ES-2026-12", 1.0)]
)
def test_liquid_names_have_spreads_of_a_few_basis_points(symbol: str, max_bps: float) -> None:
    market = SimMarket()
    quotes = [market.quote(symbol, T0 + i * 37.0) for i in range(50)]
    spreads = [(q.ask - q.bid) / q.mid * 1e4 for q in quotes]
    assert float(np.mean(spreads)) < max_bps


def test_options_are_worth_at_least_intrinsic_and_one_tick() -> None:
    market = SimMarket()
    t = T0 + 1000
    spot = market.quote("AAPL", t).mid
    call = market.quote("AAPL-2026-12-18-200-C", t)
    put = market.quote("AAPL-2026-12-18-200-P", t)
    assert call.mid >= max(spot - 200, 0) - 0.5
    assert call.mid > put.mid  # spot is above the strike
    far = market.quote("AAPL-2026-01-16-5000-C", t)
    assert far.bid == 0.01 and far.ask > far.bid
    # after expiry an option is worth its intrinsic value (on tick), here the put is worthless
    expired_put = market.quote("AAPL-2025-01-17-100-P", t)
    assert expired_put.bid == 0.01
    expired_call = market.quote("AAPL-2025-01-17-100-C", t)
    assert abs(expired_call.mid - (spot - 100)) < 0.5


def test_micro_futures_follow_their_full_size_root() -> None:
    market = SimMarket()
    times = np.array([T0, T0 + 60, T0 + 86_400])
    assert list(market.mids("ES-2026-12", times)) == list(market.mids("MES-2026-12", times))


# ----------------------------------------------------------------------------- dynamics


@pytest.mark.parametrize(
    ("symbol", "limit"), [("AAPL", 0.004), ("BTC/USD", 0.008), ("EUR/USD", 0.0015), ("NQ-2026-12", 0.004)]
)
def test_consecutive_seconds_move_continuously_except_at_designed_jumps(symbol: str, limit: float) -> None:
    market = SimMarket()
    times = T0 + np.arange(3 * 86_400, dtype=np.float64)
    moves = np.abs(np.diff(np.log(market.mids(symbol, times))))
    jump_seconds = {int(at - T0) - 1 for at, _ in market.jumps(symbol, T0, times[-1])}
    ordinary = np.delete(moves, sorted(jump_seconds))
    assert ordinary.max() < limit


def test_jumps_are_level_shifts_at_hourly_knots_that_decay() -> None:
    market = SimMarket()
    found = [(at, size) for at, size in market.jumps("TSLA", T0, T0 + 30 * 86_400) if abs(size) > 0.01]
    assert found, "a month of TSLA should have at least one jump above 1%"
    at, size = found[0]
    assert at % 3600 == 0
    before, after = market.mids("TSLA", np.array([at - 1e-6, at]))
    assert math.log(after / before) == pytest.approx(size, abs=0.004)
    # six hours later the jump has decayed away: the path is continuous there
    edge = market.mids("TSLA", np.array([at + 6 * 3600 - 1, at + 6 * 3600]))
    assert abs(math.log(edge[1] / edge[0])) < 0.004


@pytest.mark.parametrize(
    ("symbol", "low", "high"),
    [("AAPL", 0.14, 0.56), ("ETH/USD", 0.35, 1.4), ("EUR/USD", 0.04, 0.16), ("XYZQ", 0.12, 0.9)],
)
def test_realised_volatility_is_plausible_for_the_asset_class(symbol: str, low: float, high: float) -> None:
    market = SimMarket()
    step = 300.0
    times = T0 + np.arange(60 * 86_400 / step) * step
    returns = np.diff(np.log(market.mids(symbol, times)))
    annual = float(returns.std() * math.sqrt(365.25 * 86_400 / step))
    assert low < annual < high


def test_levels_stay_near_the_table_of_real_prices() -> None:
    market = SimMarket()
    times = T0 + np.arange(0, 365 * 86_400, 86_400 * 7, dtype=np.float64)
    cases = [(s, lvl) for s, (lvl, _) in EQUITIES.items()] + [(f"{c}/USD", lvl) for c, (lvl, _) in CRYPTO_USD.items()]
    cases += [(f"{r}-2026-12", lvl) for r, (lvl, _, _) in FUTURES.items()]
    cases += [("EUR/USD", 1.08), ("GBP/USD", 1.27), ("USD/JPY", 150.0)]
    for symbol, level in cases:
        ratio = market.mids(symbol, times) / level
        assert ratio.min() > 0.45 and ratio.max() < 2.2, symbol
        assert 0.75 < float(np.median(ratio)) < 1.33, symbol
    assert market.base_level("AAPL") == 230.0 and market.base_level("BTC/USD") == 95_000.0
    assert market.annual_vol("EUR/USD") == 0.08


def test_unknown_names_get_plausible_levels_from_their_name() -> None:
    market = SimMarket(seed=1)
    equities = [market.base_level(f"QX{i}") for i in range(50)]
    assert all(10 <= lvl <= 500 for lvl in equities) and len(set(equities)) == 50
    assert all(0.1 <= market.base_level(f"C{i}X/USD") <= 100 for i in range(30))
    assert SimMarket(seed=2).base_level("QX1") == equities[1]  # a name's level does not depend on the seed
    assert market.base_level("ETH/BTC") == pytest.approx(3300 / 95000)


# ----------------------------------------------------------------------------- day figures


def test_prev_close_is_the_process_at_the_last_16_00_new_york() -> None:
    market = SimMarket()
    winter = datetime(2025, 1, 14, 10, 0, tzinfo=NY).timestamp()
    assert prev_close_time(winter) == datetime(2025, 1, 13, 16, 0, tzinfo=NY).timestamp()
    assert prev_close_time(T0 + 6 * 3600) == datetime(2025, 6, 10, 16, 0, tzinfo=NY).timestamp()
    for t in (winter, T0, T0 + 6 * 3600):
        q = market.quote("AAPL", t)
        assert q.prev_close == market.mids("AAPL", [prev_close_time(t)])[0]


def test_volume_accumulates_through_the_day_and_resets_after_the_boundary() -> None:
    market = SimMarket()
    start = datetime(2025, 6, 10, 16, 0, tzinfo=NY).timestamp()
    volumes = [market.quote("MSFT", start + i * 600).volume for i in range(144)]
    assert volumes[0] == 0 and all(b >= a for a, b in pairwise(volumes))
    assert volumes[-1] > 1e5
    assert market.quote("MSFT", start + 86_400 + 60).volume < volumes[-1]


# ----------------------------------------------------------------------------- bars


def test_bars_are_deterministic_aligned_and_consistent() -> None:
    market = SimMarket()
    bars = market.bars("AAPL", 60, T0 + 10, T0 + 3600)
    assert bars == SimMarket().bars("AAPL", 60, T0 + 10, T0 + 3600)
    assert len(bars) == 59 and bars[0].ts == T0 + 60 and all(b.seconds == 60 for b in bars)
    for a, b in pairwise(bars):
        assert b.ts - a.ts == 60 and a.close == b.open
    for b in bars:
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high and b.volume >= 0
        assert on_tick(b.high, Decimal("0.01")) and on_tick(b.low, Decimal("0.01"))
    daily = market.bars("AAPL", 86_400, T0 - 30 * 86_400, T0)
    assert len(daily) == 30 and all(b.volume > 0 for b in daily)


def test_bars_under_the_nyse_calendar_skip_closed_hours() -> None:
    market = SimMarket()
    monday = datetime(2025, 6, 9, 0, 0, tzinfo=NY).timestamp()
    bars = market.bars("AAPL", 300, monday, monday + 7 * 86_400, calendar="nyse")
    assert len(bars) == 5 * 78  # five sessions of 6.5 hours
    assert all(is_open("AAPL", b.ts, "nyse") for b in bars)
    crypto = market.bars("BTC/USD", 3600, monday, monday + 7 * 86_400, calendar="nyse")
    assert len(crypto) == 7 * 24


# ----------------------------------------------------------------------------- calendars


def ny(y: int, m: int, d: int, hh: int, mm: int = 0) -> float:
    return datetime(y, m, d, hh, mm, tzinfo=NY).timestamp()


def test_nyse_calendar_for_each_asset_class() -> None:
    assert is_open("AAPL", ny(2025, 6, 10, 9, 30), "nyse") and is_open("AAPL", ny(2025, 6, 10, 15, 59), "nyse")
    assert not is_open("AAPL", ny(2025, 6, 10, 9, 29), "nyse") and not is_open("AAPL", ny(2025, 6, 10, 16, 0), "nyse")
    assert not is_open("AAPL", ny(2025, 6, 14, 12), "nyse")  # Saturday
    assert not is_open("AAPL", ny(2025, 7, 4, 12), "nyse")  # Independence Day
    assert not is_open("AAPL-2026-12-18-200-C", ny(2026, 4, 3, 12), "nyse")  # Good Friday 2026
    assert not is_open("ES-2026-12", ny(2027, 12, 24, 12), "nyse")  # Christmas observed 2027
    assert is_open("ES-2026-12", ny(2026, 12, 24, 12), "nyse")
    assert is_open("BTC/USD", ny(2025, 6, 14, 3), "nyse")  # crypto: 24/7
    assert not is_open("EUR/USD", ny(2025, 6, 14, 12), "nyse")  # forex: weekend
    assert not is_open("EUR/USD", ny(2025, 6, 15, 16, 59), "nyse")
    assert is_open("EUR/USD", ny(2025, 6, 15, 17, 0), "nyse")  # Sunday 17:00
    assert is_open("EUR/USD", ny(2025, 6, 13, 16, 59), "nyse")
    assert not is_open("EUR/USD", ny(2025, 6, 13, 17, 0), "nyse")  # Friday 17:00
    assert is_open("CL-2026-03", ny(2025, 6, 15, 18, 0), "nyse")  # Globex opens Sunday 18:00
    assert not is_open("CL-2026-03", ny(2025, 6, 10, 17, 30), "nyse")  # the daily pause
    assert all(is_open(s, ny(2025, 6, 14, 3), "always") for s in ("AAPL", "EUR/USD", "ES-2026-12"))
    assert SimMarket.is_open(parse_symbol("AAPL"), ny(2025, 6, 10, 12), "nyse")
    with pytest.raises(ValueError, match="unknown calendar"):
        is_open("AAPL", T0, "lse")


def test_holiday_table_and_sessions() -> None:
    assert not is_trading_day(date(2025, 1, 9)) and not is_trading_day(date(2027, 3, 26))
    assert is_trading_day(date(2025, 6, 10))
    week = nyse_sessions(ny(2025, 6, 30, 0), ny(2025, 7, 7, 0))  # 4 July is a Friday holiday
    assert len(week) == 4 and week[0] == (ny(2025, 6, 30, 9, 30), ny(2025, 6, 30, 16))


def test_day_end() -> None:
    assert day_end("AAPL", ny(2025, 6, 10, 11), "nyse") == ny(2025, 6, 10, 16)
    assert day_end("AAPL", ny(2025, 7, 3, 17), "nyse") == ny(2025, 7, 7, 16)  # skips the holiday and weekend
    assert day_end("AAPL", ny(2025, 6, 10, 11), "always") == ny(2025, 6, 10, 17)
    assert day_end("EUR/USD", ny(2025, 6, 10, 18), "nyse") == ny(2025, 6, 11, 17)


# ----------------------------------------------------------------------------- speed


def test_quotes_for_500_symbols_are_fast() -> None:
    market = SimMarket()
    symbols = [f"S{i}" for i in range(400)] + [f"C{i}/USD" for i in range(50)]
    symbols += [f"AAPL-2026-12-18-{100 + i}-C" for i in range(50)]
    market.quotes(symbols, T0)
    rounds = 20
    began = perf_ns()
    for i in range(rounds):
        quotes = market.quotes(symbols, T0 + 0.5 * i)
    per_quote_us = (perf_ns() - began) / rounds / len(symbols) / 1000
    assert len(quotes) == 500 and all(isinstance(q, Quote) for q in quotes)
    assert per_quote_us < 10.0, f"{per_quote_us:.2f} µs per quote"
