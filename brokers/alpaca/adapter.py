"""``AlpacaBroker``: the Broker protocol over alpaca-py (see the package's docstring).

Why one module: the Broker protocol over alpaca-py: REST calls, the two supervised streams
and the bracket pairing share the adapter's order map (translate.py, keys.py,
streams.py and depth.py, the books and tapes, hold the rest).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import msgspec
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.historical.crypto import CryptoHistoricalDataClient
from alpaca.data.historical.option import OptionHistoricalDataClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.live.crypto import CryptoDataStream
from alpaca.data.live.stock import StockDataStream
from alpaca.data.requests import CryptoBarsRequest, CryptoSnapshotRequest, StockBarsRequest, StockSnapshotRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import ReplaceOrderRequest

from brokers.alpaca.chains import fetch_chain, option_data_client
from brokers.alpaca.combos import MlegBook, mleg_request, option_instrument
from brokers.alpaca.depth import AlpacaDepth, depth_symbols, trade_symbols
from brokers.alpaca.keys import KEY_VAR, SECRET_VAR, find_keys
from brokers.alpaca.streams import Backoff, Link, ListeningTradingStream, RateLimiter
from brokers.alpaca.translate import (
    OCO_MARK,
    OCO_PAIR_WAIT_S,
    OPEN_STATUSES,
    REPLACE_MARK,
    dec,
    exec_id,
    instrument_from_asset,
    oco_request,
    opt_dec,
    order_request,
    order_state,
    our_client_id,
    our_symbol,
    parse_time,
    report_from_update,
    timeframe,
    to_float,
)
from brokers.base import (
    BookSink,
    BrokerAccepted,
    BrokerError,
    BrokerFill,
    BrokerOrderState,
    BrokerRejected,
    BrokerReplaced,
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
from workstation.core.chain import OptionChain
from workstation.core.clock import Clock
from workstation.core.config import ConfigError, Profile
from workstation.core.model import AssetClass, Bar, ConnectionState, Instrument, ModelError, Order, Position, Quote
from workstation.core.model import Account as ModelAccount
from workstation.core.symbols import parse_symbol

log = logging.getLogger("brokers.alpaca")


class AlpacaBroker:
    keeps_account = True
    supports_combos = True  # a spread is one multi-leg option order (brokers/alpaca/combos.py)

    def __init__(self, profile: Profile, clock: Clock, *, env: Mapping[str, str] | None = None) -> None:
        opts = dict(profile.options)
        for secret_like in ("key", "api_key", "key_id", "secret", "secret_key", "api_secret"):
            if secret_like in opts:
                raise ConfigError(f"profile {profile.name!r}: keys do not belong in the settings file; use {KEY_VAR} and {SECRET_VAR}")
        self.name = profile.name
        self.live = profile.live
        self.clock = clock
        self.env = env
        self.paper = not profile.live
        self.trading_url: str | None = opts.get("trading_url")
        self.data_url: str | None = opts.get("data_url")
        self.trading_stream_url: str | None = opts.get("trading_stream_url")
        self.stock_stream_url: str | None = opts.get("stock_stream_url")
        self.crypto_stream_url: str | None = opts.get("crypto_stream_url")
        self.feed = DataFeed(str(opts.get("feed", "iex")).lower())
        self.stale_after = float(opts.get("stale_after", 120.0))
        self.request_timeout = float(opts.get("request_timeout", 10.0))
        self.first_quote_wait = float(opts.get("first_quote_wait", 1.5))  # subscribe waits this long for a symbol no snapshot priced
        self.connect_timeout = float(opts.get("connect_timeout", 8.0))
        self.backoff = Backoff(float(opts.get("backoff_min", 1.0)), float(opts.get("backoff_max", 30.0)))
        self.limiter = RateLimiter(int(opts.get("rate_limit", 190)), clock)
        self._on_report: ReportSink = lambda r: None
        self._on_quote: QuoteSink = lambda q: None
        self._on_state: StateSink = lambda s: None
        self._keys: tuple[str, str] | None = None
        self._trading: TradingClient | None = None
        self._stock_data: StockHistoricalDataClient | None = None
        self._crypto_data: CryptoHistoricalDataClient | None = None
        self._option_data: OptionHistoricalDataClient | None = None  # made at the first option_chain
        self._links: dict[str, Link] = {}
        self._subs: dict[str, set[str]] = {"stocks": set(), "crypto": set()}
        self._quotes: dict[str, Quote] = {}
        self._instruments: dict[str, Instrument] = {}
        self._client_of: dict[str, str] = {}  # alpaca order id -> our client id
        self._broker_of: dict[str, str] = {}  # our client id -> alpaca id of its live order
        self._symbol_of: dict[str, str] = {}  # alpaca order id -> our symbol (activities say BTCUSD)
        self._oco_waiting: dict[str, tuple[Order, asyncio.Future[None]]] = {}
        self._mleg = MlegBook(self._client_of, self._symbol_of)  # our spreads' leg orders
        self._depth = AlpacaDepth(clock)  # books and tapes (brokers/alpaca/depth.py)
        self._state = ""
        self._detail = ""
        self._closing = False
        # websockets logs whole frames at DEBUG, the auth frame with the keys among them:
        # our sockets log to a logger that never goes below INFO.
        self._wire_log = logging.getLogger("brokers.alpaca.wire")
        self._wire_log.setLevel(logging.INFO)
        # a socket that stops answering pings (silent but "connected") is closed and reconnected
        self._ws_params = {
            "ping_interval": float(opts.get("ping_interval", 10.0)), "ping_timeout": float(opts.get("ping_timeout", 20.0)),
            "open_timeout": self.connect_timeout, "logger": self._wire_log,
        }

    # ------------------------------------------------------------------ wiring
    def attach(self, on_report: ReportSink, on_quote: QuoteSink, on_state: StateSink) -> None:
        self._on_report = lambda report: on_report(redact_report(report))
        self._on_quote, self._on_state = on_quote, on_state

    def _emit_state(self, state: str, detail: str = "") -> None:
        detail = redact(detail)
        if (state, detail) == (self._state, self._detail):
            return
        self._state, self._detail = state, detail
        self._on_state(ConnectionState(broker=self.name, state=state, detail=detail, ts=self.clock.time()))

    def link_changed(self, link: Link, reason: str) -> None:
        if self._closing or "trading" not in self._links:
            return
        down = [f"{lk.name} stream: {reason or 'down'}" for lk in self._links.values() if lk.state == "down"]
        if down:
            self._emit_state("reconnecting", "; ".join(down))
        elif self._links["trading"].state == "up":
            detail = f"{link.name} stream restarted ({reason})" if reason else ""
            self._emit_state("connected", detail)

    def _endpoint(self, url: str | None, default: str) -> str:
        parts = urlsplit(url or default)
        port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
        return f"{parts.hostname}:{port}"

    @property
    def rest_host(self) -> str:
        default = "https://paper-api.alpaca.markets" if self.paper else "https://api.alpaca.markets"
        return self._endpoint(self.trading_url, default)

    # ------------------------------------------------------------------ connect / close
    async def connect(self) -> None:
        """Keys, the account over REST, then the trade_updates stream; BrokerUnavailable (one
        line naming the missing variable or the host and port) when any of them fails."""
        self._closing = False
        self._emit_state("connecting", f"Alpaca {'paper' if self.paper else 'LIVE'} at {self.rest_host}")
        try:
            await self._connect()
        except BrokerError as exc:
            await self.close()
            self._emit_state("disconnected", str(exc))
            raise

    async def _connect(self) -> None:
        self._keys = find_keys(self.env)
        key, secret = self._keys
        self._trading = TradingClient(key, secret, paper=self.paper, raw_data=True, url_override=self.trading_url)
        self._stock_data = StockHistoricalDataClient(key, secret, raw_data=True, url_override=self.data_url)
        self._crypto_data = CryptoHistoricalDataClient(key, secret, raw_data=True, url_override=self.data_url)
        for client in (self._trading, self._stock_data, self._crypto_data):
            client._retry = 0  # 429 is ours to back off from, with jitter, off the event loop
            client._session.request = functools.partial(client._session.request, timeout=self.request_timeout)
        try:
            await self._rest("account", self._trading.get_account, timeout=self.connect_timeout)
        except BrokerTimeout as exc:
            raise BrokerUnavailable(f"no answer from Alpaca at {self.rest_host} within {self.connect_timeout:g}s") from exc
        link = self._links["trading"] = Link("trading", self, self._open_trading)
        link.start()
        try:
            await asyncio.wait_for(link.up.wait(), self.connect_timeout)
        except TimeoutError:
            default = "wss://paper-api.alpaca.markets/stream" if self.paper else "wss://api.alpaca.markets/stream"
            where = self._endpoint(self.trading_stream_url, default)
            raise BrokerUnavailable(f"Alpaca's trade_updates stream at {where} did not answer within {self.connect_timeout:g}s") from None
        self._emit_state("connected")

    async def close(self) -> None:
        self._closing = True
        links, self._links = list(self._links.values()), {}
        for link in links:
            await link.stop()
        if self._state not in ("", "disconnected", "connecting"):
            self._emit_state("disconnected")

    # ------------------------------------------------------------------ REST plumbing
    async def _rest(self, what: str, fn: Callable[..., Any], *args: Any, timeout: float | None = None, submit: bool = False) -> Any:
        """Call a blocking SDK method off the loop, paced; map failures to Broker errors."""
        attempt = 0
        limit = timeout or self.request_timeout
        while True:
            await self.limiter.acquire()
            try:
                return await asyncio.wait_for(asyncio.to_thread(fn, *args), limit + 1)
            except TimeoutError:
                raise BrokerTimeout(f"no answer from Alpaca ({self.rest_host}) to {what} within {limit:g}s") from None
            except APIError as exc:
                status = exc.status_code
                if status == 429 and attempt < 5:
                    attempt += 1
                    delay = self.backoff.delay(attempt)
                    log.warning("Alpaca rate limit on %s; retrying in %.1fs", what, delay)
                    await asyncio.sleep(delay)
                    continue
                if submit and status is not None and status >= 500:  # the order may exist or not
                    raise BrokerTimeout(f"Alpaca answered {what} with HTTP {status}: its outcome is unknown") from None
                raise _api_error(exc, what) from None
            except requests.Timeout:
                raise BrokerTimeout(f"no answer from Alpaca ({self.rest_host}) to {what} within {limit:g}s") from None
            except requests.ConnectionError as exc:
                if submit and not _never_sent(exc):
                    raise BrokerTimeout(f"the answer to {what} was lost ({self.rest_host} closed the connection)") from None
                raise BrokerUnavailable(f"cannot reach Alpaca at {self.rest_host}: {_connection_reason(exc)}") from None
            except requests.RequestException as exc:
                raise BrokerError(f"Alpaca {what} failed: {type(exc).__name__}") from None

    def _client(self) -> TradingClient:
        if self._trading is None:
            raise BrokerUnavailable("not connected to Alpaca")
        return self._trading

    # ------------------------------------------------------------------ streams
    async def _open_trading(self) -> ListeningTradingStream:
        key, secret = self._keys or ("", "")
        stream = ListeningTradingStream(
            key, secret, paper=self.paper, raw_data=True, url_override=self.trading_stream_url,
            websocket_params={**self._ws_params, "max_queue": 1024},
        )
        stream.subscribe_trade_updates(self._on_trade_update)
        try:
            await asyncio.wait_for(stream._start_ws(), self.connect_timeout)
            await self._pump_until(stream, stream.listening)
        except BaseException:
            await stream.close()
            raise
        return stream

    async def _pump_until(self, stream: Any, event: asyncio.Event) -> None:
        """Read frames (dispatching them) until ``event`` is set: the server's answer to a subscribe."""
        async def loop() -> None:
            while not event.is_set():
                raw = await stream._ws.recv()
                await stream._dispatch(json.loads(raw))

        await asyncio.wait_for(loop(), self.connect_timeout)

    async def _open_data(self, kind: str) -> Any:
        key, secret = self._keys or ("", "")
        params = {**self._ws_params, "max_queue": 4096}
        if kind == "stocks":
            stream = StockDataStream(key, secret, raw_data=True, feed=self.feed, url_override=self.stock_stream_url, websocket_params=params, data_timeout=self.stale_after)
        else:
            stream = CryptoDataStream(key, secret, raw_data=True, url_override=self.crypto_stream_url, websocket_params=params, data_timeout=self.stale_after)
        symbols = sorted(self._subs[kind])
        if symbols:
            stream.subscribe_quotes(self._on_data, *symbols)
            stream.subscribe_trades(self._on_data, *symbols)
        self._depth.register(stream, kind, self._on_data)
        try:
            await asyncio.wait_for(stream._start_ws(), self.connect_timeout)
            await stream._send_subscribe_msg()
        except BaseException:
            await stream.close()
            raise
        return stream

    async def _on_trade_update(self, msg: dict) -> None:
        data = msg.get("data") or {}
        try:
            reports = self._mleg.reports(data, self.clock.time(), self._learn)  # a spread's, per leg
            if reports is None:
                cid = self._learn(data["order"])
                report = report_from_update(data, self.clock.time(), cid)
                reports = [report] if report is not None else []
        except (KeyError, ValueError, ArithmeticError) as exc:
            log.warning("unreadable trade update from Alpaca (%s): %s", type(exc).__name__, str(data)[:300])
            return
        for report in reports:
            try:
                self._on_report(report)
            except Exception:  # the engine's failure must not tear down the socket
                log.exception("handling %s from Alpaca failed", type(report).__name__)

    async def _on_data(self, msg: dict) -> None:
        symbol = msg.get("S")
        if not symbol:
            return
        if msg.get("T") == "t" and self._depth.taped(symbol):
            self._depth.trade(msg)
        if symbol not in self._subs["stocks"] and symbol not in self._subs["crypto"]:
            return  # on the tape only
        prev = self._quotes.get(symbol)
        ts = parse_time(msg.get("t")) or self.clock.time()
        if msg.get("T") == "q":
            bid, ask = float(msg.get("bp") or 0.0), float(msg.get("ap") or 0.0)
            last = prev.last if prev is not None and prev.last else (bid + ask) / 2 if bid and ask else bid or ask
            quote = Quote(symbol, ts, bid, ask, last, float(msg.get("bs") or 0.0), float(msg.get("as") or 0.0),
                          prev.volume if prev else 0.0, prev.prev_close if prev else 0.0)
        elif msg.get("T") == "t":
            price = float(msg.get("p") or 0.0)
            bid, ask = (prev.bid, prev.ask) if prev is not None else (price, price)
            quote = Quote(symbol, ts, bid, ask, price, prev.bid_size if prev else 0.0, prev.ask_size if prev else 0.0,
                          (prev.volume if prev else 0.0) + float(msg.get("s") or 0.0), prev.prev_close if prev else 0.0)
        else:
            return
        self._quotes[symbol] = quote
        try:
            self._on_quote(quote)
        except Exception:  # the engine's failure must not tear down the socket
            log.exception("handling a quote for %s failed", symbol)

    # ------------------------------------------------------------------ market data
    async def subscribe(self, symbols: list[str]) -> None:
        """A REST snapshot for each new symbol, then the streams; a symbol the snapshot did not
        price is waited for (up to ``first_quote_wait``) on the stream, so that a one-shot
        command (``prices``, a market order's checks) has it straight away."""
        fresh: list[str] = []
        for kind, syms in self._split(symbols).items():
            fresh += sorted(syms - self._subs[kind])
        await self._subscribe(symbols)
        missing = [s for s in fresh if s not in self._quotes]
        if missing and self.first_quote_wait > 0:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.first_quote_wait
            while any(s not in self._quotes for s in missing) and loop.time() < deadline and not self._closing:
                await asyncio.sleep(0.02)
            late = [s for s in missing if s not in self._quotes]
            if late:
                log.warning("Alpaca has no quote yet for %s", ", ".join(late))

    async def _subscribe(self, symbols: list[str]) -> None:
        for kind, syms in self._split(symbols).items():
            new = syms - self._subs[kind]
            if not new:
                continue
            self._subs[kind] |= new
            await self._prime(kind, sorted(new))
            link = self._links.get(kind)
            if link is None:
                link = self._links[kind] = Link(kind, self, functools.partial(self._open_data, kind))
                link.start()
                try:
                    await asyncio.wait_for(link.up.wait(), self.connect_timeout)
                except TimeoutError:
                    log.warning("alpaca %s stream not up yet; it keeps trying", kind)
            elif link.stream is not None and link.state == "up":
                link.stream.subscribe_quotes(self._on_data, *new)
                link.stream.subscribe_trades(self._on_data, *new)
                await link.stream._send_subscribe_msg()

    async def unsubscribe(self, symbols: list[str]) -> None:
        for kind, syms in self._split(symbols).items():
            gone = syms & self._subs[kind]
            self._subs[kind] -= gone
            link = self._links.get(kind)
            if link is not None and link.stream is not None and gone and link.state == "up":
                for channel in ("quotes", "trades"):
                    drop = sorted(s for s in gone if channel == "quotes" or s not in self._depth.tapes[kind])
                    for s in drop:
                        link.stream._handlers[channel].pop(s, None)
                    await link.stream._send_unsubscribe_msg(channel, drop)

    async def _prime(self, kind: str, symbols: list[str]) -> None:
        """Latest quote, last trade and previous close from a REST snapshot, before the stream speaks."""
        if kind == "stocks" and self._stock_data is not None:
            fn, req = self._stock_data.get_stock_snapshot, StockSnapshotRequest(symbol_or_symbols=symbols, feed=self.feed)
        elif kind == "crypto" and self._crypto_data is not None:
            fn, req = self._crypto_data.get_crypto_snapshot, CryptoSnapshotRequest(symbol_or_symbols=symbols)
        else:
            return
        try:
            raw = await self._rest(f"{kind} snapshots", fn, req)
        except BrokerError as exc:
            log.warning("no Alpaca snapshot for %s: %s", ", ".join(symbols), exc)
            return
        for symbol in symbols:
            snap = (raw or {}).get(symbol)
            if not isinstance(snap, dict):
                continue
            q, t = snap.get("latestQuote") or {}, snap.get("latestTrade") or {}
            prev, day = snap.get("prevDailyBar") or {}, snap.get("dailyBar") or {}
            bid, ask = float(q.get("bp") or 0.0), float(q.get("ap") or 0.0)
            # no quote or trade yet today (a quiet symbol, the market closed): the last close
            last = float(t.get("p") or 0.0) or ((bid + ask) / 2 if bid and ask else bid or ask) or float(day.get("c") or prev.get("c") or 0.0)
            if not (bid or ask or last):
                continue
            quote = Quote(symbol, parse_time(q.get("t") or t.get("t")) or self.clock.time(), bid, ask, last,
                          float(q.get("bs") or 0.0), float(q.get("as") or 0.0), float(day.get("v") or 0.0), float(prev.get("c") or 0.0))
            self._quotes[symbol] = quote
            self._on_quote(quote)

    @staticmethod
    def _split(symbols: list[str]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {"stocks": set(), "crypto": set()}
        for s in symbols:
            inst = parse_symbol(s)
            if inst.asset_class is AssetClass.CRYPTO:
                out["crypto"].add(inst.symbol)
            elif inst.asset_class is AssetClass.EQUITY:
                out["stocks"].add(inst.symbol)
        return {k: v for k, v in out.items() if v}

    def snapshot(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    # ------------------------------------------------------------------ depth and the tape (DepthFeed, depth.py)
    def attach_depth(self, on_book: BookSink, on_trade: TradeSink) -> None:
        self._depth.attach(on_book, on_trade)

    async def _data_link(self, kind: str) -> Any:
        """The running stream of ``kind`` (started if need be), or None while it connects: it
        subscribes to every wanted book and tape itself when it comes up."""
        link = self._links.get(kind)
        if link is None:
            link = self._links[kind] = Link(kind, self, functools.partial(self._open_data, kind))
            link.start()
            try:
                await asyncio.wait_for(link.up.wait(), self.connect_timeout)
            except TimeoutError:
                log.warning("alpaca %s stream not up yet; it keeps trying", kind)
            return None
        return link.stream if link.stream is not None and link.state == "up" else None

    async def subscribe_depth(self, symbols: list[str], levels: int = 20) -> None:
        """Crypto books (Alpaca sends its whole book; ``levels`` is for the view); a stock's is refused."""
        new = [s for s in depth_symbols(symbols) if s not in self._depth.books]
        if not new:
            return
        self._depth.books.update(new)
        stream = await self._data_link("crypto")
        if stream is not None:
            stream.subscribe_orderbooks(self._depth.on_orderbook, *new)
            await stream._send_subscribe_msg()

    async def unsubscribe_depth(self, symbols: list[str]) -> None:
        gone = sorted(s for s in depth_symbols(symbols) if s in self._depth.books)
        self._depth.forget(gone)
        link = self._links.get("crypto")
        if gone and link is not None and link.stream is not None and link.state == "up":
            for s in gone:
                link.stream._handlers["orderbooks"].pop(s, None)
            await link.stream._send_unsubscribe_msg("orderbooks", gone)

    async def subscribe_trades(self, symbols: list[str]) -> None:
        for kind, syms in trade_symbols(symbols).items():
            new = syms - self._depth.tapes[kind]
            if not new:
                continue
            self._depth.tapes[kind] |= new
            stream = await self._data_link(kind)
            if stream is not None:
                stream.subscribe_trades(self._on_data, *sorted(new))
                await stream._send_subscribe_msg()

    async def unsubscribe_trades(self, symbols: list[str]) -> None:
        for kind, syms in trade_symbols(symbols).items():
            gone = syms & self._depth.tapes[kind]
            self._depth.tapes[kind] -= gone
            drop = sorted(gone - self._subs[kind])  # a quoted symbol keeps its trades (the last price)
            link = self._links.get(kind)
            if drop and link is not None and link.stream is not None and link.state == "up":
                for s in drop:
                    link.stream._handlers["trades"].pop(s, None)
                await link.stream._send_unsubscribe_msg("trades", drop)

    async def option_chain(self, underlying: str, expiry: date | None = None) -> OptionChain:
        """Expiries and open interest from the contract list, quotes, IV and Greeks from the options
        data API's chain snapshots (brokers/alpaca/chains.py)."""
        try:
            inst = parse_symbol(underlying)
        except ModelError as exc:
            raise BrokerError(str(exc)) from None
        if inst.asset_class is not AssetClass.EQUITY:
            raise BrokerError(f"Alpaca lists options on US stocks and ETFs only, not on {inst.symbol}")
        if self._keys is None:
            raise BrokerUnavailable("not connected to Alpaca")
        if self._option_data is None:
            self._option_data = option_data_client(self._keys, self.data_url, self.request_timeout)
        if inst.symbol not in self._quotes:
            await self._prime("stocks", [inst.symbol])
        q = self._quotes.get(inst.symbol)
        spot = ((q.bid + q.ask) / 2 if q.bid > 0 and q.ask > 0 else q.last or None) if q else None
        return await fetch_chain(self._rest, self._client(), self._option_data, inst.symbol, expiry,
                                 now=self.clock.time(), spot=spot)

    async def history(self, symbol: str, seconds: int, start: float, end: float) -> list[Bar]:
        inst = parse_symbol(symbol)
        tf = timeframe(seconds)
        start_dt, end_dt = datetime.fromtimestamp(start, timezone.utc), datetime.fromtimestamp(end, timezone.utc)
        if inst.asset_class is AssetClass.CRYPTO:
            req = CryptoBarsRequest(symbol_or_symbols=inst.symbol, timeframe=tf, start=start_dt, end=end_dt)
            client = self._crypto_data
            fn = client.get_crypto_bars if client else None
        else:
            req = StockBarsRequest(symbol_or_symbols=inst.symbol, timeframe=tf, start=start_dt, end=end_dt, feed=self.feed)
            client = self._stock_data
            fn = client.get_stock_bars if client else None
        if fn is None:
            raise BrokerUnavailable("not connected to Alpaca")
        raw = await self._rest(f"bars for {symbol}", fn, req)
        return [
            Bar(inst.symbol, parse_time(b["t"]), float(b["o"]), float(b["h"]), float(b["l"]), float(b["c"]), float(b.get("v") or 0.0), seconds)
            for b in (raw or {}).get(inst.symbol, [])
        ]

    # ------------------------------------------------------------------ metadata
    async def instrument(self, symbol: str) -> Instrument:
        inst = parse_symbol(symbol)
        if inst.asset_class is AssetClass.OPTION:  # a spread's leg (brokers/alpaca/combos.py)
            if inst.symbol not in self._instruments:
                fetch = functools.partial(self._rest, f"option contract {inst.symbol}", self._client().get_option_contract)
                self._instruments[inst.symbol] = await option_instrument(inst, fetch)
            return self._instruments[inst.symbol]
        if inst.asset_class not in (AssetClass.EQUITY, AssetClass.CRYPTO):
            raise BrokerError(f"Alpaca does not trade {inst.asset_class.value} ({inst.symbol}) through this workstation")
        cached = self._instruments.get(inst.symbol)
        if cached is not None:
            return cached
        try:
            # the asset path takes crypto without its slash (BTCUSD): a slash would split the path
            asset = await self._rest(f"asset {inst.symbol}", self._client().get_asset, inst.symbol.replace("/", ""))
        except BrokerError as exc:
            if "404" in str(exc) or "not found" in str(exc).lower():
                raise BrokerError(f"Alpaca does not know the symbol {inst.symbol!r}") from None
            raise
        result = instrument_from_asset(inst.symbol, asset)
        self._instruments[inst.symbol] = result
        return result

    # ------------------------------------------------------------------ orders
    def _learn(self, o: Mapping[str, Any]) -> str:
        """Remember which of our orders an Alpaca order (and its OCO leg) is; returns our client id."""
        coid = str(o.get("client_order_id") or "")
        cid = self._client_of.get(str(o["id"])) or our_client_id(coid)
        self._client_of[str(o["id"])] = cid
        self._broker_of[cid] = str(o["id"])
        if o.get("symbol"):
            self._symbol_of[str(o["id"])] = our_symbol(str(o["symbol"]), o.get("asset_class"))
        self._mleg.learn(o, cid)
        if OCO_MARK in coid.split(REPLACE_MARK, 1)[0]:
            partner = coid.split(REPLACE_MARK, 1)[0].split(OCO_MARK, 1)[1]
            for leg in o.get("legs") or []:
                self._client_of[str(leg["id"])] = partner
                self._broker_of[partner] = str(leg["id"])
        return cid

    async def submit(self, order: Order) -> None:
        if order.legs:  # a spread: one multi-leg option order
            await self._send(order, mleg_request(order), [order])
            return
        inst = await self.instrument(order.symbol)
        if inst.asset_class is AssetClass.OPTION:
            raise BrokerError(f"Alpaca takes options here only as spreads (multi-leg orders), not {inst.symbol} alone")
        if order.oco_group and order.role in ("take_profit", "stop_loss") and inst.asset_class is AssetClass.EQUITY:
            await self._submit_bracket_exit(order)
            return
        await self._send(order, order_request(order, inst.asset_class is AssetClass.CRYPTO), [order])

    async def _send(self, order: Order, req: Any, covers: list[Order]) -> None:
        """Send one request standing for ``covers`` (one order, or the two sides of an OCO)."""
        try:
            o = await self._rest(f"order {order.client_id}", self._client().submit_order, req, submit=True)
        except (BrokerTimeout, BrokerUnavailable):
            raise
        except BrokerError as exc:
            for each in covers:
                self._on_report(BrokerRejected(client_id=each.client_id, reason=str(exc), ts=self.clock.time()))
            return
        self._learn(o)
        for each in covers:
            if o.get("status") == "rejected":
                self._on_report(BrokerRejected(client_id=each.client_id, reason="Alpaca: rejected", ts=self.clock.time()))
            else:
                self._on_report(BrokerAccepted(client_id=each.client_id, broker_id=self._broker_of.get(each.client_id), ts=self.clock.time()))

    async def _submit_bracket_exit(self, order: Order) -> None:
        """A bracket's two exits go out as one native OCO order, so Alpaca holds the shares once
        (two separate sells would exceed the position) and cancels one side when the other fills.
        The order manager sends the two sides one after the other: the first waits for the second."""
        group = order.oco_group or ""
        waiting = self._oco_waiting.pop(group, None)
        if waiting is None:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._oco_waiting[group] = (order, future)
            try:
                await asyncio.wait_for(asyncio.shield(future), OCO_PAIR_WAIT_S)
            except TimeoutError:
                if self._oco_waiting.get(group, (None,))[0] is order:
                    del self._oco_waiting[group]
                    await self._send(order, order_request(order, False), [order])  # its sibling never came
            return
        first, future = waiting
        try:
            tp, sl = (first, order) if first.role == "take_profit" else (order, first)
            if tp.qty != sl.qty or tp.limit_price is None or sl.stop_price is None:
                for each in (first, order):
                    await self._send(each, order_request(each, False), [each])
            else:
                await self._send(tp, oco_request(tp, sl), [tp, sl])
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(None)

    async def _broker_id(self, order: Order) -> str:
        """The Alpaca id of the order's live incarnation (after replacements, the newest)."""
        state = await self.lookup(order.client_id)
        if state is None or state.broker_id is None:
            raise BrokerError(f"Alpaca has no order with client id {order.client_id}")
        return state.broker_id

    async def cancel(self, order: Order) -> None:
        if order.broker_id and order.client_id not in self._broker_of:
            self._client_of.setdefault(order.broker_id, order.client_id)
            self._broker_of[order.client_id] = order.broker_id
        broker_id = await self._broker_id(order)
        await self._rest(f"cancel of {order.client_id}", self._client().cancel_order_by_id, broker_id)

    async def replace(self, order: Order, qty: Decimal, limit_price: Decimal | None, stop_price: Decimal | None) -> None:
        if qty != qty.to_integral_value():
            raise BrokerError("Alpaca replaces whole-share quantities only; cancel and send a new order instead")
        if order.broker_id and order.client_id not in self._broker_of:
            self._client_of.setdefault(order.broker_id, order.client_id)
            self._broker_of[order.client_id] = order.broker_id
        broker_id = await self._broker_id(order)
        req = ReplaceOrderRequest(
            qty=int(qty),
            limit_price=to_float(limit_price, "limit price") if limit_price is not None else None,
            stop_price=to_float(stop_price, "stop price") if stop_price is not None else None,
            client_order_id=f"{order.client_id}{REPLACE_MARK}{int(self.clock.time() * 1000):x}",
        )
        o = await self._rest(f"replace of {order.client_id}", self._client().replace_order_by_id, broker_id, req)
        self._client_of[str(o["id"])] = order.client_id
        self._broker_of[order.client_id] = str(o["id"])
        self._on_report(BrokerReplaced(
            client_id=order.client_id, qty=dec(o["qty"]), limit_price=opt_dec(o.get("limit_price")),
            stop_price=opt_dec(o.get("stop_price")), ts=self.clock.time(),
        ))

    async def lookup(self, client_id: str) -> BrokerOrderState | None:
        client = self._client()
        o: Mapping[str, Any] | None = None
        known = self._broker_of.get(client_id)
        try:
            if known is not None:
                o = await self._rest(f"lookup of {client_id}", client.get_order_by_id, known)
            else:
                o = await self._rest(f"lookup of {client_id}", client.get_order_by_client_id, client_id)
        except BrokerError as exc:
            if "404" not in str(exc) and "not found" not in str(exc).lower():
                raise
        if o is None:  # an OCO's stop side has an id Alpaca chose: find it under its parent
            await self._learn_recent()
            known = self._broker_of.get(client_id)
            if known is None:
                return None
            o = await self._rest(f"lookup of {client_id}", client.get_order_by_id, known)
        for _ in range(20):  # follow replacements to the live order
            if o.get("status") != "replaced" or not o.get("replaced_by"):
                break
            o = await self._rest(f"lookup of {client_id}", client.get_order_by_id, str(o["replaced_by"]))
        self._client_of[str(o["id"])] = client_id
        self._broker_of[client_id] = str(o["id"])
        return msgspec.structs.replace(order_state(o), client_id=client_id)

    async def _learn_recent(self, after: float | None = None) -> None:
        """Map recent orders, their OCO legs included, to our client ids (one request)."""
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.requests import GetOrdersRequest

        since = datetime.fromtimestamp(after, timezone.utc) if after is not None else None
        req = GetOrdersRequest(status=QueryOrderStatus.ALL, nested=True, limit=500, after=since)
        for o in await self._rest("recent orders", self._client().get_orders, req) or []:
            self._learn(o)

    async def open_orders(self) -> list[BrokerOrderState]:
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.requests import GetOrdersRequest

        rows = await self._rest("open orders", self._client().get_orders, GetOrdersRequest(status=QueryOrderStatus.OPEN, nested=True, limit=500))
        out = []
        for o in rows or []:
            for each in [o, *(o.get("legs") or [] if not MlegBook.is_parent(o) else [])]:  # a spread's legs are its own
                if each.get("status") in OPEN_STATUSES:
                    self._learn(o)
                    out.append(msgspec.structs.replace(order_state(each), client_id=self._client_of.get(str(each["id"]), our_client_id(each["client_order_id"]))))
        return out

    async def fills_since(self, ts: float) -> list[BrokerFill]:
        """Executions since ``ts`` from Alpaca's FILL activities, with the stream's exec ids."""
        client = self._client()
        after = datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")
        params: dict[str, Any] = {"after": after, "direction": "asc", "page_size": 100}
        out: list[BrokerFill] = []
        learned = False
        for _ in range(50):
            rows = await self._rest("fill activities", functools.partial(client.get, "/account/activities/FILL", params))
            if not rows:
                break
            for a in rows:
                order_id = str(a["order_id"])
                if order_id not in self._client_of and not learned:
                    learned = True
                    await self._learn_recent(ts - 86_400)
                cid = self._client_of.get(order_id)
                if cid is None:
                    try:
                        cid = self._learn(await self._rest(f"order {order_id}", client.get_order_by_id, order_id))
                    except BrokerError:
                        cid = f"alpaca-{order_id}"
                out.append(BrokerFill(
                    client_id=cid, exec_id=exec_id(a["order_id"], a["cum_qty"]), qty=dec(a["qty"]), price=dec(a["price"]),
                    symbol=self._symbol_of.get(order_id) or our_symbol(a["symbol"], None), side=a["side"],
                    ts=parse_time(a.get("transaction_time")),
                ))
            if len(rows) < params["page_size"]:
                break
            params = {**params, "page_token": rows[-1]["id"]}
        return out

    # ------------------------------------------------------------------ account
    async def positions(self) -> list[Position]:
        rows = await self._rest("positions", self._client().get_all_positions)
        out = []
        for p in rows or []:
            qty = dec(p["qty"])
            if p.get("side") == "short" and qty > 0:
                qty = -qty
            mult = Decimal(100) if p.get("asset_class") == "us_option" else Decimal(1)  # a spread's leg: per share, x100
            out.append(Position(symbol=our_symbol(p["symbol"], p.get("asset_class")), qty=qty, avg_price=average(dec(p["avg_entry_price"])),
                                multiplier=mult))
        return out

    async def account(self) -> ModelAccount | None:
        a = await self._rest("account", self._client().get_account)
        market_value = (opt_dec(a.get("long_market_value")) or Decimal(0)) + (opt_dec(a.get("short_market_value")) or Decimal(0))
        pdt = a.get("pattern_day_trader")
        count = a.get("daytrade_count")
        return ModelAccount(
            currency=a.get("currency") or "USD", cash=dec(a.get("cash") or 0), equity=dec(a.get("equity") or 0),
            buying_power=dec(a.get("buying_power") or 0), market_value=market_value, from_broker=True,
            initial_margin=opt_dec(a.get("initial_margin")), maintenance_margin=opt_dec(a.get("maintenance_margin")),
            day_trade_count=int(count) if count not in (None, "") else None,
            pattern_day_trader=bool(pdt) if pdt is not None else None,
        )


# --------------------------------------------------------------------------- error mapping


def _api_error(exc: APIError, what: str) -> BrokerError:
    status = exc.status_code
    try:
        message = exc.message
    except (ValueError, KeyError, TypeError):
        message = (str(exc) or "").splitlines()[0][:200] if str(exc) else f"HTTP {status}"
    message = redact(str(message))
    if status in (401,):
        return BrokerUnavailable(f"Alpaca refused the API keys ({status}: {message})")
    if status == 404:
        return BrokerError(f"Alpaca: {message} (404)")
    return BrokerError(f"Alpaca: {message}")


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the request cannot have reached the server (refused, DNS, connect timeout)."""
    import urllib3.exceptions as u3

    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            break
        if isinstance(seen, (u3.NewConnectionError, u3.ConnectTimeoutError, ConnectionRefusedError)):
            return True
        if isinstance(seen, u3.MaxRetryError):
            seen = seen.reason
            continue
        seen = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else seen.__cause__ or seen.__context__
    return False


def _connection_reason(exc: requests.ConnectionError) -> str:
    text = str(exc)
    for needle, reason in (("Connection refused", "connection refused"), ("Name or service not known", "host not found"),
                           ("Temporary failure in name resolution", "host not found"), ("timed out", "timed out"),
                           ("Network is unreachable", "network unreachable")):
        if needle in text:
            return reason
    return "connection failed"

