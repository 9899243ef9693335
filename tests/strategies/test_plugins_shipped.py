"""Each shipped plugin on real prices replayed by a SimClock, through the order manager.

The replay publishes one quote per simulated second (last = the day's close from the data
file), delivers events inline (as a backtest does), and fills market orders at the touch and
limit orders when the price reaches them.
"""

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.fakes.scripted import ScriptedBroker
from workstation.core import indicators as ind
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import Bar, OrderStatus, OrderType, Quote, Side
from workstation.trading.session import Session
from workstation.strategies.plugins import discover
from workstation.strategies.runner import StrategyRunner

T0 = 1_700_000_000.0
CLOSES = pd.read_csv(Path(__file__).parents[1] / "data" / "orcl-1995-2014.txt").Close.to_numpy()[:600]


class Replay:
    def __init__(self, tmp_path, history=None):
        self.broker = ScriptedBroker()
        self.clock = SimClock(T0)
        self.s = Session.build(Settings(), "paper", data_root=tmp_path, clock=self.clock, broker=self.broker)
        self.runner = StrategyRunner(
            bus=self.s.bus, oms=self.s.oms, portfolio=self.s.portfolio, clock=self.clock, delivery="inline", history=history
        )
        self.runner.attach()
        self.plugins = discover(entry_points=False).plugins
        self.px = 0.0
        self.i = 0

    async def start(self, plugin, symbols=("ORCL",), **params):
        inst = self.runner.add(self.plugins[plugin].cls, params, symbols=list(symbols))
        await self.runner.start(inst.name)
        await self.runner.drain()
        return inst

    async def step(self, price, seconds=1.0, volume=0.0):
        self.px = float(price)
        if self.i:
            self.clock.advance(seconds)
        self.i += 1
        t = self.clock.time()
        q = Quote(symbol="ORCL", ts=t, bid=self.px - 0.01, ask=self.px + 0.01, last=self.px, volume=volume)
        self.broker.quotes["ORCL"] = q
        self.s.quotes.on_quote(q)
        self.runner.tick()
        await self.runner.drain()
        await self.fill()

    async def fill(self):
        for order in list(self.s.oms.working()):
            if order.status.is_working:
                bid, ask = self.px - 0.01, self.px + 0.01
                price = ask if order.side is Side.BUY else bid
                if order.type is OrderType.LIMIT:
                    ok = price <= order.limit_price if order.side is Side.BUY else price >= order.limit_price
                    if not ok:
                        continue
                    price = float(order.limit_price)
                self.broker.fill(order, order.remaining, f"{price:.2f}")
        await self.runner.drain()

    def orders(self):
        return sorted(self.s.oms.orders.values(), key=lambda o: int(o.id))


def bar_index(order):
    # the order went out on the quote after the bar closed: bar i closes at T0 + i + 1
    return int(round(order.created - T0)) - 1


async def test_ma_crossover_buys_cross_ups_and_sells_cross_downs(tmp_path):
    r = Replay(tmp_path)
    await r.start("ma_crossover", fast=5, slow=20, qty=100, bar_seconds=1)
    for px in CLOSES:
        await r.step(px)
    orders = r.orders()
    assert len(orders) >= 10
    fast, slow = pd.Series(CLOSES).rolling(5).mean(), pd.Series(CLOSES).rolling(20).mean()
    above = (fast > slow).where(slow.notna())
    for i, o in enumerate(orders):
        assert o.status is OrderStatus.FILLED and o.strategy == "ma_crossover" and o.qty == 100
        assert o.side is (Side.BUY if i % 2 == 0 else Side.SELL)  # long only: buy, sell, buy...
        k = bar_index(o)
        assert above[k] == (o.side is Side.BUY) and above[k - 1] != above[k]  # a cross on that very bar
    book = r.s.portfolio.books["ma_crossover"]
    assert book.trades == len(orders)


