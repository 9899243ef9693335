"""Position sizing: how many units to trade, rounded down to the instrument's lot.

Every helper returns a non-negative ``Decimal`` quantity already rounded with
``Instrument.round_qty`` (whole lots, never up), so the order manager accepts it as is;
a size that rounds to nothing is ``0`` and the caller decides not to trade. Inputs may be
``Decimal``, ``int``, ``float`` or numeric strings; prices, stops and ATRs are per unit of
the instrument, and the contract multiplier is applied here.

=====================  ============================================================
``fixed_qty``          a set number of units
``fixed_notional``     a set amount of money at the current price
``fixed_fractional``   risk a fraction of equity between the entry and a stop
``volatility_target``  risk a fraction of equity per ATR (a volatility-normalised size)
``kelly_fraction``     the Kelly fraction ``p - (1 - p) / b``, capped
``optimal_f``          Ralph Vince's optimal f from a history of trade results
``Pyramid``            add to a winner by rule, capped (``workstation.strategies.scaling``)
``ScaleOut``           exit in parts at targets in R, the rest on a trailing stop
``split_lots``         a quantity cut into whole-lot parts that sum to it exactly
=====================  ============================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from workstation.core.model import ZERO, Instrument, ModelError, to_decimal
from workstation.strategies.scaling import Exit, Pyramid, ScaleOut, split_lots

__all__ = [
    "Exit", "Pyramid", "ScaleOut", "fixed_fractional", "fixed_notional", "fixed_qty", "kelly", "kelly_fraction",
    "optimal_f", "optimal_f_qty", "split_lots", "volatility_target",
]


def _pos(value: object, what: str) -> Decimal:
    d = to_decimal(value, what)
    if d <= 0:
        raise ModelError(f"{what} must be positive, got {value}")
    return d


def _units(inst: Instrument, qty: Decimal) -> Decimal:
    return inst.round_qty(qty) if qty > ZERO else ZERO


def fixed_qty(inst: Instrument, qty: object) -> Decimal:
    """``qty`` units, rounded down to whole lots."""
    return _units(inst, to_decimal(qty, "quantity"))


def fixed_notional(inst: Instrument, notional: object, price: object) -> Decimal:
    """As many units as ``notional`` buys at ``price``."""
    amount = to_decimal(notional, "notional")
    return _units(inst, amount / (_pos(price, "price") * inst.multiplier))


def fixed_fractional(inst: Instrument, equity: object, risk_fraction: object, entry: object, stop: object) -> Decimal:
    """Lose at most ``risk_fraction`` of ``equity`` if the price goes from ``entry`` to ``stop``."""
    distance = abs(to_decimal(entry, "entry price") - to_decimal(stop, "stop price"))
    if distance == 0:
        raise ModelError("the stop must differ from the entry price")
    budget = to_decimal(equity, "equity") * _fraction(risk_fraction)
    return _units(inst, budget / (distance * inst.multiplier))


def volatility_target(
    inst: Instrument, equity: object, risk_fraction: object, atr: object, atr_multiple: object = 1
) -> Decimal:
    """Size so that a move of ``atr_multiple`` ATRs costs ``risk_fraction`` of equity."""
    per_unit = _pos(atr, "ATR") * _pos(atr_multiple, "ATR multiple") * inst.multiplier
    return _units(inst, to_decimal(equity, "equity") * _fraction(risk_fraction) / per_unit)


def kelly_fraction(win_rate: object, payoff: object, cap: object = Decimal("0.25")) -> Decimal:
    """Kelly's ``f = p - (1 - p) / b`` for win probability ``p`` and win/loss ratio ``b``,
    clipped to ``[0, cap]`` (full Kelly is too aggressive for estimated edges)."""
    p = to_decimal(win_rate, "win rate")
    if not 0 <= p <= 1:
        raise ModelError(f"win rate must be between 0 and 1, got {win_rate}")
    b = _pos(payoff, "payoff ratio")
    f = p - (1 - p) / b
    return min(max(f, ZERO), _fraction(cap))


def kelly(
    inst: Instrument, equity: object, price: object, win_rate: object, payoff: object, cap: object = Decimal("0.25")
) -> Decimal:
    """Units worth the (capped) Kelly fraction of equity at ``price``."""
    f = kelly_fraction(win_rate, payoff, cap)
    return fixed_notional(inst, to_decimal(equity, "equity") * f, price)


def optimal_f(trades: Iterable[object], steps: int = 1000) -> Decimal:
    """Ralph Vince's optimal f: the fraction maximising the terminal wealth relative
    ``TWR(f) = prod(1 + f * (-trade / worst_loss))`` over ``f`` in (0, 1], searched on a
    grid of ``steps``. ``trades`` are results per unit (or per trade); with no losing
    trade the answer is undefined and an error says so; with no edge it is 0."""
    results = [to_decimal(t, "trade result") for t in trades]
    worst = min(results, default=ZERO)
    if worst >= 0:
        raise ModelError("optimal f needs at least one losing trade")
    if sum(results) <= 0:
        return ZERO
    hprs = [float(-r / worst) for r in results]  # holding period returns per unit of f
    best_f, best_twr = 0.0, 1.0
    for i in range(1, steps + 1):
        f = i / steps
        twr = 1.0
        for h in hprs:
            twr *= 1.0 + f * h
            if twr <= 0:
                break
        if twr > best_twr:
            best_f, best_twr = f, twr
    return to_decimal(best_f)


def optimal_f_qty(inst: Instrument, equity: object, f: object, worst_loss: object) -> Decimal:
    """Units for optimal ``f``: one unit per ``worst_loss / f`` of equity."""
    loss = abs(to_decimal(worst_loss, "worst loss")) * inst.multiplier
    if loss == 0:
        raise ModelError("worst loss must not be zero")
    return _units(inst, to_decimal(equity, "equity") * _fraction(f) / loss)


def _fraction(value: object) -> Decimal:
    d = to_decimal(value, "fraction")
    if not 0 <= d <= 1:
        raise ModelError(f"fraction must be between 0 and 1, got {value}")
    return d
