"""The engine's socket server: many clients on one engine, none of them able to slow it down.

``EngineServer`` listens on a Unix socket (and, when the settings ask for it, on TCP with a
token) and speaks ``workstation.serve.protocol``. Each connection gets a ``ClientLink`` with its
own bounded outbox and its own writer task:

* Engine events reach a link synchronously and only ever append to its outbox: the engine
  never waits for a client.
* Quotes conflate per symbol (the latest wins), and so does the account snapshot: a client
  that falls behind receives the current state, never a backlog.
* Book views (after ``watch_depth``) conflate per symbol too; prints queue in order and a
  client too far behind loses the oldest ones, counted (``depth_outbox.py``).
* Order events, alerts and replies are never dropped. When a link's queue of them exceeds
  its bound (in messages or in bytes) the link is cut; the client reconnects and receives a
  fresh snapshot.

What a connection may cost is bounded too. Before a client is authenticated (the peer's uid
on the Unix socket, then a hello; the token in the hello on TCP) the server reads at most
``HELLO_MAX`` bytes and waits at most ``HELLO_TIMEOUT`` seconds; after it, a request line is
at most ``REQUEST_MAX``. Connections are capped (``max_pending`` awaiting their hello per
listener, ``max_connections`` in all): an excess one is sent a ``bye`` and closed at once.
No message grows with the day's history: the snapshot carries the working orders and a
window of recent ones, and older orders are read in pages (``GetOrders``).

Every order a client sends goes through the engine's one order manager and its risk
checks, tagged with the client's id (``tui#3``); attaches and detaches are journaled.

Why one module: the server and its per-client link share the caps, the outboxes and the
dispatch of every request; the wire types are in protocol.py.
"""

from __future__ import annotations

import asyncio
import heapq
import hmac
import logging
import os
import socket
import sqlite3
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from workstation.serve import protocol as P
from workstation.alerts.book import AlertBook
from workstation.api import AccountSnapshot, IntentError, LocalEngine
from workstation.risk.dataquality import QualityChanged
from workstation.core.book import BookView, TradePrint
from workstation.core.model import AlertRaised, ConnectionState, ModelError, Order, OrderEvent, OrderType, Quote
from workstation.serve.depth_outbox import DepthOutbox
from workstation.serve.rundir import peer_credentials, peer_refusal

log = logging.getLogger(__name__)

MUST_LIMIT = 10_000  # undelivered order events/replies a link may hold before it is cut
MUST_BYTES = 64 * 1024 * 1024  # ... or undelivered bytes of them
HELLO_TIMEOUT = 5.0  # seconds a connection has to authenticate
MAX_PENDING = 64  # connections awaiting their hello, per listener
MAX_CONNECTIONS = 256  # connections in all (attached clients and pending ones)
STREAM_LIMIT = 64 * 1024  # a connection's read buffer pauses the socket past twice this
MARKET_WAIT_S = 5.0
_decode_order = msgspec.json.Decoder(Order).decode


def _num(order: Order) -> int:
    """An order's id as a number (ids are digits; anything else sorts first)."""
    oid = order.id
    return int(oid) if oid.isdigit() else 0


