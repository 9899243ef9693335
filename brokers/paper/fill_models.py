"""Fill models of a backtest: what a bar's fill costs beyond the commission, and how much of
an order a bar can take.

``FillModel`` is the choice of one run (frozen; recorded in the result). With none of its
parts set it is ``next_open``: every order fills whole at the next bar's open (plus the fixed
slippage), as ``BarSimBroker`` always did -- the default, under which the backtrader anchors
hold to the cent. Its parts combine:

* **spread** (``spread="auto"`` or ``spread_bps``): a buy pays, a sell gives up, half the
  bid-ask spread on top of the price the bar rules give (after the fixed slippage; never past
  a limit). ``spread_bps`` is a fixed full spread in basis points of the price. ``"auto"``
  estimates the spread from bar ranges with **Corwin and Schultz (2012)** ("A Simple Way to
  Estimate Bid-Ask Spreads from Daily High and Low Prices"), on the two bars *before* the fill
  bar (no look-ahead)::

      beta  = ln(H1/L1)**2 + ln(H2/L2)**2
      gamma = ln(max(H1, H2) / min(L1, L2))**2
      alpha = (sqrt(2 beta) - sqrt(beta)) / (3 - 2 sqrt 2) - sqrt(gamma / (3 - 2 sqrt 2))
      S     = 2 (e**alpha - 1) / (1 + e**alpha)    (a fraction of the price; 0 when negative)

  It was chosen over a fixed fraction of the range because it separates the spread from the
  volatility (the range of two bars grows with volatility twice as fast as the range of one;
  the spread does not), so one estimator serves minute and daily bars alike.

  **Quotes** (``brokers.paper.quotefile``: a ``timestamp,bid,ask`` file per symbol, or a bar
  file's own ``bid``/``ask`` columns, each row the quote at its bar's close) take the
  estimate's place where known: the spread of a fill is ``ask - bid`` of the last quote at
  or before the fill bar's *open* (no look-ahead: for a bar file's columns, the previous
  bar's close quote), and the price moves by half of it (on the tick, away from the
  trader). Under ``spread="auto"`` a bar with no quote known falls back to Corwin-Schultz;
  each fill is counted (``quoted_spread_fills``, ``estimated_spread_fills``).
  ``spread="quotes"`` uses quotes only: a fill with no quote known pays no spread and is
  counted (``unquoted_fills``).
* **participation** (a fraction, 0 < p <= 1): a bar fills at most ``floor(p x volume)`` of
  the symbol's orders (whole lots, shared in arrival order); the rest of an order stays
  working and meets the next bars, each part a separate fill in the journal. A bar without
  volume (0 or missing) fills as ``next_open`` does, and is counted (``no_volume_bars``).
* **impact** (a coefficient ``k``): the square-root law. For a fill of ``q`` at the price
  ``P`` (after the spread)::

      impact = k x sigma_daily x sqrt(q / V_daily)          (a fraction of the price)
      price  = P x (1 + impact) for a buy, P x (1 - impact) for a sell, then on the tick
               (away from the trader)

  ``sigma_daily`` is the sample standard deviation of the last 20 daily close-to-close log
  returns completed *before* the fill bar's day (a day is a UTC calendar day: a New York
  regular session lies in one); ``V_daily`` the mean volume of the last 20 completed days.
  Until two returns and one day are known, no impact is applied and the fill is counted
  (``impact_unestimated``).

Intraday bars of NYSE-listed instruments fill only in the regular session under a model: a
bar that opens outside it (kept with ``--all-sessions``) matches nothing, so a remainder
carried past the close waits for the next session.

The per-bar inputs (the spread estimate, sigma, V, the session flag) are computed once per
series in numpy (``ModelInputs.of``) before the run; the broker looks them up by bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation, localcontext
from typing import Any

import msgspec
import numpy as np

from brokers.paper.quotefile import QuoteTable

DAYS = 20  # the window of the daily volatility and volume
_BPS = Decimal(10_000)
_CS_DEN = 3.0 - 2.0 * math.sqrt(2.0)


class FillModelError(ValueError):
    """A fill model's parameter that cannot be used (one line, for the user)."""


