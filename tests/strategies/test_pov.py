"""POV: a share of the market's volume, within a limit, by a deadline, every child through the order door."""

from datetime import datetime, timezone
from decimal import Decimal

import numpy as np

from plugins.pov import Pov
from tests.strategies.test_plugins_shipped import Replay
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.limits import RiskLimits
from workstation.core.model import AlertRaised, OrderStatus, OrderType
from workstation.research.backtest import BacktestConfig, StrategySpec, run_backtest
from workstation.research.series import BarSeries
from workstation.strategies.runner import StrategyRunner
from workstation.trading.session import Session

T0 = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc).timestamp()  # a Tuesday, 10:00 in New York


def minute_bars(n=120, seed=7, drift=0.0):
    rng = np.random.default_rng(seed)
    close = np.round(100 + np.cumsum(rng.normal(drift, 0.05, n)), 2)
    open_ = np.round(np.r_[100.0, close[:-1]], 2)
    high = np.round(np.maximum(open_, close) + 0.03, 2)
    low = np.round(np.minimum(open_, close) - 0.03, 2)
    volume = rng.integers(500, 5000, n).astype(float)
    return BarSeries.from_arrays("SPY", T0 + 60 * np.arange(n), open_, high, low, close, volume, seconds=60, tick=Decimal("0.01"))


def backtest(series, limits=None, **params):
    cfg = BacktestConfig(cash=Decimal(10_000_000)) if limits is None else BacktestConfig(cash=Decimal(10_000_000), limits=limits)
    return run_backtest([series], [StrategySpec(Pov, params)], cfg)


def test_pov_trades_ten_percent_of_each_bars_volume_in_a_backtest():
    s = minute_bars()
    result = backtest(s, qty=100_000, rate=0.1, duration=3600)
    by_bar = {}
    for f in result.fills:
        by_bar[f.ts] = by_bar.get(f.ts, 0) + f.qty
    assert len(by_bar) >= 55  # a child on (nearly) every bar of the hour
    for i in range(len(s.ts) - 1):
        got = by_bar.get(float(s.ts[i + 1]), 0)
        if s.ts[i] < T0 + 3540:  # the volume printed within the hour is answered on the next bar's open
            assert abs(got - Decimal(repr(0.1 * float(s.volume[i])))) <= 1, (i, got, s.volume[i])
        else:
            assert got == 0  # the deadline has passed: nothing more
    hour = s.volume[s.ts < T0 + 3600].sum()
    done = sum(f.qty for f in result.fills)
    assert abs(float(done) / hour - 0.1) < 0.002


def test_children_keep_within_min_and_max_child():
    s = minute_bars()
    result = backtest(s, qty=100_000, rate=0.1, duration=3600, min_child=600, max_child=350 * 2)
    sizes = [o.qty for o in result.orders]
    assert sizes and all(600 <= q <= 700 for q in sizes)
    done = sum(f.qty for f in result.fills)
    hour = Decimal(repr(float(s.volume[s.ts < T0 + 3540].sum())))
    assert hour * Decimal("0.1") - 700 <= done <= hour * Decimal("0.1")  # held back, never ahead of 10%


def test_a_buy_never_fills_above_its_limit_and_sends_nothing_while_the_market_is_through_it():
    s = minute_bars(n=180, seed=3, drift=0.01)  # a market rising through the limit
    limit = Decimal("100.30")
    result = backtest(s, qty=100_000, rate=0.1, duration=10_800, limit=str(limit))
    assert result.fills and all(f.price <= limit for f in result.fills)
    assert all(o.type is OrderType.LIMIT and o.limit_price == limit for o in result.orders)
    through = {float(t) + 60 for t, low in zip(s.ts, s.low, strict=True) if low > float(limit)}
    assert len(through) > 30
    sent = {o.created for o in result.orders}
    assert not sent & through  # no child sent at the close of a bar that traded only above the limit
    inside = s.volume[s.low <= float(limit)].sum()
    assert sum(f.qty for f in result.fills) <= Decimal(repr(0.1 * float(inside)))  # through-the-limit volume does not count


