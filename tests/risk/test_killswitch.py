"""The kill switch with working orders and positions in several symbols and a strategy flooding orders."""

import asyncio

from tests.fakes.scripted import ScriptedBroker
from tests.risk_helpers import build, hold, order
from workstation.core.model import OrderStatus, OrderType, Side


class FillingBroker(ScriptedBroker):
    """Fills market orders at once at the touch, like a paper market would."""

    async def submit(self, o):
        await super().submit(o)
        if o.type is OrderType.MARKET:
            q = self.quotes[o.symbol]
            self.fill(o, o.qty, q.ask if o.side is Side.BUY else q.bid)


async def test_kill_switch_flattens_cancels_stops_and_trips(tmp_path):
    broker = FillingBroker()
    s, _, clock = build(tmp_path, broker=broker, max_orders_per_second=None, max_orders_per_minute=None)
    await hold(s, broker, "AAPL", 100, 100.0)
    await hold(s, broker, "MSFT", -50, 200.0)
    await hold(s, broker, "BTC/USD", 2, 30_000.0)
    working = [
        await s.oms.submit(order("AAPL", Side.BUY, 10, limit_price=95)),
        await s.oms.submit(order("MSFT", Side.SELL, 10, limit_price=210)),
        await s.oms.submit(order("BTC/USD", Side.SELL, 1, limit_price=31_000)),
    ]
    assert all(o.status is OrderStatus.ACCEPTED for o in working)

    flood_results = []
    stop = asyncio.Event()

    async def flooding_strategy():
        while not stop.is_set():
            o = await s.oms.submit(order("AAPL", Side.BUY, 1, limit_price=99, strategy="runaway"))
            flood_results.append(o.status)
            await asyncio.sleep(0)

    task = asyncio.get_running_loop().create_task(flooding_strategy())
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(flood_results) >= 10

    def stop_strategies():
        stop.set()
        task.cancel()

    s.killswitch.stop_strategies = stop_strategies
    report = await s.kill("test", who="test")
    await asyncio.gather(task, return_exceptions=True)

    assert report.strategies_stopped and report.errors == []
    assert s.breaker.tripped and s.breaker.info.reason == "kill switch: test"
    assert not [o for o in s.oms.working() if o.status.is_working]
    assert all(s.oms.orders[o.id].status is OrderStatus.CANCELED for o in working)
    assert {s.oms.orders[o.id].reason for o in working} == {"kill switch: test"}  # not "canceled by request"
    assert {p.symbol: p.qty for p in s.portfolio.positions()} == {}
    flat = [s.oms.orders[i] for i in report.flatten_orders]
    assert {(o.symbol, o.side, o.qty) for o in flat} == {
        ("AAPL", Side.SELL, 100), ("MSFT", Side.BUY, 50), ("BTC/USD", Side.SELL, 2)
    }
    assert all(o.type is OrderType.MARKET and o.status is OrderStatus.FILLED for o in flat)
    flooded = [o for o in s.oms.orders.values() if o.strategy == "runaway"]
    assert flooded and all(o.status in (OrderStatus.CANCELED, OrderStatus.REJECTED) for o in flooded)
    kinds = [d["state"] for _q, _t, _k, _r, d in s.journal.events("risk.kill")]
    assert kinds == ["engaged", "done"]
    # after the kill, an opening order is refused until the breaker is reset
    o = await s.oms.submit(order("AAPL", Side.BUY, 1, limit_price=99))
    assert o.status is OrderStatus.REJECTED and "circuit breaker tripped (kill switch: test)" in o.reason
    s.reset_breaker(confirmed=True)
    assert (await s.oms.submit(order("AAPL", Side.BUY, 1, limit_price=99))).status is OrderStatus.ACCEPTED


async def test_orders_sent_while_the_kill_switch_works_are_refused(tmp_path):
    """A strategy the kill switch cannot stop (no callable) still cannot open anything."""
    broker = FillingBroker()
    s, _, _ = build(tmp_path, broker=broker)
    await hold(s, broker, "AAPL", 100, 100.0)
    report = await s.kill("no runner")
    assert not report.strategies_stopped
    o = await s.oms.submit(order("AAPL", Side.BUY, 5, limit_price=99, strategy="x"))
    assert o.status is OrderStatus.REJECTED


async def test_flatten_problems_are_reported(tmp_path):
    s, broker, _ = build(tmp_path)  # this broker never fills
    await hold(s, broker, "AAPL", 100, 100.0)
    s.quotes.quotes.clear()
    broker.quotes.clear()
    s.portfolio.marks.clear()  # no price at all: a market order cannot be valued
    report = await s.kill("no prices")
    assert report.errors and "flatten AAPL" in report.errors[0]


async def test_the_kill_switch_flattens_a_position_bigger_than_the_order_caps(tmp_path):
    broker = FillingBroker()
    s, _, _ = build(tmp_path, broker=broker, max_order_notional=None)
    await hold(s, broker, "AAPL", 1500, 100.0)  # $150,000
    s.set_limit("max_order_notional", "50000")
    s.set_limit("max_order_qty", "100")
    report = await s.kill("too big")
    assert report.errors == [] and s.portfolio.qty("AAPL") == 0
    # a kill-switch order that would open a position gets no such pass
    from workstation.risk.checks import KILL_SOURCE

    o = await s.oms.submit(order("AAPL", Side.SELL, 200, source=KILL_SOURCE))
    assert o.status is OrderStatus.REJECTED and "circuit breaker tripped" in o.reason
