"""Technical indicators, each in two forms that agree: vectorized for history, incremental for live.

The vectorized functions take numpy arrays (or anything ``np.asarray`` accepts) and return
float64 arrays of the same length, ``NaN`` until the indicator has enough data. The
incremental classes take one value (or bar) at a time through ``update`` and return the
indicator's current value (``NaN`` while warming up); feeding a series through ``update``
gives exactly the vectorized result, element by element.

Conventions (those of TA-Lib, so figures match what traders see elsewhere):

* EMA: ``alpha = 2 / (n + 1)``, seeded with the simple average of the first ``n`` values.
* RSI and ATR: Wilder smoothing (``alpha = 1 / n``) seeded with the simple average of the
  first ``n`` gains/losses or true ranges; both start at index ``n`` (they need a previous close).
* MACD: fast EMA minus slow EMA; the signal line is an EMA of the MACD line seeded once
  the MACD line exists.
* Bollinger bands and the rolling z-score use the population standard deviation (ddof 0).
* VWAP is anchored at the first value: cumulative ``sum(price * volume) / sum(volume)``
  (``NaN`` while no volume has traded); bars use the typical price ``(high + low + close) / 3``.

These are market-data floats, not money: orders convert to ``Decimal`` at the order boundary.
"""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

import numpy as np

NAN = float("nan")


def _arr(values: object) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _check_period(n: int, what: str = "period") -> int:
    if int(n) != n or n < 1:
        raise ValueError(f"{what} must be a positive whole number, got {n!r}")
    return int(n)


# --------------------------------------------------------------------------- vectorized


def sma(values: object, n: int) -> np.ndarray:
    """Simple moving average over ``n`` values."""
    n = _check_period(n)
    x = _arr(values)
    out = np.full(x.shape, NAN)
    if len(x) >= n:
        out[n - 1 :] = np.lib.stride_tricks.sliding_window_view(x, n).mean(axis=1)
    return out


def _seeded_ewm(x: np.ndarray, alpha: float, n: int, start: int = 0) -> np.ndarray:
    """Exponential smoothing of ``x[start:]`` seeded with the mean of its first ``n`` values."""
    out = np.full(x.shape, NAN)
    first = start + n - 1
    if len(x) <= first:
        return out
    seeded = x.copy()
    seeded[:first] = NAN
    seeded[first] = x[start : first + 1].mean()
    import pandas as pd  # imported on first use: a live strategy or a backtest need not pay for it

    out[first:] = pd.Series(seeded[first:]).ewm(alpha=alpha, adjust=False).mean().to_numpy()
    return out


def ema(values: object, n: int) -> np.ndarray:
    """Exponential moving average (``alpha = 2/(n+1)``), seeded with the SMA of the first ``n``."""
    n = _check_period(n)
    return _seeded_ewm(_arr(values), 2.0 / (n + 1), n)


