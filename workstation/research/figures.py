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
from itertools import compress, repeat
from operator import is_, mul, not_, sub
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec
import numpy as np

from workstation.core.model import BUY, Fill, OrderStatus

if TYPE_CHECKING:
    from workstation.research.backtest import BacktestResult

BATCH = 4_096  # fills read, folded and handed on at a time


class FillBatch(NamedTuple):
    """Consecutive fills as columns, each with its order's decision price."""

    ts: list[float]
    symbol: list[str]
    buy: list[bool]
    qty: list[Decimal]
    price: list[Decimal]
    commission: list[Decimal]
    strategy: list[str | None]
    order_id: list[str]
    decision: list[Decimal | None]
    text: tuple[list[str], list[str], list[str]] | None = None  # qty, price, commission as the journal has them


class _Numbers(dict):
    """Decimal of each text met (a run's quantities and prices repeat); bounded."""

    def __missing__(self, text: str) -> Decimal:
        if len(self) > 100_000:
            self.clear()
        d = self[text] = Decimal(text)
        return d


# The fills in order with their orders (``fills.ts`` is the fill's own time: both journals
# write a fill's event at ``fill.ts``; the orders table's key is the order id as a number).
_FILL_SQL = """
SELECT f.ts, f.symbol, f.side, f.qty, f.price, f.commission, f.strategy, f.order_id, o.data
FROM fills f LEFT JOIN orders o ON o.id = CAST(f.order_id AS INTEGER) AND CAST(o.id AS TEXT) = f.order_id
ORDER BY f.seq
"""
# fills are written in the order they happen, so their rows are usually in ``seq`` order
# already: then they are read in row order, without sorting every row
_IN_ORDER = "SELECT NOT EXISTS (SELECT 1 FROM (SELECT seq, lag(seq) OVER (ORDER BY rowid) AS prev FROM fills) WHERE seq < prev)"


class _Decision(msgspec.Struct):
    """What the figures read of an order: its decision price (the rest is skipped unread)."""

    decision_price: Decimal | None = None


def fill_batches(result: BacktestResult, size: int | None = None) -> Iterator[FillBatch]:
    """The run's fills in order, a batch at a time (from its journal file when it has one)."""
    size = size or BATCH
    path = result.journal_path
    kept = result.kept_decisions
    if result.kept_fills is not None and (kept is not None or result.kept_orders is not None or not path or path == ":memory:"):
        decisions = kept if kept is not None else {o.id: o.decision_price for o in result.iter_orders()}
        fills = result.kept_fills
        for i in range(0, len(fills), size):
            yield _columns(fills[i : i + size], decisions)
        return
    from urllib.parse import quote

    db = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True)
    try:
        in_order = db.execute(_IN_ORDER).fetchone()[0]
        rows = db.execute(_FILL_SQL.replace("ORDER BY f.seq", "ORDER BY f.rowid") if in_order else _FILL_SQL)
        number, decision = _Numbers().__getitem__, msgspec.json.Decoder(_Decision).decode
        while chunk := rows.fetchmany(size):
            ts, sym, side, qty, price, comm, strat, oid, orders = map(list, zip(*chunk, strict=True))
            yield FillBatch(ts, sym, [x == "buy" for x in side], list(map(number, qty)), list(map(number, price)),
                            list(map(number, comm)), strat, oid,
                            [None if o is None else decision(o).decision_price for o in orders], (qty, price, comm))
    finally:
        db.close()


def _columns(fills: list[Fill], decisions: dict[str, Decimal | None]) -> FillBatch:
    order_id = [f.order_id for f in fills]
    return FillBatch([f.ts for f in fills], [f.symbol for f in fills], [f.side is BUY for f in fills],
                     [f.qty for f in fills], [f.price for f in fills], [f.commission for f in fills],
                     [f.strategy for f in fills], order_id, list(map(decisions.get, order_id)))


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


def _cost(price: Decimal, ref: Decimal | None, qty: Decimal, k: Decimal | None, sign: int) -> tuple[Decimal | None, float]:
    """``analytics._cost`` (money against ``ref``, bps) with the common cases cut short: a fill at
    its reference costs nothing, and a multiplier of 1 multiplies nothing (the same values)."""
    if ref is None or ref <= 0:
        return None, 0.0
    if price == ref:
        return _ZERO, 0.0
    diff = price - ref
    money = diff * qty if k is None else diff * qty * k
    return (money if sign > 0 else -money), float(diff / ref * sign * 10_000)


