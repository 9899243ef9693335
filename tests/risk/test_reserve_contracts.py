"""Buying power held by working orders counts whole contracts and the base currency: a
10-lot option limit at 8.00 holds $8,000 (not $80), a USD/JPY limit holds its dollars (not
its yen), a future its initial margin (not its notional)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.risk_helpers import build, order
from workstation.core.model import OrderStatus

OPTION = "AAPL-2027-01-15-200-C"
BP = Decimal(200_000)  # the paper default: margin, $100,000 at 2x


@pytest.fixture
def env(tmp_path):
    s, broker, clock = build(tmp_path, max_order_notional=None, price_collar_pct=None)
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    broker.set_quote(OPTION, 8.45, 8.55, 8.5)
    broker.set_quote("USD/JPY", 149.99, 150.01, 150.0)
    broker.set_quote("ES-2027-03", 4999.75, 5000.25, 5000.0)
    return s


async def _working(s, req) -> None:
    o = await s.oms.submit(req)
    assert o.status is not OrderStatus.REJECTED, o.reason
    assert s.oms.orders[o.id].status.is_working


async def test_an_option_limit_holds_quantity_times_price_times_multiplier(env):
    await _working(env, order(OPTION, qty=10, limit_price="8.00"))
    review = await env.oms.review(order(qty=1, limit_price=100))  # what `buy --dry-run` and the review show
    assert review.buying_power_after == BP - Decimal(8_000) - Decimal(100)


async def test_a_usd_jpy_limit_holds_its_value_in_dollars(env):
    await _working(env, order("USD/JPY", qty=10_000, limit_price="150.000"))  # 1,500,000 yen
    review = await env.oms.review(order(qty=1, limit_price=100))
    assert review.buying_power_after == BP - Decimal(10_000) - Decimal(100)


async def test_a_futures_limit_holds_its_initial_margin(env):
    await _working(env, order("ES-2027-03", qty=1, limit_price="3000.00"))  # a resting bid far below
    review = await env.oms.review(order(qty=1, limit_price=100))
    assert review.buying_power_after == BP - Decimal(15_000) - Decimal(100)  # ES: $15,000 a contract, not $150,000
    big = await env.oms.review(order(qty=1851, limit_price=100))  # $185,100 no longer fits beside $15,000
    assert not big.ok and big.rule == "buying_power"
