"""Stress scenarios: what the portfolio makes or loses if the market moves at once.

A ``Scenario`` is a set of shocks, as fractions (-0.1 = -10%):

* **factors**: ``equity`` (the equity market: stocks, ETFs, cash indices and index futures),
  ``crypto`` (every crypto pair), ``vol`` (implied volatility, relative: 0.5 = each option's
  IV x 1.5) and ``dollar`` (the US dollar against every other currency: +0.05 makes a dollar
  worth 5% more of each, so EUR/USD falls to 1/1.05 of itself, USD/JPY rises 5%, and a
  EUR-quoted asset or EUR cash is worth 1/1.05 as many dollars);
* **overrides**: a move per ``symbols`` entry, per ``sectors`` entry
  (``workstation.core.sectors``, with the user's ``[sectors]``) and per ``asset_classes``
  entry (equity, crypto, forex, future, index).

**Precedence.** One price move applies to each instrument, the first found of: its symbol's,
its sector's, its asset class's, then its market factor (equity or crypto; for a forex pair
the dollar's). A symbol, sector or asset-class move replaces the factor, it does not add to
it. An option moves with its underlying (looked up by the same rules) and is revalued; the
dollar move always applies on top, to the conversion into the base currency.

**Index families.** An index future moves with its index, and an index with its ETF, unless
the scenario names the symbol itself. A future looks up its own symbol, its root, its index,
then the index's ETF; a cash index itself, then its ETF; an ETF itself, then its index:

====================  =======  ====
futures roots          index    ETF
====================  =======  ====
ES, MES                SPX      SPY
NQ, MNQ                NDX      QQQ
YM, MYM                DJIA     DIA
RTY, M2K               RUT      IWM
====================  =======  ====

Other futures (CL, GC, ZN, 6E...) have no market factor: only a symbol, root or
``asset_classes.future`` move shocks them.

**Profit and loss**, per position, in the base currency (Decimal):

* linear instruments (equity, ETF, crypto, forex, futures): ``qty x multiplier x price x move``,
  converted at the current rate; exact where the arithmetic is (no dollar move), rounded to the
  cent where a dollar move divides;
* options: revalued by Black-Scholes-Merton (``bsm_price``) at the shocked underlying and the
  shocked IV, the same time to expiry, less the model value now (so a long put gains more in a
  selloff than its delta says; a short call loses); rounded to the cent. An option without an
  implied volatility (see ``workstation.trading.greeks``) is not revalued and the result says so;
* cash held in other currencies: revalued by the dollar move.

Shipped scenarios: ``SHIPPED``. Historical replays: ``replay`` builds a scenario from the
cumulative move of each symbol over a window of daily bars. Engine glue: ``inputs_from_session``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from workstation.core.model import ZERO, AssetClass, Bar, Instrument, Right
from workstation.core.sectors import SectorMap

__all__ = [
    "ETF_OF_INDEX", "INDEX_OF_FUTURE", "SHIPPED", "Holding", "PositionStress", "Scenario", "StressError",
    "StressInputs", "StressResult", "aliases", "inputs_from_session", "parse_window", "replay", "run", "run_all",
    "scenarios", "window_move",
]

CENT = Decimal("0.01")
ONE = Decimal(1)
INDEX_OF_FUTURE: Mapping[str, str] = {
    "ES": "SPX", "MES": "SPX", "NQ": "NDX", "MNQ": "NDX", "YM": "DJIA", "MYM": "DJIA", "RTY": "RUT", "M2K": "RUT",
}
ETF_OF_INDEX: Mapping[str, str] = {"SPX": "SPY", "NDX": "QQQ", "DJIA": "DIA", "RUT": "IWM"}
_INDEX_OF_ETF = {etf: index for index, etf in ETF_OF_INDEX.items()}
MIN_VOL = 1e-4  # a shocked IV never goes below this


class StressError(ValueError):
    """A scenario or a window that cannot be used; the message is one line."""


def _root(symbol: str) -> str:
    return symbol.split("-", 1)[0]


def aliases(inst: Instrument) -> list[str]:
    """The symbols whose move ``inst`` takes, in order (itself first; its index family next)."""
    sym = inst.symbol
    if inst.asset_class is AssetClass.FUTURE:
        root = _root(sym)
        index = INDEX_OF_FUTURE.get(root)
        return [sym, root] + ([index, ETF_OF_INDEX[index]] if index else [])
    if sym in ETF_OF_INDEX:
        return [sym, ETF_OF_INDEX[sym]]
    if sym in _INDEX_OF_ETF:
        return [sym, _INDEX_OF_ETF[sym]]
    return [sym]


def _is_equity_market(inst: Instrument) -> bool:
    if inst.asset_class in (AssetClass.EQUITY, AssetClass.INDEX):
        return True
    return inst.asset_class is AssetClass.FUTURE and _root(inst.symbol) in INDEX_OF_FUTURE


def _pct(x: Decimal) -> str:
    return f"{x * 100:+.1f}%"


@dataclass(frozen=True, slots=True)
class Scenario:
    """A set of shocks (fractions: -0.1 = -10%); see the module for what each moves and the precedence."""

    name: str
    description: str = ""
    equity: Decimal = ZERO
    vol: Decimal = ZERO
    crypto: Decimal = ZERO
    dollar: Decimal = ZERO
    symbols: Mapping[str, Decimal] = field(default_factory=dict)
    sectors: Mapping[str, Decimal] = field(default_factory=dict)
    asset_classes: Mapping[str, Decimal] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what a historical replay had to assume

    def move(self, inst: Instrument, sector: str) -> tuple[Decimal, str]:
        """The price move of ``inst`` (not an option: see ``Scenario.underlying_move``) and where it comes from."""
        for name in aliases(inst):
            if name in self.symbols:
                return self.symbols[name], f"symbol {name}"
        if sector in self.sectors:
            return self.sectors[sector], f"sector {sector}"
        if inst.asset_class.value in self.asset_classes:
            return self.asset_classes[inst.asset_class.value], f"asset class {inst.asset_class.value}"
        if _is_equity_market(inst):
            return self.equity, "equity market"
        if inst.asset_class is AssetClass.CRYPTO:
            return self.crypto, "crypto market"
        if inst.asset_class is AssetClass.FOREX and inst.base:
            return self.currency_factor(inst.base) / self.currency_factor(inst.currency) - ONE, "dollar"
        return ZERO, "no shock"

    def currency_factor(self, currency: str) -> Decimal:
        """What one unit of ``currency`` becomes, in world terms, after the dollar move."""
        return ONE + self.dollar if currency == "USD" else ONE

    def conversion(self, currency: str, base: str) -> Decimal:
        """The factor a rate from ``currency`` into ``base`` is multiplied by."""
        if currency == base or not self.dollar:
            return ONE
        return self.currency_factor(currency) / self.currency_factor(base)

    @classmethod
    def from_settings(cls, s: Any) -> Scenario:
        """A scenario from a ``StressScenarioSettings`` (``[[stress.scenarios]]``, already validated)."""
        return cls(
            name=s.name, description=s.description, equity=s.equity, vol=s.vol, crypto=s.crypto, dollar=s.dollar,
            symbols={k.upper(): v for k, v in s.symbols.items()}, sectors=dict(s.sectors),
            asset_classes=dict(s.asset_classes),
        )


SHIPPED: tuple[Scenario, ...] = (
    Scenario("equities -10%", "every stock, ETF, index and index future 10% lower", equity=Decimal("-0.10")),
    Scenario("equities -20%", "every stock, ETF, index and index future 20% lower", equity=Decimal("-0.20")),
    Scenario("volatility +50%", "every option's implied volatility half as high again, prices unchanged", vol=Decimal("0.5")),
    Scenario("crypto -30%", "every crypto pair 30% lower", crypto=Decimal("-0.30")),
    Scenario("dollar +5%", "the US dollar 5% stronger against every other currency", dollar=Decimal("0.05")),
    Scenario(
        "risk-off", "equities -10%, crypto -20%, volatility +50%, the dollar +2%",
        equity=Decimal("-0.10"), crypto=Decimal("-0.20"), vol=Decimal("0.5"), dollar=Decimal("0.02"),
    ),
)


def scenarios(settings: Any = None) -> list[Scenario]:
    """The shipped scenarios, then the user's (``settings.stress.scenarios``)."""
    mine = [Scenario.from_settings(s) for s in settings.stress.scenarios] if settings is not None else []
    return [*SHIPPED, *mine]


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Holding:
    """One open position as a scenario needs it. ``price``: its mark in its own currency.
    Options also carry the underlying's price (``spot``), the ``iv`` (None: unknown), the
    years to expiry, the dividend yield and the rate; ``underlying`` is the underlying's instrument."""

    instrument: Instrument
    qty: Decimal
    price: Decimal
    sector: str
    underlying: Instrument | None = None
    spot: float | None = None
    iv: float | None = None
    years: float = 0.0
    div: float = 0.0
    rate: float = 0.04


