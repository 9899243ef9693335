"""The risk model's inputs from a running engine: the portfolio's positions, their prices and
Greeks, and the broker's daily bars (``load_portfolio_risk``), with the return matrix and
covariance cached per set of held symbols and day (``ReturnCache``).

What each position becomes (``workstation.risk.returns``): an equity, ETF, crypto or FX pair
its signed market value in the base currency, on its own returns; a future qty x multiplier x
price, on its root's returns (the contract's own bars when the root has none); an option its
delta-equivalent on its underlying's returns, and its terms for full revaluation (IV and delta
from the ``GreekBook``: the quotes' mid, else the last IV known). A position without a price, an
option without an IV, or a symbol without daily history is left out and named in
``PortfolioRisk.left_out`` (never counted as zero risk silently).

Bars come from ``history`` (``Broker.history(symbol, 86400, start, end)``: the paper market's
simulated days, replay files or the broker's history), ~1.6 calendar days per trading day of
lookback. The cache key is (the factors, benchmark, lookback, decay, the UTC day): within a day
the same holdings reuse the returns and covariance without asking the broker again (what a
pre-trade VaR check needs); a new symbol or a new day measures again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np

from workstation.core.model import AssetClass, Bar, Instrument, Right
from workstation.core.options import year_fraction
from workstation.core.sectors import SectorMap
from workstation.risk.returns import (
    DAY, LOOKBACK, Exposure, OptionTerms, PortfolioRisk, ReturnMatrix, covariance, exposure_value, returns_from_bars,
)
from workstation.trading.greeks import GreekBook
from workstation.trading.portfolio import Portfolio

__all__ = ["History", "ReturnCache", "load_portfolio_risk"]

History = Callable[[str, int, float, float], Awaitable[list[Bar]]]  # Broker.history
CACHE_ENTRIES = 8


@dataclass(frozen=True, slots=True)
class _Cached:
    returns: ReturnMatrix
    benchmark: np.ndarray | None
    cov: np.ndarray


class ReturnCache:
    """The last few return matrices and covariances, by (factors, benchmark, lookback, decay, day)."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._store: OrderedDict[tuple[object, ...], _Cached] = OrderedDict()
        self.misses = 0  # times the broker's history was asked
        self.windows: dict[tuple[str, date, date, float], list[Bar]] = {}  # a replay's bars per (symbol, window): workstation.risk.replays

    def get(self, key: tuple[object, ...]) -> _Cached | None:
        hit = self._store.get(key)
        if hit is not None:
            self._store.move_to_end(key)
        return hit

    def put(self, key: tuple[object, ...], value: _Cached) -> None:
        self._store[key] = value
        self._store.move_to_end(key)
        while len(self._store) > self.entries:
            self._store.popitem(last=False)


def _factor(inst: Instrument) -> str:
    if inst.asset_class in (AssetClass.OPTION, AssetClass.FUTURE) and inst.underlying:
        return inst.underlying
    return inst.symbol


def _strategy(portfolio: Portfolio, symbol: str) -> str:
    holders = [name for name, book in portfolio.books.items() if (p := book.positions.get(symbol)) and p.qty]
    return holders[0] if len(holders) == 1 else ("mixed" if holders else "manual")


