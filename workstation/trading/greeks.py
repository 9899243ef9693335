"""Portfolio Greeks: each open position's delta, gamma, theta and vega from the current quotes,
in money terms, with totals per underlying and for the account.

Per contract (``GreekBook.units``, all options of a book in one vectorized call):

* **Options**: implied volatility from the option's mid (``implied_vol``); when the quote is
  one-sided or outside the arbitrage bounds, the last IV this book saw for the contract
  ("last known"), else the IV of its last trade price ("last"); with none of them the
  contract's Greeks are unknown (``None``: shown blank, never 0). Greeks by
  Black-Scholes-Merton at that IV, time to 16:00 New York on the expiry date from the engine's
  clock (``year_fraction``), the risk-free ``rate`` (0.04 unless given) and the underlying's
  continuous dividend yield (``dividends``: 0 unless a table is given). The underlying's
  price is its mid when two-sided, else its last.
* **Equities, ETFs, crypto, FX**: delta 1 per unit, no gamma, theta or vega.
* **Futures**: delta 1 per unit of the underlying, so ``multiplier`` per contract (an ES
  contract is 50 index units); its own price stands for the underlying's. Grouped under the
  contract's root (``ES``).

Per position (``PositionGreeks``), in money terms (q = signed quantity x multiplier):

* ``delta_shares`` = q x delta: the position's delta in units of the underlying (shares);
* ``dollar_delta`` = delta_shares x S: what a $1-per-$1 move of the underlying makes;
* ``gamma_shares`` = q x gamma: how many shares ``delta_shares`` gains per $1 move;
* ``dollar_gamma`` = q x gamma x S x S / 100: **dollar gamma per 1% move**, how much
  ``dollar_delta`` changes when the underlying moves 1% (not the 0.5 x gamma x (S x 1%)^2 P&L
  convexity term, which is this figure x S/200 smaller);
* ``theta`` = q x theta per day: money the position gains (negative: loses) per calendar day;
* ``vega`` = q x vega per vol point: money per 1 point (1%) rise of implied volatility.

These are model figures (floats, like quotes and IV), in the instrument's currency; amounts
the account holds stay Decimal elsewhere. ``totals`` sums them per underlying (where
``delta_shares`` and ``gamma_shares`` add up) and for the account (where only money terms
add), and gives the account's **beta-weighted delta to SPY**: each underlying's dollar delta
times its beta to SPY, in SPY shares (that sum over SPY's price). Betas come from daily bars
(``beta_from_closes``: 60 daily returns of the underlying against SPY's); an underlying
without enough history counts with beta 1 and says so (``beta_source``).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from decimal import Decimal

import msgspec

from workstation.core.model import AssetClass, Bar, Instrument, Quote, Right
from workstation.trading.greek_types import GreekTotals, PositionGreeks, UnitGreeks

__all__ = [
    "GreekBook", "GreekTotals", "PositionGreeks", "UnitGreeks", "beta_from_bars", "beta_from_closes", "load_betas",
    "position_greeks",
]

RATE = 0.04  # the risk-free rate the Greeks use unless told (continuous)
BETA_BENCHMARK = "SPY"
BETA_RETURNS = 60  # daily returns a beta is measured over
BETA_MIN_RETURNS = 20  # fewer aligned returns than this: beta 1 ("no history")


def _group(inst: Instrument) -> str:
    if inst.asset_class in (AssetClass.OPTION, AssetClass.FUTURE) and inst.underlying:
        return inst.underlying
    return inst.symbol


def _price(q: Quote | None) -> float | None:
    """A quote's mid when two-sided, else its last."""
    if q is None:
        return None
    if q.bid > 0 and q.ask >= q.bid:
        return (q.bid + q.ask) / 2.0
    return q.last if q.last > 0 else None


def _mid(q: Quote | None) -> float:
    if q is None or q.bid <= 0 or q.ask < q.bid:
        return math.nan
    return (q.bid + q.ask) / 2.0


