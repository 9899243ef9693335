"""A loopback fake of binance spot: real REST paths and websocket messages, on 127.0.0.1.

It runs an aiohttp server on its own event loop in a background thread (port 0), so the
real, unmodified ccxt talks to it over sockets exactly as it would to binance. State is
plain and inspectable (``orders``, ``trades``, ``balances``, ``requests``); test controls
fill orders fully or partly, push quotes, drop or mute the websockets, refuse reconnects
and swallow the answer to a submit.

``swallow_submits = N``: the next N ``POST /api/v3/order`` put the order in the book but
never answer. ``fail_lookups = N``: the next N ``GET /api/v3/order`` (ccxt's ``fetch_order``,
the adapter's ``lookup``) answer HTTP 500 with binance's ``-1001`` internal error, so
``lookup`` raises ``BrokerError``. Together they make an order of unknown fate.

REST: ``/api/v3/{ping,time,exchangeInfo,ticker/24hr,klines,depth,account,order,openOrders,
allOrders,myTrades}``, signed requests checked (``X-MBX-APIKEY`` and HMAC-SHA256).
Websockets: ``/ws/<n>`` (``SUBSCRIBE`` to ``<sym>@ticker`` / ``<sym>@bookTicker``,
``<sym>@depth[@100ms]`` and ``<sym>@trade``) and ``/ws-api/v3``
(``userDataStream.subscribe.signature``, then ``executionReport`` events).

Depth and trades: each market has a ``FakeBook`` (``books``, built around its quote on first
use, or set by ``set_book``). ``GET /api/v3/depth`` answers its best ``limit`` levels with
``lastUpdateId``; ``update_book`` changes levels (size 0 removes) and pushes one
``depthUpdate`` with binance's ``U``/``u`` update ids (one id per level changed), or, with
``lost=True``, changes the book without telling anyone (a gap the client must notice).
``print_trade`` pushes a ``trade`` event (``m``: the buyer was the maker, i.e. a seller took)
and keeps it in ``tape`` for ``GET /api/v3/aggTrades`` (``startTime``/``endTime``).
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

ZERO = Decimal(0)
INSUFFICIENT = {"code": -2010, "msg": "Account has insufficient balance for requested action."}


def s(d: Decimal | None) -> str:
    return "0.00000000" if d is None else f"{d:.8f}"


@dataclass
class Market:
    symbol: str  # BTCUSDT
    base: str
    quote: str
    tick: str
    step: str
    bid: Decimal
    ask: Decimal
    last: Decimal
    open: Decimal
    order_types: tuple[str, ...] = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")


@dataclass
class FakeOrder:
    order_id: int
    symbol: str
    cid: str
    side: str  # BUY / SELL
    type: str
    tif: str
    qty: Decimal
    price: Decimal
    stop: Decimal
    time: int
    status: str = "NEW"
    executed: Decimal = ZERO
    quote_qty: Decimal = ZERO
    update: int = 0
    locked: Decimal = ZERO  # funds held for it (quote for buys, base for sells)
    trailing_delta: int | None = None  # basis points, for trailing STOP_LOSS orders

    def rest(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "orderId": self.order_id, "orderListId": -1, "clientOrderId": self.cid,
            "price": s(self.price), "origQty": s(self.qty), "executedQty": s(self.executed),
            "cummulativeQuoteQty": s(self.quote_qty), "status": self.status, "timeInForce": self.tif,
            "type": self.type, "side": self.side, "stopPrice": s(self.stop), "icebergQty": "0.00000000",
            "time": self.time, "updateTime": self.update or self.time, "isWorking": self.status in ("NEW", "PARTIALLY_FILLED"),
            "workingTime": self.time, "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "EXPIRE_MAKER",
            **({"trailingDelta": self.trailing_delta} if self.trailing_delta is not None else {}),
        }


@dataclass
class OptionMarket:
    """One binance option (eapi): ``BTC-261225-100000-C``, its quote, mark Greeks and open interest."""

    symbol: str
    underlying: str  # BTCUSDT
    expiry_ms: int  # 08:00 UTC on the expiry date
    strike: str
    side: str  # CALL / PUT
    bid: str = "0"
    ask: str = "0"
    last: str = "0"
    volume: str = "0"
    mark: str = "0"
    mark_iv: str = "0"
    bid_iv: str = "0"
    ask_iv: str = "0"
    delta: str = "0"
    gamma: str = "0"
    theta: str = "0"
    vega: str = "0"
    open_interest: str = "0"
    index: str = "0"  # the underlying's index price (exercisePrice)


@dataclass
class FakeBook:
    """One market's order book: price -> size each side, and binance's update id."""

    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    update_id: int = 1000

    def levels(self, side: str, limit: int | None = None) -> list[tuple[Decimal, Decimal]]:
        book = self.bids if side == "bid" else self.asks
        prices = sorted(book, reverse=side == "bid")[:limit]
        return [(p, book[p]) for p in prices]


@dataclass
class BinanceFake:
    api_key: str = "fake-key"
    secret: str = "fake-secret"
    fee_rate: Decimal = ZERO
    start_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    balances: dict[str, list[Decimal]] = field(default_factory=lambda: {"USDT": [Decimal(100_000), ZERO], "BTC": [ZERO, ZERO], "ETH": [ZERO, ZERO], "EUR": [ZERO, ZERO]})
    markets: dict[str, Market] = field(default_factory=dict)
    orders: dict[int, FakeOrder] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    ws_connections: int = 0

    def __post_init__(self) -> None:
        if not self.markets:
            self.markets = {
                "BTCUSDT": Market("BTCUSDT", "BTC", "USDT", "0.01", "0.00001", Decimal("60000.00"), Decimal("60001.00"), Decimal("60000.50"), Decimal("59000")),
                "ETHUSDT": Market("ETHUSDT", "ETH", "USDT", "0.01", "0.0001", Decimal("3000.00"), Decimal("3000.10"), Decimal("3000.05"), Decimal("2950")),
                "EURUSDT": Market("EURUSDT", "EUR", "USDT", "0.0001", "0.1", Decimal("1.0850"), Decimal("1.0851"), Decimal("1.0850"), Decimal("1.08"),
                                  order_types=("LIMIT", "LIMIT_MAKER", "MARKET")),
            }
        self._ids = itertools.count(1000)
        self._trade_ids = itertools.count(50_000)
        self._now = self.start_ms
        self._public: dict[web.WebSocketResponse, set[str]] = {}
        self._private: set[web.WebSocketResponse] = set()
        self.streams_refused = False
        self.muted = False
        self.hung = False  # connected but dead: no events, no pongs
        self.swallow_submits = 0
        self.fail_lookups = 0  # the next N GET /api/v3/order answer 500 / -1001
        self._outages: dict[tuple[str, str], list[int]] = {}  # (method, path) -> [good ones left, failures left]
        self._swallowed: list[asyncio.Event] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._ticker: asyncio.Task[None] | None = None
        self.options: dict[str, OptionMarket] = {}  # binance options (eapi), by symbol: list_option
        self.books: dict[str, FakeBook] = {}  # by market id: book_of
        self.tape: list[dict[str, Any]] = []  # public trades printed (print_trade), for GET aggTrades

    # ------------------------------------------------------------------ life cycle
    def start(self) -> BinanceFake:
        ready = threading.Event()

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self._serve())
            ready.set()
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name="binance-fake", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/v3/{path:.*}", self._rest)
        app.router.add_get("/eapi/v1/{path:.*}", self._eapi)
        app.router.add_get("/ws-api/v3", self._user_ws)
        app.router.add_get("/ws", self._public_ws)
        app.router.add_get("/ws/{n}", self._public_ws)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.loop is None:
            return

        async def shutdown() -> None:
            for ev in self._swallowed:
                ev.set()
            if self._ticker:
                self._ticker.cancel()
            for ws in [*self._public, *self._private]:
                await ws.close()
            if self._runner:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread:
            self._thread.join(10)

    def call(self, fn, *args: Any) -> Any:
        """Run ``fn(*args)`` (sync or async) on the fake's loop and return its result."""
        async def wrap() -> Any:
            out = fn(*args)
            return await out if asyncio.iscoroutine(out) else out

        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(wrap(), self.loop).result(10)

    def outage(self, path: str, times: int = 1, after: int = 0, method: str = "GET") -> None:
        """After ``after`` good answers, the next ``times`` signed requests to ``/api/v3/<path>``
        answer 503 with an HTML page, as a load balancer in front of the venue does: ccxt's error
        then carries the whole signed request URL (timestamp, signature)."""
        self._outages[(method, path)] = [after, times]

    def _tick(self) -> int:
        self._now = max(self._now + 1, int(time.time() * 1000))
        return self._now

    # ------------------------------------------------------------------ REST
    def _error(self, body: dict[str, Any], status: int = 400) -> web.Response:
        return web.json_response(body, status=status)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        body = await request.text() if request.method in ("POST", "PUT") else ""
        raw = body or request.query_string
        params = dict(parse_qsl(raw, keep_blank_values=True))
        self.requests.append((request.method, path, params))
        public = {"ping": self._ping, "time": self._time, "exchangeInfo": self._exchange_info, "ticker/24hr": self._ticker24, "klines": self._klines, "depth": self._depth, "aggTrades": self._agg_trades}
        if path in public:
            return web.json_response(public[path](params))
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            return self._error({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, 401)
        payload, _, signature = raw.rpartition("&signature=")
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            return self._error({"code": -1022, "msg": "Signature for this request is not valid."}, 400)
        handlers = {
            ("GET", "account"): self._account, ("POST", "order"): self._new_order, ("DELETE", "order"): self._cancel,
            ("GET", "order"): self._get_order, ("GET", "openOrders"): self._open_orders, ("GET", "allOrders"): self._all_orders,
            ("GET", "myTrades"): self._my_trades,
        }
        outage = self._outages.get((request.method, path))
        if outage is not None:
            if outage[0] > 0:
                outage[0] -= 1
            elif outage[1] > 0:
                outage[1] -= 1
                return web.Response(status=503, text="<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>", content_type="text/html")
        if (request.method, path) == ("GET", "order") and self.fail_lookups > 0:
            self.fail_lookups -= 1
            return self._error({"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}, 500)
        handler = handlers.get((request.method, path))
        if handler is None:
            return self._error({"code": -1100, "msg": f"unknown endpoint {request.method} {path}"}, 404)
        result = await handler(params)
        if isinstance(result, web.StreamResponse):
            return result
        if path == "order" and request.method == "POST" and self.swallow_submits > 0:
            self.swallow_submits -= 1
            ev = asyncio.Event()
            self._swallowed.append(ev)
            await ev.wait()  # the order is in the book; its answer never leaves
        return web.json_response(result)

    def _ping(self, p: dict[str, str]) -> dict[str, Any]:
        return {}

    def _time(self, p: dict[str, str]) -> dict[str, Any]:
        return {"serverTime": self._now}

    def _exchange_info(self, p: dict[str, str]) -> dict[str, Any]:
        return {
            "timezone": "UTC", "serverTime": self._now, "rateLimits": [], "exchangeFilters": [],
            "symbols": [
                {
                    "symbol": m.symbol, "status": "TRADING", "baseAsset": m.base, "baseAssetPrecision": 8,
                    "quoteAsset": m.quote, "quotePrecision": 8, "quoteAssetPrecision": 8, "baseCommissionPrecision": 8,
                    "quoteCommissionPrecision": 8, "orderTypes": list(m.order_types), "icebergAllowed": True,
                    "ocoAllowed": True, "otoAllowed": True, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
                    "cancelReplaceAllowed": True, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
                    "filters": [
                        {"filterType": "PRICE_FILTER", "minPrice": m.tick, "maxPrice": "1000000.00000000", "tickSize": m.tick},
                        {"filterType": "LOT_SIZE", "minQty": m.step, "maxQty": "9000.00000000", "stepSize": m.step},
                        {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True, "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
                    ],
                    "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                    "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
                }
                for m in self.markets.values()
            ],
        }

    # ------------------------------------------------------------------ options (eapi)
    def list_option(self, symbol: str, **fields: str) -> OptionMarket:
        """List an option named as binance names it (``BTC-261225-100000-C``); ``fields`` set its quote and Greeks."""
        base, yymmdd, strike, right = symbol.split("-")
        expiry = calendar.timegm(time.strptime(f"20{yymmdd} 08:00", "%Y%m%d %H:%M")) * 1000
        o = OptionMarket(symbol, f"{base}USDT", expiry, strike, "CALL" if right == "C" else "PUT", **fields)
        self.options[symbol] = o
        return o

    async def _eapi(self, request: web.Request) -> web.StreamResponse:
        """Public options market data as binance's eapi serves it: exchangeInfo, ticker, mark, openInterest."""
        path = request.match_info["path"]
        p = dict(request.query)
        self.requests.append((request.method, f"eapi/{path}", p))
        if path == "exchangeInfo":
            bases = sorted({o.underlying for o in self.options.values()})
            return web.json_response({
                "timezone": "UTC", "serverTime": self._now, "rateLimits": [],
                "optionContracts": [{"id": i, "baseAsset": u[:-4], "quoteAsset": "USDT", "underlying": u, "settleAsset": "USDT"}
                                    for i, u in enumerate(bases, 1)],
                "optionAssets": [{"id": 1, "name": "USDT"}],
                "optionSymbols": [
                    {
                        "contractId": 1, "expiryDate": o.expiry_ms, "id": n, "symbol": o.symbol, "side": o.side,
                        "strikePrice": f"{Decimal(o.strike):.8f}", "underlying": o.underlying, "unit": 1, "status": "TRADING",
                        "filters": [{"filterType": "PRICE_FILTER", "minPrice": "5", "maxPrice": "100000", "tickSize": "5"},
                                    {"filterType": "LOT_SIZE", "minQty": "0.01", "maxQty": "1000", "stepSize": "0.01"}],
                        "makerFeeRate": "0.00020000", "takerFeeRate": "0.00020000", "minQty": "0.01", "maxQty": "1000",
                        "initialMargin": "0.15000000", "maintenanceMargin": "0.07500000", "minInitialMargin": "0.10000000",
                        "minMaintenanceMargin": "0.05000000", "priceScale": 0, "quantityScale": 2, "quoteAsset": "USDT",
                    }
                    for n, o in enumerate(self.options.values(), 2000)
                ],
            })
        chosen = [o for o in self.options.values() if "symbol" not in p or o.symbol == p["symbol"]]
        if path == "ticker":
            return web.json_response([
                {"symbol": o.symbol, "priceChange": "0", "priceChangePercent": "0", "lastPrice": o.last, "lastQty": "0",
                 "open": o.last, "high": o.last, "low": o.last, "volume": o.volume, "amount": "0", "bidPrice": o.bid,
                 "askPrice": o.ask, "openTime": self._now - 86_400_000, "closeTime": self._now, "firstTradeId": 1,
                 "tradeCount": 1, "strikePrice": o.strike, "exercisePrice": o.index}
                for o in chosen
            ])
        if path == "mark":
            return web.json_response([
                {"symbol": o.symbol, "markPrice": o.mark, "bidIV": o.bid_iv, "askIV": o.ask_iv, "markIV": o.mark_iv,
                 "delta": o.delta, "theta": o.theta, "gamma": o.gamma, "vega": o.vega, "highPriceLimit": "100000",
                 "lowPriceLimit": "5", "riskFreeInterest": "0.1"}
                for o in chosen
            ])
        if path == "openInterest":
            wanted = [o for o in self.options.values()
                      if o.underlying == f"{p.get('underlyingAsset')}USDT" and o.symbol.split("-")[1] == p.get("expiration")]
            if not wanted:
                return self._error({"code": -1121, "msg": "Invalid symbol."}, 400)
            return web.json_response([
                {"symbol": o.symbol, "sumOpenInterest": o.open_interest,
                 "sumOpenInterestUsd": str(Decimal(o.open_interest) * Decimal(o.index or 0)), "timestamp": str(self._now)}
                for o in wanted
            ])
        return self._error({"code": -1100, "msg": f"unknown endpoint {request.method} eapi/{path}"}, 404)

    def _ticker_row(self, m: Market) -> dict[str, Any]:
        change = m.last - m.open
        return {
            "symbol": m.symbol, "priceChange": s(change), "priceChangePercent": f"{change / m.open * 100:.3f}",
            "weightedAvgPrice": s(m.last), "prevClosePrice": s(m.open), "lastPrice": s(m.last), "lastQty": "0.01000000",
            "bidPrice": s(m.bid), "bidQty": "1.50000000", "askPrice": s(m.ask), "askQty": "2.00000000",
            "openPrice": s(m.open), "highPrice": s(max(m.open, m.last)), "lowPrice": s(min(m.open, m.last)),
            "volume": "1234.50000000", "quoteVolume": "74000000.00000000", "openTime": self._now - 86_400_000,
            "closeTime": self._now, "firstId": 1, "lastId": 2, "count": 2,
        }

    def _depth(self, p: dict[str, str]) -> dict[str, Any]:
        book = self.book_of(p["symbol"])
        limit = min(int(p.get("limit", 100)), 5000)
        return {
            "lastUpdateId": book.update_id,
            "bids": [[s(px), s(q)] for px, q in book.levels("bid", limit)],
            "asks": [[s(px), s(q)] for px, q in book.levels("ask", limit)],
        }

    def _agg_trades(self, p: dict[str, str]) -> list[dict[str, Any]]:
        lo, hi = int(p.get("startTime", 0)), int(p.get("endTime", 1 << 62))
        rows = [r for r in self.tape if r["s"] == p["symbol"] and lo <= r["T"] <= hi]
        return [{"a": r["t"], "p": r["p"], "q": r["q"], "f": r["t"], "l": r["t"], "T": r["T"], "m": r["m"], "M": True} for r in rows][-int(p.get("limit", 500)):]

    def _ticker24(self, p: dict[str, str]) -> Any:
        if "symbol" in p:
            return self._ticker_row(self.markets[p["symbol"]])
        wanted = json.loads(p["symbols"]) if "symbols" in p else list(self.markets)
        return [self._ticker_row(self.markets[x]) for x in wanted if x in self.markets]

    def _klines(self, p: dict[str, str]) -> list[list[Any]]:
        m = self.markets[p["symbol"]]
        step = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000}[p.get("interval", "1m")]
        start = int(p.get("startTime", self._now - 100 * step)) // step * step
        limit = min(int(p.get("limit", 500)), 1000)
        rows = []
        for i in range(limit):
            t = start + i * step
            if t > self._now:
                break
            o = m.open + Decimal(i % 7)
            rows.append([t, s(o), s(o + 5), s(o - 5), s(o + 1), "10.00000000", t + step - 1, "600000.0", 10, "5.0", "300000.0", "0"])
        return rows

    async def _account(self, p: dict[str, str]) -> dict[str, Any]:
        return {
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False, "requireSelfTradePrevention": False,
            "preventSor": False, "updateTime": self._now, "accountType": "SPOT", "permissions": ["SPOT"], "uid": 1,
            "balances": [{"asset": a, "free": s(v[0]), "locked": s(v[1])} for a, v in self.balances.items()],
        }

    def _order(self, p: dict[str, str]) -> FakeOrder | None:
        if "orderId" in p:
            o = self.orders.get(int(p["orderId"]))
            return o if o is not None and o.symbol == p.get("symbol") else None
        cid = p.get("origClientOrderId")
        return next((o for o in self.orders.values() if o.cid == cid and o.symbol == p.get("symbol")), None)

    async def _new_order(self, p: dict[str, str]) -> Any:
        m = self.markets.get(p.get("symbol", ""))
        if m is None:
            return self._error({"code": -1121, "msg": "Invalid symbol."})
        kind = p["type"]
        if kind not in m.order_types:
            return self._error({"code": -1013, "msg": "Order type not supported for this symbol."})
        cid = p.get("newClientOrderId") or f"fake{next(self._ids)}"
        if any(o.cid == cid and o.status in ("NEW", "PARTIALLY_FILLED") for o in self.orders.values()):
            return self._error({"code": -2010, "msg": "Duplicate order sent."})
        side, qty = p["side"], Decimal(p["quantity"])
        price = Decimal(p.get("price", "0"))
        stop = Decimal(p.get("stopPrice", "0"))
        ref = price if price else (m.ask if side == "BUY" else m.bid)
        need = qty * ref * (1 + self.fee_rate) if side == "BUY" else qty
        asset = m.quote if side == "BUY" else m.base
        if self.balances.setdefault(asset, [ZERO, ZERO])[0] < need:
            return self._error(INSUFFICIENT)
        now = self._tick()
        if kind in ("STOP_LOSS", "STOP_LOSS_LIMIT") and not stop and "trailingDelta" not in p:
            return self._error({"code": -1102, "msg": "Mandatory parameter 'stopPrice' was not sent, was empty/null, or malformed."})
        o = FakeOrder(next(self._ids), m.symbol, cid, side, kind, p.get("timeInForce", "GTC"), qty, price, stop, now, update=now)
        if "trailingDelta" in p:
            o.trailing_delta = int(p["trailingDelta"])
        self.orders[o.order_id] = o
        self.balances[asset][0] -= need
        self.balances[asset][1] += need
        o.locked = need
        fills: list[dict[str, Any]] = []
        await self._push_exec(o, "NEW")
        if kind == "MARKET":
            fills.append(await self._execute(o, qty, m.ask if side == "BUY" else m.bid))
        out = o.rest()
        out.update({"transactTime": now, "fills": [{"price": f["price"], "qty": f["qty"], "commission": f["commission"], "commissionAsset": f["commissionAsset"], "tradeId": f["id"]} for f in fills]})
        return out

    async def _execute(self, o: FakeOrder, qty: Decimal, price: Decimal) -> dict[str, Any]:
        m = self.markets[o.symbol]
        qty = min(qty, o.qty - o.executed)
        notional = qty * price
        fee = (notional * self.fee_rate).quantize(Decimal("0.00000001"))
        if o.side == "BUY":
            held = o.locked * qty / (o.qty - o.executed)
            self.balances[m.quote][1] -= held
            self.balances[m.quote][0] += held - notional - fee
            o.locked -= held
            self.balances.setdefault(m.base, [ZERO, ZERO])[0] += qty
        else:
            self.balances[m.base][1] -= qty
            o.locked -= qty
            self.balances.setdefault(m.quote, [ZERO, ZERO])[0] += notional - fee
        o.executed += qty
        o.quote_qty += notional
        o.status = "FILLED" if o.executed >= o.qty else "PARTIALLY_FILLED"
        o.update = self._tick()
        trade = {
            "symbol": o.symbol, "id": next(self._trade_ids), "orderId": o.order_id, "orderListId": -1,
            "price": s(price), "qty": s(qty), "quoteQty": s(notional), "commission": s(fee), "commissionAsset": m.quote,
            "time": o.update, "isBuyer": o.side == "BUY", "isMaker": o.type != "MARKET", "isBestMatch": True,
        }
        self.trades.append(trade)
        m.last = price
        await self._push_exec(o, "TRADE", trade)
        return trade

    def _release(self, o: FakeOrder) -> None:
        m = self.markets[o.symbol]
        asset = m.quote if o.side == "BUY" else m.base
        self.balances[asset][1] -= o.locked
        self.balances[asset][0] += o.locked
        o.locked = ZERO

    async def _cancel(self, p: dict[str, str]) -> Any:
        o = self._order(p)
        if o is None or o.status not in ("NEW", "PARTIALLY_FILLED"):
            return self._error({"code": -2011, "msg": "Unknown order sent."})
        self._release(o)
        o.status, o.update = "CANCELED", self._tick()
        await self._push_exec(o, "CANCELED")
        out = o.rest()
        out.update({"origClientOrderId": o.cid, "clientOrderId": f"cancel{next(self._ids)}", "transactTime": o.update})
        return out

    async def _get_order(self, p: dict[str, str]) -> Any:
        o = self._order(p)
        if o is None:
            return self._error({"code": -2013, "msg": "Order does not exist."})
        return o.rest()

    async def _open_orders(self, p: dict[str, str]) -> Any:
        return [o.rest() for o in self.orders.values() if o.status in ("NEW", "PARTIALLY_FILLED") and p.get("symbol") in (None, o.symbol)]

    async def _all_orders(self, p: dict[str, str]) -> Any:
        since = int(p.get("startTime", 0))
        return [o.rest() for o in self.orders.values() if o.symbol == p["symbol"] and o.update >= since]

    async def _my_trades(self, p: dict[str, str]) -> Any:
        day = 86_400_000
        start, end = p.get("startTime"), p.get("endTime")
        if start is not None and end is not None and int(end) - int(start) > day:
            return self._error({"code": -1127, "msg": "More than 24 hours between startTime and endTime."})
        # as binance: startTime alone gives the next 24 hours; neither gives the latest trades
        lo = int(start) if start is not None else (int(end) - day if end is not None else 0)
        hi = int(end) if end is not None else (int(start) + day if start is not None else 1 << 62)
        rows = [t for t in self.trades if t["symbol"] == p["symbol"] and lo <= t["time"] <= hi]
        if "orderId" in p:
            rows = [t for t in rows if t["orderId"] == int(p["orderId"])]
        return rows

    # ------------------------------------------------------------------ websockets
    async def _public_ws(self, request: web.Request) -> web.StreamResponse:
        if self.streams_refused:
            return web.Response(status=503, text="down for maintenance")
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.ws_connections += 1
        self._public[ws] = set()
        try:
            async for msg in ws:
                if await self._control_frame(ws, msg):
                    continue
                req = json.loads(msg.data)
                if req.get("method") == "SUBSCRIBE":
                    self._public[ws].update(req.get("params", []))
                elif req.get("method") == "UNSUBSCRIBE":
                    self._public[ws].difference_update(req.get("params", []))
                await ws.send_json({"result": None, "id": req.get("id")})
        finally:
            self._public.pop(ws, None)
        return ws

    async def _user_ws(self, request: web.Request) -> web.StreamResponse:
        if self.streams_refused:
            return web.Response(status=503, text="down for maintenance")
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.ws_connections += 1
        try:
            async for msg in ws:
                if await self._control_frame(ws, msg):
                    continue
                req = json.loads(msg.data)
                if req.get("method") == "userDataStream.subscribe.signature":
                    if (req.get("params") or {}).get("apiKey") != self.api_key:
                        await ws.send_json({"id": req["id"], "status": 401, "error": {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}})
                        continue
                    self._private.add(ws)
                    await ws.send_json({"id": req["id"], "status": 200, "result": {"subscriptionId": 0}})
                else:
                    await ws.send_json({"id": req.get("id"), "status": 400, "error": {"code": -1100, "msg": "unknown method"}})
        finally:
            self._private.discard(ws)
        return ws

    async def _control_frame(self, ws: web.WebSocketResponse, msg: Any) -> bool:
        """Answer pings (unless hung); True when the frame is not a text request."""
        if msg.type == WSMsgType.PING:
            if not self.hung:
                await ws.pong(msg.data)
            return True
        if msg.type == WSMsgType.CLOSE:
            await ws.close()
            return True
        return msg.type != WSMsgType.TEXT or self.hung

    async def _push_exec(self, o: FakeOrder, kind: str, trade: dict[str, Any] | None = None) -> None:
        event = {
            "e": "executionReport", "E": self._now, "s": o.symbol, "c": o.cid if kind != "CANCELED" else f"cancel{o.order_id}",
            "S": o.side, "o": o.type, "f": o.tif, "q": s(o.qty), "p": s(o.price), "P": s(o.stop), "F": "0.00000000",
            "g": -1, "C": o.cid if kind == "CANCELED" else "", "x": kind, "X": o.status, "r": "NONE", "i": o.order_id,
            "l": trade["qty"] if trade else "0.00000000", "z": s(o.executed), "L": trade["price"] if trade else "0.00000000",
            "n": trade["commission"] if trade else "0", "N": trade["commissionAsset"] if trade else None,
            "T": o.update, "t": trade["id"] if trade else -1, "v": None, "I": 1, "w": o.status in ("NEW", "PARTIALLY_FILLED"),
            "m": bool(trade and trade["isMaker"]), "M": False, "O": o.time, "Z": s(o.quote_qty),
            "Y": trade["quoteQty"] if trade else "0.00000000", "Q": "0.00000000", "W": o.time, "V": "EXPIRE_MAKER",
        }
        for ws in list(self._private) if not self.hung else []:
            try:
                await ws.send_json({"subscriptionId": 0, "event": event})
            except ConnectionError:
                self._private.discard(ws)

    async def _push_quote(self, symbol: str) -> int:
        m = self.markets[symbol]
        sent = 0
        if self.muted or self.hung:
            return 0
        key = symbol.lower()
        for ws, streams in list(self._public.items()):
            try:
                if f"{key}@ticker" in streams:
                    row = self._ticker_row(m)
                    await ws.send_json({
                        "e": "24hrTicker", "E": self._tick(), "s": m.symbol, "p": row["priceChange"], "P": row["priceChangePercent"],
                        "w": row["weightedAvgPrice"], "x": row["prevClosePrice"], "c": row["lastPrice"], "Q": "0.01000000",
                        "b": row["bidPrice"], "B": "1.50000000", "a": row["askPrice"], "A": "2.00000000", "o": row["openPrice"],
                        "h": row["highPrice"], "l": row["lowPrice"], "v": row["volume"], "q": row["quoteVolume"],
                        "O": row["openTime"], "C": row["closeTime"], "F": 1, "L": 2, "n": 2,
                    })
                    sent += 1
                if f"{key}@bookticker" in streams or f"{key}@bookTicker" in streams:
                    await ws.send_json({"u": self._tick(), "s": m.symbol, "b": s(m.bid), "B": "1.50000000", "a": s(m.ask), "A": "2.00000000"})
                    sent += 1
            except ConnectionError:
                self._public.pop(ws, None)
        return sent

    async def _push_public(self, stream_names: tuple[str, ...], event: dict[str, Any]) -> int:
        """Send ``event`` to every public socket subscribed to one of ``stream_names``."""
        if self.muted or self.hung:
            return 0
        sent = 0
        for ws, streams in list(self._public.items()):
            if any(n in streams for n in stream_names):
                try:
                    await ws.send_json(event)
                    sent += 1
                except ConnectionError:
                    self._public.pop(ws, None)
        return sent

    # ------------------------------------------------------------------ test controls
    def book_of(self, symbol: str) -> FakeBook:
        """The market's book: five levels each side around its quote until a test sets one."""
        book = self.books.get(symbol)
        if book is None:
            m = self.markets[symbol]
            tick = Decimal(m.tick)
            book = FakeBook(
                bids={m.bid - i * tick: Decimal(i + 1) for i in range(5)},
                asks={m.ask + i * tick: Decimal(i + 1) for i in range(5)},
            )
            self.books[symbol] = book
        return book

    def set_book(self, symbol: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        """Replace the book quietly (before a client subscribes: its snapshot shows it)."""
        def put() -> None:
            book = self.book_of(symbol)
            book.bids = {Decimal(px): Decimal(q) for px, q in bids}
            book.asks = {Decimal(px): Decimal(q) for px, q in asks}
            book.update_id += 1

        self.call(put)

    def update_book(self, symbol: str, bids: Sequence[tuple[str, str]] = (), asks: Sequence[tuple[str, str]] = (), lost: bool = False) -> int:
        """Change levels (size "0" removes) and push them as one ``depthUpdate``; how many
        sockets got it (0 with ``lost=True``: the update never leaves the venue)."""
        async def update() -> int:
            book = self.book_of(symbol)
            first = book.update_id + 1
            for side, rows in ((book.bids, bids), (book.asks, asks)):
                for px, q in rows:
                    if Decimal(q) == 0:
                        side.pop(Decimal(px), None)
                    else:
                        side[Decimal(px)] = Decimal(q)
            book.update_id += max(1, len(bids) + len(asks))
            if lost:
                return 0
            key = symbol.lower()
            return await self._push_public((f"{key}@depth", f"{key}@depth@100ms"), {
                "e": "depthUpdate", "E": self._tick(), "s": symbol, "U": first, "u": book.update_id,
                "b": [[s(Decimal(px)), s(Decimal(q))] for px, q in bids], "a": [[s(Decimal(px)), s(Decimal(q))] for px, q in asks],
            })

        return self.call(update)

    def print_trade(self, symbol: str, price: str, qty: str, aggressor: str = "buy") -> int:
        """A trade on the public tape (``aggressor`` "buy" lifted the offer, "sell" hit the bid)."""
        async def push() -> int:
            now = self._tick()
            key = symbol.lower()
            event = {
                "e": "trade", "E": now, "s": symbol, "t": next(self._trade_ids), "p": s(Decimal(price)), "q": s(Decimal(qty)),
                "T": now, "m": aggressor == "sell", "M": True,
            }
            self.tape.append(event)
            return await self._push_public((f"{key}@trade",), event)

        return self.call(push)

    def subscribed(self, stream: str) -> int:
        """How many public sockets are subscribed to ``stream`` (e.g. ``btcusdt@trade``)."""
        async def count() -> int:
            return sum(1 for streams in self._public.values() if stream in streams)

        return self.call(count)

    def order_by_cid(self, cid: str) -> FakeOrder:
        return next(o for o in self.orders.values() if o.cid == cid)

    def fill(self, cid: str, qty: str | Decimal | None = None, price: str | Decimal | None = None) -> dict[str, Any]:
        """Execute (part of) a resting order, as a counterparty would, and tell the streams."""
        o = self.order_by_cid(cid)
        q = Decimal(qty) if qty is not None else o.qty - o.executed
        px = Decimal(price) if price is not None else (o.price or self.markets[o.symbol].last)
        return self.call(self._execute, o, q, px)

    def set_quote(self, symbol: str, bid: str, ask: str, last: str | None = None) -> int:
        m = self.markets[symbol]
        m.bid, m.ask = Decimal(bid), Decimal(ask)
        m.last = Decimal(last) if last is not None else (m.bid + m.ask) / 2
        return self.call(self._push_quote, symbol)

    def push_quotes(self, symbol: str, n: int, per_second: float | None = None) -> int:
        """Push ``n`` quote messages, as fast as the socket takes them or paced (for benchmarks)."""
        async def burst() -> int:
            m = self.markets[symbol]
            sent = 0
            loop = asyncio.get_running_loop()
            start = loop.time()
            for i in range(n):
                m.bid = Decimal("60000.00") + Decimal(i % 100) / 100
                m.ask = m.bid + Decimal("1.00")
                sent += await self._push_quote(symbol)
                if per_second:
                    delay = start + (i + 1) / per_second - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
            return sent

        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(burst(), self.loop).result(600)

    def start_ticking(self, hz: float = 20.0) -> None:
        async def tick() -> None:
            while True:
                for sym in list(self.markets):
                    await self._push_quote(sym)
                await asyncio.sleep(1 / hz)

        def begin() -> None:
            self._ticker = asyncio.get_running_loop().create_task(tick())

        self.call(begin)

    def drop_streams(self, refuse: bool = False) -> None:
        """Close every websocket (and optionally refuse new ones until ``allow_streams``)."""
        self.streams_refused = refuse

        async def drop() -> None:
            for ws in [*self._public, *self._private]:
                await ws.close()
            self._public.clear()
            self._private.clear()

        self.call(drop)

    def allow_streams(self) -> None:
        self.streams_refused = False

    def release_swallowed(self) -> None:
        def release() -> None:
            for ev in self._swallowed:
                ev.set()

        self.call(release)

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p == path)
