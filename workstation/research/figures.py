"""The figures of a backtest: metrics, attribution, execution quality and refusals.

Computed from what a ``BacktestResult`` keeps: the equity curve's exact running figures and
daily values, each symbol's daily closes, and the fills and orders streamed from the run's
journal (a long run does not hold them in memory).

Everything the fills give (round trips, turnover, commissions, P&L by symbol and by
strategy, execution quality against each order's decision and arrival prices) is folded in
one pass over them (``fold``), in batches: from memory for a small run, else read from the
journal with each fill's decision price joined in SQL (no dict of every order). A caller
that also writes the fills (the streamed ``--json``, the HTML report) is handed each batch
as it goes by. The sums are those of the whole-list functions of ``analytics``, in the same
order, so the figures are the same.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from workstation.core.model import Fill, OrderStatus

if TYPE_CHECKING:
    from workstation.research.backtest import BacktestResult

BATCH = 4_096  # fills read, folded and handed on at a time


def fill_batches(result: BacktestResult, size: int | None = None) -> Iterator[tuple[list[Fill], list[Decimal | None]]]:
    """The run's fills in order, a batch at a time, each with its order's decision price."""
    size = size or BATCH
    if result.kept_fills is not None:
        decisions = {o.id: o.decision_price for o in result.iter_orders()}
        fills = result.kept_fills
        for i in range(0, len(fills), size):
            batch = fills[i : i + size]
            yield batch, [decisions.get(f.order_id) for f in batch]
        return
    from urllib.parse import quote

    db = sqlite3.connect(f"file:{quote(result.journal_path)}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT e.data, json_extract(o.data, '$.decision_price') FROM fills f JOIN events e ON e.seq = f.seq "
            "LEFT JOIN orders o ON o.id = CAST(f.order_id AS INTEGER) AND CAST(o.id AS TEXT) = f.order_id "
            "ORDER BY f.seq"
        )
        decode = msgspec.json.Decoder(Fill).decode
        while chunk := rows.fetchmany(size):
            yield [decode(d) for d, _ in chunk], [None if p is None else Decimal(str(p)) for _, p in chunk]
    finally:
        db.close()


@dataclass(frozen=True, slots=True)
class FillFigures:
    """What one pass over the fills gives."""

    fills: int
    traded: Decimal  # notional bought and sold
    commissions: Decimal
    trades: dict[str, Any]  # ``analytics.trade_stats`` of the round trips
    by_symbol: dict[str, Decimal]  # net P&L
    by_strategy: dict[str, Decimal]
    execution_by_symbol: dict[str, dict[str, Any]]
    execution_by_strategy: dict[str, dict[str, Any]]


def fold(result: BacktestResult, each: Callable[[list[Fill]], None] | None = None, *, full: bool = True) -> FillFigures:
    """Every figure of the fills in one pass; ``each`` is handed every batch of fills in order.
    ``full=False``: only what ``metrics`` needs (attribution and execution are left empty)."""
    from workstation.research import analytics as a

    one = Decimal(1)
    mult = {s: i.multiplier for s, i in result.instruments.items()}
    m = lambda s: mult.get(s, one)  # noqa: E731
    arrivals = result.arrivals
    trips, tally = a.TripBook(m), a.TradeTally()
    by_symbol, by_strategy = a.PnlTally(m), a.PnlTally(m)
    ex_symbol, ex_strategy = a.ExecutionTally("symbol"), a.ExecutionTally("strategy")
    quality = a.fill_quality
    traded = commissions = Decimal(0)
    count = 0
    for batch, decisions in fill_batches(result):
        for f, decision in zip(batch, decisions, strict=True):
            k = m(f.symbol)
            signed = f.qty if f.side.value == "buy" else -f.qty
            traded += f.price * f.qty * k
            commissions += f.commission
            trip = trips.add(f)
            if trip is not None:
                tally.add(trip)
            if full:
                by_symbol.add(f.symbol, f, signed, k)
                by_strategy.add(f.strategy or "manual", f, signed, k)
                q = quality(f, decision, arrivals.get(f.order_id), k)
                ex_symbol.add(q)
                ex_strategy.add(q)
        count += len(batch)
        if each is not None:
            each(batch)
    last = {s: Decimal(repr(p.last_close)) for s, p in result.prices.items()}
    return FillFigures(count, traded, commissions, tally.result(), by_symbol.result(last), by_strategy.result(last),
                       ex_symbol.result(), ex_strategy.result())


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


def metrics(result: BacktestResult, folded: FillFigures | None = None) -> dict[str, Any]:
    """Every figure of a run: returns, risk, trades, exposure, turnover, alpha/beta.

    Returns and risk are computed on daily equity (the last value of each New York day),
    annualized with 252 periods for exchange data and 365 for data that trades every day.
    Money is Decimal; ratios are floats. ``folded``: the run's ``fold``, when already made."""
    from workstation.research import analytics as a

    f = folded if folded is not None else fold(result, full=False)
    curve = result.curve
    start = float(result.initial_cash)
    days, eq_daily = curve.days, curve.day_equity
    values = np.concatenate([[start], eq_daily])
    rets = values[1:] / values[:-1] - 1.0
    ppy = a.periods_per_year_of(days)
    bench = _benchmark_daily(result, days)
    alpha, beta = a.alpha_beta(rets, bench, ppy)
    stats = f.trades
    traded, commissions, fills = f.traded, f.commissions, f.fills
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