@dataclass(frozen=True, slots=True)
class StressInputs:
    """The portfolio as a scenario sees it: holdings, cash per currency, rates into ``base``
    (units of base per unit of a currency; a missing rate counts as 1, as the portfolio shows
    an amount it cannot convert), and the equity the P&L is a share of."""

    base: str
    equity: Decimal
    holdings: tuple[Holding, ...] = ()
    cash: Mapping[str, Decimal] = field(default_factory=dict)
    fx: Mapping[str, Decimal] = field(default_factory=dict)

    def rate(self, currency: str) -> Decimal:
        return ONE if currency == self.base else self.fx.get(currency, ONE)


@dataclass(frozen=True, slots=True)
class PositionStress:
    """One position under a scenario: ``value`` its signed value now (futures: notional), ``move``
    the price move applied to it (an option: its underlying's), ``source`` where that move
    comes from, ``pnl`` in the base currency; ``revalued``: an option priced by the model."""

    symbol: str
    asset_class: str
    sector: str
    qty: Decimal
    value: Decimal
    move: Decimal
    source: str
    pnl: Decimal
    revalued: bool = False
    note: str = ""


@dataclass(frozen=True, slots=True)
class StressResult:
    """A scenario applied: the total P&L, its share of equity (percent), each position's P&L,
    and the P&L by sector and by asset class (worst first). A historical replay also carries its
    ``window`` (``workstation.risk.replays``)."""

    scenario: str
    description: str
    base: str
    equity: Decimal
    pnl: Decimal
    pnl_pct: Decimal | None
    positions: tuple[PositionStress, ...]
    by_sector: tuple[tuple[str, Decimal], ...]
    by_asset_class: tuple[tuple[str, Decimal], ...]
    notes: tuple[str, ...] = ()
    window: str = ""  # a historical replay's START..END ("" for a scenario)
    measured: bool = True  # False: a replay whose window holds no bar of any held symbol (P&L 0, not a result)

    def worst(self, n: int = 5) -> list[PositionStress]:
        """The ``n`` positions that lose most (only those that lose)."""
        losing = [p for p in self.positions if p.pnl < 0]
        return sorted(losing, key=lambda p: p.pnl)[:n]


