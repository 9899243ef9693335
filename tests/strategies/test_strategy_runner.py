"""The runner: routing, workers, ordering under a blocking strategy, isolation, allocation."""

import asyncio
import threading
from decimal import Decimal

import pytest

from tests.fakes.scripted import ScriptedBroker
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import AlertRaised, OrderRejected, OrderStatus, OrderType, Quote
from workstation.trading.session import Session
from workstation.strategies.api import Param, Strategy, StrategyState
from workstation.strategies.runner import StrategyRunner

T0 = 1_700_000_000.0


@pytest.fixture
def env(tmp_path):
    broker = ScriptedBroker()
    clock = SimClock(T0)
    s = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=broker)
    for sym, px in (("AAPL", 100.0), ("MSFT", 300.0)):
        broker.set_quote(sym, px - 0.01, px + 0.01, px)
    alerts = []
    s.bus.subscribe(AlertRaised, alerts.append)
    return s, broker, clock, alerts


def make_runner(s, delivery="thread", **kw):
    r = StrategyRunner(bus=s.bus, oms=s.oms, portfolio=s.portfolio, clock=s.clock, delivery=delivery, **kw)
    r.attach()
    return r


def quote(broker, sym, px):
    broker.set_quote(sym, px - 0.01, px + 0.01, px)


async def wait_for(cond, timeout=5.0):
    for _ in range(int(timeout / 0.005)):
        if cond():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met in time")


class BuyOnce(Strategy):
    name = "buy_once"
    qty = Param(10, min=1)

    def on_start(self):
        self.seen = []
        self.fills = []
        self.events = []
        self.ctx.subscribe(self.ctx.symbols)

    def on_quote(self, q):
        self.seen.append(q.last)
        if self.ctx.qty(q.symbol) + self.ctx.pending(q.symbol) == 0:
            self.ctx.buy(q.symbol, self.qty)

    def on_fill(self, fill):
        self.fills.append(fill)

    def on_order(self, event):
        self.events.append(type(event).__name__)


@pytest.mark.parametrize("delivery", ["thread", "inline"])
async def test_orders_go_through_the_order_manager_tagged_and_fills_come_back(env, delivery):
    s, broker, clock, _ = env
    r = make_runner(s, delivery)
    inst = r.add(BuyOnce, {"qty": 10}, symbols=["AAPL"])
    await r.start(inst.name)
    await r.drain()
    quote(broker, "AAPL", 100.5)
    await r.drain()
    quote(broker, "AAPL", 100.6)  # position pending: no second order
    await r.drain()
    assert len(broker.sent) == 1
    order = broker.sent[0]
    assert order.strategy == "buy_once" and order.qty == 10 and order.source == "strategy"
    broker.fill(s.oms.orders[order.id], 10, "100.51")
    await r.drain()
    strat = inst.strategy
    assert [f.qty for f in strat.fills] == [10]
    assert strat.events == ["OrderSubmitted", "OrderAccepted", "OrderFilled"]
    assert strat.ctx.qty("AAPL") == 10 and strat.ctx.pending("AAPL") == 0
    assert s.portfolio.books["buy_once"].trades == 1
    st = r.status()[0]
    assert st.state == "running" and st.trades == 1 and st.symbols == ("AAPL",)
    await r.stop(inst.name)
    assert inst.state is StrategyState.STOPPED


class Blocker(Strategy):
    """Waits on I/O (an event the test controls) in every on_quote."""

    name = "blocker"

    def on_start(self):
        self.release = threading.Event()
        self.entered = threading.Event()
        self.handled = []
        self.ctx.subscribe(self.ctx.symbols)

    def on_quote(self, q):
        self.entered.set()
        self.release.wait(10)
        self.handled.append(q.last)


class Recorder(Strategy):
    name = "recorder"

    def on_start(self):
        self.handled = []
        self.ctx.subscribe(self.ctx.symbols)

    def on_quote(self, q):
        self.handled.append(q.last)


