"""The paper market's option figures: its implied volatility surface, dividend yields, and how
wide, deep and busy an option's market is.

Everything here is a vectorized pure function of its arguments; ``brokers.paper.market``
feeds it the underlying's simulated price and the hash-drawn noise (so quotes stay a pure
function of ``(symbol, seed, t)``).

**The surface.** For a contract of strike ``K`` and ``T`` years on an underlying at ``S``,
whose process has volatility ``sigma`` and wanders around its base level ``L``:

* *Level.* ``mood = clip(-ln(S / L) / sigma, -1.5, 2.5)`` measures how far the underlying
  trades below its base (in units of its annual volatility): a selloff lifts vols, a rally
  calms them (``exp(0.35 mood)``). A slow hashed factor (value noise on 5-day knots,
  ``exp(0.12 g)``) and the process's own daily volatility regime (``exp(0.15 g)``) move the
  level day to day.
* *Term structure.* The short end sits at ``level * (1 + slope)``, ``slope = clip(-0.08 +
  0.15 mood, -0.15, 0.4)``, and reverts to ``1.05 sigma`` (the long-run level, with a variance
  premium) as ``exp(-T / 0.4)``: upward sloping when calm, inverted after a selloff.
* *Skew and smile.* In standardized log-moneyness ``x = ln(K / F) / (atm sqrt(T'))`` (``F``
  the forward, ``T' = max(T, 1 day)``) the vol is ``atm * exp(-s y + c x^2 / (1 + |x|))``
  with ``y = x`` below the forward and ``2 tanh(x / 2)`` above (the fall levels off): lower
  strikes richer (put skew ``s``: ~0.2 for indices and index ETFs, ~0.08 for stocks, steeper
  after a selloff), both wings lifted (smile ``c``: 0.06 and 0.08). Dividing by ``sqrt(T')`` makes
  the skew in plain log-moneyness steepen as expiry nears.

**Dividends.** A continuous yield per underlying (``DIVIDEND_YIELDS``; 0 for non-payers),
used in the option's price (and reported with its chain); the simulated spot process itself
does not drop on ex-dates.

**Width, depth and activity.** Bid/ask width grows with ``|x|`` and as expiry nears
(``option_width``); open interest and day volume peak at the money (against the
underlying's base level) and in the nearest monthlies (``option_activity``).
"""

from __future__ import annotations

import numpy as np

# Continuous dividend yields (recent, rounded); an underlying not listed pays none.
DIVIDEND_YIELDS: dict[str, float] = {
    "SPY": 0.013, "SPX": 0.013, "QQQ": 0.006, "NDX": 0.007, "IWM": 0.012, "RUT": 0.012, "DIA": 0.017,
    "AAPL": 0.005, "MSFT": 0.008, "NVDA": 0.0003, "AVGO": 0.012, "ORCL": 0.012, "CSCO": 0.024,
    "QCOM": 0.021, "TXN": 0.029, "IBM": 0.023, "INTC": 0.0, "GOOGL": 0.005, "GOOG": 0.005,
    "META": 0.003, "CMCSA": 0.035, "T": 0.041, "VZ": 0.064, "TMUS": 0.014, "HD": 0.023,
    "MCD": 0.023, "NKE": 0.024, "SBUX": 0.028, "LOW": 0.019, "TGT": 0.045, "WMT": 0.009,
    "PG": 0.025, "KO": 0.029, "PEP": 0.037, "COST": 0.005, "PM": 0.034, "MO": 0.07, "CL": 0.025,
    "JPM": 0.021, "BAC": 0.022, "WFC": 0.021, "GS": 0.017, "MS": 0.026, "C": 0.025, "V": 0.008,
    "MA": 0.005, "AXP": 0.01, "BLK": 0.02, "SCHW": 0.012, "XOM": 0.034, "DIS": 0.009,
}

_LONG_RUN = 1.05  # long-dated vol over the process's volatility (a variance premium)
_TERM_YEARS = 0.4  # how fast the short end reverts to the long run
_DAY = 1.0 / 365.0


def dividend_yield(underlying: str) -> float:
    """The continuous dividend yield the paper market prices ``underlying``'s options with."""
    return DIVIDEND_YIELDS.get(underlying, 0.0)


def skew_params(index_like: bool, name_unit: float) -> tuple[float, float]:
    """(put skew, smile curvature) of an underlying; ``name_unit`` in [0, 1) varies it by name."""
    base = 0.2 if index_like else 0.08
    return base * (0.8 + 0.4 * name_unit), 0.06 if index_like else 0.08


def implied_vols(
    spot: np.ndarray, level: np.ndarray, sigma: np.ndarray, strike: np.ndarray, years: np.ndarray,
    rate: float, div: np.ndarray, skew: np.ndarray, smile: np.ndarray, noise: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(implied vol, standardized log-moneyness ``x``) of each contract; ``noise`` is the log
    of the hash-drawn level factors (see the module)."""
    mood = np.clip(-np.log(spot / level) / sigma, -1.5, 2.5)
    atm_now = sigma * np.exp(0.35 * mood + noise)
    slope = np.clip(-0.08 + 0.15 * mood, -0.15, 0.4)
    long_run = sigma * _LONG_RUN
    t = np.maximum(years, _DAY)
    atm = long_run + (atm_now * (1.0 + slope) - long_run) * np.exp(-t / _TERM_YEARS)
    forward = spot * np.exp((rate - div) * t)
    x = np.clip(np.log(strike / forward) / (atm * np.sqrt(t)), -8.0, 8.0)
    s = skew * (1.0 + 0.3 * np.maximum(mood, 0.0))
    tilt = np.where(x < 0.0, x, 2.0 * np.tanh(0.5 * x))  # the call side's fall levels off
    iv = atm * np.exp(-s * tilt + smile * x * x / (1.0 + np.abs(x)))
    return np.clip(iv, 0.03, 5.0), x


def option_width(mid: np.ndarray, x: np.ndarray, years: np.ndarray) -> np.ndarray:
    """The bid/ask width in dollars: a cent plus about 1% of the premium at the money on a
    quarterly, wider away from the money and as expiry nears (the caller rounds up to ticks)."""
    away = 1.0 + 0.4 * np.minimum(np.abs(x), 6.0)
    near = 1.0 + 0.01 / (np.maximum(years, 0.0) + 0.01)
    return 0.01 + mid * 0.01 * away * near


def option_activity(strike: np.ndarray, level: np.ndarray, sigma: np.ndarray, years: np.ndarray,
                    monthly: np.ndarray, liquidity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(open interest, day volume) in contracts before the day's hash-drawn variation: most at
    the money (against the underlying's base level) and in the nearest monthly expiries."""
    t = np.maximum(years, _DAY)
    k = np.log(strike / level) / (sigma * np.sqrt(np.maximum(t, 30 * _DAY)))
    money = np.exp(-0.5 * (k / 1.2) ** 2) + 0.02
    cycle = np.where(monthly, 1.0, 0.35)
    open_interest = liquidity * money * cycle * (0.25 + 0.75 * np.exp(-t / 0.6))
    volume = open_interest * 0.15 * (1.0 + 3.0 * np.exp(-t / 0.04))
    return open_interest, volume
