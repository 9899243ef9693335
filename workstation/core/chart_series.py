"""What the chart draws, computed without a screen: bars in a timeframe (resampled from
shorter bars, extended by quotes), the ticks and labels of its time, price and volume axes,
and moving averages that end at the last bar.

Times are epoch seconds and every label is in UTC, as the header clock is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from workstation.core.model import Bar

TIMEFRAMES: tuple[tuple[str, int], ...] = (("1m", 60), ("5m", 300), ("1h", 3600), ("1d", 86400))
"""The chart's timeframes: (name, seconds per bar), in the order its key cycles through them."""

_DAY = 86_400
_WEEK = 7 * _DAY
_MONDAY = 4 * _DAY  # 1970-01-05, the first Monday after the epoch
# steps between time labels: seconds, or the calendar units "month" and "year"
_STEPS: tuple[int | str, ...] = (
    60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, _DAY, 2 * _DAY, _WEEK, "month", "quarter", "year",
)


def window(ts: float, seconds: int) -> float:
    """The open of the ``seconds`` window holding ``ts`` (windows are aligned to the epoch, UTC)."""
    return math.floor(ts / seconds) * seconds


def resample(bars: Iterable[Bar], seconds: int) -> list[Bar]:
    """Bars of ``seconds`` from shorter bars in time order: each window's first open, highest
    high, lowest low, last close and summed volume. A window without bars stays empty."""
    out: list[Bar] = []
    for b in bars:
        if b.seconds > seconds:
            raise ValueError(f"cannot make {seconds} s bars from {b.seconds} s bars")
        start = window(b.ts, seconds)
        last = out[-1] if out else None
        if last is not None and last.ts == start:
            out[-1] = Bar(
                b.symbol, start, last.open, max(last.high, b.high), min(last.low, b.low), b.close,
                last.volume + b.volume, seconds,
            )
        else:
            out.append(Bar(b.symbol, start, b.open, b.high, b.low, b.close, b.volume, seconds))
    return out


class BarSeries:
    """The bars of one symbol in one timeframe: the engine's history, then each quote folded
    into the last bar or opening the next one. No bar ever lies past the latest data.

    ``fill`` puts bars the engine backfilled from the broker's history into the holes the
    live feed left; ``backfilled`` holds the opens of the bars they made (the chart marks them)."""

    def __init__(self, symbol: str, seconds: int, keep: int = 500) -> None:
        self.symbol = symbol
        self.seconds = int(seconds)
        self.keep = keep
        self.bars: list[Bar] = []
        self.seeded = False
        self._day_volume: float | None = None
        self.backfilled: set[float] = set()

    def fill(self, bars: Sequence[Bar]) -> bool:
        """Backfilled ``bars`` (of this timeframe or shorter) into their windows: a window with
        no bar gets theirs, in time order; every window they touch is marked. None past the
        latest bar. Returns whether anything changed."""
        mine = [b for b in bars if b.symbol == self.symbol and b.seconds <= self.seconds]
        if not mine:
            return False
        last = self.bars[-1].ts if self.bars else math.inf
        made = [b for b in resample(sorted(mine, key=lambda b: b.ts), self.seconds) if b.ts <= last]
        have = {b.ts for b in self.bars}
        new = [b for b in made if b.ts not in have]
        before = len(self.backfilled)
        self.backfilled.update(b.ts for b in made)
        if new:
            self.bars = sorted([*self.bars, *new], key=lambda b: b.ts)[-self.keep :]
        return bool(new) or len(self.backfilled) != before

    def seed(self, history: Sequence[Bar], minutes: Sequence[Bar], now: float) -> None:
        """Put the history before the bars built from quotes so far.

        ``history`` holds bars of this timeframe; a bar that has not ended by ``now`` is left
        out (a simulated market knows its future) and rebuilt from the ended ``minutes`` of
        its window, the quotes doing the rest."""
        current = window(now, self.seconds)
        done = [b for b in history if b.ts + b.seconds <= now and b.ts < current]
        part = resample((m for m in minutes if m.ts >= current and m.ts + m.seconds <= now), self.seconds)
        past = done + part
        live = self.bars
        if live:
            past = [b for b in past if b.ts <= live[0].ts]
            if past and past[-1].ts == live[0].ts:
                a, b = past.pop(), live[0]
                live = [Bar(b.symbol, b.ts, a.open, max(a.high, b.high), min(a.low, b.low), b.close, a.volume + b.volume, b.seconds), *live[1:]]
        self.bars = (past + live)[-self.keep :]
        self.seeded = True

    def on_quote(self, ts: float, price: float, day_volume: float = 0.0) -> None:
        """Fold a price at ``ts`` in; ``day_volume`` is the day's cumulative volume so far."""
        if not price > 0 or not math.isfinite(price):
            return
        traded = 0.0
        if day_volume:
            if self._day_volume is not None and day_volume >= self._day_volume:
                traded = day_volume - self._day_volume
            self._day_volume = day_volume
        start = window(ts, self.seconds)
        last = self.bars[-1] if self.bars else None
        if last is not None and start < last.ts:
            return  # a late quote does not reopen an ended bar
        if last is not None and start == last.ts:
            self.bars[-1] = Bar(
                last.symbol, start, last.open, max(last.high, price), min(last.low, price), price,
                last.volume + traded, self.seconds,
            )
        else:
            self.bars.append(Bar(self.symbol, start, price, price, price, price, traded, self.seconds))
            del self.bars[: -self.keep]