async def test_a_blocked_strategy_holds_up_neither_the_others_nor_the_loop(env):
    s, broker, clock, _ = env
    r = make_runner(s)
    slow = r.add(Blocker, symbols=["AAPL"])
    fast = r.add(Recorder, symbols=["AAPL"])
    await r.start(slow.name)
    await r.start(fast.name)
    await r.drain()  # both have subscribed
    quote(broker, "AAPL", 101)
    await asyncio.to_thread(slow.strategy.entered.wait, 5)  # the blocker is now stuck in on_quote
    await wait_for(lambda: 101 in fast.strategy.handled)
    for px in (102, 103, 104, 105):
        quote(broker, "AAPL", px)  # the loop publishes while the blocker is stuck
        await wait_for(lambda px=px: px in fast.strategy.handled)
    # the recorder handled every quote while the blocker was still inside its first one
    assert fast.strategy.handled == [101, 102, 103, 104, 105]
    assert slow.strategy.handled == []
    slow.strategy.release.set()
    await wait_for(lambda: len(slow.strategy.handled) == 2)
    # the quotes that arrived while it was busy were conflated into the newest one
    assert slow.strategy.handled == [101, 105]
    assert slow.worker.inbox.conflated == 3
    await r.stop_all()


class Crashes(Strategy):
    name = "crashes"

    def on_start(self):
        self.ctx.subscribe(self.ctx.symbols)

    def on_quote(self, q):
        if q.last > 101:
            raise ZeroDivisionError("division by zero")
        if not self.ctx.open_orders() and self.ctx.pending(q.symbol) == 0:
            self.ctx.buy(q.symbol, 1, limit="95.00")  # resting, inside the 10% price collar


async def test_an_exception_stops_only_that_strategy(env):
    s, broker, clock, alerts = env
    r = make_runner(s)
    bad = r.add(Crashes, symbols=["AAPL"])
    good = r.add(Recorder, symbols=["AAPL"])
    await r.start_all()
    await r.drain()
    quote(broker, "AAPL", 100.5)
    await r.drain()
    working = [o for o in s.oms.working() if o.strategy == "crashes"]
    assert len(working) == 1 and working[0].type is OrderType.LIMIT
    quote(broker, "AAPL", 102)
    await r.drain()
    await wait_for(lambda: bad.state is StrategyState.ERROR)
    await r.drain()
    assert "ZeroDivisionError: division by zero" in bad.error and "on_quote" in bad.error
    alert = [a for a in alerts if a.source == "strategy:crashes"][0]
    assert alert.priority == "high" and "ZeroDivisionError" in alert.message
    assert s.oms.orders[working[0].id].status is OrderStatus.CANCELED  # its orders were canceled
    quote(broker, "AAPL", 103)
    await r.drain()
    assert good.state is StrategyState.RUNNING and good.strategy.handled[-1] == 103
    kinds = [k for _, _, k, _, _ in s.journal.events("strategy.")]
    assert "strategy.error" in kinds


class BarRecorder(Strategy):
    name = "bar_recorder"

    def on_start(self):
        self.closes = []
        self.ctx.subscribe(self.ctx.symbols, bars=60, quotes=False)

    def on_bar(self, bar):
        if bar.close < 0 and self.ctx.name == "bad":
            raise ZeroDivisionError("division by zero")
        self.closes.append(bar.close)


