"""Position sizing helpers: the textbook figures, rounded down to the instrument's lot."""

from decimal import Decimal as D

import pytest

from workstation.strategies import sizing
from workstation.core.model import ModelError
from workstation.core.symbols import parse_symbol

AAPL = parse_symbol("AAPL")
BTC = parse_symbol("BTC/USD")  # lot 0.0001
ES = parse_symbol("ES-2026-12")  # multiplier 50


def test_fixed_qty_rounds_down_to_lots():
    assert sizing.fixed_qty(AAPL, "10.9") == D(10)
    assert sizing.fixed_qty(BTC, "0.123456") == D("0.1234")
    assert sizing.fixed_qty(AAPL, 0) == 0


def test_fixed_notional():
    assert sizing.fixed_notional(AAPL, 10_000, "187.50") == D(53)  # 53.33 -> 53
    assert sizing.fixed_notional(BTC, 1_000, 60_000) == D("0.0166")
    assert sizing.fixed_notional(ES, 500_000, 5_000) == D(2)  # 500k / (5000 * 50)
    with pytest.raises(ModelError, match="price must be positive"):
        sizing.fixed_notional(AAPL, 1000, 0)


def test_fixed_fractional_risk_from_stop_distance():
    # risk 1% of 100k = 1,000 over a 2.50 stop distance -> 400 shares
    assert sizing.fixed_fractional(AAPL, 100_000, "0.01", 100, "97.50") == D(400)
    # the same for a short (stop above entry)
    assert sizing.fixed_fractional(AAPL, 100_000, "0.01", 100, "102.50") == D(400)
    # futures: 1,000 / (10 points * 50) = 2 contracts
    assert sizing.fixed_fractional(ES, 100_000, "0.01", 5000, 4990) == D(2)
    with pytest.raises(ModelError, match="stop must differ"):
        sizing.fixed_fractional(AAPL, 100_000, "0.01", 100, 100)
    with pytest.raises(ModelError, match="between 0 and 1"):
        sizing.fixed_fractional(AAPL, 100_000, 2, 100, 90)


def test_volatility_target_atr():
    # 0.5% of 200k = 1,000 per 2 ATR of 1.25 -> 400
    assert sizing.volatility_target(AAPL, 200_000, "0.005", "1.25", 2) == D(400)
    # higher volatility, smaller size
    assert sizing.volatility_target(AAPL, 200_000, "0.005", "2.5", 2) == D(200)
    with pytest.raises(ModelError, match="ATR must be positive"):
        sizing.volatility_target(AAPL, 200_000, "0.005", 0)


def test_kelly_capped():
    # p=0.6, b=1: f = 0.6 - 0.4 = 0.2
    assert sizing.kelly_fraction("0.6", 1) == D("0.2")
    # p=0.6, b=2: f = 0.6 - 0.2 = 0.4, capped at 0.25
    assert sizing.kelly_fraction("0.6", 2) == D("0.25")
    assert sizing.kelly_fraction("0.6", 2, cap=1) == D("0.4")
    # no edge: never a negative bet
    assert sizing.kelly_fraction("0.3", 1) == 0
    # 0.2 of 100k at 100 -> 200 shares
    assert sizing.kelly(AAPL, 100_000, 100, "0.6", 1) == D(200)


def test_optimal_f():
    # Vince's classic example: +9, +18, +7, +1, +10, -5, -3, -17, -7 -> f ~ 0.24
    f = sizing.optimal_f([9, 18, 7, 1, 10, -5, -3, -17, -7])
    assert D("0.23") <= f <= D("0.25")
    # a coin paying 2:1: f* = 0.25 (Kelly), Vince's f matches
    assert sizing.optimal_f([2, -1]) == D("0.25")
    assert sizing.optimal_f([-1, 0.5]) == 0
    with pytest.raises(ModelError, match="losing trade"):
        sizing.optimal_f([1, 2])
    # one unit per worst_loss / f of equity: 100k * 0.25 / 17 -> 1470 shares
    assert sizing.optimal_f_qty(AAPL, 100_000, "0.25", -17) == D(1470)