# --------------------------------------------------------------------------- applying


def _cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, ROUND_HALF_EVEN)


def run(inputs: StressInputs, scenario: Scenario) -> StressResult:
    """Apply ``scenario`` to the portfolio ``inputs``: see the module for the rules."""
    rows: list[PositionStress | None] = []
    options: list[tuple[int, Holding, Decimal, str]] = []
    notes = list(scenario.notes)
    base = inputs.base
    for h in inputs.holdings:
        inst = h.instrument
        fx = inputs.rate(inst.currency)
        conv = scenario.conversion(inst.currency, base)
        value = h.qty * inst.multiplier * h.price * fx
        if inst.asset_class is AssetClass.OPTION:
            under = h.underlying
            move, source = scenario.move(under, h.sector) if under is not None else (ZERO, "no underlying")
            options.append((len(rows), h, move, source))
            rows.append(None)
            continue
        move, source = scenario.move(inst, h.sector)
        pnl = value * ((ONE + move) * conv - ONE)
        if conv != ONE or source == "dollar":  # (a division by 1 + the dollar's move)
            pnl = _cents(pnl)
        rows.append(PositionStress(inst.symbol, inst.asset_class.value, h.sector, h.qty, value, move, source, pnl + 0))
    if options:
        _revalue(inputs, scenario, options, rows)
    done = [r for r in rows if r is not None]
    for ccy, amount in sorted(inputs.cash.items()):
        if ccy == base or not amount:
            continue
        value = amount * inputs.rate(ccy)
        conv = scenario.conversion(ccy, base)
        pnl = _cents(value * (conv - ONE)) if conv != ONE else ZERO
        done.append(PositionStress(f"{ccy} cash", "cash", "Cash", amount, value, ZERO, "dollar" if conv != ONE else "no shock", pnl + 0))
    for ccy in sorted({h.instrument.currency for h in inputs.holdings} | set(inputs.cash)):
        if ccy != base and ccy not in inputs.fx:
            notes.append(f"no {ccy}/{base} rate: {ccy} amounts counted unconverted")
    unpriced = [r.symbol for r in done if r.note]
    if unpriced:
        notes.append(f"not revalued (no implied volatility): {', '.join(unpriced)}")
    total = sum((r.pnl for r in done), ZERO)
    pct = _cents(total / inputs.equity * 100) if inputs.equity > 0 else None
    return StressResult(
        scenario=scenario.name, description=scenario.description, base=base, equity=inputs.equity, pnl=total,
        pnl_pct=pct, positions=tuple(done), by_sector=_by(done, "sector"), by_asset_class=_by(done, "asset_class"),
        notes=tuple(notes),
    )


