"""Limits on the portfolio's VaR and its worst stress loss: a pre-trade check and post-trade monitors.

The limits (``RiskLimits``, all None = off): ``max_var`` / ``max_var_pct`` bound the book's
1-day 99% VaR (by ``var_method``: historical, parametric or full revaluation of options), in
money or as % of equity; ``max_stress_loss`` / ``max_stress_loss_pct`` bound the worst loss
across the shipped and the user's stress scenarios (``workstation.risk.stress``).

``VarLimits`` holds the last measurement (``VarState``), which the session refreshes in the
background while any of these limits is set (after fills, after a limit changes and every
minute; nothing is measured otherwise): the ``PortfolioRisk`` from ``load_portfolio_risk`` on
the session's ``ReturnCache``, the ``IncrementalVar`` of it, the VaR by the chosen method and
the worst scenario.

* **Pre-trade** (``__call__``, registered with ``OrderManager.add_check``): the order's change
  of exposure per factor, in the base currency (an equity qty x price, a future qty x
  multiplier x price, an option its delta-equivalent on its underlying, a combo its legs
  summed) gives the VaR after the trade from the cached returns (``IncrementalVar.after``: the
  historical figure, or the parametric one when that is the method). Under ``var_method =
  "full"`` the check is full revaluation too: the measurement keeps the book's per-day P&L with
  options repriced, and the order adds its own per-day P&L (a linear leg its exposure x its
  factor's returns; an option leg repriced by Black-Scholes-Merton on each day's underlying
  move at its IV, one day closer to expiry, vectorized), then the percentile is taken; the
  refusal says "full-revaluation VaR". An order that would leave the VaR
  beyond the limit *and higher than now* is refused with one line; one that lowers it passes.
  An order on a factor the model has not measured (a symbol never held: its daily history is
  asked for at once) is refused while the limit is set, saying so; try again a moment later.
  The kill switch and protective exits that reduce pass unchecked. Cost with no VaR limit:
  one identity test of the limits object.
* **Post-trade** (``evaluate``): a VaR or stress loss beyond its limit trips the circuit
  breaker with one line; at ``near_pct`` of a limit a warning alert is raised once.
* ``rows``: a Risk pane row for each limit that is set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np

from workstation.core.bus import Bus
from workstation.core.clock import Clock
from workstation.core.limits import LimitStore, RiskLimits
from workstation.core.model import ZERO, AlertRaised, AssetClass, Instrument, Order, Right, plain
from workstation.risk.checks import ALLOWED, HUNDRED, KILL_SOURCE, OrderContext, RiskRow, Verdict, fmt_money, fmt_pct, row
from workstation.risk.greek_limits import order_legs
from workstation.risk.incremental import IncrementalVar
from workstation.risk.portfolio_model import History, ReturnCache, _measure, foreign_factor
from workstation.risk.returns import DAY, LOOKBACK, PortfolioRisk
from workstation.risk.stress import StressResult
from workstation.risk.var import MIN_DAYS, historical_var
from workstation.trading.greeks import GreekBook
from workstation.trading.portfolio import Portfolio

__all__ = ["NAMES", "VarLimits", "VarState", "watching", "with_factors"]

CONFIDENCE = 0.99
VAR_NAMES = ("max_var", "max_var_pct")
STRESS_NAMES = ("max_stress_loss", "max_stress_loss_pct")
NAMES = (*VAR_NAMES, *STRESS_NAMES)
_CENT = Decimal("0.01")


def watching(lim: RiskLimits) -> bool:
    """Whether any VaR or stress-loss limit is set (else nothing is measured)."""
    return any(getattr(lim, n) is not None for n in NAMES)


def _money(x: float) -> Decimal:
    return Decimal(repr(round(x, 2))).quantize(_CENT)


@dataclass(frozen=True, slots=True)
class VarState:
    """One measurement: the model's inputs, their incremental VaR, the VaR by ``method`` (None:
    too little history to say), and the worst stress scenario's loss (0: none loses)."""

    inputs: PortfolioRisk
    incremental: IncrementalVar | None
    method: str
    var: float | None
    stress_loss: Decimal
    stress_scenario: str
    equity: Decimal