class GreekBook:
    """Greeks from the current quotes; remembers each option's last IV (the fallback).

    ``instrument``: symbol -> Instrument (the order manager's cache). ``quote``: the latest
    quote of a symbol (the quote cache). ``last``: a price when there is no quote (the
    portfolio's mark). ``now``: the engine's clock. ``dividends``: underlying -> continuous
    yield. ``positions``: (symbol, signed qty) of every open position."""

    def __init__(
        self,
        *,
        instrument: Callable[[str], Instrument],
        quote: Callable[[str], Quote | None],
        now: Callable[[], float],
        last: Callable[[str], Decimal | None] | None = None,
        positions: Callable[[], Iterable[tuple[str, Decimal]]] = lambda: (),
        rate: float = RATE,
        dividends: Mapping[str, float] | Callable[[str], float] | None = None,
    ) -> None:
        self.instrument = instrument
        self.quote = quote
        self.now = now
        self.last = last or (lambda symbol: None)
        self.open_positions = positions
        self.rate = rate
        self.dividends = dividends
        self.iv_known: dict[str, float] = {}  # option symbol -> the last IV seen
        self.betas: dict[str, float] = {}  # underlying -> beta to SPY (from daily bars)

    # -- inputs
    def dividend(self, underlying: str) -> float:
        table = self.dividends
        if table is None:
            return 0.0
        if callable(table):
            return float(table(underlying) or 0.0)
        return float(table.get(underlying, 0.0))

    def price(self, symbol: str) -> float | None:
        p = _price(self.quote(symbol))
        if p is None:
            known = self.last(symbol)
            p = float(known) if known is not None and known > 0 else None
        return p

    def underlyings(self, symbols: Iterable[str]) -> list[str]:
        """The underlyings options among ``symbols`` need priced (for subscribing them)."""
        out = []
        for s in symbols:
            inst = self.instrument(s)
            if inst.asset_class is AssetClass.OPTION and inst.underlying and inst.underlying not in out:
                out.append(inst.underlying)
        return out

    def groups(self, symbols: Iterable[str]) -> list[str]:
        """The underlyings ``symbols`` are grouped under (an option's underlying, a future's root)."""
        return list(dict.fromkeys(_group(self.instrument(s)) for s in symbols))

    # -- per contract
    def units(self, symbols: Sequence[str], prices: Mapping[str, float] | None = None) -> dict[str, UnitGreeks]:
        """Per-share Greeks of each symbol; options all in one vectorized call. ``prices``: an
        option price to take when its quote gives no IV (an order's limit price)."""
        out: dict[str, UnitGreeks] = {}
        opts: list[tuple[str, Instrument, float]] = []
        for sym in dict.fromkeys(symbols):
            inst = self.instrument(sym)
            group = _group(inst)
            if inst.asset_class is AssetClass.OPTION and inst.strike is not None and inst.expiry is not None:
                spot = self.price(inst.underlying or "")
                if spot is None or spot <= 0:
                    out[sym] = UnitGreeks(sym, group, inst.multiplier, None)
                else:
                    opts.append((sym, inst, spot))
                continue
            spot = self.price(sym)
            out[sym] = UnitGreeks(sym, group, inst.multiplier, spot, delta=1.0, gamma=0.0, theta=0.0, vega=0.0)
        if opts:
            out.update(self._options(opts, prices or {}))
        return out

    def _options(self, opts: list[tuple[str, Instrument, float]], prices: Mapping[str, float]) -> dict[str, UnitGreeks]:
        import numpy as np  # the pricing, only once an option is held (not at every command's start)

        from workstation.core.options import bsm_greeks, implied_vol, year_fraction

        now = self.now()
        n = len(opts)
        spot = np.array([s for _, _, s in opts])
        strike = np.array([float(i.strike or 0) for _, i, _ in opts])
        years = np.array([year_fraction(i.expiry, now) for _, i, _ in opts])  # type: ignore[arg-type]
        call = np.array([i.right is Right.CALL for _, i, _ in opts])
        div = np.array([self.dividend(i.underlying or "") for _, i, _ in opts])
        tick = min(float(i.tick_size) for _, i, _ in opts)
        quotes = [self.quote(sym) for sym, _, _ in opts]
        iv = implied_vol(np.array([_mid(q) for q in quotes]), spot, strike, years, self.rate, div, call, tick=tick)
        source = np.where(np.isnan(iv), "", "mid").astype(object)
        for j, (sym, _inst, _s) in enumerate(opts):
            if math.isnan(iv[j]) and sym in self.iv_known:
                iv[j], source[j] = self.iv_known[sym], "last known"
        missing = [j for j in range(n) if math.isnan(iv[j])]
        if missing:
            traded = np.full(n, math.nan)
            for j in missing:
                sym = opts[j][0]
                p = prices.get(sym)
                if p is None:
                    q = quotes[j]
                    p = q.last if q is not None and q.last > 0 else None
                if p is None:
                    known = self.last(sym)
                    p = float(known) if known is not None else None
                if p is not None and p != _mid(quotes[j]):  # (the mid gave no IV: the same price would not either)
                    traded[j] = p
            if not np.isnan(traded).all():
                again = implied_vol(traded, spot, strike, years, self.rate, div, call, tick=tick)
                for j in missing:
                    if not math.isnan(again[j]):
                        iv[j], source[j] = again[j], "last"
        for j, (sym, _inst, _s) in enumerate(opts):
            if source[j] == "mid":
                self.iv_known[sym] = float(iv[j])
        live = ~np.isnan(iv)
        g = bsm_greeks(spot, strike, years, self.rate, div, np.where(live, iv, 0.2), call)
        out = {}
        for j, (sym, inst, s) in enumerate(opts):
            group = _group(inst)
            if not live[j]:
                out[sym] = UnitGreeks(sym, group, inst.multiplier, s)
                continue
            out[sym] = UnitGreeks(
                sym, group, inst.multiplier, s, iv=float(iv[j]), iv_source=str(source[j]),
                delta=float(g.delta[j]), gamma=float(g.gamma[j]), theta=float(g.theta[j]), vega=float(g.vega[j]),
            )
        return out

    # -- per position
    def positions(self, held: Iterable[tuple[str, Decimal]] | None = None) -> list[PositionGreeks]:
        """Greeks of every open position (``held``: (symbol, signed qty); the book's own by default)."""
        pairs = [(s, q) for s, q in (self.open_positions() if held is None else held) if q]
        units = self.units([s for s, _ in pairs])
        return [position_greeks(units[s], q) for s, q in pairs]

    # -- totals
    def totals(self, rows: Sequence[PositionGreeks]) -> tuple[list[GreekTotals], GreekTotals]:
        """(one total per underlying, in order of first appearance; the account's)."""
        groups: dict[str, list[PositionGreeks]] = {}
        for r in rows:
            groups.setdefault(r.underlying, []).append(r)
        spy = self.price(BETA_BENCHMARK)
        per = []
        for name, members in groups.items():
            t = _sum(name, members, self.instrument)
            beta, src = (self.betas[name], "60d") if name in self.betas else (1.0, "fallback 1")
            if name == BETA_BENCHMARK:
                beta, src = 1.0, "60d"
            bw = t.dollar_delta * beta / spy if spy else None
            per.append(_replace(t, beta=beta, beta_source=src, beta_delta_spy=bw, spy_price=spy))
        account = _sum(None, list(rows), self.instrument)
        bw_total = sum(t.beta_delta_spy for t in per if t.beta_delta_spy is not None) if spy else None
        fallback = [str(t.underlying) for t in per if t.beta_source != "60d"]
        source = f"fallback 1 for {', '.join(fallback)}" if fallback else "60d"
        account = _replace(account, beta_delta_spy=bw_total, spy_price=spy, beta_source=source)
        return per, account

    def set_beta(self, underlying: str, bars: Sequence[Bar], benchmark: Sequence[Bar]) -> float | None:
        """Measure ``underlying``'s beta to SPY from daily bars of both; kept when there is enough history."""
        b = beta_from_bars(bars, benchmark)
        if b is not None:
            self.betas[underlying] = b
        return b