_ZERO = Decimal(0)


def fold(result: BacktestResult, each: Callable[[FillBatch], None] | None = None, *, full: bool = True) -> FillFigures:
    """Every figure of the fills in one pass; ``each`` is handed every batch in order.
    ``full=False``: only what ``metrics`` needs (attribution and execution are left empty).

    The ``analytics`` functions over whole lists, folded batch by batch: round trips (average
    cost, fill by fill) per symbol and strategy; exact Decimal sums (notional, commissions,
    cash flows, holdings, slippage money) per symbol and strategy pair, summed over a batch in
    C (``sum``/``map``) when the batch is one pair's, and added up per symbol and per strategy
    at the end (exact sums: any order gives the same); the notional-weighted bps, floats,
    summed per symbol and per strategy fill by fill in the order ``execution_summary`` sums
    them (a fill at its reference adds a zero, which changes no sum: only the others are added)."""
    zero = _ZERO
    mult = {s: i.multiplier for s, i in result.instruments.items() if i.multiplier != 1}
    arrivals = result.arrivals
    books: dict[tuple[str, str | None], list[Decimal]] = {}  # qty, average cost, P&L of the open trip
    trips = [0, 0, 0, zero, zero]  # trades, wins, losses, gross win, sum of losses
    pairs: dict[tuple[str, str], list[Any]] = {}
    bps_sym: dict[str, list[float]] = {}  # symbol -> weighted bps sums (decision, arrival)
    bps_by: dict[str, list[float]] = {}  # strategy -> the same
    traded = commissions = zero
    count = 0
    for batch in fill_batches(result):
        n = len(batch.qty)
        if mult:
            notional = [p * q * mult[s] if s in mult else p * q for p, q, s in zip(batch.price, batch.qty, batch.symbol)]
        else:
            notional = list(map(mul, batch.price, batch.qty))
        traded += sum(notional, zero)
        commissions += sum(batch.commission, zero)
        _trips(batch, mult, books, trips)
        if full:
            arrival = list(map(arrivals.get, batch.order_id))
            syms, strats = set(batch.symbol), {x or "manual" for x in set(batch.strategy)}
            if len(syms) == 1 and len(strats) == 1 and not mult:
                _one_pair(batch, notional, arrival, pairs, bps_sym, bps_by, syms.pop(), strats.pop())
            else:
                _each_fill(batch, notional, arrival, mult, pairs, bps_sym, bps_by)
        count += n
        if each is not None:
            each(batch)
    trades, wins, losses, gross_win, loss_sum = trips
    tally = {
        "trades": trades,
        "win_rate": _win_rate(wins, losses),
        "profit_factor": float(gross_win / -loss_sum) if -loss_sum > 0 else None,
        "avg_win": (gross_win / wins) if wins else None,
        "avg_loss": (loss_sum / losses) if losses else None,
    }
    last = {s: Decimal(repr(p.last_close)) for s, p in result.prices.items()}
    return FillFigures(count, traded, commissions, tally, _pnl(pairs, 0, last, mult), _pnl(pairs, 1, last, mult),
                       _execution(pairs, 0, bps_sym), _execution(pairs, 1, bps_by))


def _trips(batch: FillBatch, mult: dict[str, Decimal], books: dict[tuple[str, str | None], list[Decimal]],
           trips: list[Any]) -> None:
    """``analytics.TripBook``/``TradeTally`` over a batch (the same operations on the same values)."""
    zero = _ZERO
    for sym, strategy, buy, qty, price, comm in zip(batch.symbol, batch.strategy, batch.buy, batch.qty, batch.price,
                                                    batch.commission):
        key = (sym, strategy)  # (round trips keep None apart from "manual")
        b = books.get(key)
        if b is None:
            b = books[key] = [zero, zero, zero]
        q = b[0]
        if q == 0:
            b[2] = zero
        b[2] -= comm
        if q == 0:  # a trip opens: at this fill's price
            b[0] = q + qty if buy else q - qty
            b[1] = price
            continue
        if (q > 0) == buy:
            new = q + qty if buy else q - qty
            b[1] = (b[1] * abs(q) + price * qty) / abs(new)
            b[0] = new
            continue
        gain = min(qty, abs(q)) * (price - b[1])
        if sym in mult:
            gain = gain * mult[sym]
        b[2] += gain if q > 0 else -gain
        new = q + qty if buy else q - qty
        b[0] = new
        if new == 0 or (new > 0) != (q > 0):
            pnl = b[2]
            trips[0] += 1
            if pnl > 0:
                trips[1] += 1
                trips[3] += pnl
            else:
                trips[2] += 1
                trips[4] += pnl
            if new != 0:  # flipped: the remainder opens a new trip at this price
                b[1], b[2] = price, zero
            else:
                b[1] = zero