async def with_factors(inputs: PortfolioRisk, wanted: Sequence[str], history: History, now: float, *,
                       cache: ReturnCache | None = None, lookback: int = LOOKBACK) -> PortfolioRisk:
    """``inputs`` with the returns of ``wanted`` factors measured too (no exposure to them): what
    the pre-trade check needs to price an order in a symbol not held yet."""
    have = set(inputs.returns.symbols)
    extra = [f for f in wanted if f not in have]
    if not extra:
        return inputs
    factors = sorted(have | set(extra))
    key = (tuple(factors), inputs.benchmark_symbol, lookback, inputs.decay, int(now // DAY))
    hit = cache.get(key) if cache is not None else None
    if hit is None:
        hit = await _measure(history, factors, [], inputs.benchmark_symbol, lookback, inputs.decay, now)
        if cache is not None:
            cache.put(key, hit)
            cache.misses += 1
    measured = set(hit.returns.symbols)
    if not have <= measured:  # a held factor lost to alignment: keep what the holdings had
        return inputs
    return replace(inputs, returns=hit.returns, benchmark=hit.benchmark, cov=hit.cov)


class VarLimits:
    """The VaR pre-trade check (call it with an ``OrderContext``), the monitors and the rows."""

    def __init__(self, *, store: LimitStore, greeks: GreekBook, portfolio: Portfolio, bus: Bus, clock: Clock,
                 trip: Callable[[str], object]) -> None:
        self.store = store
        self.greeks = greeks
        self.portfolio = portfolio
        self.bus = bus
        self.clock = clock
        self.trip = trip
        self.state: VarState | None = None
        self.wanted: set[str] = set()  # factors orders named that the model has not measured
        self.on_wanted: Callable[[], object] = lambda: None  # the session: measure again now
        self._seen: RiskLimits | None = None
        self._any = False
        self._warned: set[str] = set()
        self._before: tuple[IncrementalVar, str, float] | None = None  # today's VaR the orders compare with

    # -- whether to measure at all
    def active(self) -> bool:
        store = self.store
        return watching(store.limits) or any(watching(store.limits_for(s)) for s in store.strategies())

    # -- a measurement
    def update(self, inputs: PortfolioRisk, stress: Sequence[StressResult]) -> VarState:
        method = self.store.limits.var_method
        days = len(inputs.returns.days)
        if not inputs.positions:
            inc = IncrementalVar.of(inputs, full=method == "full") if days >= MIN_DAYS else None
            var: float | None = 0.0
        elif days < MIN_DAYS:
            inc, var = None, None
        else:
            inc = IncrementalVar.of(inputs, full=method == "full")
            var = inc.now(method, CONFIDENCE)
        worst = min(stress, key=lambda r: r.pnl, default=None)
        loss = max(ZERO, -worst.pnl).quantize(_CENT) if worst is not None else ZERO
        if inc is not None:
            self.wanted -= set(inc.factors)
        self.state = VarState(
            inputs=inputs, incremental=inc, method=method, var=var, stress_loss=loss,
            stress_scenario=worst.scenario if worst is not None and loss > 0 else "", equity=self.portfolio.equity(),
        )
        return self.state

    # -- pre-trade
    def __call__(self, ctx: OrderContext) -> Verdict:
        order = ctx.order
        lim = self.store.limits_for(order.strategy)
        if lim is not self._seen:  # limits change rarely: whether a VaR limit is set, once per change
            self._seen, self._any = lim, lim.max_var is not None or lim.max_var_pct is not None
        if not self._any:
            return ALLOWED
        if (order.source == KILL_SOURCE or ctx.protective) and ctx.reducing:
            return ALLOWED
        found = self.refusal(order, lim, ctx.price, ctx.instrument)
        if found is None:
            return ALLOWED
        return Verdict(False, found[1], found[0])

    def var_limit(self, lim: RiskLimits) -> tuple[str, Decimal] | None:
        """(limit name, money) of the tighter of max_var and max_var_pct of equity."""
        found = []
        if lim.max_var is not None:
            found.append((lim.max_var, "max_var"))
        if lim.max_var_pct is not None:
            found.append((self.portfolio.equity() * lim.max_var_pct / HUNDRED, "max_var_pct"))
        if not found:
            return None
        money, name = min(found)
        return name, money

    def _limit_words(self, name: str, money: Decimal, lim: RiskLimits) -> str:
        if name == "max_var_pct":
            return f"max_var_pct {plain(lim.max_var_pct)}% of equity ({fmt_money(money.quantize(_CENT))})"
        return f"max_var {fmt_money(money)}"

    def change(self, order: Order, price: Decimal | None, inst: Instrument | None = None,
               options: list[tuple[str, float, Instrument, object]] | None = None) -> dict[str, float] | str:
        """The order's change of exposure per factor (base currency), or the symbol it cannot price.
        With ``options`` (a list to fill), an option leg is put there, (factor, units in the base
        currency, instrument, its ``GreekBook`` units), for full revaluation, and counts 0 in the map."""
        out: dict[str, float] = {}
        for symbol, qty in order_legs(order):
            i = inst if inst is not None and not order.legs and inst.symbol == symbol else self.greeks.instrument(symbol)
            rate = self.portfolio.to_base(Decimal(1), i.currency)
            if i.asset_class is AssetClass.OPTION:
                p = {symbol: float(price)} if price is not None and price > 0 and not order.legs else {}
                u = self.greeks.units([symbol], p).get(symbol)
                if u is None or not u.known or not i.underlying:
                    return symbol
                d = float(qty * i.multiplier * rate) * float(u.delta or 0.0) * float(u.spot or 0.0)
                factor = i.underlying
                if options is not None:
                    if u.iv is None or i.strike is None or i.expiry is None or not u.spot:
                        return symbol
                    options.append((factor, float(qty * i.multiplier * rate), i, u))
                    d = 0.0
            else:
                px = price if price is not None and price > 0 and not order.legs else self.portfolio.last(symbol)
                if px is None:
                    known = self.greeks.price(symbol)
                    px = Decimal(repr(known)) if known else None
                if px is None:
                    return symbol
                d = float(qty * i.multiplier * px * rate)
                factor = i.underlying if i.asset_class is AssetClass.FUTURE and i.underlying else symbol
                if i.currency != self.portfolio.base:  # on its local moves and its currency's, as the book holds it
                    factor = foreign_factor(factor, i.currency, self.portfolio.base)
            out[factor] = out.get(factor, 0.0) + d
        return out

    def refusal(self, order: Order, lim: RiskLimits, price: Decimal | None = None,
                inst: Instrument | None = None) -> tuple[str, str] | None:
        """(limit name, the line saying why) when ``order`` may not go out under ``lim``."""
        bound = self.var_limit(lim)
        if bound is None:
            return None
        name, money = bound
        st = self.state
        full = lim.var_method == "full"
        legs: list[tuple[str, float, Instrument, object]] | None = [] if full else None
        change = self.change(order, price, inst, legs)
        if isinstance(change, str):
            return name, f"cannot work out the VaR of {change} (no price for it or its underlying), and {name} is set"
        inc = st.incremental if st is not None else None
        missing = [f for f in change if inc is None or f not in inc.factors]
        if missing:
            self.wanted.update(missing)
            self.on_wanted()
            what = missing[0] if inc is not None else "the portfolio"
            return name, (f"the VaR of {what} is not measured yet (its daily history is being loaded), "
                          f"and {name} is set: try again in a moment")
        assert inc is not None
        if full and inc.full is not None:
            assert legs is not None
            return self._full_refusal(inc, change, legs, name, money, lim)
        method = "parametric" if lim.var_method == "parametric" else "historical"
        cached = self._before
        if cached is not None and cached[0] is inc and cached[1] == method:
            before = cached[2]
        else:  # once per measurement and method
            before = inc.now(method, CONFIDENCE)
            self._before = (inc, method, before)
        if len(change) == 1:
            (factor, d), = change.items()
            after = inc.after(factor, d, method, CONFIDENCE)
        else:
            after = self._after_many(inc, change, method)
        if after is None or after <= float(money) or after <= before:
            return None
        return name, (f"1-day 99% {lim.var_method} VaR would be {fmt_money(_money(after))}, beyond "
                      f"{self._limit_words(name, money, lim)}")

    def _full_refusal(self, inc: IncrementalVar, change: dict[str, float], legs: list[tuple[str, float, Instrument, object]],
                      name: str, money: Decimal, lim: RiskLimits) -> tuple[str, str] | None:
        """Under ``var_method = "full"``: the order's P&L on each past day (linear legs: exposure x
        returns; option legs repriced by Black-Scholes-Merton on the day's underlying move, at
        their IV, a day closer to expiry) added to the book's cached full-revaluation P&L."""
        cached = self._before
        if cached is not None and cached[0] is inc and cached[1] == "full":
            before = cached[2]
        else:
            before = inc.now("full", CONFIDENCE)
            self._before = (inc, "full", before)
        linear = [(f, d) for f, d in change.items() if d]
        if len(linear) == 1:
            (factor, d), = linear
            order_pnl = d * inc.returns[:, inc.factors[factor]]
        elif linear:
            cols = np.array([inc.factors[f] for f, _ in linear], dtype=np.intp)
            order_pnl = inc.returns[:, cols] @ np.array([d for _, d in linear])
        else:
            order_pnl = np.zeros(len(inc.returns))
        if legs:
            order_pnl = order_pnl + self._options_pnl(inc, legs)
        after = inc.after_full(order_pnl, CONFIDENCE)
        if after <= float(money) or after <= before:
            return None
        return name, (f"1-day 99% full-revaluation VaR (options repriced) would be {fmt_money(_money(after))}, beyond "
                      f"{self._limit_words(name, money, lim)}")

    def _options_pnl(self, inc: IncrementalVar, legs: list[tuple[str, float, Instrument, object]]) -> np.ndarray:
        """Each option leg repriced on every past day's move of its underlying, in one vectorized call."""
        from workstation.core.options import bsm_price, year_fraction

        now = self.clock.time()
        cols = np.array([inc.factors[f] for f, _, _, _ in legs], dtype=np.intp)
        spot = np.array([float(u.spot) for _, _, _, u in legs])  # type: ignore[attr-defined]
        strike = np.array([float(i.strike or 0) for _, _, i, _ in legs])
        years = np.array([year_fraction(i.expiry, now) for _, _, i, _ in legs])  # type: ignore[arg-type]
        vol = np.array([float(u.iv) for _, _, _, u in legs])  # type: ignore[attr-defined]
        call = np.array([i.right is Right.CALL for _, _, i, _ in legs])
        div = np.array([self.greeks.dividend(f) for f, _, _, _ in legs])
        units = np.array([n for _, n, _, _ in legs])
        rate = self.greeks.rate
        # one call: row 0 is each leg now, the other rows each past day's move a day closer to expiry
        spots = np.vstack([spot[None, :], spot[None, :] * np.maximum(1.0 + inc.returns[:, cols], 1e-9)])
        t = np.empty((len(spots), 1))
        t[0], t[1:] = 0.0, -1.0 / 365.0
        values = bsm_price(spots, strike, np.maximum(years[None, :] + t, 0.0), rate, div, vol, call)
        return (values[1:] - values[0]) @ units

    def _after_many(self, inc: IncrementalVar, change: dict[str, float], method: str) -> float:
        cols = np.array([inc.factors[f] for f in change], dtype=np.intp)
        d = np.array(list(change.values()), dtype=np.float64)
        if method == "parametric":
            st = self.state
            assert st is not None
            cov = st.inputs.covariance()[np.ix_(cols, cols)]
            v = inc.variance + 2.0 * float(d @ inc.sigma_f[cols]) + float(d @ cov @ d)
            return float(np.sqrt(max(v, 0.0))) * _z()
        return historical_var(inc.pnl + inc.returns[:, cols] @ d, CONFIDENCE)

    # -- post-trade
    def checks(self) -> list[tuple[str, Decimal, Decimal, str]]:
        """(rule, used, limit, sentence) for each VaR or stress limit that is set and measured."""
        lim = self.store.limits
        st = self.state
        if st is None or not watching(lim):
            return []
        equity = self.portfolio.equity()
        out = []
        if st.var is not None:
            var = _money(st.var)
            what = f"1-day 99% {st.method} VaR {fmt_money(var)}"
            if lim.max_var is not None:
                out.append(("max_var", var, lim.max_var, f"{what} exceeds max_var {fmt_money(lim.max_var)}"))
            if lim.max_var_pct is not None and equity > 0:
                pct = var / equity * HUNDRED
                out.append(("max_var_pct", pct, lim.max_var_pct,
                            f"{what} is {fmt_pct(pct)} of equity, exceeding max_var_pct {plain(lim.max_var_pct)}%"))
        loss = st.stress_loss
        what = f"stress loss {fmt_money(loss)} ({st.stress_scenario})" if st.stress_scenario else f"stress loss {fmt_money(loss)}"
        if lim.max_stress_loss is not None:
            out.append(("max_stress_loss", loss, lim.max_stress_loss,
                        f"{what} exceeds max_stress_loss {fmt_money(lim.max_stress_loss)}"))
        if lim.max_stress_loss_pct is not None and equity > 0:
            pct = loss / equity * HUNDRED
            out.append(("max_stress_loss_pct", pct, lim.max_stress_loss_pct,
                        f"{what} is {fmt_pct(pct)} of equity, exceeding max_stress_loss_pct {plain(lim.max_stress_loss_pct)}%"))
        return out

    def breaches(self) -> list[str]:
        return [text for _r, used, limit, text in self.checks() if used > limit]

    def evaluate(self) -> list[str]:
        """Compare the last measurement with the limits: trip the breaker on a breach, warn when near."""
        near = self.store.limits.near_pct
        breached = []
        for rule, used, limit, text in self.checks():
            if used > limit:
                breached.append(text)
            elif limit > 0 and used * HUNDRED >= limit * near:
                if rule not in self._warned:
                    self._warned.add(rule)
                    title = "VaR warning" if rule.startswith("max_var") else "Stress loss warning"
                    self.bus.publish(AlertRaised(
                        title=title, message=f"{text.split(' exceeds')[0].split(' is ')[0]}: {fmt_pct(used / limit * HUNDRED)} of {rule} (near the limit)",
                        priority="high", source="risk", ts=self.clock.time(), key=f"near-{rule}",
                    ))
            else:
                self._warned.discard(rule)
        if breached:
            self.trip(breached[0])
        return breached

    # -- the Risk pane
    def rows(self) -> list[RiskRow]:
        """One row per VaR or stress limit that is set (none when none is)."""
        lim = self.store.limits
        if not watching(lim):
            return []
        st = self.state
        near = lim.near_pct
        equity = self.portfolio.equity()
        out = []
        var = _money(st.var) if st is not None and st.var is not None else None
        why = "not measured yet" if st is None else ("too little daily history" if var is None else f"1d 99% {st.method}")
        if lim.max_var is not None:
            out.append(row("VaR", var if var is not None else ZERO, lim.max_var, "$", near, why))
        if lim.max_var_pct is not None:
            pct = var / equity * HUNDRED if var is not None and equity > 0 else ZERO
            out.append(row("VaR % equity", pct.quantize(_CENT), lim.max_var_pct, "%", near, why))
        loss = st.stress_loss if st is not None else ZERO
        detail = "not measured yet" if st is None else st.stress_scenario
        if lim.max_stress_loss is not None:
            out.append(row("stress loss", loss, lim.max_stress_loss, "$", near, detail))
        if lim.max_stress_loss_pct is not None:
            pct = loss / equity * HUNDRED if equity > 0 else ZERO
            out.append(row("stress loss %", pct.quantize(_CENT), lim.max_stress_loss_pct, "%", near, detail))
        return out


def _z() -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(CONFIDENCE)