def _before(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise IntentError(f"malformed order id {value!r}") from None


class _Listener:
    """One listening socket and how many of its connections still owe their hello."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.pending = 0


class ClientLink:
    """One connected client: its outbox, its conflated quotes, and the task that writes them."""

    def __init__(
        self, writer: asyncio.StreamWriter, client_id: str, *, quotes: bool, must_limit: int, must_bytes: int = MUST_BYTES,
    ) -> None:
        self.writer = writer
        self.client_id = client_id
        self.wants_quotes = quotes
        self.must_limit = must_limit
        self.must_bytes = must_bytes
        self.watched: set[str] = set()
        self.must: deque[bytes] = deque()
        self.queued_bytes = 0
        self.quotes: dict[str, Quote] = {}
        self.account: AccountSnapshot | None = None
        self.strategies: bytes | None = None
        self.depth = DepthOutbox()
        self.closed = False
        self.cut = False
        self.sent_events = 0
        self._wake = asyncio.Event()
        self._enc = P.encoder()

    # -- called by the engine (synchronously): append and return
    def send(self, data: bytes) -> None:
        if self.closed:
            return
        if len(self.must) >= self.must_limit:
            self.drop("too slow: outbox of order events full")
            return
        if self.must and self.queued_bytes + len(data) > self.must_bytes:  # one message alone always fits
            self.drop(f"too slow: more than {P.size_text(self.must_bytes)} undelivered")
            return
        self.must.append(data)
        self.queued_bytes += len(data)
        self._wake.set()

    def quote(self, q: Quote) -> None:
        if self.wants_quotes and q.symbol in self.watched and not self.closed:
            self.quotes[q.symbol] = q
            self._wake.set()

    def book(self, view: BookView) -> None:
        if not self.closed and self.depth.book(view):
            self._wake.set()

    def trade(self, trade: TradePrint) -> None:
        if not self.closed and self.depth.trade(trade):
            self._wake.set()

    def set_account(self, snap: AccountSnapshot) -> None:
        if not self.closed:
            self.account = snap
            self._wake.set()

    def set_strategies(self, data: bytes) -> None:
        if not self.closed:
            self.strategies = data
            self._wake.set()

    def drop(self, reason: str) -> None:
        """Cut a client that cannot keep up: it will reconnect and resnapshot."""
        if self.closed:
            return
        log.warning("client %s cut: %s", self.client_id, reason)
        self.closed = self.cut = True
        self.must.clear()
        self.queued_bytes = 0
        self.quotes.clear()
        self.depth.clear()
        self._wake.set()
        self.writer.transport.abort()

    # -- the link's own task
    async def pump(self) -> None:
        enc = self._enc
        while not self.closed:
            await self._wake.wait()
            self._wake.clear()
            if self.closed:
                break
            chunks = list(self.must)
            self.must.clear()
            self.queued_bytes = 0
            if self.quotes:
                chunks.append(P.line(enc, P.Quotes(quotes=list(self.quotes.values()))))
                self.quotes.clear()
            if self.depth.levels:
                chunks.extend(self.depth.take(enc))
            if self.account is not None:
                chunks.append(P.line(enc, P.AccountUpdate(snapshot=self.account)))
                self.account = None
            if self.strategies is not None:
                chunks.append(self.strategies)
                self.strategies = None
            if not chunks:
                continue
            self.sent_events += len(chunks)
            try:
                self.writer.write(b"".join(chunks))
                await self.writer.drain()  # only this link waits for its reader
            except (ConnectionError, OSError):  # the client went away: its reader loop ends the session
                self.closed = True
                self.must.clear()
                return


class EngineServer:
    def __init__(
        self,
        engine: LocalEngine,
        session: Any,
        *,
        status: Callable[[], dict[str, Any]] | None = None,
        kill: Callable[[str, str], Any] | None = None,
        token: str | None = None,
        must_limit: int = MUST_LIMIT,
        account_hz: float = 1.0,
        must_bytes: int = MUST_BYTES,
        max_connections: int = MAX_CONNECTIONS,
        max_pending: int = MAX_PENDING,
        hello_timeout: float = HELLO_TIMEOUT,
        hello_max: int = P.HELLO_MAX,
        request_max: int = P.REQUEST_MAX,
    ) -> None:
        """The caps: ``max_pending`` connections awaiting their hello per listener (each
        given ``hello_timeout`` seconds and ``hello_max`` bytes), ``max_connections`` in all,
        ``request_max`` bytes per request line, ``must_limit`` messages / ``must_bytes``
        bytes undelivered to one client."""
        self.engine = engine
        self.session = session
        self.alerts: AlertBook = engine.alert_book
        self.status = status
        self.kill = kill
        self.token = token
        self.must_limit = must_limit
        self.must_bytes = must_bytes
        self.account_hz = account_hz
        self.max_connections = max_connections
        self.max_pending = max_pending
        self.hello_timeout = hello_timeout
        self.hello_max = hello_max
        self.request_max = request_max
        self.connections = 0  # open connections: attached clients and those owing their hello
        self.turned_away = 0  # connections closed at once because a cap was full
        self.refused_at_hello = 0  # connections closed for a missing, late or malformed hello
        self._turned_away_logged = float("-inf")
        self._closing = False
        self._orders_db: sqlite3.Connection | None = None
        self.links: dict[str, ClientLink] = {}
        self.pid = os.getpid()
        self.owner_uid = os.getuid()
        self._enc = P.encoder()
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._serial = int(session.journal.meta("client_seq") or 0)  # ids stay unique across restarts
        self._unsubscribe = engine.subscribe(self._on_event)
        self._ticker: asyncio.Task[None] | None = None
        self._unread_sent = self.alerts.unread
        self.socket_path: Path | None = None

    # ------------------------------------------------------------------ listening
    async def listen_unix(self, path: Path) -> None:
        if path.exists() or path.is_symlink():
            path.unlink()
        old = os.umask(0o177)  # the socket is born 0600; the directory is 0700 besides
        try:
            listener = _Listener("unix")
            server = await asyncio.start_unix_server(
                lambda r, w: self._accept(r, w, listener), path=str(path), limit=STREAM_LIMIT,
            )
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.socket_path = path
        self._servers.append(server)
        self._start_ticker()

    async def listen_tcp(self, host: str, port: int) -> int:
        """Listen on TCP (token required); returns the bound port."""
        if not self.token:
            raise ValueError("a TCP listener needs serve.token in the settings file")
        listener = _Listener("tcp")
        server = await asyncio.start_server(lambda r, w: self._accept(r, w, listener), host=host, port=port, limit=STREAM_LIMIT)
        self._servers.append(server)
        self._start_ticker()
        return server.sockets[0].getsockname()[1]

    def _start_ticker(self) -> None:
        if self._ticker is None and self.account_hz > 0:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_accounts())

    def stop_listening(self) -> None:
        """Take no new clients (the socket file goes too); attached ones carry on."""
        for server in self._servers:
            server.close()
        if self.socket_path is not None:
            try:
                self.socket_path.unlink()
            except FileNotFoundError:
                pass
            self.socket_path = None

    def busy(self) -> bool:
        """Whether a client is still connected, attached or saying hello (a one-shot owner
        waits for them before closing)."""
        return self.connections > 0 or bool(self.links)

    async def close(self) -> None:
        self._closing = True
        self._unsubscribe()
        if self._ticker is not None:
            self._ticker.cancel()
        for server in self._servers:
            server.close()
        for link in list(self.links.values()):
            self._bye(link, "the engine is shutting down")
        await asyncio.sleep(0.05)  # let the goodbyes out
        for link in list(self.links.values()):
            link.closed = True
            link.writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.socket_path is not None:
            try:
                self.socket_path.unlink()
            except FileNotFoundError:
                pass
        if self._orders_db is not None:
            self._orders_db.close()
            self._orders_db = None

    # ------------------------------------------------------------------ engine events
    def _on_event(self, event: object) -> None:
        links = self.links.values()
        if type(event) is Quote:
            for link in links:
                link.quote(event)
        elif type(event) is BookView:
            for link in links:
                link.book(event)
        elif type(event) is TradePrint:
            for link in links:
                link.trade(event)
        elif isinstance(event, OrderEvent):
            data = P.line(self._enc, P.OrderUpdate(event=event))  # type: ignore[arg-type]
            for link in list(links):
                link.send(data)
        elif isinstance(event, AccountSnapshot):
            for link in links:
                link.set_account(event)
        elif isinstance(event, AlertRaised):
            self._unread_sent = self.alerts.unread
            data = P.line(self._enc, P.AlertUpdate(alert=event, unread=self.alerts.unread))
            for link in list(links):
                link.send(data)
        elif isinstance(event, ConnectionState):
            data = P.line(self._enc, P.ConnUpdate(state=event))
            for link in list(links):
                link.send(data)
        elif isinstance(event, QualityChanged):
            data = P.line(self._enc, P.QualityUpdate(event=event))
            for link in list(links):
                link.send(data)

    async def _tick_accounts(self) -> None:
        period = 1.0 / self.account_hz
        while True:
            await asyncio.sleep(period)
            if self.links:
                snap = self.engine.snapshot()
                for link in self.links.values():
                    link.set_account(snap)
                self._push_strategies()
                if self.alerts.unread != self._unread_sent:  # read elsewhere (main.py alert ack)
                    self._broadcast_unread()

    def _broadcast_unread(self) -> None:
        self._unread_sent = self.alerts.unread
        data = P.line(self._enc, P.Unread(unread=self.alerts.unread))
        for link in list(self.links.values()):
            link.send(data)

    def _desk(self) -> Any:
        return getattr(self.engine, "strategies", None)

    def strategies_update(self) -> P.StrategiesUpdate | None:
        desk = self._desk()
        if desk is None:
            return None
        rows = desk.rows()
        params = {}
        for row in rows:
            try:
                params[row.name] = [msgspec.to_builtins(p) for p in desk.params(row.name)]
            except IntentError:
                continue
        return P.StrategiesUpdate(rows=[msgspec.to_builtins(r) for r in rows], params=params)

    def _push_strategies(self) -> None:
        update = self.strategies_update()
        if update is None:
            return
        data = P.line(self._enc, update)
        for link in self.links.values():
            link.set_strategies(data)

    def snapshot(self) -> P.Snapshot:
        e = self.engine
        quotes = list(self.session.quotes.quotes.values())
        instruments = []
        for q in quotes:
            try:
                instruments.append(e.instrument(q.symbol))
            except IntentError:
                pass
        orders, more = self.recent_orders()
        return P.Snapshot(
            ts=e.time(), orders=orders, account=e.snapshot(), quotes=quotes, connection=e.connection(),
            alerts=self.alerts.latest(P.SNAPSHOT_ALERTS), unread=self.alerts.unread, instruments=instruments,
            clients=sorted(self.links), strategies=self.strategies_update(), quality=e.all_badges(),
            orders_more=more,
        )

    def recent_orders(self, keep: int = P.SNAPSHOT_ORDERS) -> tuple[list[Order], bool]:
        """Every working order and the ``keep`` most recent (by id) of the day, oldest first;
        and whether the day holds older ones besides."""
        oms = self.session.oms
        since = self.engine.time() - 86_400
        day = [o for o in oms.orders.values() if o.updated >= since or not o.status.is_terminal]
        recent = heapq.nlargest(keep, day, key=_num)
        seen = {o.id for o in recent}
        working = [o for o in oms.working() if o.id not in seen]
        return sorted(recent + working, key=_num), len(day) > len(recent) + len(working)

    # ------------------------------------------------------------------ order pages
    def orders_page(self, all_: bool, before: str | None, limit: int) -> P.OrdersPage:
        """Up to ``limit`` (at most PAGE_MAX) orders with ids below ``before``, the newest of
        them, oldest first: the journal's (``all_``) or the engine's of the day."""
        limit = max(1, min(int(limit), P.PAGE_MAX))
        below = _before(before)
        if all_:
            rows = self._journal_page(below, limit + 1)
        else:
            orders = self.session.oms.orders.values()
            if below is not None:
                rows = heapq.nlargest(limit + 1, (o for o in orders if _num(o) < below), key=_num)
            else:
                rows = heapq.nlargest(limit + 1, orders, key=_num)
        more = len(rows) > limit
        page = rows[:limit]
        page.reverse()
        return P.OrdersPage(orders=page, more=more)

    def _journal_page(self, below: int | None, count: int) -> list[Order]:
        """The journal's orders with ids below ``below``, newest first, at most ``count``.

        Read through the journal's ``orders_page`` when it has one, else with a read-only
        connection of our own on its ``orders`` table (one row per order, JSON of Order),
        so a page costs its own rows, not the whole history."""
        journal = self.session.journal
        paged = getattr(journal, "orders_page", None)
        if callable(paged):
            return list(paged(below, count))
        path = str(getattr(journal, "path", ":memory:"))
        if path == ":memory:":
            rows = [o for o in journal.orders() if below is None or _num(o) < below]
            return rows[::-1][:count]
        if self._orders_db is None:
            self._orders_db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        bound = below if below is not None else 1 << 62
        cur = self._orders_db.execute("SELECT data FROM orders WHERE id < ? ORDER BY id DESC LIMIT ?", (bound, count))
        return [_decode_order(r[0]) for r in cur]

    # ------------------------------------------------------------------ connections
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener: _Listener) -> None:
        if self._closing:
            writer.transport.abort()
            return
        if self.connections >= self.max_connections or listener.pending >= self.max_pending:
            self._turn_away(writer, listener)
            return
        self.connections += 1
        listener.pending += 1
        authenticated = False

        def admitted() -> None:
            nonlocal authenticated
            if not authenticated:
                authenticated = True
                listener.pending -= 1

        try:
            if listener.kind == "unix":
                sock: socket.socket = writer.get_extra_info("socket")
                try:
                    _pid, uid, _gid = peer_credentials(sock)
                except OSError:
                    uid = -1
                refusal = peer_refusal(uid, self.owner_uid)
                if refusal is not None:
                    log.warning("unix client %s", refusal)
                    await self._refuse(writer, refusal)
                    return
            await self._session(reader, writer, tcp=listener.kind == "tcp", admitted=admitted)
        finally:
            admitted()
            self.connections -= 1

    def _turn_away(self, writer: asyncio.StreamWriter, listener: _Listener) -> None:
        """A cap is full: a bye and the door, without reading a byte or waiting for anything."""
        self.turned_away += 1
        now = asyncio.get_running_loop().time()  # a rate limit on a log line, not engine time
        if now - self._turned_away_logged > 10.0:  # one line per burst, not one per connection
            self._turned_away_logged = now
            log.warning(
                "%s connection turned away: %d open (cap %d), %d awaiting their hello on this listener (cap %d); %d turned away so far",
                listener.kind, self.connections, self.max_connections, listener.pending, self.max_pending, self.turned_away,
            )
        try:
            writer.write(P.line(self._enc, P.Bye(reason="refused: too many connections")))
        except (OSError, RuntimeError):
            pass
        writer.close()

    async def _refuse(self, writer: asyncio.StreamWriter, reason: str) -> None:
        try:
            writer.write(P.line(self._enc, P.Bye(reason=reason)))
            await asyncio.wait_for(writer.drain(), 1.0)
        except (OSError, TimeoutError):
            pass
        writer.close()

    def _bye(self, link: ClientLink, reason: str) -> None:
        if not link.closed:
            link.send(P.line(self._enc, P.Bye(reason=reason)))

    async def _hello(self, lines: P.LineReader) -> P.Hello | str:
        """The client's hello, or why there is none (read within the hello's bounds)."""
        try:
            async with asyncio.timeout(self.hello_timeout):
                first = await lines.readline(self.hello_max)
        except TimeoutError:
            return f"refused: no hello within {self.hello_timeout:g} s"
        except P.LineTooLong:
            return f"refused: a hello is at most {P.size_text(self.hello_max)}"
        except (OSError, ValueError):
            return "refused: expected a hello message"
        try:
            hello = P.client_decoder(first)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return "refused: expected a hello message"
        if not isinstance(hello, P.Hello):
            return "refused: expected a hello message"
        return hello

    async def _session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, tcp: bool, admitted: Callable[[], None] = lambda: None,
    ) -> None:
        lines = P.LineReader(reader)
        hello = await self._hello(lines)
        if isinstance(hello, str):
            self.refused_at_hello += 1
            await self._refuse(writer, hello)
            return
        if hello.v != P.VERSION:
            await self._refuse(writer, f"refused: protocol version {hello.v} (this engine speaks {P.VERSION})")
            return
        if tcp and not (hello.token and self.token and hmac.compare_digest(hello.token.encode(), self.token.encode())):
            await self._refuse(writer, "refused: wrong or missing token")
            return
        admitted()
        self._serial += 1
        session_journal = self.session.journal
        session_journal.set_meta("client_seq", str(self._serial))
        kind = "".join(c for c in hello.kind if c.isalnum() or c in "-_")[:16] or "client"
        client_id = f"{kind}#{self._serial}"
        link = ClientLink(writer, client_id, quotes=hello.quotes, must_limit=self.must_limit, must_bytes=self.must_bytes)
        self._journal("client.attach", client_id, {"client": client_id, "name": hello.name[:200], "tcp": tcp})
        # Welcome and snapshot first; from here on every event lands behind them in the outbox.
        link.send(P.line(self._enc, P.Welcome(v=P.VERSION, client_id=client_id, pid=self.pid, info=self.engine.info)))
        link.send(P.line(self._enc, self.snapshot()))
        self.links[client_id] = link
        pump = asyncio.get_running_loop().create_task(link.pump())
        self._tasks.add(pump)
        pump.add_done_callback(self._tasks.discard)
        reason = "detached"
        try:
            while not link.closed:
                try:
                    data = await lines.readline(self.request_max)
                except P.LineTooLong:
                    limit = P.size_text(self.request_max)
                    log.warning("client %s cut: a request line longer than %s", client_id, limit)
                    reason = f"cut: a request longer than {limit}"
                    self._bye(link, reason)
                    break
                if not data:
                    break
                try:
                    msg = P.client_decoder(data)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    reason = f"protocol error: {exc}"
                    self._bye(link, f"protocol error: {exc}")
                    break
                if isinstance(msg, P.Hello):
                    continue
                await self._handle(link, msg)
        except (ConnectionError, OSError, ValueError):
            reason = "connection lost"
        except asyncio.CancelledError:
            reason = "engine stopping"
            raise
        finally:
            if link.cut:
                reason = "cut: too slow"
            self.links.pop(client_id, None)
            self._journal("client.detach", client_id, {"client": client_id, "reason": reason})
            self._unwatch_depth_of(link)
            await asyncio.sleep(0)  # a Bye queued just now gets its chance
            link.closed = True
            link._wake.set()
            pump.cancel()
            try:
                writer.close()
            except Exception:
                pass

    def _unwatch_depth_of(self, link: ClientLink) -> None:
        """A client that leaves stops wanting its books: the engine stops each one nobody
        else (another client, a face of the owner) still wants."""
        symbols = list(link.depth.levels)
        link.depth.forget(symbols)
        if not symbols or self._closing:
            return

        async def unwatch() -> None:
            try:
                await self.engine.unwatch_depth(symbols, holder=link.client_id)
            except Exception as exc:  # the broker could not unsubscribe: its feed ends with the session
                log.warning("depth of %s not unwatched after %s left: %s", ", ".join(symbols), link.client_id, exc)

        task = asyncio.get_running_loop().create_task(unwatch())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch_depth(self, link: ClientLink, msg: P.WatchDepth) -> P.DepthWatched:
        """Start (or share) the books of ``msg.symbols`` for this client. Another face may
        watch a symbol with more levels: the engine keeps the larger, the client gets its own."""
        from workstation.api import depth_symbols

        symbols = depth_symbols(msg.symbols)
        levels = msg.levels
        books = getattr(self.session, "depth", None)
        ask = levels
        if books is not None and not isinstance(levels, bool) and isinstance(levels, int) and 1 <= levels <= 1000:
            ask = max([levels] + [books.levels(s) or 0 for s in symbols])
        before = {s: link.depth.levels.get(s) for s in symbols}
        link.depth.want(symbols, levels)
        try:
            await self.engine.watch_depth(symbols, ask, holder=link.client_id)
        except BaseException:  # refused: what this client watched before stays as it was
            link.depth.forget([s for s, old in before.items() if old is None])
            for s, old in before.items():
                if old is not None:
                    link.depth.want([s], old)
            raise
        views, prints = [], []
        for sym in symbols:
            view = self.engine.book(sym)
            if view is not None:
                views.append(view)
            prints.extend(reversed(self.engine.tape(sym, P.TAPE_REPLY)))
        cut = DepthOutbox()
        cut.want(symbols, levels)
        for view in views:
            cut.book(view)
        return P.DepthWatched(books=list(cut.books.values()), prints=prints)

    def _journal(self, kind: str, ref: str, data: dict[str, Any]) -> None:
        try:
            self.session.journal.append(kind, data, self.engine.time(), ref=ref)
        except Exception:  # a closed journal at shutdown: the detach is not worth a crash
            log.debug("journal %s not written", kind)

    def _admin(self, msg: P.Request, who: str) -> Any:
        """Risk limits, the breaker and alert rules, changed in the serving engine (which journals them)."""
        from workstation.api import alert_rule_on, require_admin, reset_breaker_on, set_limit_on

        s = self.session
        if isinstance(msg, P.RiskSet):
            return set_limit_on(s, msg.name, msg.value, msg.strategy)
        if isinstance(msg, P.ResetBreaker):
            return reset_breaker_on(s, who)
        if isinstance(msg, P.AlertRule):
            return alert_rule_on(s, msg.op, msg.text)
        if isinstance(msg, P.AlertAck):
            return require_admin(s).alerts.ack(msg.ids)
        raise IntentError(f"unknown request {type(msg).__name__}")

    async def _strategy_op(self, msg: P.StrategyOp) -> str | None:
        desk = self._desk()
        if desk is None:
            raise IntentError("this engine runs no strategies")
        try:
            if msg.op == "start":
                await desk.start(msg.name)
            elif msg.op == "stop":
                await desk.stop(msg.name)
            elif msg.op == "pause":
                return desk.pause(msg.name)
            elif msg.op == "set_params":
                await desk.set_params(msg.name, dict(msg.params))
            else:
                raise IntentError(f"unknown strategy operation {msg.op!r}")
            return None
        finally:
            self._push_strategies()

    # ------------------------------------------------------------------ requests
    def _reply(self, link: ClientLink, req_id: int, result: Any = None, error: str | None = None) -> None:
        if error is not None:
            msg = P.Reply(id=req_id, ok=False, error=error)
        else:
            msg = P.Reply(id=req_id, result=P.raw(self._enc, result))
        link.send(P.line(self._enc, msg))

    async def _handle(self, link: ClientLink, msg: P.Request) -> None:
        try:
            result = await self._dispatch(link, msg)
        except IntentError as exc:
            self._reply(link, msg.id, error=str(exc))
            return
        except Exception as exc:  # the client gets one line; the log gets the traceback
            log.exception("request %s from %s failed", type(msg).__name__, link.client_id)
            self._reply(link, msg.id, error=f"{type(exc).__name__}: {exc}")
            return
        self._reply(link, msg.id, result)

    async def _dispatch(self, link: ClientLink, msg: P.Request) -> Any:
        e = self.engine
        oms = self.session.oms
        if isinstance(msg, P.Submit):
            req = msgspec.structs.replace(msg.request, source=link.client_id)
            order = await e.submit(req)
            if msg.wait:
                await oms.drain()
                # a market order that filled in part completes on the next quotes (as in the CLI)
                deadline = self.session.clock.monotonic() + MARKET_WAIT_S
                while order.type is OrderType.MARKET and oms.orders[order.id].status.is_working and self.session.clock.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                order = oms.orders.get(order.id, order)
            return order
        if isinstance(msg, P.Review):
            return await e.review(msgspec.structs.replace(msg.request, source=link.client_id))
        if isinstance(msg, P.Cancel):
            order = await e.cancel(msg.order_id)
            await oms.drain()
            return oms.orders.get(order.id, order)
        if isinstance(msg, P.CancelAll):
            done = await e.cancel_all()
            if msg.wait:
                await oms.drain()
            return [oms.orders.get(o.id, o) for o in done]
        if isinstance(msg, P.Replace):
            return await e.replace(msg.order_id, qty=msg.qty, limit_price=msg.limit_price, stop_price=msg.stop_price)
        if isinstance(msg, P.Flatten):
            return await e.flatten(msg.symbol, source=link.client_id)
        if isinstance(msg, P.Watch):
            link.watched.update(msg.symbols)
            await e.watch(msg.symbols)
            instruments, quotes = [], []
            for sym in msg.symbols:
                try:
                    instruments.append(e.instrument(sym))
                except IntentError:
                    continue
                q = e.quote(sym)
                if q is not None:
                    quotes.append(q)
            return P.Watched(instruments=instruments, quotes=quotes)
        if isinstance(msg, P.WatchDepth):
            return await self._watch_depth(link, msg)
        if isinstance(msg, P.UnwatchDepth):
            from workstation.api import depth_symbols

            symbols = [s for s in depth_symbols(msg.symbols) if s in link.depth.levels]
            link.depth.forget(symbols)
            if symbols:
                await e.unwatch_depth(symbols, holder=link.client_id)
            return None
        if isinstance(msg, P.History):
            return await e.history(msg.symbol, msg.seconds, max(0, min(msg.count, P.HISTORY_MAX)))
        if isinstance(msg, P.GetChain):
            return await e.option_chain(msg.underlying, msg.expiry, msg.strikes)
        if isinstance(msg, P.GetRiskReport):
            return await e.risk_report(msg.methods, msg.lookback, msg.decay, msg.replays)
        if isinstance(msg, P.GetInstrument):
            from workstation.trading.oms import OrderError

            try:
                return await oms.instrument(msg.symbol)
            except OrderError as exc:
                raise IntentError(str(exc)) from None
        if isinstance(msg, P.GetStatus):
            if self.status is None:
                raise IntentError("this engine does not report status")
            doc = self.status()
            doc["clients"] = sorted(self.links)
            doc["served_by"] = self.pid
            return doc
        if isinstance(msg, P.GetOrders):
            return self.orders_page(msg.all, msg.before, msg.limit)
        if isinstance(msg, P.AckAlerts):
            await self.engine.ack_alerts()
            self._broadcast_unread()
            return 0
        if isinstance(msg, P.Kill):
            if self.kill is None:
                raise IntentError("the kill switch is not part of this build")
            report = await self.kill(msg.reason, link.client_id)
            return msgspec.to_builtins(report) if report is not None else None
        if isinstance(msg, P.Ping):
            return e.time()
        if isinstance(msg, P.StrategyOp):
            return await self._strategy_op(msg)
        if isinstance(msg, (P.RiskSet, P.ResetBreaker, P.AlertRule, P.AlertAck)):
            try:
                return self._admin(msg, link.client_id)
            except ModelError as exc:  # RiskError, AlertRuleError and bad values: one line back
                raise IntentError(str(exc)) from None
        raise IntentError(f"unknown request {type(msg).__name__}")
