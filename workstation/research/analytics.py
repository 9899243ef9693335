"""Performance metrics on an equity curve or a returns series (floats: analytics, not money).

Conventions (those of empyrical, so figures compare with the wider Python ecosystem):
simple returns; ``max_drawdown`` is the worst peak-to-trough fall as a non-positive
fraction (``-0.12`` is a 12% drawdown); ``sharpe`` is the mean excess return over its sample
standard deviation (ddof 1), annualized by ``sqrt(periods_per_year)``, and 0 when the
returns do not vary.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np

SECONDS_PER_YEAR = 365.25 * 86_400
TRADING_DAYS = 252


def returns(equity: Sequence[float] | np.ndarray) -> np.ndarray:
    """Simple returns between consecutive equity values."""
    e = np.asarray(equity, dtype=np.float64)
    if len(e) < 2:
        return np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = e[1:] / e[:-1] - 1.0
    return np.where(np.isfinite(r), r, 0.0)


def max_drawdown(equity: Sequence[float] | np.ndarray) -> float:
    """Worst fall from a running peak, as a non-positive fraction of that peak."""
    e = np.asarray(equity, dtype=np.float64)
    if len(e) == 0:
        return 0.0
    peaks = np.maximum.accumulate(e)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peaks > 0, e / peaks - 1.0, 0.0)
    return float(min(0.0, dd.min()))


def sharpe(rets: Sequence[float] | np.ndarray, periods_per_year: float = TRADING_DAYS, risk_free: float = 0.0) -> float:
    """Annualized Sharpe ratio of per-period returns (0 when there is no variation)."""
    r = np.asarray(rets, dtype=np.float64) - risk_free
    if len(r) < 2:
        return 0.0
    sd = r.std(ddof=1)
    if not sd > 0 or not math.isfinite(sd):
        return 0.0
    return float(r.mean() / sd * math.sqrt(periods_per_year))


def periods_per_year(interval_seconds: float) -> float:
    """How many samples of ``interval_seconds`` make a (calendar) year."""
    return SECONDS_PER_YEAR / interval_seconds


RATIO_PERIOD_S = 60.0
"""A realtime session's ratios are computed on returns over this period (one minute)."""

RATIO_MIN_RETURNS = 30
"""Fewer returns than this and a ratio means nothing: it is not given (None, shown as ``—``).
With one-minute returns, a session needs 30 minutes for a Sharpe ratio."""


def periodic_returns(samples: Sequence[tuple[float, float]], period: float) -> np.ndarray:
    """Returns of an equity series sampled at irregular times ``(ts, equity)``, taken over
    whole ``period`` seconds from the first sample (the last value at or before each step)."""
    if len(samples) < 2 or period <= 0:
        return np.zeros(0)
    ts = np.asarray([t for t, _ in samples], dtype=np.float64)
    eq = np.asarray([e for _, e in samples], dtype=np.float64)
    steps = np.arange(ts[0], ts[-1] + 1e-9, period)
    if len(steps) < 2:
        return np.zeros(0)
    at = np.searchsorted(ts, steps, side="right") - 1
    return returns(eq[at])


def session_ratios(samples: Sequence[tuple[float, float]], period: float = RATIO_PERIOD_S,
                   minimum: int = RATIO_MIN_RETURNS) -> dict[str, Any]:
    """Sharpe and Sortino of a live session, honestly: on returns over ``period`` seconds,
    annualized over calendar time (the paper market trades around the clock), and None
    when there are fewer than ``minimum`` returns. Also says what they rest on."""
    r = periodic_returns(samples, period)
    ppy = periods_per_year(period)
    enough = len(r) >= minimum
    return {
        "sharpe": round(sharpe(r, ppy), 4) if enough else None,
        "sortino": round(sortino(r, ppy), 4) if enough else None,
        "ratio_returns": len(r),
        "sharpe_basis": (f"{len(r)} returns over {period:g}s, annualized over calendar time"
                         + ("" if enough else f"; fewer than {minimum}: too few for a ratio")),
    }


