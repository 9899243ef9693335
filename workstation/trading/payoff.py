"""What a spread can make or lose: payoff at expiry, break-evens and net Greeks of a combo
order, for its review (pure: the caller passes the legs' quotes, the underlying's price and
the engine's time).

* **Same expiry** (verticals, straddles, strangles, butterflies, iron condors, custom option
  legs of one expiry): the payoff at expiry is piecewise linear in the underlying's price, so
  max profit, max loss and the break-evens are exact ``Decimal`` figures, from the strikes,
  the ratios and the net price. A payoff still rising (or falling) past the last strike is
  "unlimited" (``None``).
* **Calendars of options** (two expiries): there is no single expiry payoff. The figures
  are the value at the FRONT expiry, the back leg priced by Black-Scholes-Merton at its
  implied volatility today (from its mid) with the time it has left then; max profit, max
  loss and break-evens are searched on a fine grid of underlying prices and marked
  ``estimated``. Without a quote for the back leg there are no figures ("depends on
  volatility").
* **Futures calendars**: their P&L is the change in the spread between the two months,
  times the multiplier; neither side is bounded, so both show as unlimited and there are
  no break-evens.

Money (max profit, max loss, the net cash) is ``Decimal``, per the whole order: per share
figures times the multiplier times the quantity. The net Greeks are floats in money terms
for the whole order: delta in underlying shares (contracts for futures), gamma in shares
per 1.00 move, theta in money per calendar day, vega in money per volatility point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal

import msgspec
import numpy as np

from workstation.core.model import AssetClass, Instrument, Leg, Right, Side
from workstation.core.options import bsm_greeks, bsm_price, implied_vol, year_fraction
from workstation.core.symbols import parse_symbol
from workstation.trading.combo_figures import ComboFigures, LegFigures
from workstation.trading.spreads import effective_legs

__all__ = ["ComboFigures", "LegFigures", "analyze"]

RATE = 0.04  # continuous risk-free rate the review's Greeks use (the chain's default)
_CENT = Decimal("0.01")
_FINE = Decimal("0.000001")
_GRID = 4001


def _tidy(d: Decimal) -> Decimal:
    q = d.quantize(_FINE, rounding=ROUND_HALF_EVEN)
    return q.normalize() if q == d else d.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def _mid(quote: tuple[float | None, float | None] | None) -> float | None:
    if quote is None:
        return None
    bid, ask = quote
    if bid is None or ask is None or bid <= 0 or ask < bid:
        return None
    return (bid + ask) / 2.0


def analyze(
    legs: Sequence[Leg], side: Side, qty: Decimal, price: Decimal | None, *,
    description: str, quotes: Mapping[str, tuple[float | None, float | None]], spot: float | None,
    now: float, rate: float = RATE, dividend_yield: float = 0.0,
) -> ComboFigures:
    """The figures of ``qty`` combos on ``side`` at ``price`` per unit (the limit; None: at the
    legs' mid). ``quotes`` maps each leg's symbol to its (bid, ask); ``spot`` is the
    underlying's price."""
    insts = [parse_symbol(leg.symbol) for leg in legs]
    mult = insts[0].multiplier
    sign = {Side.BUY: 1, Side.SELL: -1}
    mids = [_mid(quotes.get(leg.symbol)) for leg in legs]
    net_mid: Decimal | None = None
    if all(m is not None for m in mids):
        net_mid = sum((Decimal(repr(round(m, 6))) * sign[leg.side] * leg.ratio for m, leg in zip(mids, legs)), Decimal(0))  # type: ignore[arg-type]
        net_mid = net_mid.quantize(_CENT, rounding=ROUND_HALF_EVEN)
    used = price if price is not None else net_mid
    years = [year_fraction(i.expiry, now) if i.expiry is not None else 0.0 for i in insts]
    ivs = _ivs(insts, mids, years, spot, rate, dividend_yield)
    leg_greeks = _leg_greeks(insts, ivs, years, spot, rate, dividend_yield)
    eff = effective_legs(legs, side)
    leg_figs = tuple(
        LegFigures(
            symbol=leg.symbol, side=e.side, qty=qty * leg.ratio,
            bid=(quotes.get(leg.symbol) or (None, None))[0], ask=(quotes.get(leg.symbol) or (None, None))[1],
            iv=ivs[i], delta=None if leg_greeks[i] is None else leg_greeks[i][0],  # type: ignore[index]
        )
        for i, (leg, e) in enumerate(zip(legs, eff))
    )
    figures = ComboFigures(
        description=description, legs=leg_figs, multiplier=mult,
        net_price=used, net_mid=net_mid,
        cash=None if used is None else used * mult * qty * sign[side],
        payoff="none", **_net_greeks(legs, side, qty, insts, leg_greeks),
    )
    if used is None:
        return msgspec.structs.replace(figures, note="no net price: no limit given and no quote for every leg yet")
    expiries = {i.expiry for i in insts}
    if all(i.asset_class is AssetClass.FUTURE for i in insts):
        return msgspec.structs.replace(
            figures, payoff="spread", max_profit=None, max_loss=None,
            note="P&L moves with the spread between the months, times the multiplier: unbounded either way",
        )
    if any(i.asset_class is not AssetClass.OPTION for i in insts):
        return msgspec.structs.replace(figures, note="no payoff figures for mixed legs")
    scale = mult * qty
    if len(expiries) == 1:
        hi, lo, bes = _expiry_payoff(legs, insts, used)
    else:
        est = _front_payoff(legs, insts, used, ivs, years, spot, rate, dividend_yield)
        if isinstance(est, str):
            return msgspec.structs.replace(figures, note=est)
        hi, lo, bes = est
        figures = msgspec.structs.replace(
            figures, payoff="estimated",
            note="valued at the front expiry, the back leg at today's implied volatility: estimates",
        )
    if side is Side.SELL:  # the seller's P&L is the buyer's, reversed
        hi, lo = (None if lo is None else -lo), (None if hi is None else -hi)
    return msgspec.structs.replace(
        figures, payoff="estimated" if figures.payoff == "estimated" else "expiry",
        max_profit=None if hi is None else hi * scale,
        max_loss=None if lo is None else -lo * scale,
        breakevens=bes,
    )


def _expiry_payoff(legs: Sequence[Leg], insts: Sequence[Instrument], price: Decimal) -> tuple[Decimal | None, Decimal | None, tuple[Decimal, ...]]:
    """(max, min, break-evens) of one unit bought at ``price``, per share; None = unbounded."""
    terms = [
        (1 if leg.side is Side.BUY else -1) * leg.ratio for leg in legs
    ]

    def value(s: Decimal) -> Decimal:
        total = -price
        for t, inst in zip(terms, insts):
            k = inst.strike or Decimal(0)
            total += t * (max(s - k, Decimal(0)) if inst.right is Right.CALL else max(k - s, Decimal(0)))
        return total

    kinks = sorted({inst.strike for inst in insts if inst.strike is not None})
    points = [Decimal(0)] + kinks
    values = [value(s) for s in points]
    tail = sum(t for t, inst in zip(terms, insts) if inst.right is Right.CALL)
    hi: Decimal | None = max(values) if tail <= 0 else None
    lo: Decimal | None = min(values) if tail >= 0 else None
    roots: set[Decimal] = set()
    for (a, fa), (b, fb) in zip(zip(points, values), zip(points[1:], values[1:])):
        if fa == 0 and a > 0:
            roots.add(a)
        if fa * fb < 0:
            roots.add(a + (b - a) * (-fa) / (fb - fa))
    last, f_last = points[-1], values[-1]
    if f_last == 0:
        roots.add(last)
    elif tail != 0 and (f_last < 0) == (tail > 0):
        roots.add(last - f_last / tail)
    return hi, lo, tuple(sorted(_tidy(r) for r in roots))


def _ivs(insts: Sequence[Instrument], mids: Sequence[float | None], years: Sequence[float], spot: float | None,
         rate: float, div: float) -> list[float | None]:
    out: list[float | None] = [None] * len(insts)
    idx = [i for i, inst in enumerate(insts) if inst.asset_class is AssetClass.OPTION and mids[i] is not None]
    if not idx or spot is None or spot <= 0:
        return out
    price = np.array([mids[i] for i in idx], dtype=np.float64)
    strike = np.array([float(insts[i].strike or 0) for i in idx])
    t = np.array([years[i] for i in idx])
    call = np.array([insts[i].right is Right.CALL for i in idx])
    iv = implied_vol(price, spot, strike, t, rate, div, call)
    for j, i in enumerate(idx):
        out[i] = None if np.isnan(iv[j]) else float(iv[j])
    return out


def _leg_greeks(insts: Sequence[Instrument], ivs: Sequence[float | None], years: Sequence[float], spot: float | None,
                rate: float, div: float) -> list[tuple[float, float, float, float] | None]:
    """(delta, gamma, theta, vega) per share of each leg; futures: delta 1; None: unknown."""
    out: list[tuple[float, float, float, float] | None] = []
    for inst, iv, t in zip(insts, ivs, years):
        if inst.asset_class is AssetClass.FUTURE:
            out.append((1.0, 0.0, 0.0, 0.0))
        elif iv is None or spot is None:
            out.append(None)
        else:
            g = bsm_greeks(spot, float(inst.strike or 0), t, rate, div, iv, inst.right is Right.CALL)
            out.append((float(g.delta), float(g.gamma), float(g.theta), float(g.vega)))
    return out


def _net_greeks(legs: Sequence[Leg], side: Side, qty: Decimal, insts: Sequence[Instrument],
                leg_greeks: Sequence[tuple[float, float, float, float] | None]) -> dict[str, float | None]:
    if any(g is None for g in leg_greeks):
        return {"delta": None, "gamma": None, "theta": None, "vega": None}
    totals = [0.0, 0.0, 0.0, 0.0]
    order = 1.0 if side is Side.BUY else -1.0
    for leg, inst, g in zip(legs, insts, leg_greeks):
        w = order * (1.0 if leg.side is Side.BUY else -1.0) * leg.ratio * float(qty)
        per = 1.0 if inst.asset_class is AssetClass.FUTURE else float(inst.multiplier)
        for n in range(4):
            totals[n] += w * per * g[n]  # type: ignore[index]
    return dict(zip(("delta", "gamma", "theta", "vega"), totals))


def _front_payoff(legs: Sequence[Leg], insts: Sequence[Instrument], price: Decimal, ivs: Sequence[float | None],
                  years: Sequence[float], spot: float | None, rate: float, div: float
                  ) -> tuple[Decimal | None, Decimal | None, tuple[Decimal, ...]] | str:
    """Estimated (max, min, break-evens) per share of one unit bought, at the front expiry."""
    front = min(i.expiry for i in insts if i.expiry is not None)
    t_front = min(years)
    for inst, iv in zip(insts, ivs):
        if inst.expiry != front and iv is None:
            return f"depends on volatility: no implied volatility for {inst.symbol} yet"
    strikes = [float(i.strike or 0) for i in insts]
    grid = np.linspace(0.2 * min(strikes), 3.0 * max(strikes), _GRID)
    total = np.full(_GRID, -float(price))
    tail = 0
    for leg, inst, iv, t, k in zip(legs, insts, ivs, years, strikes):
        w = (1 if leg.side is Side.BUY else -1) * leg.ratio
        call = inst.right is Right.CALL
        if inst.expiry == front:
            total += w * (np.maximum(grid - k, 0.0) if call else np.maximum(k - grid, 0.0))
        else:
            total += w * bsm_price(grid, float(inst.strike or 0), max(t - t_front, 0.0), rate, div, iv or 0.0, call)
        if call:
            tail += w
    hi = None if tail > 0 else _cents(float(total.max()))
    lo = None if tail < 0 else _cents(float(total.min()))
    crossing = np.nonzero(np.sign(total[:-1]) * np.sign(total[1:]) < 0)[0]
    bes = []
    for j in crossing:
        a, b = grid[j], grid[j + 1]
        fa, fb = total[j], total[j + 1]
        bes.append(_cents(float(a + (b - a) * (-fa) / (fb - fa))))
    return hi, lo, tuple(bes)


def _cents(x: float) -> Decimal:
    return Decimal(repr(x)).quantize(_CENT, rounding=ROUND_HALF_EVEN)
