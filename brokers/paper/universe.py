"""The paper market's universe: the instruments the paper broker quotes and trades.

The shipped symbols file (``brokers/paper/universe.toml``) declares stocks, ETFs and indices
(reference price, volatility, sector, options rules), the crypto assets and the quote
currencies they trade against, the forex currencies (every pair of them trades), the futures
contract table (multiplier, tick, listed months and how many contracts are open) and the
option rules (listed expiries, strike bands). The user adds symbols with a file in the same
format or a table of symbols with a reference price and sector (``[paper]`` in the settings).

``Universe.check(symbol, today)`` is the door: it returns the ``Instrument`` or raises
``UniverseError`` with one line naming the problem: an unknown name (with a suggestion when
one is close), an expired or non-listed contract, an expiry that is not listed, a strike off
the increment or outside the listed range. Backtests and replays do not ask it: their data
files define their series.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from workstation.core.model import AssetClass, Instrument, ModelError, plain
from workstation.core.symbols import FUTURES as CONTRACT_SPECS
from workstation.core.symbols import INDICES, parse_symbol

SHIPPED = "universe.toml"
_USD_QUOTED = frozenset({"EUR", "GBP", "AUD", "NZD"})  # quoted in dollars; other currencies per dollar


class UniverseError(ValueError):
    """A symbol the paper market does not list, or a malformed symbols file; one line."""


@dataclass(frozen=True, slots=True)
class Listing:
    """A stock, ETF or index of the universe."""

    symbol: str
    kind: str  # "stock", "etf" or "index"
    price: Decimal
    vol: float
    sector: str
    weeklies: bool = False
    strike_step: Decimal | None = None


@dataclass(frozen=True, slots=True)
class FutureRoot:
    """A futures contract of the universe: its specification and listing cycle."""

    root: str
    name: str
    price: Decimal
    multiplier: Decimal
    tick: Decimal
    months: tuple[int, ...]
    listed: int


@dataclass(frozen=True, slots=True)
class OptionRules:
    """Which expiries and strikes are listed for options on a listing."""

    weeklies: int = 5
    monthlies: int = 6
    quarterlies: int = 24
    leaps: int = 3
    low: Decimal = Decimal("0.5")
    high: Decimal = Decimal("1.5")
    steps: tuple[tuple[Decimal, Decimal], ...] = ((Decimal(0), Decimal(1)),)


def _weekday(d: date) -> bool:
    return d.weekday() < 5


@dataclass(frozen=True, slots=True)
class Universe:
    """The declared instruments (see the module docstring)."""

    listings: Mapping[str, Listing]
    crypto: Mapping[str, tuple[Decimal, float]]
    crypto_quotes: frozenset[str]
    currencies: frozenset[str]
    futures: Mapping[str, FutureRoot]
    options: OptionRules = OptionRules()
    trading_day: Callable[[date], bool] = field(default=_weekday, compare=False)

    # ------------------------------------------------------------------ the door

    def check(self, symbol: str, today: date) -> Instrument:
        """The instrument, if the paper market lists it on ``today``; else UniverseError."""
        try:
            inst = parse_symbol(symbol)
        except ModelError as exc:
            raise UniverseError(str(exc)) from None
        ac = inst.asset_class
        if ac is AssetClass.EQUITY or ac is AssetClass.INDEX:
            self._listing(inst.symbol)
        elif ac is AssetClass.FOREX:
            self._forex(inst)
        elif ac is AssetClass.CRYPTO:
            self._crypto(inst)
        elif ac is AssetClass.FUTURE:
            self._future(inst, today)
        elif ac is AssetClass.OPTION:
            self._option(inst, today)
        return inst

    def _listing(self, name: str, what: str = "") -> Listing:
        hit = self.listings.get(name)
        if hit is not None:
            return hit
        near = _nearest(name, self.listings)
        hint = f"; did you mean {near}?" if near else " (add it under [paper.symbols] in the settings file)"
        raise UniverseError(f"{name}{what} is not in the paper market's universe{hint}")

    def _forex(self, inst: Instrument) -> None:
        base, quote = inst.symbol.split("/")
        for ccy in (base, quote):
            if ccy not in self.currencies:
                raise UniverseError(f"{inst.symbol}: the paper market does not trade {ccy} (forex currencies: {', '.join(sorted(self.currencies))})")

    def _crypto(self, inst: Instrument) -> None:
        base, quote = inst.symbol.split("/")
        if base not in self.crypto:
            near = _nearest(base, self.crypto)
            hint = f"; did you mean {near}/{quote}?" if near else f" (crypto assets: {', '.join(sorted(self.crypto))})"
            raise UniverseError(f"{inst.symbol} is not in the paper market's universe{hint}")
        if quote not in self.crypto_quotes:
            raise UniverseError(f"{inst.symbol}: the paper market quotes crypto in {', '.join(sorted(self.crypto_quotes))}, not {quote}")

    def _future(self, inst: Instrument, today: date) -> None:
        root = inst.underlying or inst.symbol
        spec = self.futures.get(root)
        if spec is None:
            raise UniverseError(
                f"{inst.symbol}: {root} is not a futures contract of the paper market (roots: {', '.join(sorted(self.futures))})"
            )
        assert inst.expiry is not None
        if inst.expiry < today:
            raise UniverseError(f"{inst.symbol} expired on {inst.expiry.isoformat()}")
        listed = self.contracts(root, today)
        if inst.symbol not in listed:
            raise UniverseError(f"{inst.symbol} is not listed; {root} contracts open now: {', '.join(listed[:6])}")

    def _option(self, inst: Instrument, today: date) -> None:
        und = inst.underlying or ""
        listing = self._listing(und, " (the option's underlying)")
        assert inst.expiry is not None and inst.strike is not None
        if inst.expiry < today:
            raise UniverseError(f"{inst.symbol} expired on {inst.expiry.isoformat()}")
        expiries = self.expiries(und, today)
        if inst.expiry not in expiries:
            after = [d.isoformat() for d in expiries if d > inst.expiry][:2]
            before = [d.isoformat() for d in expiries if d < inst.expiry][-1:]
            near = ", ".join(before + after) or "none"
            raise UniverseError(f"{inst.symbol}: {und} options do not expire on {inst.expiry.isoformat()} (nearest listed: {near})")
        low, high = self.strike_range(listing)
        step = self.strike_step(listing, inst.strike)
        if not low <= inst.strike <= high:
            raise UniverseError(
                f"{inst.symbol}: strike {plain(inst.strike)} is not listed; {und} strikes run from {plain(low)} to {plain(high)}"
            )
        if inst.strike % step:
            below = inst.strike - inst.strike % step
            raise UniverseError(
                f"{inst.symbol}: strike {plain(inst.strike)} is off the {plain(step)} increment"
                f" (nearest listed: {plain(below)} or {plain(below + step)})"
            )

    # ------------------------------------------------------------------ listing rules

    def contracts(self, root: str, today: date) -> list[str]:
        """The open contracts of a futures root on ``today``, nearest first."""
        spec = self.futures[root]
        out: list[str] = []
        y, m = today.year, today.month
        while len(out) < spec.listed:
            if m in spec.months and _third_friday(y, m) >= today:
                out.append(f"{root}-{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out

    def expiries(self, underlying: str, today: date) -> list[date]:
        """The listed option expiries of ``underlying`` on ``today``, in order."""
        rules = self.options
        listing = self.listings.get(underlying)
        fridays: set[date] = set()
        if listing is not None and listing.weeklies:
            friday = today + timedelta(days=(4 - today.weekday()) % 7)
            fridays.update(friday + timedelta(weeks=i) for i in range(rules.weeklies))
        for ahead in range(max(rules.quarterlies, rules.monthlies, 12 * rules.leaps + 1) + 1):
            y, m = today.year + (today.month - 1 + ahead) // 12, (today.month - 1 + ahead) % 12 + 1
            monthly = ahead <= rules.monthlies
            quarterly = m % 3 == 0 and ahead <= rules.quarterlies
            leap = m == 1 and ahead <= 12 * rules.leaps + 1
            if monthly or quarterly or leap:
                fridays.add(_third_friday(y, m))
        out = {self._expiry_day(f) for f in fridays}
        return sorted(d for d in out if d >= today)

    def _expiry_day(self, friday: date) -> date:
        """The expiry of a Friday cycle: the Friday, or the trading day before a holiday."""
        d = friday
        for _ in range(4):
            if self.trading_day(d):
                return d
            d -= timedelta(days=1)
        return friday

    def strike_range(self, listing: Listing) -> tuple[Decimal, Decimal]:
        """The lowest and highest listed strikes on a listing, on its steps."""
        low = listing.price * self.options.low
        high = listing.price * self.options.high
        step_lo, step_hi = self.strike_step(listing, low), self.strike_step(listing, high)
        return max(_ceil_to(low, step_lo), step_lo), _floor_to(high, step_hi)

    def strike_step(self, listing: Listing, strike: Decimal) -> Decimal:
        """The strike increment at ``strike`` for options on ``listing``."""
        if listing.strike_step is not None:
            return listing.strike_step
        step = self.options.steps[0][1]
        for start, inc in self.options.steps:
            if strike >= start:
                step = inc
        return step

    def strikes(self, underlying: str) -> list[Decimal]:
        """Every listed strike on ``underlying``, lowest first."""
        listing = self.listings[underlying]
        low, high = self.strike_range(listing)
        out, k = [], low
        while k <= high:
            out.append(k)
            k += self.strike_step(listing, k)
            k = _ceil_to(k, self.strike_step(listing, k))
        return out

    def symbols(self, today: date) -> list[str]:
        """Every spot symbol and futures contract listed on ``today`` (options are generated:
        ``expiries`` and ``strikes``)."""
        out = list(self.listings)
        out += [f"{b}/{q}" for b in self.crypto for q in sorted(self.crypto_quotes) if b != q and not _both_fiat(b, q, self)]
        # forex as quoted by convention (EUR/USD, USD/JPY); every other pair of currencies trades too
        out += [f"{c}/USD" if c in _USD_QUOTED else f"USD/{c}" for c in sorted(self.currencies) if c != "USD"]
        for root in self.futures:
            out += self.contracts(root, today)
        return out

    def sector(self, symbol: str) -> str | None:
        """The sector a listing declares (None for pairs, futures and options)."""
        hit = self.listings.get(symbol)
        return hit.sector if hit is not None else None

    # ------------------------------------------------------------------ extension

    def extended_by(self, extra_file: str | Path | None = None, extra_symbols: Mapping[str, Any] | None = None) -> Universe:
        """This universe plus a user's symbols file and table of symbols (``[paper]``:
        entries are tables or structs with a price, and optionally sector, vol, weeklies)."""
        out = self
        if extra_file:
            path = Path(extra_file).expanduser()
            try:
                raw = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                raise UniverseError(f"universe file {path} cannot be read ({exc.__class__.__name__})") from None
            except tomllib.TOMLDecodeError as exc:
                raise UniverseError(f"universe file {path} is not valid TOML: {exc}") from None
            out = out.extended(raw, str(path))
        if extra_symbols:
            table = {k: v if isinstance(v, dict) else _fields(v) for k, v in extra_symbols.items()}
            out = out.extended({"stocks": table}, "[paper.symbols]")
        return out

    def extended(self, extra: Mapping[str, Any] | None = None, source: str = "settings") -> Universe:
        """This universe plus the symbols of another file's tables (``stocks``, ``etfs``,
        ``indices``, ``crypto``, ``forex``): the added entries win."""
        if not extra:
            return self
        more = _parse(extra, source, self.options)
        return Universe(
            listings={**self.listings, **more.listings},
            crypto={**self.crypto, **more.crypto},
            crypto_quotes=self.crypto_quotes | more.crypto_quotes,
            currencies=self.currencies | more.currencies,
            futures={**self.futures, **more.futures},
            options=self.options,
            trading_day=self.trading_day,
        )


def _nearest(name: str, known: Iterable[str]) -> str | None:
    """The known name one edit away (two for longer names; a swap of neighbours is one), if any."""
    best: tuple[int, str] | None = None
    for cand in known:
        if abs(len(cand) - len(name)) > 2:
            continue
        d = _distance(name, cand)
        if d <= (1 if len(name) <= 3 else 2) and (best is None or d < best[0]):
            best = (d, cand)
    return best[1] if best else None


def _distance(a: str, b: str) -> int:
    """Edit distance with adjacent transpositions (optimal string alignment)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def _both_fiat(a: str, b: str, u: Universe) -> bool:
    return a in u.currencies and b in u.currencies


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def _ceil_to(x: Decimal, step: Decimal) -> Decimal:
    r = x % step
    return x if not r else x - r + step