def win_rate(wins: int, losses: int) -> float | None:
    """Share of closed round trips that made money (None before the first one closes)."""
    total = wins + losses
    return wins / total if total else None


# --------------------------------------------------------------------------- more return metrics


def total_return(equity: Sequence[float] | np.ndarray) -> float:
    """Last over first value, minus one."""
    e = np.asarray(equity, dtype=np.float64)
    return float(e[-1] / e[0] - 1.0) if len(e) >= 2 and e[0] > 0 else 0.0


def annual_return(rets: Sequence[float] | np.ndarray, periods_per_year: float = TRADING_DAYS) -> float:
    """Compound annual growth rate of per-period returns."""
    r = np.asarray(rets, dtype=np.float64)
    if len(r) < 1:
        return 0.0
    growth = float(np.prod(1.0 + r))
    if growth <= 0:
        return -1.0
    return growth ** (periods_per_year / len(r)) - 1.0


def annual_volatility(rets: Sequence[float] | np.ndarray, periods_per_year: float = TRADING_DAYS) -> float:
    r = np.asarray(rets, dtype=np.float64)
    if len(r) < 2:
        return 0.0
    return float(r.std(ddof=1) * math.sqrt(periods_per_year))


def downside_risk(rets: Sequence[float] | np.ndarray, periods_per_year: float = TRADING_DAYS) -> float:
    """Root mean square of the negative returns, annualized."""
    r = np.asarray(rets, dtype=np.float64)
    if len(r) < 1:
        return 0.0
    return float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) * math.sqrt(periods_per_year))


def sortino(rets: Sequence[float] | np.ndarray, periods_per_year: float = TRADING_DAYS) -> float:
    """Annualized mean return over annualized downside risk (0 without a losing period)."""
    r = np.asarray(rets, dtype=np.float64)
    if len(r) < 2:
        return 0.0
    dr = downside_risk(r, periods_per_year)
    return float(r.mean() * periods_per_year / dr) if dr > 0 else 0.0


def calmar(rets: Sequence[float] | np.ndarray, periods_per_year: float = TRADING_DAYS) -> float:
    """Annual return over the worst drawdown of the compounded returns (0 without one)."""
    r = np.asarray(rets, dtype=np.float64)
    dd = max_drawdown(np.cumprod(1.0 + r)) if len(r) else 0.0
    return annual_return(r, periods_per_year) / abs(dd) if dd < 0 else 0.0


def drawdown(equity: Sequence[float] | np.ndarray) -> np.ndarray:
    """The fall from the running peak at each point, as a non-positive fraction."""
    e = np.asarray(equity, dtype=np.float64)
    peaks = np.maximum.accumulate(e) if len(e) else e
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peaks > 0, e / peaks - 1.0, 0.0)


def drawdown_duration(ts: Sequence[float] | np.ndarray, equity: Sequence[float] | np.ndarray) -> float:
    """The longest time (seconds) spent below a previous peak, up to recovery or the end."""
    t = np.asarray(ts, dtype=np.float64)
    e = np.asarray(equity, dtype=np.float64)
    if len(e) < 2:
        return 0.0
    at_peak = e >= np.maximum.accumulate(e)
    peak_times = np.where(at_peak, t, -np.inf)
    last_peak = np.maximum.accumulate(peak_times)
    return float(np.max(t - last_peak))


def value_at_risk(rets: Sequence[float] | np.ndarray, cutoff: float = 0.05) -> float:
    """Historical VaR: the ``cutoff`` quantile of returns (a loss is negative)."""
    r = np.asarray(rets, dtype=np.float64)
    return float(np.percentile(r, 100 * cutoff)) if len(r) else 0.0


def conditional_value_at_risk(rets: Sequence[float] | np.ndarray, cutoff: float = 0.05) -> float:
    """Historical CVaR (expected shortfall): the mean of the returns at or below the VaR cut."""
    r = np.asarray(rets, dtype=np.float64)
    if not len(r):
        return 0.0
    k = int((len(r) - 1) * cutoff)
    return float(np.mean(np.partition(r, k)[: k + 1]))


