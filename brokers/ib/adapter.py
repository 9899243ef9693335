"""Interactive Brokers (TWS or IB Gateway) through ib_async.

The adapter keeps to the API ib_async shares with ib_insync. It connects with one client
id per session, qualifies contracts (tick, multiplier, exchange, currency and trading
class come from IB's contract details), streams bid/ask/last/volume into the quote sink,
and places orders with our client order id in ``orderRef``, so that after a restart our
orders are found again and other clients' orders are told apart.

Reports: an order's status events become ``BrokerAccepted``/``BrokerReplaced``/
``BrokerCanceled``/``BrokerRejected`` (error 201 is a rejection with IB's reason, 202 a
cancel); an execution becomes a ``BrokerFill`` once its commission report arrives
(``exec_id`` is IB's execId, so a fill reported twice is booked once).

IB restarts TWS and Gateway every day, so a lost connection is normal operation: the
adapter reports ``reconnecting``, retries with exponential backoff and jitter, requests
market data again, and reports ``connected``; the session then resynchronises
(executions since the last journaled fill, open orders, positions). Error 1100 (TWS lost
IB) shows as ``reconnecting``; 1101/1102 (restored) as ``connected``. Farm status
messages (2104, 2106, 2158) are logged quietly and alarm nobody.

Market depth (``reqMktDepth``) and tick-by-tick trades (``reqTickByTickData``) are the
``DepthFeed`` half, in depth.py; the adapter hands it the IB client and asks it to request
again after a reconnect.

A submit whose acknowledgement does not arrive raises ``BrokerTimeout``; the order
manager then asks ``lookup`` (by ``orderRef``) instead of sending the order again.

Why one module: one adapter around ib_async: connection and pacing, contracts, orders and
the resync share the IB client and its request ids (contracts.py already holds the pure
mapping).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from ib_async import IB, Contract, ExecutionFilter, Trade
from ib_async import Order as IBOrder

from brokers.base import (
    BookSink,
    BrokerAccepted,
    BrokerCanceled,
    BrokerError,
    BrokerFill,
    BrokerOrderState,
    BrokerRejected,
    BrokerReplaced,
    BrokerReport,
    BrokerTimeout,
    BrokerUnavailable,
    QuoteSink,
    ReportSink,
    StateSink,
    TradeSink,
    average,
    redact,
    redact_report,
)
from brokers.ib.chains import fetch_chain
from brokers.ib.combos import bag_contract, is_bag
from brokers.ib.contracts import contract_for, decimal_of, instrument_from_details, multiplier_of, order_contract, symbol_for
from brokers.ib.depth import IBDepth
from workstation.core.chain import OptionChain
from workstation.core.clock import Clock
from workstation.core.config import ConfigError, Profile
from workstation.core.model import (
    Account,
    Bar,
    ConnectionState,
    Instrument,
    ModelError,
    Order,
    OrderType,
    Position,
    Quote,
)
from workstation.core.symbols import parse_symbol

log = logging.getLogger(__name__)

FARM_OK = frozenset({2104, 2106, 2107, 2108, 2119, 2158})  # "data farm connection is OK" and kin
FARM_BROKEN = frozenset({2103, 2105, 2157})
DELAYED = frozenset({10167, 10089, 10090, 354})  # not subscribed: delayed data instead
LIVE_STATES = frozenset({"PreSubmitted", "Submitted", "ApiPending"})
DONE_STATES = frozenset({"Cancelled", "ApiCancelled", "Inactive"})
_ERROR_TEXT = re.compile(r"^(?:Error|Warning) (\d+), reqId -?\d+: (.*?)(?:, contract: .*)?$", re.S)

TIF = {"day": "DAY", "gtc": "GTC", "ioc": "IOC", "fok": "FOK"}
MARKET_DATA_TYPES = {"live": 1, "frozen": 2, "delayed": 3, "delayed-frozen": 4}
BAR_SIZES = {1: "1 secs", 5: "5 secs", 10: "10 secs", 15: "15 secs", 30: "30 secs", 60: "1 min", 120: "2 mins",
             180: "3 mins", 300: "5 mins", 900: "15 mins", 1800: "30 mins", 3600: "1 hour", 7200: "2 hours",
             14400: "4 hours", 86400: "1 day", 604800: "1 week"}


def default_port(live: bool, gateway: bool) -> int:
    """TWS listens on 7497 (paper) and 7496 (live); IB Gateway on 4002 and 4001."""
    if gateway:
        return 4001 if live else 4002
    return 7496 if live else 7497


@dataclass(frozen=True, slots=True)
class IBConfig:
    name: str = "ib-paper"
    host: str = "127.0.0.1"
    port: int = 7497
    client_id: int = 1
    account: str = ""  # empty: the only managed account (or the first)
    market_data: str = "live"  # live, frozen, delayed, delayed-frozen
    connect_timeout: float = 8.0  # a one-shot command gives up after this (and says where it tried)
    request_timeout: float = 10.0
    submit_timeout: float = 5.0  # no acknowledgement by then: BrokerTimeout, resolved by lookup
    commission_wait: float = 2.0  # a fill whose commission report does not come is booked without it
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    first_quote_wait: float = 1.5  # subscribe waits this long at most for the first quotes
    heartbeat: float = 30.0  # ask TWS the time when this many seconds pass; 0 turns the check off
    heartbeat_timeout: float = 10.0  # no answer by then: the socket is stale, drop it and reconnect
    depth_wait: float = 1.0  # subscribe_depth/_trades wait this long at most for the first rows or IB's refusal

    TIMINGS = ("connect_timeout", "request_timeout", "submit_timeout", "commission_wait", "backoff_initial",
               "backoff_max", "first_quote_wait", "heartbeat", "heartbeat_timeout", "depth_wait")
    OPTIONS = ("host", "port", "client_id", "account", "gateway", "market_data", *TIMINGS)

    @classmethod
    def from_profile(cls, profile: Profile) -> IBConfig:
        opts = dict(profile.options)
        unknown = sorted(set(opts) - set(cls.OPTIONS))
        if unknown:
            raise ConfigError(f"profile {profile.name!r}: unknown IB option(s) {', '.join(unknown)} (known: {', '.join(cls.OPTIONS)})")
        gateway = bool(opts.pop("gateway", False))
        market_data = str(opts.get("market_data", "live"))
        if market_data not in MARKET_DATA_TYPES:
            raise ConfigError(f"profile {profile.name!r}: market_data must be one of {', '.join(MARKET_DATA_TYPES)}")
        try:
            return cls(
                name=profile.name,
                host=str(opts.get("host", "127.0.0.1")),
                port=int(opts.get("port", default_port(profile.live, gateway))),
                client_id=int(opts.get("client_id", 1)),
                account=str(opts.get("account", "")),
                market_data=market_data,
                **{k: float(opts[k]) for k in cls.TIMINGS if k in opts},
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"profile {profile.name!r}: bad IB option: {exc}") from None


class IBBroker:
    keeps_account = True
    supports_combos = True  # a spread is one BAG order (brokers/ib/combos.py)

    def __init__(self, config: IBConfig, clock: Clock, *, rng: random.Random | None = None) -> None:
        self.config = config
        self.name = config.name
        self.clock = clock
        self._rng = rng or random.Random()
        self._ib = IB()
        self._ib.RaiseRequestErrors = False
        if logging.getLogger("ib_async").level == logging.NOTSET:
            # ib_async logs every order error at ERROR; we report them ourselves, once, readably
            logging.getLogger("ib_async").setLevel(logging.CRITICAL)
        self._report: ReportSink = lambda r: None
        self._quote: QuoteSink = lambda q: None
        self._state_sink: StateSink = lambda s: None
        self.state = "disconnected"
        self.detail = ""
        self.client_id = config.client_id
        self.account_id = config.account
        self.delayed = False
        self._up = False
        self._stale = False
        self._closing = False
        self._reconnect_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None
        self._instruments: dict[str, Instrument] = {}
        self._contracts: dict[str, Contract] = {}
        self._symbols: dict[int, str] = {}  # conId -> our symbol
        self._wanted: list[str] = []  # subscribed symbols, requested again after a reconnect
        self._tickers: dict[int, str] = {}  # id(ticker) -> symbol
        self._quotes: dict[str, Quote] = {}
        self._accepted: set[str] = set()
        self._modifying: dict[str, tuple[Decimal, Decimal | None, Decimal | None]] = {}
        self._waiters: dict[str, asyncio.Future[str]] = {}
        self._pending_fills: dict[str, tuple[Any, asyncio.TimerHandle]] = {}
        self._reported_fills: set[str] = set()
        ib = self._ib
        ib.orderStatusEvent += self._on_status
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission
        ib.errorEvent += self._on_error
        ib.pendingTickersEvent += self._on_tickers
        ib.disconnectedEvent += self._on_disconnected
        self._depth = IBDepth(ib, clock, resolve=self._contract, online=self._online, quote_of=self._quotes.get,
                              answer_wait=lambda: self.config.depth_wait)

    # ------------------------------------------------------------------ sinks and state
    def attach(self, on_report: ReportSink, on_quote: QuoteSink, on_state: StateSink) -> None:
        self._report = lambda report: on_report(redact_report(report))
        self._quote, self._state_sink = on_quote, on_state

    @property
    def where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def _emit_state(self, state: str, detail: str) -> None:
        detail = redact(detail)
        self.state, self.detail = state, detail
        self._state_sink(ConnectionState(broker=self.name, state=state, detail=detail, ts=self.clock.time()))

    def _connected_detail(self) -> str:
        data = "delayed market data (no live subscription)" if self.delayed else f"{self.config.market_data} market data"
        return (f"TWS/Gateway {self.where}, server version {self._ib.client.serverVersion()}, client id {self.client_id}, "
                f"account {self.account_id or '?'}; {data}")

    def _emit(self, report: BrokerReport) -> None:
        try:
            self._report(report)
        except Exception:  # the engine's own errors must not stop the socket reader
            log.exception("report sink failed for %s", report)

    # ------------------------------------------------------------------ connection
    async def connect(self) -> None:
        """Connect once; BrokerUnavailable (naming host:port) if TWS cannot be reached."""
        self._closing = False
        self._ready = asyncio.Event()
        try:
            await self._connect_once()
        except BrokerUnavailable as exc:
            self._emit_state("disconnected", str(exc))
            raise
        await self._after_connect()
        self._emit_state("connected", self._connected_detail())

    async def _connect_once(self, *, next_id_if_taken: bool = True) -> None:
        """One connection attempt. At start-up a client id in use (another session) moves us to the
        next one; a reconnect keeps ours (the orders we placed are only ours to change under it)."""
        loop = asyncio.get_running_loop()
        attempts = 0
        while True:
            failed: asyncio.Future[str] = loop.create_future()
            codes: list[int] = []

            def on_api_error(msg: str, failed=failed) -> None:
                if not failed.done():
                    failed.set_result(str(msg))

            def on_error(req_id: int, code: int, text: str, contract: Any, codes=codes) -> None:
                codes.append(code)

            def on_socket_closed(msg: str = "", failed=failed) -> None:
                if not failed.done():
                    failed.set_result(str(msg) or "TWS closed the connection during the handshake")

            self._ib.client.apiError += on_api_error
            self._ib.client.conn.disconnected += on_socket_closed
            self._ib.errorEvent += on_error
            task = loop.create_task(
                self._ib.connectAsync(self.config.host, self.config.port, clientId=self.client_id,
                                      timeout=self.config.connect_timeout, account=self.config.account)
            )
            try:
                done, _ = await asyncio.wait({task, failed}, timeout=self.config.connect_timeout + 1,
                                             return_when=asyncio.FIRST_COMPLETED)
                if task in done and task.exception() is None:
                    break
                reason = (task.exception() if task in done else failed.result() if failed in done else "timed out")
                if not task.done():
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            finally:
                self._ib.client.apiError -= on_api_error
                self._ib.client.conn.disconnected -= on_socket_closed
                self._ib.errorEvent -= on_error
            if 326 in codes and next_id_if_taken and attempts < 4:
                attempts += 1
                self.client_id += 1
                continue
            text = _reason(reason)
            if 326 in codes:
                text = (f"client ids {self.config.client_id}..{self.client_id} are all in use" if next_id_if_taken
                        else f"client id {self.client_id} is still in use")
            raise BrokerUnavailable(f"cannot reach TWS/IB Gateway at {self.where}: {text}")
        accounts = self._ib.managedAccounts()
        if self.config.account and self.config.account not in accounts:
            self._ib.disconnect()
            raise BrokerUnavailable(
                f"account {self.config.account} is not managed by the TWS at {self.where} (it has {', '.join(accounts)})"
            )
        self.account_id = self.config.account or (accounts[0] if accounts else "")
        self._up = True

    async def _after_connect(self) -> None:
        self.delayed = False
        self._ib.reqMarketDataType(MARKET_DATA_TYPES[self.config.market_data])
        self._tickers.clear()
        for symbol in self._wanted:
            self._request_market_data(symbol)
        self._depth.request_again()
        if self._ready is not None:
            self._ready.set()
        if self.config.heartbeat > 0:
            self._heartbeat_task = asyncio.get_running_loop().create_task(self._heartbeat())

    async def _heartbeat(self) -> None:
        """A socket can stay open while TWS hangs: ask it the time now and then, and reconnect if it is mute."""
        while self._up and not self._closing:
            await asyncio.sleep(self.config.heartbeat)
            if not self._up or self._closing:
                return
            try:
                await asyncio.wait_for(self._ib.reqCurrentTimeAsync(), self.config.heartbeat_timeout)
            except (TimeoutError, ConnectionError):
                if self._up and not self._closing:
                    self._stale = True
                    self._ib.disconnect()  # -> _on_disconnected -> reconnect
                return

    def _on_disconnected(self) -> None:
        if self._closing or not self._up:
            return
        self._up = False
        if self._ready is not None:
            self._ready.clear()
        for cid, waiter in list(self._waiters.items()):
            if not waiter.done():
                waiter.set_exception(BrokerTimeout(f"connection to TWS at {self.where} lost before order {cid} was acknowledged"))
        if self._stale:
            why = f"TWS/Gateway at {self.where} stopped answering (no reply within {self.config.heartbeat_timeout:g}s)"
        else:
            why = f"lost the connection to TWS/Gateway at {self.where}"
        self._stale = False
        self._emit_state("reconnecting", f"{why}; reconnecting")
        self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff, capped: the longest wait before attempt ``attempt + 1``."""
        return min(self.config.backoff_max, self.config.backoff_initial * 2 ** attempt)

    async def _reconnect(self) -> None:
        attempt = 0
        while not self._closing:
            delay = self._backoff(attempt) * self._rng.uniform(0.5, 1.0)  # jitter: restarts do not stampede
            await asyncio.sleep(delay)
            if self._closing:
                return
            try:
                await self._connect_once(next_id_if_taken=False)
            except BrokerUnavailable as exc:
                attempt += 1
                self._emit_state("reconnecting", f"{exc}; attempt {attempt + 1} in up to {self._backoff(attempt):.0f}s")
                continue
            await self._after_connect()
            self._emit_state("connected", self._connected_detail())
            return

    async def close(self) -> None:
        self._closing = True
        for task in (self._reconnect_task, self._heartbeat_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for _, handle in self._pending_fills.values():
            handle.cancel()
        self._pending_fills.clear()
        self._up = False
        self._ib.disconnect()
        if self.state != "disconnected":
            self._emit_state("disconnected", f"closed the connection to {self.where}")

    async def _online(self, wait: float = 0.0) -> None:
        """Raise BrokerUnavailable unless connected (waiting up to ``wait`` s for a reconnect)."""
        if self._up and self._ib.isConnected():
            return
        if wait > 0 and self._ready is not None and not self._closing:
            try:
                await asyncio.wait_for(self._ready.wait(), wait)
                return
            except TimeoutError:
                pass
        raise BrokerUnavailable(f"not connected to TWS/IB Gateway at {self.where}")

    async def _request(self, awaitable, what: str):
        try:
            return await asyncio.wait_for(awaitable, self.config.request_timeout)
        except TimeoutError:
            raise BrokerTimeout(f"TWS at {self.where} did not answer {what} within {self.config.request_timeout:.0f}s") from None
        except ConnectionError as exc:
            raise BrokerUnavailable(redact(f"lost TWS at {self.where} during {what}: {exc}")) from None

    # ------------------------------------------------------------------ errors
    def _on_error(self, req_id: int, code: int, text: str, contract: Any) -> None:
        if code in FARM_OK:
            log.debug("IB %s: %s", code, text)
            return
        if code in FARM_BROKEN:
            log.info("IB %s: %s", code, text)
            return
        if code in DELAYED:
            if not self.delayed:
                self.delayed = True
                if self._up:
                    self._emit_state("connected", self._connected_detail())
            return
        if code in (1100, 2110):
            self._emit_state("reconnecting", f"TWS at {self.where} lost its connection to IB ({code}); waiting for it to return")
        elif code in (1101, 1102):
            lost = code == 1101
            if lost:
                self._tickers.clear()
                for symbol in self._wanted:
                    self._request_market_data(symbol)
                self._depth.request_again()
            what = "market data requested again" if lost else "data kept"
            self._emit_state("connected", f"TWS at {self.where} reconnected to IB ({code}, {what}); {self._connected_detail()}")
        elif code == 1300:
            self._emit_state("reconnecting", f"TWS at {self.where} changed its socket port (1300): {text}")
        elif req_id == -1:
            log.info("IB %s: %s", code, text)

    # ------------------------------------------------------------------ instruments
    async def instrument(self, symbol: str) -> Instrument:
        try:
            inst = parse_symbol(symbol)
        except ModelError as exc:
            raise BrokerError(redact(str(exc))) from None
        known = self._instruments.get(inst.symbol)
        if known is not None:
            return known
        await self._online()
        details = await self._request(self._ib.reqContractDetailsAsync(contract_for(inst)), f"contract details for {inst.symbol}")
        if not details:
            raise BrokerError(f"IB has no contract for {inst.symbol}")
        if len(details) > 1:
            same = [d for d in details if d.contract and d.contract.currency == inst.currency]
            if len(same) != 1:
                places = ", ".join(sorted({d.contract.exchange for d in details if d.contract}))
                raise BrokerError(f"{inst.symbol} is ambiguous at IB (listed on {places}); name a single contract")
            details = same
        result = instrument_from_details(inst, details[0])
        contract = order_contract(details[0])
        self._instruments[inst.symbol] = result
        self._contracts[inst.symbol] = contract
        self._symbols[contract.conId] = inst.symbol
        return result

    async def _contract(self, symbol: str) -> Contract:
        if symbol not in self._contracts:
            await self.instrument(symbol)
        return self._contracts[symbol]

    def _symbol(self, contract: Contract) -> str:
        return self._symbols.get(contract.conId) or symbol_for(contract)

    # ------------------------------------------------------------------ market data
    async def subscribe(self, symbols: list[str]) -> None:
        """Request streaming data; wait (up to ``first_quote_wait``) for the first quotes, so that
        a one-shot command can price a market order or print a table straight away."""
        new = []
        for symbol in symbols:
            if symbol in self._wanted:
                continue
            try:
                await self._contract(symbol)
            except BrokerError as exc:
                log.warning("no market data for %s: %s", symbol, exc)
                continue
            self._wanted.append(symbol)
            if self._up:
                self._request_market_data(symbol)
                new.append(symbol)
        if new and self.config.first_quote_wait > 0:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.config.first_quote_wait
            while any(s not in self._quotes for s in new) and loop.time() < deadline and self._up:
                await asyncio.sleep(0.01)

    def _request_market_data(self, symbol: str) -> None:
        ticker = self._ib.reqMktData(self._contracts[symbol], "", False, False)
        self._tickers[id(ticker)] = symbol

    async def unsubscribe(self, symbols: list[str]) -> None:
        for symbol in symbols:
            if symbol in self._wanted:
                self._wanted.remove(symbol)
                if self._up:
                    self._ib.cancelMktData(self._contracts[symbol])
                for key, sym in list(self._tickers.items()):
                    if sym == symbol:
                        del self._tickers[key]

    def _on_tickers(self, tickers) -> None:
        now = self.clock.time()
        for t in tickers:
            symbol = self._tickers.get(id(t))
            if symbol is None:
                continue
            if t.marketDataType in (3, 4) and not self.delayed:
                self.delayed = True
                self._emit_state("connected", self._connected_detail())
            bid, ask, last = _f(t.bid), _f(t.ask), _f(t.last)
            if bid <= 0 and ask <= 0 and last <= 0:
                continue
            q = Quote(
                symbol=symbol, ts=now, bid=bid, ask=ask, last=last or (bid + ask) / 2 if bid > 0 and ask > 0 else last,
                bid_size=_f(t.bidSize), ask_size=_f(t.askSize), volume=_f(t.volume), prev_close=_f(t.close),
            )
            self._quotes[symbol] = q
            self._quote(q)

    def snapshot(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    # ------------------------------------------------------------------ depth and the tape (brokers/ib/depth.py)
    def attach_depth(self, on_book: BookSink, on_trade: TradeSink) -> None:
        self._depth.attach(on_book, on_trade)

    async def subscribe_depth(self, symbols: list[str], levels: int = 20) -> None:
        await self._depth.subscribe_depth(symbols, levels)

    async def unsubscribe_depth(self, symbols: list[str]) -> None:
        await self._depth.unsubscribe_depth(symbols)

    async def subscribe_trades(self, symbols: list[str]) -> None:
        await self._depth.subscribe_trades(symbols)

    async def unsubscribe_trades(self, symbols: list[str]) -> None:
        await self._depth.unsubscribe_trades(symbols)

    async def option_chain(self, underlying: str, expiry: date | None = None) -> OptionChain:
        """Listed expiries (``reqSecDefOptParams``) and one expiry's contracts with TWS's Greeks (brokers/ib/chains.py)."""
        await self._online()
        symbol = (await self.instrument(underlying)).symbol
        contract = self._contracts[symbol]
        known = self._quotes.get(symbol)
        spot = (known.bid + known.ask) / 2 if known and known.bid > 0 and known.ask > 0 else known.last if known else None
        streaming = {self._contracts[s].conId for s in self._wanted if s in self._contracts}
        return await fetch_chain(self._ib, symbol, contract, expiry, request=self._request, now=self.clock.time(),
                                 spot=spot, streaming=streaming)

    async def history(self, symbol: str, seconds: int, start: float, end: float) -> list[Bar]:
        await self._online()
        contract = await self._contract(symbol)
        size = BAR_SIZES.get(seconds)
        if size is None:
            raise BrokerError(f"IB has no {seconds}-second bars (sizes: {', '.join(str(s) for s in BAR_SIZES)})")
        span = max(seconds, int(math.ceil(end - start)))
        if span <= 86_400:
            duration = f"{span} S"
        elif span <= 365 * 86_400:
            duration = f"{math.ceil(span / 86_400)} D"
        else:
            duration = f"{math.ceil(span / (365 * 86_400))} Y"
        what = "MIDPOINT" if contract.secType == "CASH" else "AGGTRADES" if contract.secType == "CRYPTO" else "TRADES"
        bars = await self._request(
            self._ib.reqHistoricalDataAsync(contract, datetime.fromtimestamp(end, tz=timezone.utc), duration, size, what, False, 2),
            f"historical bars for {symbol}",
        )
        out = []
        for b in bars or []:
            when = b.date if isinstance(b.date, datetime) else datetime(b.date.year, b.date.month, b.date.day, tzinfo=timezone.utc)
            ts = when.timestamp()
            if start <= ts <= end:
                out.append(Bar(symbol=symbol, ts=ts, open=b.open, high=b.high, low=b.low, close=b.close,
                               volume=max(0.0, b.volume), seconds=seconds))
        return out

    # ------------------------------------------------------------------ orders
    def _ib_order(self, order: Order) -> IBOrder:
        o = IBOrder(action="BUY" if order.side.value == "buy" else "SELL", totalQuantity=float(order.qty),
                    tif=TIF[order.tif.value], orderRef=order.client_id, account=self.account_id)
        t = order.type
        if t is OrderType.MARKET:
            o.orderType = "MKT"
        elif t is OrderType.LIMIT:
            o.orderType, o.lmtPrice = "LMT", float(order.limit_price)
        elif t is OrderType.STOP:
            o.orderType, o.auxPrice = "STP", float(order.stop_price)
        elif t is OrderType.STOP_LIMIT:
            o.orderType, o.lmtPrice, o.auxPrice = "STP LMT", float(order.limit_price), float(order.stop_price)
        else:
            o.orderType = "TRAIL"
            if order.trail_percent is not None:
                o.trailingPercent = float(order.trail_percent)
            else:
                o.auxPrice = float(order.trail_amount)
        if order.extended:
            o.outsideRth = True  # may fill outside regular trading hours (pre- and post-market)
        return o

    def _trade(self, client_id: str, confirmed: bool = False) -> Trade | None:
        """Our order's trade by orderRef; ``confirmed``: only if TWS has reported it (it has a permId)."""
        found = [t for t in self._ib.trades() if t.order.orderRef == client_id and (t.order.permId or not confirmed)]
        live = [t for t in found if t.orderStatus.status not in ("Cancelled", "ApiCancelled", "Inactive", "Filled")]
        return (live or found or [None])[-1]

    async def _await_answer(self, client_id: str, what: str) -> str:
        waiter = self._waiters.get(client_id)
        assert waiter is not None
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), self.config.submit_timeout)
        except TimeoutError:
            raise BrokerTimeout(
                f"TWS at {self.where} did not acknowledge {what} of order {client_id} within {self.config.submit_timeout:g}s"
            ) from None
        finally:
            self._waiters.pop(client_id, None)

    async def submit(self, order: Order) -> None:
        await self._online()
        contract = await (bag_contract(order, self._contract) if order.legs else self._contract(order.symbol))
        self._waiters[order.client_id] = asyncio.get_running_loop().create_future()
        self._ib.placeOrder(contract, self._ib_order(order))
        await self._await_answer(order.client_id, "the submit")

    def _own_trade(self, order: Order) -> Trade:
        trade = self._trade(order.client_id)
        if trade is None or trade.isDone():
            raise BrokerError(f"order {order.id} is not open at IB")
        if trade.order.clientId not in (self.client_id, 0) and self.client_id != 0:
            raise BrokerError(
                f"order {order.id} was placed by API client id {trade.order.clientId}; this session is client id "
                f"{self.client_id}, and IB lets only the placing client (or client id 0) change it"
            )
        return trade

    async def cancel(self, order: Order) -> None:
        await self._online()
        trade = self._own_trade(order)
        self._waiters[order.client_id] = asyncio.get_running_loop().create_future()
        self._ib.cancelOrder(trade.order)
        try:
            await self._await_answer(order.client_id, "the cancel")
        except BrokerTimeout as exc:
            log.warning("%s", exc)  # the cancel went out; its outcome arrives as a report

    async def replace(self, order: Order, qty: Decimal, limit_price: Decimal | None, stop_price: Decimal | None) -> None:
        await self._online()
        trade = self._own_trade(order)
        modified = trade.order
        modified.totalQuantity = float(qty)
        if limit_price is not None:
            modified.lmtPrice = float(limit_price)
        if stop_price is not None:
            modified.auxPrice = float(stop_price)
        self._modifying[order.client_id] = (qty, limit_price, stop_price)
        self._waiters[order.client_id] = asyncio.get_running_loop().create_future()
        self._ib.placeOrder(trade.contract, modified)  # same orderId: IB modifies in place
        answer = await self._await_answer(order.client_id, "the modification")
        if answer.startswith("refused:"):
            raise BrokerError(f"IB refused to modify order {order.id}: {answer[8:].strip()}")

    def _answer(self, client_id: str, text: str) -> None:
        waiter = self._waiters.get(client_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(text)

    def _on_status(self, trade: Trade) -> None:
        cid = trade.order.orderRef
        if not cid:
            return
        status = trade.orderStatus.status
        now = self.clock.time()
        if status in LIVE_STATES:
            if cid in self._modifying:
                qty, limit, stop = self._modifying.pop(cid)
                self._emit(BrokerReplaced(client_id=cid, qty=qty, limit_price=limit, stop_price=stop, ts=now))
            elif cid not in self._accepted:
                self._accepted.add(cid)
                self._emit(BrokerAccepted(client_id=cid, broker_id=str(trade.order.permId or trade.order.orderId), ts=now))
            self._answer(cid, status)
        elif status == "Filled":
            self._answer(cid, status)
        elif status in DONE_STATES and cid in self._modifying and _last_error(trade)[0] not in (0, 202):
            # IB refused a modification; the order itself still works at IB (ib_async marks it
            # cancelled on any order error, so put its status back)
            self._modifying.pop(cid, None)
            code, text = _last_error(trade)
            trade.orderStatus.status = "Submitted"
            self._answer(cid, f"refused: {text.split('reason:', 1)[-1].strip() or text} (IB error {code})")
        elif status in DONE_STATES:
            code, text = _last_error(trade)
            accepted = cid in self._accepted
            if not accepted and (status == "Inactive" or code):
                why = text.split("reason:", 1)[-1].strip() or text or status
                self._emit(BrokerRejected(client_id=cid, reason=f"{why} (IB error {code})" if code else why, ts=now))
            else:
                # a working order IB cancels (202, or a 201 after acceptance: margin, a halted contract...)
                why = text.split("reason:", 1)[-1].strip() if code else ""
                reason = (why if code == 202 else f"{why} (IB error {code})") if why else None
                self._emit(BrokerCanceled(client_id=cid, reason=reason, ts=now))
            self._modifying.pop(cid, None)
            self._answer(cid, status)
        elif status == "ValidationError" and cid in self._modifying:
            self._modifying.pop(cid, None)
            code, text = _last_error(trade)
            self._answer(cid, f"refused: {text} (IB error {code})")
        elif status == "ValidationError" and cid not in self._accepted and _last_error(trade)[0] == 321:
            # "Error validating request" (e.g. the API is in read-only mode): the order was not placed
            code, text = _last_error(trade)
            why = text.split("cause - ", 1)[-1].strip() or text
            self._emit(BrokerRejected(client_id=cid, reason=f"{why} (IB error {code})", ts=now))
            self._answer(cid, status)

    def _on_exec(self, trade: Trade, fill) -> None:
        exec_id = fill.execution.execId
        if exec_id in self._reported_fills or exec_id in self._pending_fills or is_bag(fill.contract):
            return  # a combo's own BAG line: its legs are the fills
        loop = asyncio.get_running_loop()
        handle = loop.call_later(self.config.commission_wait, self._commission_late, exec_id)
        self._pending_fills[exec_id] = (fill, handle)

    def _on_commission(self, trade: Trade, fill, report) -> None:
        pending = self._pending_fills.pop(fill.execution.execId, None)
        if pending is not None:
            pending[1].cancel()
        self._fill(fill, decimal_of(report.commission))

    def _commission_late(self, exec_id: str) -> None:
        pending = self._pending_fills.pop(exec_id, None)
        if pending is not None:
            log.warning("no commission report for execution %s within %.1fs; booked without commission",
                        exec_id, self.config.commission_wait)
            self._fill(pending[0], Decimal(0))

    def _broker_fill(self, fill, commission: Decimal) -> BrokerFill:
        ex = fill.execution
        return BrokerFill(
            client_id=ex.orderRef or f"ib-{ex.permId}", exec_id=ex.execId, qty=decimal_of(ex.shares), price=decimal_of(ex.price),
            commission=commission, symbol=self._symbol(fill.contract), side="buy" if ex.side == "BOT" else "sell",
            ts=ex.time.timestamp(),
        )

    def _fill(self, fill, commission: Decimal) -> None:
        exec_id = fill.execution.execId
        if exec_id in self._reported_fills or is_bag(fill.contract):
            return
        self._reported_fills.add(exec_id)
        self._emit(self._broker_fill(fill, commission))

    # ------------------------------------------------------------------ resync
    async def open_orders(self) -> list[BrokerOrderState]:
        await self._online()
        # all clients' orders: ours placed under another client id (another session) are still ours
        await self._request(self._ib.reqAllOpenOrdersAsync(), "open orders")
        return [self._state_of(t) for t in self._ib.openTrades()]

    def _state_of(self, t: Trade) -> BrokerOrderState:
        o = t.order
        return BrokerOrderState(
            client_id=o.orderRef or f"ib-{o.permId}", broker_id=str(o.permId or o.orderId), symbol=self._symbol(t.contract),
            side="buy" if o.action == "BUY" else "sell", qty=decimal_of(o.totalQuantity),
            filled_qty=decimal_of(t.orderStatus.filled), status=t.orderStatus.status.lower(),
            limit_price=decimal_of(o.lmtPrice) if o.orderType in ("LMT", "STP LMT") else None,
            stop_price=decimal_of(o.auxPrice) if o.orderType in ("STP", "STP LMT") else None,
        )

    async def fills_since(self, ts: float) -> list[BrokerFill]:
        await self._online(wait=self.config.request_timeout)
        since = datetime.fromtimestamp(max(0.0, ts), tz=timezone.utc).strftime("%Y%m%d-%H:%M:%S")
        fills = await self._request(self._ib.reqExecutionsAsync(ExecutionFilter(time=since)), "executions")
        known = {f.execution.execId: f for f in self._ib.fills()}
        out = []
        for f in fills or []:
            if f.execution.time.timestamp() < ts or is_bag(f.contract):
                continue
            report = known.get(f.execution.execId, f).commissionReport
            out.append(self._broker_fill(f, decimal_of(report.commission) if report.execId else Decimal(0)))
        return out

    async def lookup(self, client_id: str) -> BrokerOrderState | None:
        await self._online(wait=self.config.request_timeout)
        await self._request(self._ib.reqAllOpenOrdersAsync(), "open orders")
        trade = self._trade(client_id, confirmed=True)
        if trade is not None:
            return self._state_of(trade)
        fills = await self._request(self._ib.reqExecutionsAsync(ExecutionFilter()), "executions")
        mine = [f for f in fills or [] if f.execution.orderRef == client_id]
        if not mine:
            return None
        last = ([f for f in mine if is_bag(f.contract)] or mine)[-1]  # a combo: its BAG line counts units
        ex = last.execution
        return BrokerOrderState(
            client_id=client_id, broker_id=str(ex.permId), symbol=self._symbol(last.contract),
            side="buy" if ex.side == "BOT" else "sell", qty=decimal_of(ex.cumQty), filled_qty=decimal_of(ex.cumQty), status="filled",
        )

    async def positions(self) -> list[Position]:
        await self._online()
        rows = await self._request(self._ib.reqPositionsAsync(), "positions")
        out = []
        for p in rows or []:
            if self.account_id and p.account != self.account_id or not p.position:
                continue
            mult = multiplier_of(p.contract)
            avg = decimal_of(p.avgCost)
            if p.contract.secType in ("FUT", "OPT", "FOP"):
                avg = avg / mult  # IB's avgCost is per contract
            avg = average(avg)
            out.append(Position(symbol=self._symbol(p.contract), qty=decimal_of(p.position), avg_price=avg,
                                multiplier=mult, currency=p.contract.currency or "USD"))
        return out

    async def account(self) -> Account | None:
        await self._online()
        values = {(v.tag, v.currency): v.value for v in self._ib.accountValues(self.account_id)}
        base = next((ccy for (tag, ccy) in values if tag == "NetLiquidation" and ccy not in ("", "BASE")), None)
        if base is None:
            return None

        def get(tag: str) -> Decimal:
            try:
                return Decimal(values.get((tag, base), "0") or "0")
            except ArithmeticError:
                return Decimal(0)

        def told(tag: str) -> Decimal | None:  # None when TWS has not said it
            try:
                return Decimal(values[(tag, base)])
            except (KeyError, ArithmeticError):
                return None

        try:  # sent without a currency; -1 means no limit (not a pattern day trader's count)
            left: int | None = int(values.get(("DayTradesRemaining", ""), ""))
        except ValueError:
            left = None
        return Account(
            currency=base, cash=get("TotalCashValue"), equity=get("NetLiquidation"), buying_power=get("BuyingPower"),
            market_value=get("GrossPositionValue"), unrealized_pnl=get("UnrealizedPnL"), realized_pnl=get("RealizedPnL"),
            from_broker=True, initial_margin=told("InitMarginReq"), maintenance_margin=told("MaintMarginReq"),
            excess_liquidity=told("ExcessLiquidity"), day_trades_left=left if left is not None and left >= 0 else None,
        )


def _f(x: float) -> float:
    return 0.0 if x is None or x != x or x < 0 else float(x)


def _last_error(trade: Trade) -> tuple[int, str]:
    for entry in reversed(trade.log):
        if entry.errorCode:
            m = _ERROR_TEXT.match(entry.message)
            return entry.errorCode, (m.group(2) if m else entry.message)
    return 0, ""


def _reason(exc: object) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is TWS or IB Gateway running with the API enabled on this port?)"
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "no answer to the API handshake"
    text = redact(str(exc).strip() or type(exc).__name__)
    if "Peer closed" in text or "Socket disconnect" in text:
        return "TWS closed the connection during the handshake"
    return text.splitlines()[0]