def _floor_to(x: Decimal, step: Decimal) -> Decimal:
    return x - x % step


# ---------------------------------------------------------------------- loading


def load_universe(
    extra_file: str | Path | None = None,
    extra_symbols: Mapping[str, Any] | None = None,
    trading_day: Callable[[date], bool] = _weekday,
) -> Universe:
    """The shipped universe, plus a user's symbols file and table of symbols (UniverseError
    naming the file and the entry for anything malformed)."""
    text = resources.files("brokers.paper").joinpath(SHIPPED).read_text(encoding="utf-8")
    return _parse(tomllib.loads(text), SHIPPED, OptionRules(), trading_day).extended_by(extra_file, extra_symbols)


def _fields(entry: object) -> dict[str, Any]:
    """A settings struct's fields as a table."""
    slots = getattr(entry, "__struct_fields__", ())
    return {name: getattr(entry, name) for name in slots}


def _dec(value: object, where: str) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise UniverseError(f"{where}: {value!r} is not a number") from None
    if not d.is_finite() or not 0 < d < Decimal("1e9"):
        raise UniverseError(f"{where}: {value!r} must be above 0 and below 1e9")
    return d


def _vol(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < float(value) <= 5:
        raise UniverseError(f"{where}: vol must be a number above 0 and at most 5, got {value!r}")
    return float(value)


def _table(raw: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise UniverseError(f"{source}: [{key}] must be a table")
    return value


_LISTING_KEYS = {"price", "vol", "sector", "weeklies", "strike_step"}


def _listings(raw: Mapping[str, Any], source: str) -> dict[str, Listing]:
    out: dict[str, Listing] = {}
    for kind, table in (("stock", "stocks"), ("etf", "etfs"), ("index", "indices")):
        for name, entry in _table(raw, table, source).items():
            where = f"{source} [{table}] {name}"
            try:
                inst = parse_symbol(str(name))
            except ModelError as exc:
                raise UniverseError(f"{where}: {exc}") from None
            if kind == "index" and inst.asset_class is not AssetClass.INDEX:
                raise UniverseError(f"{where}: {inst.symbol} is not a cash index the engine knows (indices: {', '.join(sorted(INDICES))})")
            if kind != "index" and inst.asset_class is not AssetClass.EQUITY:
                raise UniverseError(f"{where}: only stocks, ETFs and indices go in [{table}]")
            if not isinstance(entry, dict) or "price" not in entry:
                raise UniverseError(f"{where}: expected a table with at least a price, e.g. {{ price = \"42.50\", sector = \"Industrials\" }}")
            unknown = set(entry) - _LISTING_KEYS
            if unknown:
                raise UniverseError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_LISTING_KEYS))})")
            step = entry.get("strike_step")
            out[inst.symbol] = Listing(
                symbol=inst.symbol, kind=kind, price=_dec(entry["price"], where),
                vol=_vol(entry.get("vol", 0.3), where), sector=str(entry.get("sector", "unclassified")),
                weeklies=bool(entry.get("weeklies", False)),
                strike_step=_dec(step, f"{where} strike_step") if step is not None else None,
            )
    return out


