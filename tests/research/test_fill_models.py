"""Fill models in backtests: volume participation, half-spread, square-root impact, sessions,
the costs split, and the capacity curve (the default model is the backtrader anchors' own)."""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, Decimal

from brokers.paper.fill_models import FillModel, sqrt_impact
from workstation.core.model import Bar
from workstation.research.backtest import BacktestConfig, BarSeries, StrategySpec, run_backtest
from workstation.strategies.api import Param, Strategy

OPEN_NY = 1_709_649_000.0  # 2024-03-05 09:30 New York (14:30 UTC): a regular session opens
DAY = 86_400.0


def minute_series(rows, volume=1000.0, t0=OPEN_NY) -> BarSeries:
    ts = [t0 + 60 * i for i in range(len(rows))]
    o, h, lo, c = zip(*rows, strict=True)
    return BarSeries.from_arrays("AAA", ts, o, h, lo, c, [volume] * len(rows), seconds=60, tick=Decimal("0.01"))


def buy_once(size, at: int = 0, sell_at: int | None = None) -> type[Strategy]:
    class Once(Strategy):
        name = "once"
        qty = Param(Decimal(size), min=Decimal(1), description="units bought")
        bar_seconds = Param(60, min=1, max=86_400, description="bar size")

        def on_start(self) -> None:
            self.n = 0
            self.ctx.subscribe(self.ctx.symbols, bars=self.bar_seconds, quotes=False)

        def on_bar(self, bar: Bar) -> None:
            if self.n == at:
                self.ctx.buy(bar.symbol, self.qty, tif="gtc")
            if sell_at is not None and self.n == sell_at:
                self.ctx.sell(bar.symbol, self.qty, tif="gtc")
            self.n += 1

    return Once


def run(series, strategy, **model):
    return run_backtest([series], [StrategySpec(strategy)], BacktestConfig(fill_model=FillModel(**model)))


def test_a_10pct_cap_on_a_1000_volume_bar_fills_100_and_carries_the_rest_as_separate_fills() -> None:
    rows = [(10.0, 10.0, 10.0, 10.0)] * 6
    r = run(minute_series(rows), buy_once(300), participation=Decimal("0.1"))
    fills = r.fills
    assert [f.qty for f in fills] == [Decimal(100)] * 3
    assert [f.ts for f in fills] == [OPEN_NY + 60 * k for k in (1, 2, 3)]  # one bar each, after the order's bar
    assert len({f.exec_id for f in fills}) == 3
    assert r.positions == {"AAA": Decimal(300)}
    assert r.model_costs["partial_fills"] == 2
    assert r.fill_model["name"] == "volume"


def test_without_the_model_the_same_order_fills_whole_at_the_next_open() -> None:
    rows = [(10.0, 10.0, 10.0, 10.0)] * 6
    r = run(minute_series(rows), buy_once(300))
    assert [f.qty for f in r.fills] == [Decimal(300)]
    assert r.fill_model == {"name": "next_open"} and r.model_costs == {}


def test_bars_without_volume_fill_whole_and_are_counted() -> None:
    rows = [(10.0, 10.0, 10.0, 10.0)] * 4
    r = run(minute_series(rows, volume=0.0), buy_once(300), participation=Decimal("0.1"))
    assert [f.qty for f in r.fills] == [Decimal(300)]
    assert r.model_costs["no_volume_bars"] == 1


def test_spread_cost_is_half_the_spread_times_the_quantity() -> None:
    rows = [(100.0, 100.0, 100.0, 100.0)] * 4
    r = run(minute_series(rows), buy_once(50), spread_bps=Decimal(10))  # half of 10 bps of 100.00 = 0.05
    assert [f.price for f in r.fills] == [Decimal("100.05")]
    assert Decimal(r.model_costs["spread"]) == Decimal("0.05") * 50


def test_a_carried_remainder_does_not_fill_outside_the_session() -> None:
    close_ny = OPEN_NY + 6.5 * 3600  # 16:00 New York
    t0 = close_ny - 120  # two bars before the close, then two after it (kept as --all-sessions does)
    rows = [(10.0, 10.0, 10.0, 10.0)] * 4
    r = run(minute_series(rows, t0=t0), buy_once(300), participation=Decimal("0.1"))
    assert [(f.qty, f.ts) for f in r.fills] == [(Decimal(100), t0 + 60)]
    assert all(f.ts < close_ny for f in r.fills)
    assert r.model_costs["outside_session_bars"] == 2


