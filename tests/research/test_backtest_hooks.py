"""A replay hands bars straight to an inline strategy's hook, and still stops at the bar where
the strategy failed or stopped: a failing ``on_bar``, ``on_fill`` or ``on_timer``, and a
``ctx.stop``, end the strategy's bars exactly where live delivery would, within a chunk of
bars and across chunks, and the failure is in the result."""

from __future__ import annotations

from decimal import Decimal

import pytest

import workstation.research.backtest as backtest
from workstation.core.model import Bar, Fill
from workstation.research.backtest import BacktestConfig, BarSeries, StrategySpec, run_backtest
from workstation.strategies.api import Strategy

T0 = 1_700_000_000.0


def flat(n: int) -> BarSeries:
    ts = [T0 + 60 * i for i in range(n)]
    return BarSeries.from_arrays("AAA", ts, [10.0] * n, [10.5] * n, [9.5] * n, [10.0] * n, [1000.0] * n,
                                 seconds=60, tick=Decimal("0.01"))


def recorder(*, fail_bar: int | None = None, stop_bar: int | None = None, buy_bar: int | None = None,
             fail_fill: bool = False, timer_fail_after: float | None = None) -> type[Strategy]:
    """A strategy that notes each bar it is handed, and fails or stops as told."""

    class Recorder(Strategy):
        name = "recorder"
        seen: list[int] = []

        def on_start(self) -> None:
            type(self).seen = []
            self.ctx.subscribe(self.ctx.symbols, bars=60, quotes=False)
            if timer_fail_after is not None:
                self.ctx.set_timer("tick", timer_fail_after)

        def on_bar(self, bar: Bar) -> None:
            k = int((bar.ts - T0) // 60)
            type(self).seen.append(k)
            if k == fail_bar:
                raise ZeroDivisionError("bar hook failed on purpose")
            if k == stop_bar:
                self.ctx.stop("enough bars")
            if k == buy_bar:
                self.ctx.buy(bar.symbol, 10)

        def on_fill(self, fill: Fill) -> None:
            if fail_fill:
                raise ValueError("fill hook failed on purpose")

        def on_timer(self, name: str) -> None:
            raise RuntimeError("timer hook failed on purpose")

    return Recorder


def run(cls: type[Strategy], bars: int):
    result = run_backtest([flat(bars)], [StrategySpec(cls, {})], BacktestConfig(cash=Decimal(100_000)))
    return cls.seen, result.strategies["recorder"]


@pytest.fixture(params=[16_384, 7], ids=["one chunk", "many chunks"])
def chunk(request, monkeypatch):
    monkeypatch.setattr(backtest, "CHUNK", request.param)
    return request.param


def test_every_bar_reaches_a_healthy_strategy(chunk) -> None:
    seen, info = run(recorder(), 40)
    assert seen == list(range(40))
    assert info["error"] is None


def test_a_failing_bar_hook_ends_the_strategys_bars_at_that_bar(chunk) -> None:
    seen, info = run(recorder(fail_bar=12), 40)
    assert seen == list(range(13))  # the bar that failed was handed over; none after it
    assert info["state"] == "error"
    assert "bar hook failed on purpose" in info["error"]


def test_a_strategy_that_stops_itself_gets_no_bar_after_its_stop(chunk) -> None:
    seen, info = run(recorder(stop_bar=9), 40)
    assert seen == list(range(10))
    assert info["state"] == "stopped" and info["error"] is None


def test_a_failing_fill_hook_stops_the_bars_before_the_bar_that_filled(chunk) -> None:
    # bought on bar 5, filled at bar 6's open, before bar 6 is handed over: bar 6 never arrives
    seen, info = run(recorder(buy_bar=5, fail_fill=True), 40)
    assert seen == list(range(6))
    assert "fill hook failed on purpose" in info["error"]


def test_a_failing_timer_hook_stops_the_bars_after_the_bar_it_fired_on(chunk) -> None:
    # a 5-minute timer is due when bar 4 closes (its hook runs after that bar's own hook)
    seen, info = run(recorder(timer_fail_after=300.0), 40)
    assert seen == list(range(5))
    assert "timer hook failed on purpose" in info["error"]
