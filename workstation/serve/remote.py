"""``EngineAPI`` over a socket: a face attached to an engine serving in another process.

``RemoteEngine`` keeps a mirror of what the server sent (the snapshot on attach, then
events): orders, quotes, the account, the connection, the alerts. Reads come from the
mirror at once; intents are requests answered by a reply. When the connection drops, a
workstation's engine reconnects and resnapshots (``reconnect=True``) for ``give_up_after``
seconds, sleeping with backoff between attempts; then it delivers one last
``ConnectionState(broker="engine", state="gone")`` (``ENGINE_GONE``): the face should end.
A one-shot command's gives up at once and says so. Stopping a RemoteEngine detaches: the
engine, its strategies and its orders carry on.

Market depth: ``watch_depth`` asks the engine for books and tapes; its reply seeds the mirror
(the book at hand, the latest prints) and the engine's ``Books`` and ``Trades`` keep it (``book``,
``tape``: the last ``TAPE_KEEP`` prints per symbol), each delivered to the handlers as
``BookView`` and ``TradePrint`` events. A reattached face asks again for what it watched.

The mirror's orders are the snapshot's window (working orders and the most recent of the
day) plus every order event since; ``order_list`` reads the whole day, or the whole
journal, from the engine in pages.

Why one module: ``RemoteEngine`` is the whole ``EngineAPI`` on the client's side of the wire;
each intent is a request built from ``protocol`` and answered into the same mirror the
events keep, so an intent added to the API (the option chain was the last) is one method
here next to its siblings, not a file of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from workstation.serve import protocol as P
from workstation.api import AccountSnapshot, EngineInfo, Handler, IntentError, depth_symbols
from workstation.core.alert_rules import RuleStatus
from workstation.core.book import BookView, TradePrint
from workstation.core.clock import Clock, LiveClock
from workstation.core.model import (
    AlertRaised,
    Bar,
    ConnectionState,
    Instrument,
    ModelError,
    Order,
    OrderRequest,
    Quote,
)
from workstation.trading.oms import Review

if TYPE_CHECKING:
    from workstation.core.chain import OptionChain
    from workstation.risk.report_doc import PortfolioReport

log = logging.getLogger(__name__)


class EngineUnavailable(Exception):
    """No engine answers at that address (or it refused us); one line for a person.

    ``refused``: an engine answered and said no (its ``bye`` reason starts with ``refused:``:
    a stranger, a wrong token, another protocol version, or too many connections)."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


ENGINE_GONE = "gone"
"""``ConnectionState.state`` (broker ``"engine"``) delivered once when a face stops trying to
reach its engine: the engine stopped, or vanished, and did not come back in time."""

RECONNECT_FIRST_S = 0.1  # the first wait before trying again; doubled after each failure
RECONNECT_MAX_S = 2.0  # the longest wait between attempts
TAPE_KEEP = 1_000  # prints kept per watched symbol, as the engine keeps them


def engine_gone(event: object) -> bool:
    """Whether ``event`` says the face's engine is gone for good (the face should exit)."""
    return isinstance(event, ConnectionState) and event.broker == "engine" and event.state == ENGINE_GONE


class MessageTooLarge(Exception):
    """The engine sent a line longer than this client reads."""


Address = Path | tuple[str, int]


async def open_link(address: Address, limit: int = P.MAX_LINE) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        if isinstance(address, Path):
            return await asyncio.open_unix_connection(str(address), limit=limit)
        return await asyncio.open_connection(address[0], address[1], limit=limit)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise EngineUnavailable(f"no engine is serving at {_where(address)}") from exc
    except OSError as exc:
        raise EngineUnavailable(f"cannot reach the engine at {_where(address)}: {exc.strerror or exc}") from exc


def _where(address: Address) -> str:
    return str(address) if isinstance(address, Path) else f"{address[0]}:{address[1]}"