async def test_inline_bars_through_a_route_sink_keep_isolation_pause_and_history(env):
    """The backtest's bar path: a route looked up once, inline workers, bars as they come. Once
    "bad" has failed, "good" is the route's one member and takes bars straight from it; its
    pause, resume and stop still count."""
    from workstation.core.model import Bar

    s, broker, clock, alerts = env
    r = make_runner(s, "inline")
    bad = r.add(BarRecorder, symbols=["AAPL"], name="bad")
    good = r.add(BarRecorder, symbols=["AAPL"], name="good")
    route = r.bar_route("AAPL", 60)
    late = r.bar_route("MSFT", 60)  # nobody has subscribed to it (yet): bars go nowhere
    await r.start_all()

    def sink(bar):
        route.deliver(bar)

    def bar(i, close):
        return Bar("AAPL", T0 + 60 * i, close, close, close, close, 1.0, 60)

    for i, close in enumerate([100.0, 101.0]):
        sink(bar(i, close))
    late.deliver(Bar("MSFT", T0, 1.0, 1.0, 1.0, 1.0, 1.0, 60))
    sink(Bar("AAPL", T0 + 120, -1.0, -1.0, -1.0, -1.0, 1.0, 60))  # "bad" raises on it, "good" does not mind
    assert bad.state is StrategyState.ERROR and "on_bar" in bad.error
    assert route.deliver == good.worker.put_bar  # the one running member: straight to its worker
    r.pause("good")
    sink(bar(3, 103.0))  # paused: not delivered
    r.resume("good")
    sink(bar(4, 104.0))
    assert bad.strategy.closes == [100.0, 101.0]
    assert good.strategy.closes == [100.0, 101.0, -1.0, 104.0]  # the bar "bad" failed on too
    assert [b.close for b in good.strategy.ctx.history("AAPL", 60)] == [100.0, 101.0, -1.0, 104.0]
    assert [st.received for st in r.status()] == [4, 5]  # Start and each bar delivered
    await r.stop("good")
    sink(bar(5, 105.0))
    assert good.strategy.closes[-1] == 104.0 and not good.worker.alive


async def test_pause_resume_and_several_instances_of_one_plugin(env):
    s, broker, clock, _ = env
    r = make_runner(s)
    a = r.add(Recorder, symbols=["AAPL"])
    b = r.add(Recorder, symbols=["MSFT"])
    assert (a.name, b.name) == ("recorder", "recorder-2")
    await r.start_all()
    await r.drain()
    quote(broker, "AAPL", 101)
    quote(broker, "MSFT", 301)
    await r.drain()
    assert a.strategy.handled == [101] and b.strategy.handled == [301]
    r.pause(a.name)
    quote(broker, "AAPL", 102)
    await r.drain()
    assert a.strategy.handled == [101] and a.state is StrategyState.PAUSED
    r.resume(a.name)
    quote(broker, "AAPL", 103)
    await r.drain()
    assert a.strategy.handled == [101, 103]
    await r.stop(a.name)
    quote(broker, "AAPL", 104)
    await r.drain()
    assert a.strategy.handled == [101, 103]
    await r.start(a.name)  # a restart is a fresh strategy object with the same parameters
    await r.drain()
    quote(broker, "AAPL", 105)
    await r.drain()
    assert a.strategy.handled == [105]


async def test_edit_parameters_validates_and_restarts(env):
    s, broker, clock, _ = env
    r = make_runner(s)
    inst = r.add(BuyOnce, symbols=["AAPL"])
    await r.start(inst.name)
    from workstation.strategies.api import ParamError

    with pytest.raises(ParamError, match="qty must be at least 1"):
        await r.set_params(inst.name, {"qty": "0"})
    assert inst.params["qty"] == 10
    await r.set_params(inst.name, {"qty": "25"})
    assert inst.params["qty"] == 25 and inst.state is StrategyState.RUNNING
    await r.stop_all()


async def test_allocation_is_enforced_for_that_strategys_orders(env):
    s, broker, clock, _ = env
    r = make_runner(s)
    inst = r.add(BuyOnce, {"qty": 50}, symbols=["AAPL"], allocation="4000")  # 50 x ~100 > 4,000
    other = r.add(BuyOnce, {"qty": 50}, symbols=["MSFT"], name="unlimited")
    rejected = []
    s.bus.subscribe(OrderRejected, rejected.append)
    await r.start_all()
    await r.drain()
    quote(broker, "AAPL", 100)
    quote(broker, "MSFT", 300)
    await r.drain()
    assert [e.order.strategy for e in rejected] == ["buy_once"]
    assert "strategy buy_once allocation $4,000.00 exceeded" in rejected[0].order.reason
    assert [o.strategy for o in broker.sent] == ["unlimited"]
    # within the allocation it passes; the strategy saw the rejection as an event
    await r.set_params(inst.name, {"qty": 30})
    r.set_allocation(inst.name, "5%")  # 5% of 100,000 = 5,000 >= 30 x 100
    await r.drain()
    quote(broker, "AAPL", 100)
    await r.drain()
    assert [o.strategy for o in broker.sent] == ["unlimited", "buy_once"]
    await r.stop_all()


