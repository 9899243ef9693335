"""``var_method = "full"`` before an order (workstation.risk.var_limits): the pre-trade check
reprices an option order on each past day instead of taking it at its delta, so a short put
whose delta-approximated VaR is within the limit but whose repriced VaR is not is refused,
and the refusal says which method refused it."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from tests.risk.test_var_limits import _build, _hold_aapl, buy, sell
from workstation.core.model import OrderStatus
from workstation.core.options import bsm_price, year_fraction
from workstation.risk.var import historical_var, scenario_pnl

PUT = "AAPL-2026-10-16-200-P"  # a month out, about 7% out of the money: short, it is short gamma


@pytest.fixture
async def s(tmp_path):
    session = _build(tmp_path)
    await session.start(["AAPL", "MSFT"], feed=False)
    yield session
    await session.stop()


async def test_a_short_put_within_the_limit_at_its_delta_but_beyond_it_repriced_is_refused_under_full(s):
    await _hold_aapl(s)
    s.set_limit("var_method", "full")
    await s.refresh_var()
    vl = s.var_limits
    inc = vl.state.incremental
    u = s.greeks.units([PUT])[PUT]
    assert u.known and u.iv and -0.5 < u.delta < 0
    units = -20 * 100.0  # sell 20 puts
    # by hand: the delta approximation, and the put repriced on each past day's AAPL move
    j = inc.factors["AAPL"]
    at_delta = historical_var(inc.pnl + units * u.delta * u.spot * inc.returns[:, j], 0.99)
    years = year_fraction(s.greeks.instrument(PUT).expiry, s.clock.time())
    div = s.greeks.dividend("AAPL")
    now = float(bsm_price(u.spot, 200.0, years, s.greeks.rate, div, u.iv, False))
    later = bsm_price(u.spot * (1 + inc.returns[:, j]), 200.0, years - 1 / 365, s.greeks.rate, div, u.iv, False)
    book = scenario_pnl(vl.state.inputs, 1, full=True).sum(axis=1)
    repriced = historical_var(book + units * (later - now), 0.99)
    assert repriced > at_delta * 1.15  # short gamma: a selloff costs more than the delta says
    limit = round((at_delta + repriced) / 2)

    s.set_limit("max_var", str(limit))
    refused = await s.oms.submit(sell(PUT, 20))
    assert refused.status is OrderStatus.REJECTED
    money = f"${Decimal(repr(round(repriced, 2))):,.2f}"
    assert refused.reason == f"1-day 99% full-revaluation VaR (options repriced) would be {money}, beyond max_var ${limit:,}.00"

    s.set_limit("var_method", "historical")  # the same order at its delta passes the same limit
    await s.refresh_var()
    assert vl.refusal(refused, vl.store.limits) is None


async def test_a_linear_order_under_full_adds_its_exposure_times_its_returns(s):
    await _hold_aapl(s)
    s.set_limit("var_method", "full")
    await s.refresh_var()
    vl = s.var_limits
    var = vl.state.var
    s.set_limit("max_var", str(round(var * 1.5)))
    big = await s.oms.submit(buy("AAPL", 400))
    assert big.status is OrderStatus.REJECTED and big.reason.startswith("1-day 99% full-revaluation VaR")
    inc = vl.state.incremental
    price = float(s.portfolio.last("AAPL"))
    expected = historical_var(inc.full + 400 * price * inc.returns[:, inc.factors["AAPL"]], 0.99)
    assert big.reason.startswith(f"1-day 99% full-revaluation VaR (options repriced) would be ${Decimal(repr(round(expected, 2))):,.2f}")
    assert np.array_equal(inc.full, inc.pnl)  # no option held: full revaluation is the historical P&L