def run_all(inputs: StressInputs, chosen: Iterable[Scenario]) -> list[StressResult]:
    """Every scenario of ``chosen`` applied, in order."""
    return [run(inputs, s) for s in chosen]


def _by(rows: Sequence[PositionStress], attr: str) -> tuple[tuple[str, Decimal], ...]:
    sums: dict[str, Decimal] = {}
    for r in rows:
        key = getattr(r, attr)
        sums[key] = sums.get(key, ZERO) + r.pnl
    return tuple(sorted(sums.items(), key=lambda kv: (kv[1], kv[0])))


def _revalue(inputs: StressInputs, scenario: Scenario, options: list[tuple[int, Holding, Decimal, str]],
             rows: list[PositionStress | None]) -> None:
    """Every option of the portfolio in one vectorized Black-Scholes-Merton call (now and shocked)."""
    import numpy as np  # only once an option is held

    from workstation.core.options import bsm_price

    live = [(j, h, m, src) for j, h, m, src in options if h.iv is not None and h.spot is not None and h.spot > 0
            and math.isfinite(h.iv)]
    priced = {j for j, _, _, _ in live}
    for j, h, move, src in options:
        if j not in priced:
            inst = h.instrument
            value = h.qty * inst.multiplier * h.price * inputs.rate(inst.currency)
            rows[j] = PositionStress(inst.symbol, "option", h.sector, h.qty, value, move, src, ZERO, note="no implied volatility")
    if not live:
        return
    spot = np.array([h.spot for _, h, _, _ in live], dtype=float)
    moved = spot * np.array([1.0 + float(m) for _, _, m, _ in live])
    strike = np.array([float(h.instrument.strike or 0) for _, h, _, _ in live])
    years = np.array([h.years for _, h, _, _ in live])
    rate = np.array([h.rate for _, h, _, _ in live])
    div = np.array([h.div for _, h, _, _ in live])
    iv = np.array([h.iv for _, h, _, _ in live], dtype=float)
    shocked_iv = np.maximum(iv * (1.0 + float(scenario.vol)), MIN_VOL)
    call = np.array([h.instrument.right is Right.CALL for _, h, _, _ in live])
    now = bsm_price(spot, strike, years, rate, div, iv, call)
    then = bsm_price(np.maximum(moved, 0.0), strike, years, rate, div, shocked_iv, call)
    for k, (j, h, move, src) in enumerate(live):
        inst = h.instrument
        fx = inputs.rate(inst.currency)
        conv = scenario.conversion(inst.currency, inputs.base)
        units = h.qty * inst.multiplier
        new = units * Decimal(repr(float(then[k]))) * fx * conv
        old = units * Decimal(repr(float(now[k]))) * fx
        rows[j] = PositionStress(
            inst.symbol, "option", h.sector, h.qty, units * h.price * fx, move, src, _cents(new - old) + 0, revalued=True,
        )


