"""The strategy runner: instances, their workers, routing events in and commands out.

The runner lives on the engine's asyncio loop. It subscribes to quotes and order events on
the bus, builds bars, and hands each instance what it subscribed to through that instance's
worker (``workstation.strategies.workers``). Commands a strategy sends (orders, cancels,
subscriptions, timers, log lines, alerts) come back to the loop -- with
``loop.call_soon_threadsafe`` from a thread worker -- so the order manager is only ever
touched on the loop thread. A strategy's order commands are carried out one after another,
in the order it sent them.

Delivery is pluggable: ``delivery="thread"`` (live: one thread per instance, a conflating
inbox, a blocking strategy holds up nobody) or ``delivery="inline"`` (backtests: each event
is handled synchronously, in timestamp order, so a run is deterministic). A strategy class
with ``process = True`` gets a process worker in live delivery.

An exception in a hook stops that instance only: state ERROR, an alert with a short
traceback summary, and (by default) its working orders canceled.

Why one module: routing quotes, bars and order events in and commands out is one loop-
thread object whose routes, members and command queue change together on every start,
pause and stop.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import math
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from workstation.strategies.allocation import AllocationGuard
from workstation.core.bars import BarBuilder
from workstation.core.bus import Bus
from workstation.core.model import (
    ZERO, Account, AlertRaised, Bar, Instrument, ModelError, Order, OrderEvent, OrderFilled, OrderRejected, OrderRequest,
    OrderStatus, Quote,
)
from workstation.trading.oms import OrderError
from workstation.trading.portfolio import Book
from workstation.strategies.api import (
    Alert,
    Allocation,
    Cancel,
    CancelAll,
    Command,
    Context,
    Halt,
    Log,
    ParamError,
    Placed,
    Refuse,
    SetTimer,
    Start,
    Stop,
    Strategy,
    StrategyState,
    Submit,
    Subscribe,
    Timer,
    short_traceback,
)
from workstation.strategies.workers import InlineWorker, ProcessWorker, ThreadWorker

log = logging.getLogger(__name__)
# a failed strategy's full traceback: kept by ``tracebacks_to`` (a log file); the screen gets
# one line (``log``): the strategy's name, the exception's type and message, where it was raised
trace_log = logging.getLogger(__name__ + ".tracebacks")

HistoryFn = Callable[[str, int, int], list[Bar]]

# read once per bar per instance, and per order: a module constant is the cheapest look-up
# (an enum member looked up on its class costs ten times a global in Python 3.11)
_RUNNING, _PAUSED, _ERROR = StrategyState.RUNNING, StrategyState.PAUSED, StrategyState.ERROR
_REJECTED = OrderStatus.REJECTED
_ORDER_COMMANDS = (Submit, Refuse, Halt, Cancel, CancelAll)  # (a constant: a tuple written in place is built on every call)


class _Failed(msgspec.Struct, frozen=True):
    summary: str


class Route:
    """The instances that subscribed to one symbol (quotes) or one symbol and bar size.

    ``members`` is replaced on each change, never changed in place: a walk over it is not
    thrown off when an instance fails on the way (and is unrouted) -- the others still get
    that event.

    ``deliver(bar)`` hands a bar to the running members. When the route's one member is
    running it is that member's worker's ``put_bar`` itself (no call in between: a backtest
    makes one per bar), otherwise a walk over the members that skips those not running. The
    runner calls ``refresh`` whenever a member starts, pauses, resumes, stops or fails."""

    __slots__ = ("members", "deliver")

    def __init__(self) -> None:
        self.members: tuple[StrategyInstance, ...] = ()
        self.deliver: Callable[[Bar], None] = self._each

    def add(self, inst: StrategyInstance) -> None:
        self.members = (*self.members, inst)
        self.refresh()

    def remove(self, inst: StrategyInstance) -> None:
        self.members = tuple(i for i in self.members if i is not inst)
        self.refresh()

    def refresh(self) -> None:
        members = self.members
        if len(members) == 1 and members[0].state is _RUNNING and members[0].worker is not None:
            self.deliver = members[0].worker.put_bar
        else:
            self.deliver = self._each

    def _each(self, bar: Bar) -> None:
        for inst in self.members:
            if inst.state is _RUNNING:
                inst.worker.put_bar(bar)

    def inline_worker(self) -> Any:
        """The worker of the route's one member when it runs and delivers inline (a backtest's),
        else None: a replay may then call its ``bar_hook`` itself (see ``InlineWorker``)."""
        members = self.members
        if len(members) == 1 and members[0].state is _RUNNING and getattr(members[0].worker, "kind", None) == "inline":
            return members[0].worker
        return None


@dataclass(eq=False)
class StrategyInstance:
    """One running (or stopped) strategy: a plugin class with its parameters and symbols."""

    name: str
    cls: type[Strategy]
    params: dict[str, Any]
    symbols: tuple[str, ...]
    allocation: Allocation | None = None
    origin: tuple[str, str | None, str] | None = None  # (module, path, qualname) for process workers
    state: StrategyState = StrategyState.CREATED
    error: str | None = None
    worker: Any = None
    strategy: Strategy | None = None
    quote_symbols: set[str] = field(default_factory=set)
    bar_keys: set[tuple[str, int]] = field(default_factory=set)
    timers: dict[str, list[float]] = field(default_factory=dict)  # name -> [interval, next due]
    commands: deque[Command] = field(default_factory=deque)
    consumer: asyncio.Task[None] | None = None
    submitting: str | None = None
    run: int = 0  # bumped at each start and stop: commands from another run are dropped
    refs: dict[str, str] = field(default_factory=dict)
    logs: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    received: int = 0
    conflated: int = 0
    warned_backlog: bool = False

    @property
    def plugin(self) -> str:
        return self.cls.plugin_name()

    @property
    def active(self) -> bool:
        state = self.state
        return state is _RUNNING or state is _PAUSED


@dataclass(frozen=True, slots=True)
class InstanceStatus:
    name: str
    plugin: str
    state: str
    symbols: tuple[str, ...]
    allocation: str | None
    params: dict[str, Any]
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    pnl: Decimal
    trades: int
    wins: int
    losses: int
    error: str | None
    worker: str
    received: int
    conflated: int


class StrategyRunner:
    def __init__(
        self,
        *,
        bus: Bus,
        oms: Any,
        portfolio: Any,
        clock: Any,
        delivery: str = "thread",
        history: HistoryFn | None = None,
        feed: Callable[[list[str]], Awaitable[None]] | None = None,
        cancel_on_error: bool = True,
        journal: Any = None,
        inbox_capacity: int = 10_000,
        pull_commands: bool = False,
        delivered: HistoryFn | None = None,
    ) -> None:
        if delivery not in ("thread", "inline"):
            raise ValueError(f"delivery must be 'thread' or 'inline', got {delivery!r}")
        self.bus = bus
        self.oms = oms
        self.portfolio = portfolio
        self.clock = clock
        self.delivery = delivery
        self.history = history
        self.feed = feed
        self.cancel_on_error = cancel_on_error
        self.journal = journal if journal is not None else getattr(oms, "journal", None)
        self.inbox_capacity = inbox_capacity
        self.pull_commands = pull_commands  # orders wait for ``run_commands`` (a backtest's driver) instead of a task
        # the bars delivered so far, from the driver that keeps them (a backtest), for inline contexts' history
        self.delivered = delivered
        self.instances: dict[str, StrategyInstance] = {}
        self.on_order_sent: Callable[[Submit, Any], None] | None = None
        self._quote_routes: dict[str, Route] = {}
        self._bar_routes: dict[tuple[str, int], Route] = {}
        self._builders: dict[str, dict[int, BarBuilder]] = {}
        self._account: Account | None = None
        self._account_stale = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._ticker: asyncio.Task[None] | None = None
        # the earliest time a timer may be due (a driver compares its clock with it every bar)
        self.timer_due = math.inf
        # orders refused before the order manager could make them (junk values, malformed
        # requests): they exist only as the rejected events their strategies were told
        self.refused: list[Order] = []

    # ------------------------------------------------------------------ wiring
    def attach(self) -> None:
        """Subscribe to the bus and register the allocation check with the order manager."""
        if self._unsubscribe:
            return
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._unsubscribe.append(self.bus.subscribe(Quote, self.on_quote))
        self._unsubscribe.append(self.bus.subscribe(OrderEvent, self.on_order_event))
        guard = AllocationGuard(self.portfolio, self.oms.working, self._allocation_of)
        self._unsubscribe.append(self.oms.add_check(guard))
        self.refresh_account()

    def detach(self) -> None:
        for undo in self._unsubscribe:
            undo()
        self._unsubscribe.clear()
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def start_ticker(self, period: float = 0.2) -> None:
        """Live sessions: call ``tick`` every ``period`` seconds (timers, bar closes, account)."""

        async def run() -> None:
            while True:
                await asyncio.sleep(period)
                self.tick()

        self._ticker = asyncio.get_running_loop().create_task(run())

    def _allocation_of(self, name: str) -> Allocation | None:
        inst = self.instances.get(name)
        return inst.allocation if inst is not None else None

    # ------------------------------------------------------------------ instances
    def add(
        self,
        cls: type[Strategy],
        params: Mapping[str, Any] | None = None,
        *,
        symbols: Sequence[str] = (),
        name: str | None = None,
        allocation: Allocation | str | None = None,
        origin: tuple[str, str | None, str] | None = None,
    ) -> StrategyInstance:
        """Create an instance (validating its parameters); ``start`` runs it."""
        values = cls.validate_params(params or {})
        base = name or cls.plugin_name()
        if name is not None and name in self.instances:
            raise ParamError(f"a strategy named {name!r} already exists")
        unique, n = base, 1
        while unique in self.instances:
            n += 1
            unique = f"{base}-{n}"
        from workstation.core.symbols import parse_symbol

        syms = tuple(parse_symbol(s).symbol for s in symbols)
        alloc = Allocation.parse(allocation) if isinstance(allocation, str) else allocation
        if origin is None and cls.process:
            origin = (cls.__module__, getattr(sys.modules.get(cls.__module__), "__file__", None), cls.__qualname__)
        inst = StrategyInstance(name=unique, cls=cls, params=values, symbols=syms, allocation=alloc, origin=origin)
        self.instances[unique] = inst
        return inst

    def get(self, name: str) -> StrategyInstance:
        inst = self.instances.get(name)
        if inst is None:
            raise ModelError(f"no strategy named {name!r} (running: {', '.join(self.instances) or 'none'})")
        return inst

    async def start(self, name: str) -> StrategyInstance:
        inst = self.get(name)
        if inst.active:
            return inst
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        inst.error = None
        inst.quote_symbols.clear()
        inst.bar_keys.clear()
        inst.timers.clear()
        inst.refs.clear()
        inst.received = inst.conflated = 0
        inst.warned_backlog = False
        strategy = inst.cls(inst.params)
        inst.strategy = strategy
        inst.run += 1
        inst.worker = self._make_worker(inst, strategy)
        self._set_state(inst, StrategyState.RUNNING)
        self._journal("strategy.start", inst)
        inst.worker.start()
        inst.worker.put(Start())
        return inst

    def _make_worker(self, inst: StrategyInstance, strategy: Strategy) -> Any:
        post = self._poster(inst)
        if self.delivery == "thread" and inst.cls.process and inst.origin is not None:
            return ProcessWorker(
                inst.name, relay=post, fail=lambda summary: post(_Failed(summary)),
                envelope=lambda: (self.clock.time(), self.account(), self._capital(inst)),
                child=(_child_main, (inst.origin, inst.params, inst.name, inst.symbols, *self._carried_over(inst))),
                capacity=self.inbox_capacity, history=self.history,
            )
        book, orders = self._carried_over(inst)
        inline = self.delivery == "inline"
        if inline:  # the hook runs as the fill is booked: the portfolio's own book is already current
            book = self.portfolio.books.setdefault(inst.name, Book())
        ctx = Context(
            name=inst.name, symbols=inst.symbols, clock=self.clock, send=post, instrument=self._instrument,
            account=self.account, capital=lambda: self._capital(inst), history=self.history,
            book=book, orders=orders, apply_fills=not inline, delivered=self.delivered if inline else None,
        )
        strategy.bind(ctx)

        def failed(exc: Exception) -> None:  # a strategy's bug stops that strategy only
            summary = short_traceback(exc)
            log.warning("strategy %s stopped: %s", inst.name, summary)
            trace_log.debug("strategy %s stopped", inst.name, exc_info=exc)
            post(_Failed(summary))

        if inline:  # the worker calls the context itself (see InlineWorker)
            return InlineWorker(inst.name, ctx.dispatch, ctx.bar_hook(strategy), ctx.take_order, strategy, failed, last=Stop)

        def handle(item: object) -> bool:
            try:
                ctx.dispatch(strategy, item)
            except Exception as exc:
                failed(exc)
                return False
            return not isinstance(item, Stop)

        return ThreadWorker(inst.name, handle, self.inbox_capacity)

    def _carried_over(self, inst: StrategyInstance) -> tuple[Book, list[Any]]:
        """What a (re)started instance already has: its book (from fills tagged with its name,
        journaled across restarts) and its working orders."""
        book = self.portfolio.books.get(inst.name)
        orders = [o for o in self.oms.working() if o.strategy == inst.name]
        return (copy.deepcopy(book) if book is not None else Book()), orders

    def _instrument(self, symbol: str) -> Instrument:
        return self.oms.instrument_cached(symbol)

    def _capital(self, inst: StrategyInstance) -> Decimal | None:
        if inst.allocation is None:
            return None
        account = self.account()
        equity = account.equity if account is not None else ZERO
        return inst.allocation.capital(equity)

    def _poster(self, inst: StrategyInstance) -> Callable[[object], None]:
        """How a context's commands reach the loop: at once (inline) or by a thread hop.
        Commands carry the run they came from: a worker of an earlier run (one that did not
        stop in time) can no longer send anything."""
        run = inst.run
        if self.delivery == "inline":
            return functools.partial(self._command, inst, run)  # (no Python frame of its own)
        loop = self._loop
        assert loop is not None

        def post(cmd: object) -> None:
            try:
                loop.call_soon_threadsafe(self._command, inst, run, cmd)
            except RuntimeError:  # the loop has closed: the session is over
                pass

        return post

    async def stop(self, name: str, *, cancel_orders: bool = True, timeout: float = 5.0) -> StrategyInstance:
        """Stop an instance: ``on_stop`` runs, then (by default) its working orders are canceled."""
        inst = self.get(name)
        if not inst.active:
            return inst
        self._set_state(inst, StrategyState.STOPPED)
        self._unroute(inst)
        worker = inst.worker
        worker.put(Stop())
        if self.delivery == "thread":
            await asyncio.to_thread(worker.join, timeout)
        await self._settle(inst)
        inst.run += 1  # whatever the old worker still sends (if it did not stop in time) is dropped
        if cancel_orders:
            await self.oms.cancel_all(strategy=inst.name)
        self._journal("strategy.stop", inst)
        return inst

    def pause(self, name: str) -> StrategyInstance:
        """Stop delivering market data and timers (order events and fills still arrive)."""
        inst = self.get(name)
        if inst.state is StrategyState.RUNNING:
            self._set_state(inst, StrategyState.PAUSED)
            inst.worker.inbox.clear_latest()
            self._journal("strategy.pause", inst)
        return inst

    def resume(self, name: str) -> StrategyInstance:
        inst = self.get(name)
        if inst.state is StrategyState.PAUSED:
            self._set_state(inst, StrategyState.RUNNING)
            self._journal("strategy.resume", inst)
        return inst

    async def set_params(self, name: str, changes: Mapping[str, Any]) -> StrategyInstance:
        """Validate new parameter values (ParamError says which is wrong); a running
        instance restarts with them."""
        inst = self.get(name)
        values = inst.cls.validate_params({**inst.params, **changes})
        was_active = inst.active
        if was_active:
            await self.stop(name)
        inst.params = values
        if was_active:
            await self.start(name)
        return inst

    def set_allocation(self, name: str, allocation: Allocation | str | None) -> StrategyInstance:
        inst = self.get(name)
        inst.allocation = Allocation.parse(allocation) if isinstance(allocation, str) else allocation
        return inst

    async def start_all(self) -> None:
        for name in list(self.instances):
            await self.start(name)

    async def stop_all(self, *, cancel_orders: bool = True) -> None:
        for name in list(self.instances):
            await self.stop(name, cancel_orders=cancel_orders)

    # ------------------------------------------------------------------ events in (loop thread)
    def on_quote(self, q: Quote) -> None:
        route = self._quote_routes.get(q.symbol)
        if route is not None:
            for inst in route.members:
                if inst.state is StrategyState.RUNNING:
                    inst.worker.put_latest(q.symbol, q)
        builders = self._builders.get(q.symbol)
        if builders:
            for builder in builders.values():
                bar = builder.on_quote(q)
                if bar is not None:
                    self.on_bar(bar)

    def on_bar(self, bar: Bar) -> None:
        """A completed bar (built here from quotes, or a backtest's data): hand it to the
        instances that subscribed to its symbol and size."""
        route = self._bar_routes.get((bar.symbol, bar.seconds))
        if route is not None:
            route.deliver(bar)

    def bar_route(self, symbol: str, seconds: int) -> Route:
        """The route of the bars of one symbol and size, looked up once, for a driver that hands
        out a great many of them (a backtest: ``route.deliver(bar)`` per bar). Later
        subscriptions, pauses and stops still count: they refresh the route."""
        return self._bar_routes.setdefault((symbol, seconds), Route())

    def _set_state(self, inst: StrategyInstance, state: StrategyState) -> None:
        inst.state = state
        for key in inst.bar_keys:
            route = self._bar_routes.get(key)
            if route is not None:
                route.refresh()

    def on_order_event(self, event: OrderEvent) -> None:
        order = event.order
        inst = self.instances.get(order.strategy)  # (None for an untagged order: no instance has that name)
        if inst is None:
            return
        worker = inst.worker
        if worker is None or not worker.alive:
            return
        oid = order.id
        refs = inst.refs
        ref = refs.get(oid)
        if ref is None and inst.submitting is not None:
            ref = refs[oid] = inst.submitting
        if order.status.is_terminal:
            refs.pop(oid, None)
        if isinstance(event, OrderFilled):  # only a fill changes cash and positions
            self.refresh_account()
        worker.put_order(event, ref)

    def tick(self) -> None:
        """Fire due timers, close bars whose window ended, refresh the account snapshot."""
        now = self.clock.time()
        self.refresh_account()
        for builders in list(self._builders.values()):
            for builder in builders.values():
                bar = builder.flush(now)
                if bar is not None:
                    self.on_bar(bar)
        if now >= self.timer_due:
            self.fire_timers(now)
        for inst in self.instances.values():
            if inst.state is not StrategyState.RUNNING:
                continue
            ib = inst.worker.inbox
            inst.received, inst.conflated = ib.received, ib.conflated
            if ib.overflowed and not inst.warned_backlog:
                inst.warned_backlog = True
                self._alert(inst, "Strategy falling behind", f"{inst.name} has {len(ib)} events waiting", "high")

    def fire_timers(self, now: float) -> None:
        """Hand each running instance the timers due at ``now`` (the clock's time: simulated
        in a backtest, whose driver calls this when its clock reaches ``timer_due``)."""
        soonest = math.inf
        for inst in list(self.instances.values()):
            timers = inst.timers
            if not timers:
                continue
            running = inst.state is _RUNNING
            for tname, slot in list(timers.items()):
                interval, due = slot
                if running and now >= due:
                    slot[1] = due = due + interval if due + interval > now else now + interval
                    inst.worker.put_latest(("timer", tname), Timer(tname, now))
                if due < soonest:
                    soonest = due
        # (a paused instance's due timer keeps ``timer_due`` at or before ``now``: looked at again)
        self.timer_due = soonest

    def refresh_account(self) -> None:
        """Take a new account snapshot for the strategies. Thread delivery takes it now (the
        strategies' threads must never read the portfolio); inline delivery runs on this
        thread, so it only marks the snapshot stale and ``account`` takes it when read."""
        if self.delivery == "inline":
            self._account_stale = True
        else:
            self._account = self.portfolio.account()

    def account(self) -> Account | None:
        """The account snapshot the strategies see."""
        if self._account_stale:
            self._account_stale = False
            self._account = self.portfolio.account()
        return self._account

    # ------------------------------------------------------------------ commands out (loop thread)
    def _command(self, inst: StrategyInstance, run: int | None, cmd: object) -> None:
        if run is not None and run != inst.run:
            log.warning("dropped %s from an earlier run of %s", type(cmd).__name__, inst.name)
            return
        if isinstance(cmd, Log):  # (first: one type to test, and strategies log about as often as they order)
            inst.logs.append(cmd.message)
            if log.isEnabledFor(cmd.level):
                log.log(cmd.level, "[%s] %s", inst.name, cmd.message)
        elif isinstance(cmd, _ORDER_COMMANDS):
            if inst.state is _ERROR and isinstance(cmd, (Submit, Refuse)):
                return
            inst.commands.append(cmd)
            if inst.consumer is None and not self.pull_commands:
                inst.consumer = asyncio.get_running_loop().create_task(self._consume(inst))
        elif isinstance(cmd, Subscribe):
            self._subscribe(inst, cmd)
        elif isinstance(cmd, SetTimer):
            if cmd.interval <= 0:
                inst.timers.pop(cmd.name, None)
            else:
                due = self.clock.time() + cmd.interval
                inst.timers[cmd.name] = [cmd.interval, due]
                if due < self.timer_due:
                    self.timer_due = due
        elif isinstance(cmd, Alert):
            self._alert(inst, cmd.title, cmd.message, cmd.priority)
        elif isinstance(cmd, _Failed):
            self._fail(inst, cmd.summary)

    async def run_commands(self) -> bool:
        """Carry out every waiting order command now, on the caller's task (``pull_commands``:
        a backtest's driver calls this after each bar), and those the strategies send while
        they run, until none is left. Returns whether there were any."""
        ran = again = False
        while True:
            for inst in self.instances.values():
                if inst.commands and inst.consumer is None:
                    ran = again = True
                    await self._consume(inst)
            if not again:
                return ran
            again = False

    async def _consume(self, inst: StrategyInstance) -> None:
        try:
            while inst.commands:
                await self._execute(inst, inst.commands.popleft())
        finally:
            inst.consumer = None

    async def _execute(self, inst: StrategyInstance, cmd: Command) -> None:
        if isinstance(cmd, Submit):
            if not inst.active:  # (sent in the same hook as a ``ctx.stop``)
                return
            inst.submitting = cmd.ref
            try:
                order = await self.oms.submit(cmd.request)
            except Exception as exc:  # OrderError, or anything a strange value raised on the way
                if not isinstance(exc, OrderError):
                    log.info("strategy %s: order %s could not be checked", inst.name, cmd.ref, exc_info=exc)
                reason = " ".join(str(exc).split()) or f"the order could not be checked ({type(exc).__name__})"
                self._refused(inst, cmd.ref, cmd.request, reason)
                return
            finally:
                inst.submitting = None
            if self.on_order_sent is not None:
                self.on_order_sent(cmd, order)
            # the order's first event took the reference to the strategy (ending its in-flight
            # entry) and is kept in ``refs`` while the order works: a ``Placed`` is news only
            # for a refusal, or an order that has already finished
            if order.status is _REJECTED or order.id not in inst.refs:
                self._deliver(inst, Placed(cmd.ref, order.id, order.reason if order.status is _REJECTED else None))
        elif isinstance(cmd, Refuse):
            if inst.active:
                self._refused(inst, cmd.ref, OrderRequest(symbol=cmd.symbol, side=cmd.side, qty=ZERO), cmd.reason)
        elif isinstance(cmd, Cancel):
            try:
                await self.oms.cancel(cmd.order_id)
            except OrderError as exc:
                inst.logs.append(f"cancel refused: {exc}")
        elif isinstance(cmd, CancelAll):
            await self.oms.cancel_all(cmd.symbol, strategy=inst.name)
        elif isinstance(cmd, Halt):
            await self._halt(inst, cmd.reason)

    def _refused(self, inst: StrategyInstance, ref: str, req: OrderRequest, reason: str) -> None:
        """An order refused before the order manager made it: the strategy hears it as any
        refusal (a rejected order event, then ``Placed`` with the reason), and an alert says so."""
        now = self.clock.time()
        order = Order(
            id=f"refused-{ref}", client_id=ref, symbol=req.symbol, side=req.side, qty=req.qty, type=req.type,
            tif=req.tif, status=OrderStatus.REJECTED, limit_price=req.limit_price, stop_price=req.stop_price,
            reason=reason, strategy=inst.name, source="strategy", created=now, updated=now,
        )
        self.refused.append(order)
        inst.logs.append(f"order refused: {reason}")
        worker = inst.worker
        if worker is not None and worker.alive:
            worker.put_order(OrderRejected(order=order, ts=now), ref)
        self._deliver(inst, Placed(ref, None, reason))
        self._alert(inst, "Strategy order refused", f"{inst.name}: {reason}", "normal")

    async def _halt(self, inst: StrategyInstance, reason: str) -> None:
        """The strategy stopped itself (``ctx.stop``): as ``stop``, with its reason kept."""
        if not inst.active:
            return
        self._set_state(inst, StrategyState.STOPPED)
        inst.logs.append(reason if reason.startswith("stopped") else f"stopped: {reason}")  # (the desk shows the last line)
        self._unroute(inst)
        inst.timers.clear()
        if inst.worker is not None:
            inst.worker.put(Stop())
        inst.run += 1  # what its ``on_stop`` sends is dropped: its orders are canceled here
        inst.commands.clear()
        await self.oms.cancel_all(strategy=inst.name)
        self._journal("strategy.stop", inst, reason=reason)
        self._alert(inst, f"Strategy {inst.name} stopped", reason, "normal")

    def _deliver(self, inst: StrategyInstance, item: object) -> None:
        if inst.worker is not None and inst.worker.alive:
            inst.worker.put(item)

    def _subscribe(self, inst: StrategyInstance, cmd: Subscribe) -> None:
        if not inst.active:
            return
        new_symbols = []
        for sym in cmd.symbols:
            if cmd.quotes and sym not in inst.quote_symbols:
                inst.quote_symbols.add(sym)
                self._quote_routes.setdefault(sym, Route()).add(inst)
            for seconds in cmd.bars:
                key = (sym, seconds)
                if key not in inst.bar_keys:
                    inst.bar_keys.add(key)
                    self._bar_routes.setdefault(key, Route()).add(inst)
                    self._builders.setdefault(sym, {}).setdefault(seconds, BarBuilder(sym, seconds))
            new_symbols.append(sym)
        if self.feed is not None and new_symbols:
            task = asyncio.get_running_loop().create_task(self.feed(new_symbols))
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    def _unroute(self, inst: StrategyInstance) -> None:
        for sym in inst.quote_symbols:
            route = self._quote_routes.get(sym)
            if route is not None:
                route.remove(inst)
        for key in inst.bar_keys:
            route = self._bar_routes.get(key)
            if route is not None:
                route.remove(inst)

    def _fail(self, inst: StrategyInstance, summary: str) -> None:
        if inst.state is StrategyState.ERROR:
            return
        self._set_state(inst, StrategyState.ERROR)
        inst.error = summary
        inst.logs.append(f"stopped by an error: {summary}")
        self._unroute(inst)
        self._journal("strategy.error", inst, error=summary)
        self._alert(inst, f"Strategy {inst.name} stopped", summary, "high")
        if self.cancel_on_error:
            inst.commands.clear()
            self._command(inst, None, CancelAll(None))

    def _alert(self, inst: StrategyInstance, title: str, message: str, priority: str) -> None:
        self.bus.publish(
            AlertRaised(title=title, message=message, priority=priority, source=f"strategy:{inst.name}",
                        ts=self.clock.time(), key=f"strategy-{inst.name}-{title}")
        )

    def _journal(self, kind: str, inst: StrategyInstance, **extra: Any) -> None:
        if self.journal is None:
            return
        data = {
            "name": inst.name, "plugin": inst.plugin, "symbols": list(inst.symbols),
            "params": {k: str(v) for k, v in inst.params.items()},
            "allocation": str(inst.allocation) if inst.allocation else None, **extra,
        }
        try:
            self.journal.append(kind, data, self.clock.time(), ref=inst.name)
        except Exception:  # the journal closing under us at shutdown is not the strategy's problem
            log.debug("could not journal %s", kind, exc_info=True)

    # ------------------------------------------------------------------ waiting and reading
    async def _settle(self, inst: StrategyInstance) -> None:
        if self.pull_commands:
            await self.run_commands()
        for _ in range(3):
            await asyncio.sleep(0)
        while inst.consumer is not None:
            await asyncio.sleep(0.001)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every worker is idle and every command has been carried out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet = 0
        while quiet < 3 and loop.time() < deadline:
            if self.pull_commands:
                await self.run_commands()
            busy = any(
                (i.worker is not None and i.worker.alive and not i.worker.idle) or i.consumer is not None or i.commands
                for i in self.instances.values()
            )
            quiet = 0 if busy else quiet + 1
            await asyncio.sleep(0 if not busy else 0.001)
        await self.oms.drain()

    def status(self) -> list[InstanceStatus]:
        pf = self.portfolio
        out = []
        for inst in self.instances.values():
            book = pf.books.get(inst.name)
            realized = book.realized - book.commissions if book else ZERO
            unreal = sum((pf.unrealized(s, inst.name) for s in (book.positions if book else ())), ZERO)
            worker = inst.worker.kind if inst.worker is not None else "-"
            if inst.worker is not None:
                inst.received, inst.conflated = inst.worker.inbox.received, inst.worker.inbox.conflated
            out.append(
                InstanceStatus(
                    name=inst.name, plugin=inst.plugin, state=inst.state.value, symbols=inst.symbols,
                    allocation=str(inst.allocation) if inst.allocation else None, params=dict(inst.params),
                    realized_pnl=realized, unrealized_pnl=unreal, pnl=realized + unreal,
                    trades=book.trades if book else 0, wins=book.wins if book else 0, losses=book.losses if book else 0,
                    error=inst.error, worker=worker, received=inst.received, conflated=inst.conflated,
                )
            )
        return out


@contextmanager
def tracebacks_to(path: Path) -> Iterator[Path]:
    """For the duration: failed strategies' full tracebacks are appended to ``path`` (a file
    only its owner can read: tracebacks may name accounts), and never reach the screen."""
    from workstation.core.files import private_dir, private_file

    private_dir(path.parent)
    handler = logging.FileHandler(private_file(path), encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    level, propagate = trace_log.level, trace_log.propagate
    trace_log.addHandler(handler)
    trace_log.setLevel(logging.DEBUG)
    trace_log.propagate = False
    try:
        yield path
    finally:
        trace_log.removeHandler(handler)
        trace_log.setLevel(level)
        trace_log.propagate = propagate
        handler.close()


def loop_history(broker: Any, loop: asyncio.AbstractEventLoop, clock: Any, timeout: float = 10.0) -> HistoryFn:
    """A synchronous bar-history source for worker threads, backed by the broker's async
    ``history`` run on the engine's loop (a worker blocks only itself while it waits). Called
    on the loop thread itself it returns nothing rather than deadlock."""

    def fetch(symbol: str, seconds: int, count: int) -> list[Bar]:
        try:
            if asyncio.get_running_loop() is loop:
                return []
        except RuntimeError:
            pass
        end = (clock.time() // seconds) * seconds  # completed bars only
        start = end - seconds * count
        try:
            fut = asyncio.run_coroutine_threadsafe(broker.history(symbol, seconds, start, end), loop)
            return list(fut.result(timeout))
        except Exception:  # history is a nicety: a strategy warms up from live bars without it
            log.info("no history for %s", symbol, exc_info=True)
            return []

    return fetch


# --------------------------------------------------------------------------- process worker child


class _EnvelopeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def time(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t


def _child_main(
    conn: Any, origin: tuple[str, str | None, str], params: dict[str, Any], name: str, symbols: tuple[str, ...],
    book: Book, orders: list[Any],
) -> None:
    """Run one strategy in a child process: events in, commands out, one at a time."""
    from workstation.strategies.plugins import load_class
    from workstation.core.symbols import parse_symbol

    cls = load_class(*origin)
    strategy = cls(params)
    clock = _EnvelopeClock()
    state: dict[str, Any] = {"account": None, "capital": None}
    def history(symbol: str, seconds: int, count: int) -> list[Bar]:
        conn.send(("history", (symbol, seconds, count)))
        kind, bars = conn.recv()
        return bars

    ctx = Context(
        name=name, symbols=symbols, clock=clock, send=lambda cmd: conn.send(("cmd", cmd)), instrument=parse_symbol,
        account=lambda: state["account"], capital=lambda: state["capital"], book=book, orders=orders, history=history,
    )
    strategy.bind(ctx)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        _, item, now, account, capital = msg
        clock.t = now
        state["account"], state["capital"] = account, capital
        try:
            ctx.dispatch(strategy, item)
        except Exception as exc:
            conn.send(("done", short_traceback(exc)))
            return
        conn.send(("done", None))
        if isinstance(item, Stop):
            return
