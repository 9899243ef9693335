"""The engine as a face sees it: intents in, events out (headless, no Textual).

``EngineAPI`` is everything the workstation may ask of the engine and everything it may
hear back. The workstation talks to nothing else: not to a broker, not to the parts of a
``Session``. ``LocalEngine`` implements it over an in-process ``Session`` on the same
event loop; a later version puts a socket between the two without the UI noticing.

Events delivered to ``subscribe`` handlers are the engine's own types: ``Quote``, the
order events (``OrderSubmitted`` ... ``OrderFilled``, whose ``fill`` is the execution),
``AlertRaised``, ``ConnectionState``, plus ``AccountSnapshot`` after every fill, and for symbols
under ``watch_depth`` ``BookView`` (conflated per symbol) and ``TradePrint``. They are
delivered synchronously on the engine's loop, so a handler must only store them.
Intents that cannot be carried out raise ``IntentError`` with one readable line.

Why one module: it is the one contract between the engine and every face. The protocol,
the documents it returns (snapshots, position and risk rows) and ``LocalEngine``, which
fills them from a ``Session``, change together; split, a field added to a document would
have to be found in three places.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from workstation.core.alert_rules import RuleStatus
from workstation.core.book import BookView, TradePrint
from workstation.risk.breaker import BreakerChanged
from workstation.risk.dataquality import QualityChanged
from workstation.trading.greek_types import GreekTotals, row_fields
from workstation.core.model import (  # IntentError is re-exported: faces catch it from here
    ZERO,
    Account,
    AlertRaised,
    Bar,
    ConnectionState,
    Instrument,
    IntentError,
    ModelError,
    Order,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    OrderType,
    Quote,
    Side,
)

if TYPE_CHECKING:
    from workstation.core.chain import OptionChain
    from workstation.risk.report_doc import PortfolioReport
    from workstation.trading.oms import Review
    from workstation.trading.session import Session
    from workstation.strategies.desk import StrategyDesk


class EngineInfo(msgspec.Struct, frozen=True, kw_only=True):
    profile: str
    live: bool
    broker: str
    currency: str


class PositionRow(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    qty: Decimal
    avg_price: Decimal
    last: Decimal | None
    market_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    pct_of_equity: Decimal
    currency: str
    realized_today: Decimal = ZERO  # realized since the risk engine's trading day began
    closed: bool = False  # flat now, traded today: kept so its P&L does not vanish
    # Greeks in money terms (workstation.trading.greeks); None: unknown (shown blank, not 0)
    delta: float | None = None  # in shares of the underlying
    dollar_delta: float | None = None
    gamma: float | None = None  # shares of delta per $1 move
    dollar_gamma: float | None = None  # dollar delta per 1% move
    theta: float | None = None  # per day
    vega: float | None = None  # per vol point
    iv: float | None = None  # an option's implied volatility


class PositionTotals(msgspec.Struct, frozen=True, kw_only=True):
    """The Positions pane's total line, in the base currency."""

    unrealized: Decimal
    realized_today: Decimal
    gross_exposure: Decimal
    net_exposure: Decimal


class RiskRow(msgspec.Struct, frozen=True, kw_only=True):
    """One line of risk state: what is used against which limit (``limit`` None: no limit)."""

    name: str
    used: Decimal | None  # None: a limit with nothing to measure against it (a per-order cap)
    limit: Decimal | None = None
    unit: str = "$"  # "$", "%", "qty", "orders"
    state: str = "off"  # "ok", "near", "breach", "off" (no limit set)
    detail: str = ""

    @property
    def breached(self) -> bool:
        return self.state == "breach"


class AccountSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    ts: float
    account: Account
    positions: tuple[PositionRow, ...]
    risk: tuple[RiskRow, ...]
    day_pnl: Decimal
    market_open: bool | None  # None: the broker does not say
    market_session: str | None = None  # the main venue's: "pre", "regular", "post", "closed"; None: unknown
    breaker: str | None = None  # why the circuit breaker is tripped; None: it is not
    trading_halted: bool = False  # the trading_halted risk limit is on
    closed_today: tuple[PositionRow, ...] = ()  # flat positions traded this trading day (qty 0)
    totals: PositionTotals | None = None
    greeks: tuple[GreekTotals, ...] = ()  # one per underlying, then the account's (underlying None)


EngineEvent = Quote | OrderEvent | AlertRaised | ConnectionState | AccountSnapshot | QualityChanged | BookView | TradePrint
Handler = Callable[[object], None]


