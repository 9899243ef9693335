"""Backtests refuse what a live session's compliance rules refuse: open positions, gross
leverage, orders per hour, the pattern-day-trader rule; each refusal counted by its rule."""

from datetime import datetime, timezone
from decimal import Decimal

import numpy as np

from workstation.core.model import Bar, OrderStatus
from workstation.research.backtest import BacktestConfig, StrategySpec, open_limits, refusals, run_backtest
from workstation.research.series import BarSeries
from workstation.strategies.api import Strategy

MON = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc).timestamp()  # a Monday, 10:00 in New York
DAY = 86_400.0


def flat(symbol: str, ts, price: float = 100.0) -> BarSeries:
    ts = np.asarray(ts, dtype=float)
    p = np.full(len(ts), price)
    return BarSeries.from_arrays(symbol, ts, p, p + 0.05, p - 0.05, p, np.full(len(ts), 10_000.0), seconds=60,
                                 tick=Decimal("0.01"))


def scripted(plan: dict[tuple[str, float], tuple[str, int]]) -> type[Strategy]:
    """A strategy that buys or sells what ``plan`` says at the close of each (symbol, bar open time)."""

    class Scripted(Strategy):
        name = "scripted"

        def on_start(self) -> None:
            self.ctx.subscribe(self.ctx.symbols, bars=60, quotes=False)

        def on_bar(self, bar: Bar) -> None:
            step = plan.get((bar.symbol, bar.ts))
            if step is not None:
                side, qty = step
                (self.ctx.buy if side == "buy" else self.ctx.sell)(bar.symbol, qty)

    return Scripted


def run(series, plan, **cfg):
    return run_backtest(series, [StrategySpec(scripted(plan), {})], BacktestConfig(**cfg))


def test_a_fourth_symbol_beyond_max_open_positions_3_is_refused_and_counted_by_rule():
    ts = MON + 60 * np.arange(5)
    series = [flat(sym, ts) for sym in ("AAPL", "MSFT", "NVDA", "AMZN")]
    plan = {(sym, MON): ("buy", 10) for sym in ("AAPL", "MSFT", "NVDA", "AMZN")}
    free = run(series, plan)
    assert len({f.symbol for f in free.fills}) == 4  # without the limit all four open
    result = run(series, plan, limits=open_limits(max_open_positions=3))
    assert sorted({f.symbol for f in result.fills}) == ["AAPL", "MSFT", "NVDA"]
    found = refusals(result)
    assert list(found) == ["max_open_positions"] and found["max_open_positions"]["count"] == 1
    assert "AMZN would open another" in found["max_open_positions"]["example"]


def test_a_per_hour_limit_refuses_the_orders_beyond_it_on_intraday_bars_and_lets_them_through_an_hour_later():
    ts = MON + 60 * np.arange(150)
    plan = {("SPY", MON + 60 * k): ("buy", 1) for k in (*range(10), 130, 131)}
    result = run([flat("SPY", ts)], plan, limits=open_limits(max_orders_per_hour=5))
    sent = sorted(o.created for o in result.orders if o.status is OrderStatus.FILLED)
    assert [round((t - MON) / 60) for t in sent] == [1, 2, 3, 4, 5, 131, 132]  # (sent at each bar's close)
    found = refusals(result)
    assert list(found) == ["max_orders_per_hour"] and found["max_orders_per_hour"]["count"] == 5
    assert "max_orders_per_hour is 5" in found["max_orders_per_hour"]["example"]


def test_a_gross_leverage_limit_refuses_the_order_that_would_take_it_beyond():
    ts = MON + 60 * np.arange(5)
    plan = {("SPY", MON): ("buy", 1000), ("SPY", MON + 120): ("buy", 1000)}
    free = run([flat("SPY", ts)], plan, account="margin")
    assert sum(f.qty for f in free.fills) == 2000  # buying power (2x) lets both through
    result = run([flat("SPY", ts)], plan, account="margin", limits=open_limits(max_gross_leverage=Decimal("1.5")))
    assert sum(f.qty for f in result.fills) == 1000
    found = refusals(result)
    assert list(found) == ["max_gross_leverage"] and found["max_gross_leverage"]["count"] == 1
    assert "gross leverage would be 2.00x" in found["max_gross_leverage"]["example"]


def _day_trading(account: str, cash: int):
    # four days (Monday to Thursday), each a buy at 10:00 and a sell at 10:02: four day trades
    ts = np.concatenate([MON + d * DAY + 60 * np.arange(10) for d in range(4)])
    plan = {}
    for d in range(4):
        plan[("SPY", MON + d * DAY)] = ("buy", 10)
        plan[("SPY", MON + d * DAY + 120)] = ("sell", 10)
    return run([flat("SPY", ts)], plan, account=account, cash=Decimal(cash))


def test_a_margin_account_under_25k_is_refused_its_fourth_day_trade_in_five_business_days():
    result = _day_trading("margin", 20_000)
    found = refusals(result)
    assert list(found) == ["pdt_check"] and found["pdt_check"]["count"] == 1
    assert "would be day trade 4" in found["pdt_check"]["example"]
    refused = next(o for o in result.kept_orders if o.status is OrderStatus.REJECTED)
    assert refused.side.value == "sell" and refused.created > MON + 3 * DAY  # Thursday's sell
    assert sum(f.signed_qty for f in result.fills) == 10  # Thursday's buy is still held


def test_the_pattern_day_trader_rule_leaves_a_cash_account_and_25k_of_equity_alone():
    for account, cash in (("cash", 20_000), ("margin", 30_000)):
        result = _day_trading(account, cash)
        assert not refusals(result)
        assert len(result.fills) == 8 and sum(f.signed_qty for f in result.fills) == 0
