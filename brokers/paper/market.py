"""The simulated market: a deterministic price process for any symbol at any time, and its calendars.

A quote is a pure function of ``(symbol, seed, t)``. Nothing is simulated from an epoch
and nothing depends on the process that asks: every random number comes from a
splitmix64 integer hash keyed by blake2b of the name and the seed (never Python's
salted ``hash()``), so two processes, or two ``SimMarket`` objects, agree to the bit.

The price process, in log space, for one underlying:

* **Octaves of value noise.** Gaussian knots drawn from the hash every 30 days, 1 day,
  2 h, 15 min, 2 min, 15 s and 2 s, linearly interpolated between knots. Each octave's
  amplitude is ``sigma * sqrt(scale / 2)`` (the 30-day and 1-day octaves weighted up by
  1.8 and 1.6), so increments from a minute to a week have, within ~10%, the variance of
  a random walk with the instrument's annualised volatility ``sigma`` (annualised over
  calendar time: the process never stops). Being a sum of bounded
  octaves, the level wanders around its base (a few percent over days, tens of percent
  for crypto over months) instead of drifting away.
* **Volatility regimes.** A daily-scale noise ``g`` multiplies the octaves of 2 h and
  faster by ``exp(0.4 g - 0.08)``: some days are calm, some are wild.
* **Jumps.** At each hourly knot a jump happens with probability 2%; its size is
  gaussian with a standard deviation of ``sigma / 20`` (1.5% for a 30%-vol stock) and it
  decays as ``(1 - age / 6h)^2``, gone six hours later. ``SimMarket.jumps`` lists them.

Levels start from a table of recent real prices (``AAPL`` ~230, ``BTC/USD`` ~95,000,
``EUR/USD`` ~1.08, ``ES`` ~6,000...) and the reference prices of the paper market's universe
(``brokers.paper.universe``: ``IBM`` ~290, ``KO`` ~70); other names (a backtest's or a
replay's own series) get a level from a hash of the name
(equities 10..500, crypto 0.1..100 USD, futures 50..5,000). Forex and crypto crosses are
priced through their USD values. Futures follow their root's process (``MES`` and
``ES`` move together) times a carry of ``exp(c * T)``.

Options are valued on the underlying's simulated price at the volatility of the paper
market's surface (``brokers.paper.surface``: skew, smile and term structure, its level
rising when the underlying trades below its base), a 4% rate (``RATE``) and the
underlying's dividend yield, in years of 365 days to 16:00 New York on the expiry date,
never below one tick (intrinsic value at and after expiry). Index options (SPX, NDX, RUT:
European, cash-settled) are worth their Black-Scholes-Merton value; equity and ETF options
are American: the Black-Scholes-Merton value plus the early-exercise premium of a binomial
tree (``workstation.core.options.american_price``, ``TREE_STEPS`` steps; puts, and calls on
dividend payers). The premium is computed at knots every ``PREMIUM_KNOT`` seconds (the
underlying and the surface as they are at the knot) and interpolated linearly between
them, so a quote stays a pure function of the time, and a tree runs once per contract per
knot, not on every quote. Bars of an American option, which need many knots at once, take
them from a ``HISTORY_TREE_STEPS``-step tree (within a few cents of the quotes' values). Option widths grow away from the money and toward expiry, their
displayed sizes stay under 500 contracts, and their day volume and open interest
(``SimMarket.open_interest``) peak at the money and in the monthlies.

A quote is built in integer ticks: the spread is a few basis points for liquid names
(``max(1 tick, ceil(mid * bps / tick))``, one tick wider a quarter of the time), bid and
ask straddle the mid on the tick grid, ``last`` is a tick between them, and the
displayed sizes are a hash-drawn notional turned into whole lots. These "micro" draws
change every 0.25 s. ``volume`` is the day's cumulative volume, a smooth increasing
function of the time since the day began (the day runs from one 16:00 New York to the
next); ``prev_close`` is the process mid, on tick, at the most recent 16:00 New York.

Calendars (``is_open``): ``"always"`` — everything trades at every hour, so the product
works at any time of day — ``"exchange"``: every instrument trades its venue's regular
session (``workstation.core.sessions``: equities and options NYSE 09:30-16:00 New York with
the exchange's holidays and early closes, futures CME Globex, crypto 24/7, forex from Sunday
17:00 to Friday 17:00 New York) — and ``"nyse"``, the older calendar: as ``"exchange"`` but
equity-index futures keep NYSE hours and other futures a Globex week of their own (Sunday
18:00 to Friday 17:00 New York with a daily 17:00-18:00 pause, no holidays). NYSE days and
early closes come from the exchange calendar library under both (years without end).
The process itself never stops: under either a market reopens where the process has
moved overnight, as a real one gaps.

Why one module: the deterministic price process, its calendars and its history generation
must agree tick for tick (a backtest and the live paper market use the same numbers).
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np

from brokers.paper import surface
from brokers.paper.listings import is_monthly
from brokers.paper.universe import Universe, load_universe
from workstation.core import sessions
from workstation.core.model import AssetClass, Bar, Instrument, Quote, Right
from workstation.core.options import american_price, bsm_price
from workstation.core.sessions import SessionKind
from workstation.core.symbols import FIAT, STABLECOINS, parse_symbol

NEW_YORK = ZoneInfo("America/New_York")
YEAR = 365.25 * 86_400.0
CALENDARS = ("always", "nyse", "exchange")

# ----------------------------------------------------------------------------- tables

# Recent real price levels and annualised volatilities.
EQUITIES: dict[str, tuple[float, float]] = {
    "AAPL": (230.0, 0.28), "MSFT": (420.0, 0.25), "NVDA": (180.0, 0.45), "TSLA": (250.0, 0.55),
    "GOOGL": (170.0, 0.30), "GOOG": (172.0, 0.30), "AMZN": (200.0, 0.32), "META": (600.0, 0.35),
    "NFLX": (900.0, 0.35), "AMD": (150.0, 0.45), "INTC": (22.0, 0.40), "ORCL": (170.0, 0.30),
    "JPM": (240.0, 0.22), "BRK.B": (470.0, 0.18), "V": (300.0, 0.20), "XOM": (110.0, 0.25),
    "SPY": (600.0, 0.16), "QQQ": (520.0, 0.20), "IWM": (220.0, 0.22), "DIA": (440.0, 0.15),
    "SPX": (6000.0, 0.16), "NDX": (21000.0, 0.20),
}
ETFS = frozenset({"SPY", "QQQ", "IWM", "DIA"})
CRYPTO_USD: dict[str, tuple[float, float]] = {
    "BTC": (95_000.0, 0.60), "ETH": (3_300.0, 0.70), "SOL": (180.0, 0.80), "XRP": (2.3, 0.80),
    "DOGE": (0.35, 0.90), "ADA": (0.9, 0.85), "AVAX": (35.0, 0.85), "LINK": (20.0, 0.80),
    "LTC": (100.0, 0.75), "DOT": (7.0, 0.80), "BNB": (650.0, 0.60),
}
FIAT_USD: dict[str, float] = {
    "USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 1 / 150.0, "CHF": 1 / 0.88, "CAD": 1 / 1.38,
    "AUD": 0.65, "NZD": 0.60, "SEK": 1 / 10.5, "NOK": 1 / 10.8, "DKK": 1 / 6.9, "HKD": 1 / 7.8,
    "SGD": 1 / 1.35, "CNH": 1 / 7.2, "MXN": 1 / 17.5, "ZAR": 1 / 18.0, "PLN": 1 / 4.0,
    "CZK": 1 / 23.0, "HUF": 1 / 360.0, "TRY": 1 / 34.0, "ILS": 1 / 3.7, "KRW": 1 / 1350.0,
    "INR": 1 / 84.0, "BRL": 1 / 5.5,
}
FX_MAJORS = frozenset({"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD"})
# Futures roots: level, volatility, annual carry (financing less dividends for index futures).
FUTURES: dict[str, tuple[float, float, float]] = {
    "ES": (6000.0, 0.16, 0.015), "NQ": (21000.0, 0.22, 0.015), "YM": (44000.0, 0.15, 0.015),
    "RTY": (2300.0, 0.22, 0.015), "CL": (70.0, 0.35, 0.0), "GC": (2600.0, 0.15, 0.0),
    "SI": (30.0, 0.28, 0.0), "ZN": (110.0, 0.06, 0.0), "ZB": (117.0, 0.10, 0.0), "6E": (1.08, 0.08, 0.0),
}
MICRO_FUTURES = {"MES": "ES", "MNQ": "NQ"}
EQUITY_INDEX_FUTURES = frozenset({"ES", "MES", "NQ", "MNQ", "YM", "RTY"})

RATE = 0.04  # the risk-free rate options are valued with
OPTION_YEAR = 365.0 * 86_400.0  # options count time in years of 365 days, as workstation.core.options does
PREMIUM_KNOT = 30.0  # seconds between the knots of the early-exercise premium (see the docstring)
TREE_STEPS = 100  # binomial steps of the American price at each knot
HISTORY_TREE_STEPS = 25  # ... when a history asks for many knots at once (bars: within a few cents)
_MANY_KNOTS = 16
_OPTION_MAX_LOTS = 500.0  # displayed option sizes stay below this many contracts

# ----------------------------------------------------------------------------- hashing

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
_JUMP_SALT = _U64(0xD6E8FEB86659FD93)
_M16 = _U64(0xFFFF)
_IH_MEAN = 4 * 32767.5
_IH_STD = 65536.0 / math.sqrt(3.0)


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, elementwise on uint64 (wrapping arithmetic)."""
    x = (x ^ (x >> _U64(30))) * _M1
    x = (x ^ (x >> _U64(27))) * _M2
    return x ^ (x >> _U64(31))


