"""Chains: IV and Greeks filled from the quotes, a venue's own figures kept, blanks where
nothing is known, and the strikes around the money."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from workstation.core.chain import OptionChain, OptionQuote, with_greeks
from workstation.core.model import Right
from workstation.core.options import bsm_greeks, bsm_price, year_fraction

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=ZoneInfo("America/New_York")).timestamp()
EXPIRY = date(2026, 12, 18)
YEARS = year_fraction(EXPIRY, NOW)


def _quote(strike: int, right: Right, vol: float | None = 0.3, **figures) -> OptionQuote:
    bid = ask = None
    if vol is not None:
        value = float(bsm_price(100.0, strike, YEARS, 0.04, 0.01, vol, right is Right.CALL))
        bid, ask = value - 0.0001, value + 0.0001
    return OptionQuote(symbol=f"XYZ-2026-12-18-{strike}-{right.value}", expiry=EXPIRY, strike=Decimal(strike),
                       right=right, bid=bid, ask=ask, **figures)


def _chain(*contracts: OptionQuote) -> OptionChain:
    return OptionChain(underlying="XYZ", spot=100.0, ts=NOW, expiries=(EXPIRY,), expiry=EXPIRY,
                       contracts=contracts, rate=0.04, dividend_yield=0.01)


def test_iv_and_greeks_come_from_each_contracts_mid() -> None:
    out = with_greeks(_chain(_quote(95, Right.PUT), _quote(105, Right.CALL, vol=0.25)), NOW)
    put, call = out.contracts
    assert put.iv == pytest.approx(0.3, abs=1e-5)
    assert call.iv == pytest.approx(0.25, abs=1e-5)
    g = bsm_greeks(100.0, 105.0, YEARS, 0.04, 0.01, call.iv, True)
    assert call.delta == pytest.approx(float(g.delta)) and call.vega == pytest.approx(float(g.vega))
    assert -1 < put.delta < 0 < call.delta < 1


def test_a_venues_figures_are_kept_and_only_the_missing_ones_computed() -> None:
    """IB and binance send IV and Greeks but no rho: rho is computed at the venue's IV."""
    sent = _quote(100, Right.CALL, iv=0.5, delta=0.55, gamma=0.01, theta=-0.2, vega=0.1)
    (out,) = with_greeks(_chain(sent), NOW).contracts
    assert (out.iv, out.delta, out.gamma, out.theta, out.vega) == (0.5, 0.55, 0.01, -0.2, 0.1)
    assert out.rho == pytest.approx(float(bsm_greeks(100.0, 100.0, YEARS, 0.04, 0.01, 0.5, True).rho))


def test_a_contract_without_a_two_sided_quote_stays_blank() -> None:
    (out,) = with_greeks(_chain(_quote(150, Right.CALL, vol=None)), NOW).contracts
    assert out.iv is None and out.delta is None and out.rho is None


def test_the_money_and_the_strikes_around_it() -> None:
    chain = _chain(*(_quote(k, r) for k in range(80, 121, 5) for r in Right))
    assert chain.atm_strike() == Decimal(100)
    near = chain.around_atm(3)
    assert near.strikes() == [Decimal(95), Decimal(100), Decimal(105)]
    assert len(near.contracts) == 6