async def test_rsi_reversion_buys_oversold_and_exits_on_recovery(tmp_path):
    r = Replay(tmp_path)
    await r.start("rsi_reversion", period=6, oversold=25.0, exit_level=60.0, qty=50, bar_seconds=1)
    for px in CLOSES:
        await r.step(px)
    orders = r.orders()
    rsi = ind.rsi(CLOSES, 6)
    assert len(orders) >= 4
    for i, o in enumerate(orders):
        k = bar_index(o)
        if o.side is Side.BUY:
            assert i % 2 == 0 and rsi[k] < 25 and o.qty == 50
        else:
            assert i % 2 == 1 and rsi[k] > 60
    assert r.s.portfolio.books["rsi_reversion"].wins + r.s.portfolio.books["rsi_reversion"].losses >= 2


async def test_donchian_breakout(tmp_path):
    r = Replay(tmp_path)
    await r.start("donchian_breakout", entry=20, exit=10, qty=10, bar_seconds=1)
    for px in CLOSES:
        await r.step(px)
    orders = r.orders()
    assert len(orders) >= 4
    closes = pd.Series(CLOSES)  # one quote per bar: high = low = close
    for i, o in enumerate(orders):
        k = bar_index(o)
        if o.side is Side.BUY:
            assert i % 2 == 0 and closes[k] > closes[k - 20:k].max()
        else:
            assert i % 2 == 1 and closes[k] < closes[k - 10:k].min()


async def test_twap_slices_evenly_and_completes(tmp_path):
    r = Replay(tmp_path)
    inst = await r.start("twap", side="buy", qty=1000, duration=100.0, slices=10)
    await r.step(20.0, seconds=0)
    for _ in range(130):
        await r.step(20.0)
    orders = r.orders()
    assert [o.qty for o in orders] == [100] * 10
    assert [round(o.created - T0) for o in orders] == list(range(0, 100, 10))
    assert r.s.portfolio.books["twap"].positions["ORCL"].qty == 1000
    assert "complete: 1000 ORCL bought" in list(inst.logs)[-1]


async def test_twap_respects_its_limit_and_cancels_cleanly_when_stopped(tmp_path):
    r = Replay(tmp_path)
    inst = await r.start("twap", side="sell", qty=300, duration=30.0, slices=3, limit="21.00")
    for px in [20.0] * 12:  # below the limit: the children rest, nothing sells
        await r.step(px)
    working = r.s.oms.working()
    assert [o.limit_price for o in working] == [Decimal("21.00")] * 2 and all(o.side is Side.SELL for o in working)
    assert not r.s.journal.fills()
    await r.step(21.5)  # the market reaches the limit: the resting children fill at 21.00
    assert r.s.portfolio.books["twap"].positions["ORCL"].qty == -200
    await r.step(20.0, seconds=10)  # third slice: rests again
    assert len(r.s.oms.working()) == 1
    await r.runner.stop(inst.name)
    assert r.s.oms.working() == []
    assert "canceled: 200 of 300 ORCL done" in list(inst.logs)[-1]
    n = len(r.orders())
    for _ in range(30):
        await r.step(22.0)
    assert len(r.orders()) == n  # nothing more after the stop


async def test_vwap_follows_the_historical_volume_profile(tmp_path):
    # three days of 60 s bars: heavy volume at the start and end of the 10-minute window
    def history(symbol, seconds, count):
        bars = []
        for day in (1, 2, 3):
            for m in range(10):
                ts = T0 - day * 86_400 + m * 60
                vol = 400.0 if m in (0, 9) else 100.0 if m in (1, 8) else 50.0
                bars.append(Bar(symbol=symbol, ts=ts, open=1, high=1, low=1, close=1, volume=vol, seconds=60))
        return bars

    r = Replay(tmp_path, history=history)
    await r.start("vwap", side="buy", qty=1200, duration=600.0, slices=10, bar_seconds=60)
    await r.step(30.0, seconds=0)
    for _ in range(700):
        await r.step(30.0)
    qtys = [o.qty for o in r.orders()]
    # profile 400,100,50,50,50,50,50,50,100,400 of 1300 -> cumulative targets of 1200
    expected = np.diff(np.floor(np.cumsum([400, 100, 50, 50, 50, 50, 50, 50, 100, 400]) / 1300 * 1200), prepend=0)
    expected[-1] += 1200 - expected.sum()
    assert qtys == [Decimal(int(x)) for x in expected]
    assert sum(qtys) == 1200