def _gauss(z: np.ndarray) -> np.ndarray:
    """A standard normal draw from 64 hash bits: the Irwin-Hall sum of four 16-bit uniforms."""
    s = (z & _M16) + ((z >> _U64(16)) & _M16) + ((z >> _U64(32)) & _M16) + (z >> _U64(48))
    return (s.astype(np.float64) - _IH_MEAN) / _IH_STD


def _unit(z: np.ndarray) -> np.ndarray:
    """A uniform draw in [0, 1) from the top 53 bits."""
    return (z >> _U64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def _ticks(x: np.ndarray) -> np.ndarray:
    """Integral float64 counts as uint64 (two's complement for negative counts)."""
    return x.astype(np.int64).view(np.uint64)


def _key(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _name_unit(*parts: object) -> float:
    """A uniform number in [0, 1) from a name (seed-independent: a symbol's character)."""
    return _key("name", *parts) / 2.0**64


# ----------------------------------------------------------------------------- the process

_SCALES = np.array([30 * 86_400.0, 86_400.0, 7_200.0, 900.0, 120.0, 15.0, 2.0, 86_400.0])
_N_OCT = 7  # columns 0..6 are price octaves, column 7 the volatility regime
_FAST = range(2, _N_OCT)
# Per-octave weights on sigma * sqrt(scale / 2), measured so that the realised volatility of
# 1-minute to 1-week increments is within ~10% of sigma (the linear interpolation of the slow
# octaves would otherwise leave daily and weekly moves a third too small).
_WEIGHTS = (1.8, 1.6, 1.0, 1.0, 1.0, 1.0, 1.0)
_AMP = [w * math.sqrt(s / 2.0) for s, w in zip(_SCALES[:_N_OCT], _WEIGHTS, strict=True)]
_REGIME_AMP = 0.4
_REGIME_BIAS = 0.08
_JUMP_PROB = 0.02
_JUMP_HOURS = 6
_JUMP_BACK = np.arange(_JUMP_HOURS, dtype=np.float64)
_JUMP_FRACTION = 0.05  # jump standard deviation as a fraction of annual volatility
_MICRO_HZ = 4.0
_OI_SALT = _U64(0x3C6EF372FE94F82B)
_IV_KNOT = 5 * 86_400.0  # knots of the implied-volatility level's slow noise
_IV_NOISE = 0.12
_IV_REGIME = 0.15


@dataclass(slots=True)
class _Params:
    """Everything a quote needs about one symbol, computed once."""

    symbol: str
    inst: Instrument
    okeys: list[int]  # per octave and the regime
    jkey: int
    mkey: int
    vkey: int
    level: float
    sigma: float
    kind: int  # 0 spot, 1 future, 2 option
    carry: float
    expiry: float
    strike: float
    call: bool
    tick: Fraction
    lot: Fraction
    mult: float
    usd: float  # USD value of one unit of the quote currency
    spread_bps: float
    display: tuple[float, float]  # displayed notional range
    day_notional: float
    # options only: the surface and activity inputs (see brokers.paper.surface)
    div: float = 0.0
    american: bool = False  # priced with the early-exercise premium (equity and ETF puts, calls on payers)
    skew: float = 0.0
    smile: float = 0.0
    ivkey: int = 0
    monthly: bool = False
    liquidity: float = 0.0


class _Rows:
    """Parameters of several symbols as numpy columns, for the vectorised path."""

    def __init__(self, params: Sequence[_Params]) -> None:
        self.symbols = [p.symbol for p in params]
        self.okeys = np.array([p.okeys for p in params], dtype=np.uint64)
        self.jkey = np.array([p.jkey for p in params], dtype=np.uint64)
        self.mkey = np.array([p.mkey for p in params], dtype=np.uint64)
        self.vkey = np.array([p.vkey for p in params], dtype=np.uint64)
        self.log_level = np.log(np.array([p.level for p in params]))
        self.sigma = np.array([p.sigma for p in params])
        self.sigma_sec = self.sigma / math.sqrt(YEAR)
        self.jump_sd = self.sigma * _JUMP_FRACTION
        self.carry = np.array([p.carry for p in params])
        self.expiry = np.array([p.expiry for p in params])
        self.strike = np.array([p.strike for p in params])
        self.call = np.array([p.call for p in params])
        self.option = np.array([p.kind == 2 for p in params])
        self.any_option = bool(self.option.any())
        self.tick_p = np.array([float(p.tick.numerator) for p in params])
        self.tick_q = np.array([float(p.tick.denominator) for p in params])
        self.lot_p = np.array([float(p.lot.numerator) for p in params])
        self.lot_q = np.array([float(p.lot.denominator) for p in params])
        self.mult = np.array([p.mult for p in params])
        self.usd = np.array([p.usd for p in params])
        self.spread = np.array([p.spread_bps for p in params]) * 1e-4
        self.disp_lo = np.log(np.array([p.display[0] for p in params]))
        self.disp_span = np.log(np.array([p.display[1] for p in params])) - self.disp_lo
        self.day_notional = np.array([p.day_notional for p in params])
        self.max_lots = np.where(self.option, _OPTION_MAX_LOTS, 1e12)
        self.single = len(params) == 1
        self.prev_at: float | None = None
        self.prev_mid: np.ndarray = np.empty(0)
        if self.any_option:
            o = np.flatnonzero(self.option)
            self.opt = o
            self.opt_strike, self.opt_call = self.strike[o], self.call[o]
            self.opt_expiry = self.expiry[o]
            self.opt_level, self.opt_sigma = np.exp(self.log_level[o]), self.sigma[o]
            self.opt_div = np.array([params[i].div for i in o])
            self.opt_skew = np.array([params[i].skew for i in o])
            self.opt_smile = np.array([params[i].smile for i in o])
            self.opt_ivkey = np.array([params[i].ivkey for i in o], dtype=np.uint64)
            self.opt_monthly = np.array([params[i].monthly for i in o])
            self.opt_liquidity = np.array([params[i].liquidity for i in o])
            self.am = np.flatnonzero(np.array([params[i].american for i in o]))  # positions within opt
            self.premiums: OrderedDict[int, np.ndarray] = OrderedDict()  # knot -> early-exercise premium
            self.activity_at: tuple[float, tuple[np.ndarray, np.ndarray]] | None = None

    def mid(self, t: np.ndarray) -> np.ndarray:
        """The process mid (not yet on tick) at times ``t``; rows and times broadcast."""
        price, _, _ = self.parts(t)
        return price

    def _pick(self, values: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Columns ``cols`` of a row-wise array; one row's array (over times) whole."""
        return values if self.single else values[cols]

    def parts(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mid, standardized log-moneyness, years to expiry) at times ``t``; the last two for
        the option rows only (the ``opt`` columns), empty without options."""
        price, spot, regime = self._process(t)
        if not self.any_option:
            return price, np.empty(0), np.empty(0)
        o = self.opt
        value, x, years, _ = self._european(t, self._pick(spot, o), self._pick(regime, o))
        if len(self.am):
            premium = self._premium(t)
            if self.single:
                value = value + premium
            else:
                value[self.am] += premium
        if self.single:
            return value, x, years
        price[o] = value
        return price, x, years

    def _european(self, t: np.ndarray, spot: np.ndarray, regime: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(European value, moneyness x, years, implied vol) of the option rows at times ``t``,
        the underlying at ``spot``, its volatility regime noise ``regime``."""
        years = np.maximum(self.opt_expiry - t, 0.0) / OPTION_YEAR
        u = t / _IV_KNOT
        k = np.floor(u)
        ki = _ticks(k)
        g0 = _gauss(_mix(self.opt_ivkey + ki * _GOLDEN))
        g1 = _gauss(_mix(self.opt_ivkey + (ki + _U64(1)) * _GOLDEN))
        noise = (g0 + (g1 - g0) * (u - k)) * _IV_NOISE + regime * _IV_REGIME
        iv, x = surface.implied_vols(
            spot, self.opt_level, self.opt_sigma, self.opt_strike, years, RATE, self.opt_div,
            self.opt_skew, self.opt_smile, noise,
        )
        value = bsm_price(spot, self.opt_strike, years, RATE, self.opt_div, iv, self.opt_call)
        return value, x, years, iv

    def _premium(self, t: np.ndarray) -> np.ndarray:
        """The early-exercise premium (American less European value) of the ``am`` rows at
        times ``t``: the tree's at knots every PREMIUM_KNOT seconds, linear between (a pure
        function of the time, so every process agrees)."""
        u = t / PREMIUM_KNOT
        k = np.floor(u)
        if len(t) == 1:  # a quote: two knots, most often both known
            n0 = int(k[0])
            p0, p1 = self.premiums.get(n0), self.premiums.get(n0 + 1)
            if p0 is not None and p1 is not None:
                f = float(u[0] - k[0])
                return p0 + (p1 - p0) * f
        knots = np.unique(np.concatenate([k, k + 1.0])).astype(np.int64).tolist()
        missing = [n for n in knots if n not in self.premiums]
        # a history (many knots at once) gets a shorter tree, kept out of the quotes' cache
        many = len(missing) > _MANY_KNOTS
        found: dict[int, np.ndarray] = {} if many else self.premiums  # type: ignore[assignment]
        steps = HISTORY_TREE_STEPS if many else TREE_STEPS
        # one row: all its knots in one tree; many rows (one time): one knot at a time
        for group in [missing] if self.single and missing else [[n] for n in missing]:
            at = np.array(group, dtype=np.float64) * PREMIUM_KNOT
            _, spot, regime = self._process(at)
            o, a = self.opt, self.am
            s_o = self._pick(spot, o)
            _, _, years, iv = self._european(at, s_o, self._pick(regime, o))
            s, y, v = self._pick(s_o, a), self._pick(years, a), self._pick(iv, a)
            kk, q, c = self.opt_strike[a], self.opt_div[a], self.opt_call[a]
            tree = american_price(s, kk, y, RATE, q, v, c, steps=steps)
            premium = np.maximum(tree - bsm_price(s, kk, y, RATE, q, v, c), 0.0)
            if self.single:
                found.update(zip(group, premium[:, None], strict=True))
            else:
                found[group[0]] = premium
        table = np.array([self.premiums[n] if n in self.premiums else found[n] for n in knots])
        for n in knots:
            if n in self.premiums:
                self.premiums.move_to_end(n)
        while len(self.premiums) > 64:
            self.premiums.popitem(last=False)
        i0 = np.searchsorted(np.array(knots, dtype=np.float64), k)
        f = u - k
        if self.single:
            return (table[i0] + (table[i0 + 1] - table[i0]) * f[:, None])[:, 0]
        return table[i0[0]] + (table[i0[0] + 1] - table[i0[0]]) * f[0]

    def activity(self, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(open interest, day volume) in contracts of the option rows (0 elsewhere) for days
        starting at ``start``, before the day's draw (``brokers.paper.surface.option_activity``)."""
        if len(start) == 1 and self.activity_at is not None and self.activity_at[0] == start[0]:
            return self.activity_at[1]
        years = np.maximum(self.opt_expiry - start, 0.0) / OPTION_YEAR
        oi, volume = surface.option_activity(
            self.opt_strike, self.opt_level, self.opt_sigma, years, self.opt_monthly, self.opt_liquidity
        )
        if not self.single:
            full_oi, full_volume = np.zeros(len(self.symbols)), np.zeros(len(self.symbols))
            full_oi[self.opt], full_volume[self.opt] = oi, volume
            oi, volume = full_oi, full_volume
        if len(start) == 1:
            self.activity_at = (float(start[0]), (oi, volume))  # one day start: the quotes' (kept)
        return oi, volume

    def _process(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(price, the underlying's price, the volatility-regime noise) at times ``t``: for
        spot and futures rows the price is the process's, option rows are priced by ``parts``."""
        tt = t[:, None]
        u = tt / _SCALES
        k = np.floor(u)
        f = u - k
        ki = _ticks(k)
        g0 = _gauss(_mix(self.okeys + ki * _GOLDEN))
        g1 = _gauss(_mix(self.okeys + (ki + _U64(1)) * _GOLDEN))
        g = g0 + (g1 - g0) * f
        # explicit sums in a fixed order: bit-identical results for any array shape
        slow = g[:, 0] * _AMP[0] + g[:, 1] * _AMP[1]
        fast = g[:, 2] * _AMP[2]
        for i in _FAST[1:]:
            fast = fast + g[:, i] * _AMP[i]
        regime = np.exp(np.ascontiguousarray(g[:, _N_OCT]) * _REGIME_AMP - _REGIME_BIAS)
        x = self.sigma_sec * (slow + regime * fast)
        hours = t / 3600.0
        j = np.floor(hours)[:, None] - _JUMP_BACK
        w = (1.0 - (hours[:, None] - j) / _JUMP_HOURS) ** 2
        hj = _mix(self.jkey[:, None] + _ticks(j) * _GOLDEN)
        hits = np.where(_unit(hj) < _JUMP_PROB, _gauss(_mix(hj ^ _JUMP_SALT)) * w, 0.0)
        jump = hits[:, 0]
        for i in range(1, _JUMP_HOURS):
            jump = jump + hits[:, i]
        years = np.maximum(self.expiry - t, 0.0) / YEAR
        logp = self.log_level + x + jump * self.jump_sd + self.carry * years
        price = np.exp(logp)
        return price, price.copy() if self.any_option else price, g[:, _N_OCT]

    def on_tick(self, mid: np.ndarray) -> np.ndarray:
        """Nearest tick count (at least one)."""
        return np.maximum(np.floor(mid * self.tick_q / self.tick_p + 0.5), 1.0)

    def price(self, ticks: np.ndarray) -> np.ndarray:
        """Tick counts to float prices that print exactly as the tick multiple."""
        return ticks * self.tick_p / self.tick_q


# ----------------------------------------------------------------------------- calendars


def _ny(t: float) -> datetime:
    return datetime.fromtimestamp(t, NEW_YORK)


def _at(d: date, hour: int, minute: int = 0) -> float:
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=NEW_YORK).timestamp()


def is_trading_day(d: date) -> bool:
    """A NYSE trading day: one with a regular session (the exchange calendar's)."""
    return d.weekday() < 5 and sessions.session_at("XNYS", _at(d, 12)) == "regular"


def prev_close_time(t: float) -> float:
    """The most recent 16:00 New York at or before ``t``: the trading-day boundary."""
    d = _ny(t).date()
    c = _at(d, 16)
    return c if c <= t else _at(d - timedelta(days=1), 16)


def next_close_time(t: float) -> float:
    """The first 16:00 New York strictly after ``t``."""
    d = _ny(t).date()
    c = _at(d, 16)
    return c if c > t else _at(d + timedelta(days=1), 16)


def _session_kind(inst: Instrument) -> str:
    if inst.asset_class is AssetClass.CRYPTO:
        return "24/7"
    if inst.asset_class is AssetClass.FOREX:
        return "fx"
    if inst.asset_class is AssetClass.FUTURE and inst.underlying not in EQUITY_INDEX_FUTURES:
        return "globex"
    return "nyse"


def _instrument(instrument: Instrument | str) -> Instrument:
    return instrument if isinstance(instrument, Instrument) else parse_symbol(instrument)


def _check_calendar(calendar: str) -> None:
    if calendar not in CALENDARS:
        raise ValueError(f"unknown calendar {calendar!r}: expected one of {', '.join(CALENDARS)}")


def is_open(instrument: Instrument | str, t: float, calendar: str = "always") -> bool:
    """Whether the instrument trades at ``t`` under ``calendar`` (see the module docstring)."""
    return session(instrument, t, calendar) == "regular"


def session(instrument: Instrument | str, t: float, calendar: str = "always") -> SessionKind:
    """The session the instrument is in at ``t`` under ``calendar``: ``"regular"`` at every
    hour under ``"always"``; the venue's (pre, regular, post or closed) under the others."""
    _check_calendar(calendar)
    if calendar == "always":
        return "regular"
    inst = _instrument(instrument)
    if calendar == "exchange":
        return sessions.session_at(sessions.venue_of(inst), t)
    kind = _session_kind(inst)
    if kind == "24/7":
        return "regular"
    if kind == "nyse":
        return sessions.session_at("XNYS", t)
    ny = _ny(t)
    wd, minute = ny.weekday(), ny.hour * 60 + ny.minute
    if kind == "fx":
        return sessions.session_at("FX", t)
    if wd == 5 or (wd == 6 and minute < 18 * 60) or (wd == 4 and minute >= 17 * 60):
        return "closed"
    return "closed" if 17 * 60 <= minute < 18 * 60 else "regular"


def day_end(instrument: Instrument | str, t: float, calendar: str = "always") -> float:
    """When a DAY order accepted at ``t`` expires.

    Under ``"nyse"`` and ``"exchange"``, for instruments on the NYSE session: the close of the
    trading day (16:00 New York, 13:00 on early closes; the next trading day's when ``t`` is
    after the close or on a holiday); under ``"exchange"`` futures likewise expire at their
    CME session's close. Otherwise: the first 17:00 New York day roll after ``t``.
    """
    _check_calendar(calendar)
    if calendar != "always":
        inst = _instrument(instrument)
        venue = sessions.venue_of(inst) if calendar == "exchange" else _session_kind(inst)
        if venue in ("nyse", "XNYS", "CME"):
            close = sessions.session_close("XNYS" if venue == "nyse" else venue, t)
            if close is not None:
                return close
    d = _ny(t).date()
    roll = _at(d, 17)
    return roll if roll > t else _at(d + timedelta(days=1), 17)


def nyse_sessions(start: float, end: float) -> list[tuple[float, float]]:
    """The (open, close) epoch seconds of NYSE sessions overlapping ``[start, end)``."""
    return sessions.regular_sessions("XNYS", start, end)


# ----------------------------------------------------------------------------- the market


class SimMarket:
    """Deterministic synthetic quotes and bars for any symbol the engine can parse."""

    def __init__(self, seed: int = 0, universe: Universe | None = None) -> None:
        self.seed = int(seed)
        self.universe = universe if universe is not None else shipped_universe()
        self._params: dict[str, _Params] = {}
        self._rows: OrderedDict[tuple[str, ...], _Rows] = OrderedDict()
        self._day: tuple[float, float] = (math.inf, -math.inf)

    # -- public API

    def quote(self, symbol: str, t: float) -> Quote:
        """The quote for ``symbol`` at epoch seconds ``t``."""
        return self.quotes((symbol,), t)[0]

    def quotes(self, symbols: Sequence[str], t: float) -> list[Quote]:
        """Quotes for many symbols at one time, vectorised; the same values as ``quote``."""
        if not symbols:
            return []
        rows = self._rows_for(tuple(symbols))
        t = float(t)
        start, end = self._day_bounds(t)
        if rows.prev_at != start:
            rows.prev_mid = rows.price(rows.on_tick(rows.mid(np.array([start]))))
            rows.prev_at = start
        price, moneyness, years = rows.parts(np.array([t]))
        mid = np.maximum(price, rows.tick_p / rows.tick_q)
        micro = _mix(rows.mkey + _ticks(np.floor(np.array([t * _MICRO_HZ]))) * _GOLDEN)
        mid_ticks = mid * rows.tick_q / rows.tick_p
        spread = np.maximum(np.ceil(mid * rows.spread * rows.tick_q / rows.tick_p - 1e-9), 1.0)
        if rows.any_option:
            o = rows.opt
            width = surface.option_width(mid[o], moneyness, years) * rows.tick_q[o] / rows.tick_p[o]
            spread[o] = np.maximum(np.ceil(width - 1e-9), 1.0)
        spread = spread + (((micro >> _U64(32)) & _U64(3)) == 0)
        bid_t = np.maximum(np.floor(mid_ticks - spread / 2.0 + 0.5), 1.0)
        ask_t = bid_t + spread
        last_t = bid_t + ((micro >> _U64(40)) % (spread + 1.0).astype(np.uint64)).astype(np.float64)
        lot_value = mid * rows.usd * rows.mult * rows.lot_p / rows.lot_q
        sizes = []
        for shift in (0, 16):
            u = ((micro >> _U64(shift)) & _M16).astype(np.float64) / 65536.0
            lots = np.clip(np.floor(np.exp(rows.disp_lo + u * rows.disp_span) / lot_value), 1.0, rows.max_lots)
            sizes.append((lots * rows.lot_p / rows.lot_q).tolist())
        volume = self._volume(rows, np.array([t]), np.array([start]), np.array([end]), rows.prev_mid)
        return [
            Quote(sym, t, b, a, last, bs, as_, v, pc)
            for sym, b, a, last, bs, as_, v, pc in zip(
                rows.symbols,
                rows.price(bid_t).tolist(),
                rows.price(ask_t).tolist(),
                rows.price(last_t).tolist(),
                sizes[0],
                sizes[1],
                volume.tolist(),
                rows.prev_mid.tolist(),
                strict=True,
            )
        ]

    def open_interest(self, symbols: Sequence[str], t: float) -> list[float]:
        """Open interest in contracts of each symbol on the trading day of ``t`` (0 for what
        is not an option): set at the day's start, so it changes once a day."""
        if not symbols:
            return []
        rows = self._rows_for(tuple(symbols))
        if not rows.any_option:
            return [0.0] * len(symbols)
        start = np.array([self._day_bounds(float(t))[0]])
        base, _ = rows.activity(start)
        draw = _gauss(_mix((rows.vkey ^ _OI_SALT) + _ticks(np.floor(start / 86_400.0)) * _GOLDEN))
        return np.where(rows.option, np.floor(base * np.exp(0.25 * draw)), 0.0).tolist()

    def mids(self, symbol: str, times: Sequence[float] | np.ndarray) -> np.ndarray:
        """The process mid, on tick, of one symbol at many times (float64 array)."""
        rows = self._rows_for((symbol,))
        return rows.price(rows.on_tick(rows.mid(np.asarray(times, dtype=np.float64))))

    def bars(self, symbol: str, seconds: int, start: float, end: float, calendar: str = "always") -> list[Bar]:
        """Bars of ``seconds`` aligned to the epoch, whose open lies in ``[start, end)``.

        OHLC come from nine samples of the process mid per bar (on tick); the close is the
        next bar's open. Volume is the increase of the cumulative volume over the bar.
        Under ``calendar="nyse"`` or ``"exchange"``, bars that do not overlap the instrument's
        regular trading hours are left out.
        """
        if seconds <= 0:
            raise ValueError(f"bar length must be positive, got {seconds}")
        _check_calendar(calendar)
        rows = self._rows_for((symbol,))
        first = math.floor(start / seconds) * seconds
        if first < start:
            first += seconds
        opens = np.arange(first, end, seconds, dtype=np.float64)
        if calendar != "always" and len(opens):
            opens = opens[self._open_mask(rows.symbols[0], opens, seconds, calendar)]
        if not len(opens):
            return []
        times = (opens[:, None] + np.linspace(0.0, float(seconds), 9)[None, :]).ravel()
        mids = rows.price(rows.on_tick(rows.mid(times))).reshape(len(opens), 9)
        cumulative = self._cumulative_volume(rows, np.concatenate([opens, opens + seconds]))
        volume = cumulative[len(opens) :] - cumulative[: len(opens)]
        sym = rows.symbols[0]
        return [
            Bar(sym, ts, o, h, lo, c, max(v, 0.0), int(seconds))
            for ts, o, h, lo, c, v in zip(
                opens.tolist(),
                mids[:, 0].tolist(),
                mids.max(axis=1).tolist(),
                mids.min(axis=1).tolist(),
                mids[:, -1].tolist(),
                volume.tolist(),
                strict=True,
            )
        ]

    def jumps(self, symbol: str, start: float, end: float) -> list[tuple[float, float]]:
        """The designed jumps of a symbol's process in ``[start, end)``: (time, log size)."""
        rows = self._rows_for((symbol,))
        hours = np.arange(math.ceil(start / 3600.0), math.ceil(end / 3600.0), dtype=np.float64)
        hj = _mix(rows.jkey + _ticks(hours) * _GOLDEN)
        hit = _unit(hj) < _JUMP_PROB
        sizes = _gauss(_mix(hj ^ _JUMP_SALT)) * rows.jump_sd
        return [(h * 3600.0, s) for h, s in zip(hours[hit].tolist(), sizes[hit].tolist(), strict=True)]

    def base_level(self, symbol: str) -> float:
        """The level the symbol's process wanders around (for options: the underlying's)."""
        return self._param(symbol).level

    def annual_vol(self, symbol: str) -> float:
        """The annualised volatility of the symbol's process (for options: the underlying's)."""
        return self._param(symbol).sigma

    is_open = staticmethod(is_open)
    day_end = staticmethod(day_end)
    prev_close_time = staticmethod(prev_close_time)

    # -- parameters

    def _param(self, symbol: str) -> _Params:
        hit = self._params.get(symbol)
        if hit is None:
            inst = parse_symbol(symbol)
            hit = self._params.get(inst.symbol) or self._build(inst)
            self._params[symbol] = self._params[inst.symbol] = hit
        return hit

    def _rows_for(self, symbols: tuple[str, ...]) -> _Rows:
        rows = self._rows.get(symbols)
        if rows is None:
            rows = _Rows([self._param(s) for s in symbols])
            self._rows[symbols] = rows
            if len(self._rows) > 32:
                self._rows.popitem(last=False)
        else:
            self._rows.move_to_end(symbols)
        return rows

    def _build(self, inst: Instrument) -> _Params:
        ac = inst.asset_class
        kind, carry, expiry, strike, call = 0, 0.0, 0.0, 1.0, True
        extra: dict[str, object] = {}
        if ac is AssetClass.OPTION:
            und = parse_symbol(inst.underlying or "")
            process, level, sigma, _ = _spot(und, self.universe)
            kind = 2
            assert inst.expiry is not None and inst.strike is not None
            expiry = _at(inst.expiry, 16)
            strike = float(inst.strike)
            call = inst.right is Right.CALL
            spread_bps, display, day_notional = 80.0, (2e3, 5e4), 2e6 * (0.2 + _name_unit("adv", inst.symbol))
            extra = self._option_extra(und, call, inst.expiry)
        elif ac is AssetClass.FUTURE:
            root = inst.underlying or inst.symbol
            process = MICRO_FUTURES.get(root, root)
            level, sigma, carry = FUTURES.get(process, (_log_uniform(50.0, 5000.0, "fut", process), 0.25, 0.0))
            assert inst.expiry is not None
            kind, expiry = 1, _at(inst.expiry, 16)
            spread_bps, display, day_notional = 0.0, (1e6, 2e7), 2e10 * (0.2 + _name_unit("adv", process))
        else:
            process, level, sigma, spread_bps = _spot(inst, self.universe)
            stock = AssetClass.INDEX if ac is AssetClass.INDEX else AssetClass.EQUITY
            display = {stock: (2e4, 3e5), AssetClass.CRYPTO: (2e4, 5e5)}.get(ac, (1e6, 1e7))
            day_notional = {stock: 5e9, AssetClass.CRYPTO: 1e10}.get(ac, 1e11) * (
                0.05 + _name_unit("adv", inst.symbol)
            )
        seed = self.seed
        return _Params(
            symbol=inst.symbol, inst=inst,
            okeys=[_key("octave", process, seed, i) for i in range(_N_OCT + 1)],
            jkey=_key("jump", process, seed),
            mkey=_key("micro", inst.symbol, seed),
            vkey=_key("volume", inst.symbol, seed),
            level=level, sigma=sigma, kind=kind, carry=carry, expiry=expiry, strike=strike, call=call,
            tick=Fraction(inst.tick_size), lot=Fraction(inst.lot_size), mult=float(inst.multiplier),
            usd=_usd_value(inst.currency),
            spread_bps=spread_bps, display=display, day_notional=day_notional, **extra,  # type: ignore[arg-type]
        )

    def _option_extra(self, und: Instrument, call: bool, expiry: date) -> dict[str, object]:
        """The surface and activity inputs of an option on ``und`` (see brokers.paper.surface)."""
        name = und.symbol
        index = und.asset_class is AssetClass.INDEX
        listing = self.universe.listings.get(name)
        index_like = index or name in ETFS or (listing is not None and listing.kind == "etf")
        div = surface.dividend_yield(name)
        skew, smile = surface.skew_params(index_like, _name_unit("skew", name))
        liquidity = 4_000.0 * math.exp(2.0 * (_name_unit("optliq", name) - 0.5))
        liquidity *= (4.0 if name in EQUITIES else 1.0) * (5.0 if index_like else 1.0)
        return {
            "div": div, "american": not index and (not call or div > 0.0), "skew": skew, "smile": smile,
            "ivkey": _key("ivlevel", name, self.seed), "monthly": is_monthly(expiry), "liquidity": liquidity,
        }

    # -- day boundaries and volume

    def _day_bounds(self, t: float) -> tuple[float, float]:
        start, end = self._day
        if not start <= t < end:
            start = prev_close_time(t)
            end = next_close_time(t)
            self._day = (start, end)
        return start, end

    def _volume(self, rows: _Rows, t: np.ndarray, start: np.ndarray, end: np.ndarray, prev: np.ndarray) -> np.ndarray:
        """Cumulative volume of the day at ``t``, in whole lots (rows and times broadcast)."""
        day = _ticks(np.floor(start / 86_400.0))
        h = _mix(rows.vkey + day * _GOLDEN)
        units = rows.day_notional / (prev * rows.usd * rows.mult)
        if rows.any_option:  # options: contracts by moneyness and expiry, not a notional
            units = np.where(rows.option, rows.activity(start)[1], units)
        units = units * np.exp(0.3 * _gauss(h))
        a = 1.2 * (_unit(_mix(h ^ _JUMP_SALT)) - 0.5)
        x = (t - start) / (end - start)
        frac = x - a * np.sin(2.0 * math.pi * x) / (2.0 * math.pi)
        lots = np.floor(units * frac * rows.lot_q / rows.lot_p)
        return lots * rows.lot_p / rows.lot_q

    def _cumulative_volume(self, rows: _Rows, t: np.ndarray) -> np.ndarray:
        """Volume traded since the day boundary before ``t.min()``, at each ``t`` (one origin
        per call: take differences within one call only)."""
        bounds = [prev_close_time(float(t.min()))]
        while bounds[-1] <= t.max():
            bounds.append(next_close_time(bounds[-1]))
        b = np.array(bounds)
        prev = rows.price(rows.on_tick(rows.mid(b)))
        full = self._volume(rows, b[1:], b[:-1], b[1:], prev[:-1])
        before = np.concatenate([[0.0], np.cumsum(full)])
        i = np.searchsorted(b, t, side="right") - 1
        return before[i] + self._volume(rows, t, b[i], b[i + 1], prev[i])

    def _open_mask(self, symbol: str, opens: np.ndarray, seconds: int, calendar: str = "nyse") -> np.ndarray:
        inst = parse_symbol(symbol)
        if calendar == "exchange" or _session_kind(inst) == "nyse":
            venue = sessions.venue_of(inst) if calendar == "exchange" else "XNYS"
            spans = sessions.regular_sessions(venue, float(opens[0]), float(opens[-1]) + seconds)
            if not spans:
                return np.zeros(len(opens), dtype=bool)
            so = np.array([s[0] for s in spans])
            sc = np.array([s[1] for s in spans])
            i = np.searchsorted(sc, opens, side="right")
            ok = i < len(sc)
            return ok & (so[np.minimum(i, len(so) - 1)] < opens + seconds)
        pairs = zip(opens.tolist(), (opens + seconds - 1e-3).tolist(), strict=True)
        return np.array([is_open(inst, a, "nyse") or is_open(inst, b, "nyse") for a, b in pairs])


@functools.cache
def shipped_universe() -> Universe:
    """The shipped symbols file, read once per process (it never changes while running)."""
    return load_universe(trading_day=is_trading_day)


def _log_uniform(lo: float, hi: float, *name: object) -> float:
    return float(lo * (hi / lo) ** _name_unit("level", *name))


def _usd_value(asset: str) -> float:
    if asset in STABLECOINS:
        return 1.0
    if asset in FIAT_USD:
        return FIAT_USD[asset]
    if asset in CRYPTO_USD:
        return CRYPTO_USD[asset][0]
    if asset in FIAT:
        return _log_uniform(0.01, 1.0, "fiat", asset)
    return _log_uniform(0.1, 100.0, "crypto", asset)


def _spot(inst: Instrument, universe: Universe) -> tuple[str, float, float, float]:
    """(process name, level, volatility, spread in bps) of an equity, crypto or forex pair."""
    sym = inst.symbol
    if inst.asset_class is AssetClass.EQUITY or inst.asset_class is AssetClass.INDEX:
        if sym in EQUITIES:
            level, sigma = EQUITIES[sym]
            return sym, level, sigma, 0.3 if sym in ETFS else 1.0
        listing = universe.listings.get(sym)
        if listing is not None:
            return sym, float(listing.price), listing.vol, 0.3 if listing.kind == "etf" else 1.0
        u = _name_unit("equity", sym)
        return sym, _log_uniform(10.0, 500.0, "equity", sym), 0.25 + 0.2 * u, 2.0 + 13.0 * _name_unit("spread", sym)
    base, quote = inst.base or sym, inst.currency
    quote_asset = sym.split("/")[1] if "/" in sym else quote
    level = _usd_value(base) / _usd_value(quote_asset)
    if inst.asset_class is AssetClass.FOREX:
        sigma = 0.10 if "JPY" in (base, quote_asset) else 0.08
        major = base in FX_MAJORS and quote_asset in FX_MAJORS and "USD" in (base, quote_asset)
        return sym, level, sigma, 0.6 if major else 1.5 + 2.0 * _name_unit("spread", sym)
    if base not in CRYPTO_USD and base in universe.crypto and base not in FIAT:
        level = float(universe.crypto[base][0]) / _usd_value(quote_asset)
    vol_b = CRYPTO_USD[base][1] if base in CRYPTO_USD else 0.6 + 0.3 * _name_unit("vol", base)
    if quote_asset in CRYPTO_USD:
        vol_q = CRYPTO_USD[quote_asset][1]
        sigma = math.sqrt(vol_b * vol_b + vol_q * vol_q - 2 * 0.7 * vol_b * vol_q)
    else:
        sigma = vol_b
    spread = 1.0 if base in ("BTC", "ETH") else 3.0 + 7.0 * _name_unit("spread", sym)
    return sym, level, sigma, spread