class EngineAPI(Protocol):
    """What a face may ask of the engine. Reads are cheap; intents are coroutines."""

    strategies: StrategyDesk
    """Strategy instances: ``rows()``, ``params(name)``, ``check_params``; start/stop/pause/set_params."""

    @property
    def info(self) -> EngineInfo: ...

    def time(self) -> float:
        """The engine's clock (epoch seconds): live, or simulated in tests and replays."""

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Deliver every engine event to ``handler``; returns the unsubscribe function."""

    async def start(self, symbols: list[str]) -> None: ...

    async def stop(self) -> None: ...

    # -- reads
    def orders(self) -> list[Order]:
        """Working orders and today's finished ones, newest first (a working trailing stop's
        ``stop_price`` is where it would trigger now, when the broker says)."""

    def quote(self, symbol: str) -> Quote | None: ...

    def snapshot(self) -> AccountSnapshot: ...

    def connection(self) -> ConnectionState | None: ...

    def instrument(self, symbol: str) -> Instrument:
        """Tick, lot and multiplier for a symbol (IntentError for a malformed one)."""

    async def history(self, symbol: str, seconds: int, count: int) -> list[Bar]: ...

    async def option_chain(self, underlying: str, expiry: date | None = None, strikes: int | None = None) -> OptionChain:
        """The option chain of ``underlying`` for ``expiry`` (None: the nearest listed) with IV and
        Greeks, only the ``strikes`` strikes nearest the money (None: every listed one);
        IntentError (one line) for a bad symbol, an unlisted expiry or a broker without chains."""

    async def risk_report(
        self, methods: list[str] | None = None, lookback: int = 250, decay: float | None = None,
        replays: list[str] | None = None,
    ) -> PortfolioReport:
        """The portfolio's VaR and CVaR (``methods``: None for every one), decomposition,
        correlation, betas, stress scenarios and replays (``replays``: ad-hoc START..END windows) and
        heatmap tiles (``workstation.risk.report_doc``)
        from ``lookback`` days of returns (``decay``: EWMA lambda, None for equal weights);
        IntentError (one line) with no positions, too little history or bad arguments."""

    # -- intents
    async def review(self, request: OrderRequest) -> Review: ...

    async def submit(self, request: OrderRequest) -> Order: ...

    async def cancel(self, order_id: str) -> Order: ...

    async def cancel_all(self) -> list[Order]: ...

    async def replace(
        self, order_id: str, *, qty: Decimal | None = None, limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> Order: ...

    async def flatten(self, symbol: str | None) -> list[Order]:
        """Close one position (or all, canceling every working order first) at market."""

    async def watch(self, symbols: list[str]) -> None:
        """Receive quotes for these symbols too."""

    # -- market depth and the tape
    async def watch_depth(self, symbols: list[str], levels: int = 20) -> None:
        """Books and tapes for ``symbols``: from then ``BookView`` events (the best ``levels`` each
        side, conflated per symbol: at most one per ``[depth] interval``, the latest wins) and
        ``TradePrint`` events reach ``subscribe`` handlers. IntentError (one line) for a malformed
        symbol or a broker without depth ("AAPL: this broker sends no market depth")."""

    async def unwatch_depth(self, symbols: list[str]) -> None:
        """Stop the books and tapes of ``symbols``: no more views or prints for them."""

    def book(self, symbol: str) -> BookView | None:
        """The symbol's book now; None when it is not watched or no snapshot has come yet."""

    def tape(self, symbol: str, limit: int = 200) -> list[TradePrint]:
        """The symbol's latest ``limit`` prints, newest first (the engine keeps the last 1,000)."""

    # -- alerts kept by the engine (raised while nobody watched, too)
    def badges(self, symbol: str) -> tuple[str, ...]:
        """The data-quality badges of a symbol (crossed, locked, spike, gap, stale)."""
        return ()

    def alerts(self) -> list[AlertRaised]:
        """Recent alerts, oldest first."""

    def unread_alerts(self) -> int:
        """Alerts raised since somebody last read them."""

    async def ack_alerts(self) -> None:
        """The person has seen the alerts: unread goes to zero (for every attached face)."""

    async def kill(self, reason: str = "kill switch") -> dict[str, Any] | None:
        """The kill switch: cancel every working order, flatten every position, stop every
        strategy, trip the breaker. Returns the ``KillReport`` as plain data."""

    async def reset_breaker(self) -> str:
        """Reset a tripped breaker (IntentError while the breach persists); returns why it had tripped."""

    async def risk_set(self, name: str, value: str, strategy: str | None = None) -> str:
        """Change one limit now, journaled as ``main.py risk set`` does; returns the value as shown."""

    async def alert_rule(self, op: str, text: str) -> dict[str, str]:
        """``op`` "add" (``text`` a rule), "rm", "enable", "disable" (``text`` a rule id) or "edit"
        (``text`` "ID RULE"); returns ``{"id", "text"}``."""

    async def alert_rules(self) -> list[RuleStatus]:
        """Every alert rule with its statistics (times fired, last fired, suppressed), enabled or not."""

    async def alert_ack(self, ids: list[int] | None) -> list[int]:
        """Acknowledge these alerts (every unacknowledged one when None), journaled as ``main.py alert ack``."""