class Timed(Strategy):
    name = "timed"

    def on_start(self):
        self.ticks = []
        self.bars = []
        self.ctx.subscribe(self.ctx.symbols, bars=5, quotes=False)
        self.ctx.set_timer("every10", 10)

    def on_timer(self, name):
        self.ticks.append((name, self.ctx.time()))

    def on_bar(self, bar):
        self.bars.append(bar)


async def test_timers_and_bars_follow_the_injected_clock(env):
    s, broker, clock, _ = env
    r = make_runner(s, "inline")
    inst = r.add(Timed, symbols=["AAPL"])
    await r.start(inst.name)
    await r.drain()
    for i, px in enumerate([100, 101, 99, 102, 103, 104]):
        clock.set(T0 + 2 * i)
        s.quotes.on_quote(Quote(symbol="AAPL", ts=T0 + 2 * i, bid=px, ask=px, last=px, volume=1000 + 10 * i))
        r.tick()
    clock.set(T0 + 21)
    r.tick()
    await r.drain()
    st = inst.strategy
    assert st.ticks == [("every10", T0 + 10), ("every10", T0 + 21)]  # fired at the tick that found it due
    # 5 s bars aligned to the clock; volume is the growth of the cumulative day volume
    assert [(b.ts - T0, b.open, b.high, b.low, b.close, b.volume) for b in st.bars] == [
        (0, 100, 101, 99, 99, 20.0),
        (5, 102, 103, 102, 103, 20.0),
        (10, 104, 104, 104, 104, 10.0),  # closed by the clock, no later quote needed
    ]
    assert st.ctx.history("AAPL", 5)[-1].close == 104


@pytest.mark.slow
async def test_process_worker_runs_the_strategy_in_another_process(env):
    import os

    from tests.process_strategies import HeavyBuyer

    s, broker, clock, alerts = env
    from workstation.core.model import Bar

    def history(symbol, seconds, count):
        return [Bar(symbol=symbol, ts=T0 - 60 * (3 - i), open=1, high=1, low=1, close=float(i), seconds=60) for i in range(count)]

    r = make_runner(s, history=history)
    inst = r.add(HeavyBuyer, symbols=["AAPL"])
    await r.start(inst.name)
    assert inst.worker.kind == "process"
    await wait_for(lambda: any(m.startswith("history") for m in inst.logs), timeout=30)
    assert int(inst.logs[0].split()[1]) != os.getpid()
    assert inst.logs[1] == "history [0.0, 1.0, 2.0]"  # asked for from the child, answered here
    await wait_for(lambda: "AAPL" in inst.quote_symbols, timeout=10)  # its subscription has arrived
    quote(broker, "AAPL", 100)
    await wait_for(lambda: len(broker.sent) == 1, timeout=10)
    order = broker.sent[0]
    assert order.strategy == "heavy" and order.qty == 5
    broker.fill(s.oms.orders[order.id], 5, "100.01")
    await wait_for(lambda: any(m.startswith("filled") for m in inst.logs), timeout=10)
    assert "position 5" in inst.logs[-1]
    quote(broker, "AAPL", 250)  # the strategy raises in its process: only it stops
    await wait_for(lambda: inst.state is StrategyState.ERROR, timeout=10)
    assert "RuntimeError: price too high for this test" in inst.error
    await r.stop_all()


async def test_a_restarted_strategy_carries_on_with_its_own_position(env):
    s, broker, clock, _ = env
    r = make_runner(s)
    inst = r.add(BuyOnce, {"qty": 10}, symbols=["AAPL"])
    await r.start(inst.name)
    await r.drain()
    quote(broker, "AAPL", 100.5)
    await r.drain()
    broker.fill(s.oms.orders[broker.sent[0].id], 10, "100.5")
    await r.drain()
    await r.stop(inst.name)
    await r.start(inst.name)  # a fresh object, but its book comes from its tagged fills
    await r.drain()
    assert inst.strategy.ctx.qty("AAPL") == 10 and inst.strategy.ctx.position("AAPL").avg_price == Decimal("100.5")
    quote(broker, "AAPL", 101)
    await r.drain()
    assert len(broker.sent) == 1  # it knows it is already long: no second buy
    await r.stop_all()


