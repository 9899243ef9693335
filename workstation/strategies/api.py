"""The strategy plugin API: ``Strategy`` (parameters and hooks) and ``Context`` (all it may touch).

A strategy is a class with typed, validated parameters and event hooks::

    class Crossover(Strategy):
        name = "crossover"
        fast = Param(10, min=1, description="fast SMA length")
        slow = Param(30, min=2, description="slow SMA length")

        def on_start(self):
            self.ctx.subscribe(self.ctx.symbols, bars=60)

        def on_bar(self, bar):
            ...
            self.ctx.buy(bar.symbol, 10)

Hooks run on the strategy's own worker (see ``workstation.strategies.runner``), one event at
a time, in order: ``on_start``, then ``on_quote`` / ``on_bar`` / ``on_fill`` / ``on_order`` /
``on_timer`` as events arrive, and ``on_stop`` last. A hook that raises stops this strategy
only (state ERROR, an alert, its working orders canceled).

``Context`` is everything a strategy may use: its symbols, subscriptions, bar history,
indicators and sizing helpers, its own positions and orders, a read-only view of the
account, order commands (which go to the order manager and the risk checks, tagged with
the strategy's name), log, alert, timers and the injected clock. Order commands are
*commands in, events out*: ``buy`` returns a reference at once, and the outcome arrives as
``on_order`` events (submitted, accepted, rejected, filled, canceled) and ``on_fill``. The
context keeps the strategy's own book up to date from those events before each hook runs,
so ``position`` and ``pending`` are consistent with what the strategy has been told.

Why one module: the whole plugin API a strategy author reads in one place (Param, Strategy
and its hooks, Context and everything a strategy may touch); its size is mostly
docstrings.
"""

from __future__ import annotations

import enum
import functools
import itertools
import logging
import math
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from types import ModuleType
from typing import Any, ClassVar

import msgspec
import numpy as np

from workstation.core import indicators as _indicators
from workstation.strategies import sizing as _sizing
from workstation.core.model import (
    ZERO,
    Account,
    Bar,
    Fill,
    Instrument,
    ModelError,
    Order,
    OrderEvent,
    OrderFilled,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    Side,
    TimeInForce,
    plain,
    to_decimal,
)
from workstation.trading.portfolio import Book

# --------------------------------------------------------------------------- parameters


class ParamError(ModelError):
    """A parameter value is missing, malformed or out of bounds; one line naming it."""


_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n"}


class Param:
    """A typed strategy parameter: default, bounds, allowed choices and a description.

    Declared as a class attribute; on an instance it reads the validated value. The type
    is the default's type (``int``, ``float``, ``Decimal``, ``bool``, ``str``) unless given.
    """

    def __init__(
        self,
        default: Any,
        *,
        type: type | None = None,
        min: Any = None,
        max: Any = None,
        choices: Sequence[Any] | None = None,
        description: str = "",
    ) -> None:
        self.type = type or builtin_type(default)
        self.name = ""
        self.min = None if min is None else self._coerce(min, "minimum")
        self.max = None if max is None else self._coerce(max, "maximum")
        self.choices = tuple(choices) if choices is not None else None
        self.description = description
        self.default = self._coerce(default, "default")

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Strategy | None, owner: type) -> Any:
        if obj is None:
            return self
        return obj.params[self.name]

    def _coerce(self, value: Any, what: str) -> Any:
        t = self.type
        try:
            if t is bool:
                if isinstance(value, bool):
                    return value
                text = str(value).strip().lower()
                if text in _TRUE:
                    return True
                if text in _FALSE:
                    return False
                raise ValueError
            if t is int:
                if isinstance(value, bool):
                    raise ValueError
                if isinstance(value, int):
                    return value
                d = to_decimal(value)
                if d != d.to_integral_value():
                    raise ValueError
                return int(d)
            if t is float:
                if isinstance(value, bool):
                    raise ValueError
                f = float(value if not isinstance(value, str) else value.strip())
                if not math.isfinite(f):
                    raise ValueError
                return f
            if t is Decimal:
                return to_decimal(value)
            if t is str:
                return str(value)
            return t(value)
        except (ValueError, TypeError, ModelError):
            label = (self.name or "parameter") + (f" {what}" if what else "")
            raise ParamError(f"{label}: expected {type_name(t)}, got {value!r}") from None

    def parse(self, value: Any) -> Any:
        """The value as this parameter's type, checked against bounds and choices."""
        v = self._coerce(value, "")
        label = self.name
        if self.min is not None and v < self.min:
            raise ParamError(f"{label} must be at least {show_value(self.min)}, got {show_value(v)}")
        if self.max is not None and v > self.max:
            raise ParamError(f"{label} must be at most {show_value(self.max)}, got {show_value(v)}")
        if self.choices is not None and v not in self.choices:
            raise ParamError(f"{label} must be one of {', '.join(show_value(c) for c in self.choices)}, got {show_value(v)}")
        return v

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": type_name(self.type),
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices) if self.choices is not None else None,
            "description": self.description,
        }


