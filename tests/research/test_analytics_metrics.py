"""Analytics against an independent implementation (empyrical-reloaded, test-only) on the same returns."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from workstation.research import analytics as a

ep = pytest.importorskip("empyrical")


@pytest.fixture(scope="module")
def rets() -> np.ndarray:
    rng = np.random.default_rng(11)
    r = rng.normal(0.0004, 0.012, 750)
    r[0] = abs(r[0])  # empyrical's drawdown starts at the first return; ours at the start value
    return r


@pytest.fixture(scope="module")
def bench(rets: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(12)
    return 0.6 * rets + rng.normal(0.0002, 0.008, len(rets))


@pytest.mark.parametrize("ppy", [252, 365])
def test_return_and_risk_metrics_equal_empyrical(rets: np.ndarray, bench: np.ndarray, ppy: int) -> None:
    kw = {"annualization": ppy}
    assert a.annual_return(rets, ppy) == pytest.approx(ep.annual_return(rets, **kw), rel=1e-9)
    assert a.annual_volatility(rets, ppy) == pytest.approx(ep.annual_volatility(rets, **kw), rel=1e-9)
    assert a.sharpe(rets, ppy) == pytest.approx(ep.sharpe_ratio(rets, **kw), rel=1e-9)
    assert a.sortino(rets, ppy) == pytest.approx(ep.sortino_ratio(rets, **kw), rel=1e-9)
    assert a.calmar(rets, ppy) == pytest.approx(ep.calmar_ratio(rets, **kw), rel=1e-9)
    assert a.max_drawdown(np.cumprod(1 + rets)) == pytest.approx(ep.max_drawdown(rets), rel=1e-9)
    assert a.value_at_risk(rets) == pytest.approx(ep.value_at_risk(rets), rel=1e-9)
    assert a.conditional_value_at_risk(rets) == pytest.approx(ep.conditional_value_at_risk(rets), rel=1e-9)
    alpha, beta = a.alpha_beta(rets, bench, ppy)
    e_alpha, e_beta = ep.alpha_beta(rets, bench, **kw)
    assert beta == pytest.approx(e_beta, rel=1e-9)
    assert alpha == pytest.approx(e_alpha, rel=1e-9)
    assert a.total_return(np.cumprod(np.concatenate([[1.0], 1 + rets]))) == pytest.approx(ep.cum_returns_final(rets), rel=1e-9)


def test_drawdown_duration_counts_until_recovery_or_the_end() -> None:
    ts = np.arange(8) * 86_400.0
    eq = np.array([100, 110, 100, 95, 111, 105, 104, 103.0])
    assert a.drawdown_duration(ts, eq) == 3 * 86_400  # the last peak at day 4, still below at day 7
    assert a.max_drawdown(eq) == pytest.approx(95 / 110 - 1)


class _F:
    def __init__(self, side: str, qty: int, price: str, ts: float, symbol: str = "X", strategy: str = "s", commission: str = "0"):
        from workstation.core.model import Side

        self.side, self.qty, self.price, self.ts = Side(side), Decimal(qty), Decimal(price), ts
        self.symbol, self.strategy, self.commission = symbol, strategy, Decimal(commission)
        self.order_id = str(int(ts))


def test_round_trips_win_rate_profit_factor_and_average_win_and_loss() -> None:
    fills = [_F("buy", 10, "10", 1), _F("sell", 10, "12", 2, commission="1"), _F("buy", 10, "12", 3), _F("sell", 5, "11", 4),
             _F("sell", 5, "10", 5)]
    trips = a.round_trips(fills)
    assert [t.pnl for t in trips] == [Decimal(19), Decimal(-15)]
    s = a.trade_stats(trips)
    assert s["trades"] == 2 and s["win_rate"] == 0.5
    assert s["profit_factor"] == pytest.approx(19 / 15)
    assert s["avg_win"] == Decimal(19) and s["avg_loss"] == Decimal(-15)


def test_attribution_by_symbol_and_strategy_includes_open_positions_at_the_last_price() -> None:
    fills = [_F("buy", 10, "10", 1, "X", "a"), _F("sell", 10, "11", 2, "X", "a"), _F("buy", 5, "20", 3, "Y", "b", "1")]
    by_symbol = a.pnl_by(fills, lambda f: f.symbol, {"X": Decimal(11), "Y": Decimal(22)})
    assert by_symbol == {"X": Decimal(10), "Y": Decimal(9)}
    assert a.pnl_by(fills, lambda f: f.strategy, {"Y": Decimal(22)}) == {"a": Decimal(10), "b": Decimal(9)}


def test_pnl_by_day_week_and_month_sums_to_the_total() -> None:
    from datetime import date

    days = [date(2024, 1, 30), date(2024, 1, 31), date(2024, 2, 1), date(2024, 2, 5)]
    eq = [101.0, 99.0, 104.0, 103.0]
    month = a.pnl_by_period(days, eq, 100.0, "month")
    assert month == {"2024-01": pytest.approx(-1.0), "2024-02": pytest.approx(4.0)}
    assert sum(a.pnl_by_period(days, eq, 100.0, "week").values()) == pytest.approx(3.0)
    assert len(a.pnl_by_period(days, eq, 100.0, "day")) == 4


def test_execution_quality_against_decision_and_arrival_in_money_and_bps() -> None:
    class O:
        decision_price = Decimal("100.00")

    buy = _F("buy", 10, "100.10", 1)
    sell = _F("sell", 10, "99.90", 2)
    rows = a.execution_quality([buy, sell], {buy.order_id: O(), sell.order_id: O()}, {buy.order_id: Decimal("100.05")})
    assert rows[0].vs_decision == Decimal("1.00") and rows[0].vs_decision_bps == pytest.approx(10.0)
    assert rows[0].vs_arrival == Decimal("0.50") and rows[0].vs_arrival_bps == pytest.approx(5.0, rel=1e-3)
    assert rows[1].vs_decision == Decimal("1.00")  # selling below the decision price costs too
    assert rows[1].vs_arrival is None
    agg = a.execution_summary(rows, "symbol")["X"]
    assert agg["fills"] == 2 and agg["vs_decision"] == Decimal("2.00") and agg["vs_decision_bps"] == pytest.approx(10.0, rel=1e-3)
