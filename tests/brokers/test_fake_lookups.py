"""Each fake can lose a submit's answer and fail the follow-up lookup: an order of unknown fate.

The order exists at the broker, the submit's answer never came and the adapter's ``lookup``
raises; once the fake answers lookups again the adapter finds the order (nothing was resent).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from brokers.base import BrokerError
from tests.alpaca_support import fake as alpaca_fake, keys as alpaca_keys, settings_for  # noqa: F401 (fixtures)
from tests.fakes.binance_session import fake as binance_fake, keys as binance_keys, open_session  # noqa: F401 (fixtures)
from tests.fakes.ib_harness import ib_session
from workstation.core.model import OrderRequest, OrderType, Side, TimeInForce
from workstation.trading.session import Session

D = Decimal


async def _submit_ignoring_outcome(session: Session, request: OrderRequest) -> None:
    try:
        await session.oms.submit(request)
    except Exception:  # noqa: BLE001 - the engine's verdict on an unknown fate is not what is tested here
        pass


async def test_alpaca_fake_loses_the_answer_and_fails_the_lookup(alpaca_fake, alpaca_keys, home):  # noqa: F811
    s = Session.build(settings_for(alpaca_fake), "alpaca-paper")
    await s.start(["AAPL"])
    try:
        alpaca_fake.swallow_next_submit()
        alpaca_fake.fail_lookups = 1
        request = OrderRequest(symbol="AAPL", side=Side.BUY, qty=D(1), type=OrderType.LIMIT, limit_price=D("185"))
        await _submit_ignoring_outcome(s, request)
        cid = next(o["client_order_id"] for o in alpaca_fake.orders.values())
        alpaca_fake.fail_lookups = 1
        with pytest.raises(BrokerError):
            await s.broker.lookup(cid)
        assert alpaca_fake.fail_lookups == 0
        found = await s.broker.lookup(cid)
        assert found is not None and found.qty == D(1) and len(alpaca_fake.orders_for(cid)) == 1
    finally:
        await s.stop()


async def test_binance_fake_loses_the_answer_and_fails_the_lookup(binance_fake, binance_keys, tmp_path):  # noqa: F811
    session = await open_session(binance_fake, tmp_path, submit_timeout_seconds=0.5)
    try:
        binance_fake.swallow_submits = 1
        binance_fake.fail_lookups = 1
        request = OrderRequest(symbol="BTC/USD", side=Side.BUY, qty=D("0.01"), type=OrderType.LIMIT, limit_price=D("59000"), tif=TimeInForce.GTC)
        await _submit_ignoring_outcome(session, request)
        cid = next(o.cid for o in binance_fake.orders.values())
        binance_fake.fail_lookups = 1
        with pytest.raises(BrokerError):
            await session.broker.lookup(cid)
        found = await session.broker.lookup(cid)
        assert found is not None and found.qty == D("0.01") and binance_fake.count("POST", "order") == 1
    finally:
        binance_fake.release_swallowed()
        await session.stop()


async def test_tws_fake_loses_the_answer_and_fails_the_lookup(home):
    async with ib_session(home, ["AAPL"], submit_timeout=0.3, request_timeout=0.5) as (session, fake):
        fake.swallow_answers = 1
        fake.fail_lookups = 1
        request = OrderRequest(symbol="AAPL", side=Side.BUY, qty=D(10), type=OrderType.LIMIT, limit_price=D("180"))
        await _submit_ignoring_outcome(session, request)
        cid = next(o.order_ref for o in fake.orders.values())
        fake.fail_lookups = 1
        with pytest.raises(BrokerError):
            await session.broker.lookup(cid)
        found = await session.broker.lookup(cid)
        assert found is not None and found.qty == D(10)
        assert sum(1 for r in fake.requests if r[0] == "3") == 1  # placeOrder went out once