def _pair(pairs: dict[tuple[str, str], list[Any]], bps_sym: dict[str, list[float]], bps_by: dict[str, list[float]],
          sym: str, strategy: str) -> list[Any]:
    pair = pairs.get((sym, strategy))
    if pair is None:  # cash flow, held, fills, then per reference: known, money, notional
        pair = pairs[(sym, strategy)] = [_ZERO, _ZERO, 0, 0, _ZERO, _ZERO, 0, _ZERO, _ZERO]
        bps_sym.setdefault(sym, [0, 0])
        bps_by.setdefault(strategy, [0, 0])
    return pair


def _one_pair(batch: FillBatch, notional: list[Decimal], arrival: list[Decimal | None], pairs: dict, bps_sym: dict,
              bps_by: dict, sym: str, strategy: str) -> None:
    """A batch of one symbol and strategy, multiplier 1: its sums in C."""
    zero = _ZERO
    pair = _pair(pairs, bps_sym, bps_by, sym, strategy)
    buy, sell = batch.buy, list(map(not_, batch.buy))
    pair[0] = pair[0] - (sum(compress(notional, buy), zero) - sum(compress(notional, sell), zero)) \
        - sum(batch.commission, zero)
    pair[1] += sum(compress(batch.qty, buy), zero) - sum(compress(batch.qty, sell), zero)
    pair[2] += len(buy)
    weights = list(map(abs, notional))
    for i, (j, refs) in enumerate(((3, batch.decision), (6, arrival))):
        if any(map(is_, refs, repeat(None))) or min(refs, default=1) <= 0:  # (``None in`` would compare each)
            _each_ref(batch, notional, refs, pair, bps_sym[sym], bps_by[strategy], i, {})
            continue
        diffs = list(map(sub, batch.price, refs))
        costs = list(map(mul, diffs, batch.qty))
        pair[j] += len(refs)
        pair[j + 1] += sum(compress(costs, buy), zero) - sum(compress(costs, sell), zero)
        pair[j + 2] += sum(weights, zero)
        by_sym, by_strategy = bps_sym[sym], bps_by[strategy]
        for d, ref, w, b in compress(zip(diffs, refs, weights, buy), diffs):  # (the fills away from the reference)
            v = float(d / ref * (1 if b else -1) * 10_000) * float(w)
            by_sym[i] += v
            by_strategy[i] += v


def _each_ref(batch: FillBatch, notional: list[Decimal], refs: list[Decimal | None], pair: list[Any],
              by_sym: list[float], by_strategy: list[float], i: int, mult: dict[str, Decimal]) -> None:
    j = 3 if i == 0 else 6
    for sym, price, qty, buy, ref, w in zip(batch.symbol, batch.price, batch.qty, batch.buy, refs, notional):
        money, bps = _cost(price, ref, qty, mult.get(sym), 1 if buy else -1)
        if money is None:
            continue
        weight = w if w >= 0 else -w
        pair[j] += 1
        pair[j + 1] += money
        pair[j + 2] += weight
        if bps:
            x = bps * float(weight)
            by_sym[i] += x
            by_strategy[i] += x