def position_greeks(u: UnitGreeks, qty: Decimal) -> PositionGreeks:
    """A position of ``qty`` (signed) in the contract ``u``, in money terms."""
    if not u.known:
        return PositionGreeks(u.symbol, u.underlying, qty, u)
    q = float(qty) * float(u.multiplier)
    s = float(u.spot)  # type: ignore[arg-type]
    ds = q * u.delta  # type: ignore[operator]
    gs = q * (u.gamma or 0.0) + 0.0  # (+ 0.0: no -0.0 for a short stock)
    return PositionGreeks(
        u.symbol, u.underlying, qty, u, delta_shares=ds, dollar_delta=ds * s, gamma_shares=gs,
        dollar_gamma=gs * s * s / 100.0 + 0.0, theta=q * (u.theta or 0.0) + 0.0, vega=q * (u.vega or 0.0) + 0.0,
    )


def _sum(name: str | None, rows: list[PositionGreeks], instrument: Callable[[str], Instrument]) -> GreekTotals:
    known = [r for r in rows if r.known]
    per_underlying = name is not None
    return GreekTotals(
        underlying=name, positions=len(rows),
        delta_shares=sum(r.delta_shares or 0.0 for r in known) if per_underlying else None,
        dollar_delta=sum(r.dollar_delta or 0.0 for r in known),
        gamma_shares=sum(r.gamma_shares or 0.0 for r in known) if per_underlying else None,
        dollar_gamma=sum(r.dollar_gamma or 0.0 for r in known),
        theta=sum(r.theta or 0.0 for r in known), vega=sum(r.vega or 0.0 for r in known),
        unknown=len(rows) - len(known),
        has_options=any(instrument(r.symbol).asset_class is AssetClass.OPTION for r in rows),
    )


