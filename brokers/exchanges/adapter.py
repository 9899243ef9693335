"""The ccxt adapter: crypto spot on any ccxt exchange (and fiat pairs where one lists them).

REST goes through ``ccxt.async_support`` and streams through ``ccxt.pro`` (the same
exchange object does both). Quotes come from ``watch_tickers`` (binance: the full
``@ticker`` stream, which carries bid, ask and last), order updates from ``watch_orders``;
an exchange without websockets (or ``websockets = false``) is polled instead. Market depth
and the tape (``DepthFeed``) are delegated to ``brokers/exchanges/depth.py``.

Symbols
-------
The engine's ``BTC/USD`` becomes the exchange's market by one rule: the exchange's own
``BTC/USD`` if it lists one, else the quote currency mapped through ``quote_map``
(default ``{"USD": "USDT"}``: ``BTC/USD`` trades as ``BTC/USDT``). ``symbol_map`` pins a
symbol explicitly (``{"BTC/USD" = "BTC/FDUSD"}``). Balances become positions named
``ASSET/<base currency>``; the base currency and the assets it maps to are cash.

Orders
------
Our client order id goes out as the exchange's client order id. A replace is
cancel-and-new, made safe against double fills: cancel, read back the old order's final
filled quantity, then send a new order (client id ``<ours>.r<n>``) for the remainder only;
every report of every leg is keyed by our client id. Fills come from the exchange's trade
ids, so a fill seen on the stream, in a REST answer and in a resync is the same ``exec_id``.

Connection
----------
Each stream reconnects with exponential backoff and jitter; a quote stream silent for
``stale_seconds`` is closed and reopened. The state goes ``connecting -> connected ->
reconnecting -> connected`` through the ``on_state`` sink (the session resynchronises on
each return to connected). Keys come from ``WORKSTATION_<EXCHANGE>_API_KEY`` and
``WORKSTATION_<EXCHANGE>_SECRET`` or the OS keyring (service ``workstation``, user
``<exchange>-api-key`` / ``<exchange>-secret``); they are never printed or logged.

Why one module: one adapter around one SDK: its streams, its order paths and its resync
share the exchange client, the market table and the order map; split, each part would
reach into the others' state.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import ccxt  # the real package: this module is brokers.exchanges.adapter, never "ccxt"
import ccxt.pro as ccxtpro
import msgspec

from brokers.base import (
    BrokerAccepted,
    BrokerCanceled,
    BrokerError,
    BrokerExpired,
    BrokerFill,
    BrokerOrderState,
    BrokerRejected,
    BrokerReplaced,
    BrokerReport,
    BrokerTimeout,
    BrokerUnavailable,
    average,
    exact,
    redact,
    redact_report,
)
from brokers.exchanges.chains import fetch_chain
from brokers.exchanges.config import CcxtConfig, RedactingLogger, key_variables, load_keys, rewrite_urls
from brokers.exchanges.depth import BookStreams
from workstation.core.chain import OptionChain
from workstation.core.clock import Clock
from workstation.core.model import (
    ZERO,
    Account,
    AssetClass,
    Bar,
    ConnectionState,
    Instrument,
    ModelError,
    Order,
    OrderType,
    Position,
    Quote,
    TimeInForce,
    plain,
    to_decimal,
)
from workstation.core.symbols import parse_symbol

log = logging.getLogger(__name__)

TIMEFRAMES = {60: "1m", 180: "3m", 300: "5m", 900: "15m", 1800: "30m", 3600: "1h", 7200: "2h", 14400: "4h", 86400: "1d", 604800: "1w"}
_LEG = re.compile(r"^(.*)\.r(\d+)$")


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return Decimal(int(value))  # ccxt hands amounts over as floats; 100000.0 is 100000
    try:
        return to_decimal(value if not isinstance(value, float) else exact(value))  # no binary noise
    except ModelError:
        return None


@dataclass
class _Leg:
    """One exchange order carrying (part of) one of our orders."""

    exchange_cid: str
    client_id: str
    symbol: str  # the exchange's market symbol
    side: str
    qty: Decimal
    order_id: str | None = None
    filled: Decimal = ZERO  # as last reported by the exchange
    reported: Decimal = ZERO  # fills we have sent up
    status: str = "open"
    accepted: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class CcxtBroker:
    keeps_account = True

    def __init__(self, config: CcxtConfig, clock: Clock, *, name: str | None = None, base_currency: str = "USD") -> None:
        self.config = config
        self.clock = clock
        self.venue = config.exchange
        self.name = name or (f"{config.exchange}-testnet" if config.sandbox else config.exchange)
        self.base_currency = base_currency
        self._ex: Any = None
        self._secrets: tuple[str, ...] = ()
        self._on_report: Callable[[BrokerReport], None] = lambda r: None
        self._on_quote: Callable[[Quote], None] = lambda q: None
        self._on_state: Callable[[ConnectionState], None] = lambda s: None
        self._ours: dict[str, str] = {}  # our symbol -> market symbol
        self._theirs: dict[str, str] = {}  # market symbol -> our symbol
        self._subscribed: list[str] = []  # market symbols
        self._quotes: dict[str, Quote] = {}
        self._legs: dict[str, _Leg] = {}  # exchange client id -> leg
        self._current: dict[str, str] = {}  # our client id -> live leg's exchange client id
        self._done_filled: dict[str, Decimal] = {}  # our client id -> qty filled by finished legs
        self._replacing: set[str] = set()
        self._seen_exec: set[str] = set()
        self._order_markets: dict[str, str] = {}  # our client id -> market, for journaled orders
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._helpers: set[asyncio.Task[Any]] = set()
        self._unhealthy: dict[str, str] = {}
        self._state = "disconnected"
        self._state_detail = ""
        self._closed = False
        self._random = random.Random()
        self._last_quote_at = 0.0
        self.reconnects = 0
        self._depth = BookStreams(self)  # books and tapes (brokers/exchanges/depth.py)

    # ------------------------------------------------------------------ plumbing
    def attach(self, on_report, on_quote, on_state) -> None:
        self._on_report = lambda report: on_report(redact_report(report))
        self._on_quote, self._on_state = on_quote, on_state

    def _set_state(self, state: str, detail: str = "") -> None:
        """Report a change of state, or of what is wrong while reconnecting (each sick stream)."""
        detail = self._clean(detail)
        if state == self._state and (state != "reconnecting" or detail == self._state_detail):
            return
        self._state = state
        self._state_detail = detail
        self._on_state(ConnectionState(broker=self.name, state=state, detail=detail, ts=self.clock.time()))

    def _clean(self, text: str) -> str:
        """A message safe to show: one line, no key, secret or signed URL in it."""
        for s in self._secrets:
            if s:
                text = text.replace(s, "***")
        return redact(" ".join(str(text).split()))

    def _reason(self, exc: BaseException) -> str:
        """The venue's own words for an error (binance: ``msg`` and ``code``)."""
        text = str(exc)
        start = text.find("{")
        if start >= 0:
            try:
                body = json.loads(text[start:])
                msg = body.get("msg") or body.get("message") or body.get("error")
                if msg:
                    code = body.get("code")
                    return self._clean(f"{self.venue}: {msg}" + (f" ({code})" if code is not None else ""))
            except (ValueError, AttributeError):
                pass
        if text.startswith(self.venue):
            text = text[len(self.venue):].strip()
        return self._clean(f"{self.venue}: {text or type(exc).__name__}")

    def _where(self) -> str:
        url = self._ex.urls["api"].get("public") if self._ex is not None else None
        url = url or self.config.url_override or ""
        parts = urlsplit(url if isinstance(url, str) else "")
        if parts.hostname:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            return f"{parts.hostname}:{port}"
        return self.venue

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._helpers.add(task)
        task.add_done_callback(self._helper_done)

    def _helper_done(self, task: asyncio.Task[Any]) -> None:
        self._helpers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s: %s", self.venue, self._clean(str(task.exception())))

    # ------------------------------------------------------------------ connect
    def _build(self, key: str, secret: str) -> Any:
        cls = getattr(ccxtpro, self.venue, None) if self.config.websockets else None
        if cls is None:
            cls = getattr(ccxt.async_support, self.venue, None)
        if cls is None:
            raise BrokerUnavailable(f"ccxt has no exchange {self.venue!r} (profile option exchange)")
        options: dict[str, Any] = {}
        if self.venue.startswith("binance"):
            options = {
                "fetchCurrencies": False, "fetchMargins": False, "fetchMarkets": {"types": ["spot"]},
                "defaultType": "spot", "fetchOpenOrders": {"warnWithoutSymbol": False},
                "warnOnFetchOpenOrdersWithoutSymbol": False, "watchTickers": {"name": "ticker"},
            }
        options.update(self.config.ccxt_options)
        settings: dict[str, Any] = {
            "apiKey": key, "secret": secret, "enableRateLimit": True,
            "timeout": int(self.config.timeout_seconds * 1000), "options": options,
            "logger": RedactingLogger((key, secret)),
        }
        if self.config.rate_limit_ms is not None:
            settings["rateLimit"] = self.config.rate_limit_ms
        ex = cls(settings)
        if hasattr(ex, "streaming"):  # ccxt.pro: ping every ping_seconds, two misses = dead socket
            ex.streaming = {**ex.streaming, "keepAlive": int(self.config.ping_seconds * 1000)}
        if self.config.sandbox:
            try:
                ex.set_sandbox_mode(True)
            except ccxt.NotSupported:
                raise BrokerUnavailable(f"{self.venue} has no testnet in ccxt (profile option sandbox)") from None
        if self.config.url_override:
            ex.urls["api"] = rewrite_urls(ex.urls["api"], self.config.url_override)
        return ex

    async def connect(self) -> None:
        if self._ex is not None:
            return
        key_var, secret_var = key_variables(self.venue)
        key, secret = load_keys(self.venue)
        if not key or not secret:
            missing = key_var if not key else secret_var
            raise BrokerUnavailable(f"{self.name}: no API key: set {missing} (and {secret_var if not key else key_var}) or store it in the OS keyring")
        self._secrets = (key, secret)
        self._closed = False
        self._set_state("connecting")
        self._ex = self._build(key, secret)
        try:
            await asyncio.wait_for(self._ex.load_markets(), self.config.connect_timeout_seconds)
            await asyncio.wait_for(self._ex.fetch_balance(), self.config.connect_timeout_seconds)
        except (TimeoutError, ccxt.NetworkError) as exc:
            where = self._where()
            await self._drop_exchange()
            raise BrokerUnavailable(f"cannot reach {self.venue} at {where}: {self._short(exc)}") from None
        except ccxt.AuthenticationError as exc:
            await self._drop_exchange()
            raise BrokerUnavailable(f"{self.venue} refused the API key from {key_var}: {self._reason(exc)}") from None
        except ccxt.BaseError as exc:
            await self._drop_exchange()
            raise BrokerUnavailable(self._reason(exc)) from None
        if self._has("watchOrders"):
            self._tasks["orders"] = asyncio.get_running_loop().create_task(self._stream("orders", self._watch_orders_once))
        else:
            self._tasks["orders"] = asyncio.get_running_loop().create_task(self._stream("orders", self._poll_orders_once))
        self._set_state("connected")

    def _short(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return f"no answer in {self.config.connect_timeout_seconds:g}s"
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ConnectionRefusedError) or "Connect call failed" in str(cause) or "Cannot connect" in str(cause):
                return "connection refused"
            if "Name or service not known" in str(cause) or "getaddrinfo" in str(cause):
                return "host name not found"
            cause = cause.__cause__ or cause.__context__
        text = self._clean(str(exc))
        return type(exc).__name__ + (f" ({text[:160]})" if text else "")

    async def _drop_exchange(self) -> None:
        ex, self._ex = self._ex, None
        if ex is not None:
            try:
                await ex.close()
            except Exception:  # closing must never raise over the original error
                pass
        self._set_state("disconnected")

    def _has(self, feature: str) -> bool:
        return bool(self.config.websockets and self._ex is not None and self._ex.has.get(feature))

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks.values()) + list(self._helpers)
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._drop_exchange()

    def _require(self) -> Any:
        if self._ex is None:
            raise BrokerUnavailable(f"{self.name} is not connected")
        return self._ex

    # ------------------------------------------------------------------ streams
    async def _stream(self, name: str, once: Callable[[], Awaitable[None]]) -> None:
        """Run ``once`` forever: back off and retry on errors, restart a silent stream."""
        failures = 0
        while not self._closed:
            try:
                if failures:
                    await self._probe()
                    job = asyncio.get_running_loop().create_task(once())
                    done, _ = await asyncio.wait({job}, timeout=min(1.0, self.config.stale_seconds / 2))
                    if not done:  # resubscribed without an error: healthy again
                        self._healthy(name)
                        failures = 0
                    await job
                    if failures:
                        self._healthy(name)
                        failures = 0
                else:
                    await once()
            except asyncio.CancelledError:
                raise
            except (TimeoutError, ccxt.BaseError, OSError) as exc:
                if self._closed:
                    return
                failures += 1
                detail = f"{name} stream silent for {self.config.stale_seconds:g}s" if isinstance(exc, TimeoutError) else f"{name} stream: {self._short(exc)}"
                log.info("%s: %s (attempt %d)", self.venue, detail, failures)
                self._sick(name, detail)
                await self._restart_sockets(name)
                delay = min(self.config.reconnect_max_seconds, self.config.reconnect_base_seconds * 2 ** (failures - 1))
                await asyncio.sleep(self._random.uniform(delay / 2, delay))

    async def _probe(self) -> None:
        """A REST call that proves the venue answers (and our keys still work)."""
        await asyncio.wait_for(self._require().fetch_balance(), self.config.timeout_seconds)

    async def _restart_sockets(self, name: str) -> None:
        ex = self._ex
        if ex is None or not getattr(ex, "clients", None):
            return
        for url, client in list(ex.clients.items()):
            is_private = "ws-api" in url or "private" in url or "user" in url
            if (name == "orders") == is_private:
                try:
                    await client.close()
                except Exception:  # an already broken socket
                    pass
                ex.clients.pop(url, None)

    def _sick(self, name: str, detail: str) -> None:
        self._unhealthy[name] = detail
        self.reconnects += 1
        self._set_state("reconnecting", detail)

    def _healthy(self, name: str) -> None:
        self._unhealthy.pop(name, None)
        if not self._unhealthy:
            self._set_state("connected")
            self._spawn(self._sweep())

    async def _sweep(self) -> None:
        """After a reconnect: read back every leg still open, so nothing on the stream is missed."""
        for leg in [leg for leg in self._legs.values() if leg.status == "open" and leg.order_id]:
            try:
                await self._handle_order(await self._require().fetch_order(leg.order_id, leg.symbol))
            except ccxt.BaseError as exc:
                log.info("%s: sweep of %s: %s", self.venue, leg.exchange_cid, self._short(exc))

    async def _watch_orders_once(self) -> None:
        for o in await self._require().watch_orders():
            await self._handle_order(o)

    async def _poll_orders_once(self) -> None:
        await asyncio.sleep(self.config.poll_seconds)
        await self._sweep()

    async def _watch_quotes_once(self) -> None:
        ex = self._require()
        symbols = list(self._subscribed)
        if not symbols:
            await asyncio.sleep(self.config.poll_seconds)
            return
        if ex.has.get("watchTickers"):
            tickers = await asyncio.wait_for(ex.watch_tickers(symbols), self.config.stale_seconds)
        else:
            tickers = await asyncio.wait_for(self._watch_each(symbols), self.config.stale_seconds)
        # ccxt resolves a watch with the first message after the call; messages parsed before
        # this task ran again are only in ex.tickers, so the latest state is read from there
        latest = getattr(ex, "tickers", None) or {}
        for symbol, t in tickers.items():
            self._quote(latest.get(symbol) or t)

    async def _watch_each(self, symbols: list[str]) -> dict[str, Any]:
        tasks = [asyncio.ensure_future(self._require().watch_ticker(s)) for s in symbols]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        return {t.result()["symbol"]: t.result() for t in done if not t.cancelled() and t.exception() is None}

    async def _poll_quotes_once(self) -> None:
        symbols = list(self._subscribed)
        if symbols:
            for t in (await self._tickers(symbols)).values():
                self._quote(t)
        await asyncio.sleep(self.config.poll_seconds)

    async def _tickers(self, symbols: list[str]) -> dict[str, Any]:
        ex = self._require()
        if ex.has.get("fetchTickers"):
            return await ex.fetch_tickers(symbols)
        return {s: await ex.fetch_ticker(s) for s in symbols}

    def _quote(self, t: dict[str, Any]) -> None:
        ours = self._theirs.get(t.get("symbol") or "")
        if ours is None:
            return
        prev = self._quotes.get(ours)
        bid, ask = t.get("bid") or (prev.bid if prev else 0.0), t.get("ask") or (prev.ask if prev else 0.0)
        last = t.get("last") or (prev.last if prev else 0.0) or ((bid + ask) / 2 if bid and ask else 0.0)
        ts = (t.get("timestamp") or 0) / 1000.0 or self.clock.time()
        q = Quote(
            symbol=ours, ts=ts, bid=float(bid or 0.0), ask=float(ask or 0.0), last=float(last or 0.0),
            bid_size=float(t.get("bidVolume") or 0.0), ask_size=float(t.get("askVolume") or 0.0),
            volume=float(t.get("baseVolume") or 0.0), prev_close=float(t.get("open") or t.get("previousClose") or (prev.prev_close if prev else 0.0)),
        )
        self._quotes[ours] = q
        self._last_quote_at = self.clock.monotonic()
        self._on_quote(q)

    # ------------------------------------------------------------------ symbols
    def _market(self, symbol: str) -> dict[str, Any]:
        """The exchange market for one of our symbols (BrokerError if the venue lists none)."""
        ex = self._require()
        try:
            inst = parse_symbol(symbol)
        except ModelError as exc:
            raise BrokerError(str(exc)) from None
        ours = inst.symbol
        known = self._ours.get(ours)
        if known is not None:
            return ex.markets[known]
        if inst.asset_class not in (AssetClass.CRYPTO, AssetClass.FOREX) or inst.base is None:
            raise BrokerError(f"{self.venue} trades currency pairs such as BTC/USD, not {ours}")
        candidates = [self.config.symbol_map[ours]] if ours in self.config.symbol_map else [ours]
        mapped = self.config.quote_map.get(inst.symbol.split("/")[1])
        if mapped and ours not in self.config.symbol_map:
            candidates.append(f"{inst.base}/{mapped}")
        for c in candidates:
            m = ex.markets.get(c)
            if m is not None and m.get("spot", True) and m.get("active") is not False:
                self._ours[ours] = c
                self._theirs.setdefault(c, ours)
                return m
        raise BrokerError(f"{self.venue} lists no market for {ours} (tried {', '.join(candidates)})")

    def _our_symbol(self, market_symbol: str) -> str:
        known = self._theirs.get(market_symbol)
        if known is not None:
            return known
        base, _, quote = market_symbol.partition("/")
        quote = quote.split(":")[0]
        reverse = {v: k for k, v in self.config.quote_map.items()}
        ours = f"{base}/{reverse.get(quote, quote)}"
        if self._ours.get(ours, market_symbol) != market_symbol:
            ours = f"{base}/{quote}"
        self._ours.setdefault(ours, market_symbol)
        self._theirs[market_symbol] = ours
        return ours

    async def instrument(self, symbol: str) -> Instrument:
        m = self._market(symbol)
        inst = parse_symbol(symbol)
        tick = self._step(m["precision"].get("price")) or inst.tick_size
        lot = self._step(m["precision"].get("amount")) or inst.lot_size
        return msgspec.structs.replace(inst, tick_size=tick, lot_size=lot, exchange=self.venue)

    def _step(self, precision: Any) -> Decimal | None:
        if precision is None:
            return None
        from ccxt.base.decimal_to_precision import TICK_SIZE

        if self._require().precisionMode == TICK_SIZE:
            return _dec(precision)
        return Decimal(1).scaleb(-int(precision))  # decimal places

    async def subscribe(self, symbols: list[str]) -> None:
        self._require()
        added, unknown = [], []
        for s in symbols:
            try:
                m = self._market(s)
            except BrokerError:
                unknown.append(s)
                continue
            if m["symbol"] not in self._subscribed:
                added.append(m["symbol"])
        if unknown:
            log.warning("%s lists no market for %s; not subscribed", self.venue, ", ".join(unknown))
        if not added:
            if symbols and not self._subscribed:
                raise BrokerError(f"{self.venue} lists none of {', '.join(symbols)}")
            return
        self._subscribed.extend(added)
        try:
            for t in (await self._tickers(added)).values():
                self._quote(t)
        except ccxt.BaseError as exc:
            log.info("%s: no ticker snapshot: %s", self.venue, self._short(exc))
        old = self._tasks.pop("quotes", None)
        if old is not None:
            old.cancel()
            await asyncio.gather(old, return_exceptions=True)
            await self._restart_sockets("quotes")
        live = self._has("watchTickers") or self._has("watchTicker")
        once = self._watch_quotes_once if live else self._poll_quotes_once
        self._tasks["quotes"] = asyncio.get_running_loop().create_task(self._stream("quotes", once))

    async def unsubscribe(self, symbols: list[str]) -> None:
        drop = {self._ours.get(parse_symbol(s).symbol) for s in symbols}
        self._subscribed = [s for s in self._subscribed if s not in drop]

    def snapshot(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    # ------------------------------------------------------------------ depth and the tape (DepthFeed)
    def attach_depth(self, on_book, on_trade) -> None:
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
        """The exchange's options on an asset, with its own Greeks (brokers/exchanges/chains.py);
        "<exchange> lists no options" where it has none."""
        ex = self._require()
        ours = underlying.strip().upper()
        q = self._quotes.get(ours if "/" in ours else f"{ours}/{self.base_currency}")
        spot = ((q.bid + q.ask) / 2 if q.bid > 0 and q.ask > 0 else q.last or None) if q else None
        try:
            return await fetch_chain(ex, self.name, ours, expiry, now=self.clock.time(), spot=spot)
        except ccxt.BaseError as exc:
            raise BrokerError(self._reason(exc)) from None

    # ------------------------------------------------------------------ orders out
    def _order_args(self, order: Order, market: dict[str, Any]) -> tuple[str, Decimal | None, dict[str, Any]]:
        """ccxt's (type, price, params) for an order; BrokerError naming the venue if it has no such order."""
        params: dict[str, Any] = {}
        types = (market.get("info") or {}).get("orderTypes") if self.venue.startswith("binance") else None
        where = f"{self.venue} ({market['symbol']})"
        if order.type is OrderType.MARKET:
            kind, price = "market", None
        elif order.type is OrderType.LIMIT:
            kind, price = "limit", order.limit_price
        elif order.type is OrderType.STOP_LIMIT:
            if types is not None and "STOP_LOSS_LIMIT" not in types or types is None and not self._ex.has.get("createStopLimitOrder"):
                raise BrokerError(f"{where} does not support stop-limit orders")
            kind, price = "limit", order.limit_price
            params["triggerPrice"] = plain(order.stop_price)
        elif order.type is OrderType.STOP:
            if types is not None and "STOP_LOSS" not in types or types is None and not self._ex.has.get("createStopMarketOrder"):
                raise BrokerError(f"{where} does not support stop orders")
            kind, price = "market", None
            params["triggerPrice"] = plain(order.stop_price)
        elif order.type is OrderType.TRAILING_STOP:
            # binance's native trailing stop: STOP_LOSS with a trailingDelta in basis points
            if types is None or "STOP_LOSS" not in types or not (market.get("info") or {}).get("allowTrailingStop"):
                raise BrokerError(f"{where} does not support trailing-stop orders")
            if order.trail_percent is None:
                raise BrokerError(f"{self.venue} trails by a percentage only (e.g. --trail 2%)")
            bips = order.trail_percent * 100
            if bips != bips.to_integral_value() or not 10 <= bips <= 2000:
                raise BrokerError(f"{self.venue} trails by 0.1% to 20% in steps of 0.01%, not {plain(order.trail_percent)}%")
            kind, price = "market", None
            params.update({"trailingPercent": plain(order.trail_percent), "stopLossOrTakeProfit": "stopLoss"})
        else:
            raise BrokerError(f"{where}: {order.type.value.replace('_', '-')} orders are not supported through ccxt")
        if kind == "limit":
            tif = order.tif
            if tif is TimeInForce.DAY:
                tif = TimeInForce.GTC  # a market that never closes: day means good till canceled
            params["timeInForce"] = tif.value.upper()
        return kind, price, params

    async def submit(self, order: Order) -> None:
        market = self._market(order.symbol)
        self._current[order.client_id] = order.client_id
        self._done_filled.setdefault(order.client_id, ZERO)
        try:
            await self._send_leg(order, order.client_id, order.qty, order.limit_price, order.stop_price, market)
        except BrokerTimeout:
            raise
        except BrokerError as exc:  # the venue said no: a rejection with its reason (and an alert)
            self._on_report(BrokerRejected(client_id=order.client_id, reason=str(exc), ts=self.clock.time()))

    async def _send_leg(
        self, order: Order, exchange_cid: str, qty: Decimal, limit: Decimal | None, stop: Decimal | None, market: dict[str, Any]
    ) -> None:
        ex = self._require()
        leg_order = msgspec.structs.replace(order, qty=qty, limit_price=limit, stop_price=stop)
        kind, price, params = self._order_args(leg_order, market)
        params["clientOrderId"] = exchange_cid
        leg = _Leg(exchange_cid=exchange_cid, client_id=order.client_id, symbol=market["symbol"], side=order.side.value, qty=qty)
        self._legs[exchange_cid] = leg
        try:
            result = await asyncio.wait_for(
                ex.create_order(market["symbol"], kind, order.side.value, float(qty), float(price) if price is not None else None, params),
                self.config.submit_timeout_seconds,
            )
        except ccxt.DDoSProtection as exc:  # the venue answered (rate limit, banned key): not placed
            leg.status = "rejected"
            raise BrokerError(self._reason(exc)) from None
        except (TimeoutError, ccxt.NetworkError) as exc:
            raise BrokerTimeout(f"{self.venue} did not answer order {exchange_cid}: {self._short(exc)}") from None
        except ccxt.BaseError as exc:
            leg.status = "rejected"
            raise BrokerError(self._reason(exc)) from None
        await self._handle_order(result)

    async def cancel(self, order: Order) -> None:
        leg = self._leg_for(order)
        ex = self._require()
        try:
            if leg.order_id:
                result = await ex.cancel_order(leg.order_id, leg.symbol)
            else:
                result = await ex.cancel_order(None, leg.symbol, {"clientOrderId": leg.exchange_cid})
        except ccxt.OrderNotFound:
            result = await self._fetch_leg(leg)  # filled or gone meanwhile: report what it is
            if result is None:
                raise BrokerError(f"{self.venue} does not know order {order.id}") from None
        except ccxt.BaseError as exc:
            raise BrokerError(self._reason(exc)) from None
        await self._handle_order(result, leg=leg)

    def _leg_for(self, order: Order) -> _Leg:
        cid = self._current.get(order.client_id, order.client_id)
        leg = self._legs.get(cid)
        if leg is None:
            market = self._market(order.symbol)
            leg = self._legs[cid] = _Leg(
                exchange_cid=cid, client_id=order.client_id, symbol=market["symbol"], side=order.side.value,
                qty=order.qty, order_id=order.broker_id,
            )
            self._current[order.client_id] = cid
        return leg

    async def _fetch_leg(self, leg: _Leg) -> dict[str, Any] | None:
        ex = self._require()
        try:
            if leg.order_id:
                return await ex.fetch_order(leg.order_id, leg.symbol)
            return await ex.fetch_order(None, leg.symbol, {"clientOrderId": leg.exchange_cid})
        except ccxt.OrderNotFound:
            return None

    async def replace(self, order: Order, qty: Decimal, limit_price: Decimal | None, stop_price: Decimal | None) -> None:
        """Cancel-and-new: cancel, confirm the old leg's final fill, send the remainder only."""
        cid = order.client_id
        if cid in self._replacing:
            raise BrokerError(f"order {order.id} is already being replaced")
        old = self._leg_for(order)
        market = self._market(order.symbol)
        self._replacing.add(cid)
        try:
            async with old.lock:
                ex = self._require()
                try:
                    await ex.cancel_order(old.order_id, old.symbol) if old.order_id else await ex.cancel_order(None, old.symbol, {"clientOrderId": old.exchange_cid})
                except ccxt.OrderNotFound:
                    pass  # filled or canceled already: the read-back below says which
                except ccxt.BaseError as exc:
                    raise BrokerError(f"cannot replace on {self.venue}: {self._reason(exc)}") from None
            final = await self._fetch_leg(old)
            if final is None or final.get("status") == "open":
                raise BrokerError(f"{self.venue} did not confirm the cancel of order {order.id}; not replaced")
            await self._handle_order(final, quiet=True)  # books the old leg's last fills, once
            filled = self._done_filled.get(cid, ZERO) + old.filled
            if final.get("status") == "closed" or filled >= qty:
                self._finish_leg(old)
                if final.get("status") == "closed":
                    raise BrokerError(f"order {order.id} filled on {self.venue} before it could be replaced")
                self._on_report(BrokerCanceled(client_id=cid, reason=f"replace: {plain(filled)} already filled", ts=self.clock.time()))
                return
            self._finish_leg(old)
            n = int(_LEG.match(old.exchange_cid).group(2)) + 1 if _LEG.match(old.exchange_cid) else 1
            new_cid = f"{cid}.r{n}"
            self._current[cid] = new_cid
            try:
                await self._send_leg(order, new_cid, qty - filled, limit_price, stop_price, market)
            except BrokerTimeout:
                raise
            except BrokerError as exc:
                self._on_report(BrokerCanceled(client_id=cid, reason=f"replace failed: {exc}", ts=self.clock.time()))
                raise
            self._on_report(BrokerReplaced(client_id=cid, qty=qty, limit_price=limit_price, stop_price=stop_price, ts=self.clock.time()))
        finally:
            self._replacing.discard(cid)

    def _finish_leg(self, leg: _Leg) -> None:
        """A replaced leg is over: its fills now count as the order's earlier fills."""
        self._done_filled[leg.client_id] = self._done_filled.get(leg.client_id, ZERO) + leg.filled
        leg.filled = ZERO  # counted in _done_filled from now on
        leg.reported = ZERO
        leg.status = "done"

    # ------------------------------------------------------------------ orders in
    async def _handle_order(self, o: dict[str, Any], *, leg: _Leg | None = None, quiet: bool = False) -> None:
        """One exchange order update (stream, REST answer or read-back) -> our reports.

        ``leg`` names the order when the answer's own client id is not the order's
        (binance answers a cancel with the cancel request's id)."""
        ecid = leg.exchange_cid if leg is not None else o.get("clientOrderId") or ""
        leg = leg or self._legs.get(ecid)
        if leg is None:
            m = _LEG.match(ecid)
            cid = m.group(1) if m else ecid
            if not cid:
                return
            leg = self._legs[ecid] = _Leg(
                exchange_cid=ecid, client_id=cid, symbol=o.get("symbol") or "", side=o.get("side") or "buy",
                qty=_dec(o.get("amount")) or ZERO,
            )
            self._current.setdefault(cid, ecid)
        if leg.status == "done":
            return  # a finished leg of a replaced order: its fills were booked at the replace
        if o.get("id"):
            leg.order_id = str(o["id"])
        cid = leg.client_id
        status = o.get("status")
        filled = _dec(o.get("filled")) or ZERO
        leg.filled = max(leg.filled, filled)
        if status in ("open", "closed", "canceled", "expired") and cid not in self._replacing and not leg.accepted:
            leg.accepted = True
            self._on_report(BrokerAccepted(client_id=cid, broker_id=leg.order_id, ts=self._ts(o)))
        async with leg.lock:
            await self._sync_fills(leg, o)
        if quiet or cid in self._replacing or self._current.get(cid) != ecid:
            return
        if status == "canceled":
            leg.status = "canceled"
            self._on_report(BrokerCanceled(client_id=cid, reason=f"canceled at {self.venue}", ts=self._ts(o)))
        elif status == "expired":
            leg.status = "expired"
            self._on_report(BrokerExpired(client_id=cid, ts=self._ts(o)))
        elif status == "rejected":
            leg.status = "rejected"
            info = o.get("info") or {}
            reason = info.get("r") if isinstance(info, dict) and info.get("r") not in (None, "NONE") else "rejected"
            self._on_report(BrokerRejected(client_id=cid, reason=f"{self.venue}: {reason}", ts=self._ts(o)))
        elif status == "closed":
            leg.status = "closed"

    def _ts(self, o: dict[str, Any]) -> float:
        ms = o.get("lastUpdateTimestamp") or o.get("lastTradeTimestamp") or o.get("timestamp")
        return ms / 1000.0 if ms else self.clock.time()

    async def _sync_fills(self, leg: _Leg, o: dict[str, Any]) -> None:
        """Send up every trade of this leg not yet reported (trade ids make them unique)."""
        if leg.filled <= leg.reported:
            return
        trades = [t for t in (o.get("trades") or []) if t.get("id")]
        got = sum((_dec(t.get("amount")) or ZERO for t in trades), ZERO)
        if got < leg.filled and leg.order_id:
            trades = await self._order_trades(leg)
        for t in trades:
            self._emit_trade(t, leg.client_id, leg.side)
        leg.reported = max(leg.reported, sum((_dec(t.get("amount")) or ZERO for t in trades), ZERO))

    async def _order_trades(self, leg: _Leg) -> list[dict[str, Any]]:
        ex = self._require()
        try:
            if ex.has.get("fetchOrderTrades"):
                return await ex.fetch_order_trades(leg.order_id, leg.symbol)
            trades = await ex.fetch_my_trades(leg.symbol, None, None, {"orderId": leg.order_id})
            return [t for t in trades if str(t.get("order")) == leg.order_id]
        except ccxt.BaseError as exc:
            log.info("%s: trades of %s: %s", self.venue, leg.exchange_cid, self._short(exc))
            return []

    def _exec_id(self, t: dict[str, Any]) -> str:
        market = self._ex.markets.get(t.get("symbol") or "", {}) if self._ex is not None else {}
        return f"{self.venue}:{market.get('id') or t.get('symbol')}:{t['id']}"

    def _fill(self, t: dict[str, Any], client_id: str, side: str | None) -> BrokerFill:
        qty = _dec(t.get("amount")) or ZERO
        price = _dec(t.get("price")) or ZERO
        return BrokerFill(
            client_id=client_id, exec_id=self._exec_id(t), qty=qty, price=price,
            commission=self._commission(t, price), ts=(t.get("timestamp") or 0) / 1000.0 or self.clock.time(),
            symbol=self._our_symbol(t["symbol"]) if t.get("symbol") else None, side=t.get("side") or side,
        )

    def _emit_trade(self, t: dict[str, Any], client_id: str, side: str) -> None:
        fill = self._fill(t, client_id, side)
        if fill.exec_id in self._seen_exec or fill.qty <= 0:
            return
        self._seen_exec.add(fill.exec_id)
        self._on_report(fill)

    def _commission(self, t: dict[str, Any], price: Decimal) -> Decimal:
        """The fee in the quote currency (a fee in the base asset is valued at the fill price)."""
        fee = t.get("fee") or {}
        cost = _dec(fee.get("cost"))
        if not cost:
            return ZERO
        base, _, quote = (t.get("symbol") or "/").partition("/")
        currency = fee.get("currency")
        if currency == quote or currency is None:
            return cost
        if currency == base:
            return cost * price
        return ZERO  # paid in a third asset (e.g. BNB): shows in that asset's balance

    # ------------------------------------------------------------------ queries
    async def open_orders(self) -> list[BrokerOrderState]:
        ex = self._require()
        try:
            rows = await ex.fetch_open_orders()
        except ccxt.BaseError as exc:
            raise BrokerError(self._reason(exc)) from None
        return [self._state_of(o) for o in rows if o.get("clientOrderId")]

    def _state_of(self, o: dict[str, Any]) -> BrokerOrderState:
        ecid = o["clientOrderId"]
        m = _LEG.match(ecid)
        cid = m.group(1) if m else ecid
        done = self._done_filled.get(cid, ZERO)
        filled = done + (_dec(o.get("filled")) or ZERO)
        status = {"open": "open", "closed": "filled", "canceled": "canceled"}.get(o.get("status") or "", o.get("status") or "unknown")
        return BrokerOrderState(
            client_id=cid, broker_id=str(o.get("id")) if o.get("id") else None, symbol=self._our_symbol(o["symbol"]),
            side=o.get("side") or "buy", qty=done + (_dec(o.get("amount")) or ZERO), filled_qty=filled, status=status,
            limit_price=_dec(o.get("price")) if o.get("type") == "limit" else None, stop_price=_dec(o.get("triggerPrice")),
        )

    def restore(self, orders: list[Order]) -> None:
        """Working orders from the journal after a restart: where to look for their fills."""
        if self._ex is None:
            return
        for order in orders:
            try:
                self._order_markets[order.client_id] = self._market(order.symbol)["symbol"]
            except BrokerError:
                log.info("%s lists no market for journaled order %s (%s)", self.venue, order.id, order.symbol)

    async def lookup(self, client_id: str) -> BrokerOrderState | None:
        ex = self._require()
        ecid = self._current.get(client_id, client_id)
        leg = self._legs.get(ecid)
        if leg is not None:
            candidates = [leg.symbol]
        elif client_id in self._order_markets:
            candidates = [self._order_markets[client_id]]
        else:
            candidates = list(dict.fromkeys(self._ours.values()))
        for symbol in candidates:
            try:
                o = await ex.fetch_order(None, symbol, {"clientOrderId": ecid})
            except ccxt.OrderNotFound:
                continue
            except ccxt.BaseError as exc:
                raise BrokerError(self._reason(exc)) from None
            self._spawn(self._handle_order(o))
            return self._state_of(o)
        return None

    async def fills_since(self, ts: float) -> list[BrokerFill]:
        ex = self._require()
        since = int(ts * 1000)
        symbols = list(dict.fromkeys([*self._ours.values(), *self._order_markets.values(), *(leg.symbol for leg in self._legs.values())]))
        try:
            balance = await ex.fetch_balance()
        except ccxt.BaseError as exc:
            raise BrokerError(self._reason(exc)) from None
        for asset in self._held(balance):
            try:
                symbols.append(self._market(f"{asset}/{self.base_currency}")["symbol"])
            except BrokerError:
                continue
        out: list[BrokerFill] = []
        for symbol in dict.fromkeys(symbols):
            try:
                trades = await self._my_trades(symbol, since)
            except ccxt.BaseError as exc:
                raise BrokerError(self._reason(exc)) from None
            by_order = {leg.order_id: leg for leg in self._legs.values() if leg.order_id}
            unknown = {str(t.get("order")) for t in trades if str(t.get("order")) not in by_order}
            if unknown:
                try:
                    for o in await ex.fetch_orders(symbol, since):
                        if str(o.get("id")) in unknown and o.get("clientOrderId"):
                            m = _LEG.match(o["clientOrderId"])
                            cid = m.group(1) if m else o["clientOrderId"]
                            by_order[str(o["id"])] = _Leg(exchange_cid=o["clientOrderId"], client_id=cid, symbol=symbol, side=o.get("side") or "buy", qty=ZERO, order_id=str(o["id"]))
                except ccxt.BaseError as exc:
                    log.info("%s: orders of %s: %s", self.venue, symbol, self._short(exc))
            for t in trades:
                leg = by_order.get(str(t.get("order")))
                out.append(self._fill(t, leg.client_id if leg else "", t.get("side")))
        return sorted(out, key=lambda f: f.ts)

    async def _my_trades(self, symbol: str, since: int) -> list[dict[str, Any]]:
        """Our trades in a market since ``since`` (ms). Binance answers at most 24 hours per
        request, so the span is walked a day at a time."""
        ex = self._require()
        if not self.venue.startswith("binance"):
            return await ex.fetch_my_trades(symbol, since)
        day, now = 86_400_000, int(self.clock.time() * 1000)
        out: list[dict[str, Any]] = []
        start = since
        while start <= now:
            end = min(start + day, now + 60_000)
            page = await ex.fetch_my_trades(symbol, start, 1000, {"endTime": end})
            out.extend(page)
            if len(page) >= 1000:  # a full page: continue after its last trade
                start = int(page[-1]["timestamp"]) + 1
            else:
                start = end + 1
        seen: set[str] = set()
        return [t for t in out if not (t["id"] in seen or seen.add(t["id"]))]

    def _cash_assets(self) -> set[str]:
        mapped = self.config.quote_map.get(self.base_currency)
        return {self.base_currency, *([mapped] if mapped else [])}

    def _held(self, balance: dict[str, Any]) -> list[str]:
        cash = self._cash_assets()
        return [a for a, v in (balance.get("total") or {}).items() if a not in cash and v and Decimal(str(v)) != 0]

    async def positions(self) -> list[Position]:
        ex = self._require()
        try:
            balance = await ex.fetch_balance()
        except ccxt.BaseError as exc:
            raise BrokerError(self._reason(exc)) from None
        out = []
        for asset in self._held(balance):
            symbol = f"{asset}/{self.base_currency}"
            try:
                market = self._market(symbol)
            except BrokerError:
                log.info("%s: %s balance has no market against %s; not a position", self.venue, asset, self.base_currency)
                continue
            qty = _dec(balance["total"][asset]) or ZERO
            avg = await self._average_cost(market["symbol"], qty)
            if avg is None:  # not a made-up cost: 0 says "unknown", and the journal's average stands
                log.info("%s: the cost of the %s balance is not in its trades; keeping the known average", self.venue, asset)
            out.append(Position(symbol=self._our_symbol(market["symbol"]), qty=qty, avg_price=avg or ZERO, currency=parse_symbol(symbol).currency))
        return out

    async def _average_cost(self, symbol: str, qty: Decimal) -> Decimal | None:
        """Average cost of a holding from the venue's trades (``average``: 8 decimal places), or
        None when they do not account for the whole balance (no trades, a deposit, trades
        older than the venue keeps): the exchange cannot tell its cost."""
        ex = self._require()
        try:
            trades = await ex.fetch_my_trades(symbol)
        except ccxt.BaseError:
            trades = []
        held, avg = ZERO, ZERO
        for t in sorted(trades, key=lambda t: t.get("timestamp") or 0):
            q, p = _dec(t.get("amount")) or ZERO, _dec(t.get("price")) or ZERO
            if t.get("side") == "buy":
                avg = (avg * held + p * q) / (held + q) if held + q else ZERO
                held += q
            else:
                held = max(ZERO, held - q)
        if not avg or held < qty:  # a fee taken in the asset leaves the balance below what was bought
            return None
        return average(avg)

    async def account(self) -> Account | None:
        ex = self._require()
        try:
            balance = await ex.fetch_balance()
        except ccxt.BaseError as exc:
            raise BrokerError(self._reason(exc)) from None
        cash_assets = self._cash_assets()
        total, free = balance.get("total") or {}, balance.get("free") or {}
        cash = sum((_dec(total.get(a)) or ZERO for a in cash_assets), ZERO)
        buying = sum((_dec(free.get(a)) or ZERO for a in cash_assets), ZERO)
        value = ZERO
        for asset in self._held(balance):
            try:
                market = self._market(f"{asset}/{self.base_currency}")
            except BrokerError:
                continue
            q = self._quotes.get(self._our_symbol(market["symbol"]))
            if q is None:
                try:
                    t = await ex.fetch_ticker(market["symbol"])
                    self._quote(t) if market["symbol"] in self._subscribed else None
                    price = _dec(t.get("last") or t.get("close")) or ZERO
                except ccxt.BaseError:
                    price = ZERO
            else:
                price = to_decimal(q.last or q.mid)
            value += (_dec(total.get(asset)) or ZERO) * price
        # a cash account: what it can buy is its free quote balance (locked funds back open orders)
        return Account(currency=self.base_currency, cash=cash, equity=cash + value, buying_power=buying, market_value=value, from_broker=True)

    async def history(self, symbol: str, seconds: int, start: float, end: float) -> list[Bar]:
        ex = self._require()
        market = self._market(symbol)
        frame = TIMEFRAMES.get(seconds)
        if frame is None or (ex.timeframes and frame not in ex.timeframes):
            have = ", ".join(sorted(ex.timeframes or {}))
            raise BrokerError(f"{self.venue} has no {seconds}s bars (it has {have})")
        ours = parse_symbol(symbol).symbol
        bars: list[Bar] = []
        since = int(start * 1000)
        while since < end * 1000:
            try:
                rows = await ex.fetch_ohlcv(market["symbol"], frame, since, 1000)
            except ccxt.BaseError as exc:
                raise BrokerError(self._reason(exc)) from None
            rows = [r for r in rows if r[0] < end * 1000]
            for r in rows:
                bars.append(Bar(symbol=ours, ts=r[0] / 1000.0, open=float(r[1]), high=float(r[2]), low=float(r[3]), close=float(r[4]), volume=float(r[5] or 0.0), seconds=seconds))
            if not rows or rows[-1][0] + seconds * 1000 <= since:
                break
            since = rows[-1][0] + seconds * 1000
        return bars

    # used by the order manager to estimate fees before sending
    def estimate_commission(self, inst: Instrument, qty: Decimal, price: Decimal) -> Decimal:
        if self._ex is None:
            return ZERO
        m = self._ex.markets.get(self._ours.get(inst.symbol, ""), {})
        rate = _dec(m.get("taker")) or ZERO
        return (qty * price * rate).quantize(Decimal("0.00000001"))


__all__ = ["CcxtBroker", "CcxtConfig", "key_variables", "load_keys", "rewrite_urls"]