def _each_fill(batch: FillBatch, notional: list[Decimal], arrival: list[Decimal | None], mult: dict[str, Decimal],
               pairs: dict, bps_sym: dict, bps_by: dict) -> None:
    """A batch of several symbols or strategies (or multipliers): fill by fill."""
    for idx, (sym, strategy, buy, comm) in enumerate(zip(batch.symbol, batch.strategy, batch.buy, batch.commission)):
        strategy = strategy or "manual"
        pair = _pair(pairs, bps_sym, bps_by, sym, strategy)
        w = notional[idx]
        pair[0] = pair[0] - (w if buy else -w) - comm  # (signed * price * multiplier: the same value)
        pair[1] += batch.qty[idx] if buy else -batch.qty[idx]
        pair[2] += 1
        one = FillBatch([0.0], [sym], [buy], [batch.qty[idx]], [batch.price[idx]], [comm], [strategy],
                        [batch.order_id[idx]], [batch.decision[idx]])
        for i, refs in enumerate(([batch.decision[idx]], [arrival[idx]])):
            _each_ref(one, [w], refs, pair, bps_sym[sym], bps_by[strategy], i, mult)


def _win_rate(wins: int, losses: int) -> float | None:
    from workstation.research.analytics import win_rate

    return win_rate(wins, losses)


def _pnl(pairs: dict[tuple[str, str], list[Any]], by: int, last: dict[str, Decimal],
         mult: dict[str, Decimal | None]) -> dict[str, Decimal]:
    """Net P&L per symbol (``by`` 0) or strategy (1): the pairs' cash flows, and what they hold at the last close."""
    flows: dict[str, Decimal] = {}
    held: dict[tuple[str, str], Decimal] = {}
    for pair, (flow, qty, *_) in pairs.items():
        name = pair[by]
        flows[name] = flows.get(name, _ZERO) + flow
        held[(name, pair[0])] = held.get((name, pair[0]), _ZERO) + qty
    for (name, sym), q in held.items():
        if q:
            k = mult.get(sym)
            flows[name] += q * last.get(sym, _ZERO) * (Decimal(1) if k is None else k)
    return flows


def _execution(pairs: dict[tuple[str, str], list[Any]], by: int, bps: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    """``analytics.execution_summary`` by symbol (``by`` 0) or strategy (1), from the pairs' sums."""
    groups: dict[str, list[Any]] = {}
    for pair, tally in pairs.items():
        g = groups.get(pair[by])
        if g is None:
            groups[pair[by]] = list(tally[2:])
        else:
            for i, v in enumerate(tally[2:]):
                g[i] += v
    out: dict[str, dict[str, Any]] = {}
    for name, (fills, d_known, d_money, d_notional, a_known, a_money, a_notional) in sorted(groups.items()):
        out[name] = {
            "fills": fills,
            "vs_decision": d_money if d_known else None,
            "vs_decision_bps": bps[name][0] / float(d_notional) if d_known and d_notional else None,
            "vs_arrival": a_money if a_known else None,
            "vs_arrival_bps": bps[name][1] / float(a_notional) if a_known and a_notional else None,
        }
    return out


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
    ("pattern day trader", "pdt_check"), ("gross leverage", "max_gross_leverage"),
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
    """P&L by symbol, by strategy, and by day, week and month (``periods``: each of the
    three sums exactly to the run's P&L)."""
    from workstation.research.periods import pnl_by_periods

    f = folded if folded is not None else fold(result)
    by_period = pnl_by_periods(result.curve.days, result.curve.day_equity, result.initial_cash, result.final_equity)
    return {"symbol": f.by_symbol, "strategy": f.by_strategy, **by_period}


def execution(result: BacktestResult, folded: FillFigures | None = None) -> dict[str, Any]:
    """Execution quality aggregated by symbol and by strategy (``analytics.execution_quality``
    gives it per fill, for callers that hold the fills)."""
    f = folded if folded is not None else fold(result)
    return {"by_symbol": f.execution_by_symbol, "by_strategy": f.execution_by_strategy}


def costs(result: BacktestResult, folded: FillFigures | None = None) -> dict[str, Any]:
    """The run's trading costs split into commission, spread and impact (Decimal money; the
    spread and impact are the fill model's, zero under ``next_open``), their total, and what the
    model could not model (``no_volume_bars``, ``outside_session_bars``, ``impact_unestimated``)."""
    commission = (folded if folded is not None else fold(result)).commissions
    mc = result.model_costs
    spread = Decimal(mc.get("spread", "0"))
    impact = Decimal(mc.get("impact", "0"))
    out: dict[str, Any] = {
        "model": result.fill_model.get("name", "next_open"), "commission": commission, "spread": spread,
        "impact": impact, "total": commission + spread + impact,
    }
    out.update({k: v for k, v in mc.items() if k not in ("spread", "impact")})
    return out