async def load_portfolio_risk(
    portfolio: Portfolio,
    instrument: Callable[[str], Instrument],
    greeks: GreekBook,
    history: History,
    now: float,
    *,
    sectors: SectorMap | None = None,
    benchmark: str = "SPY",
    lookback: int = LOOKBACK,
    decay: float | None = None,
    cache: ReturnCache | None = None,
) -> PortfolioRisk:
    """The ``PortfolioRisk`` of every open position, from the engine's parts (a ``Session``'s
    ``portfolio``, ``instrument``, ``greeks``, ``broker.history`` and ``clock.time()``)."""
    sectors = sectors or SectorMap()
    held = [p for p in portfolio.positions() if p.qty]
    units = greeks.units([p.symbol for p in held])
    left: list[str] = []
    drafts: list[tuple[Exposure, str | None]] = []  # (exposure, the contract's own symbol for a future)
    for p in held:
        inst = instrument(p.symbol)
        factor = _factor(inst)
        rate = portfolio.to_base(Decimal(1), inst.currency)
        label = dict(asset_class=inst.asset_class.value, sector=sectors.sector(factor),
                     strategy=_strategy(portfolio, p.symbol))
        if inst.asset_class is AssetClass.OPTION:
            u = units.get(p.symbol)
            if u is None or not u.known or u.iv is None or inst.strike is None or inst.expiry is None:
                left.append(f"{p.symbol}: no implied volatility or underlying price")
                continue
            n = float(p.qty * inst.multiplier * rate)
            terms = OptionTerms(
                units=n, spot=float(u.spot or 0.0), strike=float(inst.strike), years=year_fraction(inst.expiry, now),
                vol=u.iv, call=inst.right is Right.CALL, rate=greeks.rate,
                div=greeks.dividend(factor),
            )
            drafts.append((Exposure(p.symbol, factor, n * (u.delta or 0.0) * terms.spot, option=terms, **label), None))
            continue
        price = portfolio.last(p.symbol)
        if price is None:
            known = greeks.price(p.symbol)
            price = Decimal(str(known)) if known else None
        if price is None:
            left.append(f"{p.symbol}: no price")
            continue
        value = exposure_value(p.qty, inst.multiplier, price, rate)
        own = p.symbol if inst.asset_class is AssetClass.FUTURE and factor != p.symbol else None
        drafts.append((Exposure(p.symbol, factor, value, **label), own))

    factors = sorted({e.factor for e, _ in drafts})
    day = int(now // DAY)
    key = (tuple(factors), benchmark, lookback, decay, day)
    cache = cache if cache is not None else ReturnCache()
    hit = cache.get(key)
    if hit is None:
        hit = await _measure(history, factors, drafts, benchmark, lookback, decay, now)
        cache.put(key, hit)
        cache.misses += 1
    have = set(hit.returns.symbols)
    exposures = []
    for e, _ in drafts:
        if e.factor in have:
            exposures.append(e)
        else:
            left.append(f"{e.symbol}: no daily history of {e.factor}")
    return PortfolioRisk(
        positions=tuple(exposures), returns=hit.returns, benchmark=hit.benchmark, benchmark_symbol=benchmark,
        equity=float(portfolio.equity()), base_currency=portfolio.base, decay=decay, cov=hit.cov,
        left_out=tuple(left),
    )


async def _measure(history: History, factors: list[str], drafts: list[tuple[Exposure, str | None]], benchmark: str,
                   lookback: int, decay: float | None, now: float) -> _Cached:
    start = now - (int(lookback * 1.6) + 10) * DAY
    own = {e.factor: contract for e, contract in drafts if contract is not None}

    async def bars_of(symbol: str) -> list[Bar]:
        try:
            return list(await history(symbol, DAY, start, now))
        except Exception:  # (any adapter's failure: the symbol is left out, and said so)
            return []

    series: dict[str, list[Bar]] = {}
    for f in factors:
        bars = await bars_of(f)
        if not bars and f in own:
            bars = await bars_of(own[f])
        if len(bars) > 1:
            series[f] = bars
    bench = series.get(benchmark) or await bars_of(benchmark)
    with_bench: Mapping[str, list[Bar]] = {**series, "\0benchmark": bench} if len(bench) > 1 else series
    matrix = returns_from_bars(with_bench, lookback)
    if len(bench) > 1:
        j = matrix.symbols.index("\0benchmark")
        keep = [i for i in range(len(matrix.symbols)) if i != j]
        b = matrix.values[:, j].copy()
        matrix = ReturnMatrix(tuple(matrix.symbols[i] for i in keep), matrix.days, matrix.values[:, keep])
    else:
        b = None
    return _Cached(matrix, b, covariance(matrix.values, decay))
