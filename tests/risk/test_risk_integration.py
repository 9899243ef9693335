"""The simulated market drives a position into a loss: the breaker trips, working opening orders are
canceled, a new opening order is rejected with its reason, and a reducing order still goes through."""

from decimal import Decimal

from brokers.paper.broker import SimBroker, SimConfig
from tests.risk_helpers import T0, build, order
from workstation.core.clock import SimClock
from workstation.core.model import OrderStatus, OrderType, Side, TimeInForce

QTY = 200
STEP = 30.0  # seconds between market steps
HORIZON = 2_000  # steps looked ahead (about 16 hours, inside one trading day)


def losing_side(broker: SimBroker, symbol: str) -> tuple[Side, float]:
    """The side that loses the most over the horizon (the market is deterministic), and that loss per share."""
    mids = broker.market.mids(symbol, [T0 + STEP * k for k in range(HORIZON)])
    start = float(mids[0])
    drop, rise = start - float(mids.min()), float(mids.max()) - start
    return (Side.BUY, drop) if drop >= rise else (Side.SELL, rise)


async def test_a_loss_in_the_simulated_market_trips_the_breaker(tmp_path):
    clock = SimClock(T0)
    broker = SimBroker(clock, SimConfig(seed=7, partial_fills=False))
    side, per_share = losing_side(broker, "AAPL")
    limit = Decimal(int(per_share * QTY / 2))  # half of the loss the market will deal
    assert limit > 0
    s, _, _ = build(tmp_path, broker=broker, clock=clock, max_daily_loss=limit)
    await s.start(["AAPL", "MSFT"], feed=False)
    try:
        entry = await s.oms.submit(order("AAPL", side, QTY))
        assert s.oms.orders[entry.id].status is OrderStatus.FILLED
        aapl = s.quotes.get("AAPL").mid
        msft = s.quotes.get("MSFT").mid
        # working orders: one opening (MSFT, 5% away so it rests), one reducing (AAPL, 5% on the far side)
        away = Decimal("0.95") if side is Side.BUY else Decimal("1.05")
        opening = await s.oms.submit(order("MSFT", side, 10, limit_price=(Decimal(str(msft)) * away).quantize(Decimal("0.01"))))
        far = Decimal("1.05") if side is Side.BUY else Decimal("0.95")
        reducing = await s.oms.submit(order("AAPL", side.opposite, QTY // 2, limit_price=(Decimal(str(aapl)) * far).quantize(Decimal("0.01")), tif=TimeInForce.GTC))
        assert opening.status is OrderStatus.ACCEPTED and reducing.status is OrderStatus.ACCEPTED

        steps = 0
        while not s.breaker.tripped and steps < HORIZON:
            clock.advance(STEP)
            broker.step()
            steps += 1
        await s.drain()

        assert s.breaker.tripped, "the market never dealt the loss"
        reason = s.breaker.info.reason
        assert reason.startswith("day loss $") and reason.endswith(f"exceeds max_daily_loss ${limit:,.2f}")
        assert s.monitor.status().day_pnl < -limit
        assert s.oms.orders[opening.id].status is OrderStatus.CANCELED
        assert s.oms.orders[reducing.id].status is OrderStatus.ACCEPTED  # reducing orders stay

        refused = await s.oms.submit(order("MSFT", side, 1))
        assert refused.status is OrderStatus.REJECTED
        assert refused.reason == f"circuit breaker tripped ({reason}): only orders that reduce a position are accepted"

        cut = await s.oms.submit(order("AAPL", side.opposite, QTY // 4, type=OrderType.MARKET))
        assert s.oms.orders[cut.id].status is OrderStatus.FILLED
        assert abs(s.portfolio.qty("AAPL")) == QTY - QTY // 4
        assert any(a.title == "Circuit breaker tripped" for a in s.alerts.recent)
    finally:
        await s.stop()
