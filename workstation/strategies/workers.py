"""Where a strategy's hooks run: a conflating inbox, and three workers that drain it.

``Inbox`` is bounded where it can be: the latest quote per symbol (and the latest tick of
each timer) waits in the place of the first one not yet handled, so a burst of quotes for
one symbol becomes one ``on_quote``; fills, order events and bars are never dropped (a
backlog of those beyond ``capacity`` is reported once as "falling behind").

* ``ThreadWorker``: the live default. A thread of its own, so a strategy that blocks (I/O,
  ``sleep``) holds up nobody else; commands hop back to the engine's loop.
* ``InlineWorker``: handles each event at once on the caller's thread: the synchronous,
  deterministic delivery a backtest needs (the same strategy class, unchanged).
* ``ProcessWorker``: for CPU-heavy strategies (``Strategy.process = True``): the strategy runs
  in a child process; a thread here feeds it one event at a time and relays its commands.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

from workstation.core.model import Bar, OrderEvent, Quote
from workstation.strategies.api import Routed

Handler = Callable[[object], bool]  # returns False to stop the worker


class Inbox:
    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._cond = threading.Condition()
        self._items: deque[Any] = deque()
        self._latest: dict[Hashable, Any] = {}
        self._busy = False
        self.received = 0
        self.conflated = 0
        self.overflowed = False

    def put(self, item: object) -> None:
        """Queue an event that must never be dropped (fills, order events, bars, start/stop)."""
        with self._cond:
            self._items.append(_Item(item))
            self.received += 1
            if len(self._items) > self.capacity:
                self.overflowed = True
            self._cond.notify()

    def put_latest(self, key: Hashable, item: object) -> bool:
        """Queue an event that a newer one with the same key replaces; True if it replaced one."""
        with self._cond:
            self.received += 1
            if key in self._latest:
                self._latest[key] = item
                self.conflated += 1
                return True
            self._latest[key] = item
            self._items.append(key)
            self._cond.notify()
            return False

    def put_quote(self, quote: Quote) -> bool:
        return self.put_latest(quote.symbol, quote)

    def get(self, timeout: float | None = None) -> object | None:
        """The next event (None on timeout); marks the inbox busy until ``done``."""
        with self._cond:
            while True:
                while not self._items:
                    if not self._cond.wait(timeout):
                        return None
                entry = self._items.popleft()
                if isinstance(entry, _Item):
                    self._busy = True
                    return entry.item
                if entry in self._latest:
                    self._busy = True
                    return self._latest.pop(entry)

    def done(self) -> None:
        with self._cond:
            self._busy = False

    def clear_latest(self) -> None:
        """Drop waiting quotes and timer ticks (a paused strategy does not want stale ones)."""
        with self._cond:
            self._items = deque(e for e in self._items if isinstance(e, _Item))
            self._latest.clear()

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._items and not self._busy

    def __len__(self) -> int:
        return len(self._items)


class _Item:
    __slots__ = ("item",)

    def __init__(self, item: object) -> None:
        self.item = item


class ThreadWorker:
    kind = "thread"

    def __init__(self, name: str, handle: Handler, capacity: int = 10_000) -> None:
        self.inbox = Inbox(capacity)
        self._handle = handle
        self._thread = threading.Thread(target=self._run, name=f"strategy-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, item: object) -> None:
        self.inbox.put(item)

    def put_bar(self, bar: Bar) -> None:
        self.put(bar)

    def put_order(self, event: OrderEvent, ref: str | None) -> None:
        self.put(Routed(event, ref))

    def put_latest(self, key: Hashable, item: object) -> None:
        self.inbox.put_latest(key, item)

    def _run(self) -> None:
        inbox = self.inbox
        handle = self._handle
        while True:
            item = inbox.get()
            try:
                go_on = handle(item)
            finally:
                inbox.done()
            if not go_on:
                return

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def idle(self) -> bool:
        return self.inbox.idle or not self.alive


class InlineWorker:
    """Synchronous delivery: ``put`` runs the hook before it returns (backtests).

    It is given the parts of a handler instead of one: ``dispatch(strategy, item)`` runs the
    hook, ``take_bar(bar)`` and ``take_order(strategy, event, ref)`` the bar and order-event
    hooks alone, ``fail(exc)`` reports an exception any of them raised, and the
    worker stops after that or after an item of type ``last``. So ``put`` (``put_bar``,
    ``put_order``) is the only call between the router and the context, which matters at one
    call per bar and a few per order in a backtest."""

    kind = "inline"

    def __init__(
        self,
        name: str,
        dispatch: Callable[[Any, object], None],
        take_bar: Callable[[Bar], None],
        take_order: Callable[[Any, OrderEvent, str | None], None],
        strategy: Any,
        fail: Callable[[Exception], None],
        last: type,
        capacity: int = 0,
    ) -> None:
        self._inbox = Inbox(capacity)  # only for its counters: nothing waits here
        self._dispatch = dispatch
        self._take_bar = take_bar
        self._take_order = take_order
        self._strategy = strategy
        self._fail = fail
        self._last = last
        self.alive = False  # (a plain attribute: the router reads it for every order event)
        self._received = 0

    def start(self) -> None:
        self.alive = True

    @property
    def inbox(self) -> Inbox:
        # ``put`` counts in a plain attribute of its own; the inbox's counter catches up when read
        self._inbox.received = self._received
        return self._inbox

    def put(self, item: object) -> None:
        if self.alive:
            self._received += 1
            try:
                self._dispatch(self._strategy, item)
            except Exception as exc:
                self._fail(exc)
                self.alive = False
                return
            if type(item) is self._last:
                self.alive = False

    def put_bar(self, bar: Bar) -> None:
        """``put`` for a bar: no test of the item's type on the way."""
        if self.alive:
            self._received += 1
            try:
                self._take_bar(bar)
            except Exception as exc:
                self._fail(exc)
                self.alive = False

    @property
    def bar_hook(self) -> Callable[[Bar], None] | None:
        """What ``put_bar`` calls, for a driver that hands a great many bars straight to it (a
        backtest's replay: no call in between). The driver keeps ``put_bar``'s word: it calls
        the hook only while the worker is ``alive``, reports an exception the hook raised
        with ``failed`` and the bars it handed over with ``count``. None once stopped."""
        return self._take_bar if self.alive else None

    def count(self, bars: int) -> None:
        """``bars`` were handed to ``bar_hook`` directly (they count as received)."""
        self._received += bars

    def failed(self, exc: Exception) -> None:
        """``bar_hook`` raised ``exc``: as ``put_bar`` does, report it and stop."""
        self._fail(exc)
        self.alive = False

    def put_order(self, event: OrderEvent, ref: str | None) -> None:
        """``put`` for an order event: no ``Routed`` wrapper, no test of the item's type."""
        if self.alive:
            self._received += 1
            try:
                self._take_order(self._strategy, event, ref)
            except Exception as exc:
                self._fail(exc)
                self.alive = False

    def put_latest(self, key: Hashable, item: object) -> None:
        self.put(item)

    def join(self, timeout: float | None = None) -> bool:
        return True

    @property
    def idle(self) -> bool:
        return True


