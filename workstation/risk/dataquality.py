"""The data-quality monitor: stale quotes, gaps in bars, spikes, crossed and locked quotes.

It sits between the broker's quote sink and the quote cache (``broker.attach(...,
monitor.on_quote, ...)`` with the cache's ``on_quote`` as ``sink``), so a quote it filters
never reaches the cache, the bus, stops, strategies or the risk monitors.

* Spike: a price whose log return from the last accepted price is more than
  ``spike_sigma`` standard deviations of the recent returns (and at least
  ``spike_min_pct``) is held back for one quote. If the next quote returns towards the
  old level, the held one was a spike: it is dropped and counted. If the next quote
  confirms the new level, the move was real and the new level goes through.
* Crossed (bid > ask) and locked (bid == ask) quotes are flagged and go through.
* Stale: no quote for ``stale_after`` seconds (``sweep``, run every few seconds).
* Gaps: a bar that starts more than one bar after the previous one.
* Order books (``on_book_state``, from the engine's books, ``workstation.trading.depth``): a
  crossed or locked book raises the same ``crossed``/``locked`` badge as a quote; a book with a
  sequence gap not yet healed by a snapshot (state ``stale``) raises ``gap``, which the healing
  snapshot clears (a gap in bars flagged since keeps it). A badge the book raised stays while
  the book says so, whatever the quotes say.

Each finding raises an ``AlertRaised`` (once per episode) and sets a badge the watchlist
reads with ``badges(symbol)``; ``QualityChanged`` is published whenever badges change.

Gap hand-off: a gap in bars is handed to ``on_gap(symbol, seconds, start, end)`` (the engine's
``workstation.trading.backfill.Backfiller``, which asks the broker's history for the hole, and
answers False when the market was closed all along: then there is no gap).
``gap_filled`` clears the badge and publishes the backfilled bars in ``QualityChanged``;
``gap_unfilled`` keeps it and says why in one line (``note(symbol)``, and an alert).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from workstation.core.bus import Bus
from workstation.core.clock import Clock
from workstation.core.config import QualitySettings  # the settings structure lives with the settings
from workstation.core.model import AlertRaised, Bar, Quote


class QualityChanged(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    badges: tuple[str, ...]
    ts: float
    note: str = ""  # why a badge stays: "gap: history has no bars for 10:31-10:35 UTC"
    backfilled: tuple[Bar, ...] = ()  # bars just filled into a gap from the broker's history


@dataclass
class _Symbol:
    returns: deque[float] = field(default_factory=lambda: deque(maxlen=100))
    price: float = 0.0  # last accepted price
    held: Quote | None = None
    held_price: float = 0.0
    seen: float = 0.0
    flags: dict[str, float] = field(default_factory=dict)  # badge -> since
    last_bar: float | None = None
    filtered: int = 0
    total: float = 0.0  # running sum of the kept returns ...
    squares: float = 0.0  # ... and of their squares: the deviation in O(1) per quote
    book: str = "ok"  # the order book's state (on_book_state): its badge outlives a clean quote
    book_gap: float | None = None  # when the book raised "gap" (a bar gap since keeps the badge)
    note: str = ""  # why the gap badge stays (the history could not fill it)


class DataQualityMonitor:
    def __init__(self, sink: Callable[[Quote], None], bus: Bus, clock: Clock, settings: QualitySettings | None = None) -> None:
        self.sink = sink
        self.bus = bus
        self.clock = clock
        self.settings = settings or QualitySettings()
        self._symbols: dict[str, _Symbol] = {}
        self.filtered_total = 0
        # (symbol, seconds, start, end) of a hole: False when the market was closed (no gap)
        self.on_gap: Callable[[str, int, float, float], bool] | None = None

    def _st(self, symbol: str) -> _Symbol:
        st = self._symbols.get(symbol)
        if st is None:
            st = self._symbols[symbol] = _Symbol(returns=deque(maxlen=self.settings.window))
        return st

    # -- badges
    def _flag(self, symbol: str, st: _Symbol, badge: str, title: str, message: str, priority: str = "normal") -> None:
        now = self.clock.time()
        fresh = badge not in st.flags
        st.flags[badge] = now
        if fresh:
            self.bus.publish(AlertRaised(title=title, message=message, priority=priority, source="data", ts=now, key=f"dq-{badge}-{symbol}"))
            self._changed(symbol, st)

    def _clear(self, symbol: str, st: _Symbol, badge: str) -> None:
        if st.flags.pop(badge, None) is not None:
            self._changed(symbol, st)

    def _changed(self, symbol: str, st: _Symbol, backfilled: tuple[Bar, ...] = ()) -> None:
        if "gap" not in st.flags:
            st.note = ""
        self.bus.publish(QualityChanged(
            symbol=symbol, badges=tuple(sorted(st.flags)), ts=self.clock.time(), note=st.note, backfilled=backfilled,
        ))

    def note(self, symbol: str) -> str:
        """Why a gap badge stays ("" when none): the history could not fill the hole."""
        st = self._symbols.get(symbol)
        return st.note if st is not None and "gap" in st.flags else ""

    def gap_filled(self, symbol: str, bars: tuple[Bar, ...]) -> None:
        """The broker's history filled the hole with ``bars``: the gap badge clears (unless the
        order book keeps it) and the faces get the bars."""
        st = self._st(symbol)
        st.note = ""
        if st.book != "stale":
            st.flags.pop("gap", None)
        self._changed(symbol, st, bars)

    def gap_unfilled(self, symbol: str, message: str, bars: tuple[Bar, ...] = ()) -> None:
        """The history could not fill (all of) the hole: the badge stays and says why."""
        st = self._st(symbol)
        st.note = message
        now = self.clock.time()
        st.flags["gap"] = now
        self.bus.publish(AlertRaised(
            title="Gap not filled", message=f"{symbol} {message}", priority="low", source="data", ts=now,
            key=f"dq-gapfill-{symbol}",
        ))
        self._changed(symbol, st, bars)

    def badges(self, symbol: str) -> tuple[str, ...]:
        st = self._symbols.get(symbol)
        if st is None:
            return ()
        now = self.clock.time()
        for badge in ("spike", "gap"):
            since = st.flags.get(badge)
            if since is not None and now - since > self.settings.badge_ttl:
                self._clear(symbol, st, badge)
        return tuple(sorted(st.flags))

    def symbols(self) -> list[str]:
        """Every symbol the monitor has seen."""
        return list(self._symbols)

    def filtered(self, symbol: str | None = None) -> int:
        if symbol is None:
            return self.filtered_total
        st = self._symbols.get(symbol)
        return st.filtered if st else 0

    # -- quotes in
    def on_quote(self, quote: Quote) -> None:
        st = self._st(quote.symbol)
        st.seen = self.clock.time()
        if "stale" in st.flags:
            self._clear(quote.symbol, st, "stale")
        self._book(quote, st)
        price = quote.last if quote.last > 0 else quote.mid
        if price <= 0 or not math.isfinite(price):
            self.sink(quote)
            return
        if st.held is not None:
            held_price = st.held_price
            st.held = None
            if abs(math.log(price / st.price)) < abs(math.log(held_price / st.price)) / 2:
                st.filtered += 1
                self.filtered_total += 1
                self._flag(
                    quote.symbol, st, "spike", "Spike filtered",
                    f"{quote.symbol} printed {held_price:g} against {st.price:g} and came back to {price:g}: the spike was dropped",
                )
            else:
                self._accept(st, held_price)  # the level was real
        elif st.price > 0 and self._suspect(st, price):
            st.held, st.held_price = quote, price
            return
        if st.price > 0:
            self._accept(st, price)
        else:
            st.price = price
        self.sink(quote)

    def _accept(self, st: _Symbol, price: float) -> None:
        if st.price > 0:
            r = math.log(price / st.price)
            if len(st.returns) == st.returns.maxlen:
                old = st.returns[0]
                st.total -= old
                st.squares -= old * old
            st.returns.append(r)
            st.total += r
            st.squares += r * r
        st.price = price

    def _suspect(self, st: _Symbol, price: float) -> bool:
        s = self.settings
        if len(st.returns) < s.min_samples:
            return False
        r = abs(math.log(price / st.price))
        n = len(st.returns)
        mean = st.total / n
        std = math.sqrt(max(st.squares / n - mean * mean, 0.0))
        return r > max(s.spike_sigma * std, math.log1p(s.spike_min_pct / 100))

    def _book(self, quote: Quote, st: _Symbol) -> None:
        if not st.flags and not (quote.bid > 0 and quote.bid >= quote.ask):
            return  # a clean symbol and a quote neither crossed nor locked (most quotes): nothing to flag or clear
        if quote.bid > 0 and quote.ask > 0 and quote.bid > quote.ask:
            self._flag(quote.symbol, st, "crossed", "Crossed quote", f"{quote.symbol} bid {quote.bid:g} above ask {quote.ask:g}", "normal")
        elif st.book != "crossed":
            self._clear(quote.symbol, st, "crossed")
        if quote.bid > 0 and quote.bid == quote.ask:
            self._flag(quote.symbol, st, "locked", "Locked quote", f"{quote.symbol} bid equals ask at {quote.bid:g}", "low")
        elif st.book != "locked":
            self._clear(quote.symbol, st, "locked")

    # -- order books
    def on_book_state(self, symbol: str, state: str) -> None:
        """The engine's book of ``symbol`` changed state ("ok", "locked", "crossed", "stale",
        "empty"): crossed and locked raise the quote's badges, stale (a sequence gap) ``gap``."""
        st = self._st(symbol)
        before, st.book = st.book, state
        if state == before:
            return
        if state == "crossed":
            self._flag(symbol, st, "crossed", "Crossed book", f"{symbol}: the order book's best bid is above its best ask", "normal")
        elif before == "crossed":
            self._clear(symbol, st, "crossed")
        if state == "locked":
            self._flag(symbol, st, "locked", "Locked book", f"{symbol}: the order book's best bid equals its best ask", "low")
        elif before == "locked":
            self._clear(symbol, st, "locked")
        if state == "stale":
            self._flag(symbol, st, "gap", "Gap in book", f"{symbol}: order book updates were lost; waiting for a fresh snapshot", "low")
            st.book_gap = st.flags.get("gap")
        elif before == "stale":
            if st.book_gap is not None and st.flags.get("gap") == st.book_gap:
                self._clear(symbol, st, "gap")
            st.book_gap = None

    # -- staleness and bars
    def sweep(self) -> list[str]:
        """Flag symbols with no quote for ``stale_after`` seconds; returns the newly stale ones."""
        now = self.clock.time()
        newly = []
        for symbol, st in self._symbols.items():
            if st.seen and now - st.seen > self.settings.stale_after and "stale" not in st.flags:
                newly.append(symbol)
                self._flag(symbol, st, "stale", "Stale data", f"no quote for {symbol} in {now - st.seen:.0f}s", "normal")
        return newly

    def on_bar(self, bar: Bar) -> None:
        st = self._st(bar.symbol)
        prev = st.last_bar
        if prev is not None and bar.ts > prev:
            missing = round((bar.ts - prev) / bar.seconds) - 1
            hole = (bar.symbol, bar.seconds, bar.ts - missing * bar.seconds, bar.ts)
            if missing >= self.settings.gap_bars and (self.on_gap is None or self.on_gap(*hole)):
                self._flag(bar.symbol, st, "gap", "Gap in bars", f"{bar.symbol}: {missing} bar(s) of {bar.seconds}s missing before the bar at {bar.ts:.0f}", "low")
        if prev is None or bar.ts > prev:
            st.last_bar = bar.ts
