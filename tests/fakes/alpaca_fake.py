"""A loopback Alpaca: the trading REST API, the trade_updates stream and the market-data streams.

It listens on 127.0.0.1 (port 0) in a background thread with its own event loop and speaks
what alpaca-py 0.44 sends and expects (see /work/shared/BROKER-PROTOCOLS.md): JSON REST under
``/v2`` (money as strings), the trading stream as JSON text frames on ``/stream``, and market
data as msgpack binary frames on ``/v2/iex`` and ``/v1beta3/crypto/us`` (timestamps as msgpack
Timestamps). State is inspectable (``orders``, ``positions``, ``requests``) and tests steer it
with plain methods: ``fill``, ``push_quote``, ``drop_streams``, ``swallow_next_submit``, ...
Control methods are called from the test's thread and run on the fake's loop.

``fail_lookups = N``: the next N lookups of an order by client order id
(``GET /v2/orders:by_client_order_id``) answer HTTP 500, so the adapter's ``lookup`` raises
``BrokerError``. Combined with ``swallow_next_submit`` it makes an order of unknown fate: it
exists at the broker, its answer was lost and the follow-up lookup fails too.

Market data per channel (``data_channels``: quotes, trades, orderbooks), as Alpaca's feeds
send it: crypto order books on the crypto stream only (``set_book`` replaces a pair's book and
sends it whole, ``"r": true``, which a new subscriber also gets on subscribing; ``update_book``
sends the changed levels, size 0 removing one; ``book_of`` is the fake's book to compare
with), crypto trades with the taker's side (``tks``) and stock trades with conditions and none.

``bar_history[symbol]``: recorded bars (``set_bars``) that the bars endpoints serve between
``start`` and ``end`` (both inclusive, as Alpaca's), a page of at most ``limit`` (default
1000, at most 10000, and at most ``bars_page`` when set) at a time, the next one named by
``next_page_token``. A symbol without recorded bars gets five made-up one-minute bars.

Multi-leg option orders (``order_class`` ``mleg``, spreads) are taken in Alpaca's shape (legs of
listed contracts, the parent without a symbol or side of its own, the legs nested as orders)
and filled atomically by ``fill_mleg`` (a market one at once): a ``fill`` trade update per leg
order, then one on the parent with the net price; canceling the parent cancels its legs.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgpack
from aiohttp import WSMsgType, web

OPEN = ("new", "accepted", "partially_filled", "pending_new")
KEY = "PKFAKEKEY0123456789"
SECRET = "fake-secret-abcdefghijklmnopqrstuvwxyz"


def _iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _s(d: Decimal | None) -> str | None:
    if d is None:
        return None
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _asset(symbol: str, cls: str, fractionable: bool = True, increment: str | None = None, price_increment: str | None = None) -> dict:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)), "class": cls, "exchange": "CRYPTO" if cls == "crypto" else "NASDAQ",
        "symbol": symbol, "name": symbol, "status": "active", "tradable": True, "marginable": cls != "crypto",
        "shortable": cls != "crypto", "easy_to_borrow": cls != "crypto", "fractionable": fractionable,
        "min_order_size": float(increment) if increment else None,
        "min_trade_increment": float(increment) if increment else None,
        "price_increment": float(price_increment) if price_increment else None,
        "attributes": [],
    }


DEFAULT_ASSETS = {
    "AAPL": _asset("AAPL", "us_equity", fractionable=True),
    "SPY": _asset("SPY", "us_equity", fractionable=True),
    "GME": _asset("GME", "us_equity", fractionable=False),
    "BTC/USD": _asset("BTC/USD", "crypto", increment="0.0001", price_increment="0.01"),
    "ETH/USD": _asset("ETH/USD", "crypto", increment="0.001", price_increment="0.01"),
}


@dataclass
class FakePosition:
    symbol: str
    qty: Decimal
    avg: Decimal


@dataclass
class AlpacaFake:
    key: str = KEY
    secret: str = SECRET
    cash: Decimal = Decimal("100000")
    prices: dict[str, Decimal] = field(default_factory=lambda: {"AAPL": Decimal("190.00"), "SPY": Decimal("450.00"), "GME": Decimal("20.00"), "BTC/USD": Decimal("60000.00"), "ETH/USD": Decimal("3000.00")})
    fill_market_orders: bool = True
    daytrade_count: int = 0  # the account's day trades in the last five days, as Alpaca counts them
    pattern_day_trader: bool = False

    def __post_init__(self) -> None:
        self.assets: dict[str, dict] = dict(DEFAULT_ASSETS)
        self.orders: dict[str, dict] = {}
        self.oco_legs: dict[str, str] = {}  # leg id -> parent id (the parent is the take-profit side)
        self.mleg_legs: dict[str, str] = {}  # a multi-leg order's leg id -> its parent id (submit_mleg)
        self.positions: dict[str, FakePosition] = {}
        self.activities: list[dict] = []
        self.requests: list[tuple[str, str, dict]] = []
        self.trade_sockets: list[web.WebSocketResponse] = []
        self.data_sockets: dict[web.WebSocketResponse, set[str]] = {}  # symbols quoted or traded
        self.data_channels: dict[web.WebSocketResponse, dict[str, set[str]]] = {}  # channel -> symbols
        self.books: dict[str, dict[str, dict[float, float]]] = {}  # crypto pair -> "b"/"a" -> price -> size
        self.connections = {"trading": 0, "data": 0}
        self.mute_data = False
        self.mute_trading = False  # the trading socket stays open but answers nothing, not even pings
        self.reject_streams = False
        self._swallow = 0
        self.fail_lookups = 0  # the next N lookups by client order id answer HTTP 500
        self._hang = False
        self._release: asyncio.Event | None = None
        self._reject_message: str | None = None
        self._rate_limited = 0
        self.bar_history: dict[str, list[dict]] = {}
        self.option_contracts: list[dict] = []  # GET /v2/options/contracts rows (list_option)
        self.option_snapshots: dict[str, dict] = {}  # OCC symbol -> GET /v1beta1/options/snapshots row
        self.options_page: int | None = None  # at most this many contracts or snapshots a page
        self.bars_page: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def options(self) -> dict[str, str]:
        """The profile options that point the adapter at this fake."""
        return {
            "trading_url": self.http, "data_url": self.http, "trading_stream_url": f"{self.ws}/stream",
            "stock_stream_url": f"{self.ws}/v2/iex", "crypto_stream_url": f"{self.ws}/v1beta3/crypto/us",
        }

    def start(self) -> AlpacaFake:
        self._thread = threading.Thread(target=self._run, name="alpaca-fake", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("alpaca fake did not start")
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._serve())
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _serve(self) -> None:
        app = web.Application()
        r = app.router
        r.add_get("/v2/account", self._account)
        r.add_get("/v2/positions", self._positions)
        r.add_get("/v2/assets/{symbol}", self._asset)  # crypto as BTCUSD: a slash splits the path
        r.add_get("/v2/orders:by_client_order_id", self._order_by_client)
        r.add_get("/v2/orders", self._list_orders)
        r.add_post("/v2/orders", self._submit)
        r.add_delete("/v2/orders", self._cancel_all)
        r.add_get("/v2/orders/{id}", self._get_order)
        r.add_patch("/v2/orders/{id}", self._replace)
        r.add_delete("/v2/orders/{id}", self._cancel)
        r.add_get("/v2/account/activities/{kind}", self._activities)
        r.add_get("/v2/stocks/bars", self._bars)
        r.add_get("/v1beta3/crypto/us/bars", self._bars)
        r.add_get("/v2/stocks/snapshots", self._snapshots)
        r.add_get("/v1beta3/crypto/us/snapshots", self._snapshots)
        r.add_get("/v2/options/contracts", self._options_contracts)
        r.add_get("/v2/options/contracts/{symbol}", self._option_contract)
        r.add_get("/v1beta1/options/snapshots/{underlying}", self._options_snapshots)
        r.add_get("/stream", self._trading_ws)
        r.add_get("/v2/iex", self._data_ws)
        r.add_get("/v2/sip", self._data_ws)
        r.add_get("/v1beta3/crypto/us", self._data_ws)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            if self._release is not None:
                self._release.set()
            for ws in [*self.trade_sockets, *self.data_sockets]:
                await ws.close()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> AlpacaFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # ------------------------------------------------------------------ test controls
    def fill(self, order: str, qty: Decimal | str | None = None, price: Decimal | str | None = None) -> dict:
        """Fill an order (by Alpaca id or client order id), fully or ``qty`` of it."""
        return self._call(self._fill(self._find(order), Decimal(str(qty)) if qty is not None else None, Decimal(str(price)) if price is not None else None))

    def expire(self, order: str) -> None:
        self._call(self._finish(self._find(order), "expired"))

    def push_quote(self, symbol: str, bid: float, ask: float, bid_size: float = 1, ask_size: float = 1) -> int:
        """Send a quote to every data connection subscribed to ``symbol``; returns how many got it."""
        return self._call(self._push([{"T": "q", "S": symbol, "bx": "V", "bp": bid, "bs": bid_size, "ax": "V", "ap": ask, "as": ask_size, "c": ["R"], "z": "C", "t": datetime.now(timezone.utc)}]))

    def push_trade(self, symbol: str, price: float, size: float = 1, taker: str = "B", trade_id: int = 1) -> int:
        """A trade: a crypto pair's as Alpaca's crypto feed sends it (``tks``: the taker's side,
        "B" or "S"), a stock's with its conditions and no taker."""
        now = datetime.now(timezone.utc)
        if "/" in symbol:
            return self._call(self._push([{"T": "t", "S": symbol, "p": price, "s": size, "t": now, "i": trade_id, "tks": taker}]))
        return self._call(self._push([{"T": "t", "S": symbol, "i": trade_id, "x": "V", "p": price, "s": size, "c": ["@"], "z": "C", "t": now}]))

    def set_book(self, symbol: str, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> int:
        """Replace a crypto pair's order book and send it whole (a reset, ``"r": true``) to every
        connection subscribed to its orderbooks; a later subscriber gets it on subscribing."""
        self.books[symbol] = {"b": dict(bids), "a": dict(asks)}
        return self._call(self._push([self._book_frame(symbol, reset=True)]))

    def update_book(self, symbol: str, bids: list[tuple[float, float]] = (), asks: list[tuple[float, float]] = ()) -> int:  # type: ignore[assignment]
        """Change levels of a pair's book (size 0 removes one) and send the changed levels."""
        book = self.books.setdefault(symbol, {"b": {}, "a": {}})
        for side, rows in (("b", bids), ("a", asks)):
            for price, size in rows:
                if size:
                    book[side][price] = size
                else:
                    book[side].pop(price, None)
        frame = {"T": "o", "S": symbol, "t": datetime.now(timezone.utc), "b": [{"p": p, "s": s} for p, s in bids], "a": [{"p": p, "s": s} for p, s in asks]}
        return self._call(self._push([frame]))

    def book_of(self, symbol: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """The fake's book of ``symbol``: bids highest first, asks lowest first."""
        book = self.books.get(symbol, {"b": {}, "a": {}})
        return sorted(book["b"].items(), reverse=True), sorted(book["a"].items())

    def _book_frame(self, symbol: str, reset: bool) -> dict:
        book = self.books.get(symbol, {"b": {}, "a": {}})
        bids, asks = sorted(book["b"].items(), reverse=True), sorted(book["a"].items())
        return {"T": "o", "S": symbol, "t": datetime.now(timezone.utc), "b": [{"p": p, "s": s} for p, s in bids],
                "a": [{"p": p, "s": s} for p, s in asks], "r": reset}

    def push_quotes(self, symbol: str, count: int, batch: int = 100, start: float = 100.0) -> None:
        """Flood: ``count`` quotes in frames of ``batch`` (for the benchmark)."""
        self._call(self._flood(symbol, count, batch, start))

    def drop_streams(self) -> None:
        """Close every websocket (trading and data), as a network blip would."""
        self._call(self._drop())

    def swallow_next_submit(self, hang: bool = False) -> None:
        """The next POST /v2/orders creates the order but its answer (and its stream event) never
        arrives: the connection is closed, or with ``hang`` held open with no answer."""
        self._swallow += 1
        self._hang = hang

    def reject_next_submit(self, message: str = "insufficient buying power") -> None:
        """The next POST /v2/orders is refused with 403 and this message, as Alpaca refuses an unaffordable order."""
        self._reject_message = message

    def rate_limit_next(self, n: int = 1) -> None:
        """The next ``n`` REST requests answer 429."""
        self._rate_limited += n

    def set_bars(self, symbol: str, rows: list[tuple[float, float, float, float, float, float]]) -> None:
        """Record bars of ``symbol`` as (open time, open, high, low, close, volume) for the bars endpoints."""
        self.bar_history[symbol] = [
            {"t": _iso(t), "o": o, "h": h, "l": lo, "c": c, "v": v, "n": 1, "vw": c} for t, o, h, lo, c, v in rows
        ]

    def subscribed(self) -> set[str]:
        return set().union(*self.data_sockets.values()) if self.data_sockets else set()

    def orders_for(self, client_order_id: str) -> list[dict]:
        return [o for o in self.orders.values() if o["client_order_id"] == client_order_id]

    # ------------------------------------------------------------------ helpers
    def _find(self, ref: str) -> dict:
        if ref in self.orders:
            return self.orders[ref]
        live = [o for o in self.orders.values() if o["client_order_id"] == ref and o["status"] != "replaced"]
        if not live:
            raise KeyError(ref)
        return live[-1]

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("APCA-API-KEY-ID") == self.key and request.headers.get("APCA-API-SECRET-KEY") == self.secret

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message}, status=status)

    async def _guard(self, request: web.Request) -> web.Response | None:
        body = await request.json() if request.can_read_body else {}
        self.requests.append((request.method, request.path, {**dict(request.query), **(body if isinstance(body, dict) else {})}))
        if self._rate_limited:
            self._rate_limited -= 1
            return self._error(429, 42910000, "rate limit exceeded")
        if not self._authorized(request):
            return self._error(401, 40110000, "request is not authorized")
        return None

    def _equity(self) -> Decimal:
        return self.cash + sum((p.qty * self.prices.get(p.symbol, p.avg) * self._mult(p.symbol) for p in self.positions.values()), Decimal(0))

    def _order_json(self, o: dict) -> dict:
        out = {k: (_s(v) if isinstance(v, Decimal) else v) for k, v in o.items()}
        if o.get("legs"):
            out["legs"] = [self._order_json(self.orders[leg_id]) for leg_id in o["legs"]]
        return out

    def _held_for_sells(self, symbol: str) -> Decimal:
        """Shares already promised to open sell orders (an OCO's two sides count once)."""
        return sum(
            (o["qty"] - o["filled_qty"] for o in self.orders.values()
             if o["symbol"] == symbol and o["side"] == "sell" and o["status"] in OPEN and o["id"] not in self.oco_legs),
            Decimal(0),
        )

    async def _event(self, event: str, o: dict, **extra: Any) -> None:
        msg = json.dumps({"stream": "trade_updates", "data": {"event": event, "timestamp": _iso(), "order": self._order_json(o), **extra}})
        for ws in list(self.trade_sockets):
            try:
                await ws.send_str(msg)
            except (ConnectionError, RuntimeError):
                pass

    # ------------------------------------------------------------------ REST
    async def _account(self, request: web.Request) -> web.Response:
        if (err := await self._guard(request)) is not None:
            return err
        equity = self._equity()
        long_value = sum((p.qty * self.prices.get(p.symbol, p.avg) for p in self.positions.values() if p.qty > 0), Decimal(0))
        short_value = sum((p.qty * self.prices.get(p.symbol, p.avg) for p in self.positions.values() if p.qty < 0), Decimal(0))
        initial = ((long_value - short_value) / 2).quantize(Decimal("0.01"))  # Reg T: half of the gross value
        maintenance = ((long_value - short_value) * Decimal("0.3")).quantize(Decimal("0.01"))
        buying_power = max(Decimal(0), (equity - initial) * 2).quantize(Decimal("0.01"))  # 2x margin: what is left over twice
        return web.json_response({
            "id": "2d3f0a4c-1111-4c2b-9d0c-000000000001", "account_number": "PA1FAKE", "status": "ACTIVE",
            "crypto_status": "ACTIVE", "currency": "USD", "cash": _s(self.cash), "buying_power": _s(buying_power),
            "regt_buying_power": _s(buying_power), "non_marginable_buying_power": _s(self.cash),
            "initial_margin": _s(initial), "maintenance_margin": _s(maintenance), "last_maintenance_margin": _s(maintenance),
            "daytrade_count": self.daytrade_count, "daytrading_buying_power": _s(max(Decimal(0), (equity - maintenance) * 4)),
            "portfolio_value": _s(equity), "equity": _s(equity), "last_equity": _s(equity), "multiplier": "2",
            "long_market_value": _s(equity - self.cash), "short_market_value": _s(short_value), "pattern_day_trader": self.pattern_day_trader,
            "trading_blocked": False, "transfers_blocked": False, "account_blocked": False, "shorting_enabled": True,
        })

    async def _positions(self, request: web.Request) -> web.Response:
        if (err := await self._guard(request)) is not None:
            return err
        out = []
        for p in self.positions.values():
            if p.qty == 0:
                continue
            asset = self.assets[p.symbol]
            price = self.prices.get(p.symbol, p.avg)
            m = 100 if asset["class"] == "us_option" else 1  # an option's premium is per share, x100 a contract
            out.append({
                "asset_id": asset["id"], "symbol": p.symbol.replace("/", ""), "exchange": asset["exchange"],
                "asset_class": asset["class"], "avg_entry_price": _s(p.avg), "qty": _s(p.qty), "qty_available": _s(p.qty),
                "side": "long" if p.qty > 0 else "short", "market_value": _s(p.qty * price * m), "cost_basis": _s(p.qty * p.avg * m),
                "current_price": _s(price), "unrealized_pl": _s(p.qty * (price - p.avg) * m),
            })
        return web.json_response(out)

    async def _asset(self, request: web.Request) -> web.Response:
        if (err := await self._guard(request)) is not None:
            return err
        symbol = request.match_info["symbol"]
        asset = self.assets.get(symbol) or next((a for a in self.assets.values() if a["symbol"].replace("/", "") == symbol), None)
        if asset is None:
            return self._error(404, 40410000, f"asset not found for {symbol}")
        return web.json_response(asset)

    async def _list_orders(self, request: web.Request) -> web.Response:
        if (err := await self._guard(request)) is not None:
            return err
        status = request.query.get("status", "open")
        after = request.query.get("after")
        rows = list(self.orders.values())
        if request.query.get("nested") == "true":
            rows = [o for o in rows if o["id"] not in self.oco_legs and o["id"] not in self.mleg_legs]
        if status == "open":
            rows = [o for o in rows if o["status"] in ("new", "accepted", "partially_filled", "pending_new")]
        elif status == "closed":
            rows = [o for o in rows if o["status"] not in ("new", "accepted", "partially_filled", "pending_new")]
        if after:
            rows = [o for o in rows if o["updated_at"] >= after]
        return web.json_response([self._order_json(o) for o in rows])

    async def _get_order(self, request: web.Request) -> web.Response:
        if (err := await self._guard(request)) is not None:
            return err
        o = self.orders.get(request.match_info["id"])
        if o is None:
            return self._error(404, 40410000, "order not found")
        return web.json_response(self._order_json(o))

    async def _order_by_client(self, request: web.Request) -> web.Response:
        if (err := await self._guard(request)) is not None:
            return err
        if self.fail_lookups > 0:
            self.fail_lookups -= 1
            return self._error(500, 50010000, "internal server error")
        cid = request.query.get("client_order_id", "")
        found = [o for o in self.orders.values() if o["client_order_id"] == cid]
        if not found:
            return self._error(404, 40410000, "order not found")
        return web.json_response(self._order_json(found[0]))

    def _new_order(self, body: dict, replaces: dict | None = None) -> dict:
        now = _iso()
        symbol = body["symbol"]
        asset = self.assets[symbol] if symbol in self.assets else None
        return {
            "id": str(uuid.uuid4()), "client_order_id": body.get("client_order_id") or str(uuid.uuid4()),
            "created_at": now, "updated_at": now, "submitted_at": now, "filled_at": None, "expired_at": None,
            "canceled_at": None, "failed_at": None, "replaced_at": None, "replaced_by": None,
            "replaces": replaces["id"] if replaces else None, "asset_id": asset["id"] if asset else None,
            "symbol": symbol, "asset_class": asset["class"] if asset else "us_equity", "notional": None,
            "qty": Decimal(str(body["qty"])), "filled_qty": Decimal(0), "filled_avg_price": None,
            "order_class": body.get("order_class") or "simple", "order_type": body["type"], "type": body["type"],
            "side": body["side"], "time_in_force": body["time_in_force"],
            "limit_price": Decimal(str(body["limit_price"])) if body.get("limit_price") is not None else None,
            "stop_price": Decimal(str(body["stop_price"])) if body.get("stop_price") is not None else None,
            "status": "new", "extended_hours": bool(body.get("extended_hours")), "legs": None,
            "trail_percent": _s(Decimal(str(body["trail_percent"]))) if body.get("trail_percent") is not None else None,
            "trail_price": _s(Decimal(str(body["trail_price"]))) if body.get("trail_price") is not None else None,
            "hwm": None,
        }

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        if (err := await self._guard(request)) is not None:
            return err
        body = await request.json()
        if body.get("order_class") == "mleg":
            return await self._submit_mleg(body)
        symbol = body.get("symbol", "")
        if symbol not in self.assets:
            return self._error(422, 40010001, f"asset {symbol} not found")
        if self.assets[symbol]["class"] == "crypto" and body.get("time_in_force") not in ("gtc", "ioc"):
            return self._error(422, 42210000, "invalid crypto time_in_force")  # as Alpaca: crypto takes gtc or ioc
        cid = body.get("client_order_id")
        if cid and self.orders_for(cid):
            return self._error(422, 40010001, "client_order_id must be unique")
        qty = Decimal(str(body["qty"]))
        price = Decimal(str(body.get("limit_price") or self.prices.get(symbol, 0)))
        if self._reject_message is not None:
            message, self._reject_message = self._reject_message, None
            return self._error(403, 40310000, message)
        if body["side"] == "buy" and qty * price > self.cash * 2:
            return self._error(403, 40310000, "insufficient buying power")
        held = self.positions[symbol].qty if symbol in self.positions else Decimal(0)
        if body["side"] == "sell" and held > 0 and qty > held - self._held_for_sells(symbol):
            available = held - self._held_for_sells(symbol)
            return self._error(403, 40310000, f"insufficient qty available for order (requested: {_s(qty)}, available: {_s(available)})")
        if body.get("order_class") == "oco":
            body = {**body, "limit_price": body["take_profit"]["limit_price"]}
        o = self._new_order(body)
        self.orders[o["id"]] = o
        if body.get("order_class") == "oco":
            leg = self._new_order({**body, "type": "stop", "limit_price": None, "stop_price": body["stop_loss"]["stop_price"], "client_order_id": None})
            self.orders[leg["id"]] = leg
            self.oco_legs[leg["id"]] = o["id"]
            o["legs"] = [leg["id"]]
        if self._swallow:
            self._swallow -= 1
            if self._hang:  # no answer until the fake stops
                self._release = self._release or asyncio.Event()
                await self._release.wait()
            if request.transport is not None:
                request.transport.close()  # the order exists, but the client never hears about it
            raise asyncio.CancelledError
        await self._event("new", o)
        for leg_id in o.get("legs") or []:
            await self._event("new", self.orders[leg_id])
        if body["type"] == "market" and self.fill_market_orders:
            asyncio.get_running_loop().call_later(0.01, lambda: asyncio.ensure_future(self._fill(o, None, None)))
        return web.json_response(self._order_json(o))

    async def _replace(self, request: web.Request) -> web.Response:
        if (err := await self._guard(request)) is not None:
            return err
        old = self.orders.get(request.match_info["id"])
        if old is None:
            return self._error(404, 40410000, "order not found")
        if old["status"] not in ("new", "accepted", "partially_filled"):
            return self._error(422, 42210000, f"order is {old['status']}")
        body = await request.json()
        spec = {"symbol": old["symbol"], "qty": body.get("qty", old["qty"]), "side": old["side"], "type": old["type"],
                "time_in_force": body.get("time_in_force", old["time_in_force"]),
                "limit_price": body.get("limit_price", old["limit_price"]), "stop_price": body.get("stop_price", old["stop_price"]),
                "client_order_id": body.get("client_order_id")}
        new = self._new_order(spec, replaces=old)
        old.update(status="replaced", replaced_by=new["id"], replaced_at=_iso(), updated_at=_iso())
        self.orders[new["id"]] = new
        await self._event("replaced", old)
        await self._event("new", new)
        return web.json_response(self._order_json(new))

    async def _cancel(self, request: web.Request) -> web.Response:
        if (err := await self._guard(request)) is not None:
            return err
        o = self.orders.get(request.match_info["id"])
        if o is None:
            return self._error(404, 40410000, "order not found")
        if o["status"] not in ("new", "accepted", "partially_filled"):
            return self._error(422, 42210000, f"order is {o['status']}")
        await self._finish(o, "canceled")
        for other in self._oco_siblings(o):  # canceling either side cancels the OCO
            if other["status"] in OPEN:
                await self._finish(other, "canceled")
        return web.Response(status=204)

    async def _cancel_all(self, request: web.Request) -> web.Response:
        if (err := await self._guard(request)) is not None:
            return err
        out = []
        for o in list(self.orders.values()):
            if o["status"] in ("new", "accepted", "partially_filled"):
                await self._finish(o, "canceled")
                out.append({"id": o["id"], "status": 200})
        return web.json_response(out, status=207)

    async def _activities(self, request: web.Request) -> web.Response:
        if (err := await self._guard(request)) is not None:
            return err
        after = request.query.get("after")
        rows = [a for a in self.activities if not after or a["transaction_time"] >= after]
        return web.json_response(rows)

    async def _bars(self, request: web.Request) -> web.Response:
        if (err := await self._guard(request)) is not None:
            return err
        symbols = request.query.get("symbols", "").split(",")
        if any(sym in self.bar_history for sym in symbols):
            return self._recorded_bars(request, symbols)
        start = datetime.fromisoformat(request.query["start"].replace("Z", "+00:00")).timestamp() if "start" in request.query else time.time() - 600
        out = {}
        for sym in symbols:
            base = float(self.prices.get(sym, Decimal(100)))
            out[sym] = [
                {"t": _iso(start + 60 * i), "o": base + i, "h": base + i + 1, "l": base + i - 1, "c": base + i + 0.5, "v": 1000 + i, "n": 10, "vw": base + i}
                for i in range(5)
            ]
        return web.json_response({"bars": out, "next_page_token": None})

    def _recorded_bars(self, request: web.Request, symbols: list[str]) -> web.Response:
        def when(name: str, default: float) -> float:
            text = request.query.get(name)
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else default

        start, end = when("start", 0.0), when("end", time.time())
        limit = min(int(request.query.get("limit") or 1000), 10_000, self.bars_page or 10_000)
        offset = int(request.query.get("page_token") or 0)
        rows = [
            (sym, b) for sym in symbols for b in self.bar_history.get(sym, [])
            if start <= datetime.fromisoformat(b["t"].replace("Z", "+00:00")).timestamp() <= end
        ]
        out: dict[str, list[dict]] = {}
        for sym, b in rows[offset : offset + limit]:
            out.setdefault(sym, []).append(b)
        token = str(offset + limit) if offset + limit < len(rows) else None
        return web.json_response({"bars": out, "next_page_token": token})

    async def _snapshots(self, request: web.Request) -> web.Response:
        if (err := await self._guard(request)) is not None:
            return err
        out = {}
        for sym in request.query.get("symbols", "").split(","):
            if sym not in self.prices:
                continue
            p = float(self.prices[sym])
            out[sym] = {
                "latestTrade": {"t": _iso(), "x": "V", "p": p, "s": 100, "c": ["@"], "i": 1, "z": "C"},
                "latestQuote": {"t": _iso(), "ax": "V", "ap": p + 0.01, "as": 2, "bx": "V", "bp": p - 0.01, "bs": 3, "c": ["R"], "z": "C"},
                "minuteBar": None, "dailyBar": {"t": _iso(), "o": p, "h": p, "l": p, "c": p, "v": 12345, "n": 10, "vw": p},
                "prevDailyBar": {"t": _iso(), "o": p, "h": p, "l": p, "c": p - 1, "v": 20000, "n": 10, "vw": p},
            }
        return web.json_response({"snapshots": out} if "crypto" in request.path else out)

    # ------------------------------------------------------------------ options data
    def list_option(self, underlying: str, expiry: str, strike: str, right: str, *, open_interest: int | None = None,
                    bid: float | None = None, ask: float | None = None, last: float | None = None, volume: int = 0,
                    iv: float | None = None, greeks: dict[str, float] | None = None) -> str:
        """List one contract (``expiry`` YYYY-MM-DD, ``right`` call/put) and its snapshot; returns its OCC symbol."""
        yy, mm, dd = expiry[2:4], expiry[5:7], expiry[8:10]
        occ = f"{underlying}{yy}{mm}{dd}{right[0].upper()}{round(Decimal(strike) * 1000):08d}"
        self.option_contracts.append({
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, occ)), "symbol": occ,
            "name": f"{underlying} {expiry} {strike} {right.title()}", "status": "active", "tradable": True,
            "expiration_date": expiry, "root_symbol": underlying, "underlying_symbol": underlying,
            "underlying_asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, underlying)), "type": right, "style": "american",
            "strike_price": strike, "multiplier": "100", "size": "100",
            "open_interest": None if open_interest is None else str(open_interest),
            "open_interest_date": None if open_interest is None else expiry, "close_price": None if last is None else str(last),
            "close_price_date": None, "ppind": True,
        })
        snap: dict[str, Any] = {"latestQuote": None, "latestTrade": None, "minuteBar": None, "dailyBar": None, "prevDailyBar": None}
        if bid is not None or ask is not None:
            snap["latestQuote"] = {"t": _iso(), "ax": "C", "ap": ask or 0, "as": 10, "bx": "C", "bp": bid or 0, "bs": 12, "c": "A"}
        if last is not None:
            snap["latestTrade"] = {"t": _iso(), "x": "C", "p": last, "s": 1, "c": "I"}
            snap["dailyBar"] = {"t": _iso(), "o": last, "h": last, "l": last, "c": last, "v": volume, "n": 3, "vw": last}
        if iv is not None:
            snap["impliedVolatility"] = iv
        if greeks is not None:
            snap["greeks"] = greeks
        self.option_snapshots[occ] = snap
        return occ

    def _page(self, request: web.Request, rows: list, default: int) -> tuple[list, str | None]:
        limit = min(int(request.query.get("limit") or default), self.options_page or 10_000)
        offset = int(request.query.get("page_token") or 0)
        return rows[offset:offset + limit], (str(offset + limit) if offset + limit < len(rows) else None)

    async def _options_contracts(self, request: web.Request) -> web.Response:
        """Alpaca's contract list: without an expiration filter it stops at the next weekend, as Alpaca's does."""
        if (err := await self._guard(request)) is not None:
            return err
        q = request.query
        wanted = set(filter(None, q.get("underlying_symbols", "").split(",")))
        rows = [c for c in self.option_contracts if not wanted or c["underlying_symbol"] in wanted]
        if q.get("expiration_date"):
            rows = [c for c in rows if c["expiration_date"] == q["expiration_date"]]
        if q.get("expiration_date_gte"):
            rows = [c for c in rows if c["expiration_date"] >= q["expiration_date_gte"]]
        lte = q.get("expiration_date_lte")
        if not (lte or q.get("expiration_date") or q.get("expiration_date_gte")):
            today = datetime.now(timezone.utc).date()
            lte = str(today + timedelta(days=6 - today.weekday()))
        if lte:
            rows = [c for c in rows if c["expiration_date"] <= lte]
        page, token = self._page(request, rows, 100)
        return web.json_response({"option_contracts": page, "next_page_token": token})

    async def _options_snapshots(self, request: web.Request) -> web.Response:
        if (err := await self._guard(request)) is not None:
            return err
        und = request.match_info["underlying"]
        expiry = request.query.get("expiration_date")
        listed = {c["symbol"]: c for c in self.option_contracts if c["underlying_symbol"] == und}
        rows = [(occ, snap) for occ, snap in sorted(self.option_snapshots.items())
                if occ in listed and (not expiry or listed[occ]["expiration_date"] == expiry)]
        page, token = self._page(request, rows, 100)
        return web.json_response({"snapshots": dict(page), "next_page_token": token})

    # ------------------------------------------------------------------ multi-leg option orders
    def _mult(self, symbol: str) -> int:
        return 100 if self.assets.get(symbol, {}).get("class") == "us_option" else 1

    async def _option_contract(self, request: web.Request) -> web.Response:
        """``GET /v2/options/contracts/{symbol_or_id}``: one listed contract (``list_option``)."""
        if (err := await self._guard(request)) is not None:
            return err
        ref = request.match_info["symbol"]
        found = next((c for c in self.option_contracts if ref in (c["symbol"], c["id"])), None)
        if found is None:
            return self._error(404, 40410000, f"option contract not found for {ref}")
        return web.json_response(found)

    async def _submit_mleg(self, body: dict) -> web.Response:
        """A multi-leg option order as Alpaca takes it: ``qty`` units, 2 to 4 ``legs`` (OCC ``symbol``,
        ``side``, ``ratio_qty``), market or limit (``limit_price`` the net: positive a debit, negative a
        credit). Answered with the parent (no symbol, side or asset class of its own) and its legs
        nested, each an order with its own id; a market order fills at once (``fill_mleg``)."""
        legs = body.get("legs") or []
        if not 2 <= len(legs) <= 4:
            return self._error(422, 40010001, "mleg orders take 2 to 4 legs")
        listed = {c["symbol"] for c in self.option_contracts}
        for leg in legs:
            if leg.get("symbol") not in listed:
                return self._error(422, 40010001, f"asset {leg.get('symbol')} not found")
        cid = body.get("client_order_id")
        if cid and self.orders_for(cid):
            return self._error(422, 40010001, "client_order_id must be unique")
        if self._reject_message is not None:
            message, self._reject_message = self._reject_message, None
            return self._error(403, 40310000, message)
        parent = self._new_order({**body, "symbol": "", "side": ""})
        parent.update(asset_id="", asset_class="", order_class="mleg", legs=[])
        units = parent["qty"]
        for leg in legs:
            occ = leg["symbol"]
            self.assets.setdefault(occ, {**_asset(occ, "us_option", fractionable=False), "exchange": "OPRA"})
            ratio = Decimal(str(leg["ratio_qty"]))
            child = self._new_order({"symbol": occ, "qty": units * ratio, "side": leg["side"], "type": body["type"],
                                     "time_in_force": body["time_in_force"], "client_order_id": None})
            child.update(order_class="mleg", order_type="", type="", limit_price=None, ratio_qty=_s(ratio),
                         position_intent=leg.get("position_intent") or f"{leg['side']}_to_open")
            self.orders[child["id"]] = child
            self.mleg_legs[child["id"]] = parent["id"]
            parent["legs"].append(child["id"])
        self.orders[parent["id"]] = parent
        await self._event("new", parent)
        if body["type"] == "market" and self.fill_market_orders:
            asyncio.get_running_loop().call_later(0.01, lambda: asyncio.ensure_future(self._fill_mleg(parent, None)))
        return web.json_response(self._order_json(parent))

    def fill_mleg(self, order: str, prices: dict[str, Decimal | str] | None = None) -> dict:
        """Fill a multi-leg order (by Alpaca id or client order id) atomically: every leg at ``prices[occ]``,
        else at its quote (the ask when bought, the bid when sold, from ``list_option``)."""
        return self._call(self._fill_mleg(self._find(order), {k: Decimal(str(v)) for k, v in (prices or {}).items()}))

    async def _fill_mleg(self, parent: dict, prices: dict[str, Decimal] | None) -> dict:
        """Per leg: its fill (position, cash x100, a FILL activity) and a ``fill`` trade update on the
        leg order (``qty``, ``price`` of the execution); then a ``fill`` update on the parent with its
        legs nested (their cumulative fills) and the net price per unit."""
        if parent["status"] not in OPEN:
            raise ValueError(f"order {parent['id']} is {parent['status']}")
        prices = prices or {}
        now = _iso()
        units = parent["qty"] - parent["filled_qty"]
        net = Decimal(0)
        for leg_id in parent["legs"]:
            leg = self.orders[leg_id]
            occ = leg["symbol"]
            quote = (self.option_snapshots.get(occ) or {}).get("latestQuote") or {}
            price = prices.get(occ) or Decimal(str(quote.get("ap" if leg["side"] == "buy" else "bp") or 1))
            qty = units * Decimal(leg["ratio_qty"])
            sign = 1 if leg["side"] == "buy" else -1
            net += sign * Decimal(leg["ratio_qty"]) * price
            leg.update(filled_qty=leg["filled_qty"] + qty, filled_avg_price=price, status="filled", filled_at=now, updated_at=now)
            pos = self.positions.setdefault(occ, FakePosition(occ, Decimal(0), Decimal(0)))
            new_qty = pos.qty + sign * qty
            if pos.qty == 0 or (pos.qty > 0) == (sign > 0):
                pos.avg = (pos.avg * abs(pos.qty) + price * qty) / abs(new_qty) if new_qty else Decimal(0)
            pos.qty = new_qty
            self.cash -= sign * qty * price * 100
            execution = str(uuid.uuid4())
            self.activities.append({
                "id": f"{now.replace('-', '').replace(':', '').replace('.', '')[:17]}::{execution}", "activity_type": "FILL",
                "transaction_time": now, "type": "fill", "price": _s(price), "qty": _s(qty), "side": leg["side"], "symbol": occ,
                "leaves_qty": "0", "order_id": leg_id, "cum_qty": _s(leg["filled_qty"]), "order_status": "filled",
            })
            await self._event("fill", leg, price=_s(price), qty=_s(qty), position_qty=_s(new_qty), execution_id=execution)
        parent.update(filled_qty=parent["qty"], filled_avg_price=net, status="filled", filled_at=now, updated_at=now)
        await self._event("fill", parent, price=_s(net), qty=_s(units), execution_id=str(uuid.uuid4()))
        return self._order_json(parent)

    # ------------------------------------------------------------------ order life
    async def _fill(self, o: dict, qty: Decimal | None, price: Decimal | None) -> dict:
        if o["status"] not in ("new", "accepted", "partially_filled"):
            raise ValueError(f"order {o['id']} is {o['status']}")
        remaining = o["qty"] - o["filled_qty"]
        qty = remaining if qty is None else min(qty, remaining)
        price = price or o["limit_price"] or self.prices[o["symbol"]]
        filled = o["filled_qty"] + qty
        avg = ((o["filled_avg_price"] or Decimal(0)) * o["filled_qty"] + price * qty) / filled
        now = _iso()
        o.update(filled_qty=filled, filled_avg_price=avg.quantize(Decimal("0.0001")).normalize(), updated_at=now,
                 status="filled" if filled >= o["qty"] else "partially_filled", filled_at=now if filled >= o["qty"] else None)
        sign = 1 if o["side"] == "buy" else -1
        pos = self.positions.setdefault(o["symbol"], FakePosition(o["symbol"], Decimal(0), Decimal(0)))
        new_qty = pos.qty + sign * qty
        if pos.qty == 0 or (pos.qty > 0) == (sign > 0):
            pos.avg = (pos.avg * abs(pos.qty) + price * qty) / abs(new_qty) if new_qty else Decimal(0)
        pos.qty = new_qty
        self.cash -= sign * qty * price
        exec_id = str(uuid.uuid4())
        self.activities.append({
            "id": f"{now.replace('-', '').replace(':', '').replace('.', '')[:17]}::{exec_id}", "activity_type": "FILL",
            "transaction_time": now, "type": "fill" if o["status"] == "filled" else "partial_fill", "price": _s(price),
            "qty": _s(qty), "side": o["side"], "symbol": o["symbol"], "leaves_qty": _s(o["qty"] - filled),
            "order_id": o["id"], "cum_qty": _s(filled), "order_status": o["status"],
        })
        event = "fill" if o["status"] == "filled" else "partial_fill"
        await self._event(event, o, price=_s(price), qty=_s(qty), position_qty=_s(new_qty), execution_id=exec_id)
        for other in self._oco_siblings(o):
            if other["status"] in OPEN:
                await self._finish(other, "canceled")  # one side of an OCO filled: the other goes
        return self._order_json(o)

    def _oco_siblings(self, o: dict) -> list[dict]:
        if o["id"] in self.oco_legs:
            return [self.orders[self.oco_legs[o["id"]]]]
        return [self.orders[leg_id] for leg_id in o.get("legs") or []]

    async def _finish(self, o: dict, status: str) -> None:
        now = _iso()
        o.update(status=status, updated_at=now, **{f"{status}_at": now})
        await self._event(status, o)

    # ------------------------------------------------------------------ streams
    async def _trading_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)  # pings answered below, unless the socket plays dead
        await ws.prepare(request)
        if self.reject_streams:
            await ws.close()
            return ws
        self.connections["trading"] += 1
        try:
            async for msg in ws:
                if msg.type == WSMsgType.PING:
                    if not self.mute_trading:
                        await ws.pong(msg.data)
                    continue
                if msg.type != WSMsgType.TEXT and msg.type != WSMsgType.BINARY:
                    break
                data = json.loads(msg.data)
                action = data.get("action")
                if action == "authenticate":
                    ok = data["data"].get("key_id") == self.key and data["data"].get("secret_key") == self.secret
                    await ws.send_str(json.dumps({"stream": "authorization", "data": {"action": "authenticate", "status": "authorized" if ok else "unauthorized"}}))
                    if not ok:
                        break
                elif action == "listen":
                    self.trade_sockets.append(ws)
                    await ws.send_str(json.dumps({"stream": "listening", "data": {"streams": data["data"]["streams"]}}))
        finally:
            if ws in self.trade_sockets:
                self.trade_sockets.remove(ws)
        return ws

    async def _data_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if self.reject_streams:
            await ws.close()
            return ws
        self.connections["data"] += 1
        await ws.send_bytes(msgpack.packb([{"T": "success", "msg": "connected"}]))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY and msg.type != WSMsgType.TEXT:
                    break
                data = msgpack.unpackb(msg.data) if msg.type == WSMsgType.BINARY else json.loads(msg.data)
                action = data.get("action")
                if action == "auth":
                    if data.get("key") != self.key or data.get("secret") != self.secret:
                        await ws.send_bytes(msgpack.packb([{"T": "error", "code": 402, "msg": "auth failed"}]))
                        break
                    self.data_sockets[ws] = set()
                    self.data_channels[ws] = {"quotes": set(), "trades": set(), "orderbooks": set()}
                    await ws.send_bytes(msgpack.packb([{"T": "success", "msg": "authenticated"}]))
                elif action in ("subscribe", "unsubscribe") and ws in self.data_sockets:
                    channels = self.data_channels[ws]
                    crypto = request.path.startswith("/v1beta3/crypto")
                    before = set(channels["orderbooks"])
                    for channel in ("quotes", "trades", "orderbooks"):
                        wanted = data.get(channel, [])
                        if channel == "orderbooks" and not crypto:
                            continue  # stocks have no order book stream
                        (channels[channel].update if action == "subscribe" else channels[channel].difference_update)(wanted)
                    self.data_sockets[ws] = channels["quotes"] | channels["trades"]
                    await ws.send_bytes(msgpack.packb([{"T": "subscription", "trades": sorted(channels["trades"]), "quotes": sorted(channels["quotes"]),
                                                        "orderbooks": sorted(channels["orderbooks"]), "bars": []}]))
                    for symbol in sorted(channels["orderbooks"] - before):  # a new book subscriber gets the whole book
                        await ws.send_bytes(msgpack.packb([self._book_frame(symbol, reset=True)], datetime=True))
        finally:
            self.data_sockets.pop(ws, None)
            self.data_channels.pop(ws, None)
        return ws

    async def _push(self, items: list[dict]) -> int:
        if self.mute_data:
            return 0
        frame = msgpack.packb(items, datetime=True)
        channel = {"q": "quotes", "t": "trades", "o": "orderbooks"}.get(items[0]["T"], "quotes")
        sent = 0
        for ws, channels in list(self.data_channels.items()):
            if items[0]["S"] in channels[channel]:
                try:
                    await ws.send_bytes(frame)
                    sent += 1
                except (ConnectionError, RuntimeError):
                    pass
        return sent

    async def _flood(self, symbol: str, count: int, batch: int, start: float) -> None:
        now = datetime.now(timezone.utc)
        for i in range(0, count, batch):
            items = [{"T": "q", "S": symbol, "bx": "V", "bp": start + (j % 100) / 100, "bs": 1, "ax": "V", "ap": start + 0.01 + (j % 100) / 100, "as": 1, "c": ["R"], "z": "C", "t": now} for j in range(i, min(count, i + batch))]
            await self._push(items)

    async def _drop(self) -> None:
        for ws in [*self.trade_sockets, *list(self.data_sockets)]:
            await ws.close()
        self.trade_sockets.clear()
        self.data_sockets.clear()
        self.data_channels.clear()