# --------------------------------------------------------------------------- historical replay


def parse_window(text: str) -> tuple[date, date]:
    """``2025-04-02..2025-04-08`` -> (start, end), both inclusive; StressError otherwise."""
    parts = text.strip().split("..")
    try:
        if len(parts) != 2:
            raise ValueError
        start, end = date.fromisoformat(parts[0].strip()), date.fromisoformat(parts[1].strip())
    except ValueError:
        raise StressError(f"window must read START..END (e.g. 2025-04-02..2025-04-08), got {text!r}") from None
    if end < start:
        raise StressError(f"window ends ({end}) before it starts ({start})")
    return start, end


def _day(bar: Bar) -> date:
    return datetime.fromtimestamp(bar.ts, UTC).date()


def window_move(bars: Sequence[Bar], start: date, end: date) -> Decimal | None:
    """The cumulative move over [start, end]: the last close on or before ``end`` against the
    last close before ``start`` (the first bar's open when the data begins inside the window);
    None without a bar in the window."""
    before: Bar | None = None
    inside: list[Bar] = []
    for b in sorted(bars, key=lambda b: b.ts):
        d = _day(b)
        if d < start:
            before = b
        elif d <= end:
            inside.append(b)
    if not inside:
        return None
    first = before.close if before is not None else inside[0].open
    if not (first > 0 and inside[-1].close > 0):
        return None
    return Decimal(repr(round(inside[-1].close / first - 1.0, 6)))


def replay(bars: Mapping[str, Sequence[Bar]], window: str | tuple[date, date], *, held: Iterable[str] = (),
           sectors: SectorMap | None = None, name: str | None = None) -> Scenario:
    """A scenario from history: each symbol of ``bars`` moves as it did over ``window``
    (``START..END`` or a pair of dates). A ``held`` symbol without bars in the window moves
    with its index family if one has them, else its sector's average move, else the average
    of every symbol measured (said in the scenario's ``notes``)."""
    start, end = parse_window(window) if isinstance(window, str) else window
    label = f"{start.isoformat()}..{end.isoformat()}"
    smap = sectors or SectorMap()
    moves: dict[str, Decimal] = {}
    for sym, series in bars.items():
        m = window_move(series, start, end)
        if m is not None:
            moves[sym.upper()] = m
    if not moves:
        raise StressError(f"no bars in {label} for any symbol: nothing to replay")
    notes: list[str] = []
    by_sector: dict[str, list[Decimal]] = {}
    for sym, m in moves.items():
        by_sector.setdefault(smap.sector(sym), []).append(m)
    market = _mean(list(moves.values()))
    filled: dict[str, Decimal] = {}
    for sym in dict.fromkeys(s.upper() for s in held):
        if sym in moves:
            continue
        from workstation.core.symbols import parse_symbol

        try:
            inst = parse_symbol(sym)
        except ValueError:
            inst = Instrument(symbol=sym, asset_class=AssetClass.EQUITY)
        family = next((a for a in aliases(inst)[1:] if a in moves), None)
        if family is not None:
            notes.append(f"{sym}: no bars in the window, moves with {family} ({_pct(moves[family])})")
            continue
        sector = smap.sector(sym)
        if sector in by_sector:
            filled[sym] = _mean(by_sector[sector])
            notes.append(f"{sym}: no bars in the window, took the {sector} average ({_pct(filled[sym])})")
        else:
            filled[sym] = market
            notes.append(f"{sym}: no bars in the window, took the average of every symbol measured ({_pct(market)})")
    return Scenario(
        name=name or f"replay {label}", description=f"each symbol's move from the close before {start} to the close of {end}",
        symbols={**moves, **filled}, notes=tuple(notes),
    )