def alpha_beta(
    rets: Sequence[float] | np.ndarray, benchmark: Sequence[float] | np.ndarray, periods_per_year: float = TRADING_DAYS
) -> tuple[float, float]:
    """Annualized alpha and beta of returns against a benchmark's returns (same periods)."""
    r = np.asarray(rets, dtype=np.float64)
    b = np.asarray(benchmark, dtype=np.float64)
    if len(r) < 2 or len(b) != len(r):
        return 0.0, 0.0
    resid = b - b.mean()
    var = float(np.mean(resid**2))
    if not var > 0:
        return 0.0, 0.0
    beta = float(np.mean(resid * r) / var)
    alpha = float((np.mean(r - beta * b) + 1.0) ** periods_per_year - 1.0)
    return alpha, beta


# --------------------------------------------------------------------------- sampling


def local_days(ts: Sequence[float] | np.ndarray, tz: str = "America/New_York") -> np.ndarray:
    """The calendar day in ``tz`` (days since 1970-01-01) of each epoch second."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    t = np.asarray(ts, dtype=np.float64)
    utc_day = np.floor(t / 86_400).astype(np.int64)
    uniq, inv = np.unique(utc_day, return_inverse=True)
    offsets = np.array([
        datetime.fromtimestamp(float(d) * 86_400 + 43_200, zone).utcoffset().total_seconds()  # type: ignore[union-attr]
        for d in uniq.tolist()
    ])
    return np.floor((t + offsets[inv]) / 86_400).astype(np.int64)


def daily(ts: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray, tz: str = "America/New_York") -> tuple[list[date], np.ndarray]:
    """The last value of each calendar day (in ``tz``): a daily series from any sampling."""
    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        return [], np.zeros(0)
    local = local_days(ts, tz)
    last = np.flatnonzero(np.append(local[1:] != local[:-1], True))
    return [date.fromordinal(int(d) + 719_163) for d in local[last].tolist()], v[last]


def periods_per_year_of(days: Sequence[date]) -> float:
    """252 for data that skips weekends (exchange trading days), 365 for every-day data."""
    return 365.0 if any(d.weekday() >= 5 for d in days) else float(TRADING_DAYS)


# --------------------------------------------------------------------------- trades


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """A position from flat back to flat in one symbol (commissions included in ``pnl``)."""

    symbol: str
    strategy: str | None
    opened: float
    closed: float
    side: str  # "long" or "short"
    qty: Decimal  # the largest size held
    pnl: Decimal


class TripBook:
    """Round trips (average cost) per symbol and strategy, folded fill by fill: ``add``
    returns the trip a fill closes (at most one), else None."""

    def __init__(self, multiplier: Callable[[str], Decimal] = lambda s: Decimal(1)) -> None:
        self._books: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._multiplier = multiplier

    def add(self, f: Any) -> RoundTrip | None:
        key = (f.symbol, f.strategy)
        b = self._books.get(key)
        if b is None:
            b = self._books[key] = {"qty": Decimal(0), "avg": Decimal(0), "pnl": Decimal(0), "opened": f.ts, "max": Decimal(0)}
        q = b["qty"]
        signed = f.qty if f.side.value == "buy" else -f.qty
        if q == 0:
            b.update(opened=f.ts, pnl=Decimal(0), max=Decimal(0), side="long" if signed > 0 else "short")
        b["pnl"] -= f.commission
        trip = None
        if q == 0 or (q > 0) == (signed > 0):
            new = q + signed
            b["avg"] = (b["avg"] * abs(q) + f.price * abs(signed)) / abs(new)
            b["qty"] = new
        else:
            closing = min(abs(signed), abs(q))
            b["pnl"] += closing * (f.price - b["avg"]) * self._multiplier(f.symbol) * (1 if q > 0 else -1)
            new = q + signed
            b["qty"] = new
            if new == 0 or (new > 0) != (q > 0):
                trip = RoundTrip(f.symbol, f.strategy, b["opened"], f.ts, b["side"], max(b["max"], abs(q)), b["pnl"])
                if new != 0:  # flipped: the remainder opens a new trip at this price
                    b.update(avg=f.price, opened=f.ts, pnl=Decimal(0), max=Decimal(0), side="long" if new > 0 else "short")
                else:
                    b["avg"] = Decimal(0)
        b["max"] = max(b["max"], abs(b["qty"]))
        return trip


def round_trips(fills: Iterable[Any], multiplier: Callable[[str], Decimal] = lambda s: Decimal(1)) -> list[RoundTrip]:
    """Closed round trips from fills (average cost), per symbol and strategy."""
    book = TripBook(multiplier)
    return [t for t in map(book.add, fills) if t is not None]


class TradeTally:
    """``trade_stats`` folded trip by trip (the same sums, in the same order)."""

    def __init__(self) -> None:
        self.trades = self._wins = self._losses = 0
        self._gross_win = Decimal(0)
        self._loss_sum = Decimal(0)

    def add(self, trip: RoundTrip) -> None:
        self.trades += 1
        if trip.pnl > 0:
            self._wins += 1
            self._gross_win += trip.pnl
        else:
            self._losses += 1
            self._loss_sum += trip.pnl

    def result(self) -> dict[str, Any]:
        gross_win, gross_loss = self._gross_win, -self._loss_sum
        return {
            "trades": self.trades,
            "win_rate": win_rate(self._wins, self._losses),
            "profit_factor": float(gross_win / gross_loss) if gross_loss > 0 else None,
            "avg_win": (gross_win / self._wins) if self._wins else None,
            "avg_loss": (-gross_loss / self._losses) if self._losses else None,
        }


def trade_stats(trips: Iterable[RoundTrip]) -> dict[str, Any]:
    """Count, win rate, profit factor, average win and loss of closed round trips."""
    tally = TradeTally()
    for t in trips:
        tally.add(t)
    return tally.result()


# --------------------------------------------------------------------------- attribution


class PnlTally:
    """``pnl_by`` folded fill by fill: cash flows and holdings per group."""

    def __init__(self, multiplier: Callable[[str], Decimal] = lambda s: Decimal(1)) -> None:
        self._flows: dict[str, Decimal] = {}
        self._held: dict[tuple[str, str], Decimal] = {}
        self._multiplier = multiplier

    def add(self, k: str, f: Any, signed: Decimal | None = None, mult: Decimal | None = None) -> None:
        """One fill in group ``k`` (``signed``/``mult``: its signed quantity and multiplier, when known)."""
        if signed is None:
            signed = f.qty if f.side.value == "buy" else -f.qty
        if mult is None:
            mult = self._multiplier(f.symbol)
        flows = self._flows
        flows[k] = flows.get(k, Decimal(0)) - signed * f.price * mult - f.commission
        held = self._held
        held[(k, f.symbol)] = held.get((k, f.symbol), Decimal(0)) + signed

    def result(self, last: Mapping[str, Decimal]) -> dict[str, Decimal]:
        flows = dict(self._flows)
        for (k, sym), q in self._held.items():
            if q:
                flows[k] += q * last.get(sym, Decimal(0)) * self._multiplier(sym)
        return flows


def pnl_by(fills: Iterable[Any], key: Callable[[Any], str], last: Mapping[str, Decimal],
           multiplier: Callable[[str], Decimal] = lambda s: Decimal(1)) -> dict[str, Decimal]:
    """Net P&L (realized + unrealized at ``last`` - commissions) grouped by ``key(fill)``."""
    tally = PnlTally(multiplier)
    for f in fills:
        tally.add(key(f), f)
    return tally.result(last)


def pnl_by_period(days: Sequence[date], equity: Sequence[float] | np.ndarray, start_value: float, period: str) -> dict[str, float]:
    """Equity change per ``day`` (2024-03-05), ISO ``week`` (2024-W10) or ``month`` (2024-03)."""
    out: dict[str, float] = {}
    prev = start_value
    for d, v in zip(days, np.asarray(equity, dtype=np.float64).tolist(), strict=True):
        if period == "day":
            label = d.isoformat()
        elif period == "week":
            y, w, _ = d.isocalendar()
            label = f"{y}-W{w:02d}"
        elif period == "month":
            label = f"{d.year}-{d.month:02d}"
        else:
            raise ValueError(f"period must be day, week or month, got {period!r}")
        out[label] = out.get(label, 0.0) + (v - prev)
        prev = v
    return out


def monthly_returns(days: Sequence[date], equity: Sequence[float] | np.ndarray, start_value: float) -> dict[str, float]:
    """Compounded return per month (``2024-03``), for the heatmap."""
    out: dict[str, float] = {}
    prev = start_value
    month_start: dict[str, float] = {}
    for d, v in zip(days, np.asarray(equity, dtype=np.float64).tolist(), strict=True):
        label = f"{d.year}-{d.month:02d}"
        month_start.setdefault(label, prev)
        out[label] = v / month_start[label] - 1.0 if month_start[label] else 0.0
        prev = v
    return out


# --------------------------------------------------------------------------- execution quality


@dataclass(frozen=True, slots=True)
class FillQuality:
    """One fill against its order's decision price and arrival price (cost > 0 is worse).

    Money (``vs_decision``, ``vs_arrival``, ``notional``) is per whole contract (times the
    multiplier: an option's 0.10 is $10 a contract) and in ``currency``: the base currency when
    a rate was known, else the instrument's own quote currency (``None``: unconverted, as the
    caller gave no currencies)."""

    order_id: str
    symbol: str
    strategy: str | None
    side: str
    qty: Decimal
    price: Decimal
    decision: Decimal | None
    arrival: Decimal | None
    vs_decision: Decimal | None  # money: (price - decision) * qty * multiplier, signed against the trader
    vs_decision_bps: float | None
    vs_arrival: Decimal | None
    vs_arrival_bps: float | None
    currency: str | None = None
    notional: Decimal | None = None  # price * qty * multiplier, in ``currency``


def _cost(side: str, price: Decimal, ref: Decimal | None, qty: Decimal, mult: Decimal) -> tuple[Decimal | None, float | None]:
    if ref is None or ref <= 0:
        return None, None
    sign = 1 if side == "buy" else -1
    return (price - ref) * qty * mult * sign, float((price - ref) / ref * sign * 10_000)


def fill_rates(fills: Sequence[Any], base: str) -> Callable[[str, Any], Decimal | None]:
    """Units of ``base`` per unit of a currency, at a fill, from the FX fills among ``fills``
    (pairs named ``C/base`` or ``base/C``): the newest one at or before that fill, else the
    first after it. A USD/JPY fill values its own yen at its own price."""
    seen: dict[str, list[tuple[float, Decimal]]] = {}
    for f in fills:
        left, sep, right = str(f.symbol).partition("/")
        if not sep or f.price <= 0:
            continue
        if right == base:
            seen.setdefault(left, []).append((float(f.ts), f.price))
        elif left == base:
            seen.setdefault(right, []).append((float(f.ts), Decimal(1) / f.price))
    for points in seen.values():
        points.sort(key=lambda p: p[0])

    def rate(currency: str, fill: Any) -> Decimal | None:
        if currency == base:
            return Decimal(1)
        left, sep, right = str(fill.symbol).partition("/")
        if sep and left == base and right == currency and fill.price > 0:
            return Decimal(1) / fill.price
        points = seen.get(currency)
        if not points:
            return None
        before = [p for p in points if p[0] <= float(fill.ts)]
        return (before[-1] if before else points[0])[1]

    return rate


def execution_quality(
    fills: Iterable[Any], orders: Mapping[str, Any], arrivals: Mapping[str, Decimal] | None = None,
    multiplier: Callable[[str], Decimal] = lambda s: Decimal(1), *,
    currency: Callable[[str], str] | None = None, base: str = "USD",
) -> list[FillQuality]:
    """Slippage of each fill against its order's decision price (``Order.decision_price``, the
    quote when it was created) and its arrival price (the first market price it met at the
    broker, where known). Works on any session's fills and orders (backtest, paper, live).

    Money is per contract (``multiplier``). With ``currency`` (a symbol's quote currency) it is
    converted to ``base`` at the rate the fills themselves show (``fill_rates``); a fill whose
    currency has no rate stays in that currency, and says so."""
    arrivals = arrivals or {}
    fills = list(fills)
    rate = fill_rates(fills, base) if currency is not None else None
    out = []
    for f in fills:
        order = orders.get(f.order_id)
        q = fill_quality(f, getattr(order, "decision_price", None), arrivals.get(f.order_id), multiplier(f.symbol))
        if currency is not None and rate is not None:
            ccy = currency(f.symbol)
            r = rate(ccy, f)
            if r is None:
                q = replace(q, currency=ccy)
            else:
                q = replace(q, currency=base, **{k: None if v is None else v * r for k, v in
                                                 (("vs_decision", q.vs_decision), ("vs_arrival", q.vs_arrival),
                                                  ("notional", q.notional))})
        out.append(q)
    return out


def fill_quality(f: Any, decision: Decimal | None, arrival: Decimal | None, mult: Decimal) -> FillQuality:
    """One fill against its order's decision and arrival prices, in its own currency."""
    side = f.side.value
    d_cost, d_bps = _cost(side, f.price, decision, f.qty, mult)
    a_cost, a_bps = _cost(side, f.price, arrival, f.qty, mult)
    return FillQuality(f.order_id, f.symbol, f.strategy, side, f.qty, f.price, decision, arrival,
                       d_cost, d_bps, a_cost, a_bps, None, f.price * f.qty * mult)


class ExecutionTally:
    """``execution_summary`` folded row by row: per group, its fill count and currencies, and
    per reference the known rows' money (in total and per currency), notional and
    notional-weighted bps, summed in the rows' order (the same sums as over the whole list)."""

    def __init__(self, by: str) -> None:
        self.by = by
        self._groups: dict[str, list[Any]] = {}

    def add(self, r: FillQuality) -> None:
        k = str(getattr(r, self.by) or "manual")
        g = self._groups.get(k)
        if g is None:  # [fills, currencies, {ref: [known, money, money by currency, notional, weighted bps]}]
            g = self._groups[k] = [0, set(), {ref: [0, Decimal(0), {}, Decimal(0), 0] for ref in ("decision", "arrival")}]
        g[0] += 1
        if r.currency is not None:
            g[1].add(r.currency)
        for ref, money, bps in (("decision", r.vs_decision, r.vs_decision_bps), ("arrival", r.vs_arrival, r.vs_arrival_bps)):
            if money is None:
                continue
            t = g[2][ref]
            w = _weight(r)
            t[0] += 1
            t[1] += money
            t[2][str(r.currency)] = t[2].get(str(r.currency), Decimal(0)) + money
            t[3] += w
            t[4] += bps * float(w)

    def result(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for k, (fills, seen, refs) in sorted(self._groups.items()):
            currencies = sorted(seen)
            entry: dict[str, Any] = {"fills": fills}
            if currencies:
                entry["currency"] = currencies[0] if len(currencies) == 1 else None
            for ref in ("decision", "arrival"):
                known, money_total, per, notional, weighted = refs[ref]
                entry[f"vs_{ref}"] = money_total if known and len(currencies) <= 1 else None
                if len(currencies) > 1:
                    entry[f"vs_{ref}_by_currency"] = dict(per)
                entry[f"vs_{ref}_bps"] = weighted / float(notional) if known and notional else None
            out[k] = entry
        return out


def execution_summary(rows: Iterable[FillQuality], by: str) -> dict[str, dict[str, Any]]:
    """Slippage totals (money) and notional-weighted averages (bps), by ``symbol`` or ``strategy``.

    ``currency`` names the money's currency; a group whose fills are in several currencies
    (some had no rate to the base) gives its money totals per currency
    (``vs_decision_by_currency``) and ``None`` as the single total."""
    tally = ExecutionTally(by)
    for r in rows:
        tally.add(r)
    return tally.result()


def _weight(r: FillQuality) -> Decimal:
    """A fill's weight in an average of bps: its notional (in the base currency when converted)."""
    return abs(r.notional) if r.notional is not None else r.price * r.qty