class ProcessWorker(ThreadWorker):
    """The strategy runs in a child process; this worker's thread feeds it one event at a time.

    ``child`` is ``(target, args)``: the function that runs in the child with the pipe's other
    end first. ``envelope()`` gives what travels with each event (the clock's time, the
    account snapshot...). Messages from the child: ``("cmd", command)`` to relay with
    ``relay``, ``("history", (symbol, seconds, count))`` answered with the bars, then
    ``("done", error_or_None)`` once the event is handled.
    """

    kind = "process"

    def __init__(
        self,
        name: str,
        relay: Callable[[object], None],
        fail: Callable[[str], None],
        envelope: Callable[[], tuple[Any, ...]],
        child: tuple[Callable[..., None], tuple[Any, ...]],
        capacity: int = 10_000,
        history: Callable[[str, int, int], list[Any]] | None = None,
    ) -> None:
        super().__init__(name, self._forward, capacity)
        self._history = history
        self._relay = relay
        self._fail = fail
        self._envelope = envelope
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_conn = ctx.Pipe()
        target, args = child
        self._process = ctx.Process(target=target, args=(child_conn, *args), name=f"strategy-{name}", daemon=True)
        self._child_conn = child_conn

    def start(self) -> None:
        self._process.start()
        self._child_conn.close()
        super().start()

    def _forward(self, item: object) -> bool:
        from workstation.strategies.api import Stop

        try:
            self._conn.send(("event", item, *self._envelope()))
            while True:
                kind, payload = self._conn.recv()
                if kind == "cmd":
                    self._relay(payload)
                elif kind == "history":  # the strategy asked for bars: answer from here
                    self._conn.send(("history", self._history(*payload) if self._history is not None else []))
                elif kind == "done":
                    if payload is not None:
                        self._fail(payload)
                        return False
                    break
        except (EOFError, OSError, BrokenPipeError):
            self._fail("the strategy's process exited unexpectedly")
            return False
        if isinstance(item, Stop):
            self._conn.close()
            self._process.join(5)
            return False
        return True

    def join(self, timeout: float | None = None) -> bool:
        done = super().join(timeout)
        if not done or self._process.is_alive():
            self._process.kill()
        return done