def _rejected(result: BacktestResult) -> Iterator[Any]:
    """The orders the risk checks rejected (from the journal's index of statuses for a long run)."""
    if result.kept_orders is not None:
        yield from (o for o in result.kept_orders if o.status is OrderStatus.REJECTED)
        return
    from workstation.core.journal import Journal

    journal = Journal(result.journal_path, readonly=True)
    try:
        yield from journal.orders((OrderStatus.REJECTED.value,))
    finally:
        journal.close()


def refusals(result: BacktestResult) -> dict[str, dict[str, Any]]:
    """The orders refused in a run, by rule: how many, and one reason as an example (the
    first). Orders the risk checks rejected and orders refused before they could be made
    (``invalid``: a junk quantity or price, a malformed request), most frequent first."""
    found: dict[str, dict[str, Any]] = {}
    rejected = _rejected(result)
    for o in [*rejected, *result.refused]:
        reason = o.reason or "refused"
        rule = "invalid" if o.id.startswith("refused-") and refusal_rule(reason) == "other" else refusal_rule(reason)
        entry = found.get(rule)
        if entry is None:
            found[rule] = {"count": 1, "example": reason}
        else:
            entry["count"] += 1
    return dict(sorted(found.items(), key=lambda kv: -kv[1]["count"]))


def attribution(result: BacktestResult, folded: FillFigures | None = None) -> dict[str, dict[str, Any]]:
    """P&L by symbol, by strategy, and by day, week and month."""
    from workstation.research import analytics as a

    f = folded if folded is not None else fold(result)
    days, eq_daily = result.curve.days, result.curve.day_equity
    start = float(result.initial_cash)
    return {
        "symbol": f.by_symbol,
        "strategy": f.by_strategy,
        "day": a.pnl_by_period(days, eq_daily, start, "day"),
        "week": a.pnl_by_period(days, eq_daily, start, "week"),
        "month": a.pnl_by_period(days, eq_daily, start, "month"),
    }


def execution(result: BacktestResult, folded: FillFigures | None = None) -> dict[str, Any]:
    """Execution quality aggregated by symbol and by strategy (``analytics.execution_quality``
    gives it per fill, for callers that hold the fills)."""
    f = folded if folded is not None else fold(result)
    return {"by_symbol": f.execution_by_symbol, "by_strategy": f.execution_by_strategy}
