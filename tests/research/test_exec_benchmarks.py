"""Execution benchmarks: each algorithm's parent against arrival and the interval VWAP, in bps (positive = cost)."""

import io
import json
from decimal import Decimal

import pytest
from rich.console import Console

from plugins.ma_crossover import MaCrossover
from plugins.pov import Pov
from plugins.twap import Twap
from tests.conftest import run_cli
from tests.strategies.test_pov import minute_bars
from workstation.core.model import Bar, Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from workstation.research import exec_benchmarks as xb
from workstation.research import report
from workstation.research.backtest import BacktestConfig, StrategySpec, run_backtest

D = Decimal


def child(oid, side, created, decision, strategy="algo"):
    return Order(id=oid, client_id=f"c{oid}", symbol="AAPL", side=side, qty=D(100), type=OrderType.MARKET,
                 tif=TimeInForce.DAY, status=OrderStatus.FILLED, strategy=strategy, created=created,
                 decision_price=D(decision))


def fill(oid, side, qty, price, ts, strategy="algo"):
    return Fill(exec_id=f"e{oid}-{ts}", order_id=oid, symbol="AAPL", side=side, qty=D(qty), price=D(price), ts=ts,
                strategy=strategy)


def bar(ts, high, low, close, volume):
    return Bar("AAPL", ts, close, high, low, close, volume, 60)


BARS = [
    bar(0.0, 101, 99, 100, 5_000),  # before the execution: not in its VWAP
    bar(60.0, 101, 99, 100, 1_000),  # typical 100
    bar(120.0, 102, 100, 101, 3_000),  # typical 101
    bar(180.0, 103, 101, 102, 0),  # no volume: no weight
    bar(240.0, 110, 108, 109, 9_000),  # after the last fill: not in it
]


def test_a_buy_against_its_arrival_and_interval_vwap_in_hand_computed_bps():
    orders = [child("1", Side.BUY, 60.0, "100.00"), child("2", Side.BUY, 120.0, "100.50")]
    fills = [fill("1", Side.BUY, 100, "100.40", 60.0), fill("2", Side.BUY, 300, "101.00", 180.0)]
    (p,) = xb.parents({"algo": ("twap", {"side": "buy", "qty": "400", "duration": "600"})}, orders, fills,
                      lambda s, a, b: BARS)
    assert p.filled == 400 and p.avg_price == D("100.85")  # (100 x 100.40 + 300 x 101.00) / 400
    assert p.arrival == D("100.00") and p.vs_arrival_bps == 85.0  # paid 0.85 above the arrival mid: a cost
    assert p.interval_vwap == 100.75  # (100 x 1,000 + 101 x 3,000) / 4,000
    assert abs(p.vs_vwap_bps - (100.85 - 100.75) / 100.75 * 10_000) < 1e-9  # +9.93 bps
    assert (p.start, p.end) == (60.0, 180.0)


def test_a_sell_below_its_benchmarks_is_a_cost_and_above_them_a_gain():
    orders = [child("1", Side.SELL, 60.0, "101.00")]
    fills = [fill("1", Side.SELL, 100, "100.00", 120.0)]
    (p,) = xb.parents({"algo": ("pov", {"side": "sell", "qty": "100", "duration": "60"})}, orders, fills,
                      lambda s, a, b: BARS)
    assert abs(p.vs_arrival_bps - 99.00990099) < 1e-6  # sold 1.00 under 101.00: +99.01 bps of cost
    assert p.interval_vwap == 100.75 and abs(p.vs_vwap_bps - 74.44168734) < 1e-6
    assert xb.cost_bps(Side.SELL, D("102"), D("100")) == -200.0  # sold above: negative, a gain


def test_only_execution_algorithms_are_benchmarked_and_no_bars_means_no_vwap():
    orders = [child("1", Side.BUY, 60.0, "100", strategy="algo"), child("2", Side.BUY, 60.0, "100", strategy="other")]
    fills = [fill("1", Side.BUY, 100, "100.10", 60.0, "algo"), fill("2", Side.BUY, 100, "100", 60.0, "other")]
    found = xb.parents({"algo": ("vwap", {"side": "buy", "qty": "100", "duration": "60"})}, orders, fills)
    assert [p.strategy for p in found] == ["algo"]
    assert found[0].interval_vwap is None and found[0].vs_vwap_bps is None
    assert abs(found[0].vs_arrival_bps - 10.0) < 1e-9