def _mean(values: list[Decimal]) -> Decimal:
    return (sum(values, ZERO) / len(values)).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)


# --------------------------------------------------------------------------- engine glue


def inputs_from_session(session: Any) -> StressInputs:
    """The portfolio of a running ``Session`` as a scenario needs it: its open positions at
    their marks (the quote's price when there is no mark), the options' IVs from its
    GreekBook (its fallbacks included), cash per currency, the feed's FX rates and the
    account's equity. One call for every face."""
    from workstation.core.options import year_fraction
    from workstation.core.symbols import parse_symbol

    portfolio = session.portfolio
    book = session.greeks
    smap = SectorMap(session.settings.sectors)
    base = portfolio.base
    now = session.clock.time()
    instrument = book.instrument if book is not None else parse_symbol
    positions = [p for p in portfolio.positions() if p.qty]
    opts = [p.symbol for p in positions if instrument(p.symbol).asset_class is AssetClass.OPTION]
    units = book.units(opts) if book is not None and opts else {}
    holdings: list[Holding] = []
    currencies: set[str] = set()
    for p in positions:
        inst = instrument(p.symbol)
        currencies.add(inst.currency)
        price = portfolio.last(p.symbol)
        if price is None and book is not None:
            known = book.price(p.symbol)
            price = Decimal(repr(known)) if known is not None else None
        if price is None:
            price = p.avg_price
        if inst.asset_class is AssetClass.OPTION and inst.underlying:
            under = instrument(inst.underlying)
            u = units.get(p.symbol)
            holdings.append(Holding(
                inst, p.qty, price, smap.sector(_sector_symbol(under)), under,
                spot=u.spot if u is not None else None, iv=u.iv if u is not None else None,
                years=year_fraction(inst.expiry, now) if inst.expiry is not None else 0.0,
                div=book.dividend(under.symbol) if book is not None else 0.0,
                rate=book.rate if book is not None else 0.04,
            ))
        else:
            holdings.append(Holding(inst, p.qty, price, smap.sector(_sector_symbol(inst))))
    cash = {c: v for c, v in portfolio.cash.items() if v}
    currencies |= set(cash)
    fx = {}
    for ccy in currencies - {base}:
        r = session.quotes.rate(ccy)
        if r is not None:
            fx[ccy] = r
    return StressInputs(base=base, equity=portfolio.equity(), holdings=tuple(holdings), cash=cash, fx=fx)


def _sector_symbol(inst: Instrument) -> str:
    """The symbol whose sector an instrument counts in (an index future: its index's ETF)."""
    if inst.asset_class is AssetClass.FUTURE:
        index = INDEX_OF_FUTURE.get(_root(inst.symbol))
        return ETF_OF_INDEX[index] if index else inst.symbol
    if inst.asset_class is AssetClass.INDEX and inst.symbol in ETF_OF_INDEX:
        return ETF_OF_INDEX[inst.symbol]
    return inst.symbol