# --------------------------------------------------------------------------- local engine


class LocalEngine:
    """``EngineAPI`` over an in-process ``Session`` running on the caller's event loop."""

    def __init__(self, session: Session, *, source: str = "ui", strategies: list | tuple = (), config_path: object = None) -> None:
        from workstation.alerts.book import AlertBook
        from workstation.strategies.desk import StrategyDesk

        self._s = session
        self._source = source
        self._risk_cache: Any = None  # the risk report's ReturnCache, made on first use
        self.alert_book = AlertBook()
        self.strategies = StrategyDesk(session, list(strategies), config_path=config_path)
        """The strategy instances (``[[strategies]]`` in the settings): rows and start/stop/pause/edit."""
        self._handlers: list[Handler] = []
        self._unsubscribe: list[Callable[[], None]] = []
        self._depth_holders: dict[str, set[str]] = {}  # symbol -> who wants its book (watch_depth's holder)
        self._day_key = ""
        self._day_equity: Decimal | None = None
        self._info = EngineInfo(
            profile=session.profile.name, live=session.profile.live, broker=session.broker.name,
            currency=session.profile.base_currency,
        )
        bus = session.bus
        kinds: tuple[type, ...] = (Quote, OrderEvent, AlertRaised, ConnectionState)
        journaled = getattr(session, "alerts", None)
        if journaled is not None:
            # the alert engine de-duplicates and journals every alert (rules' too) before it is
            # shown: faces see its notices, and the book starts from its journal
            from workstation.alerts.engine import AlertAcked, AlertNotice

            self.alert_book = AlertBook([_raised(a) for a in journaled.recent], unread=_unread(journaled.unacked()))
            self._unsubscribe.append(bus.subscribe(AlertNotice, self._on_notice))
            self._unsubscribe.append(bus.subscribe(AlertAcked, lambda e: self.alert_book.acked(e.ids, _unread(journaled.unacked()))))
            kinds = (Quote, OrderEvent, ConnectionState)
        else:
            self._unsubscribe.append(bus.subscribe(AlertRaised, self.alert_book.add))
        for kind in kinds:
            self._unsubscribe.append(bus.subscribe(kind, self._deliver))
        self._unsubscribe.append(bus.subscribe(QualityChanged, self._deliver))
        self._unsubscribe.append(bus.subscribe(BookView, self._deliver))
        self._unsubscribe.append(bus.subscribe(TradePrint, self._deliver))
        # a trip or reset goes out at once as a fresh snapshot (which carries the breaker)
        self._unsubscribe.append(bus.subscribe(BreakerChanged, lambda _e: self._deliver(self.snapshot())))
        self._unsubscribe.append(bus.subscribe(OrderEvent, self._after_order_event))

    @property
    def info(self) -> EngineInfo:
        return self._info

    def time(self) -> float:
        return self._s.clock.time()

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    def alerts(self) -> list[AlertRaised]:
        return list(self.alert_book.recent)

    def badges(self, symbol: str) -> tuple[str, ...]:
        quality = getattr(self._s, "quality", None)
        return quality.badges(symbol) if quality is not None else ()

    def all_badges(self) -> dict[str, list[str]]:
        """Every symbol that has a data-quality badge now (the attach snapshot carries them)."""
        quality = getattr(self._s, "quality", None)
        if quality is None:
            return {}
        return {sym: list(b) for sym in quality.symbols() if (b := quality.badges(sym))}

    def unread_alerts(self) -> int:
        return self.alert_book.unread

    async def ack_alerts(self) -> None:
        journaled = getattr(self._s, "alerts", None)
        if journaled is not None and journaled.unacked():
            journaled.ack()  # journaled: read for every face, and after a restart
        self.alert_book.ack()

    async def kill(self, reason: str = "kill switch") -> dict[str, Any] | None:
        kill = getattr(self._s, "kill", None)
        if kill is None:
            raise IntentError("the kill switch is not part of this build")
        report = await kill(reason, who=self._source)
        return msgspec.to_builtins(report) if report is not None else None

    async def reset_breaker(self) -> str:
        return _intent(reset_breaker_on, self._s, self._source)

    async def risk_set(self, name: str, value: str, strategy: str | None = None) -> str:
        return _intent(set_limit_on, self._s, name, value, strategy)

    async def alert_rule(self, op: str, text: str) -> dict[str, str]:
        return _intent(alert_rule_on, self._s, op, text)

    async def alert_rules(self) -> list[RuleStatus]:
        return _intent(alert_rule_on, self._s, "list", "")

    async def alert_ack(self, ids: list[int] | None) -> list[int]:
        return _intent(lambda s: require_admin(s).alerts.ack(ids), self._s)

    def _on_notice(self, notice) -> None:
        raised = _raised(notice.alert)
        self.alert_book.add(raised)
        self._deliver(raised)

    def _deliver(self, event: object) -> None:
        for handler in list(self._handlers):
            handler(event)

    def _after_order_event(self, event: OrderEvent) -> None:
        if getattr(event, "fill", None) is not None:
            self._deliver(self.snapshot())

    async def start(self, symbols: list[str]) -> None:
        await self._s.start(symbols)
        if getattr(self._s, "monitor", None) is None:
            self._day_baseline()
        await self.strategies.open()

    async def stop(self) -> None:
        await self.strategies.close()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        await self._s.stop()

    # -- reads
    def orders(self) -> list[Order]:
        since = self.time() - 86_400
        rows = [o for o in self._s.oms.orders.values() if not o.status.is_terminal or o.updated >= since]
        trigger = getattr(self._s.broker, "trail_trigger", None)
        if callable(trigger):
            rows = [_with_trigger(o, trigger(o.client_id)) if o.type is OrderType.TRAILING_STOP and o.status.is_working else o for o in rows]
        return sorted(rows, key=lambda o: (int(o.id) if o.id.isdigit() else 0), reverse=True)

    def trading_day_start(self) -> float:
        """When the trading day began: the risk engine's day (its roll time and zone), the
        day the daily-loss limit counts."""
        from workstation.core.limits import RiskLimits, day_start

        now = self.time()
        store = getattr(self._s, "limits", None)
        limits = getattr(store, "limits", None) or RiskLimits()
        days = getattr(getattr(self._s, "risk", None), "days", None)
        return days.start(now, limits) if days is not None else day_start(now, limits)

    def quote(self, symbol: str) -> Quote | None:
        return self._s.quotes.get(symbol)

    def connection(self) -> ConnectionState | None:
        return self._s.connection

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self._s.oms.instrument_cached(symbol)
        except ModelError as exc:
            raise IntentError(str(exc)) from None

    def _day_baseline(self) -> Decimal:
        """Equity at the first look of the (UTC) day, kept in the journal across restarts."""
        day = self._s.clock.now().date().isoformat()
        if day != self._day_key:
            equity = self._s.portfolio.equity()
            self._day_equity = Decimal(self._s.journal.ensure_meta(f"day_equity:{day}", str(equity)))
            self._day_key = day
        assert self._day_equity is not None
        return self._day_equity

    def market_open(self) -> bool | None:
        probe = getattr(self._s.broker, "market_open", None)
        if callable(probe):
            return bool(probe())
        if self._s.profile.broker == "sim":  # the paper market: US equity hours under its calendar
            kind = self.market_session()
            return None if kind is None else kind == "regular"
        return None

    def market_session(self) -> str | None:
        """The session of the account's main venue (US equities; crypto on ccxt) now: None when
        unknown, or while its calendar is read in a worker thread (workstation.core.sessions)."""
        from workstation.core import sessions

        broker, t = self._s.profile.broker, self.time()
        if broker == "sim":
            calendar = self._s.profile.sim.calendar
            if calendar == "always" or sessions.session_if_ready("XNYS", t) is None:
                return "regular" if calendar == "always" else None
            from brokers.paper.market import session

            return session("SPY", t, calendar)
        venue = {"alpaca": "XNYS", "ib": "XNYS", "ccxt": "CRYPTO"}.get(broker)
        return sessions.session_if_ready(venue, t) if venue else None

    def snapshot(self) -> AccountSnapshot:
        s = self._s
        pf = s.portfolio
        account = pf.account()
        equity = account.equity
        today = pf.traded_since(self.trading_day_start())
        rows, closed = [], []
        unrealized = realized = ZERO
        book = getattr(s, "greeks", None)
        held = {g.symbol: g for g in book.positions()} if book is not None else {}
        for p in pf.positions(include_flat=True):
            if not p.qty and p.symbol not in today:
                continue
            row = PositionRow(
                symbol=p.symbol, qty=p.qty, avg_price=p.avg_price, last=pf.last(p.symbol),
                market_value=pf.market_value(p.symbol), unrealized_pnl=pf.unrealized(p.symbol),
                realized_pnl=p.realized_pnl, currency=p.currency, realized_today=today.get(p.symbol, ZERO),
                pct_of_equity=(pf.exposure(p.symbol) / equity * 100).quantize(Decimal("0.01")) if equity > 0 else ZERO,
                closed=not p.qty, **row_fields(held.get(p.symbol)),
            )
            (rows if p.qty else closed).append(row)
            unrealized += pf.to_base(row.unrealized_pnl, p.currency)
            realized += pf.to_base(row.realized_today, p.currency)
        totals = PositionTotals(
            unrealized=unrealized, realized_today=realized, gross_exposure=pf.gross_exposure(), net_exposure=pf.net_exposure(),
        )
        per, whole = book.totals(list(held.values())) if held else ([], None)
        return AccountSnapshot(
            ts=self.time(), account=account, positions=tuple(rows), risk=self._risk_rows(account),
            greeks=(*per, whole) if whole is not None else (),
            closed_today=tuple(closed), totals=totals,
            day_pnl=self._day_pnl(equity), market_open=self.market_open(), market_session=self.market_session(),
            breaker=breaker.reason() if (breaker := getattr(s, "breaker", None)) is not None else None,
            trading_halted=self._halted(),
        )

    def _halted(self) -> bool:
        store = getattr(self._s, "limits", None)
        return bool(getattr(getattr(store, "limits", None), "trading_halted", False))

    def _day_pnl(self, equity: Decimal) -> Decimal:
        """The risk monitor's day P&L when there is one (the same figure its limits use)."""
        monitor = getattr(self._s, "monitor", None)
        if monitor is not None:
            try:
                return Decimal(monitor.measures()["day_pnl"])
            except (AttributeError, KeyError, TypeError):
                pass
        return equity - self._day_baseline()

    def _risk_rows(self, account: Account) -> tuple[RiskRow, ...]:
        """Buying power, then every row the risk engine publishes (its ``status()``)."""
        out = [RiskRow(
            name="buying power", used=account.buying_power, limit=None, unit="$", state="off",
            detail="broker" if account.from_broker else "local",
        )]
        status = getattr(self._s.risk, "status", None)
        rows = status() if callable(status) else ()
        if rows:
            for r in rows:
                out.append(RiskRow(
                    name=r.name, used=r.used, limit=r.limit, unit=getattr(r, "unit", "$"),
                    state=getattr(r, "state", "breach" if getattr(r, "breached", False) else "ok"), detail=getattr(r, "detail", ""),
                ))
            return tuple(out)
        pf = self._s.portfolio
        gross = pf.gross_exposure()
        if account.from_broker:  # what is used plus what the broker says is left
            capacity = gross + account.buying_power
        else:
            capacity = account.equity * pf.leverage if pf.margin else account.equity
        out += [
            RiskRow(name="gross exposure", used=gross, limit=capacity, state="breach" if gross > capacity else "ok"),
            RiskRow(name="net exposure", used=pf.net_exposure()),
            RiskRow(name="open orders", used=Decimal(len(self._s.oms.working())), unit="orders"),
        ]
        return tuple(out)

    async def history(self, symbol: str, seconds: int, count: int) -> list[Bar]:
        end = self.time()
        try:
            return await self._s.broker.history(symbol, seconds, end - seconds * count, end)
        except Exception:  # history is a nicety for the chart: never an error on screen
            return []

    async def option_chain(self, underlying: str, expiry: date | None = None, strikes: int | None = None) -> OptionChain:
        return await chain_on(self._s, underlying, expiry, strikes)

    async def risk_report(
        self, methods: list[str] | None = None, lookback: int = 250, decay: float | None = None,
        replays: list[str] | None = None,
    ) -> PortfolioReport:
        from workstation.risk.portfolio_model import ReturnCache
        from workstation.risk.report_doc import report_on
        from workstation.risk.var import METHODS

        if self._risk_cache is None:  # returns and covariance kept per holdings and day
            self._risk_cache = ReturnCache()
        return await report_on(self._s, methods=methods or METHODS, lookback=lookback, decay=decay, cache=self._risk_cache,
                               replays=replays or ())

    # -- intents
    def _tagged(self, request: OrderRequest) -> OrderRequest:
        return msgspec.structs.replace(request, source=self._source) if request.source == "cli" else request

    async def review(self, request: OrderRequest) -> Review:
        from workstation.trading.oms import OrderError

        try:
            review = await self._s.oms.review(self._tagged(request))
        except OrderError as exc:
            raise IntentError(str(exc)) from None
        return combo_review_on(self._s, request, review) if request.legs else review

    async def submit(self, request: OrderRequest) -> Order:
        from workstation.trading.oms import OrderError

        try:
            return await self._s.oms.submit(self._tagged(request))
        except OrderError as exc:
            raise IntentError(str(exc)) from None

    async def cancel(self, order_id: str) -> Order:
        from workstation.trading.oms import OrderError

        try:
            return await self._s.oms.cancel(order_id, reason=USER_CANCEL)
        except OrderError as exc:
            raise IntentError(str(exc)) from None

    async def cancel_all(self) -> list[Order]:
        from workstation.trading.oms import OrderError

        out = []
        for order in list(self._s.oms.working()):
            if order.status is OrderStatus.NEW or order.status.is_working:
                try:
                    out.append(await self._s.oms.cancel(order.id, reason=USER_CANCEL))
                except OrderError:  # finished meanwhile: nothing left to cancel
                    pass
        return out

    async def replace(
        self, order_id: str, *, qty: Decimal | None = None, limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> Order:
        from workstation.trading.oms import OrderError

        try:
            return await self._s.oms.replace_order(order_id, qty=qty, limit_price=limit_price, stop_price=stop_price)
        except OrderError as exc:
            raise IntentError(str(exc)) from None

    async def close_combo(self, order_id: str) -> Order:
        """Close what combo order ``order_id`` opened: the reverse combo of its legs still held,
        as ONE market order (``close_combo_request``)."""
        from workstation.trading.oms import OrderError

        try:
            order = self._s.oms.get(order_id)
        except OrderError as exc:
            raise IntentError(str(exc)) from None
        return await self.submit(close_combo_request(order, self._s.portfolio.qty, self._source))

    async def flatten(self, symbol: str | None, *, source: str | None = None) -> list[Order]:
        pf = self._s.portfolio
        if symbol is None:
            await self.cancel_all()
            targets = [p.symbol for p in pf.positions()]
        else:
            if pf.qty(symbol) == 0:
                raise IntentError(f"no position in {symbol}")
            targets = [symbol]
        out = []
        for sym in targets:
            qty = pf.qty(sym)
            if qty == 0:
                continue
            side = Side.SELL if qty > 0 else Side.BUY
            out.append(await self.submit(OrderRequest(symbol=sym, side=side, qty=abs(qty), type=OrderType.MARKET, source=source or self._source)))
        return out

    async def watch(self, symbols: list[str]) -> None:
        new = [s for s in symbols if self._s.quotes.get(s) is None]
        for sym in new:
            snap = self._s.broker.snapshot(sym)
            if snap is not None:
                self._s.quotes.on_quote(snap)
        if symbols:
            await self._s.broker.subscribe(list(symbols))
            priced = getattr(self._s, "_priced", None)
            if priced is not None:
                priced.update(symbols)  # the session subscribes an order's symbol only if nothing does

    async def watch_depth(self, symbols: list[str], levels: int = 20, *, holder: str = "local") -> None:
        """``holder``: who wants the books (the socket server passes each client's id); a book
        stops only when no holder wants it any more."""
        await watch_depth_on(self._s, symbols, levels)
        for sym in depth_symbols(symbols):
            self._depth_holders.setdefault(sym, set()).add(holder)

    async def unwatch_depth(self, symbols: list[str], *, holder: str = "local") -> None:
        gone = []
        for sym in depth_symbols(symbols):
            holders = self._depth_holders.get(sym, set())
            holders.discard(holder)
            if not holders:
                self._depth_holders.pop(sym, None)
                gone.append(sym)
        await self._s.unwatch_depth(gone)

    def book(self, symbol: str) -> BookView | None:
        books = getattr(self._s, "depth", None)
        return books.book(depth_symbols([symbol])[0]) if books is not None else None

    def tape(self, symbol: str, limit: int = 200) -> list[TradePrint]:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise IntentError(f"limit must be a whole number of prints from 1, got {limit}")
        books = getattr(self._s, "depth", None)
        return books.tape(depth_symbols([symbol])[0], limit) if books is not None else []


# ---------------------------------------------------------------- market depth


def depth_symbols(symbols: list[str]) -> list[str]:
    """The symbols as the engine names them; IntentError (one line) for a malformed one."""
    from workstation.core.symbols import parse_symbol

    out = []
    for sym in symbols:
        try:
            out.append(parse_symbol(sym).symbol)
        except ModelError as exc:
            raise IntentError(str(exc)) from None
    return list(dict.fromkeys(out))


async def watch_depth_on(s: Any, symbols: list[str], levels: int = 20) -> None:
    """Start books and tapes for ``symbols`` on session ``s``: IntentError (one line) for a
    malformed symbol, bad ``levels``, a broker without depth or one that refuses the symbol.
    One implementation for ``LocalEngine`` and the socket server."""
    from brokers.base import BrokerError

    wanted = depth_symbols(symbols)
    if not wanted:
        raise IntentError("name a symbol to watch its book")
    if isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels <= 1000:
        raise IntentError(f"levels must be a whole number from 1 to 1000, got {levels}")
    if getattr(s, "depth", None) is None:
        raise IntentError(f"{wanted[0]}: this broker sends no market depth")
    try:
        await s.watch_depth(wanted, levels)
    except (BrokerError, ModelError) as exc:
        raise IntentError(str(exc).splitlines()[0] if str(exc) else f"{wanted[0]}: no market depth") from None


# ---------------------------------------------------------------- risk and alert administration
# One implementation for every face: LocalEngine calls these in process, the engine's
# socket server calls them for attached clients. The session's own methods refuse what is
# not allowed (a breaker that is not tripped, a breach that persists, a bad limit or rule).


def require_admin(s: Any) -> Any:
    if not hasattr(s, "set_limit"):
        raise IntentError("this engine has no risk limits or alert rules to change")
    return s


def _intent(fn: Callable[..., Any], *args: Any) -> Any:
    """Run an administrative change; a refusal becomes an IntentError (one line)."""
    try:
        return fn(*args)
    except IntentError:
        raise
    except ModelError as exc:
        raise IntentError(str(exc)) from None


def reset_breaker_on(s: Any, who: str) -> str | None:
    """Reset the circuit breaker (confirmed by the caller); returns what had tripped it."""
    s = require_admin(s)
    reason = s.breaker.info.reason if s.breaker.tripped else None
    s.reset_breaker(confirmed=True, who=who)
    return reason


def set_limit_on(s: Any, name: str, value: str, strategy: str | None = None) -> str:
    """Change a risk limit (journaled by the session); returns the new value as shown."""
    from workstation.core.limits import show

    s = require_admin(s)
    s.set_limit(name, value, strategy)
    return show(getattr(s.limits.limits_for(strategy), name))


def alert_rule_on(s: Any, op: str, text: str) -> Any:
    """Add (``op="add"``), remove (``"rm"``), enable, disable or edit (``text`` "ID RULE") an
    alert rule; ``"list"``: every rule's ``RuleStatus``."""
    if op == "list":
        return s.alerts.statuses() if getattr(s, "alerts", None) is not None else []
    s = require_admin(s)
    if op == "add":
        rule = s.alerts.add_rule(text)
    elif op == "rm":
        rule = s.alerts.remove_rule(text.strip())
    elif op in ("enable", "disable"):
        rule = s.alerts.set_enabled(text.strip(), op == "enable")
    elif op == "edit":
        rule_id, _, new = text.strip().partition(" ")
        rule = s.alerts.edit_rule(rule_id, new)
    else:
        raise IntentError(f"unknown alert rule operation {op!r}")
    return {"id": rule.id, "text": rule.text}


def combo_review_on(s: Any, request: OrderRequest, review: Review) -> Review:
    """A combo's review with its legs' quotes, payoff and net Greeks (``Review.combo``, from
    ``workstation.trading.payoff``), at the engine's clock; a market combo is figured at the
    net price the order manager values it. One implementation for ``LocalEngine`` and the CLI."""
    from workstation.trading.payoff import analyze
    from workstation.trading.spreads import recognize

    def quote(symbol: str) -> Quote | None:
        return s.quotes.get(symbol) or s.broker.snapshot(symbol)

    def bid_ask(symbol: str) -> tuple[float | None, float | None]:
        q = quote(symbol)
        return (q.bid, q.ask) if q is not None else (None, None)

    spread = recognize(request.legs)
    under = quote(spread.underlying) if spread.underlying else None
    spot = (under.mid if under.bid > 0 and under.ask >= under.bid else under.last) if under is not None else None
    try:
        figures = analyze(
            request.legs, request.side, request.qty,
            request.limit_price if request.limit_price is not None else review.price, description=spread.describe(),
            quotes={leg.symbol: bid_ask(leg.symbol) for leg in request.legs}, spot=spot, now=s.clock.time(),
        )
    except (ModelError, ArithmeticError, ValueError):  # the review stands without its figures
        return review
    return msgspec.structs.replace(review, combo=figures)


# ---------------------------------------------------------------- option chains


async def chain_on(s: Any, underlying: str, expiry: date | None = None, strikes: int | None = None) -> OptionChain:
    """The option chain a face asks for, from the session's broker (``broker.option_chain``):
    priced with the engine's quote of the underlying when the broker gives no spot, trimmed to
    the ``strikes`` nearest the money, IV and Greeks filled in (``with_greeks``) at the
    engine's clock. One implementation for ``LocalEngine``, the socket server and the CLI."""
    import inspect

    from brokers.base import BrokerError
    from workstation.core.chain import with_greeks
    from workstation.core.model import AssetClass
    from workstation.core.symbols import parse_symbol

    try:
        inst = parse_symbol(underlying)
    except ModelError as exc:
        raise IntentError(str(exc)) from None
    if inst.asset_class is AssetClass.OPTION:
        raise IntentError(f"{inst.symbol} is an option: ask for the chain of its underlying, {inst.underlying}")
    if strikes is not None and strikes < 1:
        raise IntentError(f"strikes must be at least 1, got {strikes}")
    fetch = getattr(s.broker, "option_chain", None)
    if not callable(fetch):
        raise IntentError("this broker lists no option chains")
    try:
        chain = fetch(inst.symbol, expiry)
        if inspect.isawaitable(chain):
            chain = await chain
    except (BrokerError, ModelError) as exc:
        raise IntentError(str(exc) or f"no option chain for {inst.symbol}") from None
    if expiry is not None and chain.expiries and expiry not in chain.expiries:
        listed = ", ".join(d.isoformat() for d in chain.expiries[:6]) + (" ..." if len(chain.expiries) > 6 else "")
        raise IntentError(f"no {inst.symbol} options expire on {expiry.isoformat()}: listed {listed}")
    if not chain.contracts and not chain.expiries:
        raise IntentError(f"{inst.symbol} has no listed options")
    if chain.spot is None:  # the engine's quote of the underlying, else the broker's snapshot of it
        q = s.quotes.get(chain.underlying)
        if q is None and callable(snap := getattr(s.broker, "snapshot", None)):
            q = snap(chain.underlying)
        spot = (q.bid + q.ask) / 2 if q is not None and q.bid > 0 and q.ask >= q.bid else q.last if q is not None and q.last > 0 else None
        if spot is not None:
            chain = msgspec.structs.replace(chain, spot=float(spot))
    if strikes is not None:
        chain = chain.around_atm(strikes)
    return with_greeks(chain, s.clock.time())


def _raised(alert) -> AlertRaised:
    """The alert engine's journaled ``Alert`` as the event faces know."""
    return AlertRaised(
        title=alert.title, message=alert.message, priority=alert.priority, source=alert.source, ts=alert.ts, key=alert.key,
        alert_id=alert.id, acked=alert.acked,
    )


def _unread(alerts) -> int:
    return sum(1 for a in alerts if a.priority != "low")


USER_CANCEL = "canceled by user"  # the reason journaled and shown for a cancel asked for by a person


def _with_trigger(order: Order, stop: Decimal | None) -> Order:
    """A trailing stop as faces see it: ``stop_price`` is its current trigger."""
    return order if stop is None or stop == order.stop_price else msgspec.structs.replace(order, stop_price=stop)


def working(orders: list[Order]) -> list[Order]:
    return [o for o in orders if o.status.is_working or (o.status is OrderStatus.NEW and o.parent_id)]


def combo_groups(orders: list[Order], positions: tuple[PositionRow, ...] | list[PositionRow]) -> list[tuple[Order, Decimal]]:
    """The combos among ``orders`` whose legs make up exactly the positions held in their symbols
    (each with its units), newest first: what the Positions pane shows as one group. A leg also
    held outside its combo (or by two combos) is shown as a plain position."""
    from workstation.trading.combos import leg_side, open_combos

    held = {p.symbol: p.qty for p in positions}
    out = []
    taken: set[str] = set()
    for order, units in open_combos(orders, held):
        exact = all(held.get(leg.symbol) == units * leg.ratio * leg_side(leg, order.side).sign for leg in order.legs)
        if exact and not taken.intersection(leg.symbol for leg in order.legs):
            taken.update(leg.symbol for leg in order.legs)
            out.append((order, units))
    return out


def close_combo_request(order: Order, held: Callable[[str], Decimal], source: str, limit: Decimal | None = None) -> OrderRequest:
    """The order that closes combo ``order``: its legs the other way, for the units still held
    leg for leg (``held``: a symbol's signed position), as one order (a market order unless
    ``limit``, a net price). Any face builds it (a remote one from its snapshot's positions)
    and submits it; IntentError, one line, when there is nothing to close."""
    from workstation.trading.combo_orders import closing_request
    from workstation.trading.combos import closing_units

    if not order.legs:
        raise IntentError(f"order {order.id} is not a combo")
    units = closing_units(held, order)
    if units <= 0:
        raise IntentError(f"combo order {order.id}: its legs are no longer held")
    return closing_request(order, units, source=source, limit=limit)


__all__ = [
    "AccountSnapshot", "EngineAPI", "EngineEvent", "EngineInfo", "GreekTotals", "IntentError", "LocalEngine", "PositionRow",
    "PositionTotals", "RiskRow", "USER_CANCEL", "working",
]
