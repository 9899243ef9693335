"""An index (SPX, NDX, RUT) is quoted but never traded: the order manager refuses it before the
review says it passes, and nothing reaches the broker or the journal."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from brokers.paper.broker import SimBroker
from brokers.paper.market import NEW_YORK
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import OrderRequest, Side
from workstation.trading.oms import OrderError
from workstation.trading.session import Session

LINE = "SPX is an index: it is quoted but cannot be traded (trade its options, a future or an ETF)"


@pytest.fixture
def session(tmp_path):
    clock = SimClock(1_790_000_000.0)
    s = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=SimBroker(clock=clock))
    yield s
    s.journal.close()


async def test_an_index_order_is_refused_at_review_and_at_submit(session):
    req = OrderRequest(symbol="spx", side=Side.BUY, qty=Decimal(1))
    with pytest.raises(OrderError) as review:
        await session.oms.review(req)
    assert str(review.value) == LINE
    with pytest.raises(OrderError) as submit:
        await session.oms.submit(req)
    assert str(submit.value) == LINE
    assert not session.oms.orders and session.journal.orders() == []


async def test_an_index_option_still_reviews(session):
    today = datetime.fromtimestamp(session.clock.time(), NEW_YORK).date()
    expiry = session.broker.universe.expiries("SPX", today)[2]
    review = await session.oms.review(OrderRequest(symbol=f"SPX-{expiry.isoformat()}-6000-C", side=Side.BUY, qty=Decimal(1)))
    assert review.symbol.startswith("SPX-") and review.price > 0
