"""One engine session for one profile: the parts, wired together, and its start and stop.

``Session`` holds the parts (bus, quote cache, journal, portfolio, risk, order manager,
broker) as attributes; callers use the parts directly. Start-up rebuilds state from the
journal: orders come back into the order manager, fills (and futures' daily settlements,
in journal order) are replayed into the portfolio (which therefore matches an independent
recomputation), and working paper orders go back into the simulated market, which matches
them against the current quotes. On the paper account the owner then settles what came due
while no engine ran (expiries, daily settlements: ``workstation.trading.settlement``), once,
and keeps settling each second.

Only the process that owns the account (``workstation.serve.owner``) builds a writable session.
``Session.build(readonly=True)`` is a view for the read-only commands when no owner runs:
the journal opened read-only, a broker that quotes but refuses every order, no working
order put back into any market, nothing journaled, so it can neither fill nor write.

Why one module: it is the engine's wiring diagram. Every part is built elsewhere; this file
says which part hears which event, in what order at start-up, and what stops when. Split, the
order of subscriptions (which the replay and the risk monitors depend on) would be spread over
several files that must be read together anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from brokers.base import Broker, BrokerError, DepthFeed
from brokers.factory import create_broker
from workstation.alerts.engine import AlertEngine
from workstation.risk.breaker import CircuitBreaker, RiskMonitor, cancel_opening_orders, spawn_tracked
from workstation.core.bus import Bus
from workstation.core.clock import Clock, LiveClock
from workstation.core.config import Profile, Settings, data_dir
from workstation.risk.dataquality import DataQualityMonitor
from workstation.alerts.delivery import Dispatcher, channels_from
from workstation.core.journal import Journal
from workstation.risk.killswitch import KillSwitch
from workstation.core.limits import LimitError, LimitStore, day_start
from workstation.core.marketdata import QuoteCache
from workstation.core.model import Bar, ConnectionState, Fill, Instrument, OrderFilled, OrderStatus, OrderSubmitted, Quote
from workstation.trading.backfill import Backfiller, attach as attach_backfill
from workstation.trading.depth import DepthBooks
from workstation.trading.oms import OrderManager
from workstation.trading.portfolio import Portfolio
from workstation.trading.settlement import SOURCE as SETTLED
from workstation.trading.settlement import Settled, Settlement, market_prices
from workstation.trading.margin import MarginTable
from workstation.risk.checks import PreTradeRisk
from workstation.risk.compliance import Compliance
from workstation.risk.greek_limits import GreekLimits
from workstation.risk.portfolio_model import ReturnCache, load_portfolio_risk
from workstation.risk.var_limits import VarLimits, with_factors
from workstation.trading.greeks import BETA_BENCHMARK, GreekBook, load_betas
from workstation.core.sectors import SectorMap
from workstation.core.symbols import parse_symbol
from workstation.trading.taxlots import TaxLots

log = logging.getLogger(__name__)




def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


@dataclass
class Session:
    profile: Profile
    settings: Settings
    clock: Clock
    bus: Bus
    quotes: QuoteCache
    journal: Journal
    portfolio: Portfolio
    risk: PreTradeRisk
    oms: OrderManager
    broker: Broker
    data_dir: Path
    limits: LimitStore
    breaker: CircuitBreaker
    monitor: RiskMonitor
    killswitch: KillSwitch
    alerts: AlertEngine
    dispatcher: Dispatcher
    quality: DataQualityMonitor
    connection: ConnectionState | None = None
    _tasks: set[asyncio.Task[object]] = field(default_factory=set)
    _loop: asyncio.AbstractEventLoop | None = None
    _background: set[asyncio.Task[None]] = field(default_factory=set)
    _followed: int = 0  # the newest journal event this session has followed
    readonly: bool = False  # a view (no owner): quotes only, nothing sent, nothing written
    _priced: set[str] = field(default_factory=set)  # symbols the broker's feed prices for us
    _feeding: bool = False  # start() subscribed: new symbols are subscribed as orders name them
    account_every: float = 30.0  # seconds between refreshes of a broker's account figures
    _account_due: asyncio.Event = field(default_factory=asyncio.Event)  # a fill: refresh them now
    greeks: GreekBook | None = None  # the positions' Greeks (the Positions pane, the Greek limits)
    _betas_due: asyncio.Event = field(default_factory=asyncio.Event)  # a fill: measure a new underlying's beta now
    settlement: Settlement | None = None  # the paper account's expiries and daily settlements (owner only)
    var_limits: VarLimits | None = None  # the VaR and stress-loss limits (workstation.risk.var_limits)
    returns: ReturnCache = field(default_factory=ReturnCache)  # daily returns and covariance of the held factors
    var_every: float = 60.0  # seconds between VaR measurements while a VaR or stress limit is set
    _var_due: asyncio.Event = field(default_factory=asyncio.Event)  # a fill, a limit change: measure now
    _stopping: bool = False  # stop() began: the background loops end (a cancel can be lost, see _wait_due)
    depth: DepthBooks | None = None  # books and tapes of watched symbols (a broker with depth only)
    backfill: Backfiller | None = None  # the feed's 60 s bars (.bars), gaps filled from the broker's history

    @classmethod
    def build(
        cls,
        settings: Settings,
        profile_name: str | None = None,
        *,
        data_root: str | Path | None = None,
        clock: Clock | None = None,
        broker: Broker | None = None,
        journal_path: Path | None = None,
        stop_strategies: Callable[[], Awaitable[object] | object] | None = None,
        readonly: bool = False,
    ) -> Session:
        profile = settings.profile(profile_name)
        clock = clock or LiveClock()
        root = data_dir(data_root) / profile.name
        path = journal_path or root / "journal.sqlite"
        journal = Journal(path, readonly=True) if readonly else Journal(path, synchronous=profile.journal_sync)
        now = clock.time()
        created = float(journal.ensure_meta("created", repr(now)))
        initial = Decimal(journal.ensure_meta("initial_cash", str(profile.initial_cash)))
        prefix = journal.ensure_meta("client_prefix", f"ws{_base36(int(created * 1000))}")
        bus = Bus()
        quotes = QuoteCache(bus, profile.base_currency)
        broker = broker or create_broker(profile, clock)
        if readonly:
            broker = QuoteOnly(broker)
        oms_ref: list[OrderManager] = []

        def instrument(symbol: str) -> Instrument:
            # the order manager holds the broker's metadata once it has looked a symbol up
            return oms_ref[0].instrument_cached(symbol) if oms_ref else parse_symbol(symbol)

        portfolio = Portfolio(
            base_currency=profile.base_currency, initial_cash=initial, instrument=instrument,
            rate=quotes.rate, margin=profile.account_type == "margin", leverage=profile.leverage,
            margins=MarginTable(profile.margins),
        )
        for amount, currency, _reason in journal.cash_entries():
            portfolio.adjust_cash(amount, currency)
        limits = LimitStore(profile.risk, profile.strategy_risk)
        for _seq, _ts, _kind, _ref, data in journal.events("risk.set"):
            try:
                limits.set(data["name"], data["value"], data.get("strategy"))
            except (LimitError, KeyError) as exc:  # written by another version: skip it, say so
                log.warning("journaled risk change %s not applied: %s", data, exc)
        breaker = CircuitBreaker(journal, bus, clock)
        lots = TaxLots()

        def last_price(symbol: str) -> Decimal | None:
            return quotes.last(symbol) or portfolio.last(symbol)

        risk = PreTradeRisk(
            portfolio, limits, working_orders=lambda: oms_ref[0].working() if oms_ref else [], last_price=last_price,
            now=clock.time, sectors=SectorMap(settings.sectors), lots=lots, breaker_reason=breaker.reason,
        )
        compliance = Compliance(risk=risk, store=limits, instrument=instrument)  # workstation.risk.compliance
        commission = getattr(broker, "estimate_commission", None)
        oms = OrderManager(
            bus=bus, journal=journal, portfolio=portfolio, broker=broker, clock=clock, risk=risk,
            quotes=quotes, client_prefix=prefix, commission=commission,
        )
        oms_ref.append(oms)
        for entry in journal.book_entries():  # fills and settlements, in the order they happened
            if isinstance(entry, Fill):
                portfolio.apply_fill(entry)
                lots.apply(entry, portfolio.position(entry.symbol).multiplier)
                compliance.record(entry)  # day trades, rebuilt from the journal
            elif entry.get("type") == "variation":  # (an expiry's fills did its work)
                portfolio.settle_variation(entry["symbol"], Decimal(entry["price"]), entry.get("booked"))
        recent = now - 86_400
        restored = [o for o in journal.orders() if not o.status.is_terminal or o.updated >= recent]
        oms.restore(restored)
        for order in sorted(restored, key=lambda o: o.created):
            if order.status is not OrderStatus.NEW and order.source != SETTLED:  # refused orders count toward the rate too
                risk.rate.record(order.created, day_start(order.created, limits.limits))
        quality = DataQualityMonitor(quotes.on_quote, bus, clock, settings.data_quality)
        monitor = RiskMonitor(
            portfolio=portfolio, store=limits, breaker=breaker, risk=risk, journal=journal, bus=bus, clock=clock,
            filtered=quality.filtered,
        )
        greeks = GreekBook(
            instrument=instrument, now=clock.time, last=portfolio.last,
            quote=lambda symbol: quotes.get(symbol) or broker.snapshot(symbol),  # an order's legs need not be subscribed
            positions=lambda: [(p.symbol, p.qty) for p in portfolio.positions()],
            dividends=getattr(broker, "dividend_yield", None),  # the paper market's yields; real brokers: none known
        )
        greek_limits = GreekLimits(greeks, limits)
        oms.add_check(greek_limits)
        var_limits = VarLimits(store=limits, greeks=greeks, portfolio=portfolio, bus=bus, clock=clock, trip=breaker.trip)
        oms.add_check(var_limits)
        oms.add_check(compliance)
        monitor.more_breaches = var_limits.breaches  # the breaker is not reset while VaR is over its limit
        monitor.more_rows = compliance.rows  # (in `status` too)
        risk.rows_source = lambda: (*monitor.status().rows, *greek_limits.rows(), *var_limits.rows())
        killswitch = KillSwitch(
            oms=oms, portfolio=portfolio, breaker=breaker, journal=journal, bus=bus, clock=clock,
            stop_strategies=stop_strategies,
        )
        channels = channels_from(settings.alerts.channels)  # with their quiet hours
        dispatcher = Dispatcher(
            channels, bell=settings.alerts.bell, retries=settings.alerts.retries, retry_delay=settings.alerts.retry_delay,
            now=clock.time,
        )
        alerts = AlertEngine(bus=bus, journal=journal, clock=clock, settings=settings.alerts, dispatcher=dispatcher)
        session = cls(
            profile=profile, settings=settings, clock=clock, bus=bus, quotes=quotes, journal=journal,
            portfolio=portfolio, risk=risk, oms=oms, broker=broker, data_dir=root, limits=limits, breaker=breaker,
            monitor=monitor, killswitch=killswitch, alerts=alerts, dispatcher=dispatcher, quality=quality,
            readonly=readonly, greeks=greeks, var_limits=var_limits,
        )
        var_limits.on_wanted = session._var_due.set
        monitor.readonly = readonly
        prices = None if readonly or broker.keeps_account else market_prices(broker)
        if prices is not None:  # the paper account: expiries and daily settlements are ours to book
            session.settlement = Settlement(
                portfolio=portfolio, journal=journal, bus=bus, clock=clock, prices=prices, instrument=instrument,
                client_prefix=prefix, settings=settings.settlement, announce=alerts.raise_once, keep_orders=oms.restore,
            )
        alerts.pnl = session._pnl
        if isinstance(broker, DepthFeed):  # books and tapes, conflated views on the bus
            session.depth = DepthBooks(
                bus, clock, interval=settings.depth.interval, feed=broker, on_state=quality.on_book_state,
            )
            broker.attach_depth(session.depth.on_book, session.depth.on_trade)
        session._followed = journal.last_seq()
        bus.subscribe(Quote, portfolio.on_quote)
        bus.subscribe(Bar, quality.on_bar)
        if readonly:  # no breaker trips, no alerts: a view journals nothing
            broker.attach(oms.on_report, quality.on_quote, session._on_state)
            return session
        bus.subscribe(Quote, monitor.on_quote)
        session.backfill = attach_backfill(bus, clock, quality, broker.history, session._spawn)
        bus.subscribe(OrderFilled, lambda e: lots.apply(e.fill, portfolio.position(e.fill.symbol).multiplier))
        bus.subscribe(OrderFilled, lambda e: compliance.record(e.fill))
        bus.subscribe(OrderFilled, monitor.on_fill)
        bus.subscribe(OrderSubmitted, lambda e: risk.record_sent(e.order))
        # a symbol with a working order or a position is priced for as long as it has one,
        # whatever the watchlist says (P&L, exposure and the risk checks read its quotes)
        bus.subscribe(OrderSubmitted, lambda e: [session.keep_priced(s) for s in ([leg.symbol for leg in e.order.legs] or [e.order.symbol])])
        bus.subscribe(OrderFilled, lambda e: session.keep_priced(e.fill.symbol))
        bus.subscribe(OrderFilled, lambda e: [session.keep_priced(u) for u in greeks.underlyings([e.fill.symbol])])
        bus.subscribe(OrderFilled, lambda e: session._betas_due.set())
        bus.subscribe(OrderFilled, lambda e: session._var_due.set())
        if broker.keeps_account:  # the broker's buying power and margin move with every fill
            bus.subscribe(OrderFilled, lambda e: session._account_due.set())
        alerts.attach()
        breaker.on_trip.append(
            lambda reason: session._spawn(cancel_opening_orders(
                oms.working, portfolio, lambda order_id: oms.cancel(order_id, reason=f"circuit breaker: {reason}"),
            ))
        )
        broker.attach(oms.on_report, quality.on_quote, session._on_state)
        return session

    def _pnl(self, symbol: str | None) -> Decimal | None:
        """For P&L alert rules: a position's P&L (unrealized + realized), or the account's day P&L."""
        if symbol is None:
            return self.monitor.measures()["day_pnl"]
        pos = self.portfolio.position(symbol)
        return self.portfolio.to_base(self.portfolio.unrealized(symbol) + pos.realized_pnl, pos.currency)

    def set_limit(self, name: str, value: object, strategy: str | None = None) -> None:
        """Change one risk limit now (the Risk pane, `main.py risk set`): validated, journaled, in force."""
        self.limits.set(name, value, strategy)
        self.journal.append("risk.set", {"name": name, "value": str(value), "strategy": strategy}, self.clock.time())
        self._var_due.set()
        self.monitor.evaluate()
        self.monitor.publish_status()

    def reset_breaker(self, *, confirmed: bool, who: str = "user") -> None:
        """Reset a tripped circuit breaker (refused while the breach persists); journaled."""
        self.monitor.reset_breaker(confirmed=confirmed, who=who)

    async def kill(self, reason: str = "kill switch", who: str = "user"):  # -> KillReport
        """Cancel every working order, flatten every position, stop every strategy, trip the breaker."""
        return await self.killswitch.engage(reason, who)

    def _on_delivery_problem(self, label: str, problem: str, recovered: bool) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.alerts.channel_problem, label, problem, recovered)

    async def _sweep_quality(self) -> None:
        period = max(1.0, self.settings.data_quality.stale_after / 4)
        while True:
            await asyncio.sleep(period)
            self.quality.sweep()

    _FOLLOWED = ("risk.set", "risk.breaker", "alert.rule", "alert.ack")

    def follow_journal(self) -> int:
        """Apply risk changes, breaker trips and resets, alert rules and acknowledgements that
        another process (``main.py risk set``, ``kill``, ``alert add``...) wrote to this journal.
        Each is idempotent, so this session's own events do no harm. Returns how many were read."""
        events = self.journal.events_after(self._followed, self._FOLLOWED)
        breaker = None
        for seq, ts, kind, _ref, data in events:
            self._followed = seq
            if kind == "risk.set":
                try:
                    self.limits.set(data["name"], data["value"], data.get("strategy"))
                    self._var_due.set()
                except (LimitError, KeyError) as exc:
                    log.warning("journaled risk change %s not applied: %s", data, exc)
            elif kind == "risk.breaker":
                breaker = (data, ts)  # only the newest state matters
            else:
                self.alerts.follow(kind, data)
        if breaker is not None:
            self.breaker.follow(*breaker)
        return len(events)

    async def _follow(self, every: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every)
            self.follow_journal()

    async def _wait_due(self, due: asyncio.Event, every: float) -> None:
        """Until ``due`` is set or ``every`` seconds pass. On Python 3.11 ``asyncio.wait_for`` can
        lose a cancel that arrives as the event is set; the loops that call this also end on
        ``_stopping``, so a lost cancel never leaves one running after ``stop``."""
        try:
            await asyncio.wait_for(due.wait(), every)
        except TimeoutError:
            pass

    async def _keep_betas(self, every: float = 120.0) -> None:
        """Each held underlying's beta to SPY from the broker's daily bars (the beta-weighted delta)."""
        while not self._stopping:
            self._betas_due.clear()
            if self.greeks is not None:
                await load_betas(self.greeks, self.broker.history, self.greeks.groups(self.held_symbols()))
            await self._wait_due(self._betas_due, every)

    async def refresh_var(self) -> None:
        """Measure the book's VaR and stress losses now and hold them against their limits."""
        from workstation.risk.replays import stress_results

        vl, book = self.var_limits, self.greeks
        if vl is None or book is None:
            return
        now = self.clock.time()
        inputs = await load_portfolio_risk(
            self.portfolio, self.oms.instrument_cached, book, self.broker.history, now,
            sectors=SectorMap(self.settings.sectors), cache=self.returns,
        )
        inputs = await with_factors(inputs, sorted(vl.wanted), self.broker.history, now, cache=self.returns)
        vl.update(inputs, await stress_results(self, cache=self.returns))  # scenarios and configured replays
        vl.evaluate()

    async def _keep_var(self) -> None:
        """The VaR and the worst stress loss, measured after fills, limit changes and every
        ``var_every`` seconds, only while a VaR or stress-loss limit is set."""
        while not self._stopping:
            self._var_due.clear()
            if self.var_limits is not None and self.var_limits.active():
                try:
                    await self.refresh_var()
                except Exception:  # a model or adapter surprise must not end the loop: the last figures stay
                    log.exception("VaR not measured")
            await self._wait_due(self._var_due, self.var_every)

    async def _publish_risk(self, every: float = 1.0) -> None:
        """A ``RiskStatus`` on the bus every second, for the Risk pane (also after fills and changes)."""
        while True:
            await asyncio.sleep(every)
            self.monitor.publish_status()

    def _on_state(self, state: ConnectionState) -> None:
        previous = self.connection
        self.connection = state
        self.bus.publish(state)
        # back from a drop (not the first connect: start() resyncs that one itself)
        if state.state == "connected" and previous is not None and previous.state in ("reconnecting", "disconnected"):
            self._spawn(self.resync())

    async def resync(self) -> list[str]:
        """Reconcile orders, fills and positions with the broker (see workstation.trading.reconcile)."""
        from workstation.trading.reconcile import resync

        return await resync(
            broker=self.broker, oms=self.oms, portfolio=self.portfolio, journal=self.journal,
            clock=self.clock, bus=self.bus,
        )

    async def _keep_account(self) -> None:
        """The broker's account figures (buying power, margin, day trades), asked again after
        fills and every ``account_every`` seconds."""
        from workstation.trading.reconcile import refresh_account

        while not self._stopping:
            await self._wait_due(self._account_due, self.account_every)
            self._account_due.clear()
            try:
                await refresh_account(broker=self.broker, portfolio=self.portfolio, clock=self.clock)
            except Exception as exc:  # an adapter's surprise must not end the refreshes: keep the last figures
                log.warning("account figures from %s not refreshed: %s", self.broker.name, exc)

    def settle(self, *, start: bool = False) -> list[Settled]:
        """Settle the paper account's expiries and daily settlements due now (see
        ``workstation.trading.settlement``); at start also what an earlier engine left."""
        if self.settlement is None:
            return []
        done = self.settlement.start() if start else self.settlement.run()
        if not start:
            self.settlement.warn()
        if done:
            self.monitor.evaluate()
        return done

    async def _settle_loop(self, every: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                self.settle()
            except Exception:  # one bad settlement must not end the loop: logged, tried again
                log.exception("settlement failed")

    def held_symbols(self) -> list[str]:
        """Every held symbol, and what the positions' Greeks need priced: the underlyings of held
        options, and SPY (the beta-weighted delta)."""
        held = [p.symbol for p in self.portfolio.positions()]
        if self.greeks is None or not held:
            return held
        return list(dict.fromkeys([*held, *self.greeks.underlyings(held), BETA_BENCHMARK]))

    async def start(self, symbols: list[str] | tuple[str, ...] = (), *, feed: bool = True) -> None:
        """Connect the broker, put working orders back in the market, mark positions."""
        self._loop = asyncio.get_running_loop()
        if self.readonly:
            await self._start_view(symbols, feed)
            return
        self.dispatcher.report = self._on_delivery_problem
        self.dispatcher.start()
        if feed or self.broker.keeps_account:
            await self.broker.connect()
        if feed:
            self._spawn_background(self._sweep_quality())
            self._spawn_background(self._publish_risk())
            self._spawn_background(self._follow())
            self._spawn_background(self._keep_betas())
            self._spawn_background(self._keep_var())
        working = [o for o in self.oms.working() if o.status is not OrderStatus.NEW]
        restore = getattr(self.broker, "restore", None)
        if restore is not None and working:
            restore(working)  # before the resync: a broker learns where to look for their fills
        if self.broker.keeps_account:
            await self.resync()
            self._spawn_background(self._keep_account())
        if self.settlement is not None:  # what came due while no engine ran, once, oldest first
            self.settle(start=True)
            if feed:
                self._spawn_background(self._settle_loop())
        await self._quote(symbols, subscribe=True)
        self.monitor.evaluate()
        await self.drain()

    async def _start_view(self, symbols: list[str] | tuple[str, ...], feed: bool) -> None:
        """A read-only view: quotes for the symbols and the held ones, nothing else."""
        if feed:
            await self.broker.connect()
            self._spawn_background(self._sweep_quality())
        await self._quote(symbols, subscribe=feed)

    async def _quote(self, symbols: list[str] | tuple[str, ...], *, subscribe: bool) -> None:
        """The symbols, every held one and the FX pairs their currencies need: a snapshot
        quote for each now, and (``subscribe``) the broker's feed for them."""
        wanted = list(dict.fromkeys([*symbols, *self.held_symbols()]))
        await self._price([s for s in wanted if s not in self._priced], subscribe=subscribe)
        self._feeding = subscribe

    async def _price(self, symbols: list[str], *, subscribe: bool) -> None:
        """A snapshot quote for each symbol and the FX pairs their currencies need, and
        (``subscribe``) the broker's feed for them."""
        currencies = {self.oms.instrument_cached(s).currency for s in symbols}
        wanted = list(symbols)
        wanted += [s for s in self.quotes.fx_symbols(currencies) if s not in wanted and s not in self._priced]
        for sym in wanted:
            snap = self.broker.snapshot(sym)
            if snap is not None:
                self.quotes.on_quote(snap)
        if wanted and subscribe:
            self._priced.update(wanted)
            await self.broker.subscribe(wanted)

    def keep_priced(self, symbol: str) -> None:
        """Subscribe ``symbol`` (and the FX pair its currency needs) if nothing does yet."""
        if not self._feeding or symbol in self._priced or self._loop is None:
            return
        self._priced.add(symbol)  # at once: a burst of orders for one symbol subscribes it once
        self._spawn_background(self._price([symbol], subscribe=True))

    async def watch_depth(self, symbols: list[str], levels: int = 20) -> None:
        """Books and tapes for ``symbols`` (``levels`` each side): the broker's depth and trades
        subscribed once per symbol (again only to change the levels). BrokerError from the broker."""
        books = self.depth
        if books is None:
            raise BrokerError(f"{symbols[0] if symbols else 'depth'}: this broker sends no market depth")
        if not books.started:
            books.started = True
            self._spawn_background(books.run())
        new = [s for s in symbols if books.levels(s) is None]
        changed = [s for s in symbols if books.levels(s) not in (None, levels)]
        for sym in symbols:
            books.watch(sym, levels)
        try:
            if new or changed:
                await self.broker.subscribe_depth([*new, *changed], levels)  # type: ignore[attr-defined]
            if new:
                await self.broker.subscribe_trades(new)  # type: ignore[attr-defined]
        except Exception:
            for sym in new:  # refused: nothing is watched
                books.unwatch(sym)
            raise

    async def unwatch_depth(self, symbols: list[str]) -> None:
        """Stop the books and tapes of ``symbols`` (those not watched are ignored)."""
        books = self.depth
        gone = [s for s in symbols if books is not None and books.unwatch(s)]
        if gone:
            await self.broker.unsubscribe_depth(gone)  # type: ignore[attr-defined]
            await self.broker.unsubscribe_trades(gone)  # type: ignore[attr-defined]

    async def drain(self) -> None:
        """Wait for follow-up work: bracket children, OCO cancels, breaker cancels."""
        await self.oms.drain()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            await self.oms.drain()

    def _spawn(self, coro) -> None:
        """Follow-up work that ``drain`` waits for (resync, breaker cancels)."""
        spawn_tracked(self._tasks, coro)

    def _spawn_background(self, coro) -> None:
        """A loop that runs until ``stop`` (the stale-data sweep, the risk status, following the journal)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def stop(self) -> None:
        self._stopping = True
        background = list(self._background)
        for task in background:
            task.cancel()
        if background:  # each loop ends (a lost cancel included: they check _stopping) before the broker closes
            await asyncio.wait(background, timeout=5.0)
        if self.depth is not None:
            await self.depth.close()
        self.oms.close()
        try:
            await asyncio.wait_for(self.drain(), timeout=10.0)
        except TimeoutError:
            for task in list(self._tasks):
                task.cancel()
        if not self.readonly:
            self.monitor.flush()
        self.alerts.detach()
        await self.broker.close()
        if not self.readonly:
            await asyncio.to_thread(self.dispatcher.stop)
        self.journal.close()


class QuoteOnly:
    """A broker seen through a read-only view: it quotes, it refuses every order."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self.keeps_account = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._broker, name)

    def _refuse(self) -> None:
        raise BrokerError("this is a read-only view of the account: orders go through its owner")

    async def submit(self, order: object) -> None:
        self._refuse()

    async def cancel(self, order: object) -> None:
        self._refuse()

    async def replace(self, *args: object, **kwargs: object) -> None:
        self._refuse()

    def restore(self, orders: list[object]) -> None:
        if orders:
            self._refuse()