def test_a_backtests_summary_and_json_benchmark_each_algorithm_on_its_bars():
    s = minute_bars()
    result = run_backtest(
        [s], [StrategySpec(Twap, {"qty": 1000, "duration": 600, "slices": 5}), StrategySpec(Pov, {"qty": 3000, "side": "sell"})],
        BacktestConfig(cash=D(10_000_000)),
    )
    doc = json.loads(report.to_json(result))
    rows = {r["strategy"]: r for r in doc["execution_algorithms"]}
    assert set(rows) == {"twap", "pov"}
    twap = rows["twap"]
    fills = [f for f in result.fills if f.strategy == "twap"]
    avg = sum(f.qty * f.price for f in fills) / sum(f.qty for f in fills)
    assert D(twap["avg_price"]) == avg.quantize(D("1e-8")) and twap["filled"] == "1000"
    first = min((o for o in result.orders if o.strategy == "twap"), key=lambda o: o.created)
    assert D(twap["arrival"]) == first.decision_price
    assert abs(twap["vs_arrival_bps"] - float((avg - first.decision_price) / first.decision_price * 10_000)) < 1e-9
    end = max(f.ts for f in fills)
    keep = (s.ts >= first.created) & (s.ts <= end)
    typical = (s.high + s.low + s.close)[keep] / 3
    vwap = float((typical * s.volume[keep]).sum() / s.volume[keep].sum())
    assert abs(twap["interval_vwap"] - vwap) < 1e-9
    assert rows["pov"]["side"] == "sell" and rows["pov"]["filled"] == "3000"
    out = io.StringIO()
    Console(file=out, width=160).print(report.summary(result))
    text = out.getvalue()
    assert "Execution algorithms vs benchmarks" in text and "1,000 of 1,000" in text and "3,000 of 3,000" in text
    assert f"{twap['vs_arrival_bps']:+,.2f}" in text


def test_a_backtest_of_a_signal_strategy_lists_no_algorithms():
    result = run_backtest([minute_bars()], [StrategySpec(MaCrossover, {"fast": 3, "slow": 8, "qty": 10})],
                          BacktestConfig(cash=D(10**7)))
    assert result.fills  # it traded, but no parent order was worked
    assert json.loads(report.to_json(result))["execution_algorithms"] == []
    out = io.StringIO()
    Console(file=out, width=160).print(report.summary(result))
    assert "Execution algorithms" not in out.getvalue()


@pytest.mark.slow
def test_main_py_execution_benchmarks_a_pov_run_live_on_the_paper_market(home):
    r = run_cli(
        "realtime", "-s", "AAPL", "-d", "5s", "-c", "1000000", "--strategy", "pov", "--param", "qty=100000",
        "--param", "rate=0.05", "--param", "duration=3", "--tick-hz", "10", "--json", home=home,
    )
    assert r.returncode == 0, r.stderr
    out = run_cli("execution", "--session", "last", "--json", home=home)
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)["algorithms"]
    assert (row["strategy"], row["algorithm"], row["symbol"], row["side"]) == ("pov", "pov", "AAPL", "buy")
    assert 0 < D(row["filled"]) < 100_000  # the deadline came first: the rest is left
    avg, arrival, vwap = D(row["avg_price"]), D(row["arrival"]), row["interval_vwap"]
    assert vwap is not None  # the paper market's own bars over the interval
    assert abs(row["vs_arrival_bps"] - float((avg - arrival) / arrival * 10_000)) < 1e-6
    assert abs(row["vs_vwap_bps"] - (float(avg) - vwap) / vwap * 10_000) < 1e-3
    assert abs(vwap - float(avg)) / vwap < 0.01  # the market's average over the same seconds, not another price
    text = run_cli("execution", "--session", "last", home=home)
    assert text.returncode == 0 and "Execution algorithms vs benchmarks" in text.stdout and "pov" in text.stdout
