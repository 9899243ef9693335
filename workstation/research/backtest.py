"""Historical replay through the live engine: strategies, order manager, risk, portfolio.

A backtest composes the same parts a live session does -- ``StrategyRunner`` (inline
delivery), ``OrderManager``, ``PreTradeRisk``, ``Portfolio``, a journal -- around the
bar-matching simulated broker (``brokers.paper.bars.BarSimBroker``) and a simulated clock.
Bars from every symbol are merged into one timestamp order. For each timestamp the
broker first matches the working orders against the bars that open then (so an order
sent on bar *t* fills on bar *t+1*), then the clock moves to the bars' close and each
bar goes to the strategies that subscribed to its symbol; then the strategies' timers due by
that close fire (``runner.fire_timers``: timers run on the simulated clock, as live). Everything runs on one
thread, synchronously; the event loop is only entered when a strategy has sent an order
(the order manager's ``submit`` is a coroutine), never per bar. Same inputs, same output.

The lean path: bars live in numpy columns and become ``Bar`` structs one at a time; the
journal (the backtest's own file, never the paper account) writes in batched
transactions; equity is sampled as a float per timestamp and exact ``Decimal`` money is
computed only per order and fill (and at the end: ``final_equity``).

Risk: only the limits the user configures apply (``RiskLimits()`` with no order
notional cap by default); buying power always applies. The account is a cash account
unless ``account="margin"``. The compliance rules are wired as a live session wires them
(``workstation.risk.compliance``), but only when they can bite, so a run without them
pays nothing: ``max_open_positions`` and ``max_gross_leverage`` when set, and in a margin
account the pattern-day-trader rule (``pdt_check``), its day trades counted from the run's
own fills and its business days and equity taken on the simulated clock.

Strategy bar subscriptions are matched to the data's bar size: a strategy with a
``bar_seconds`` parameter that the user did not set is given the data's bar length.
``ctx.history`` serves bars from before the run's start (``--from``) when there are any.

Why one module: the replay loop, its batch journal and its per-chunk equity curve are kept
together on purpose: the loop is the hot path (about 20,000 instructions a bar) and is
tuned as one piece with the state it notes.
"""

from __future__ import annotations

import asyncio
import gc
import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from itertools import repeat
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from brokers.paper.replay import ReplayError
from brokers.paper.broker import SimConfig
from brokers.paper.bars import BarSimBroker
from brokers.paper.fill_models import FillModel, ModelInputs
from workstation.core.bus import Bus
from workstation.core.clock import SimClock, perf_ns
from workstation.core.journal import Journal
from workstation.core.marketdata import QuoteCache
from workstation.core.model import Bar, Fill, Instrument, ModelError, Order, OrderFilled, OrderStatus, OrderSubmitted
from workstation.trading.oms import OrderManager
from workstation.trading.portfolio import Portfolio
from workstation.core.limits import LimitStore, RiskLimits
from workstation.risk.checks import PreTradeRisk
from workstation.risk.compliance import Compliance, compliance_applies
from workstation.risk.rates import rate_limited
from workstation.strategies.api import Strategy
from workstation.strategies.runner import StrategyRunner
from workstation.core.symbols import parse_symbol
from workstation.research.curves import CurveBuilder, EquityCurve, PriceSummary, PriceTracker

CHUNK = 16_384  # rows converted from numpy to Python floats at a time
SESSION = 23_400  # a daily bar closes 6.5 hours after it opens (09:30 -> 16:00 New York)


from workstation.research.series import (  # noqa: E402  (re-exported: the data a run takes)
    BacktestError, BarSeries, StreamedSeries, load_series, spikes, synthetic_series,
)


# --------------------------------------------------------------------------- configuration


def open_limits(**given: Any) -> RiskLimits:
    """Risk limits with every limit off except the ones ``given`` (buying power always applies)."""
    off: dict[str, Any] = {}
    for name, default in zip(RiskLimits.__struct_fields__, RiskLimits.__struct_defaults__, strict=True):
        if isinstance(default, bool) or name in ("near_pct", "day_roll", "day_timezone", "var_method"):
            continue
        off[name] = None
    return RiskLimits(**{**off, **given})


OPEN_LIMITS = open_limits()


class BacktestConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Money, costs and limits of one backtest."""

    cash: Decimal = Decimal(100_000)
    commission_per_share: Decimal = Decimal(0)
    commission_pct: Decimal = Decimal(0)
    commission_min: Decimal = Decimal(0)
    slippage_bps: Decimal = Decimal(0)
    slippage_ticks: int = 0
    limits: RiskLimits = OPEN_LIMITS
    account: str = "cash"  # "cash" or "margin"
    leverage: Decimal = Decimal(2)
    seed: int = 0
    journal_batch: int = 5_000  # journal rows per transaction
    spike_filter: bool = False  # drop the bars the live data-quality monitor calls spikes
    fill_model: FillModel = msgspec.field(default_factory=FillModel)  # next_open unless given

    def __post_init__(self) -> None:
        if self.cash <= 0:
            raise BacktestError(f"cash must be positive, got {self.cash}")
        if self.account not in ("cash", "margin"):
            raise BacktestError(f"account must be cash or margin, got {self.account!r}")

    def sim(self) -> SimConfig:
        try:
            return SimConfig(
                seed=self.seed, slippage_bps=self.slippage_bps, slippage_ticks=self.slippage_ticks,
                commission_per_share=self.commission_per_share, commission_min=self.commission_min,
                commission_pct=self.commission_pct, partial_fills=False,
            )
        except ValueError as e:
            raise BacktestError(str(e)) from None


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """A strategy to run: its class, parameters (strings or values), symbols and name."""

    cls: type[Strategy]
    params: Mapping[str, Any] = field(default_factory=dict)
    symbols: tuple[str, ...] = ()
    name: str | None = None
    allocation: str | None = None


KEEP_FILLS = 100_000  # fills kept in memory for the result; beyond, a file journal's are read back


@dataclass
class BacktestResult:
    """What a run produced. Money is Decimal; the equity curve is floats (analytics).

    A long run keeps little per bar: ``curve`` holds exact running figures and a bounded
    curve, ``prices`` each symbol's daily closes and a bounded sample. Fills and orders are in
    the run's journal: ``iter_fills()``/``iter_orders()`` stream them (from memory when the
    run kept them: an in-memory journal, or at most ``KEEP_FILLS`` fills); ``fills``/``orders``
    are the same as lists."""

    curve: EquityCurve
    prices: dict[str, PriceSummary]
    initial_cash: Decimal
    final_equity: Decimal
    cash: Decimal
    positions: dict[str, Decimal]
    instruments: dict[str, Instrument]
    arrivals: dict[str, Decimal]  # order id -> arrival price
    strategies: dict[str, dict[str, Any]]  # name -> plugin, params, state, error
    spikes: dict[str, int]  # bars dropped by the spike filter, per symbol (empty when it is off)
    bars: int
    elapsed: float  # seconds of wall time
    journal_path: str
    fill_count: int
    order_count: int
    series: list[BarSeries] = field(default_factory=list)  # the bars run on (empty for a streamed file)
    # orders refused before the order manager made them (junk values from a strategy): they
    # are in no journal, only in the strategies' rejected events and here
    refused: list[Order] = field(default_factory=list)
    kept_fills: list[Fill] | None = None
    kept_orders: list[Order] | None = None
    # with ``kept_fills``: each filled order's decision price (the figures need no journal read)
    kept_decisions: dict[str, Decimal | None] | None = None
    fill_model: dict[str, Any] = field(default_factory=lambda: {"name": "next_open"})  # the model and its parameters
    model_costs: dict[str, Any] = field(default_factory=dict)  # spread, impact (Decimal strings) and counts
    capacity: list[dict[str, Any]] | None = None  # with --capacity: the run at 1x, 10x, 100x

    def iter_fills(self) -> Iterator[Fill]:
        """Every fill, in the order they happened."""
        if self.kept_fills is not None:
            yield from self.kept_fills
            return
        yield from _read_journal(self.journal_path, "fills")

    def iter_orders(self) -> Iterator[Order]:
        """Every order the order manager made, by id."""
        if self.kept_orders is not None:
            yield from self.kept_orders
            return
        yield from _read_journal(self.journal_path, "orders")

    @property
    def fills(self) -> list[Fill]:
        return list(self.iter_fills())

    @property
    def orders(self) -> list[Order]:
        return list(self.iter_orders())

    @property
    def equity_ts(self) -> np.ndarray:
        return self.curve.ts

    @property
    def equity(self) -> np.ndarray:
        return self.curve.equity

    @property
    def gross(self) -> np.ndarray:
        return self.curve.gross

    @property
    def bars_per_second(self) -> float:
        return self.bars / self.elapsed if self.elapsed > 0 else 0.0

    def __repr__(self) -> str:  # a summary: the full record is large (asyncio prints it on Ctrl-C paths)
        return (
            f"BacktestResult(bars={self.bars}, fills={self.fill_count}, orders={self.order_count}, "
            f"final_equity={self.final_equity}, journal_path={self.journal_path!r})"
        )


def _read_journal(path: str, what: str) -> Iterator[Any]:
    journal = Journal(path, readonly=True)
    try:
        yield from (journal.iter_fills() if what == "fills" else journal.iter_orders())
    finally:
        journal.close()


# --------------------------------------------------------------------------- the journal


class BatchJournal(Journal):
    """The backtest's journal: the same tables and records as live, written in batches.

    Order events, fills and free-form events are kept in memory; ``flush`` (the engine
    flushes every ``journal_batch`` records and at the end) encodes the batch as three
    JSON arrays -- events, fills, the latest state of each order touched -- and a writer
    thread inserts them in one transaction, SQLite expanding each array with ``json_each``
    (one statement per table, the work done in SQLite without the interpreter lock, so it
    overlaps the replay). One batch is in flight at a time; a write error is raised on
    the engine's thread at the next flush, read or close. The ``fills`` and ``orders``
    rows are exactly what the live journal's triggers derive from the events, written
    directly instead, so this file (a backtest's own, never an account's) has the triggers
    dropped; a later ``Journal`` on it re-creates them. Reads and direct writes wait for
    the writer first."""

    def __init__(self, path: Path | str) -> None:
        self._writing: Future[None] | None = None
        super().__init__(path, synchronous="OFF")
        self._db.execute("DROP TRIGGER IF EXISTS order_state")
        self._db.execute("DROP TRIGGER IF EXISTS fill_row")
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        self._seq = int(row[0])
        self._exec_ids = {r[0] for r in self._db.execute("SELECT exec_id FROM fills")}
        self._events: list[tuple[int, float, str, str | None, Any]] = []
        self._fills: list[tuple[int, msgspec.Raw]] = []  # (seq, the fill encoded)
        self._orders: dict[str, Order] = {}
        self._status_payloads: dict[OrderStatus, dict[str, Any]] = {}
        self._encode = msgspec.json.Encoder().encode
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backtest-journal")

    @property
    def pending(self) -> int:
        return len(self._events)

    def record_order(self, kind: str, order: Order, ts: float, extra: dict[str, Any] | None = None) -> None:
        if order.reason or extra:
            payload: dict[str, Any] = {"status": order.status}  # (encoded as its value)
            if order.reason:
                payload["reason"] = order.reason
            if extra:
                payload.update(extra)
        else:  # the usual event: a status alone, one payload per status shared (it is only encoded)
            payload = self._status_payloads.get(order.status) or self._status_payloads.setdefault(
                order.status, {"status": order.status}
            )
        self._seq += 1
        self._events.append((self._seq, ts, "order." + kind, order.id, payload))
        self._orders[order.id] = order

    def record_fill(self, fill: Fill, order: Order | None) -> bool:
        if fill.exec_id in self._exec_ids:
            return False
        self._exec_ids.add(fill.exec_id)
        self._seq += 1
        encoded = msgspec.Raw(self._encode(fill))  # (encoded once, for both arrays)
        self._events.append((self._seq, fill.ts, "fill", fill.order_id, encoded))
        self._fills.append((self._seq, encoded))
        if order is not None:
            self._orders[order.id] = order
        return True

    def has_fill(self, exec_id: str) -> bool:
        return exec_id in self._exec_ids

    def append(self, kind: str, data: Any, ts: float, ref: str | None = None) -> int:
        self._seq += 1
        self._events.append((self._seq, ts, kind, ref, data))
        return self._seq

    def flush(self, wait: bool = False) -> None:
        """Hand what is buffered to the writer (after the batch before it is written)."""
        if self._events or self._orders:
            enc = self._encode
            batch = (enc(self._events), enc(self._fills), enc(list(self._orders.values())))
            self._events.clear()
            self._fills.clear()
            self._orders.clear()
            self._wait()
            self._writing = self._pool.submit(self._write, *batch)
        if wait:
            self._wait()

    def _wait(self) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()  # a failed write raises here, on the engine's thread

    def _write(self, events: bytes, fills: bytes, orders: bytes) -> None:
        # json_extract (not the -> operators of SQLite 3.38): the same JSON functions the live
        # journal's triggers need. An event's data is an object (stored as its JSON text); any
        # other JSON value is turned back into its JSON text by type.
        db = self._db
        db.execute("BEGIN")
        try:
            db.execute(
                "INSERT INTO events(seq, ts, kind, ref, data) "
                "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), "
                "json_extract(value, '$[3]'), CAST(CASE json_type(value, '$[4]') "
                "WHEN 'object' THEN json_extract(value, '$[4]') WHEN 'array' THEN json_extract(value, '$[4]') "
                "WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null' "
                "ELSE json_quote(json_extract(value, '$[4]')) END AS BLOB) FROM json_each(?)",
                (events,),
            )
            db.execute(
                "INSERT INTO fills(exec_id, order_id, symbol, side, qty, price, commission, ts, strategy, seq) "
                "SELECT json_extract(value, '$[1].exec_id'), json_extract(value, '$[1].order_id'), "
                "json_extract(value, '$[1].symbol'), json_extract(value, '$[1].side'), json_extract(value, '$[1].qty'), "
                "json_extract(value, '$[1].price'), json_extract(value, '$[1].commission'), "
                "json_extract(value, '$[1].ts'), json_extract(value, '$[1].strategy'), json_extract(value, '$[0]') "
                "FROM json_each(?)",
                (fills,),
            )
            db.execute(
                "INSERT INTO orders(id, client_id, status, symbol, created, updated, data) "
                "SELECT CAST(json_extract(value, '$.id') AS INTEGER), json_extract(value, '$.client_id'), "
                "json_extract(value, '$.status'), json_extract(value, '$.symbol'), json_extract(value, '$.created'), "
                "json_extract(value, '$.updated'), CAST(value AS BLOB) FROM json_each(?) WHERE true "
                "ON CONFLICT(id) DO UPDATE SET status=excluded.status, updated=excluded.updated, data=excluded.data",
                (orders,),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # reads and direct writes see everything written so far
    def orders(self, statuses: tuple[str, ...] | None = None) -> list[Order]:
        self.flush(wait=True)
        return super().orders(statuses)

    def order(self, order_id: str) -> Order | None:
        self.flush(wait=True)
        return super().order(order_id)

    def fills(self, since: float | None = None) -> list[Fill]:
        self.flush(wait=True)
        return super().fills(since)

    def iter_fills(self) -> Iterator[Fill]:
        self.flush(wait=True)
        return super().iter_fills()

    def iter_orders(self) -> Iterator[Order]:
        self.flush(wait=True)
        return super().iter_orders()

    def events(self, kind_prefix: str | None = None, limit: int | None = None):  # type: ignore[override]
        self.flush(wait=True)
        return super().events(kind_prefix, limit)

    def cash_entries(self) -> list[tuple[Decimal, str, str]]:
        self.flush(wait=True)
        return super().cash_entries()

    def last_seq(self) -> int:
        self.flush(wait=True)
        return super().last_seq()

    def events_after(self, seq: int, kinds: tuple[str, ...]) -> list[tuple[int, float, str, str | None, Any]]:
        self.flush(wait=True)
        return super().events_after(seq, kinds)

    def counts(self) -> tuple[int, int]:
        """How many orders and fills the journal holds."""
        self.flush(wait=True)
        orders = self._db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        return int(orders), len(self._exec_ids)

    def meta(self, key: str) -> str | None:
        self._wait()
        return super().meta(key)

    def ensure_meta(self, key: str, value: str) -> str:
        self._wait()
        return super().ensure_meta(key, value)

    def set_meta(self, key: str, value: str) -> None:
        self._wait()
        super().set_meta(key, value)

    def next_order_number(self, count: int = 1) -> int:
        self._wait()
        return super().next_order_number(count)

    def close(self) -> None:
        try:
            self.flush(wait=True)
        finally:
            self._pool.shutdown(wait=True)
            super().close()


# --------------------------------------------------------------------------- the engine


class Backtest:
    """One run: ``await Backtest(...).run()`` or ``run_backtest(...)``."""

    def __init__(
        self,
        series: Sequence[BarSeries],
        strategies: Sequence[StrategySpec],
        config: BacktestConfig | None = None,
        *,
        journal_path: str | Path | None = None,
        warmup: Sequence[BarSeries] = (),
    ) -> None:
        if not series:
            raise BacktestError("no data to run on")
        if not strategies:
            raise BacktestError("no strategy to run")
        names = [s.symbol for s in series]
        if len(set(names)) != len(names):
            raise BacktestError(f"symbol {next(n for n in names if names.count(n) > 1)} is given twice")
        empty = [s for s in series if not len(s)]
        if empty:
            raise BacktestError(f"{empty[0].source or empty[0].symbol}: no bars in the chosen period")
        self.config = config or BacktestConfig()
        if len(series) > 1 or self.config.fill_model.active:  # merged in timestamp order, or modelled: in memory
            series = [s.load() if isinstance(s, StreamedSeries) else s for s in series]
        self.spikes: dict[str, int] = {}
        if self.config.spike_filter:
            streamed = next((s for s in series if isinstance(s, StreamedSeries)), None)
            if streamed is not None:
                raise BacktestError(
                    f"{streamed.source}: the spike filter needs the bars in memory, and this file is read in chunks "
                    f"({len(streamed):,} bars); run without --spike-filter or on a shorter period (--from/--to)"
                )
            kept = []
            for s in series:
                drop = spikes(s)
                self.spikes[s.symbol] = int(drop.sum())
                kept.append(s.select(~drop))
            series = kept
        self.series = list(series)
        self.specs = list(strategies)
        self.journal_path = str(journal_path) if journal_path is not None else ":memory:"
        self.warmup = {w.symbol: (w.tail() if isinstance(w, StreamedSeries) else w) for w in warmup}
        self.instruments = {s.symbol: self._instrument(s) for s in self.series}
        self._index = {s.symbol: i for i, s in enumerate(self.series)}
        self._last: list[float | None] = [None] * len(self.series)
        self._clock: SimClock | None = None  # the run's clock (set when it starts)
        # bars of the one series already handed out, built again from its columns when a
        # strategy asks for its history (``_delivered``): (first index not yet built, bars)
        self._built: tuple[int, deque[Bar]] = (0, deque(maxlen=0))

    @staticmethod
    def _instrument(s: BarSeries) -> Instrument:
        try:
            inst = parse_symbol(s.symbol)
        except ModelError as e:
            raise BacktestError(f"{s.source or s.symbol}: {e}") from None
        return msgspec.structs.replace(inst, tick_size=s.tick)

    def _last_price(self, symbol: str) -> float | None:
        i = self._index.get(symbol)
        return None if i is None else self._last[i]

    def _delivered(self, symbol: str, seconds: int, count: int) -> list[Bar]:
        """The last ``count`` bars of a one-series run handed out so far: those whose close is
        at or before the clock (during a bar's hooks, that bar and the ones before it). Built
        from the columns when asked for (so the strategies' contexts need keep none), and
        remembered: a strategy that reads its history every bar costs one bar built per bar."""
        s = self.series[0]
        if symbol != s.symbol or seconds != s.seconds or self._clock is None:
            return []
        step = float(_bar_span(seconds))
        t = self._clock.t
        ts = s.ts
        n = int(np.searchsorted(ts, t - step, side="right"))
        while n < len(ts) and float(ts[n]) + step <= t:  # (exactly the loop's sums: ``t + dt``)
            n += 1
        while n > 0 and float(ts[n - 1]) + step > t:
            n -= 1
        upto, bars = self._built
        if (bars.maxlen or 0) < count or n < upto:
            upto, bars = max(0, n - count), deque(maxlen=max(count, bars.maxlen or 0))
        for i in range(max(upto, n - (bars.maxlen or 0)), n):
            bars.append(s.bar(i))
        self._built = (n, bars)
        return list(bars)[-count:] if count else []

    def _history(self, symbol: str, seconds: int, count: int) -> list[Bar]:
        w = self.warmup.get(symbol)
        if w is None or w.seconds != seconds or not len(w):
            return []
        return [w.bar(i) for i in range(max(0, len(w) - count), len(w))]

    async def run(self, progress: Callable[[int, int], None] | None = None) -> BacktestResult:
        with _collector_for_a_run():
            return await self._run(progress)

    async def _run(self, progress: Callable[[int, int], None] | None) -> BacktestResult:
        began = perf_ns()
        cfg = self.config
        series = self.series
        clock = self._clock = SimClock(min(s.first_ts for s in series))
        bus = Bus()
        quotes = QuoteCache(bus)
        journal = BatchJournal(self.journal_path)
        journal.ensure_meta("initial_cash", str(cfg.cash))
        journal.set_meta("kind", "backtest")
        oms_ref: list[OrderManager] = []
        portfolio = Portfolio(
            initial_cash=cfg.cash, instrument=lambda s: oms_ref[0].instrument_cached(s),
            margin=cfg.account == "margin", leverage=cfg.leverage,
        )
        store = LimitStore(cfg.limits)
        risk = PreTradeRisk(
            portfolio, store, working_orders=lambda: oms_ref[0].working(), last_price=portfolio.last, now=clock.time,
        )
        model = cfg.fill_model if cfg.fill_model.active else None
        broker = BarSimBroker(
            clock, cfg.sim(), instruments=self.instruments, last_price=self._last_price, fill_model=model,
            model_inputs=self._model_inputs() if model is not None else None,
        )
        if model is not None:
            journal.set_meta("fill_model", msgspec.json.encode(model.describe()).decode())
        oms = OrderManager(
            bus=bus, journal=journal, portfolio=portfolio, broker=broker, clock=clock, risk=risk, quotes=quotes,
            client_prefix="bt", commission=broker.estimate_commission, id_block=10_000,
        )
        oms_ref.append(oms)
        broker.attach(oms.on_report, quotes.on_quote, lambda state: None)  # bars never pass a quote filter
        lim = cfg.limits
        if rate_limited(lim):
            bus.subscribe(OrderSubmitted, lambda e: risk.record_sent(e.order))  # only the rate limits count orders sent
        if compliance_applies(lim, portfolio.margin):  # as live: open positions, gross leverage, pattern day trader
            compliance = Compliance(risk=risk, store=store, instrument=lambda s: oms_ref[0].instrument_cached(s))
            oms.add_check(compliance)
            if portfolio.margin and lim.pdt_check:  # day trades from the run's own fills, on its clock
                bus.subscribe(OrderFilled, lambda e: compliance.record(e.fill))
        for sym in self.instruments:
            await oms.instrument(sym)
        runner = StrategyRunner(
            bus=bus, oms=oms, portfolio=portfolio, clock=clock, delivery="inline", history=self._history, journal=journal,
            pull_commands=True,
            delivered=self._delivered if len(series) == 1 and isinstance(series[0], BarSeries) else None,
        )
        runner.attach()
        all_symbols = tuple(self.instruments)
        for spec in self.specs:
            params = dict(spec.params)
            if "bar_seconds" in spec.cls.parameters() and "bar_seconds" not in params:
                params["bar_seconds"] = series[0].seconds
            runner.add(spec.cls, params, symbols=spec.symbols or all_symbols, name=spec.name, allocation=spec.allocation)

        # float mirrors of cash and positions, for the equity curve (exact money stays in the portfolio)
        n_sym = len(series)
        mult = [float(self.instruments[s.symbol].multiplier) for s in series]
        notional = [self.instruments[s.symbol].settles_notional for s in series]
        qty_f = [0.0] * n_sym
        avg_f = [0.0] * n_sym
        cash = float(cfg.cash)
        held: list[int] = []
        in_memory = self.journal_path == ":memory:"
        fills: list[Fill] | None = []  # (None once a file journal's run has more than KEEP_FILLS)
        decisions: dict[str, Decimal | None] | None = {}  # (kept with the fills)

        def on_fill(ev: OrderFilled) -> None:
            nonlocal cash, fills, decisions
            f = ev.fill
            if fills is not None:
                fills.append(f)
                decisions[f.order_id] = ev.order.decision_price  # type: ignore[index]
                if not in_memory and len(fills) > KEEP_FILLS:
                    fills = decisions = None  # the journal has them all; the result reads them from there
            i = self._index[f.symbol]
            pos = portfolio.book.positions.get(f.symbol)
            qty_f[i] = float(pos.qty) if pos else 0.0
            avg_f[i] = float(pos.avg) if pos else 0.0
            cash = float(portfolio.cash_base())
            if qty_f[i] != 0.0:
                if i not in held:
                    held.append(i)
                    held.sort()  # (symbol order: the equity sums add in the same order every run)
            elif i in held:
                held.remove(i)

        bus.subscribe(OrderFilled, on_fill)
        await runner.start_all()
        instances = list(runner.instances.values())

        # timestamp order over every symbol (stable: series order breaks ties)
        lens = [len(s) for s in series]
        total = sum(lens)
        if n_sym > 1:
            ts_all = np.concatenate([s.ts for s in series])
            order = np.argsort(ts_all, kind="stable")
            ts_all = ts_all[order]
            sym_all = np.repeat(np.arange(n_sym, dtype=np.int64), lens)[order]
            row_all = np.concatenate([np.arange(n, dtype=np.int64) for n in lens])[order]
        first_close = min(s.first_ts + _bar_span(s.seconds) for s in series)
        curve = CurveBuilder(first_close - min(series[0].seconds, SESSION), float(cfg.cash), expected=total)
        trackers = [PriceTracker(s.symbol, s.seconds, _bar_span(s.seconds)) for s in series]
        g = -1
        last = self._last
        names = [s.symbol for s in series]
        secs = [s.seconds for s in series]
        by_symbol = broker.by_symbol
        routes = [runner.bar_route(s.symbol, s.seconds) for s in series]  # each symbol's route, looked up once
        mark_next = 0.0

        follow_ups = oms.follow_ups  # the set itself: its truth is read every bar
        # A file journal holds every order: the finished ones are let go as their batch is
        # written (a long run makes hundreds of thousands), noting their arrival prices first.
        # An in-memory journal is gone after the run, so its orders stay for the result.
        arrivals: dict[str, Decimal] = {}
        def forget_done() -> None:
            finished = [o for o in oms.orders.values() if o.status.is_terminal]
            for o in finished:
                a = broker.arrivals.pop(o.client_id, None)
                if a is not None:
                    arrivals[o.id] = a
            oms.forget_done()
            held = oms.orders
            broker.forget([o.client_id for o in finished if o.id not in held])

        async def settle(refresh: bool = False) -> None:
            """Carry out what the strategies sent (marks first: risk checks value at the last close)
            and the order manager's follow-up work (bracket children, OCO cancels)."""
            marks = portfolio.marks
            for k in range(n_sym):
                if last[k] is not None:
                    marks[names[k]] = last[k]  # (``portfolio.mark``, without the call)
            if refresh:
                runner.refresh_account()
            await runner.run_commands()
            if follow_ups:
                await oms.drain()
            if journal.pending >= cfg.journal_batch:
                journal.flush()
                if not in_memory:
                    forget_done()

        step = [_bar_span(sec) for sec in secs]
        inst0 = instances[0] if len(instances) == 1 else None
        match = broker.match_bar

        def busy() -> bool:
            if follow_ups:
                return True
            if inst0 is not None:
                return bool(inst0.commands)
            return any(i.commands for i in instances)

        groups = 0 if n_sym == 1 else int(np.count_nonzero(np.diff(ts_all)) + 1)
        eq_ts, eq, gross = np.empty(groups), np.empty(groups), np.empty(groups)

        def sample(g: int, t: float) -> None:
            value = cash
            exposure = 0.0
            for k in held:
                px = last[k] or 0.0
                mv = qty_f[k] * px * mult[k]
                exposure += abs(mv)
                value += mv if notional[k] else qty_f[k] * (px - avg_f[k]) * mult[k]
            eq_ts[g] = t
            eq[g] = value
            gross[g] = exposure

        if n_sym == 1:  # the lean path: one symbol, one bar per timestamp (so timestamp group g is bar g)
            s0 = series[0]
            name, sec = names[0], secs[0]
            dt = float(step[0])  # a float: ``t + dt`` then needs no int conversion (same sum)
            m0, notional0 = mult[0], notional[0]
            route = routes[0]
            # the one strategy's command queue (the deque itself: never replaced), else any strategy's
            pending = inst0.commands if inst0 is not None else _Waiting(busy)
            # The equity curve is computed after each chunk, in numpy: cash and the position
            # change only when a fill is booked, which happens in ``match`` or ``settle`` (a bar
            # broker fills in ``match``: orders sent during a bar arrive at the next one). So the
            # loop notes the state after each of those calls, and each bar's sample is computed
            # from the state in force at its close, with the same float operations as ``sample``
            # (so the same figures; a flat position adds exactly 0.0).
            tracker0 = trackers[0]
            done = 0
            # When the route's one strategy runs inline, its bar hook is called here directly
            # (``InlineWorker.bar_hook``: no call in between, a million times), keeping
            # ``put_bar``'s word: the hook's exception is reported as a failure, and wherever
            # the strategy may have stopped (a failed fill or timer hook, a ``ctx.stop`` carried
            # out when settling) the loop goes back to ``route.deliver``.
            direct = route.inline_worker()
            hook = direct.bar_hook if direct is not None else None
            deliver = hook or route.deliver
            for c_ts, c_open, c_high, c_low, c_close, c_volume in _chunks(s0):
                # (the open time of the first bar it holds for, cash, qty, avg): open times, not
                # indices, so the loop needs no counter; they are looked up after the chunk
                state = [(float(c_ts[0]), cash, qty_f[0], avg_f[0])]
                # the chunk's bars, built by ``map`` (no Python-level call per bar)
                bars = map(
                    Bar, repeat(name), c_ts.tolist(), c_open.tolist(), c_high.tolist(), c_low.tolist(),
                    c_close.tolist(), c_volume.tolist(), repeat(sec),
                )
                for bar in bars:
                    t = bar.ts
                    if by_symbol:
                        clock.t = t
                        match(name, t, bar.open, bar.high, bar.low)
                        state.append((t, cash, qty_f[0], avg_f[0]))
                        if hook is not None and _let_go(direct, route, c_ts, t, False):  # (a fill's hook failed: not this bar)
                            hook, deliver = None, route.deliver
                    close_t = clock.t = t + dt
                    try:
                        deliver(bar)
                    except Exception as exc:  # (only the hook itself raises: ``put_bar`` reports its own)
                        direct.failed(exc)
                        _let_go(direct, route, c_ts, t, True)
                        hook, deliver = None, route.deliver
                    if close_t >= runner.timer_due:  # strategies' timers run on the simulated clock
                        runner.fire_timers(close_t)
                        if hook is not None and _let_go(direct, route, c_ts, t, True):  # (a timer's hook failed)
                            hook, deliver = None, route.deliver
                    if follow_ups or pending:
                        last[0] = bar.close  # (the last close: read only while settling, so set only then)
                        await settle()
                        state.append((t, cash, qty_f[0], avg_f[0]))
                        if hook is not None and _let_go(direct, route, c_ts, t, True):
                            hook, deliver = None, route.deliver
                    if close_t >= mark_next:
                        mark_next = (math.floor(close_t / 86_400) + 1) * 86_400.0  # a float: compared with every bar
                        last[0] = bar.close
                        await settle(refresh=True)
                        state.append((t, cash, qty_f[0], avg_f[0]))
                        if hook is not None and _let_go(direct, route, c_ts, t, True):
                            hook, deliver = None, route.deliver
                if hook is not None:
                    direct.count(len(c_ts))
                n = len(c_ts)
                last[0] = float(c_close[n - 1])  # the chunk's last close
                opens, cash_s, qty_s, avg_s = (np.array(col) for col in zip(*state, strict=True))
                starts = np.searchsorted(c_ts, opens)  # (exact: the open times are the column's own)
                runs = np.diff(starts, append=n)  # bars each state holds for (0 for one replaced in its bar)
                cash_b, qty_b = np.repeat(cash_s, runs), np.repeat(qty_s, runs)
                mv = qty_b * c_close * m0
                curve.add(
                    c_ts + dt,  # the bars' closes: the same sums as ``close_t``
                    cash_b + (mv if notional0 else qty_b * (c_close - np.repeat(avg_s, runs)) * m0),
                    np.abs(mv),
                )
                tracker0.add(c_ts, c_open, c_close)
                done += n
                if progress is not None:
                    progress(done, total)
            total = done
        else:
            for lo in range(0, total, CHUNK):
                hi = min(lo + CHUNK, total)
                syms = sym_all[lo:hi]
                rows = row_all[lo:hi]
                pick = [np.empty(hi - lo) for _ in range(5)]
                for k, s in enumerate(series):
                    mask = syms == k
                    r = rows[mask]
                    for col, src in zip(pick, (s.open, s.high, s.low, s.close, s.volume), strict=True):
                        col[mask] = src[r]
                cols = zip(syms.tolist(), ts_all[lo:hi].tolist(), *(c.tolist() for c in pick), strict=True)
                group: list[tuple[int, float, float, float, float, float, float]] = []
                for row in [*cols, None]:
                    if group and (row is None or row[1] != group[0][1]):
                        # one timestamp: match at the bars' open first, then hand the bars out
                        if by_symbol:
                            clock.t = group[0][1]
                            for k, t, o, h, lo_, _c, _v in group:
                                if names[k] in by_symbol:
                                    match(names[k], t, o, h, lo_)
                        close_t = group[0][1]
                        for k, t, o, h, lo_, c, v in group:
                            close_t = max(close_t, t + step[k])
                            clock.t = close_t
                            last[k] = c
                            routes[k].deliver(Bar(names[k], t, o, h, lo_, c, v, secs[k]))
                        if close_t >= runner.timer_due:  # strategies' timers run on the simulated clock
                            runner.fire_timers(close_t)
                        if busy():
                            await settle()
                        if close_t >= mark_next:
                            mark_next = (math.floor(close_t / 86_400) + 1) * 86_400.0  # a float: compared with every bar
                            await settle(refresh=True)
                        g += 1
                        sample(g, close_t)
                        group = []
                    if row is not None:
                        group.append(row)
                if progress is not None:
                    progress(hi, total)
            curve.add(eq_ts[: g + 1], eq[: g + 1], gross[: g + 1])
            for tracker, s in zip(trackers, series, strict=True):
                tracker.add(s.ts, s.open, s.close)

        await runner.stop_all(cancel_orders=True)
        await settle(refresh=True)
        for k in range(n_sym):
            if last[k] is not None:
                portfolio.mark(names[k], last[k])
        final = portfolio.equity()
        journal.set_meta("final_equity", str(final))
        strategies = {
            inst.name: {
                "plugin": inst.plugin, "params": {k: str(v) for k, v in inst.params.items()},
                "symbols": list(inst.symbols), "state": inst.state.value, "error": inst.error,
            }
            for inst in runner.instances.values()
        }
        runner.detach()
        for o in oms.orders.values():  # (the orders still held; forgotten ones noted theirs when they ended)
            a = broker.arrivals.get(o.client_id)
            if a is not None:
                arrivals[o.id] = a
        arrivals = dict(sorted(arrivals.items(), key=lambda kv: int(kv[0])))
        # the first price each order met at the broker, for execution-quality reports read from the journal
        journal.append("arrivals", {k: str(v) for k, v in arrivals.items()}, clock.time())
        order_count, fill_count = journal.counts()
        kept_orders = sorted(oms.orders.values(), key=lambda o: int(o.id)) if len(oms.orders) == order_count else None
        journal.close()  # (the last batch written and the log checkpointed: part of the run's time)
        return BacktestResult(
            curve=curve.finish(float(final)), prices={t.symbol: t.finish() for t in trackers},
            initial_cash=cfg.cash, final_equity=final, cash=portfolio.cash_base(),
            positions={p.symbol: p.qty for p in portfolio.positions()},
            instruments=self.instruments, arrivals=arrivals, strategies=strategies, spikes=self.spikes,
            bars=total, elapsed=(perf_ns() - began) / 1e9, journal_path=self.journal_path,
            fill_count=fill_count, order_count=order_count, series=[s for s in series if isinstance(s, BarSeries)],
            refused=list(runner.refused), kept_fills=fills, kept_orders=kept_orders, kept_decisions=decisions,
            fill_model=cfg.fill_model.describe(), model_costs=broker.costs.as_dict() if model is not None else {},
        )

    def _model_inputs(self) -> dict[str, ModelInputs]:
        """Each series' per-bar inputs to the fill model (intraday NYSE bars: with their sessions),
        computed over the warm-up bars before the run too (so the first days have a daily vol)."""
        from workstation.core import sessions

        out: dict[str, ModelInputs] = {}
        quotes = self.config.fill_model.quotes or {}  # (the spread model's quotes, per symbol)
        for s in self.series:
            spans = None
            if s.seconds < 86_400 and len(s):
                try:
                    venue = sessions.venue_of(self.instruments[s.symbol])
                except (ModelError, ValueError):
                    venue = None
                if venue == "XNYS":
                    spans = sessions.regular_sessions(venue, float(s.ts[0]), float(s.ts[-1]) + s.seconds)
            cols = [s.ts, s.high, s.low, s.close, s.volume]
            w = self.warmup.get(s.symbol)
            if w is not None and w.seconds == s.seconds and len(w) and w.ts[-1] < s.ts[0]:  # the figures start warm
                cols = [np.concatenate([a, b]) for a, b in zip((w.ts, w.high, w.low, w.close, w.volume), cols, strict=True)]
            out[s.symbol] = ModelInputs.of(*cols, session_spans=spans, quotes=quotes.get(s.symbol))
        return out


def _chunks(s: BarSeries | StreamedSeries) -> Iterator[tuple[np.ndarray, ...]]:
    """A series' columns (ts, open, high, low, close, volume) ``CHUNK`` rows at a time."""
    if isinstance(s, StreamedSeries):
        for cols in s.chunks():
            for lo in range(0, len(cols[0]), CHUNK):
                yield tuple(c[lo : lo + CHUNK] for c in cols)
        return
    for lo in range(0, len(s), CHUNK):
        hi = lo + CHUNK
        yield s.ts[lo:hi], s.open[lo:hi], s.high[lo:hi], s.low[lo:hi], s.close[lo:hi], s.volume[lo:hi]


def _let_go(worker: Any, route: Any, ts: np.ndarray, t: float, including: bool) -> bool:
    """Whether a replay calling ``worker``'s bar hook directly must stop doing so (the worker
    stopped, or the route no longer hands its bars to that running worker alone); if so, the
    worker is told how many of the chunk's bars (open times ``ts``) it was handed: those before
    the bar opening at ``t``, or up to it ``including`` it."""
    if worker.alive and route.inline_worker() is worker:
        return False
    worker.count(int(np.searchsorted(ts, t, "right" if including else "left")))
    return True


def _bar_span(seconds: int) -> int:
    """Seconds from a bar's open to its close (a daily bar: the trading session)."""
    return seconds if seconds < 86_400 else SESSION


class _Waiting:
    """True while a strategy has commands waiting: the loop's test of one queue, for several."""

    __slots__ = ("_busy",)

    def __init__(self, busy: Callable[[], bool]) -> None:
        self._busy = busy

    def __bool__(self) -> bool:
        return self._busy()


@contextmanager
def _collector_for_a_run() -> Iterator[None]:
    """A replay allocates millions of short-lived objects and keeps every order and fill:
    the cyclic collector would rescan that growing heap (and everything loaded before the
    run) again and again. For the run, what exists is frozen out of its scans and the
    youngest generation is collected less often; both are restored afterwards."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def run_backtest(
    series: Sequence[BarSeries],
    strategies: Sequence[StrategySpec],
    config: BacktestConfig | None = None,
    *,
    journal_path: str | Path | None = None,
    warmup: Sequence[BarSeries] = (),
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Run a backtest to the end (synchronously, on its own event loop)."""
    bt = Backtest(series, strategies, config, journal_path=journal_path, warmup=warmup)
    return asyncio.run(bt.run(progress))


def backtest_journal_path(root: Path, started: float) -> Path:
    """Where a backtest keeps its session journal: ``<data>/backtests/<UTC time>.sqlite``."""
    stamp = datetime.fromtimestamp(started, tz=timezone.utc).strftime("%Y%m%dT%H%M%S%f")[:-3]
    path = root / "backtests" / f"{stamp}.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while path.exists():
        n += 1
        path = root / "backtests" / f"{stamp}-{n}.sqlite"
    return path


__all__ = [
    "Backtest", "BacktestConfig", "BacktestError", "BacktestResult", "BarSeries", "BatchJournal", "ReplayError",
    "StrategySpec", "attribution", "backtest_journal_path", "execution", "load_series", "metrics", "refusal_rule",
    "refusals", "run_backtest", "synthetic_series",
]


from workstation.research.figures import attribution, execution, metrics, refusal_rule, refusals  # noqa: E402  (re-exported)