class FillModel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One run's fill model (see the module docstring); all ``None``: ``next_open``."""

    spread: str | None = None  # "auto": quotes where known, else Corwin-Schultz; "quotes": quotes only
    spread_bps: Decimal | None = None  # a fixed full spread, in bps of the price
    participation: Decimal | None = None  # at most this fraction of a bar's volume fills
    impact: Decimal | None = None  # the square-root law's coefficient
    quotes: dict[str, QuoteTable] | None = None  # per symbol, for spread "auto" and "quotes"

    def __post_init__(self) -> None:
        if self.spread is not None and self.spread not in ("auto", "quotes"):
            raise FillModelError(f"spread must be auto, quotes or basis points, got {self.spread!r}")
        if self.quotes and self.spread is None:
            raise FillModelError("quotes are used by --spread auto or --spread quotes, not by a spread in bps")
        if self.spread is not None and self.spread_bps is not None:
            raise FillModelError("give the spread as auto or as basis points, not both")
        if self.spread_bps is not None and not (Decimal(0) <= self.spread_bps < _BPS):
            raise FillModelError(f"spread must be between 0 and 10000 bps, got {self.spread_bps}")
        if self.participation is not None and not (Decimal(0) < self.participation <= 1):
            raise FillModelError(f"participation must be above 0% and at most 100%, got {self.participation}")
        if self.impact is not None and not (Decimal(0) <= self.impact <= 100):
            raise FillModelError(f"impact coefficient must be between 0 and 100, got {self.impact}")

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.spread, self.spread_bps, self.participation, self.impact))

    @property
    def name(self) -> str:
        parts = [
            n for n, on in (
                ("spread", self.spread is not None or self.spread_bps is not None),
                ("volume", self.participation is not None), ("impact", self.impact is not None),
            ) if on
        ]
        return "+".join(parts) or "next_open"

    def describe(self) -> dict[str, Any]:
        """The model and its parameters, as recorded in the result and the report."""
        out: dict[str, Any] = {"name": self.name}
        quoted = ", ".join(f"{s} {len(q):,} from {q.source}" for s, q in sorted((self.quotes or {}).items()))
        if self.spread == "quotes":
            out["spread"] = "quotes (the last quote at or before the fill bar's open)"
            out["spread_source"] = "quotes"
        elif self.spread is not None and quoted:
            out["spread"] = "auto (quotes where known, else Corwin-Schultz, two prior bars)"
            out["spread_source"] = "quotes, else range"
        elif self.spread is not None:
            out["spread"] = "auto (Corwin-Schultz, two prior bars)"
            out["spread_source"] = "range"
        elif self.spread_bps is not None:
            out["spread"] = f"{self.spread_bps} bps"
            out["spread_source"] = "bps"
        if quoted:
            out["quotes"] = quoted
        if self.participation is not None:
            out["participation"] = f"{self.participation * 100:g}% of bar volume"
        if self.impact is not None:
            out["impact"] = f"{self.impact} x daily vol x sqrt(qty / daily volume)"
        return out


def parse_spread(text: str) -> FillModel:
    """``auto``, ``quotes``, ``5``, ``5bps``: a model with that spread."""
    t = text.strip().lower()
    if t in ("auto", "quotes"):
        return FillModel(spread=t)
    try:
        return FillModel(spread_bps=Decimal(t.removesuffix("bps").strip()))
    except InvalidOperation:
        raise FillModelError(f"--spread must be auto, quotes or basis points (5, 5bps), got {text!r}") from None


def parse_participation(text: str) -> Decimal:
    """``10%`` or ``0.1`` -> Decimal("0.1")."""
    t = text.strip()
    try:
        value = Decimal(t[:-1]) / 100 if t.endswith("%") else Decimal(t)
    except InvalidOperation:
        raise FillModelError(f"--participation must be a percent (10%) or a fraction (0.1), got {text!r}") from None
    if not value.is_finite() or not (Decimal(0) < value <= 1):
        raise FillModelError(f"--participation must be above 0% and at most 100%, got {text!r}")
    return value