async def test_the_readme_example_strategy_works_as_written(tmp_path, home):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("### Writing one"):]
    code = section[section.index("```python") + len("```python\n"):]
    code = code[: code.index("```")]
    assert len(code.strip().splitlines()) < 30
    folder = home / "strategies"
    folder.mkdir(parents=True)
    (folder / "band_bounce.py").write_text(code)
    r = Replay(tmp_path)
    r.plugins = discover(entry_points=False).plugins
    assert "band_bounce" in r.plugins
    await r.start("band_bounce", period=10, width=1.5, bar_seconds=1)
    for px in CLOSES:
        await r.step(px)
    orders = r.orders()
    assert len(orders) >= 4 and orders[0].side is Side.BUY and orders[0].strategy == "band_bounce"
    assert all(o.status is OrderStatus.FILLED for o in orders)
    # sized to risk 1% of equity down to a stop one band-width below the band: never all-in
    assert all(o.qty * o.avg_fill_price < 100_000 for o in orders)


@pytest.mark.parametrize("plugin, params", [
    ("ma_crossover", {"fast": 3, "slow": 8, "qty": 10, "bar_seconds": 5}),
    ("rsi_reversion", {"period": 5, "oversold": 40.0, "exit_level": 55.0, "qty": 10, "bar_seconds": 5}),
    ("donchian_breakout", {"entry": 6, "exit": 3, "qty": 10, "bar_seconds": 5}),
    ("twap", {"side": "buy", "qty": 90, "duration": 60.0, "slices": 6}),
    ("vwap", {"side": "sell", "qty": 60, "duration": 60.0, "slices": 4, "bar_seconds": 60, "lookback_days": 1}),
])
async def test_each_plugin_against_the_simulated_market(tmp_path, plugin, params):
    """The paper broker and its deterministic market, driven by a SimClock: same run, same trades."""
    from brokers.paper.broker import SimBroker, SimConfig

    async def run(folder):
        clock = SimClock(T0)
        broker = SimBroker(clock, SimConfig(seed=7, partial_fills=False))
        s = Session.build(Settings(), "paper", data_root=folder, clock=clock, broker=broker)
        await s.start(["AAPL"], feed=False)
        runner = StrategyRunner(bus=s.bus, oms=s.oms, portfolio=s.portfolio, clock=clock, delivery="inline",
                                history=lambda sym, sec, n: _sync_history(broker, sym, sec, n, clock))
        runner.attach()
        spec = discover(entry_points=False).plugins[plugin]
        inst = runner.add(spec.cls, params, symbols=["AAPL"])
        await runner.start(inst.name)
        for _ in range(20 * 60):  # twenty simulated minutes, one step a second
            clock.advance(1.0)
            broker.step()
            runner.tick()
            await runner.drain()
        fills = [(f.side.value, f.qty, f.price) for f in s.journal.fills()]
        book = s.portfolio.books.get(inst.name)
        assert inst.error is None
        await runner.stop(inst.name, cancel_orders=True)
        await s.stop()
        return fills, book

    fills, book = await run(tmp_path / "a")
    assert fills, "the strategy traded"
    assert book.trades == len(fills)
    if plugin in ("twap", "vwap"):
        assert sum(q for _, q, _ in fills) == params["qty"]
    else:
        assert all(q == 10 for _, q, _ in fills) and fills[0][0] == "buy"
    again, _ = await run(tmp_path / "b")
    assert again == fills  # deterministic


def _sync_history(broker, symbol, seconds, count, clock):
    end = (clock.time() // seconds) * seconds
    return broker.market.bars(symbol, seconds, end - seconds * count, end, "always")