def test_at_the_deadline_it_stops_and_with_finish_it_sends_the_rest_at_once():
    s = minute_bars()
    stopped = backtest(s, qty=20_000, rate=0.1, duration=1800)
    assert max(o.created for o in stopped.orders) <= T0 + 1800
    assert 0 < sum(f.qty for f in stopped.fills) < 20_000
    finished = backtest(s, qty=20_000, rate=0.1, duration=1800, finish=True)
    assert sum(f.qty for f in finished.fills) == 20_000
    last = max(finished.orders, key=lambda o: o.created)
    assert last.created >= T0 + 1800 and last.qty == 20_000 - sum(f.qty for f in stopped.fills)


async def test_live_the_deadline_reports_what_is_left(tmp_path):
    r = Replay(tmp_path)
    alerts = []
    r.s.bus.subscribe(AlertRaised, alerts.append)
    inst = await r.start("pov", side="buy", qty=1000, rate=0.1, duration=10.0)
    volume = 1_000_000.0
    for _ in range(30):  # 200 shares print every second for 15 s: 10% is 20 a second
        volume += 100.0
        await r.step(20.0, seconds=0.5, volume=volume)
    done = inst.strategy.filled
    assert 180 <= done <= 200
    assert list(inst.logs)[-1] == f"deadline: {done} of 1000 ORCL done, {1000 - done} left (canceled)"
    assert any(a.title == "pov ORCL" and "left" in a.message for a in alerts)
    assert all(o.created <= r.clock.time() - 4.5 for o in r.orders())  # nothing sent after the deadline


async def test_a_child_over_a_risk_limit_is_refused_and_the_parent_reports_it_and_stops(tmp_path):
    r = Replay(tmp_path)
    r.s.limits.set("max_order_qty", 5)  # every child of 10 is refused by the risk checks
    alerts = []
    r.s.bus.subscribe(AlertRaised, alerts.append)
    inst = await r.start("pov", side="buy", qty=1000, rate=0.1, min_child=10, duration=600.0, max_refusals=3, backoff=1.0)
    volume = 1_000_000.0
    for _ in range(60):
        volume += 100.0
        await r.step(20.0, seconds=0.5, volume=volume)
    refused = [o for o in r.orders() if o.status is OrderStatus.REJECTED]
    assert refused and all("max_order_qty" in o.reason for o in refused)
    assert not any(o.status is OrderStatus.FILLED for o in r.orders())
    assert inst.state.value == "stopped"
    assert "3 child orders refused in a row" in list(inst.logs)[-1]
    assert len([a for a in alerts if a.title == "pov ORCL child refused"]) == 1


async def test_pov_on_the_paper_market_follows_its_volume(tmp_path):
    clock = SimClock(T0)
    s = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock)
    await s.start(["AAPL"], feed=False)
    runner = StrategyRunner(bus=s.bus, oms=s.oms, portfolio=s.portfolio, clock=clock, delivery="inline")
    runner.attach()
    inst = runner.add(Pov, {"qty": 100_000, "rate": 0.02, "duration": 30.0}, symbols=["AAPL"])
    await runner.start(inst.name)
    await runner.drain()
    printed = []
    for _ in range(80):
        clock.advance(0.5)
        printed += [q.volume for q in s.broker.step() if q.symbol == "AAPL"]
        runner.tick()
        await runner.drain()
        await s.drain()
    pov = inst.strategy
    orders = list(s.oms.orders.values())
    assert orders and all(o.strategy == inst.name and o.status is OrderStatus.FILLED for o in orders)
    assert pov.volume > 0 and abs(float(pov.filled) - 0.02 * pov.volume) <= 1
    assert pov.volume <= printed[-1] - printed[0]
    assert list(inst.logs)[-1].startswith("deadline: ")
    await s.stop()


def test_a_min_child_above_max_child_is_one_line_and_runs_nothing(tmp_path, home):
    from tests.conftest import run_cli

    s = minute_bars(n=5)
    data = tmp_path / "spy.csv"
    data.write_text("timestamp,open,high,low,close,volume\n" + "".join(
        f"{int(t)},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{int(v)}\n"
        for t, o, h, lo, c, v in zip(s.ts, s.open, s.high, s.low, s.close, s.volume, strict=True)))
    r = run_cli("backtest", "-s", "SPY", "--data", str(data), "--strategy", "pov", "--param", "min_child=10",
                "--param", "max_child=5", home=home)
    assert r.returncode == 2 and r.stderr.strip() == "error: pov: min_child 10 is above max_child 5"
    assert "Traceback" not in r.stderr and r.stdout == ""