class Stuck(Strategy):
    name = "stuck"

    def on_start(self):
        self.release = threading.Event()
        self.entered = threading.Event()
        self.ctx.subscribe(self.ctx.symbols)

    def on_quote(self, q):
        self.entered.set()
        self.release.wait(10)
        self.ctx.buy(q.symbol, 1)  # too late: the strategy was stopped meanwhile


async def test_a_strategy_that_does_not_stop_in_time_cannot_trade_afterwards(env):
    s, broker, clock, _ = env
    r = make_runner(s)
    inst = r.add(Stuck, symbols=["AAPL"])
    await r.start(inst.name)
    await r.drain()
    quote(broker, "AAPL", 100)
    await asyncio.to_thread(inst.strategy.entered.wait, 5)
    await r.stop(inst.name, timeout=0.2)
    assert inst.state is StrategyState.STOPPED
    inst.strategy.release.set()
    await asyncio.to_thread(inst.worker.join, 5)
    await r.drain()
    assert broker.sent == []


class SizedThenFlat(Strategy):
    """Buys a quarter of its capital's worth with a resting limit below, then flattens on a timer."""

    name = "sized"

    def on_start(self):
        self.ctx.subscribe(self.ctx.symbols)
        self.sized = None

    def on_quote(self, q):
        if self.sized is None:
            self.sized = self.ctx.sizing.fraction_of_capital(q.symbol, "0.25", q.ask)
            self.ctx.buy(q.symbol, self.sized)
            self.ctx.buy(q.symbol, 1, limit="95.00")
            self.ctx.set_timer("exit", 5)

    def on_timer(self, name):
        self.ctx.flatten()


async def test_sizing_uses_the_allocation_and_flatten_closes_only_its_own(env):
    s, broker, clock, _ = env
    r = make_runner(s, "inline")
    inst = r.add(SizedThenFlat, symbols=["AAPL"], allocation="20000")
    await r.start(inst.name)
    await r.drain()
    manual = await s.oms.submit(req_manual())
    broker.fill(manual, 7, "100.00")
    quote(broker, "AAPL", 100)
    await r.drain()
    assert inst.strategy.sized == 49  # 25% of 20,000 at the 100.01 ask, rounded down to whole shares
    market = next(o for o in broker.sent if o.strategy == "sized" and o.type is OrderType.MARKET)
    broker.fill(s.oms.orders[market.id], 49, "100.01")
    await r.drain()
    assert [o.limit_price for o in s.oms.working() if o.strategy == "sized"] == [Decimal("95.00")]
    clock.advance(6)
    r.tick()
    await r.drain()
    sells = [o for o in broker.sent if o.strategy == "sized" and o.side.value == "sell"]
    assert [o.qty for o in sells] == [49]  # its own 49, not the 7 bought by hand
    assert not [o for o in s.oms.working() if o.strategy == "sized" and o.type is OrderType.LIMIT]  # resting buy canceled
    await r.stop_all()


def req_manual():
    from workstation.core.model import OrderRequest, Side

    return OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(7))


async def test_the_kill_switch_stops_every_strategy(env):
    s, broker, clock, _ = env
    r = make_runner(s)
    s.killswitch.stop_strategies = r.stop_all
    a = r.add(Crashes, symbols=["AAPL"])
    b = r.add(Recorder, symbols=["MSFT"])
    await r.start_all()
    await r.drain()
    quote(broker, "AAPL", 100.5)
    await r.drain()
    assert [o.strategy for o in s.oms.working()] == ["crashes"]
    report = await s.killswitch.engage("test")
    assert report.strategies_stopped
    assert a.state is StrategyState.STOPPED and b.state is StrategyState.STOPPED
    assert s.oms.working() == []