def rsi(values: object, n: int = 14) -> np.ndarray:
    """Wilder's relative strength index, 0..100 (100 when there were no losses)."""
    n = _check_period(n)
    x = _arr(values)
    out = np.full(x.shape, NAN)
    if len(x) <= n:
        return out
    delta = np.diff(x)
    gains = np.where(delta > 0, delta, 0.0)
    losses = np.where(delta < 0, -delta, 0.0)
    avg_gain = _seeded_ewm(gains, 1.0 / n, n)
    avg_loss = _seeded_ewm(losses, 1.0 / n, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(avg_loss == 0, 100.0, 100.0 - 100.0 / (1.0 + avg_gain / avg_loss))
    value[np.isnan(avg_gain)] = NAN
    out[1:] = value
    return out


class MacdResult(NamedTuple):
    macd: np.ndarray
    signal: np.ndarray
    histogram: np.ndarray


def macd(values: object, fast: int = 12, slow: int = 26, signal: int = 9) -> MacdResult:
    """MACD line (fast EMA - slow EMA), its signal EMA, and the histogram (line - signal)."""
    fast, slow, signal = _check_period(fast, "fast"), _check_period(slow, "slow"), _check_period(signal, "signal")
    if fast >= slow:
        raise ValueError(f"fast ({fast}) must be shorter than slow ({slow})")
    x = _arr(values)
    line = ema(x, fast) - ema(x, slow)
    sig = np.full(x.shape, NAN)
    if len(x) >= slow:
        sig = _seeded_ewm(line, 2.0 / (signal + 1), signal, start=slow - 1)
    return MacdResult(line, sig, line - sig)


class BandsResult(NamedTuple):
    middle: np.ndarray
    upper: np.ndarray
    lower: np.ndarray


def _rolling_std(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(x.shape, NAN)
    if len(x) >= n:
        out[n - 1 :] = np.lib.stride_tricks.sliding_window_view(x, n).std(axis=1)
    return out


def bollinger(values: object, n: int = 20, k: float = 2.0) -> BandsResult:
    """Bollinger bands: the SMA and ``k`` population standard deviations either side."""
    n = _check_period(n)
    x = _arr(values)
    mid = sma(x, n)
    sd = _rolling_std(x, n)
    return BandsResult(mid, mid + k * sd, mid - k * sd)


def true_range(high: object, low: object, close: object) -> np.ndarray:
    """True range; ``NaN`` for the first bar (it has no previous close)."""
    h, lo, c = _arr(high), _arr(low), _arr(close)
    out = np.full(h.shape, NAN)
    if len(h) > 1:
        prev = c[:-1]
        out[1:] = np.maximum(h[1:] - lo[1:], np.maximum(np.abs(h[1:] - prev), np.abs(lo[1:] - prev)))
    return out


def atr(high: object, low: object, close: object, n: int = 14) -> np.ndarray:
    """Wilder's average true range."""
    n = _check_period(n)
    tr = true_range(high, low, close)
    return _seeded_ewm(tr, 1.0 / n, n, start=1)


def vwap(price: object, volume: object) -> np.ndarray:
    """Volume-weighted average price anchored at the first value."""
    p, v = _arr(price), _arr(volume)
    cum_v = np.cumsum(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.cumsum(p * v) / cum_v
    out[cum_v <= 0] = NAN
    return out


def typical_price(high: object, low: object, close: object) -> np.ndarray:
    return (_arr(high) + _arr(low) + _arr(close)) / 3.0


def zscore(values: object, n: int = 20) -> np.ndarray:
    """How many rolling (population) standard deviations the value is from its rolling mean."""
    n = _check_period(n)
    x = _arr(values)
    mean = sma(x, n)
    sd = _rolling_std(x, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (x - mean) / sd
    out[~(sd > 0)] = NAN
    return out


# --------------------------------------------------------------------------- incremental


class SMA:
    """Incremental simple moving average.

    A running sum (add the new value, take away the one leaving the window), re-summed
    exactly with ``math.fsum`` whenever the window has turned over once: the error never
    grows beyond ``n`` roundings of the sum (a relative few times 1e-15 for ``n`` in the
    hundreds), and each update costs a few float operations whatever ``n`` is.

    The window is a ring of ``n`` slots; the write position coming back to slot 0 is the
    moment to re-sum (the window's first fill, then every ``n`` updates). Until that first
    fill the running sum is NaN, so the value is NaN without a separate test."""

    __slots__ = ("n", "_ring", "_at", "_sum", "value", "ready")

    def __init__(self, n: int) -> None:
        self.n = _check_period(n)
        self._ring = [NAN] * self.n
        self._at = 0  # the slot the next value goes to: the oldest value's, once full
        self._sum = NAN
        self.value = NAN
        self.ready = False  # the value is a number (a plain attribute: strategies read it every bar)

    def update(self, x: float) -> float:
        if x.__class__ is not float:
            x = float(x)
        ring = self._ring
        at = self._at
        old = ring[at]
        ring[at] = x
        at += 1
        if at == self.n:
            self._at = 0
            total = self._sum = math.fsum(ring)
        else:
            self._at = at
            total = self._sum = self._sum + (x - old)
        value = self.value = total / self.n
        self.ready = value == value  # False for NaN: warming up, or a NaN input still in the window
        return value


class SMACross:
    """The fast and the slow simple moving average of one series, kept together for a crossover.

    The fast window is the newest ``fast`` values of the slow one, so one ring of ``slow``
    slots serves both: each update writes one slot and moves two running sums, each re-summed
    exactly with ``math.fsum`` whenever the ring turns over (as ``SMA`` does; the fast one's
    error then stays within ``slow`` roundings). ``update`` returns ``fast - slow``, whose
    sign says which is above (0.0 exactly when they are equal; NaN until the slow window is
    full); the means themselves are ``.fast`` and ``.slow`` (both NaN until then)."""

    __slots__ = ("n_fast", "n_slow", "_ring", "_at", "_fast_sum", "_slow_sum")

    def __init__(self, fast: int, slow: int) -> None:
        self.n_fast = _check_period(fast)
        self.n_slow = _check_period(slow)
        if self.n_fast >= self.n_slow:
            raise ValueError(f"the fast period ({fast}) must be shorter than the slow one ({slow})")
        self._ring = [NAN] * self.n_slow
        self._at = 0  # the slot the next value goes to (the oldest value's, once full)
        self._fast_sum = self._slow_sum = NAN

    @property
    def fast(self) -> float:
        return self._fast_sum / self.n_fast

    @property
    def slow(self) -> float:
        return self._slow_sum / self.n_slow

    @property
    def ready(self) -> bool:
        return self._slow_sum == self._slow_sum

    def update(self, x: float) -> float:
        if x.__class__ is not float:
            x = float(x)
        ring = self._ring
        at = self._at
        leaving_slow = ring[at]
        leaving_fast = ring[at - self.n_fast]  # (a negative index wraps round the ring)
        ring[at] = x
        at += 1
        if at == self.n_slow:  # the ring turned over: re-sum both exactly
            self._at = 0
            slow = self._slow_sum = math.fsum(ring)
            fast = self._fast_sum = math.fsum(ring[-self.n_fast :])
        else:
            self._at = at
            slow = self._slow_sum = self._slow_sum + (x - leaving_slow)
            fast = self._fast_sum = self._fast_sum + (x - leaving_fast)
        return fast / self.n_fast - slow / self.n_slow


class _SeededSmoother:
    """Exponential smoothing seeded with the mean of the first ``n`` inputs."""

    def __init__(self, n: int, alpha: float) -> None:
        self.n = n
        self.alpha = alpha
        self._seed: list[float] = []
        self.value = NAN

    def update(self, x: float) -> float:
        if math.isnan(self.value):
            self._seed.append(float(x))
            if len(self._seed) == self.n:
                self.value = sum(self._seed) / self.n
                self._seed = []
        else:
            self.value = self.value + self.alpha * (float(x) - self.value)
        return self.value


class EMA(_SeededSmoother):
    """Incremental exponential moving average."""

    def __init__(self, n: int) -> None:
        n = _check_period(n)
        super().__init__(n, 2.0 / (n + 1))

    @property
    def ready(self) -> bool:
        return not math.isnan(self.value)


class RSI:
    """Incremental Wilder RSI."""

    def __init__(self, n: int = 14) -> None:
        self.n = _check_period(n)
        self._gain = _SeededSmoother(self.n, 1.0 / self.n)
        self._loss = _SeededSmoother(self.n, 1.0 / self.n)
        self._prev: float | None = None
        self.value = NAN

    def update(self, x: float) -> float:
        x = float(x)
        if self._prev is not None:
            delta = x - self._prev
            g = self._gain.update(delta if delta > 0 else 0.0)
            lo = self._loss.update(-delta if delta < 0 else 0.0)
            if not math.isnan(g):
                self.value = 100.0 if lo == 0 else 100.0 - 100.0 / (1.0 + g / lo)
        self._prev = x
        return self.value


class MACD:
    """Incremental MACD: ``update`` returns ``(macd, signal, histogram)``."""

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        if fast >= slow:
            raise ValueError(f"fast ({fast}) must be shorter than slow ({slow})")
        self._fast, self._slow = EMA(fast), EMA(slow)
        self._signal = EMA(signal)
        self.value: tuple[float, float, float] = (NAN, NAN, NAN)

    def update(self, x: float) -> tuple[float, float, float]:
        f = self._fast.update(x)
        s = self._slow.update(x)
        line = f - s
        if math.isnan(line):
            return self.value
        sig = self._signal.update(line)
        self.value = (line, sig, line - sig)
        return self.value


class Bollinger:
    """Incremental Bollinger bands: ``update`` returns ``(middle, upper, lower)``."""

    def __init__(self, n: int = 20, k: float = 2.0) -> None:
        self.n = _check_period(n)
        self.k = k
        self._window: deque[float] = deque(maxlen=self.n)
        self.value: tuple[float, float, float] = (NAN, NAN, NAN)

    def update(self, x: float) -> tuple[float, float, float]:
        self._window.append(float(x))
        if len(self._window) == self.n:
            mean, sd = _mean_std(self._window)
            self.value = (mean, mean + self.k * sd, mean - self.k * sd)
        return self.value


def _mean_std(window: deque[float]) -> tuple[float, float]:
    n = len(window)
    mean = math.fsum(window) / n
    var = math.fsum((v - mean) ** 2 for v in window) / n
    return mean, math.sqrt(var)


class ATR:
    """Incremental Wilder ATR from bars (high, low, close)."""

    def __init__(self, n: int = 14) -> None:
        self.n = _check_period(n)
        self._smooth = _SeededSmoother(self.n, 1.0 / self.n)
        self._prev_close: float | None = None
        self.value = NAN

    def update(self, high: float, low: float, close: float) -> float:
        if self._prev_close is not None:
            pc = self._prev_close
            tr = max(high - low, abs(high - pc), abs(low - pc))
            self.value = self._smooth.update(tr)
        self._prev_close = float(close)
        return self.value


class VWAP:
    """Incremental anchored VWAP; ``reset()`` re-anchors (a new session)."""

    def __init__(self) -> None:
        self._pv = 0.0
        self._v = 0.0
        self.value = NAN

    def update(self, price: float, volume: float) -> float:
        self._pv += float(price) * float(volume)
        self._v += float(volume)
        self.value = self._pv / self._v if self._v > 0 else NAN
        return self.value

    def reset(self) -> None:
        self._pv = self._v = 0.0
        self.value = NAN


class ZScore:
    """Incremental rolling z-score."""

    def __init__(self, n: int = 20) -> None:
        self.n = _check_period(n)
        self._window: deque[float] = deque(maxlen=self.n)
        self.value = NAN

    def update(self, x: float) -> float:
        self._window.append(float(x))
        if len(self._window) == self.n:
            mean, sd = _mean_std(self._window)
            self.value = (float(x) - mean) / sd if sd > 0 else NAN
        return self.value