def builtin_type(value: Any) -> type:
    for t in (bool, int, float, Decimal, str):
        if isinstance(value, t):
            return t
    raise TypeError(f"a Param default must be bool, int, float, Decimal or str, not {type(value).__name__}")


def type_name(t: type) -> str:
    return {bool: "true/false", int: "a whole number", float: "a number", Decimal: "a decimal number", str: "text"}.get(
        t, t.__name__
    )


def show_value(v: Any) -> str:
    if isinstance(v, Decimal):
        return plain(v) or "0"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["fast=10", "slow=30"]`` -> ``{"fast": "10", "slow": "30"}`` (for ``--param``)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParamError(f"malformed parameter {item!r}: use name=value")
        out[name.strip()] = value.strip()
    return out


# --------------------------------------------------------------------------- the base class


class StrategyState(str, enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    ERROR = "error"


class Strategy:
    """Base class of every strategy plugin. Subclass it, declare ``Param``s, override hooks."""

    name: ClassVar[str] = ""
    """The plugin's name (``main.py realtime --strategy NAME``); defaults to the module name."""
    description: ClassVar[str] = ""
    process: ClassVar[bool] = False
    """True for CPU-heavy strategies: run in a process worker rather than a thread."""

    ctx: Context

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        self.params: dict[str, Any] = self.validate_params(params or {})

    # -- parameters
    @classmethod
    def parameters(cls) -> dict[str, Param]:
        found: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if isinstance(value, Param):
                    found[key] = value
        return found

    @classmethod
    def validate_params(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Every parameter's value (defaults filled in), or ParamError naming the first bad one."""
        spec = cls.parameters()
        unknown = [k for k in raw if k not in spec]
        if unknown:
            known = ", ".join(spec) or "none"
            raise ParamError(f"{cls.plugin_name()} has no parameter {unknown[0]!r} (parameters: {known})")
        values = {name: p.parse(raw[name] if name in raw else p.default) for name, p in spec.items()}
        problem = cls.check(values)
        if problem:
            raise ParamError(problem)
        return values

    @classmethod
    def check(cls, params: Mapping[str, Any]) -> str | None:
        """Cross-parameter validation: return a sentence saying what is wrong, or None."""
        return None

    @classmethod
    def plugin_name(cls) -> str:
        return cls.name or cls.__module__.rpartition(".")[2]

    def bind(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- hooks (all optional)
    def on_start(self) -> None: ...

    def on_quote(self, quote: Quote) -> None: ...

    def on_bar(self, bar: Bar) -> None: ...

    def on_fill(self, fill: Fill) -> None: ...

    def on_order(self, event: OrderEvent) -> None: ...

    def on_timer(self, name: str) -> None: ...

    def on_stop(self) -> None: ...


# --------------------------------------------------------------------------- commands
# What a context sends to the runner (on the engine's loop). Frozen msgspec structs: cheap to
# build (several per order), and they cross a thread hop or a process pipe unchanged.


class Submit(msgspec.Struct, frozen=True):
    ref: str
    request: OrderRequest
    quote_ts: float = 0.0  # the triggering quote's or bar's timestamp (latency measurement; 0 in a backtest)


class Cancel(msgspec.Struct, frozen=True):
    order_id: str


class CancelAll(msgspec.Struct, frozen=True):
    symbol: str | None = None


class Subscribe(msgspec.Struct, frozen=True):
    symbols: tuple[str, ...]
    bars: tuple[int, ...] = ()
    quotes: bool = True


class SetTimer(msgspec.Struct, frozen=True):
    name: str
    interval: float  # seconds; 0 removes the timer


class Refuse(msgspec.Struct, frozen=True):
    """An order the context could not even build (a junk quantity or price): the runner
    answers it, in turn with the strategy's other orders, as a rejected order event."""

    ref: str
    symbol: str
    side: Side
    reason: str


class Halt(msgspec.Struct, frozen=True):
    """The strategy stops itself (``ctx.stop``): its working orders are canceled and
    ``reason`` is what every face shows for the stop."""

    reason: str


class Log(msgspec.Struct, frozen=True):
    level: int
    message: str


class Alert(msgspec.Struct, frozen=True):
    title: str
    message: str
    priority: str = "normal"


Command = Submit | Refuse | Halt | Cancel | CancelAll | Subscribe | SetTimer | Log | Alert


# --------------------------------------------------------------------------- events in
# What the runner delivers to a context besides quotes, bars and order events.


class Timer(msgspec.Struct, frozen=True):
    name: str
    ts: float


class Placed(msgspec.Struct, frozen=True):
    """The order manager's answer to a ``Submit``: the order id, or why it was refused."""

    ref: str
    order_id: str | None
    error: str | None = None


class Routed(msgspec.Struct, frozen=True):
    """An order event for this strategy, with the reference of the ``Submit`` that made it."""

    event: OrderEvent
    ref: str | None = None


class Start(msgspec.Struct, frozen=True):
    pass


class Stop(msgspec.Struct, frozen=True):
    pass


# --------------------------------------------------------------------------- the context


class Context:
    """Everything a strategy may touch. Built by the runner; strategies never build one."""

    indicators: ModuleType = _indicators
    """``workstation.core.indicators``: ``ctx.indicators.sma(closes, 20)``, ``ctx.indicators.RSI(14)``..."""

    def __init__(
        self,
        *,
        name: str,
        symbols: Sequence[str],
        clock: Any,
        send: Callable[[Command], None],
        instrument: Callable[[str], Instrument],
        account: Callable[[], Account | None] = lambda: None,
        capital: Callable[[], Decimal | None] = lambda: None,
        history: Callable[[str, int, int], list[Bar]] | None = None,
        history_limit: int = 5_000,
        book: Book | None = None,
        orders: Iterable[Order] = (),
        apply_fills: bool = True,
        delivered: Callable[[str, int, int], list[Bar]] | None = None,
    ) -> None:
        self.name = name
        self.symbols: tuple[str, ...] = tuple(symbols)
        self._clock = clock
        self._send = send
        self._instrument = instrument
        self._account = account
        self._capital = capital
        self._history_source = history
        self._history_limit = history_limit
        # ``delivered(symbol, seconds, n)``: the last ``n`` bars delivered so far, kept by whoever
        # delivers them (a backtest has them all in its columns); the context then keeps none
        self._delivered = delivered
        # with ``delivered``: the history before the first bar, and how many bars were asked for
        self._past: dict[tuple[str, int], tuple[int, list[Bar]]] = {}
        self._bars: dict[str, dict[int, deque[Bar]]] = {}  # symbol -> bar seconds -> bars (two plain look-ups per bar)
        self._loaded: set[tuple[str, int]] = set()
        self._quotes: dict[str, Quote] = {}
        self._orders: dict[str, Order] = {o.id: o for o in orders}
        self._inflight: dict[str, OrderRequest] = {}
        self._book = book if book is not None else Book()  # a restart carries on with its positions
        # False when ``book`` is kept by its owner (inline delivery shares the portfolio's
        # per-strategy book): the fills delivered here are then already in it
        self._apply_fills = apply_fills
        self._refs = itertools.count(1)
        self._trigger_ts = 0.0
        self.last_error: str | None = None
        self.sizing = Sizer(self)

    # -- time
    def now(self) -> datetime:
        """The injected clock's time (simulated in a backtest)."""
        return datetime.fromtimestamp(self._clock.time(), tz=timezone.utc)

    def time(self) -> float:
        """The injected clock's time in epoch seconds."""
        return self._clock.time()

    # -- market data
    def subscribe(self, symbols: str | Iterable[str], bars: int | Iterable[int] = (), quotes: bool = True) -> None:
        """Receive quotes (``on_quote``) and/or bars of the given sizes in seconds (``on_bar``)."""
        syms = (symbols,) if isinstance(symbols, str) else tuple(symbols)
        sizes = (bars,) if isinstance(bars, int) else tuple(bars)
        for s in sizes:
            if int(s) != s or s < 1:
                raise ParamError(f"bar size must be a whole number of seconds, got {s!r}")
        self._send(Subscribe(tuple(self._instrument(s).symbol for s in syms), tuple(int(s) for s in sizes), quotes))

    def quote(self, symbol: str) -> Quote | None:
        """The latest quote this strategy has received for ``symbol``."""
        return self._quotes.get(symbol)

    def history(self, symbol: str, seconds: int = 60, count: int | None = None) -> list[Bar]:
        """Completed bars of ``seconds`` for ``symbol``, oldest first (history, then live)."""
        seconds = int(seconds)
        if self._delivered is not None:
            return self._history_delivered(symbol, seconds, count)
        sizes = self._bars.setdefault(symbol, {})
        store = sizes.get(seconds)
        if store is None or (count or 0) > (store.maxlen or 0):
            store = sizes[seconds] = deque(store or (), maxlen=max(self._history_limit, count or 0))
        if (symbol, seconds) not in self._loaded:
            self._loaded.add((symbol, seconds))
            if self._history_source is not None:
                past = self._history_source(symbol, seconds, count or self._history_limit)
                first = store[0].ts if store else math.inf
                for bar in reversed([b for b in past if b.ts < first]):
                    store.appendleft(bar)
        bars = list(store)
        return bars[-count:] if count else bars

    def _history_delivered(self, symbol: str, seconds: int, count: int | None) -> list[Bar]:
        assert self._delivered is not None
        limit = max(self._history_limit, count or 0)
        live = self._delivered(symbol, seconds, limit)
        key = (symbol, seconds)
        asked, past = self._past.get(key, (0, []))
        if asked < limit and self._history_source is not None:  # (asked again when more is wanted)
            asked, past = self._past[key] = (limit, list(self._history_source(symbol, seconds, limit)))
        if past:
            first = live[0].ts if live else math.inf
            live = [b for b in past if b.ts < first] + live
        bars = live[-limit:]
        return bars[-count:] if count else bars

    def closes(self, symbol: str, seconds: int = 60, count: int | None = None) -> np.ndarray:
        return np.fromiter((b.close for b in self.history(symbol, seconds, count)), dtype=np.float64)

    def instrument(self, symbol: str) -> Instrument:
        return self._instrument(symbol)

    # -- own book and the account
    def position(self, symbol: str) -> Position:
        """This strategy's own position (from its fills), not the whole account's."""
        pos = self._book.positions.get(symbol)
        inst = self._instrument(symbol)
        if pos is None:
            return Position(symbol=symbol, multiplier=inst.multiplier, currency=inst.currency)
        return Position(
            symbol=symbol, qty=pos.qty, avg_price=pos.avg, realized_pnl=pos.realized,
            multiplier=inst.multiplier, currency=inst.currency,
        )

    def qty(self, symbol: str) -> Decimal:
        pos = self._book.positions.get(symbol)
        return pos.qty if pos else ZERO

    def positions(self) -> list[Position]:
        return [self.position(s) for s, p in sorted(self._book.positions.items()) if p.qty != 0]

    @property
    def realized_pnl(self) -> Decimal:
        return self._book.realized

    @property
    def trades(self) -> int:
        return self._book.trades

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """This strategy's working orders, as its events have reported them."""
        return [
            o for o in self._orders.values()
            if (o.status.is_working or (o.status is OrderStatus.NEW and o.parent_id)) and (symbol is None or o.symbol == symbol)
        ]

    def pending(self, symbol: str) -> Decimal:
        """Signed quantity still to come from orders sent but not finished (including ones
        the order manager has not answered yet): position + pending is where this strategy
        is heading."""
        total = ZERO
        if not (self._inflight or self._orders):
            return total
        for req in self._inflight.values():
            if req.symbol == symbol:
                total += req.qty * req.side.sign
        for o in self.open_orders(symbol):
            if o.parent_id is None:
                total += o.remaining * o.side.sign
        return total

    def account(self) -> Account | None:
        """The whole account (cash, equity, buying power), as of the last refresh."""
        return self._account()

    def equity(self) -> Decimal:
        acct = self._account()
        return acct.equity if acct is not None else ZERO

    def capital(self) -> Decimal:
        """The capital allocated to this strategy (its allocation, else the account's equity)."""
        cap = self._capital()
        return cap if cap is not None else self.equity()

    # -- orders (commands: the outcome arrives as on_order / on_fill events)
    def buy(self, symbol: str, qty: object, **kw: Any) -> str:
        return self._order(Side.BUY, symbol, qty, **kw)

    def sell(self, symbol: str, qty: object, **kw: Any) -> str:
        return self._order(Side.SELL, symbol, qty, **kw)

    def _order(
        self,
        side: Side,
        symbol: str,
        qty: object,
        *,
        limit: object = None,
        stop: object = None,
        tif: TimeInForce | str = TimeInForce.DAY,
        take_profit: object = None,
        stop_loss: object = None,
    ) -> str:
        """Build the request; a value that cannot make an order (a junk quantity or price, an
        unknown symbol) is not raised into the strategy: it comes back as a rejected order
        event (``on_order``) with the reason, like any other refusal."""
        try:
            inst = self._instrument(symbol)
            if limit is None and stop is None and take_profit is None and stop_loss is None:  # a market order
                req = OrderRequest(
                    symbol=inst.symbol, side=side, qty=_order_number(qty, "quantity"),
                    tif=tif if type(tif) is TimeInForce else TimeInForce(tif), strategy=self.name, source="strategy",
                )
            else:
                otype = (
                    OrderType.STOP_LIMIT if limit is not None and stop is not None
                    else OrderType.LIMIT if limit is not None
                    else OrderType.STOP if stop is not None
                    else OrderType.MARKET
                )
                round_price = inst.round_price
                req = OrderRequest(
                    symbol=inst.symbol, side=side, qty=_order_number(qty, "quantity"), type=otype,
                    limit_price=None if limit is None else round_price(_order_number(limit, "limit price")),
                    stop_price=None if stop is None else round_price(_order_number(stop, "stop price")),
                    tif=tif if type(tif) is TimeInForce else TimeInForce(tif),
                    take_profit=None if take_profit is None else round_price(_order_number(take_profit, "take-profit")),
                    stop_loss=None if stop_loss is None else round_price(_order_number(stop_loss, "stop-loss")),
                    strategy=self.name, source="strategy",
                )
        except (ModelError, ValueError, TypeError, ArithmeticError) as exc:
            return self._refuse(symbol, side, _one_line(exc))
        return self._submit(req)

    def _refuse(self, symbol: object, side: Side, reason: str) -> str:
        ref = f"{self.name}-{next(self._refs)}"
        self._send(Refuse(ref, symbol if isinstance(symbol, str) else _shown(symbol), side, reason))
        return ref

    def submit(self, request: OrderRequest) -> str:
        """Send an order request through the order manager and risk, tagged with this strategy.
        Returns a reference; ``Placed``/order events carry the outcome."""
        if not isinstance(request, OrderRequest):
            return self._refuse("?", Side.BUY, f"submit takes an OrderRequest, not {_shown(request)}")
        return self._submit(msgspec.structs.replace(request, strategy=self.name, source="strategy"))

    def _submit(self, req: OrderRequest) -> str:
        ref = f"{self.name}-{next(self._refs)}"
        self._inflight[ref] = req
        self._send(Submit(ref, req, self._trigger_ts))
        return ref

    def cancel(self, order_id: str) -> None:
        self._send(Cancel(order_id))

    def cancel_all(self, symbol: str | None = None) -> None:
        """Cancel this strategy's working orders (for one symbol, or all)."""
        self._send(CancelAll(symbol))

    def flatten(self, symbol: str | None = None) -> None:
        """Cancel this strategy's working orders and close its positions at market."""
        symbols = [symbol] if symbol is not None else [s for s, p in self._book.positions.items() if p.qty != 0]
        self.cancel_all(symbol)
        for sym in symbols:
            q = self.qty(sym)
            if q > 0:
                self.sell(sym, q)
            elif q < 0:
                self.buy(sym, -q)

    def stop(self, reason: str) -> None:
        """Stop this strategy (after the orders already sent): its working orders are
        canceled, ``on_stop`` runs, and ``reason`` is shown as why it stopped."""
        self._send(Halt(str(reason)))

    # -- timers, log, alert
    def set_timer(self, name: str, interval: float) -> None:
        """Call ``on_timer(name)`` every ``interval`` seconds of the clock (0 removes it)."""
        if interval < 0:
            raise ParamError(f"timer interval must not be negative, got {interval}")
        self._send(SetTimer(name, float(interval)))

    def log(self, message: str, level: int = logging.INFO) -> None:
        self._send(Log(level, str(message)))

    def alert(self, title: str, message: str, priority: str = "normal") -> None:
        """Raise an alert (``model.AlertRaised``) that the workstation and channels show."""
        self._send(Alert(title, message, priority))

    # -- delivery (called by the worker, on the strategy's thread, before the hook runs)
    def bar_hook(self, strategy: Strategy) -> Callable[[Bar], None]:
        """What an inline worker calls with each bar: ``take_bar`` for ``strategy``, or, when
        the deliverer keeps the bars (a backtest, where no latency is measured either), the
        strategy's ``on_bar`` itself."""
        if self._delivered is not None:
            return strategy.on_bar
        return functools.partial(self.take_bar, strategy)

    def take_bar(self, strategy: Strategy, bar: Bar) -> None:
        """Keep ``bar`` in the history (unless its deliverer keeps it), then call ``on_bar``
        (a backtest: once per bar)."""
        if self._delivered is None:
            try:  # (a ``try`` costs nothing when the keys are there, every bar but the first)
                self._bars[bar.symbol][bar.seconds].append(bar)
            except KeyError:
                self._bars.setdefault(bar.symbol, {})[bar.seconds] = deque((bar,), maxlen=self._history_limit)
        self._trigger_ts = bar.ts
        strategy.on_bar(bar)

    def take_order(self, strategy: Strategy, event: OrderEvent, ref: str | None) -> None:
        """Track the order ``event`` reports (``ref``: the ``Submit`` it answers), then call
        ``on_fill`` for a fill and ``on_order``."""
        if ref is not None:
            self._inflight.pop(ref, None)
        order = event.order
        if order.status.is_terminal:  # (not held: ``open_orders``, all that reads it, would leave it out)
            self._orders.pop(order.id, None)
        else:
            self._orders[order.id] = order
        if isinstance(event, OrderFilled):
            if self._apply_fills:
                self._book.apply(event.fill, self._instrument(event.fill.symbol).multiplier)
            strategy.on_fill(event.fill)
        strategy.on_order(event)

    def dispatch(self, strategy: Strategy, item: object) -> None:
        """Update the context's state from ``item`` and call the matching hook."""
        if isinstance(item, Bar):
            self.take_bar(strategy, item)
        elif isinstance(item, Quote):
            self._quotes[item.symbol] = item
            self._trigger_ts = item.ts
            strategy.on_quote(item)
        elif isinstance(item, Routed):
            self.take_order(strategy, item.event, item.ref)
        elif isinstance(item, Placed):
            self._inflight.pop(item.ref, None)
            if item.error:
                self.last_error = item.error
        elif isinstance(item, Timer):
            self._trigger_ts = item.ts
            strategy.on_timer(item.name)
        elif isinstance(item, Start):
            strategy.on_start()
        elif isinstance(item, Stop):
            strategy.on_stop()


class Sizer:
    """Sizing helpers bound to a context: capital and instruments filled in."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def fixed(self, symbol: str, qty: object) -> Decimal:
        return _sizing.fixed_qty(self._ctx.instrument(symbol), qty)

    def notional(self, symbol: str, amount: object, price: object) -> Decimal:
        return _sizing.fixed_notional(self._ctx.instrument(symbol), amount, price)

    def fraction_of_capital(self, symbol: str, fraction: object, price: object) -> Decimal:
        return _sizing.fixed_notional(self._ctx.instrument(symbol), self._ctx.capital() * to_decimal(fraction), price)

    def risk(self, symbol: str, risk_fraction: object, entry: object, stop: object) -> Decimal:
        return _sizing.fixed_fractional(self._ctx.instrument(symbol), self._ctx.capital(), risk_fraction, entry, stop)

    def volatility(self, symbol: str, risk_fraction: object, atr: object, atr_multiple: object = 1) -> Decimal:
        return _sizing.volatility_target(self._ctx.instrument(symbol), self._ctx.capital(), risk_fraction, atr, atr_multiple)

    def kelly(self, symbol: str, price: object, win_rate: object, payoff: object, cap: object = Decimal("0.25")) -> Decimal:
        return _sizing.kelly(self._ctx.instrument(symbol), self._ctx.capital(), price, win_rate, payoff, cap)

    def optimal_f(self, symbol: str, trades: Iterable[object]) -> Decimal:
        results = [to_decimal(t) for t in trades]
        f = _sizing.optimal_f(results)
        return _sizing.optimal_f_qty(self._ctx.instrument(symbol), self._ctx.capital(), f, min(results)) if f else ZERO


_ORDER_NUMBER_LIMIT = Decimal("1e15")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _order_number(value: object, what: str) -> Decimal:
    """A strategy's quantity or price as a Decimal that can make an order: a number (or
    text that reads as one), finite, above zero and below 1e15; else ModelError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise ModelError(f"{what} must be a number, got {_shown(value)}")
    d = to_decimal(value, what)
    if not ZERO < d < _ORDER_NUMBER_LIMIT:  # (the Decimal zero: an int is converted on every compare)
        raise ModelError(f"{what} must be above 0 and below 1e15, got {_shown(value)}")
    return d


def short_traceback(exc: BaseException, limit: int = 3) -> str:
    """``ZeroDivisionError: division by zero (at plugins/x.py:12 in on_bar)`` for alerts."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" (at {last.filename.rsplit('/', 2)[-1] if '/' in last.filename else last.filename}:{last.lineno} in {last.name})"
    text = f"{type(exc).__name__}: {exc}{where}"
    return text if len(text) <= 300 else text[:297] + "..."


@dataclass
class Allocation:
    """Capital for one strategy: an amount of money, or a fraction of the account's equity."""

    amount: Decimal | None = None
    fraction: Decimal | None = None

    @classmethod
    def parse(cls, text: object) -> Allocation:
        """``"25000"`` is an amount; ``"25%"`` or ``"0.25"`` is a fraction of equity."""
        s = str(text).strip()
        if s.endswith("%"):
            frac = to_decimal(s[:-1], "allocation") / 100
        else:
            d = to_decimal(s, "allocation")
            if d <= 0:
                raise ParamError(f"allocation must be positive, got {s}")
            if d <= 1:
                frac = d
            else:
                return cls(amount=d)
        if not 0 < frac <= 1:
            raise ParamError(f"allocation fraction must be above 0% and at most 100%, got {s}")
        return cls(fraction=frac)

    def capital(self, equity: Decimal) -> Decimal:
        if self.amount is not None:
            return self.amount
        return equity * (self.fraction or ZERO)

    def __str__(self) -> str:
        if self.amount is not None:
            return f"${self.amount:,.2f}"
        return f"{plain((self.fraction or ZERO) * 100)}%"


__all__ = [
    "Alert", "Allocation", "Cancel", "CancelAll", "Command", "Context", "Halt", "Log", "Param", "ParamError", "Placed",
    "Refuse", "Routed", "SetTimer", "Start", "Stop", "Strategy", "StrategyState", "Submit", "Subscribe", "Timer",
    "parse_assignments", "short_traceback",
]
