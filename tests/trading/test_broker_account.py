"""A broker that keeps the account: its buying power, margin and day-trade figures are the
ones shown and risk-checked (taken at resync, after fills and periodically), and a resync
difference is alerted once, not on every start."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.fakes.scripted import ScriptedBroker
from tests.risk_helpers import alerts, build, order
from workstation.core.model import Account, OrderStatus, Position
from workstation.trading.status import status_document


class AccountBroker(ScriptedBroker):
    """A scripted broker that keeps the account: it reports what the test says."""

    name = "ib-test"
    keeps_account = True

    def __init__(self, account: Account, positions: list[Position] | None = None) -> None:
        super().__init__()
        self.figures = account
        self.held = positions or []
        self.asked = 0

    async def positions(self):
        return list(self.held)

    async def account(self):
        self.asked += 1
        return self.figures


def ib_account(buying_power: str, **kw) -> Account:
    return Account(
        currency="USD", cash=Decimal(100_000), equity=Decimal(100_000), buying_power=Decimal(buying_power),
        from_broker=True, **kw,
    )


async def until(pred, timeout: float = 3.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < end, "timed out"
        await asyncio.sleep(0.01)


async def test_status_shows_the_brokers_buying_power_margin_and_day_trades(tmp_path):
    broker = AccountBroker(ib_account(
        "395439.12", initial_margin=Decimal("12000.5"), maintenance_margin=Decimal("9000"), day_trades_left=2,
    ))
    s, _, _ = build(tmp_path, broker=broker)
    await s.start(feed=False)
    try:
        acct = status_document(s)["account"]
        # not equity x leverage (200,000): the broker's own figure, and whose it is
        assert acct["buying_power"] == Decimal("395439.12") and acct["buying_power_source"] == "broker"
        assert acct["initial_margin"] == Decimal("12000.5") and acct["maintenance_margin"] == Decimal("9000")
        assert acct["day_trades_left"] == 2
        # figures the broker did not give are unknown, not zero
        assert acct["excess_liquidity"] is None and acct["day_trade_count"] is None
    finally:
        await s.stop()


async def test_the_paper_market_keeps_the_local_figure(tmp_path):
    s, _, _ = build(tmp_path)
    await s.start(feed=False)
    try:
        acct = status_document(s)["account"]
        assert acct["buying_power"] == Decimal(200_000) and acct["buying_power_source"] == "local"
        assert acct["initial_margin"] is None and acct["day_trades_left"] is None
    finally:
        await s.stop()


async def test_buying_power_check_uses_the_brokers_figure_less_orders_sent_since(tmp_path):
    broker = AccountBroker(ib_account("10000"))
    s, _, clock = build(tmp_path, broker=broker, max_order_notional=None)
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    await s.start(feed=False)
    try:
        first = await s.oms.submit(order(qty=50, limit_price=100))  # holds $5,000 of the broker's $10,000
        assert first.status is not OrderStatus.REJECTED, first.reason
        second = await s.oms.submit(order(qty=60, limit_price=100))
        assert second.status is OrderStatus.REJECTED  # the local figure (200,000) would have let it through
        assert second.reason == "insufficient buying power: order needs $6,000.00, $5,000.00 available"
        # the broker now holds the first order itself: its figure already counts it
        broker.figures = ib_account("5000")
        clock.advance(1.0)
        await s.resync()
        review = await s.oms.review(order(qty=40, limit_price=100))
        assert review.ok and review.buying_power_after == Decimal(1000)
    finally:
        await s.stop()


async def test_the_brokers_figures_are_refreshed_after_a_fill_and_periodically(tmp_path):
    broker = AccountBroker(ib_account("50000", day_trades_left=3))
    s, _, _ = build(tmp_path, broker=broker, max_order_notional=None)
    s.account_every = 3600.0  # only a fill refreshes them in the first half
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    await s.start(feed=False)
    try:
        o = await s.oms.submit(order(qty=10, limit_price=100))
        broker.figures = ib_account("49000", day_trades_left=2)
        broker.fill(o, 10, 100)
        await until(lambda: s.portfolio.account().buying_power == Decimal(49000))
        assert s.portfolio.account().day_trades_left == 2
    finally:
        await s.stop()
    s2, _, _ = build(tmp_path / "again", broker=AccountBroker(ib_account("50000")))
    s2.account_every = 0.05
    await s2.start(feed=False)
    try:
        s2.broker.figures = ib_account("61000", excess_liquidity=Decimal("30000"))
        await until(lambda: s2.portfolio.account().buying_power == Decimal(61000))
        assert status_document(s2)["account"]["excess_liquidity"] == Decimal(30000)
    finally:
        await s2.stop()


async def test_a_resync_difference_is_alerted_once_across_sessions(tmp_path):
    held = [Position(symbol="MSFT", qty=Decimal(10), avg_price=Decimal("400"))]
    raised = []
    for _ in range(3):  # three commands, one journal, the same position the journal never saw
        broker = AccountBroker(ib_account("100000"), held)
        s, _, _ = build(tmp_path, broker=broker)
        got = alerts(s)
        await s.start(feed=False)
        try:
            assert s.portfolio.qty("MSFT") == Decimal(10)  # adopted every time
            raised += [a for a in got if a.source == "reconcile"]
        finally:
            await s.stop()
    assert len(raised) == 1
    assert "position MSFT: journal 0, ib-test 10" in raised[0].message
    # a new difference is alerted again, and only it
    broker = AccountBroker(ib_account("100000"), [*held, Position(symbol="IBM", qty=Decimal(5), avg_price=Decimal(150))])
    s, _, _ = build(tmp_path, broker=broker)
    got = alerts(s)
    await s.start(feed=False)
    try:
        fresh = [a for a in got if a.source == "reconcile"]
    finally:
        await s.stop()
    assert len(fresh) == 1 and "IBM" in fresh[0].message and "MSFT" not in fresh[0].message