def _codes(value: object, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.isalnum() for v in value):
        raise UniverseError(f"{where}: expected a list of currency codes")
    return frozenset(v.upper() for v in value)


def _parse(
    raw: Mapping[str, Any], source: str, options: OptionRules, trading_day: Callable[[date], bool] = _weekday
) -> Universe:
    crypto_raw = _table(raw, "crypto", source)
    crypto: dict[str, tuple[Decimal, float]] = {}
    for name, entry in _table(crypto_raw, "assets", f"{source} crypto").items():
        where = f"{source} [crypto.assets] {name}"
        if not isinstance(entry, dict) or "price" not in entry:
            raise UniverseError(f"{where}: expected a table with a price")
        crypto[str(name).upper()] = (_dec(entry["price"], where), _vol(entry.get("vol", 0.8), where))
    quotes = _codes(crypto_raw.get("quotes", []), f"{source} [crypto] quotes")
    currencies = _codes(_table(raw, "forex", source).get("currencies", []), f"{source} [forex] currencies")
    futures: dict[str, FutureRoot] = {}
    for root, entry in _table(raw, "futures", source).items():
        where = f"{source} [futures] {root}"
        spec = CONTRACT_SPECS.get(str(root))
        if spec is None:
            raise UniverseError(f"{where}: the engine has no contract specification for {root} (known: {', '.join(CONTRACT_SPECS)})")
        try:
            months = tuple(sorted({int(m) for m in entry.get("months", [])}))
            listed = int(entry.get("listed", 4))
        except (TypeError, ValueError, AttributeError):
            raise UniverseError(f"{where}: months must be a list of month numbers and listed a count") from None
        if not months or not all(1 <= m <= 12 for m in months) or not 1 <= listed <= 120:
            raise UniverseError(f"{where}: months must be 1 to 12 and listed from 1 to 120")
        for key, engine in (("multiplier", spec[0]), ("tick", spec[1])):
            if key in entry and _dec(entry[key], f"{where} {key}") != engine:
                raise UniverseError(f"{where}: {key} {entry[key]} differs from the engine's {plain(engine)}")
        futures[str(root)] = FutureRoot(
            root=str(root), name=str(entry.get("name", root)), price=_dec(entry.get("price"), where),
            multiplier=spec[0], tick=spec[1], months=months, listed=listed,
        )
    rules = options
    if "options" in raw:
        o = _table(raw, "options", source)
        where = f"{source} [options]"
        try:
            steps = tuple((Decimal(str(a)), _dec(b, where)) for a, b in o.get("steps", []))
            rules = OptionRules(
                weeklies=int(o.get("weeklies", options.weeklies)), monthlies=int(o.get("monthlies", options.monthlies)),
                quarterlies=int(o.get("quarterlies", options.quarterlies)), leaps=int(o.get("leaps", options.leaps)),
                low=_dec(o.get("low", options.low), where), high=_dec(o.get("high", options.high), where),
                steps=tuple(sorted(steps)) or options.steps,
            )
        except (TypeError, ValueError, InvalidOperation) as exc:
            raise UniverseError(f"{where}: {exc}") from None
    return Universe(
        listings=_listings(raw, source), crypto=crypto, crypto_quotes=quotes, currencies=currencies,
        futures=futures, options=rules, trading_day=trading_day,
    )
