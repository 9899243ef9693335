"""Books and tapes inside the engine: ``DepthBooks`` keeps one ``OrderBook`` and one tape per
watched symbol and publishes what faces show.

It is the sink a ``DepthFeed`` broker is attached to (``attach_depth(books.on_book,
books.on_trade)``):

* ``on_book`` applies a snapshot or a delta to the symbol's ``OrderBook`` and marks the symbol
  dirty. Views are conflated: one flush task publishes a ``BookView`` (the best ``levels``
  each side) per dirty symbol at most once per ``interval`` seconds of the engine's clock (the
  first change after a quiet spell goes out at the next turn of the loop; a burst goes out
  as its latest state when the interval has passed, so the end of a burst is never lost).
* A delta the book refuses (a sequence gap) is counted, the book is stale (its view says so,
  and the data-quality monitor shows ``gap``), and the adapter is asked for a fresh snapshot
  by subscribing that one symbol again (at most once per ``resync_every`` seconds per symbol).
  The snapshot heals the book.
* ``on_trade`` appends the print to the symbol's tape (the last ``TAPE_KEEP`` prints) and
  publishes it on the bus at once: prints are not conflated.
* Crossed and locked books raise the data-quality monitor's ``crossed`` and ``locked`` badges
  (``DataQualityMonitor.on_book_state``), judged on the state each published view carries.

Messages for a symbol that is not watched (any more) are dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from workstation.core.book import BookDelta, BookSnapshot, BookState, BookView, OrderBook, TradePrint
from workstation.core.bus import Bus
from workstation.core.clock import Clock

if TYPE_CHECKING:
    from brokers.base import DepthFeed

log = logging.getLogger(__name__)

TAPE_KEEP = 1_000  # prints kept per symbol
_SLACK = 1e-6  # an epoch time in floats is exact to about 0.2 us: an interval that has passed counts
RESYNC_EVERY = 1.0  # seconds between two requests for a fresh snapshot of one symbol

__all__ = ["DepthBooks", "RESYNC_EVERY", "TAPE_KEEP"]


class DepthBooks:
    """One book and one tape per watched symbol; conflated views and prints on the bus.

    ``feed`` is the broker asked for a fresh snapshot after a gap (that symbol's depth
    unsubscribed and subscribed again); ``on_state(symbol, state)`` hears each change of a
    book's state (the data-quality monitor)."""

    def __init__(
        self, bus: Bus, clock: Clock, *, interval: float = 0.1,
        feed: DepthFeed | None = None,
        on_state: Callable[[str, BookState], None] | None = None,
        resync_every: float = RESYNC_EVERY,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.interval = interval
        self.resync_every = resync_every
        self._feed = feed
        self._closed = False
        self.started = False  # the session started the flush task (run)
        self._on_state = on_state
        self._books: dict[str, OrderBook] = {}
        self._levels: dict[str, int] = {}
        self._tapes: dict[str, deque[TradePrint]] = {}
        self._published: dict[str, float] = {}  # symbol -> engine time of its last view
        self._states: dict[str, BookState] = {}  # symbol -> the state last told to on_state
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._resync_at: dict[str, float] = {}  # symbol -> when a fresh snapshot was last asked for
        self._resyncing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.gaps: dict[str, int] = {}  # symbol -> sequence gaps seen
        self.views_published = 0
        self.resubscribes = 0

    # -- what is watched
    def watch(self, symbol: str, levels: int) -> bool:
        """Start a book and a tape for ``symbol`` (True), or change its levels (False: watched already)."""
        self._levels[symbol] = levels
        if symbol in self._books:
            return False
        self._books[symbol] = OrderBook(symbol)
        self._tapes[symbol] = deque(maxlen=TAPE_KEEP)
        self._resync_at[symbol] = self.clock.time()  # the subscribe brings the first snapshot
        self.gaps.setdefault(symbol, 0)
        return True

    def unwatch(self, symbol: str) -> bool:
        """Forget ``symbol``'s book and tape; False when it was not watched."""
        if self._books.pop(symbol, None) is None:
            return False
        for d in (self._levels, self._tapes, self._published, self._resync_at):
            d.pop(symbol, None)
        self._dirty.discard(symbol)
        if self._states.pop(symbol, "ok") != "ok" and self._on_state is not None:
            self._on_state(symbol, "ok")  # its badges go with it
        return True

    def watched(self) -> list[str]:
        return list(self._books)

    def levels(self, symbol: str) -> int | None:
        return self._levels.get(symbol)

    # -- reads
    def book(self, symbol: str) -> BookView | None:
        """The symbol's book now (its watched levels each side); None when not watched or before
        its first snapshot."""
        book = self._books.get(symbol)
        if book is None or book.seq < 0:
            return None
        return book.view(self._levels[symbol])

    def tape(self, symbol: str, limit: int = 200) -> list[TradePrint]:
        """The symbol's latest ``limit`` prints, newest first."""
        tape = self._tapes.get(symbol)
        if not tape or limit <= 0:
            return []
        out = []
        for p in reversed(tape):
            out.append(p)
            if len(out) >= limit:
                break
        return out

    # -- the broker's sinks
    def on_book(self, msg: BookSnapshot | BookDelta) -> None:
        symbol = msg.symbol
        book = self._books.get(symbol)
        if book is None:
            return
        was_stale = book.stale
        if book.apply(msg):
            self._dirty.add(symbol)
            self._wake.set()
            return
        if book.stale and not was_stale:  # a gap: updates were lost
            self.gaps[symbol] = self.gaps.get(symbol, 0) + 1
            log.info("%s: book sequence gap at %s (book at %s): asking for a fresh snapshot", symbol, msg.seq, book.seq)
            self._tell(symbol, "stale")
            self._dirty.add(symbol)
            self._wake.set()
        if book.stale:
            self._ask_snapshot(symbol)

    def on_trade(self, trade: TradePrint) -> None:
        tape = self._tapes.get(trade.symbol)
        if tape is None:
            return
        tape.append(trade)
        self.bus.publish(trade)

    # -- gaps
    def _ask_snapshot(self, symbol: str) -> None:
        if self._feed is None or self._closed or symbol in self._resyncing:
            return
        now = self.clock.time()
        last = self._resync_at.get(symbol)
        if last is not None and now - last < self.resync_every:
            return
        self._resync_at[symbol] = now
        self._resyncing.add(symbol)
        self.resubscribes += 1
        try:
            task = asyncio.get_running_loop().create_task(self._resync(symbol))
        except RuntimeError:  # no loop (a synchronous caller): nothing to ask with
            self._resyncing.discard(symbol)
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resync(self, symbol: str) -> None:
        try:
            levels = self._levels.get(symbol)
            if levels is not None and self._feed is not None:  # (unwatched meanwhile: nothing to heal)
                await self._feed.unsubscribe_depth([symbol])
                await self._feed.subscribe_depth([symbol], levels)
        except Exception as exc:  # the adapter could not: the next refused delta asks again
            log.warning("%s: fresh book snapshot not asked for: %s", symbol, exc)
        finally:
            self._resyncing.discard(symbol)

    # -- conflated views
    def _tell(self, symbol: str, state: BookState) -> None:
        if self._states.get(symbol, "ok") != state:
            self._states[symbol] = state
            if self._on_state is not None:
                self._on_state(symbol, state)

    def due_in(self, now: float) -> float | None:
        """Seconds until the next dirty symbol may be published (0: now); None: nothing dirty."""
        if not self._dirty:
            return None
        wait = None
        for symbol in self._dirty:
            left = self._published.get(symbol, -1e18) + self.interval - now
            if left <= _SLACK:
                return 0.0
            wait = left if wait is None else min(wait, left)
        return wait

    def flush(self) -> int:
        """Publish a view of every dirty symbol whose interval has passed; how many went out."""
        if not self._dirty:
            return 0
        now = self.clock.time()
        interval = self.interval
        sent = 0
        for symbol in list(self._dirty):
            if now - self._published.get(symbol, -1e18) < interval - _SLACK:
                continue
            self._dirty.discard(symbol)
            book = self._books.get(symbol)
            if book is None:
                continue
            view = book.view(self._levels[symbol])
            self._published[symbol] = now
            self._tell(symbol, view.state)
            self.bus.publish(view)
            sent += 1
        self.views_published += sent
        return sent

    async def run(self) -> None:
        """The flush task: waits for a change, publishes what is due, sleeps until the rest is."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                wait = self.due_in(self.clock.time())
                if wait is None:
                    break
                if wait > 0:
                    await asyncio.sleep(min(wait, self.interval))
                else:
                    await asyncio.sleep(0)  # let the burst that woke us finish first
                self.flush()

    async def close(self) -> None:
        """End the resubscribes still under way (the session's stop)."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
