"""The figures of a backtest: metrics, attribution, execution quality and refusals.

Computed from what a ``BacktestResult`` keeps: the equity curve's exact running figures and
daily values, each symbol's daily closes, and the fills and orders streamed from the run's
journal (a long run does not hold them in memory).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from workstation.core.model import OrderStatus

if TYPE_CHECKING:
    from workstation.research.backtest import BacktestResult


def _benchmark_daily(result: BacktestResult, days: list) -> np.ndarray:
    """Daily returns of buy-and-hold of the traded symbols (equal weight), on ``days``."""
    rets = []
    for p in result.prices.values():
        by_day = dict(zip(p.days, p.day_close.tolist(), strict=True))
        aligned, prev = [], p.first_open
        for day in days:
            prev = by_day.get(day, prev)
            aligned.append(prev)
        values = np.asarray([p.first_open, *aligned])
        rets.append(values[1:] / values[:-1] - 1.0)
    return np.mean(rets, axis=0) if rets else np.zeros(len(days))


def metrics(result: BacktestResult) -> dict[str, Any]:
    """Every figure of a run: returns, risk, trades, exposure, turnover, alpha/beta.

    Returns and risk are computed on daily equity (the last value of each New York day),
    annualized with 252 periods for exchange data and 365 for data that trades every day.
    Money is Decimal; ratios are floats."""
    from workstation.research import analytics as a

    curve = result.curve
    start = float(result.initial_cash)
    days, eq_daily = curve.days, curve.day_equity
    values = np.concatenate([[start], eq_daily])
    rets = values[1:] / values[:-1] - 1.0
    ppy = a.periods_per_year_of(days)
    bench = _benchmark_daily(result, days)
    alpha, beta = a.alpha_beta(rets, bench, ppy)
    mult = {s: i.multiplier for s, i in result.instruments.items()}
    one = Decimal(1)
    traded = Decimal(0)
    commissions = Decimal(0)
    fills = 0

    def counted():  # one pass over the fills: the round trips, and the sums beside them
        nonlocal traded, commissions, fills
        for f in result.iter_fills():
            traded += f.price * f.qty * mult.get(f.symbol, one)
            commissions += f.commission
            fills += 1
            yield f

    trips = a.round_trips(counted(), lambda s: mult.get(s, one))
    stats = a.trade_stats(trips)
    mean_equity = curve.mean_equity if curve.samples else start
    return {
        "start_equity": result.initial_cash,
        "final_equity": result.final_equity,
        "pnl": result.final_equity - result.initial_cash,
        "total_return": float(result.final_equity / result.initial_cash - 1),
        "annual_return": a.annual_return(rets, ppy),
        "annual_volatility": a.annual_volatility(rets, ppy),
        "sharpe": a.sharpe(rets, ppy),
        "sortino": a.sortino(rets, ppy),
        "calmar": a.calmar(rets, ppy),
        "max_drawdown": curve.max_drawdown,
        "max_drawdown_days": curve.max_drawdown_seconds / 86_400,
        "var_95": a.value_at_risk(rets, 0.05),
        "cvar_95": a.conditional_value_at_risk(rets, 0.05),
        "alpha": alpha,
        "beta": beta,
        "benchmark_return": float(np.prod(1.0 + bench) - 1.0) if len(bench) else 0.0,
        "trades": stats["trades"],
        "win_rate": stats["win_rate"],
        "profit_factor": stats["profit_factor"],
        "avg_win": stats["avg_win"],
        "avg_loss": stats["avg_loss"],
        "fills": fills,
        "commissions": commissions,
        "exposure": curve.exposure,
        "turnover": float(traded) / mean_equity if mean_equity else 0.0,
        "days": len(days),
        "periods_per_year": ppy,
        "bars": result.bars,
        "bars_per_second": round(result.bars_per_second),
    }


_RULE_NAME = re.compile(r"\b(max_[a-z_]+|price_collar_pct)\b")
_RULE_PHRASES = (
    ("buying power", "buying_power"), ("circuit breaker", "circuit_breaker"), ("trading is halted", "trading_halted"),
    ("shorting is not allowed", "allow_short"), ("allocation", "allocation"), ("no price for", "no_price"),
)


def refusal_rule(reason: str) -> str:
    """The rule a refusal's reason names (``max_sector_pct``, ``buying_power``...), else ``other``."""
    found = _RULE_NAME.search(reason)
    if found:
        return found.group(1)
    low = reason.lower()
    return next((rule for phrase, rule in _RULE_PHRASES if phrase in low), "other")


def refusals(result: BacktestResult) -> dict[str, dict[str, Any]]:
    """The orders refused in a run, by rule: how many, and one reason as an example (the
    first). Orders the risk checks rejected and orders refused before they could be made
    (``invalid``: a junk quantity or price, a malformed request), most frequent first."""
    found: dict[str, dict[str, Any]] = {}
    rejected = (o for o in result.iter_orders() if o.status is OrderStatus.REJECTED)
    for o in [*rejected, *result.refused]:
        reason = o.reason or "refused"
        rule = "invalid" if o.id.startswith("refused-") and refusal_rule(reason) == "other" else refusal_rule(reason)
        entry = found.get(rule)
        if entry is None:
            found[rule] = {"count": 1, "example": reason}
        else:
            entry["count"] += 1
    return dict(sorted(found.items(), key=lambda kv: -kv[1]["count"]))


def attribution(result: BacktestResult) -> dict[str, dict[str, Any]]:
    """P&L by symbol, by strategy, and by day, week and month."""
    from workstation.research import analytics as a

    last = {s: Decimal(repr(p.last_close)) for s, p in result.prices.items()}
    mult = {s: i.multiplier for s, i in result.instruments.items()}
    m = lambda s: mult.get(s, Decimal(1))  # noqa: E731
    days, eq_daily = result.curve.days, result.curve.day_equity
    start = float(result.initial_cash)
    return {
        "symbol": a.pnl_by(result.iter_fills(), lambda f: f.symbol, last, m),
        "strategy": a.pnl_by(result.iter_fills(), lambda f: f.strategy or "manual", last, m),
        "day": a.pnl_by_period(days, eq_daily, start, "day"),
        "week": a.pnl_by_period(days, eq_daily, start, "week"),
        "month": a.pnl_by_period(days, eq_daily, start, "month"),
    }


def execution(result: BacktestResult) -> dict[str, Any]:
    """Execution quality: per fill and aggregated by symbol and strategy."""
    from workstation.research import analytics as a

    orders = {o.id: o for o in result.iter_orders()}
    mult = {s: i.multiplier for s, i in result.instruments.items()}
    rows = a.execution_quality(result.fills, orders, result.arrivals, lambda s: mult.get(s, Decimal(1)))
    return {"by_symbol": a.execution_summary(rows, "symbol"), "by_strategy": a.execution_summary(rows, "strategy"), "fills": rows}