def moving_average(values: Sequence[float], n: int) -> list[float | None]:
    """The ``n``-bar simple average at each bar: one value per bar, none before the ``n``-th
    bar and none past the last one."""
    out: list[float | None] = []
    total = 0.0
    for i, v in enumerate(values):
        total += v
        if i >= n:
            total -= values[i - n]
        out.append(total / n if i >= n - 1 else None)
    return out


# --------------------------------------------------------------------------- time axis


def _period(ts: float, step: int | str) -> object:
    if isinstance(step, int):
        return math.floor((ts - _MONDAY) / step) if step == _WEEK else math.floor(ts / step)
    d = datetime.fromtimestamp(ts, tz=timezone.utc)
    return {"month": (d.year, d.month), "quarter": (d.year, (d.month - 1) // 3), "year": d.year}[step]


def _label(ts: float, step: int | str, new_day: bool) -> str:
    d = datetime.fromtimestamp(ts, tz=timezone.utc)
    if isinstance(step, int):
        return d.strftime("%H:%M" if step < _DAY and not new_day else "%d %b")
    return d.strftime("%Y" if step == "year" else "%b %y")


LABEL_WIDTH = 6  # "12:30", "05 Mar", "Mar 26", "2026"


def time_ticks(stamps: Sequence[float], seconds: int, columns: int) -> list[tuple[int, str]]:
    """Where to label the time axis of bars opening at ``stamps``, drawn over ``columns``
    columns: (bar index, UTC label) at the first bar of each step, the step being the shortest
    round one (5 min, 1 h, a day, a week, a month...) whose labels never touch. An intraday
    label where a new day begins shows the date."""
    n = len(stamps)
    if n < 2 or columns <= 0:
        return []
    gap = (LABEL_WIDTH + 2) * n / columns  # bars between two labels, so that they never touch
    edge = n - LABEL_WIDTH / 2 * n / columns  # a label centred past this bar would leave the plot
    days = [math.floor(ts / _DAY) for ts in stamps]
    fallback: tuple[list[int], int | str] | None = None
    for step in _STEPS:
        if isinstance(step, int) and step <= seconds:
            continue
        periods = [_period(ts, step) for ts in stamps]
        ticks = [i for i in range(1, n) if periods[i] != periods[i - 1] and i <= edge]
        if ticks and all(b - a >= gap for a, b in zip(ticks, ticks[1:], strict=False)):
            return [(i, _label(stamps[i], step, days[i] != days[i - 1])) for i in ticks]
        if fallback is None and len(ticks) > 1:  # uneven bars (market hours): keep the labels that fit
            kept = [ticks[0]]
            for i in ticks[1:]:
                if i - kept[-1] >= gap:
                    kept.append(i)
            if len(kept) > 1:
                fallback = (kept, step)
    if fallback is None:
        return []
    return [(i, _label(stamps[i], fallback[1], days[i] != days[i - 1])) for i in fallback[0]]


# --------------------------------------------------------------------------- value axes


def nice_ticks(low: float, high: float, count: int) -> list[float]:
    """About ``count`` round values (1, 2, 2.5 or 5 times a power of ten apart) within [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)) or count < 1:
        return []
    if high <= low:
        return [low]
    for tries in range(count, count + 4):  # at least two ticks when a round step allows
        raw = (high - low) / tries
        power = 10 ** math.floor(math.log10(raw))
        step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
        out = []
        v = math.ceil(low / step - 1e-9) * step
        while v <= high + step * 1e-9:
            out.append(round(v, 12))
            v += step
        if len(out) >= 2:
            break
    return out


def price_labels(ticks: Sequence[float]) -> list[str]:
    """Tick values with as many decimals as their spacing needs (and thousands separators)."""
    if not ticks:
        return []
    step = min((b - a for a, b in zip(ticks, ticks[1:], strict=False)), default=abs(ticks[0]) or 1.0)
    decimals = max(0, min(8, -math.floor(math.log10(step) + 1e-9))) if step > 0 else 2
    if step > 0 and round(step, decimals) != round(step, decimals + 1):
        decimals += 1  # 2.5, 0.25...
    return [f"{v:,.{decimals}f}" for v in ticks]


def volume_label(v: float) -> str:
    """A volume in a few characters: 950, 12.5k, 3.2M, 1.1B."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= size:
            return f"{v / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{v:.0f}"