class RemoteStrategyDesk:
    """The serving engine's strategy desk, as the Strategies pane uses it (mirrored rows)."""

    def __init__(self, engine: RemoteEngine) -> None:
        self._engine = engine
        self._rows: list[Any] = []
        self._params: dict[str, list[Any]] = {}

    def apply(self, update: P.StrategiesUpdate) -> None:
        from workstation.strategies.desk import ParamRow, StrategyRow  # present wherever an engine runs strategies

        self._rows = [msgspec.convert(r, StrategyRow, strict=False) for r in update.rows]
        self._params = {name: [msgspec.convert(p, ParamRow, strict=False) for p in rows] for name, rows in update.params.items()}

    def rows(self) -> list[Any]:
        return list(self._rows)

    def params(self, name: str) -> list[Any]:
        if name not in self._params:
            raise IntentError(f"no strategy named {name!r}")
        return list(self._params[name])

    def check_params(self, name: str, raw: dict[str, str]) -> str | None:
        """Checked by the engine when applied (``set_params`` raises IntentError with its reason)."""
        self.params(name)
        return None

    def pnl(self) -> Decimal:
        return sum((r.pnl for r in self._rows), Decimal(0))

    async def start(self, name: str) -> None:
        await self._engine._request(P.StrategyOp(id=self._engine._next(), op="start", name=name))

    async def stop(self, name: str) -> None:
        await self._engine._request(P.StrategyOp(id=self._engine._next(), op="stop", name=name))

    def pause(self, name: str) -> str:
        """Pause or resume; the engine answers on its own time (a refusal arrives as an alert)."""
        row = next((r for r in self._rows if r.name == name), None)
        if row is None:
            raise IntentError(f"no strategy named {name!r}")
        if row.state not in ("running", "paused"):
            raise IntentError(f"strategy {name} is {row.state}: start it first")
        task = asyncio.get_running_loop().create_task(
            self._engine._request(P.StrategyOp(id=self._engine._next(), op="pause", name=name), str)
        )
        task.add_done_callback(self._done)
        return "paused" if row.state == "running" else "running"

    def _done(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._engine._deliver(AlertRaised(title="Strategy", message=str(task.exception()), priority="high", source="strategies", ts=self._engine.time()))

    async def set_params(self, name: str, raw: dict[str, str]) -> None:
        await self._engine._request(P.StrategyOp(id=self._engine._next(), op="set_params", name=name, params=dict(raw)))


class RemoteEngine:
    """An attached face's engine. ``kind`` names the client in the journal (tui, web, cli)."""

    def __init__(
        self,
        address: Address,
        *,
        kind: str = "tui",
        name: str = "",
        token: str | None = None,
        quotes: bool = True,
        reconnect: bool = True,
        clock: Clock | None = None,
        timeout: float = 30.0,
        expect: EngineInfo | None = None,
        give_up_after: float = 10.0,
        max_line: int = P.MAX_LINE,
    ) -> None:
        """``expect``: what to show before the engine's welcome arrives (from the local profile).
        ``give_up_after``: seconds a face keeps trying to reattach after losing its engine
        before it delivers ``ENGINE_GONE``. ``max_line``: the longest message it reads."""
        self.address = address
        self.kind = kind
        self.name = name
        self.token = token
        self.wants_quotes = quotes
        self.reconnect = reconnect
        self.timeout = timeout
        self.give_up_after = give_up_after
        self.max_line = max_line
        self.gone = False  # gave up reattaching: ENGINE_GONE was delivered
        self.reconnect_attempts = 0
        self._gone = asyncio.Event()
        self._clock = clock or LiveClock()
        self._handlers: list[Handler] = []
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[P.Reply]] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._attached = asyncio.Event()
        self._watched: list[str] = []
        self._depth: dict[str, int] = {}  # symbol -> levels asked for (watch_depth)
        self._books: dict[str, BookView] = {}
        self._tapes: dict[str, deque[TradePrint]] = {}
        self.prints_dropped = 0  # prints the engine dropped for this face because it fell behind
        self._enc = P.encoder()
        # the mirror
        self._info: EngineInfo | None = None
        self._expect = expect or EngineInfo(profile="", live=False, broker="engine", currency="USD")
        self.client_id = ""
        self.server_pid = 0
        self.clients: list[str] = []
        self._orders: dict[str, Order] = {}
        self._quotes: dict[str, Quote] = {}
        self._badges: dict[str, tuple[str, ...]] = {}
        self._instruments: dict[str, Instrument] = {}
        self._account: AccountSnapshot | None = None
        self._connection: ConnectionState | None = None
        self._alerts: list[AlertRaised] = []
        self._unread = 0
        self._ts = 0.0
        self._ts_mono = 0.0
        self.detached_reason: str | None = None
        self.snapshots = 0  # how many snapshots this face has received (1 + reconnects)
        self.strategies = RemoteStrategyDesk(self)
        """The engine's strategy instances: rows, params; start, stop, pause, set_params over the socket."""

    # ------------------------------------------------------------------ connection
    async def connect(self, *, timeout: float | None = None) -> None:
        """Attach: hello, then the welcome and the snapshot (EngineUnavailable if refused)."""
        wait = self.timeout if timeout is None else timeout
        reader, writer = await open_link(self.address, self.max_line)
        hello = P.Hello(kind=self.kind, name=self.name, token=self.token, quotes=self.wants_quotes)
        try:
            writer.write(P.line(self._enc, hello))
            welcome = await asyncio.wait_for(self._read(reader), wait)
            if isinstance(welcome, P.Bye):
                raise EngineUnavailable(f"the engine {welcome.reason}", refused=welcome.reason.startswith("refused"))
            if not isinstance(welcome, P.Welcome):
                raise EngineUnavailable("the engine did not welcome us")
            snap = await asyncio.wait_for(self._read(reader), wait)
            if not isinstance(snap, P.Snapshot):
                raise EngineUnavailable("the engine sent no snapshot")
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            writer.close()
            raise EngineUnavailable(f"the engine at {_where(self.address)} did not answer") from exc
        except MessageTooLarge as exc:
            writer.close()
            raise EngineUnavailable(str(exc)) from None
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            writer.close()
            raise EngineUnavailable(f"the engine speaks another protocol: {exc}") from None
        except EngineUnavailable:
            writer.close()
            raise
        self._reader, self._writer = reader, writer
        self._info = welcome.info
        self.client_id = welcome.client_id
        self.server_pid = welcome.pid
        self._apply_snapshot(snap)
        self.gone = False
        self._gone.clear()
        self._attached.set()
        self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _read(self, reader: asyncio.StreamReader) -> P.ServerMsg:
        try:
            data = await reader.readline()
        except ValueError:  # past the reader's limit (asyncio's LimitOverrunError, as readline raises it)
            raise MessageTooLarge(f"the engine sent a message larger than {P.size_text(self.max_line)}") from None
        if not data:
            raise asyncio.IncompleteReadError(b"", None)
        return P.server_decoder(data)

    def _apply_snapshot(self, snap: P.Snapshot) -> None:
        self.snapshots += 1
        self._orders = {o.id: o for o in snap.orders}
        self._quotes.update({q.symbol: q for q in snap.quotes})
        self._instruments.update({i.symbol: i for i in snap.instruments})
        self._account = snap.account
        self._connection = snap.connection
        self._alerts = list(snap.alerts)
        self._unread = snap.unread
        self.clients = list(snap.clients)
        self._badges = {sym: tuple(b) for sym, b in snap.quality.items()}
        if snap.strategies is not None:
            self.strategies.apply(snap.strategies)
        self._set_time(snap.ts)

    def _set_time(self, ts: float) -> None:
        self._ts = ts
        self._ts_mono = self._clock.monotonic()

    async def _listen(self) -> None:
        assert self._reader is not None
        reason = "the connection to the engine dropped"
        try:
            while True:
                msg = await self._read(self._reader)
                if isinstance(msg, P.Bye):
                    reason = f"the engine closed the connection: {msg.reason}"
                    break
                self._on_message(msg)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except MessageTooLarge as exc:
            reason = str(exc)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            reason = f"the engine sent something unreadable: {exc}"
        finally:
            self._lost(reason)
        if self.reconnect and not self._stopping:
            await self._reconnect(reason)

    def _lost(self, reason: str) -> None:
        self._attached.clear()
        self.detached_reason = reason
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(EngineUnavailable(reason))
        self._pending.clear()
        if not self._stopping:
            self._deliver(ConnectionState(broker="engine", state="reconnecting" if self.reconnect else "disconnected", detail=reason, ts=self.time()))

    async def _reconnect(self, reason: str) -> None:
        """Reattach for ``give_up_after`` seconds (real time), waiting between attempts with
        backoff; then deliver ENGINE_GONE once."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.give_up_after
        delay = RECONNECT_FIRST_S
        last = reason
        while not self._stopping:
            left = deadline - loop.time()
            if left <= 0:
                break
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, RECONNECT_MAX_S)
            left = deadline - loop.time()
            if left <= 0:
                break
            self.reconnect_attempts += 1
            try:
                await self.connect(timeout=max(left, 0.5))
            except EngineUnavailable as exc:
                last = str(exc)
                continue
            if self._watched:
                try:
                    await self.watch(self._watched)
                except (EngineUnavailable, IntentError):
                    pass
            for sym, levels in list(self._depth.items()):
                try:
                    await self.watch_depth([sym], levels)
                except (EngineUnavailable, IntentError):
                    pass
            self._deliver(self._connection or ConnectionState(broker="engine", state="connected", ts=self.time()))
            if self._account is not None:
                self._deliver(self._account)
            return
        if self._stopping:
            return
        self.gone = True
        self.detached_reason = f"the engine is gone ({reason}; no engine for {self.give_up_after:g} s: {last})"
        self._gone.set()
        self._deliver(ConnectionState(broker="engine", state=ENGINE_GONE, detail=self.detached_reason, ts=self.time()))

    def _on_message(self, msg: P.ServerMsg) -> None:
        if isinstance(msg, P.Quotes):
            for q in msg.quotes:
                self._quotes[q.symbol] = q
                self._deliver(q)
        elif isinstance(msg, P.OrderUpdate):
            event = msg.event
            self._orders[event.order.id] = event.order
            self._deliver(event)
        elif isinstance(msg, P.Reply):
            fut = self._pending.pop(msg.id, None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
        elif isinstance(msg, P.Books):
            for view in msg.books:
                if view.symbol in self._depth:
                    self._books[view.symbol] = view
                    self._deliver(view)
        elif isinstance(msg, P.Trades):
            self.prints_dropped += msg.dropped
            for trade in msg.trades:
                tape = self._tapes.get(trade.symbol)
                if tape is not None:
                    tape.append(trade)
                    self._deliver(trade)
        elif isinstance(msg, P.QualityUpdate):
            self._badges[msg.event.symbol] = msg.event.badges
            self._deliver(msg.event)
        elif isinstance(msg, P.AccountUpdate):
            self._account = msg.snapshot
            self._set_time(msg.snapshot.ts)
            self._deliver(msg.snapshot)
        elif isinstance(msg, P.AlertUpdate):
            self._alerts.append(msg.alert)
            del self._alerts[:-200]
            self._unread = msg.unread
            self._deliver(msg.alert)
        elif isinstance(msg, P.Unread):
            self._unread = msg.unread
        elif isinstance(msg, P.ConnUpdate):
            self._connection = msg.state
            self._deliver(msg.state)
        elif isinstance(msg, P.StrategiesUpdate):
            self.strategies.apply(msg)
        elif isinstance(msg, P.Snapshot):
            self._apply_snapshot(msg)

    def _deliver(self, event: object) -> None:
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception:  # one face's bug does not cut the link
                log.exception("handler failed on %s", type(event).__name__)

    async def _request(self, msg: P.Request, result_type: Any = None) -> Any:
        if self._writer is None:
            if self.reconnect and not self._stopping and not self.gone:
                await self._attached_or_gone()
            if self._writer is None:
                raise IntentError(self.detached_reason or "not attached to an engine")
        fut: asyncio.Future[P.Reply] = asyncio.get_running_loop().create_future()
        self._pending[msg.id] = fut
        self._writer.write(P.line(self._enc, msg))
        try:
            reply = await fut
        except EngineUnavailable as exc:
            raise IntentError(str(exc)) from None
        if not reply.ok:
            raise IntentError(reply.error or "refused")
        if result_type is None:
            return None
        return msgspec.json.decode(reply.result, type=result_type)

    async def _attached_or_gone(self) -> None:
        """Wait (at most ``timeout``) until reattached or given up."""
        waits = [asyncio.ensure_future(self._attached.wait()), asyncio.ensure_future(self._gone.wait())]
        try:
            await asyncio.wait(waits, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def _next(self) -> int:
        return next(self._ids)

    # ------------------------------------------------------------------ EngineAPI
    @property
    def info(self) -> EngineInfo:
        return self._info or self._expect

    def time(self) -> float:
        if not self._ts:
            return self._clock.time()
        return self._ts + (self._clock.monotonic() - self._ts_mono)

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    async def start(self, symbols: list[str]) -> None:
        if self._writer is None:
            await self.connect()
        if symbols:
            await self.watch(symbols)

    async def stop(self) -> None:
        """Detach. The engine, its strategies and its orders are not touched."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        self._reader = self._writer = None

    # -- reads
    def orders(self) -> list[Order]:
        since = self.time() - 86_400
        rows = [o for o in self._orders.values() if not o.status.is_terminal or o.updated >= since]
        return sorted(rows, key=lambda o: (int(o.id) if o.id.isdigit() else 0), reverse=True)

    def quote(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    def badges(self, symbol: str) -> tuple[str, ...]:
        return self._badges.get(symbol, ())

    def snapshot(self) -> AccountSnapshot:
        if self._account is None:
            raise IntentError("not attached to an engine")
        return self._account

    def connection(self) -> ConnectionState | None:
        return self._connection

    def instrument(self, symbol: str) -> Instrument:
        inst = self._instruments.get(symbol)
        if inst is not None:
            return inst
        from workstation.core.symbols import parse_symbol

        try:
            return parse_symbol(symbol)
        except ModelError as exc:
            raise IntentError(str(exc)) from None

    async def history(self, symbol: str, seconds: int, count: int) -> list[Bar]:
        try:
            return await self._request(P.History(id=self._next(), symbol=symbol, seconds=seconds, count=count), list[Bar])
        except IntentError:
            return []

    async def option_chain(self, underlying: str, expiry: date | None = None, strikes: int | None = None) -> OptionChain:
        from workstation.core.chain import OptionChain  # numpy and scipy: only for a face that asks

        return await self._request(P.GetChain(id=self._next(), underlying=underlying, expiry=expiry, strikes=strikes), OptionChain)

    async def risk_report(
        self, methods: list[str] | None = None, lookback: int = 250, decay: float | None = None,
        replays: list[str] | None = None,
    ) -> PortfolioReport:
        from workstation.risk.report_doc import PortfolioReport  # numpy and scipy: only for a face that asks

        return await self._request(
            P.GetRiskReport(id=self._next(), methods=methods, lookback=lookback, decay=decay, replays=replays),
            PortfolioReport,
        )

    def alerts(self) -> list[AlertRaised]:
        return list(self._alerts)

    def unread_alerts(self) -> int:
        return self._unread

    async def ack_alerts(self) -> None:
        self._unread = 0
        await self._request(P.AckAlerts(id=self._next()))

    # -- intents
    async def review(self, request: OrderRequest) -> Review:
        return await self._request(P.Review(id=self._next(), request=request), Review)

    async def submit(self, request: OrderRequest, *, wait: bool = False) -> Order:
        order = await self._request(P.Submit(id=self._next(), request=request, wait=wait), Order)
        return self._merge(order)

    def _merge(self, order: Order) -> Order:
        known = self._orders.get(order.id)
        if known is None or known.updated <= order.updated:
            self._orders[order.id] = order
            return order
        return known

    async def cancel(self, order_id: str) -> Order:
        return self._merge(await self._request(P.Cancel(id=self._next(), order_id=order_id), Order))

    async def cancel_all(self, *, wait: bool = False) -> list[Order]:
        return [self._merge(o) for o in await self._request(P.CancelAll(id=self._next(), wait=wait), list[Order])]

    async def replace(
        self, order_id: str, *, qty: Decimal | None = None, limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> Order:
        msg = P.Replace(id=self._next(), order_id=order_id, qty=qty, limit_price=limit_price, stop_price=stop_price)
        return self._merge(await self._request(msg, Order))

    async def flatten(self, symbol: str | None) -> list[Order]:
        return [self._merge(o) for o in await self._request(P.Flatten(id=self._next(), symbol=symbol), list[Order])]

    async def watch(self, symbols: list[str]) -> None:
        self._watched = list(dict.fromkeys([*self._watched, *symbols]))
        got = await self._request(P.Watch(id=self._next(), symbols=list(symbols)), P.Watched)
        self._instruments.update({i.symbol: i for i in got.instruments})
        self._quotes.update({q.symbol: q for q in got.quotes})

    # -- market depth and the tape
    async def watch_depth(self, symbols: list[str], levels: int = 20) -> None:
        """Books and tapes for ``symbols`` from the engine: ``BookView`` and ``TradePrint``
        events follow (the book at hand, if any, is delivered at once)."""
        wanted = depth_symbols(symbols)
        if not wanted:
            raise IntentError("name a symbol to watch its book")
        before = {s: self._depth.get(s) for s in wanted}
        for sym in wanted:
            self._depth[sym] = levels
            self._tapes.setdefault(sym, deque(maxlen=TAPE_KEEP))
        try:
            got = await self._request(P.WatchDepth(id=self._next(), symbols=wanted, levels=levels), P.DepthWatched)
        except BaseException:
            for sym, old in before.items():
                if old is None:
                    self._depth.pop(sym, None)
                    self._tapes.pop(sym, None)
                else:
                    self._depth[sym] = old
            raise
        for trade in got.prints:
            tape = self._tapes.get(trade.symbol)
            if tape is not None and (not tape or tape[-1].ts <= trade.ts) and trade not in tape:
                tape.append(trade)
        for view in got.books:
            self._books[view.symbol] = view
            self._deliver(view)

    async def unwatch_depth(self, symbols: list[str]) -> None:
        """No more books and tapes of ``symbols`` for this face (the engine stops each one no
        other face wants)."""
        wanted = [s for s in depth_symbols(symbols) if s in self._depth]
        for sym in wanted:
            self._depth.pop(sym, None)
            self._books.pop(sym, None)
            self._tapes.pop(sym, None)
        if wanted:
            await self._request(P.UnwatchDepth(id=self._next(), symbols=wanted))

    def book(self, symbol: str) -> BookView | None:
        return self._books.get(depth_symbols([symbol])[0])

    def tape(self, symbol: str, limit: int = 200) -> list[TradePrint]:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise IntentError(f"limit must be a whole number of prints from 1, got {limit}")
        tape = self._tapes.get(depth_symbols([symbol])[0])
        if not tape:
            return []
        return list(itertools.islice(reversed(tape), limit))

    # -- beyond the workstation's needs: the one-shot commands
    async def status(self) -> dict[str, Any]:
        return await self._request(P.GetStatus(id=self._next()), dict[str, Any])

    async def order_list(self, all_: bool = False) -> list[Order]:
        """Today's orders (``all_``: every one in the journal), oldest first, read in pages."""
        pages: list[list[Order]] = []
        before: str | None = None
        while True:
            page = await self.order_page(all_, before)
            if page.orders:
                pages.append(page.orders)
            if not page.more or not page.orders or page.orders[0].id == before:
                break
            before = page.orders[0].id
        return [o for chunk in reversed(pages) for o in chunk]

    async def order_page(self, all_: bool = False, before: str | None = None, limit: int = P.PAGE_MAX) -> P.OrdersPage:
        """One page: up to ``limit`` orders with ids below ``before`` (None: the newest), oldest first."""
        return await self._request(P.GetOrders(id=self._next(), all=all_, before=before, limit=limit), P.OrdersPage)

    async def kill(self, reason: str = "kill switch") -> dict[str, Any] | None:
        return await self._request(P.Kill(id=self._next(), reason=reason), dict[str, Any] | None)

    async def risk_set(self, name: str, value: str, strategy: str | None = None) -> str:
        return await self._request(P.RiskSet(id=self._next(), name=name, value=value, strategy=strategy), str)

    async def reset_breaker(self) -> str:
        return await self._request(P.ResetBreaker(id=self._next()), str)

    async def alert_rule(self, op: str, text: str) -> dict[str, str]:
        return await self._request(P.AlertRule(id=self._next(), op=op, text=text), dict[str, str])

    async def alert_rules(self) -> list[RuleStatus]:
        return await self._request(P.AlertRule(id=self._next(), op="list", text=""), list[RuleStatus])

    async def alert_ack(self, ids: list[int] | None) -> list[int]:
        return await self._request(P.AlertAck(id=self._next(), ids=ids), list[int])

    async def instrument_lookup(self, symbol: str) -> Instrument:
        return await self._request(P.GetInstrument(id=self._next(), symbol=symbol), Instrument)

    async def ping(self) -> float:
        return await self._request(P.Ping(id=self._next()), float)

    # -- for the header
    @property
    def attached(self) -> bool:
        return self._writer is not None