def daily_series(n: int, volume: float = 1_000_000.0, drift: float = 0.001, width: float = 0.01) -> BarSeries:
    t0 = 1_704_067_200.0  # 2024-01-01 UTC
    closes = [100.0 * math.exp(drift * i + 0.01 * (-1) ** i) for i in range(n)]
    rows = [(round(c, 2), round(c * (1 + width), 2), round(c * (1 - width), 2), round(c, 2)) for c in closes]
    o, h, lo, c = zip(*rows, strict=True)
    return BarSeries.from_arrays(
        "AAA", [t0 + DAY * i for i in range(n)], o, h, lo, c, [volume] * n, seconds=86_400, tick=Decimal("0.01"),
    )


def test_square_root_impact_on_a_known_order_equals_the_formula() -> None:
    s = daily_series(30)
    r = run(s, buy_once(500, at=24), impact=Decimal("0.1"))
    (fill,) = r.fills
    k = 25  # the fill bar: its day's figures come from the days before it
    logs = [math.log(float(c)) for c in s.close[k - 21 : k]]
    rets = [b - a for a, b in zip(logs, logs[1:])]
    mean = sum(rets) / len(rets)
    sigma = math.sqrt(sum((x - mean) ** 2 for x in rets) / (len(rets) - 1))
    move = Decimal("0.1") * Decimal(repr(sigma)) * (Decimal(500) / Decimal(repr(1_000_000.0))).sqrt()
    assert move == sqrt_impact(Decimal("0.1"), sigma, Decimal(500), 1_000_000.0)
    opened = Decimal(repr(float(s.open[k]))).quantize(Decimal("0.01"))
    assert fill.price == (opened * (1 + move)).quantize(Decimal("0.01"), ROUND_CEILING)
    assert Decimal(r.model_costs["impact"]) == (fill.price - opened) * 500


def test_the_costs_split_sums_to_the_total_cost() -> None:
    from workstation.research.figures import costs

    s = daily_series(40, width=0.04, drift=0.0)
    r = run_backtest(
        [s], [StrategySpec(buy_once(500, at=22, sell_at=30))],
        BacktestConfig(commission_per_share=Decimal("0.005"),
                       fill_model=FillModel(spread="auto", impact=Decimal("0.2"), participation=Decimal("0.5"))),
    )
    c = costs(r)
    assert c["commission"] == sum((f.commission for f in r.fills), Decimal(0)) > 0
    assert c["spread"] > 0 and c["impact"] > 0
    assert c["total"] == c["commission"] + c["spread"] + c["impact"]


def test_the_capacity_curve_shows_lower_returns_at_larger_sizes_under_impact() -> None:
    from workstation.research.capacity import capacity_curve

    s = daily_series(60, volume=200_000.0, drift=0.003)
    specs = [StrategySpec(buy_once(1_000, at=22, sell_at=50))]
    cfg = BacktestConfig(fill_model=FillModel(impact=Decimal("0.5")))
    rows = capacity_curve([s], specs, cfg, sizes=(1, 10, 100))
    assert [row["size"] for row in rows] == [1, 10, 100]
    returns = [row["total_return"] for row in rows]
    assert returns[0] > returns[1] > returns[2]
    assert Decimal(rows[2]["impact"]) > Decimal(rows[0]["impact"]) * 10


def test_the_carried_parts_are_separate_fills_in_the_runs_journal(tmp_path) -> None:
    from workstation.core.journal import Journal

    rows = [(10.0, 10.0, 10.0, 10.0)] * 6
    path = tmp_path / "run.sqlite"
    run_backtest([minute_series(rows)], [StrategySpec(buy_once(250))],
                 BacktestConfig(fill_model=FillModel(participation=Decimal("0.1"))), journal_path=path)
    journal = Journal(path, readonly=True)
    try:
        fills = list(journal.iter_fills())
        assert [f.qty for f in fills] == [Decimal(100), Decimal(100), Decimal(50)]
        assert len({f.order_id for f in fills}) == 1
        (order,) = list(journal.iter_orders())
        assert order.status.value == "filled" and order.filled_qty == Decimal(250)
    finally:
        journal.close()


def test_an_ioc_order_takes_the_bars_share_and_the_rest_is_canceled() -> None:
    class Ioc(Strategy):
        name = "ioc"

        def on_start(self) -> None:
            self.n = 0
            self.ctx.subscribe(self.ctx.symbols, bars=60, quotes=False)

        def on_bar(self, bar: Bar) -> None:
            if self.n == 0:
                self.ctx.buy(bar.symbol, 300, tif="ioc")
            self.n += 1

    rows = [(10.0, 10.0, 10.0, 10.0)] * 4
    r = run(minute_series(rows), Ioc, participation=Decimal("0.1"))
    assert [f.qty for f in r.fills] == [Decimal(100)]
    assert r.positions == {"AAA": Decimal(100)}
    (order,) = r.orders
    assert order.status.value == "canceled" and order.filled_qty == Decimal(100)