def _replace(t: GreekTotals, **changes: object) -> GreekTotals:
    return msgspec.structs.replace(t, **changes)


def beta_from_closes(closes: Sequence[float], benchmark: Sequence[float], window: int = BETA_RETURNS) -> float | None:
    """Beta of one series' daily log returns to the benchmark's (aligned closes, oldest first),
    over the last ``window`` returns; None with fewer than BETA_MIN_RETURNS or a flat benchmark."""
    import numpy as np

    a = np.asarray(closes, dtype=np.float64)
    b = np.asarray(benchmark, dtype=np.float64)
    n = min(len(a), len(b))
    if n < 2:
        return None
    a, b = a[-n:], b[-n:]
    if (a <= 0).any() or (b <= 0).any():
        return None
    ra, rb = np.diff(np.log(a))[-window:], np.diff(np.log(b))[-window:]
    if len(ra) < BETA_MIN_RETURNS:
        return None
    var = float(np.var(rb))
    if var <= 0:
        return None
    return float(np.mean((ra - ra.mean()) * (rb - rb.mean())) / var)


def beta_from_bars(bars: Sequence[Bar], benchmark: Sequence[Bar], window: int = BETA_RETURNS) -> float | None:
    """``beta_from_closes`` on the days both series have a bar (matched by the bar's UTC day)."""
    mine = {int(b.ts // 86_400): b.close for b in bars}
    theirs = {int(b.ts // 86_400): b.close for b in benchmark}
    days = sorted(mine.keys() & theirs.keys())
    return beta_from_closes([mine[d] for d in days], [theirs[d] for d in days], window)


History = Callable[[str, int, float, float], Awaitable[list[Bar]]]  # Broker.history


async def load_betas(book: GreekBook, history: History, underlyings: Iterable[str]) -> dict[str, float | None]:
    """Measure the beta to SPY of each underlying not measured yet, from the broker's daily bars
    (the last ~90 calendar days: 60 trading days of returns). An underlying whose bars cannot
    be had keeps the fallback of 1. Returns what was measured (None: not enough history)."""
    unmeasured = [u for u in dict.fromkeys(underlyings) if u not in book.betas and u != BETA_BENCHMARK]
    if not unmeasured:
        return {}
    end = book.now()
    start = end - 90 * 86_400
    try:
        spy = await history(BETA_BENCHMARK, 86_400, start, end)
    except Exception:  # (any adapter's failure: the fallback stands, shown as such)
        return {}
    out: dict[str, float | None] = {}
    for u in unmeasured:
        try:
            bars = await history(u, 86_400, start, end)
        except Exception:
            out[u] = None
            continue
        out[u] = book.set_beta(u, bars, spy)
    return out

