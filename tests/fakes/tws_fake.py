"""A fake TWS / IB Gateway on 127.0.0.1 that speaks the TWS socket protocol.

It is driven by the real, unmodified ib_async: the handshake (``API\\0`` then
``v<min>..<max>``), server-version negotiation (``min(client max, 178)``), the
connect-time synchronisation (positions, open and completed orders, account updates,
executions, each with its End message), contract details, market data ticks, orders
(placeOrder answered by openOrder/orderStatus; fills as execDetails + commissionReport),
BAG (combo) orders with their comboLegs (filled atomically by ``fill_combo``: one execDetails
and commission report per leg, then the BAG's own execDetails, as TWS reports combos),
cancels, executions, positions and account values; market depth (reqMktDepth answered with
its book's rows as updateMktDepth/updateMktDepthL2 inserts, then whatever ``depth`` scripts;
more than ``depth_limit`` subscriptions get error 309) and tick-by-tick AllLast trades
(``push_trade``), each with its cancel.

State is inspectable (``orders``, ``executions``, ``positions``, ``requests``) and tests
steer it: ``fill``, ``reject_next``, ``push_quote``, ``push_error``, ``drop``,
``accepting`` (refuse connections while "TWS restarts"), ``swallow_answers`` (an order
placed whose acknowledgement is lost), ``lose_orders`` (an order lost on the way in),
``mute`` (connections that stay open but answer nothing), ``fail_lookups`` (the next N
``reqAllOpenOrders``, which the adapter's ``lookup`` and ``open_orders`` send first, go
unanswered, so the request times out with ``BrokerTimeout`` after the adapter's
``request_timeout``; the connect-time synchronisation is not affected; combine it with ``swallow_answers`` or
``lose_orders`` for an order of unknown fate). Executions that happen while no
client is connected are kept and answered to ``reqExecutions`` after the reconnect, as
TWS does.

Field layouts are version dependent; the ones that matter here are gated exactly as the
IB API decoders read them (``faProfile`` only below 177, ``pendingPriceRevision`` from
178, the advanced-reject JSON in errors from 166, contract details without a version
field from 164, openOrder extras from 159/160/162/170).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

MAX_SERVER_VERSION = 178
ACCOUNT = "DU123456"


@dataclass
class FakeContract:
    con_id: int
    symbol: str
    sec_type: str  # STK, CASH, FUT, OPT, CRYPTO
    exchange: str
    currency: str = "USD"
    expiry: str = ""  # last trade date YYYYMMDD (FUT, OPT)
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    primary: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    min_tick: float = 0.01
    long_name: str = ""
    contract_month: str = ""
    size_increment: str = "1"

    def wire(self) -> list:
        """The 11 contract fields of openOrder, execDetails and position messages."""
        return [
            self.con_id, self.symbol, self.sec_type, self.expiry, _num(self.strike), self.right,
            self.multiplier, self.exchange, self.currency, self.local_symbol, self.trading_class,
        ]

    @property
    def mult(self) -> float:
        return float(self.multiplier) if self.multiplier else 1.0


def default_contracts() -> list[FakeContract]:
    return [
        FakeContract(265598, "AAPL", "STK", "SMART", primary="NASDAQ", local_symbol="AAPL", trading_class="NMS", long_name="APPLE INC"),
        FakeContract(272093, "MSFT", "STK", "SMART", primary="NASDAQ", local_symbol="MSFT", trading_class="NMS", long_name="MICROSOFT CORP"),
        FakeContract(756733, "SPY", "STK", "SMART", primary="ARCA", local_symbol="SPY", trading_class="SPY", long_name="SPDR S&P 500 ETF TRUST"),
        FakeContract(12087792, "EUR", "CASH", "IDEALPRO", currency="USD", local_symbol="EUR.USD", trading_class="EUR.USD",
                     min_tick=0.00005, long_name="European Monetary Union Euro", size_increment="1"),
        FakeContract(479624278, "BTC", "CRYPTO", "PAXOS", local_symbol="BTC.USD", trading_class="BTC", min_tick=0.25,
                     long_name="Bitcoin", size_increment="0.00000001"),
        FakeContract(495512563, "ES", "FUT", "CME", expiry="20261218", multiplier="50", local_symbol="ESZ6", trading_class="ES",
                     min_tick=0.25, long_name="E-mini S&P 500", contract_month="202612"),
        FakeContract(700000001, "AAPL", "OPT", "SMART", expiry="20261218", strike=200.0, right="C", multiplier="100",
                     local_symbol="AAPL  261218C00200000", trading_class="AAPL", min_tick=0.01, long_name="APPLE INC"),
    ]


def option_contracts(symbol: str, expiries: list[str], strikes: list[float], *, first_con_id: int = 710_000_000,
                     trading_class: str | None = None, multiplier: str = "100") -> list[FakeContract]:
    """A listed chain: a call and a put at every strike of every expiry (YYYYMMDD), OCC local symbols."""
    out = []
    con_id = first_con_id
    for expiry in expiries:
        for strike in strikes:
            for right in ("C", "P"):
                local = f"{symbol:<6}{expiry[2:]}{right}{round(strike * 1000):08d}"
                out.append(FakeContract(con_id, symbol, "OPT", "SMART", expiry=expiry, strike=strike, right=right,
                                        multiplier=multiplier, local_symbol=local, trading_class=trading_class or symbol,
                                        min_tick=0.01, long_name=symbol))
                con_id += 1
    return out


@dataclass
class FakeLeg:
    """One leg of a BAG (combo) order as placeOrder's comboLegs carry it: the leg's contract,
    ratio and action for one combo BOUGHT."""

    contract: FakeContract
    ratio: int
    action: str
    exchange: str = "SMART"


@dataclass
class FakeOrder:
    order_id: int
    client_id: int
    perm_id: int
    contract: FakeContract
    action: str
    qty: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    order_ref: str
    account: str
    status: str = "Submitted"
    filled: float = 0.0
    avg_price: float = 0.0
    last_price: float = 0.0
    legs: list[FakeLeg] = field(default_factory=list)  # a BAG order's combo legs
    outside_rth: bool = False  # placeOrder's outsideRth (field 33): may fill pre- and post-market

    @property
    def remaining(self) -> float:
        return self.qty - self.filled


@dataclass
class FakeExecution:
    exec_id: str
    order: FakeOrder
    shares: float
    price: float
    ts: float
    commission: float
    cum_qty: float
    avg_price: float
    contract: FakeContract | None = None  # a combo leg's own contract (None: the order's)
    action: str | None = None  # a combo leg's effective action (None: the order's)
    bag: bool = False  # a combo's own BAG line (net price per unit; no commission report)


@dataclass
class _Client:
    writer: asyncio.StreamWriter
    version: int
    client_id: int = -1
    market_data_type: int = 1
    tickers: dict[int, int] = field(default_factory=dict)  # reqId -> conId
    depth: dict[int, tuple[int, bool]] = field(default_factory=dict)  # reqMktDepth: reqId -> (conId, isSmartDepth)
    tick_by_tick: dict[int, int] = field(default_factory=dict)  # reqTickByTickData AllLast: reqId -> conId
    account_updates: bool = False
    muted: bool = False


def _num(x: float | None) -> str:
    """A number as TWS prints it: ``185.1``, ``10``; None is an empty field."""
    if x is None:
        return ""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y%m%d %H:%M:%S UTC")


class FakeTWS:
    def __init__(self, contracts: list[FakeContract] | None = None, *, cash: float = 100_000.0) -> None:
        self.contracts = contracts if contracts is not None else default_contracts()
        self.cash = cash
        self._accepting = True
        self.auto_fill_market = True  # market orders fill at the quote (ask/bid) when one exists
        self.commission_per_unit = 0.005
        self.commission_min = 1.0
        self.market_data_type = 1  # what the "account" is entitled to: 1 live, 3 delayed
        self.send_farm_messages = True
        self.read_only = False  # the API is in read-only mode: orders are refused with error 321
        self.swallow_answers = 0  # the next N new orders are placed but not acknowledged (the answer is lost)
        self.lose_orders = 0  # the next N placeOrder messages are lost before reaching "TWS"
        self.fail_lookups = 0  # the next N reqAllOpenOrders go unanswered (lookups time out)
        self.day_trades_remaining = 3  # what DayTradesRemaining says (-1: unlimited)
        self.orders: dict[tuple[int, int], FakeOrder] = {}
        self.executions: list[FakeExecution] = []
        self.positions: dict[int, tuple[float, float]] = {}  # conId -> (qty, avg price per unit)
        self.quotes: dict[int, dict[str, float]] = {}
        self.greeks: dict[int, dict[str, float]] = {}  # conId -> model option computation (tick 13), see set_greeks
        self.open_interest: dict[int, float] = {}  # conId -> open interest, sent for generic tick 101
        self.books: dict[int, tuple[list[tuple[float, float, str]], list[tuple[float, float, str]]]] = {}  # conId -> (bid rows, ask rows)
        self.depth_limit = 3  # simultaneous reqMktDepth TWS allows (beyond: error 309)
        self.requests: list[list[str]] = []
        self.versions: list[int] = []  # negotiated server versions, one per connection
        self.connections = 0
        self._clients: list[_Client] = []
        self._reject: list[str] = []
        self._refuse_modify: list[str] = []
        self._next_order_id = 1
        self._perm = 900_000
        self._exec = 0
        self._server: asyncio.base_events.Server | None = None
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self, port: int = 0) -> int:
        self.loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, setup=None):
        """Run a fake in its own thread and event loop (for subprocess tests and benchmarks)."""
        fake = cls()
        if setup is not None:
            setup(fake)
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(fake.start())
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        ready.wait(5)
        try:
            yield fake
        finally:
            asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)

    # ------------------------------------------------------------------ test controls
    @property
    def accepting(self) -> bool:
        return self._accepting

    @accepting.setter
    def accepting(self, value: bool) -> None:
        """False: stop listening (connections are refused, as while TWS restarts); True: listen again."""
        if value == self._accepting:
            return
        self._accepting = value
        if not value and self._server is not None:
            self._server.close()
            self._server = None
        elif value:
            assert self.loop is not None
            self._restart = self.loop.create_task(self._listen_again())

    async def _listen_again(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    @property
    def connected(self) -> bool:
        return bool(self._clients)

    def contract(self, symbol: str, sec_type: str | None = None) -> FakeContract:
        for c in self.contracts:
            if c.symbol == symbol and (sec_type is None or c.sec_type == sec_type):
                return c
        raise KeyError(symbol)

    def set_position(self, con_id: int, qty: float, avg_price: float) -> None:
        self.positions[con_id] = (qty, avg_price)

    def reject_next(self, reason: str = "Insufficient buying power") -> None:
        """The next new order is rejected with error 201 and this reason."""
        self._reject.append(reason)

    def refuse_next_modify(self, reason: str = "the order is being filled") -> None:
        """The next modification is refused (error 10148); the order keeps working."""
        self._refuse_modify.append(reason)

    def push_quote(self, con_id: int, bid: float, ask: float, last: float, *, bid_size: float = 100,
                   ask_size: float = 100, last_size: float = 10, volume: float | None = None) -> None:
        q = self.quotes.setdefault(con_id, {})
        q.update(bid=bid, ask=ask, last=last, bid_size=bid_size, ask_size=ask_size, last_size=last_size)
        if volume is not None:
            q["volume"] = volume
        for client in self._clients:
            for req_id, cid in client.tickers.items():
                if cid == con_id:
                    self._send_ticks(client, req_id, q)

    def set_greeks(self, con_id: int, *, iv: float, delta: float, gamma: float, vega: float, theta: float,
                   und_price: float, opt_price: float | None = None, pv_dividend: float = 0.0) -> None:
        """What TWS's option model says of a contract: sent as tickOptionComputation (bid, ask and model
        ticks 10, 11, 13) to every market data request for it; vega per vol point, theta per day, as IB's."""
        self.greeks[con_id] = dict(iv=iv, delta=delta, gamma=gamma, vega=vega, theta=theta, und_price=und_price,
                                   opt_price=opt_price if opt_price is not None else -1.0, pv_dividend=pv_dividend)

    def push_error(self, code: int, message: str, req_id: int = -1) -> None:
        for client in self._clients:
            self._error(client, req_id, code, message)

    # ------------------------------------------------------------------ market depth and tick-by-tick trades
    def set_book(self, con_id: int, bids: list[tuple[float, float]], asks: list[tuple[float, float]], mm: str = "NSDQ") -> None:
        """The rows a depth request gets first (best first), sent as inserts at positions 0, 1, ..."""
        self.books[con_id] = ([(p, s, mm) for p, s in bids], [(p, s, mm) for p, s in asks])

    def depth(self, con_id: int, side: str, operation: str, position: int, price: float = 0.0, size: float = 0.0,
              mm: str = "NSDQ") -> None:
        """Change one row as TWS does (``side`` "bid"/"ask"; ``operation`` "insert" shifts the rows from
        ``position`` down, "update" overwrites, "delete" removes and shifts up) and send it to every
        depth subscriber: updateMktDepthL2 (13) for a SMART depth request, updateMktDepth (12) otherwise."""
        rows = self.books.setdefault(con_id, ([], []))[0 if side == "bid" else 1]
        op = {"insert": 0, "update": 1, "delete": 2}[operation]
        if op == 0:
            rows.insert(position, (price, size, mm))
        elif op == 1:
            rows[position] = (price, size, mm)
        else:
            price, size, mm = rows.pop(position)
        for client in self._clients:
            for req_id, (cid, smart) in client.depth.items():
                if cid == con_id:
                    self._send_depth_row(client, req_id, smart, position, op, side == "bid", price, size, mm)

    def book_levels(self, con_id: int) -> tuple[dict[float, float], dict[float, float]]:
        """The fake's book by price (rows at one price summed, empty rows left out): (bids, asks)."""
        out: tuple[dict[float, float], dict[float, float]] = ({}, {})
        for levels, rows in zip(out, self.books.get(con_id, ([], []))):
            for price, size, _ in rows:
                if size > 0:
                    levels[price] = levels.get(price, 0.0) + size
        return out

    def push_trade(self, con_id: int, price: float, size: float, *, exchange: str = "NYSE", conditions: str = "") -> None:
        """A trade on the tape: tickByTick AllLast (99) to every tick-by-tick subscriber of the contract."""
        for client in self._clients:
            for req_id, cid in client.tick_by_tick.items():
                if cid == con_id:
                    self._send(client, [99, req_id, 2, int(time.time()), _num(price), _num(size), 0, exchange, conditions])

    def depth_subscriptions(self) -> int:
        return sum(len(c.depth) for c in self._clients)

    def trade_subscriptions(self) -> int:
        return sum(len(c.tick_by_tick) for c in self._clients)

    def mute(self) -> None:
        """Current connections stay open but answer nothing (a hung TWS); new ones are served."""
        for client in self._clients:
            client.muted = True

    def drop(self) -> None:
        """Close every client connection, as TWS does when it restarts."""
        for client in list(self._clients):
            client.writer.close()
        self._clients.clear()

    def working(self) -> list[FakeOrder]:
        return [o for o in self.orders.values() if o.status in ("Submitted", "PreSubmitted")]

    def order_by_ref(self, ref: str) -> FakeOrder:
        for o in self.orders.values():
            if o.order_ref == ref:
                return o
        raise KeyError(ref)

    def fill(self, order: FakeOrder, qty: float | None = None, price: float | None = None) -> FakeExecution:
        """Execute (part of) an order; the owning client hears of it if it is connected."""
        if order.legs:
            return self.fill_combo(order, qty)
        qty = order.remaining if qty is None else qty
        if price is None:
            q = self.quotes.get(order.contract.con_id, {})
            price = q.get("ask" if order.action == "BUY" else "bid") or order.lmt_price or q.get("last") or 100.0
        self._exec += 1
        order.avg_price = (order.avg_price * order.filled + price * qty) / (order.filled + qty)
        order.filled += qty
        order.last_price = price
        order.status = "Filled" if order.remaining <= 0 else "Submitted"
        commission = max(self.commission_min, round(qty * self.commission_per_unit, 4))
        ex = FakeExecution(
            exec_id=f"0000e0d5.{self._exec:08x}.01.01", order=order, shares=qty, price=price, ts=time.time(),
            commission=commission, cum_qty=order.filled, avg_price=order.avg_price,
        )
        self.executions.append(ex)
        self._book(order.contract, qty if order.action == "BUY" else -qty, price, commission)
        for client in self._clients:
            if client.client_id == order.client_id or client.client_id == 0:
                self._send(client, self._exec_details(client, -1, ex))
                self._send(client, self._commission(ex))
                self._send(client, self._open_order(client, order))
                self._send(client, self._order_status(order))
            if client.account_updates:
                self._send_account(client, end=False)
        return ex

    def fill_combo(self, order: FakeOrder, qty: float | None = None, prices: dict[int, float] | None = None) -> FakeExecution:
        """Execute (part of) a BAG order atomically, as TWS reports it: per leg an execDetails with the
        leg's contract, effective side, shares (units x ratio) and price (``prices`` by conId, else the
        leg's touch: ask when bought, bid when sold) and its commission report; then the BAG's own
        execDetails (units at the net price per unit, no commission report); then openOrder and
        orderStatus for the combo (filled in units, average the net price)."""
        qty = order.remaining if qty is None else qty
        prices = prices or {}
        buy = order.action == "BUY"
        now = time.time()
        execs: list[FakeExecution] = []
        net = 0.0
        for leg in order.legs:
            action = leg.action if buy else ("SELL" if leg.action == "BUY" else "BUY")
            q = self.quotes.get(leg.contract.con_id, {})
            price = prices.get(leg.contract.con_id) or q.get("ask" if action == "BUY" else "bid") or q.get("last") or 1.0
            net += (1 if leg.action == "BUY" else -1) * leg.ratio * price
            shares = qty * leg.ratio
            self._exec += 1
            commission = max(self.commission_min, round(shares * self.commission_per_unit, 4))
            execs.append(FakeExecution(
                exec_id=f"0000e0d5.{self._exec:08x}.01.01", order=order, shares=shares, price=price, ts=now,
                commission=commission, cum_qty=(order.filled + qty) * leg.ratio, avg_price=price, contract=leg.contract,
                action=action,
            ))
            self._book(leg.contract, shares if action == "BUY" else -shares, price, commission)
        net = round(net, 8)
        order.avg_price = (order.avg_price * order.filled + net * qty) / (order.filled + qty)
        order.filled += qty
        order.last_price = net
        order.status = "Filled" if order.remaining <= 0 else "Submitted"
        self._exec += 1
        execs.append(FakeExecution(
            exec_id=f"0000e0d5.{self._exec:08x}.01.01", order=order, shares=qty, price=net, ts=now, commission=0.0,
            cum_qty=order.filled, avg_price=order.avg_price, bag=True,
        ))
        self.executions.extend(execs)
        for client in self._clients:
            if client.client_id == order.client_id or client.client_id == 0:
                for ex in execs:
                    self._send(client, self._exec_details(client, -1, ex))
                    if not ex.bag:
                        self._send(client, self._commission(ex))
                self._send(client, self._open_order(client, order))
                self._send(client, self._order_status(order))
            if client.account_updates:
                self._send_account(client, end=False)
        return execs[-1]

    def _combo_legs(self, f: list[str]) -> list[FakeLeg]:
        """A BAG placeOrder's comboLegs, read where ib_async writes them: after ``hidden`` (field 34),
        a count, then per leg conId, ratio, action, exchange, openClose, shortSaleSlot,
        designatedLocation, exemptCode. Empty if a leg's conId is unknown."""
        n = int(f[35] or 0)
        legs = []
        for i in range(n):
            con_id, ratio, action, exchange = f[36 + 8 * i: 40 + 8 * i]
            contract = next((c for c in self.contracts if c.con_id == int(con_id or 0)), None)
            if contract is None:
                return []
            legs.append(FakeLeg(contract, int(ratio), action, exchange))
        return legs

    def _bag(self, f: list[str], legs: list[FakeLeg]) -> FakeContract:
        """The BAG contract an order names (symbol, exchange, currency from the wire; TWS gives combos conId 28812380)."""
        return FakeContract(28812380, f[3], "BAG", f[9], currency=f[11] or "USD", local_symbol=f[3], trading_class="COMB")

    # ------------------------------------------------------------------ accounting
    def _book(self, c: FakeContract, signed: float, price: float, commission: float) -> None:
        qty, avg = self.positions.get(c.con_id, (0.0, 0.0))
        new = qty + signed
        if qty == 0 or (qty > 0) == (signed > 0):
            avg = (avg * abs(qty) + price * abs(signed)) / abs(new) if new else 0.0
        elif new == 0:
            avg = 0.0
        elif (new > 0) != (qty > 0):
            avg = price
        self.positions[c.con_id] = (new, avg)
        if c.sec_type != "FUT":
            self.cash -= signed * price * c.mult
        self.cash -= commission

    def _mark(self, c: FakeContract, avg: float) -> float:
        return self.quotes.get(c.con_id, {}).get("last") or avg

    def account_values(self) -> dict[str, str]:
        value = 0.0
        unrealized = 0.0
        for con_id, (qty, avg) in self.positions.items():
            c = self._by_con(con_id)
            mark = self._mark(c, avg)
            unrealized += (mark - avg) * qty * c.mult
            value += (mark - avg) * qty * c.mult if c.sec_type == "FUT" else mark * qty * c.mult
        net = self.cash + value
        gross = sum(abs(self._mark(self._by_con(k), avg) * qty * self._by_con(k).mult) for k, (qty, avg) in self.positions.items())
        initial, maintenance = gross * 0.5, gross * 0.25  # Reg T: half of the gross value up front, a quarter to keep it
        return {
            "NetLiquidation": f"{net:.2f}", "TotalCashValue": f"{self.cash:.2f}", "BuyingPower": f"{max(0.0, net - initial) * 4:.2f}",
            "GrossPositionValue": f"{value:.2f}", "UnrealizedPnL": f"{unrealized:.2f}", "RealizedPnL": "0.00",
            "InitMarginReq": f"{initial:.2f}", "MaintMarginReq": f"{maintenance:.2f}", "ExcessLiquidity": f"{net - maintenance:.2f}",
        }

    def account_counts(self) -> dict[str, str]:
        """Account values TWS sends without a currency (``DayTradesRemaining``: -1 is unlimited)."""
        return {"DayTradesRemaining": str(self.day_trades_remaining)}

    def _by_con(self, con_id: int) -> FakeContract:
        return next(c for c in self.contracts if c.con_id == con_id)

    # ------------------------------------------------------------------ wire
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client: _Client | None = None
        try:
            if await reader.readexactly(4) != b"API\0":
                return
            hello = (await reader.readexactly(struct.unpack(">I", await reader.readexactly(4))[0])).decode()
            if not self._accepting:
                return
            lo, hi = hello.split()[0].lstrip("v").split("..")
            version = min(int(hi), MAX_SERVER_VERSION)
            if version < int(lo):
                return
            self.versions.append(version)
            self.connections += 1
            client = _Client(writer=writer, version=version)
            writer.write(_frame([version, _utc(time.time())]))
            while True:
                size = struct.unpack(">I", await reader.readexactly(4))[0]
                fields = (await reader.readexactly(size)).decode().split("\0")[:-1]
                self.requests.append(fields)
                self._handle(client, fields)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if client in self._clients:
                self._clients.remove(client)
            writer.close()

    def _send(self, client: _Client, fields: list) -> None:
        if not client.writer.is_closing():
            client.writer.write(_frame(fields))

    def _error(self, client: _Client, req_id: int, code: int, message: str) -> None:
        fields = [4, 2, req_id, code, message]
        if client.version >= 166:
            fields.append("")
        self._send(client, fields)

    def _handle(self, client: _Client, f: list[str]) -> None:
        if client.muted:
            return
        msg = int(f[0])
        handler = getattr(self, f"_on_{msg}", None)
        if handler is not None:
            handler(client, f)

    # startApi
    def _on_71(self, client: _Client, f: list[str]) -> None:
        client.client_id = int(f[2])
        if any(c.client_id == client.client_id for c in self._clients):
            self._error(client, -1, 326, "Unable to connect as the client id is already in use. Retry with a unique client id.")
            client.writer.close()
            return
        self._clients.append(client)
        self._send(client, [15, 1, ACCOUNT])
        self._send(client, [9, 1, self._next_order_id])
        if self.send_farm_messages:
            self._error(client, -1, 2104, "Market data farm connection is OK:usfarm")
            self._error(client, -1, 2106, "HMDS data farm connection is OK:ushmds")
            self._error(client, -1, 2158, "Sec-def data farm connection is OK:secdefnj")

    # reqIds
    def _on_8(self, client: _Client, f: list[str]) -> None:
        self._send(client, [9, 1, self._next_order_id])

    # reqCurrentTime
    def _on_49(self, client: _Client, f: list[str]) -> None:
        self._send(client, [49, 1, int(time.time())])

    # reqPositions
    def _on_61(self, client: _Client, f: list[str]) -> None:
        for con_id, (qty, avg) in self.positions.items():
            c = self._by_con(con_id)
            avg_cost = avg * c.mult if c.sec_type in ("FUT", "OPT") else avg  # IB reports cost per contract
            self._send(client, [61, 3, ACCOUNT, *c.wire(), _num(qty), _num(avg_cost)])
        self._send(client, [62, 1])

    # reqOpenOrders / reqAllOpenOrders / reqAutoOpenOrders
    def _on_5(self, client: _Client, f: list[str]) -> None:
        for o in self.working():
            if o.client_id == client.client_id or client.client_id == 0:
                self._send(client, self._open_order(client, o))
                self._send(client, self._order_status(o))
        self._send(client, [53, 1])

    def _on_16(self, client: _Client, f: list[str]) -> None:
        if self.fail_lookups > 0:  # no openOrderEnd: the request times out
            self.fail_lookups -= 1
            return
        for o in self.working():
            self._send(client, self._open_order(client, o))
            self._send(client, self._order_status(o))
        self._send(client, [53, 1])

    # reqCompletedOrders
    def _on_99(self, client: _Client, f: list[str]) -> None:
        self._send(client, [102])

    # reqAccountUpdates
    def _on_6(self, client: _Client, f: list[str]) -> None:
        client.account_updates = f[2] == "1"
        if client.account_updates:
            self._send_account(client, end=True)

    def _send_account(self, client: _Client, end: bool) -> None:
        for key, value in self.account_values().items():
            self._send(client, [6, 2, key, value, "USD", ACCOUNT])
        for key, value in self.account_counts().items():
            self._send(client, [6, 2, key, value, "", ACCOUNT])
        self._send(client, [6, 2, "AccountType", "INDIVIDUAL", "", ACCOUNT])
        for con_id, (qty, avg) in self.positions.items():
            c = self._by_con(con_id)
            mark = self._mark(c, avg)
            self._send(client, [
                7, 8, c.con_id, c.symbol, c.sec_type, c.expiry, _num(c.strike), c.right, c.multiplier, c.primary,
                c.currency, c.local_symbol, c.trading_class, _num(qty), _num(mark), f"{mark * qty * c.mult:.2f}",
                _num(avg * c.mult if c.sec_type in ("FUT", "OPT") else avg), f"{(mark - avg) * qty * c.mult:.2f}", "0", ACCOUNT,
            ])
        self._send(client, [8, 1, datetime.fromtimestamp(time.time(), tz=timezone.utc).strftime("%H:%M")])
        if end:
            self._send(client, [54, 1, ACCOUNT])

    # reqAccountUpdatesMulti
    def _on_76(self, client: _Client, f: list[str]) -> None:
        req_id = int(f[2])
        for key, value in self.account_values().items():
            self._send(client, [73, 1, req_id, ACCOUNT, "", key, value, "USD"])
        for key, value in self.account_counts().items():
            self._send(client, [73, 1, req_id, ACCOUNT, "", key, value, ""])
        self._send(client, [74, 1, req_id])

    # reqAccountSummary
    def _on_62(self, client: _Client, f: list[str]) -> None:
        req_id = int(f[2])
        for key, value in self.account_values().items():
            self._send(client, [63, 1, req_id, ACCOUNT, key, value, "USD"])
        for key, value in self.account_counts().items():
            self._send(client, [63, 1, req_id, ACCOUNT, key, value, ""])
        self._send(client, [64, 1, req_id])

    # reqExecutions: [7, 3, reqId, clientId, acct, time, symbol, secType, exchange, side]
    def _on_7(self, client: _Client, f: list[str]) -> None:
        req_id = int(f[2])
        want_client = int(f[3] or 0)
        since = _parse_filter_time(f[5])
        for ex in self.executions:
            if want_client and ex.order.client_id != want_client:
                continue
            if since is not None and ex.ts < since:
                continue
            if f[6] and ex.order.contract.symbol != f[6]:
                continue
            self._send(client, self._exec_details(client, req_id, ex))
            if not ex.bag:
                self._send(client, self._commission(ex))
        self._send(client, [55, 1, req_id])

    # reqContractDetails: [9, 8, reqId, conId, symbol, secType, lastTrade, strike, right, mult, exch, primary, ccy, local, class, ...]
    def _on_9(self, client: _Client, f: list[str]) -> None:
        req_id = int(f[2])
        matches = [c for c in self.contracts if _matches(c, f[3:15])]
        if not matches:
            self._error(client, req_id, 200, "No security definition has been found for the request")
            return
        for c in matches:
            self._send(client, self._details(client, req_id, c))
        self._send(client, [52, 1, req_id])

    def _details(self, client: _Client, req_id: int, c: FakeContract) -> list:
        head: list = [10]
        if client.version < 164:
            head.append(8)
        fields = head + [
            req_id, c.symbol, c.sec_type, c.expiry, _num(c.strike), c.right, c.exchange, c.currency, c.local_symbol,
            c.trading_class, c.trading_class, c.con_id, _num(c.min_tick),
        ]
        if client.version < 164:
            fields.append("")  # mdSizeMultiplier
        fields += [
            c.multiplier, "ACTIVETIM,LMT,MKT,STP,STPLMT", f"SMART,{c.primary or c.exchange}", 1, 0, c.long_name,
            c.primary, c.contract_month, "", "", "", "US/Eastern", "", "", "", "", 0,
            1, "", "", "26", c.expiry, "COMMON" if c.sec_type == "STK" else "",
        ]
        if client.version == 163:
            fields.append(c.size_increment)
        if client.version >= 164:
            fields += [c.size_increment, c.size_increment, c.size_increment]
        return fields

    # reqMarketDataType
    def _on_59(self, client: _Client, f: list[str]) -> None:
        client.market_data_type = int(f[2])

    # reqMktData: [1, 11, reqId, contract(12), ...]
    def _on_1(self, client: _Client, f: list[str]) -> None:
        req_id = int(f[2])
        con_id = int(f[3] or 0)
        if not con_id:
            matches = [c for c in self.contracts if _matches(c, f[3:15])]
            if not matches:
                self._error(client, req_id, 200, "No security definition has been found for the request")
                return
            con_id = matches[0].con_id
        client.tickers[req_id] = con_id
        granted = client.market_data_type
        if granted == 1 and self.market_data_type != 1:
            self._error(client, req_id, 10167, "Requested market data is not subscribed. Displaying delayed market data.")
            granted = 3
        self._send(client, [58, 1, req_id, granted])
        q = self.quotes.get(con_id)
        if q:
            self._send_ticks(client, req_id, q)
        contract = next((c for c in self.contracts if c.con_id == con_id), None)
        if contract is not None and contract.sec_type == "OPT":
            self._send_option_ticks(client, req_id, contract, f[16].split(",") if len(f) > 16 else [])

    def _send_option_ticks(self, client: _Client, req_id: int, c: FakeContract, generic: list[str]) -> None:
        """Open interest (generic tick 101: tickSize 27 for a call, 28 for a put) and the option
        computations: [21, reqId, tickType, tickAttrib, iv, delta, optPrice, pvDividend, gamma, vega, theta, undPrice]."""
        if "101" in generic and c.con_id in self.open_interest:
            self._send(client, [2, 6, req_id, 27 if c.right == "C" else 28, _num(self.open_interest[c.con_id])])
        g = self.greeks.get(c.con_id)
        if g is None:
            return
        for tick in (10, 11, 13):
            self._send(client, [21, req_id, tick, 1, repr(g["iv"]), repr(g["delta"]), repr(g["opt_price"]),
                                repr(g["pv_dividend"]), repr(g["gamma"]), repr(g["vega"]), repr(g["theta"]), repr(g["und_price"])])

    # reqSecDefOptParams: [78, reqId, underlyingSymbol, futFopExchange, underlyingSecType, underlyingConId]
    def _on_78(self, client: _Client, f: list[str]) -> None:
        """One row per exchange and trading class, as TWS sends them (SMART and the listing exchanges):
        [75, reqId, exchange, underlyingConId, tradingClass, multiplier, nExp, *expirations, nStrikes, *strikes]."""
        req_id, symbol, und_con_id = int(f[1]), f[2], f[5]
        classes: dict[tuple[str, str], list[FakeContract]] = {}
        for c in self.contracts:
            if c.sec_type == "OPT" and c.symbol == symbol:
                classes.setdefault((c.trading_class, c.multiplier), []).append(c)
        for (trading_class, multiplier), contracts in classes.items():
            expirations = sorted({c.expiry for c in contracts})
            strikes = sorted({c.strike for c in contracts})
            for exchange in ("SMART", "CBOE", "AMEX"):
                self._send(client, [75, req_id, exchange, und_con_id, trading_class, multiplier, len(expirations),
                                    *expirations, len(strikes), *(_num(k) for k in strikes)])
        self._send(client, [76, req_id])

    def _on_2(self, client: _Client, f: list[str]) -> None:
        client.tickers.pop(int(f[2]), None)

    def _contract_of(self, client: _Client, req_id: int, wire: list[str]) -> FakeContract | None:
        matches = [c for c in self.contracts if _matches(c, wire)]
        if not matches:
            self._error(client, req_id, 200, "No security definition has been found for the request")
            return None
        return matches[0]

    # reqMktDepth: [10, 5, reqId, contract(12), numRows, isSmartDepth, mktDepthOptions]
    def _on_10(self, client: _Client, f: list[str]) -> None:
        req_id = int(f[2])
        c = self._contract_of(client, req_id, f[3:15])
        if c is None:
            return
        if self.depth_subscriptions() >= self.depth_limit:
            self._error(client, req_id, 309, f"Max number ({self.depth_limit}) of market depth requests has been reached")
            return
        smart = f[16] == "1"
        client.depth[req_id] = (c.con_id, smart)
        rows = int(f[15] or 0)
        bids, asks = self.books.get(c.con_id, ([], []))
        for is_bid, side in ((True, bids), (False, asks)):
            for position, (price, size, mm) in enumerate(side[:rows]):
                self._send_depth_row(client, req_id, smart, position, 0, is_bid, price, size, mm)

    def _send_depth_row(self, client: _Client, req_id: int, smart: bool, position: int, op: int, bid: bool,
                        price: float, size: float, mm: str) -> None:
        side = 1 if bid else 0
        if smart:
            self._send(client, [13, 1, req_id, position, mm, op, side, _num(price), _num(size), 1])
        else:
            self._send(client, [12, 1, req_id, position, op, side, _num(price), _num(size)])

    # cancelMktDepth: [11, 1, reqId, isSmartDepth]
    def _on_11(self, client: _Client, f: list[str]) -> None:
        client.depth.pop(int(f[2]), None)

    # reqTickByTickData: [97, reqId, contract(12), tickType, numberOfTicks, ignoreSize]
    def _on_97(self, client: _Client, f: list[str]) -> None:
        req_id = int(f[1])
        c = self._contract_of(client, req_id, f[2:14])
        if c is not None and f[14] in ("Last", "AllLast"):
            client.tick_by_tick[req_id] = c.con_id

    # cancelTickByTickData: [98, reqId]
    def _on_98(self, client: _Client, f: list[str]) -> None:
        client.tick_by_tick.pop(int(f[1]), None)

    def _send_ticks(self, client: _Client, req_id: int, q: dict[str, float]) -> None:
        if "bid" in q:
            self._send(client, [1, 6, req_id, 1, _num(q["bid"]), _num(q.get("bid_size", 100)), 0])
        if "ask" in q:
            self._send(client, [1, 6, req_id, 2, _num(q["ask"]), _num(q.get("ask_size", 100)), 0])
        if "last" in q:
            self._send(client, [1, 6, req_id, 4, _num(q["last"]), _num(q.get("last_size", 1)), 0])
        if "volume" in q:
            self._send(client, [2, 6, req_id, 8, _num(q["volume"])])

    # reqHistoricalData: [20, reqId, contract(12), includeExpired, end, barSize, duration, useRTH, whatToShow, formatDate, ...]
    def _on_20(self, client: _Client, f: list[str]) -> None:
        req_id = int(f[1])
        matches = [c for c in self.contracts if _matches(c, f[2:14])]
        if not matches:
            self._error(client, req_id, 200, "No security definition has been found for the request")
            return
        size = _bar_seconds(f[16])
        n = 5
        end = int(time.time()) // size * size
        rows: list = []
        base = self.quotes.get(matches[0].con_id, {}).get("last", 100.0)
        for i in range(n):
            t = end - (n - i) * size
            o = base + i
            rows += [t, _num(o), _num(o + 1), _num(o - 1), _num(o + 0.5), 1000, _num(o + 0.2), 10]
        self._send(client, [17, req_id, "", "", n, *rows])

    # placeOrder: [3, orderId, contract(12), secIdType, secId, action, qty, type, lmt, aux, tif, oca, acct, openClose, origin, orderRef, ...]
    def _on_3(self, client: _Client, f: list[str]) -> None:
        order_id = int(f[1])
        if self.read_only:
            self._error(client, order_id, 321, "Error validating request.-'bN' : cause - The API interface is currently in Read-Only mode.")
            return
        key = (client.client_id, order_id)
        existing = self.orders.get(key)
        if existing is None and self.lose_orders:
            self.lose_orders -= 1
            return
        lmt = float(f[19]) if f[19] else None
        aux = float(f[20]) if f[20] else None
        if existing is not None:  # a modification: same order id, new terms
            if self._refuse_modify:
                self._error(client, order_id, 10148, f"OrderId {order_id} that needs to be modified cannot be modified: {self._refuse_modify.pop(0)}")
                return
            if existing.status not in ("Submitted", "PreSubmitted"):
                self._error(client, order_id, 10148, f"OrderId {order_id} that needs to be modified cannot be modified (it is {existing.status}).")
                return
            existing.qty, existing.lmt_price, existing.aux_price = float(f[17]), lmt, aux
            self._send(client, self._open_order(client, existing))
            self._send(client, self._order_status(existing))
            return
        legs = self._combo_legs(f) if f[4] == "BAG" else []
        if f[4] == "BAG":
            matches = [self._bag(f, legs)] if legs else []
        else:
            matches = [c for c in self.contracts if _matches(c, f[2:14])]
        if not matches:
            self._error(client, order_id, 200, "No security definition has been found for the request")
            return
        self._perm += 1
        order = FakeOrder(
            order_id=order_id, client_id=client.client_id, perm_id=self._perm, contract=matches[0], action=f[16],
            qty=float(f[17]), order_type=f[18], lmt_price=lmt, aux_price=aux, tif=f[21], order_ref=f[26],
            account=f[23] or ACCOUNT, legs=legs, outside_rth=f[33] == "1",
        )
        self.orders[key] = order
        self._next_order_id = max(self._next_order_id, order_id + 1)
        if self._reject:
            order.status = "Cancelled"
            self._error(client, order_id, 201, f"Order rejected - reason:{self._reject.pop(0)}")
            return
        if self.swallow_answers:
            self.swallow_answers -= 1
            return
        self._send(client, self._open_order(client, order))
        self._send(client, self._order_status(order))
        quoted = all(self.quotes.get(leg.contract.con_id) for leg in legs) if legs else self.quotes.get(order.contract.con_id)
        if order.order_type == "MKT" and self.auto_fill_market and quoted:
            self.fill(order)

    # cancelOrder: [4, 1, orderId, ...]
    def _on_4(self, client: _Client, f: list[str]) -> None:
        order_id = int(f[2])
        order = self.orders.get((client.client_id, order_id))
        if order is None or order.status not in ("Submitted", "PreSubmitted"):
            self._error(client, order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found.")
            return
        order.status = "Cancelled"
        self._send(client, self._order_status(order))
        self._error(client, order_id, 202, "Order Canceled - reason:")

    # ------------------------------------------------------------------ message builders
    def _order_status(self, o: FakeOrder) -> list:
        return [3, o.order_id, o.status, _num(o.filled), _num(o.remaining), _num(o.avg_price), o.perm_id, 0,
                _num(o.last_price), o.client_id, "", 0]

    def _commission(self, ex: FakeExecution) -> list:
        return [59, 1, ex.exec_id, _num(ex.commission), "USD", "1.7976931348623157E308", "1.7976931348623157E308", ""]

    def _exec_details(self, client: _Client, req_id: int, ex: FakeExecution) -> list:
        o = ex.order
        c = ex.contract or o.contract
        fields = [
            11, req_id, o.order_id, *c.wire(), ex.exec_id, _utc(ex.ts), o.account, c.primary or c.exchange,
            "BOT" if (ex.action or o.action) == "BUY" else "SLD", _num(ex.shares), _num(ex.price), o.perm_id, o.client_id, 0,
            _num(ex.cum_qty), _num(ex.avg_price), o.order_ref, "", "", "", 2,
        ]
        if client.version >= 178:
            fields.append(0)
        return fields

    def _open_order(self, client: _Client, o: FakeOrder) -> list:
        v = client.version
        c = o.contract
        fields: list = [
            5, o.order_id, *c.wire(), o.action, _num(o.qty), o.order_type, _num(o.lmt_price), _num(o.aux_price), o.tif,
            "", o.account, "O", 0, o.order_ref, o.client_id, o.perm_id, 0, 0, 0, "", "", "", "", "",
        ]
        if v < 177:
            fields.append("")  # faProfile
        fields += [
            "", "", "", "", "", 0, "", -1, "", "", "", "", "", "", 0, 0, 0, 0, "", 3, 0, 0, "", 0, 0, "", 0, "", "",
        ]  # modelCode .. deltaNeutralAuxPrice (29 fields)
        fields += [0, 0, "", "", "", "", ""]  # continuousUpdate .. comboLegsDescrip
        fields += [len(o.legs)]  # combo legs (a BAG order's), then order combo legs, smart combo routing params
        for leg in o.legs:
            fields += [leg.contract.con_id, leg.ratio, leg.action, leg.exchange, 0, 0, "", -1]
        fields += [0, 0]
        fields += ["", "", ""]  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        fields += [""]  # hedgeType
        fields += [0, "", "", 0, 0]  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, deltaNeutral
        fields += [""]  # algoStrategy
        fields += [0, 0, o.status, *([""] * 9), "", "", "", "", "", 0, 0]  # solicited, whatIf, order state, randomize
        fields += [0]  # conditions
        fields += ["", "", "", "", "", "", "", 0, "", "", "", "", 0, 0, "", 0]  # adjusted .. usePriceMgmtAlgo
        if v >= 159:
            fields.append("")
        if v >= 160:
            fields.append("")
        if v >= 162:
            fields.append(0)
        if v >= 170:
            fields += ["", "", "", "", ""]
        return fields


def _frame(fields: list) -> bytes:
    body = "".join(f"{'' if x is None else x}\0" for x in fields).encode()
    return struct.pack(">I", len(body)) + body


def _matches(c: FakeContract, w: list[str]) -> bool:
    """Does a contract match the 12 wire fields of a request (conId, symbol, secType, lastTrade, strike, right, ...)?"""
    con_id, symbol, sec_type, last, strike, right, mult, _exch, _prim, ccy, local, _cls = w[:12]
    if con_id and con_id != "0":
        return int(con_id) == c.con_id
    if local and local != c.local_symbol:
        return False
    if symbol != c.symbol or (sec_type and sec_type != c.sec_type):
        return False
    if ccy and ccy != c.currency:
        return False
    if last and not (c.expiry.startswith(last) or c.contract_month == last):
        return False
    if strike and float(strike) and float(strike) != c.strike:
        return False
    if right and right[0] != c.right[:1]:
        return False
    if mult and c.multiplier and float(mult) != float(c.multiplier):
        return False
    return True


def _parse_filter_time(text: str) -> float | None:
    if not text:
        return None
    text = text.strip()
    for fmt, tz in (("%Y%m%d-%H:%M:%S", timezone.utc), ("%Y%m%d %H:%M:%S", timezone.utc)):
        try:
            return datetime.strptime(text.replace(" UTC", ""), fmt).replace(tzinfo=tz).timestamp()
        except ValueError:
            continue
    return None


def _bar_seconds(text: str) -> int:
    n, unit = text.split()[:2]
    return int(n) * {"sec": 1, "secs": 1, "min": 60, "mins": 60, "hour": 3600, "hours": 3600, "day": 86400}.get(unit, 60)
