"""The risk model's inputs from a running engine: the portfolio's positions, their prices and
Greeks, and the broker's daily bars (``load_portfolio_risk``), with the return matrix and
covariance cached per set of held symbols and day (``ReturnCache``).

What each position becomes (``workstation.risk.returns``): an equity, ETF, crypto or FX pair
its signed market value in the base currency, on its own returns; a future qty x multiplier x
price, on its root's returns (the contract's own bars when the root has none); an option its
delta-equivalent on its underlying's returns, and its terms for full revaluation (IV and delta
from the ``GreekBook``: the quotes' mid, else the last IV known). A linear position quoted in
another currency than the base moves with its local returns and its currency's, compounded
(its factor ``SAP in USD (EUR)``: SAP's closes x EUR/USD's on the same day); cash held in
another currency is a position (``EUR cash``) on its rate (``EUR/USD``: that pair's bars, else
the inverse pair's inverted). A currency without daily history leaves its holdings out, named. A position without a price, an
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
from dataclasses import dataclass, field
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
    why: Mapping[str, str] = field(default_factory=dict)  # factor -> why it has no returns (an FX pair's)


def fx_factor(currency: str, base: str) -> str:
    """The factor of one unit of ``currency`` in ``base`` (``EUR/USD``; from ``USD/JPY``'s bars
    inverted when ``JPY/USD`` has none)."""
    return f"{currency}/{base}"


def foreign_factor(factor: str, currency: str, base: str) -> str:
    """The factor of a ``currency``-quoted position on ``factor``, measured in ``base``."""
    return f"{factor} in {base} ({currency})"


def _foreign(name: str) -> tuple[str, str, str] | None:
    """(local factor, currency, base) of a ``foreign_factor`` name; None for any other factor."""
    if not name.endswith(")") or " in " not in name or " (" not in name:
        return None
    local, rest = name.rsplit(" in ", 1)
    base, ccy = rest[:-1].split(" (", 1)
    return local, ccy, base


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
    base = portfolio.base
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
        if inst.currency != base:  # its local moves and its currency's, compounded
            factor = foreign_factor(factor, inst.currency, base)
        drafts.append((Exposure(p.symbol, factor, value, **label), own))
    for ccy, amount in sorted(portfolio.cash.items()):
        if ccy != base and amount:  # foreign cash moves with its rate into the base currency
            drafts.append((Exposure(f"{ccy} cash", fx_factor(ccy, base), float(portfolio.to_base(amount, ccy)),
                                    asset_class="cash", sector="Cash"), None))

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
        elif e.factor in hit.why:
            left.append(f"{e.symbol}: {hit.why[e.factor]}")
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
    why: dict[str, str] = {}
    rates: dict[tuple[str, str], list[Bar]] = {}

    async def local(f: str, key: str) -> list[Bar]:
        bars = await bars_of(f)
        if not bars and key in own:
            bars = await bars_of(own[key])
        return bars

    async def rate(ccy: str, base: str) -> list[Bar]:
        """Daily bars of one ``ccy`` in ``base`` (the pair's closes, or the inverse pair's inverted)."""
        if (ccy, base) not in rates:
            bars = await bars_of(f"{ccy}/{base}")
            if len(bars) < 2:
                bars = [Bar(b.symbol, b.ts, 1 / b.open, 1 / b.low, 1 / b.high, 1 / b.close, b.volume, b.seconds)
                        for b in await bars_of(f"{base}/{ccy}") if b.close > 0 and b.open > 0 and b.low > 0]
            rates[(ccy, base)] = bars
        return rates[(ccy, base)]

    for f in factors:
        foreign = _foreign(f)
        if foreign is None and f.count("/") == 1:  # a pair (or foreign cash): its own bars, else its inverse's
            ccy, base = f.split("/")
            bars = await rate(ccy, base)
        elif foreign is not None:
            name, ccy, base = foreign
            fx = await rate(ccy, base)
            bars = _compound(await local(name, f), fx) if len(fx) > 1 else []
            if len(fx) < 2:
                why[f] = f"no daily history of {ccy}/{base} or {base}/{ccy}: its currency's moves cannot be measured"
            elif len(bars) < 2:
                why[f] = f"no daily history of {name}"
        else:
            bars = await local(f, f)
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
    return _Cached(matrix, b, covariance(matrix.values, decay), why)


def _compound(bars: list[Bar], fx: list[Bar]) -> list[Bar]:
    """Daily closes of a foreign position in the base currency: its close x the rate's close on
    the same UTC day (days one of them lacks are dropped), so each simple return is
    (1 + local return) x (1 + the currency's return) - 1."""
    rate = {int(b.ts // DAY): b.close for b in sorted(fx, key=lambda b: b.ts)}
    out = []
    for b in sorted(bars, key=lambda b: b.ts):
        r = rate.get(int(b.ts // DAY))
        if r is not None and r > 0:
            out.append(Bar(b.symbol, b.ts, b.open * r, b.high * r, b.low * r, b.close * r, b.volume, b.seconds))
    return out