def parse_impact(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise FillModelError(f"--impact must be a number (the coefficient, e.g. 0.1), got {text!r}") from None
    if not value.is_finite() or not (Decimal(0) <= value <= 100):
        raise FillModelError(f"--impact must be between 0 and 100, got {text!r}")
    return value


def model_of(spread: str | None, participation: str | None, impact: str | None) -> FillModel:
    """The model three texts choose, each read by its parser (``None``: that part off; all
    ``None``: ``next_open``): what ``--spread``/``--participation``/``--impact`` and the
    Backtest screen's fields give. A value that cannot be used raises ``FillModelError``."""
    base = parse_spread(spread) if spread is not None else FillModel()
    return msgspec.structs.replace(
        base, participation=parse_participation(participation) if participation is not None else None,
        impact=parse_impact(impact) if impact is not None else None,
    )


def corwin_schultz(h1: float, l1: float, h2: float, l2: float) -> float:
    """Corwin-Schultz's spread (a fraction of the price) from two consecutive bars' highs
    and lows; 0 when the estimate is negative or the prices are unusable."""
    if not (l1 > 0 and l2 > 0 and h1 >= l1 and h2 >= l2):
        return 0.0
    beta = math.log(h1 / l1) ** 2 + math.log(h2 / l2) ** 2
    gamma = math.log(max(h1, h2) / min(l1, l2)) ** 2
    alpha = (math.sqrt(2.0 * beta) - math.sqrt(beta)) / _CS_DEN - math.sqrt(gamma / _CS_DEN)
    s = 2.0 * (math.exp(alpha) - 1.0) / (1.0 + math.exp(alpha))
    return s if s > 0.0 else 0.0


def sqrt_impact(coefficient: Decimal, daily_vol: float, qty: Decimal, daily_volume: float) -> Decimal:
    """The square-root law's impact as a fraction of the price:
    ``coefficient x daily_vol x sqrt(qty / daily_volume)`` (Decimal, 28 digits)."""
    with localcontext() as ctx:
        ctx.prec = 28
        return coefficient * Decimal(repr(daily_vol)) * (qty / Decimal(repr(daily_volume))).sqrt()


@dataclass(frozen=True, slots=True)
class ModelInputs:
    """One series' per-bar inputs to a fill model, known before each bar opens."""

    ts: np.ndarray  # bar open times (the series' own)
    volume: np.ndarray
    spread: np.ndarray  # Corwin-Schultz relative spread of the two bars before (0 for the first two)
    quoted: np.ndarray | None  # ask - bid of the last quote at or before the bar's open (NaN: none); None: no quotes
    sigma: np.ndarray  # daily vol before the bar's day (NaN when unknown)
    adv: np.ndarray  # mean daily volume before the bar's day (NaN when unknown)
    in_session: np.ndarray | None  # bool per bar; None: every bar trades

    @classmethod
    def of(cls, ts: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
           *, session_spans: list[tuple[float, float]] | None = None, quotes: QuoteTable | None = None) -> ModelInputs:
        n = len(ts)
        quoted = None
        if quotes is not None:
            j = np.searchsorted(quotes.ts, ts, side="right") - 1  # the last quote at or before each open
            with np.errstate(all="ignore"):
                width = np.round(quotes.ask - quotes.bid, 10)  # (float noise off: 100.02 - 100.00 is 0.02)
            quoted = np.where(j >= 0, width[np.maximum(j, 0)] if len(width) else np.nan, np.nan)
        spread = np.zeros(n)
        if n > 2:
            h1, l1, h2, l2 = high[:-2], low[:-2], high[1:-1], low[1:-1]
            with np.errstate(all="ignore"):
                ok = (l1 > 0) & (l2 > 0) & (h1 >= l1) & (h2 >= l2)
                beta = np.log(h1 / l1) ** 2 + np.log(h2 / l2) ** 2
                gamma = np.log(np.maximum(h1, h2) / np.minimum(l1, l2)) ** 2
                alpha = (np.sqrt(2.0 * beta) - np.sqrt(beta)) / _CS_DEN - np.sqrt(gamma / _CS_DEN)
                s = 2.0 * (np.exp(alpha) - 1.0) / (1.0 + np.exp(alpha))
            spread[2:] = np.where(ok & (s > 0.0), s, 0.0)
        day = np.floor(ts / 86_400.0).astype(np.int64)
        days, first, inverse = np.unique(day, return_index=True, return_inverse=True)
        last = np.append(first[1:], n) - 1
        day_close = close[last].astype(np.float64)
        vol = np.nan_to_num(volume.astype(np.float64), nan=0.0)
        day_volume = np.add.reduceat(vol, first) if n else np.zeros(0)
        nd = len(days)
        d_sigma = np.full(nd, np.nan)
        d_adv = np.full(nd, np.nan)
        with np.errstate(all="ignore"):
            rets = np.diff(np.log(day_close))  # rets[j]: day j+1 over day j
        for d in range(nd):  # the figures known at day d's open: days before d
            if d >= 1:
                v = day_volume[max(0, d - DAYS):d]
                mean = float(v.mean())
                d_adv[d] = mean if mean > 0 else np.nan
            r = rets[max(0, d - 1 - DAYS):d - 1] if d >= 3 else rets[:0]
            if len(r) >= 2 and np.all(np.isfinite(r)):
                d_sigma[d] = float(np.std(r, ddof=1))
        in_session = None
        if session_spans is not None:
            if session_spans:
                opens = np.array([o for o, _ in session_spans])
                closes = np.array([c for _, c in session_spans])
                i = np.searchsorted(closes, ts, side="right")  # the first session closing after the bar opens
                in_session = (i < len(closes)) & (opens[np.minimum(i, len(opens) - 1)] <= ts)
            else:
                in_session = np.zeros(n, dtype=bool)
        return cls(ts=ts, volume=vol, spread=spread, quoted=quoted, sigma=d_sigma[inverse], adv=d_adv[inverse], in_session=in_session)


@dataclass
class FillCosts:
    """What the model cost over a run (money is Decimal) and what it could not model."""

    spread: Decimal = Decimal(0)
    impact: Decimal = Decimal(0)
    partial_fills: int = 0  # fills smaller than the order's remaining quantity (capped by volume)
    no_volume_bars: int = 0  # bars with working orders but no volume: filled as next_open
    outside_session_bars: int = 0  # bars with working orders outside the regular session: nothing filled
    impact_unestimated: int = 0  # fills before the daily vol and volume were known: no impact
    quoted_spread_fills: int = 0  # fills that paid the quoted spread
    estimated_spread_fills: int = 0  # fills under "auto" with no quote known: Corwin-Schultz
    unquoted_fills: int = 0  # fills under "quotes" with no quote known: no spread

    def as_dict(self) -> dict[str, Any]:
        return {
            "spread": str(self.spread), "impact": str(self.impact), "partial_fills": self.partial_fills,
            "no_volume_bars": self.no_volume_bars, "outside_session_bars": self.outside_session_bars,
            "impact_unestimated": self.impact_unestimated, "quoted_spread_fills": self.quoted_spread_fills,
            "estimated_spread_fills": self.estimated_spread_fills, "unquoted_fills": self.unquoted_fills,
        }


def cap_quantity(participation: Decimal, volume: float, lot: Decimal) -> Decimal:
    """``floor(participation x volume)`` in whole lots."""
    raw = participation * Decimal(repr(float(volume)))
    return (raw / lot).quantize(Decimal(1), ROUND_DOWN) * lot


__all__ = [
    "DAYS", "FillCosts", "FillModel", "FillModelError", "ModelInputs", "cap_quantity", "corwin_schultz",
    "parse_impact", "parse_participation", "parse_spread", "sqrt_impact",
]
