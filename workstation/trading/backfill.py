"""The engine's live bars, and the holes in them filled from the broker's history.

``LiveBars`` builds the engine's bars (60 s by default) from the feed's quotes as they reach
the bus (``workstation.core.bars.BarBuilder``), keeps the last ``keep`` of each symbol in time
order and publishes each closed bar on the bus, where the data-quality monitor reads it (the
first quote of a new window, from any symbol, also closes the quiet symbols' bars).

When the monitor sees a gap (``DataQualityMonitor.on_gap``) it hands the hole to
``Backfiller.on_gap`` (``attach`` wires both for a session), which asks the broker's history for exactly that window, once, in a
task of its own (never on the quote path), at most one request per symbol every
``min_interval`` seconds (a hole found meanwhile waits for the next bar after the pause).
The bars that come back are inserted in order into ``LiveBars`` marked backfilled, and the
monitor clears the gap badge when every missing bar came (``gap_filled``; the faces get the
bars with the ``QualityChanged`` event, ``backfilled`` in its JSON, and the chart marks
them). When the history has none (or only some) the badge stays and says which bars it
lacks: "gap: history has no bars for 10:31-10:35 UTC" (``gap_unfilled``). A hole while the
symbol's market was closed (``workstation.core.sessions``: a night, a weekend) is no gap: no
badge, nothing asked.

Strategies never receive a backfilled bar: their ``on_bar`` is for the bar that has just
ended, and a bar that ended minutes ago is not something to act on. Backfilled bars are not
published on the bus; they go into the engine's bar history (``LiveBars.bars``), which
indicators read, and to the chart.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timezone
from typing import Any

from workstation.core.bars import BarBuilder
from workstation.core.bus import Bus
from workstation.core.clock import Clock
from workstation.core.model import Bar, Quote
from workstation.core.sessions import session_if_ready, venue_of
from workstation.core.symbols import parse_symbol
from workstation.risk.dataquality import DataQualityMonitor

History = Callable[[str, int, float, float], Awaitable[list[Bar]]]


class LiveBars:
    """Each symbol's last ``keep`` bars of ``seconds``, live and backfilled, in time order."""

    def __init__(self, bus: Bus, seconds: int = 60, keep: int = 500) -> None:
        self.bus = bus
        self.seconds = int(seconds)
        self.keep = keep
        self._builders: dict[str, BarBuilder] = {}
        self._bars: dict[str, list[Bar]] = {}
        self._filled: dict[str, set[float]] = {}
        self._flush_at = -math.inf  # the next window's open: a quote past it closes every quiet symbol's bar

    def on_quote(self, quote: Quote) -> None:
        if quote.ts >= self._flush_at:
            self._flush_at = (math.floor(quote.ts / self.seconds) + 1) * self.seconds
            self.flush(quote.ts)
        builder = self._builders.get(quote.symbol)
        if builder is None:
            builder = self._builders[quote.symbol] = BarBuilder(quote.symbol, self.seconds)
        bar = builder.on_quote(quote)
        if bar is not None:
            self._closed(bar)

    def flush(self, now: float) -> None:
        """Close every bar whose window has ended (a quiet symbol still gets its bar on time)."""
        for builder in list(self._builders.values()):
            bar = builder.flush(now)
            if bar is not None:
                self._closed(bar)

    def _closed(self, bar: Bar) -> None:
        bars = self._bars.setdefault(bar.symbol, [])
        if bars and bar.ts <= bars[-1].ts:
            return
        bars.append(bar)
        self._trim(bar.symbol)
        self.bus.publish(bar)

    def insert(self, symbol: str, bars: list[Bar]) -> list[Bar]:
        """Put backfilled ``bars`` in their places (a window that already has a bar keeps it);
        returns those inserted."""
        have = self._bars.setdefault(symbol, [])
        taken = {b.ts for b in have}
        new = []
        for b in sorted(bars, key=lambda b: b.ts):
            if b.ts not in taken and b.seconds == self.seconds:
                taken.add(b.ts)
                new.append(b)
        if new:
            have.extend(new)
            have.sort(key=lambda b: b.ts)
            self._filled.setdefault(symbol, set()).update(b.ts for b in new)
            self._trim(symbol)
        return new

    def _trim(self, symbol: str) -> None:
        bars = self._bars[symbol]
        if len(bars) > self.keep:
            del bars[: len(bars) - self.keep]
            filled = self._filled.get(symbol)
            if filled:
                filled.intersection_update(b.ts for b in bars)

    def bars(self, symbol: str) -> list[Bar]:
        return list(self._bars.get(symbol, ()))

    def backfilled(self, symbol: str, ts: float) -> bool:
        """Whether the bar of ``symbol`` opening at ``ts`` came from the broker's history."""
        return ts in self._filled.get(symbol, ())

    def rows(self, symbol: str) -> list[dict[str, Any]]:
        """The bars as JSON objects, each with ``backfilled``."""
        return [
            {"symbol": b.symbol, "ts": b.ts, "open": b.open, "high": b.high, "low": b.low, "close": b.close,
             "volume": b.volume, "seconds": b.seconds, "backfilled": self.backfilled(symbol, b.ts)}
            for b in self.bars(symbol)
        ]


def hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%H:%M")


def spans(stamps: list[float], seconds: int) -> str:
    """Bar opens as ranges of consecutive bars: "10:31-10:35, 10:40"."""
    out: list[str] = []
    run: list[float] = []
    for ts in sorted(stamps):
        if run and ts - run[-1] > seconds:
            out.append(_span(run))
            run = []
        run.append(ts)
    if run:
        out.append(_span(run))
    return ", ".join(out)


def _span(run: list[float]) -> str:
    return hhmm(run[0]) if len(run) == 1 else f"{hhmm(run[0])}-{hhmm(run[-1])}"


def attach(
    bus: Bus, clock: Clock, quality: DataQualityMonitor, history: History,
    spawn: Callable[[Coroutine[Any, Any, None]], None],
) -> Backfiller:
    """The engine's live bars and their backfill, wired to the bus and the monitor."""
    bars = LiveBars(bus)
    backfill = Backfiller(history, clock, quality, bars, spawn)
    quality.on_gap = backfill.on_gap
    bus.subscribe(Quote, bars.on_quote)
    bus.subscribe(Bar, backfill.on_bar)
    return backfill


class Backfiller:
    """Asks the broker's history for the bars of each gap and hands them to ``bars`` and the monitor."""

    def __init__(
        self, history: History, clock: Clock, quality: DataQualityMonitor, bars: LiveBars,
        spawn: Callable[[Coroutine[Any, Any, None]], None], min_interval: float = 300.0,
    ) -> None:
        self.history = history
        self.clock = clock
        self.quality = quality
        self.bars = bars
        self.spawn = spawn
        self.min_interval = min_interval
        self.requests: list[tuple[str, int, float, float]] = []  # every window asked, in order
        self._asked: set[tuple[str, int, float, float]] = set()
        self._last: dict[str, float] = {}  # symbol -> when its last request went out
        self._pending: dict[str, tuple[int, float, float]] = {}  # holes waiting for the pause to end
        self._venues: dict[str, str] = {}  # symbol -> the venue whose calendar says when it trades

    def on_gap(self, symbol: str, seconds: int, start: float, end: float) -> bool:
        """The monitor found no bars of ``seconds`` opening in [start, end). False when the
        market was closed all that time (a night, a weekend): no gap at all."""
        if seconds != self.bars.seconds:
            return True  # bars the engine does not keep: a gap it cannot fill
        start = max(start, end - self.bars.keep * seconds)  # no more than the engine keeps
        if not self._trading(symbol, seconds, start, end):
            return False
        held = self._pending.get(symbol)
        if held is not None:
            start, end = min(start, held[1]), max(end, held[2])
        self._pending[symbol] = (seconds, start, end)
        self._ask(symbol)
        return True

    def _trading(self, symbol: str, seconds: int, start: float, end: float) -> list[float]:
        """The opens of the bars in [start, end) while the symbol's market traded (pre- and
        post-market included; every bar when its calendar is not loaded yet)."""
        stamps = [start + i * seconds for i in range(math.ceil(round((end - start) / seconds, 6)))]
        venue = self._venues.get(symbol)
        if venue is None:
            try:
                venue = self._venues[symbol] = venue_of(parse_symbol(symbol))
            except Exception:  # a symbol without a known market: every bar counts
                return stamps
        return [ts for ts in stamps if session_if_ready(venue, ts) != "closed"]

    def on_bar(self, bar: Bar) -> None:
        """A live bar: a hole kept waiting by the pause goes out once the pause is over."""
        if bar.symbol in self._pending:
            self._ask(bar.symbol)

    def _ask(self, symbol: str) -> None:
        now = self.clock.time()
        last = self._last.get(symbol)
        if last is not None and now - last < self.min_interval:
            return
        seconds, start, end = self._pending.pop(symbol)
        key = (symbol, seconds, start, end)
        if key in self._asked:
            return
        self._asked.add(key)
        self._last[symbol] = now
        self.requests.append(key)
        self.spawn(self._fill(symbol, seconds, start, end))

    async def _fill(self, symbol: str, seconds: int, start: float, end: float) -> None:
        wanted = self._trading(symbol, seconds, start, end)
        try:
            got = await self.history(symbol, seconds, start, end)
        except Exception as exc:  # a broker error is a line under the badge, never a traceback
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.quality.gap_unfilled(symbol, f"gap: history failed for {spans(wanted, seconds)} UTC: {detail}")
            return
        inside = [b for b in got if start <= b.ts < end and b.seconds == seconds]
        new = self.bars.insert(symbol, inside)
        present = {b.ts for b in self.bars.bars(symbol)}
        lacking = [ts for ts in wanted if ts not in present]
        if lacking:
            self.quality.gap_unfilled(symbol, f"gap: history has no bars for {spans(lacking, seconds)} UTC", tuple(new))
        else:
            self.quality.gap_filled(symbol, tuple(new))
