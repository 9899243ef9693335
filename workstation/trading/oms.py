"""The order manager: the one door for orders, from every source.

``submit`` validates an ``OrderRequest`` (symbol, lot, tick, type and price consistency),
assigns our id and client order id, asks the risk checks, journals, publishes, and only
then sends it to the broker. Bad input raises ``OrderError`` *before* anything is written
or sent; a risk refusal is a journaled ``OrderRejected`` event with a readable reason.

Broker reports come back through ``on_report`` keyed by client order id and drive the one
state machine (``model.TRANSITIONS``). Duplicated reports are dropped (fills by
``exec_id``, in the journal); late and out-of-order ones are handled without double
counting: a fill is always booked exactly once, even when it arrives after a cancel
(the money moved), and an illegal state change is logged and ignored.

Brackets (entry + take-profit + stop-loss) and OCO pairs are managed here, so they work
on every broker: children wait (state ``new``) until their entry has filled, then go out
as an OCO pair; when one child fills, the other is canceled (or cut to the filled child's
remaining quantity after a partial fill).

A bracket is checked whole at submit: the entry (counted as the two exits it will leave
working), then each exit's price and notional (``PreTradeRisk.check_leg``); if any leg
fails, the entry is rejected and nothing is sent or held. When the entry fills, each exit
passes the risk checks again as a *protective* order (exempt while it reduces, checked fully
if it no longer does) and goes out through ``_send``; an OCO resize goes through the same
replace path as a user's replace. Nothing here calls ``broker.submit`` or ``broker.replace``
without a verdict.

A submit whose answer never came is looked up by client order id, never resent. When the
lookup fails too, or the broker does not show the order yet, the order is ``unknown``
(journaled, alerted, counted as working everywhere) and settles only on evidence: a later
report, a lookup (retried with back-off for as long as it stays unknown), or the resync
after a reconnect. A lookup that still finds nothing ``unknown_grace_s`` after the send is
the evidence that the order never arrived: it is rejected then, not before.

Every refusal (bad input after the request was parsed, a risk refusal) counts toward the
order-rate limits; once a rate window is full, ``submit`` refuses the next order right
after validating it, before quotes, prices and the other checks.

Why one module: one order state machine: ids, validation, risk, routing, broker reports,
brackets and OCO groups act on the same order map, and splitting them would let a
transition escape the one door.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal

import msgspec

from brokers.base import (
    Broker,
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
)
from workstation.core.bus import Bus
from workstation.core.clock import Clock
from workstation.core.journal import Journal
from workstation.core.marketdata import QuoteCache
from workstation.core.memo import Memo
from workstation.core.model import (
    BUY,
    ZERO,
    AlertRaised,
    AssetClass,
    Fill,
    IllegalTransition,
    Instrument,
    ModelError,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    OrderRequest,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    OrderUnknown,
    Quote,
    Side,
    TimeInForce,
    check_transition,
    plain,
    to_decimal,
)
from workstation.trading.combo_figures import ComboFigures
from workstation.trading import combo_orders
from workstation.trading.combos import ComboFills
from workstation.trading.portfolio import Portfolio
from workstation.risk import sessions_rule
from workstation.risk.checks import ALLOWED, KILL_SOURCE, OrderContext, PreTradeRisk, Verdict, reducing
from workstation.core.symbols import parse_symbol

log = logging.getLogger(__name__)

replace = msgspec.structs.replace
ID_BLOCK = 20  # order numbers reserved per journal transaction
UNKNOWN_GRACE_S = 30.0  # a lookup finding nothing this long after the send: the order never arrived
SETTLE_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)  # between lookups of an unknown order (the last repeats)
# the broker's words for an order that is done without (more) fills, lower-cased
REJECTED_AT_BROKER = frozenset({"rejected", "inactive"})
CANCELED_AT_BROKER = frozenset({"canceled", "cancelled", "apicancelled", "done_for_day"})
EXPIRED_AT_BROKER = frozenset({"expired"})
TERMINAL_AT_BROKER = REJECTED_AT_BROKER | CANCELED_AT_BROKER | EXPIRED_AT_BROKER
PRICES_KEPT = 10_000  # quote prices remembered as Decimals (prices repeat; forgotten all at once past this)
# (needs a limit price, needs a stop price) per order type
_NEEDS = {
    OrderType.MARKET: (False, False),
    OrderType.LIMIT: (True, False),
    OrderType.STOP: (False, True),
    OrderType.STOP_LIMIT: (True, True),
    OrderType.TRAILING_STOP: (False, False),
}


# members read on every order, as module constants (an enum member looked up on its class is
# ten times slower than a global in Python 3.11)
_NEW, _SUBMITTED, _ACCEPTED = OrderStatus.NEW, OrderStatus.SUBMITTED, OrderStatus.ACCEPTED
_FILLED, _PARTIALLY_FILLED = OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED
_MARKET, _TRAILING_STOP = OrderType.MARKET, OrderType.TRAILING_STOP
_INDEX = AssetClass.INDEX
_IOC_FOK = (TimeInForce.IOC, TimeInForce.FOK)
_LEG_NAMES = {"take_profit": "take-profit", "stop_loss": "stop-loss"}


class OrderError(ModelError):
    """An order request or command is malformed; nothing was sent or written."""


class _Refused(OrderError):
    """A replace the risk checks refused."""


class _Checked(msgspec.Struct, frozen=True):
    """An order request's numbers, validated against its instrument."""

    qty: Decimal
    limit: Decimal | None
    stop: Decimal | None
    take_profit: Decimal | None
    stop_loss: Decimal | None
    trail_amount: Decimal | None
    trail_percent: Decimal | None


class Review(msgspec.Struct, frozen=True, kw_only=True):
    """What an order would do, shown before it is sent (``--dry-run``, the ticket's review)."""

    symbol: str
    side: Side
    qty: Decimal
    type: OrderType
    tif: TimeInForce
    limit_price: Decimal | None
    stop_price: Decimal | None
    price: Decimal  # the price the notional is estimated at
    notional: Decimal
    commission: Decimal
    buying_power_after: Decimal
    ok: bool
    reason: str | None = None
    margin: Decimal | None = None  # the initial margin a futures order needs (None: not a future)
    rule: str | None = None
    warnings: tuple[str, ...] = ()
    combo: ComboFigures | None = None  # a combo's legs, net price, payoff and net Greeks (EngineAPI.review)
    extended: bool = False  # may trade in the pre- and post-market (OrderRequest.extended)
    session_note: str | None = None  # what the session means for it ("pre-market: it waits for ..."): sessions_rule.note


class OrderManager:
    def __init__(
        self,
        *,
        bus: Bus,
        journal: Journal,
        portfolio: Portfolio,
        broker: Broker,
        clock: Clock,
        risk: PreTradeRisk,
        quotes: QuoteCache,
        client_prefix: str,
        commission: Callable[[Instrument, Decimal, Decimal], Decimal] | None = None,
        id_block: int = ID_BLOCK,
        unknown_grace_s: float = UNKNOWN_GRACE_S,
    ) -> None:
        self.bus = bus
        self.journal = journal
        self.portfolio = portfolio
        self.broker = broker
        self.clock = clock
        self.risk = risk
        self.quotes = quotes
        self.prefix = client_prefix
        self.id_block = id_block  # order numbers reserved per journal transaction (after the first)
        self._commission = commission or (lambda inst, qty, price: ZERO)
        self.orders: dict[str, Order] = {}
        self._by_client: dict[str, str] = {}
        self._instruments: dict[str, Instrument] = {}
        # follow-up work in flight (bracket children, OCO cancels); read by a backtest's driver
        self.follow_ups: set[asyncio.Task[None]] = set()
        self._cancel_reasons: dict[str, str] = {}  # order id -> why we asked (kill switch, breaker)
        self.unknown_grace_s = unknown_grace_s
        self._settling: dict[str, asyncio.Task[None]] = {}  # unknown order id -> its lookups
        self._working: dict[str, Order] = {}
        self._ids: list[int] = []
        self._reserved = 0
        self._checks: list[Callable[[OrderContext], Verdict]] = []
        self._on_tick = Memo(PRICES_KEPT)  # (symbol, quote price) -> the price on the tick
        self._mids = Memo(PRICES_KEPT)  # quote mid -> the decision price it gives
        self._combo_fills = ComboFills()  # each combo's fills per leg (``workstation.trading.combo_orders``)

    def add_check(self, check: Callable[[OrderContext], Verdict]) -> Callable[[], None]:
        """Add a pre-trade check run after the risk checks (e.g. strategy capital allocation).
        Returns a function that removes it."""
        self._checks.append(check)
        return lambda: self._checks.remove(check) if check in self._checks else None

    def _check(self, ctx: OrderContext) -> Verdict:
        verdict = self.risk.check(ctx)
        if ctx.shrinks:
            return verdict  # a smaller order uses no more capital
        for check in self._checks:
            if not verdict.ok:
                break
            extra = check(ctx)
            if extra is ALLOWED:
                continue
            if not extra.ok or extra.warnings:
                verdict = Verdict(extra.ok, extra.reason, extra.rule, verdict.warnings + extra.warnings)
        return verdict

    # ------------------------------------------------------------------ lookups
    async def instrument(self, symbol: str) -> Instrument:
        known = self._instruments.get(symbol)  # keys are canonical: a hit needs no parsing
        if known is not None:
            return known
        try:
            canonical = parse_symbol(symbol).symbol  # malformed symbols fail here, offline
        except ModelError as exc:
            raise OrderError(str(exc)) from None
        inst = self._instruments.get(canonical)
        if inst is None:
            try:
                inst = await self.broker.instrument(canonical)
            except BrokerError as exc:
                raise OrderError(str(exc)) from None
            self._instruments[canonical] = inst
        return inst

    def instrument_cached(self, symbol: str) -> Instrument:
        inst = self._instruments.get(symbol)
        return inst if inst is not None else parse_symbol(symbol)

    def get(self, order_id: str) -> Order:
        order = self.orders.get(str(order_id).strip())
        if order is None:
            stored = self.journal.order(str(order_id).strip())
            if stored is None:
                raise OrderError(f"unknown order id {order_id!r}")
            order = stored
        return order

    def working(self, symbol: str | None = None) -> list[Order]:
        """Working orders, and bracket children waiting for their entry."""
        if symbol is None:
            return list(self._working.values())
        return [o for o in self._working.values() if o.symbol == symbol]

    def forget_done(self) -> int:
        """Drop the finished orders (terminal, and not a bracket entry whose exits still wait or
        work) from memory; the journal keeps them and ``get`` still finds them there. Returns how
        many were dropped. For a caller whose broker sends no report after an order finishes (a
        backtest's bar broker, after each journal flush): memory stays bounded however long the
        run; a late report for a dropped order would be taken for an order placed elsewhere."""
        parents = {o.parent_id for o in self._working.values() if o.parent_id is not None}
        done = [o for o in self.orders.values() if o.status.is_terminal and o.id not in parents]
        orders, by_client = self.orders, self._by_client
        for order in done:
            del orders[order.id]
            if by_client.get(order.client_id) == order.id:
                del by_client[order.client_id]
            self._cancel_reasons.pop(order.id, None)
        return len(done)

    def _index(self, order: Order) -> None:
        oid = order.id
        self.orders[oid] = order
        self._by_client[order.client_id] = oid
        status = order.status
        if status.is_working or (status is _NEW and order.parent_id):
            self._working[oid] = order
        else:
            self._working.pop(oid, None)

    # ------------------------------------------------------------------ validation
    async def _validate(self, req: OrderRequest) -> tuple[Instrument, _Checked]:
        inst = self._instruments.get(req.symbol)  # (a known symbol needs no coroutine)
        if inst is None:
            inst = await self.instrument(req.symbol)
        return inst, self._checked(req, inst)

    def _checked(self, req: OrderRequest, inst: Instrument) -> _Checked:
        """``req``'s numbers checked against ``inst`` (``_validate`` once the instrument is known)."""
        if inst.asset_class is _INDEX:  # refused here, before the review says it passes
            raise OrderError(f"{inst.symbol} is an index: it is quoted but cannot be traded (trade its options, a future or an ETF)")
        why = sessions_rule.refusal(req, inst, sessions_rule.session_of(self.broker, inst, self.clock.time()))
        if why is not None:  # extended hours (workstation.risk.sessions_rule)
            raise OrderError(why)
        t = req.type
        if (
            t is _MARKET and req.limit_price is None and req.stop_price is None and req.take_profit is None
            and req.stop_loss is None and req.trail_amount is None and req.trail_percent is None and req.oco_with is None
        ):  # a plain market order (most orders): only its quantity to check; every test below passes
            try:
                return _Checked(inst.check_qty(req.qty), None, None, None, None, None, None)
            except ModelError as exc:
                raise OrderError(str(exc)) from None
        try:
            qty = inst.check_qty(req.qty)
            limit = inst.check_price(req.limit_price, "limit price") if req.limit_price is not None else None
            stop = inst.check_price(req.stop_price, "stop price") if req.stop_price is not None else None
            tp = inst.check_price(req.take_profit, "take-profit price") if req.take_profit is not None else None
            sl = inst.check_price(req.stop_loss, "stop-loss price") if req.stop_loss is not None else None
            trail_amt = to_decimal(req.trail_amount, "trail amount") if req.trail_amount is not None else None
            trail_pct = to_decimal(req.trail_percent, "trail percent") if req.trail_percent is not None else None
        except ModelError as exc:
            raise OrderError(str(exc)) from None
        needs = _NEEDS[t]
        if needs[0] and limit is None:
            raise OrderError(f"a {t.value.replace('_', '-')} order needs a limit price")
        if needs[1] and stop is None:
            raise OrderError(f"a {t.value.replace('_', '-')} order needs a stop price")
        if not needs[0] and limit is not None:
            raise OrderError(f"a {t.value.replace('_', '-')} order takes no limit price")
        if not needs[1] and stop is not None:
            raise OrderError(f"a {t.value.replace('_', '-')} order takes no stop price")
        if t is _TRAILING_STOP:
            if (trail_amt is None) == (trail_pct is None):
                raise OrderError("a trailing stop needs a trail amount or a trail percent (one of them)")
            if trail_amt is not None and (trail_amt <= 0 or trail_amt % inst.tick_size):
                raise OrderError(f"trail amount {plain(trail_amt)} must be positive and on the {plain(inst.tick_size)} tick")
            if trail_pct is not None and not 0 < trail_pct < 100:
                raise OrderError(f"trail percent {plain(trail_pct)} must be between 0 and 100")
        elif trail_amt is not None or trail_pct is not None:
            raise OrderError("only a trailing stop takes a trail")
        if req.tif in _IOC_FOK and t not in (OrderType.MARKET, OrderType.LIMIT):
            raise OrderError(f"time in force {req.tif.value} applies to market and limit orders only")
        if (tp is None) != (sl is None):
            raise OrderError("a bracket needs both a take-profit and a stop-loss")
        if tp is not None and sl is not None:
            if t not in (OrderType.MARKET, OrderType.LIMIT):
                raise OrderError("a bracket's entry must be a market or limit order")
            if req.tif in _IOC_FOK:
                raise OrderError("a bracket's entry cannot be ioc or fok")
            if req.side is Side.BUY and not sl < tp:
                raise OrderError(f"for a buy bracket the stop-loss {plain(sl)} must be below the take-profit {plain(tp)}")
            if req.side is Side.SELL and not tp < sl:
                raise OrderError(f"for a sell bracket the take-profit {plain(tp)} must be below the stop-loss {plain(sl)}")
            if limit is not None and req.side is Side.BUY and not sl < limit < tp:
                raise OrderError("for a buy bracket: stop-loss < entry limit < take-profit")
            if limit is not None and req.side is Side.SELL and not tp < limit < sl:
                raise OrderError("for a sell bracket: take-profit < entry limit < stop-loss")
        if req.oco_with is not None:
            other = self.get(req.oco_with)
            if not other.status.is_working:
                raise OrderError(f"order {other.id} is not working ({other.status.value}); cannot pair it")
        return _Checked(qty, limit, stop, tp, sl, trail_amt, trail_pct)

    def _quote(self, symbol: str) -> Quote | None:
        """The latest quote: the cache's, else the broker's snapshot."""
        q = self.quotes.get(symbol)
        return q if q is not None else self.broker.snapshot(symbol)

    def _estimate_price(
        self, inst: Instrument, side: Side, limit: Decimal | None, stop: Decimal | None, quote: Quote | None = None
    ) -> Decimal:
        if limit is not None:
            return limit
        if stop is not None:
            return stop
        q = quote if quote is not None else self._quote(inst.symbol)
        if q is not None:
            px = q.ask if side is BUY else q.bid
            if px <= 0:
                px = q.last
            if px > 0:
                key = (inst.symbol, px)
                ticked = self._on_tick.get(key)
                return ticked if ticked is not None else self._on_tick.keep(key, inst.round_price(to_decimal(px)))
        last = self.portfolio.last(inst.symbol)
        if last is not None:
            return last
        raise OrderError(f"no price for {inst.symbol} yet: cannot value a market order")

    def _context(
        self, order: Order, inst: Instrument, quote: Quote | None = None, *, protective: bool = False, shrinks: bool = False,
    ) -> OrderContext:
        price = self._estimate_price(inst, order.side, order.limit_price, order.stop_price, quote)
        pf = self.portfolio
        notional = price * order.qty * inst.multiplier
        if inst.currency != pf.base:  # (``to_base`` returns the amount itself in the base currency)
            notional = pf.to_base(notional, inst.currency)
        notional = abs(notional)
        pos = pf.qty(order.symbol)
        return OrderContext(order, inst, price, notional, pos, reducing(pos, order.side, order.qty), protective, shrinks)

    def _legs(self, entry: Order, tp: Decimal, sl: Decimal) -> tuple[Order, Order]:
        """A bracket's take-profit and stop-loss as they will be held (no ids yet)."""
        tif = entry.tif if entry.tif in (TimeInForce.DAY, TimeInForce.GTC) else TimeInForce.GTC
        side = entry.side.opposite
        group = f"bracket-{entry.id}"
        return tuple(  # type: ignore[return-value]
            Order(
                id="", client_id="", symbol=entry.symbol, side=side, qty=entry.qty, type=otype, tif=tif,
                limit_price=limit, stop_price=stop, strategy=entry.strategy, source=entry.source,
                parent_id=entry.id, oco_group=group, role=role, created=entry.created, updated=entry.updated,
            )
            for role, otype, limit, stop in (("take_profit", OrderType.LIMIT, tp, None), ("stop_loss", OrderType.STOP, None, sl))
        )

    def _check_legs(self, legs: tuple[Order, ...], inst: Instrument, verdict: Verdict) -> Verdict:
        """The entry's verdict, unless one of its exits is refused."""
        for leg in legs:
            found = self.risk.check_leg(self._context(leg, inst))
            if not found.ok:
                return found
        return verdict

    # ------------------------------------------------------------------ commands
    async def review(self, req: OrderRequest) -> Review:
        """Validate and risk-check an order without sending or writing anything."""
        if req.legs:  # a combo (a spread): ``workstation.trading.combo_orders``
            try:
                return Review(**await combo_orders.review(self, req))
            except ModelError as exc:
                raise OrderError(str(exc)) from None
        inst, v = await self._validate(req)
        draft = self._draft(req, inst, v, order_id="0", client_id="review")
        ctx = self._context(draft, inst)
        verdict = self._check(ctx)
        if verdict.ok and v.take_profit is not None and v.stop_loss is not None:
            verdict = self._check_legs(self._legs(draft, v.take_profit, v.stop_loss), inst, verdict)
        commission = self._commission(inst, draft.qty, ctx.price)
        return Review(
            symbol=draft.symbol, side=draft.side, qty=draft.qty, type=draft.type, tif=draft.tif,
            limit_price=draft.limit_price, stop_price=draft.stop_price, price=ctx.price,
            notional=ctx.notional, commission=commission,
            buying_power_after=self.risk.buying_power_after(ctx) - commission, margin=self.risk.order_margin(ctx),
            ok=verdict.ok, reason=verdict.reason, rule=verdict.rule, warnings=verdict.warnings, extended=draft.extended,
            session_note=sessions_rule.note(req, inst, sessions_rule.session_of(self.broker, inst, self.clock.time())),
        )

    def _draft(
        self, req: OrderRequest, inst: Instrument, v: _Checked, *, order_id: str, client_id: str,
        decision_price: Decimal | None = None,
    ) -> Order:
        now = self.clock.time()
        return Order(
            id=order_id, client_id=client_id, symbol=inst.symbol, side=req.side,
            qty=v.qty, type=req.type, tif=req.tif, limit_price=v.limit, stop_price=v.stop,
            trail_amount=v.trail_amount, trail_percent=v.trail_percent, strategy=req.strategy,
            source=req.source, created=now, updated=now,
            decision_price=req.decision_price if decision_price is None else decision_price,
            role="entry" if v.take_profit is not None else None, extended=req.extended,
        )

    def _new_ids(self) -> tuple[str, str]:
        if not self._ids:
            # reserve numbers in one transaction, unique across processes sharing the journal:
            # one at first (a one-shot command's ids stay consecutive), then blocks
            count = self.id_block if self._reserved else 1
            self._reserved += count
            last = self.journal.next_order_number(count)
            self._ids = list(range(last, last - count, -1))
        n = self._ids.pop()
        return str(n), f"{self.prefix}-{n}"

    async def submit(self, req: OrderRequest) -> Order:
        """Send an order through validation, risk, the journal and the broker.

        Raises OrderError for malformed input (nothing written); returns the order, whose
        status says what happened (``rejected`` with a reason when refused). Either way the
        refusal counts toward the order-rate limits.
        """
        if req.legs:  # a combo (a spread): one order, ``workstation.trading.combo_orders``
            try:
                return await combo_orders.submit(self, req)
            except ModelError as exc:
                raise OrderError(str(exc)) from None
        throttled = self.risk.throttled(req.strategy) if req.source != KILL_SOURCE else None
        if throttled is not None:
            return await self._throttle(req, throttled)
        try:
            inst = self._instruments.get(req.symbol)  # (``_validate``; a known symbol needs no coroutine)
            if inst is None:
                inst = await self.instrument(req.symbol)
            v = self._checked(req, inst)
        except OrderError:
            self.risk.record_refused()
            raise
        q = self.quotes.get(inst.symbol)  # (``_quote``, inline)
        if q is None:
            q = self.broker.snapshot(inst.symbol)
        decision = req.decision_price
        if decision is None and q is not None:
            mid = q.mid
            if mid > 0:
                decision = self._mids.get(mid)
                if decision is None:
                    decision = self._mids.keep(mid, to_decimal(round(mid, 10)))
        order_id, client_id = self._new_ids()
        order = self._draft(req, inst, v, order_id=order_id, client_id=client_id, decision_price=decision)
        ctx = self._context(order, inst, q)
        verdict = self._check(ctx)
        legs = None
        if v.take_profit is not None and v.stop_loss is not None:
            legs = self._legs(order, v.take_profit, v.stop_loss)
            if verdict.ok:
                verdict = self._check_legs(legs, inst, verdict)
        if not verdict.ok:
            return self._reject(order, verdict.reason or "refused by risk checks")
        for warning in verdict.warnings:
            self.bus.publish(AlertRaised(title="Risk warning", message=warning, priority="normal", source="risk", ts=self.clock.time()))
        if req.oco_with is not None:
            group = f"oco-{order.id}"
            order = replace(order, oco_group=group)
            other = self.get(req.oco_with)
            self._set(replace(other, oco_group=group, updated=self.clock.time()), "paired", None)
        if legs is not None:
            for leg in legs:
                cid, ccid = self._new_ids()
                self._set(replace(leg, id=cid, client_id=ccid), "held", None)
        return await self._send(order)

    async def _throttle(self, req: OrderRequest, reason: str) -> Order:
        """Refuse an order because a rate window is full, as cheaply as a journaled refusal can be:
        validated (a symbol the broker would have to be asked about is refused unwritten), then
        journaled as rejected; no quote, price or other check."""
        inst = self._instruments.get(req.symbol)
        if inst is None:
            try:
                inst = self._instruments.get(parse_symbol(req.symbol).symbol)
            except ModelError:
                inst = None
            if inst is None:
                self.risk.record_refused()
                raise OrderError(reason)
        try:
            inst, v = await self._validate(req)
        except OrderError:
            self.risk.record_refused()
            raise
        order_id, client_id = self._new_ids()
        return self._reject(self._draft(req, inst, v, order_id=order_id, client_id=client_id), reason)

    async def _send(self, order: Order) -> Order:
        now = self.clock.time()
        order = replace(order, status=_SUBMITTED, updated=now)
        self._set(order, "submitted", OrderSubmitted, now)
        try:
            await self.broker.submit(order)
        except BrokerTimeout as exc:
            await self._resolve_lost_submit(order, exc)
        except BrokerError as exc:
            current = self.orders[order.id]
            if current.status is _SUBMITTED:
                self._transition(current, OrderStatus.REJECTED, "rejected", OrderRejected, reason=str(exc))
        return self.orders[order.id]

    async def _resolve_lost_submit(self, order: Order, exc: BrokerTimeout) -> None:
        """The submit's answer was lost: look the order up by client id, never resend it."""
        try:
            state = await self.broker.lookup(order.client_id)
        except BrokerError as lookup_exc:
            log.info("order %s: submit timed out and lookup failed: %s", order.id, lookup_exc)
            current = self.orders[order.id]
            if current.status is OrderStatus.SUBMITTED:  # (unless the stream told us meanwhile)
                self.mark_unknown(current, f"no answer from {self.broker.name} ({exc}) and the lookup failed ({lookup_exc})")
            return
        current = self.orders[order.id]
        if current.status is not OrderStatus.SUBMITTED:
            return  # the stream told us meanwhile
        if state is None:
            self.mark_unknown(current, f"no answer from {self.broker.name} ({exc}) and it does not show the order yet")
            return
        await self.settle(current, state)

    # ------------------------------------------------------------------ unknown orders
    def mark_unknown(self, order: Order, why: str) -> Order:
        """Say that nothing proves what became of a sent order; look it up until something does."""
        reason = f"{why}; it was not resent: do not resend it, it settles when {self.broker.name} answers"
        order = self._transition(order, OrderStatus.UNKNOWN, "unknown", OrderUnknown, reason=reason)
        self.bus.publish(
            AlertRaised(
                title="Order state unknown",
                message=f"order {order.id} {order.side.value} {plain(order.qty)} {order.symbol}: {reason}",
                priority="high", source="oms", ts=self.clock.time(), key=f"unknown-{order.id}",
            )
        )
        self.follow_unknown(order)
        return order

    def follow_unknown(self, order: Order) -> None:
        if order.id in self._settling:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # (restored outside a loop: the resync settles it)
        task = loop.create_task(self._lookups(order.id))
        self._settling[order.id] = task
        task.add_done_callback(lambda _t, oid=order.id: self._settling.pop(oid, None))

    async def _lookups(self, order_id: str) -> None:
        """Look an unknown order up, backing off, until evidence settles it."""
        attempt = 0
        while True:
            order = self.orders.get(order_id)
            if order is None or order.status is not OrderStatus.UNKNOWN:
                return
            await asyncio.sleep(SETTLE_DELAYS[min(attempt, len(SETTLE_DELAYS) - 1)])
            attempt += 1
            try:
                state = await self.broker.lookup(order.client_id)
            except BrokerError as exc:
                log.info("order %s is still unknown: lookup failed: %s", order_id, exc)
                continue
            current = self.orders.get(order_id)
            if current is not None and current.status is OrderStatus.UNKNOWN:
                await self.settle(current, state)

    async def settle(self, order: Order, state: BrokerOrderState | None) -> None:
        """Apply what the broker shows of an order (``state``; None: it has no such order).

        Fills the broker knows and we do not are fetched and booked first (each exactly
        once), then the broker's status is taken. A missing order settles an unknown one
        as rejected only once ``unknown_grace_s`` has passed since it was sent."""
        if state is None:
            if order.status is OrderStatus.UNKNOWN and self.clock.time() - order.created >= self.unknown_grace_s:
                waited = self.clock.time() - order.created
                reason = f"{self.broker.name} has no such order {waited:.0f} s after it was sent: it never arrived (it was not resent)"
                self._transition(order, OrderStatus.REJECTED, "rejected", OrderRejected, reason=reason)
            return
        status = state.status.lower()
        refused = status in REJECTED_AT_BROKER and state.filled_qty <= 0
        if (order.status is OrderStatus.SUBMITTED or order.status is OrderStatus.UNKNOWN) and not refused:
            self.on_report(BrokerAccepted(client_id=order.client_id, broker_id=state.broker_id, ts=self.clock.time()))
        if state.filled_qty > self.orders[order.id].filled_qty:
            await self._fetch_fills(order)
        now = self.clock.time()
        current = self.orders[order.id]
        if current.status.is_terminal:
            return
        if refused:
            self.on_report(BrokerRejected(client_id=order.client_id, reason=f"{self.broker.name} shows it {state.status}", ts=now))
        elif status in CANCELED_AT_BROKER or status in REJECTED_AT_BROKER:
            self.on_report(BrokerCanceled(client_id=order.client_id, reason=f"{self.broker.name} shows it {state.status}", ts=now))
        elif status in EXPIRED_AT_BROKER:
            self.on_report(BrokerExpired(client_id=order.client_id, ts=now))

    async def _fetch_fills(self, order: Order) -> None:
        try:
            fills = await self.broker.fills_since(order.created - 60.0)
        except BrokerError as exc:
            log.info("fills of order %s could not be fetched: %s", order.id, exc)
            return
        for report in fills:
            if report.client_id == order.client_id:
                self.on_report(report)

    def close(self) -> None:
        """Stop looking up unknown orders (the next start's resync settles them)."""
        for task in list(self._settling.values()):
            task.cancel()

    def _reject(self, order: Order, reason: str) -> Order:
        """Refuse an order we have not sent (journaled, counted toward the rate limits)."""
        self.risk.record_refused()
        order = replace(order, status=OrderStatus.REJECTED, reason=reason, updated=self.clock.time())
        self._set(order, "rejected", OrderRejected)
        self.bus.publish(AlertRaised(title="Order rejected", message=f"order {order.id} {order.side.value} {plain(order.qty)} {order.symbol}: {reason}", priority="high", source="oms", ts=self.clock.time(), key=f"reject-{order.id}"))
        return order

    async def cancel(self, order_id: str, reason: str | None = None) -> Order:
        """Cancel a working order. ``reason`` (the kill switch, the breaker) is what the
        journal and every face show for the cancel, instead of the broker's own words."""
        order = self.get(order_id)
        if order.status is OrderStatus.NEW and order.parent_id:
            return self._transition(order, OrderStatus.CANCELED, "canceled", OrderCanceled, reason=reason or "canceled by user")
        if not order.status.is_working:
            raise OrderError(f"order {order.id} is not working ({order.status.value})")
        if reason:
            self._cancel_reasons[order.id] = reason
        try:
            await self.broker.cancel(order)
        except BrokerError as exc:
            self._cancel_reasons.pop(order.id, None)
            raise OrderError(f"cannot cancel order {order.id}: {exc}") from None
        return self.orders.get(order.id, order)

    async def cancel_all(self, symbol: str | None = None, strategy: str | None = None) -> list[Order]:
        out = []
        for order in list(self.working(symbol)):
            if strategy is not None and order.strategy != strategy:
                continue
            if order.status is OrderStatus.NEW or order.status.is_working:
                try:
                    out.append(await self.cancel(order.id))
                except OrderError as exc:
                    log.warning("%s", exc)
        return out

    async def replace_order(
        self, order_id: str, *, qty: object = None, limit_price: object = None, stop_price: object = None
    ) -> Order:
        order = self.get(order_id)
        return await self._replace(order, qty=qty, limit_price=limit_price, stop_price=stop_price)

    async def _replace(
        self, order: Order, *, qty: object = None, limit_price: object = None, stop_price: object = None,
        protective: bool = False,
    ) -> Order:
        """Validate, risk-check and send a replace (a user's, or an OCO resize when ``protective``)."""
        if not order.status.is_working:
            raise OrderError(f"order {order.id} is not working ({order.status.value})")
        if order.legs:
            raise OrderError(f"order {order.id} is a combo: cancel it and send a new one to change it")
        inst = await self.instrument(order.symbol)
        try:
            new_qty = inst.check_qty(qty) if qty is not None else order.qty
            new_limit = inst.check_price(limit_price, "limit price") if limit_price is not None else order.limit_price
            new_stop = inst.check_price(stop_price, "stop price") if stop_price is not None else order.stop_price
        except ModelError as exc:
            raise OrderError(str(exc)) from None
        if limit_price is not None and order.type not in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            raise OrderError(f"order {order.id} is a {order.type.value} order: it has no limit price")
        if stop_price is not None and order.type not in (OrderType.STOP, OrderType.STOP_LIMIT):
            raise OrderError(f"order {order.id} is a {order.type.value} order: it has no stop price")
        if new_qty <= order.filled_qty:
            raise OrderError(f"new quantity {plain(new_qty)} must exceed the {plain(order.filled_qty)} already filled")
        draft = replace(order, qty=new_qty, limit_price=new_limit, stop_price=new_stop)
        shrinks = new_qty <= order.qty and new_limit == order.limit_price and new_stop == order.stop_price
        verdict: Verdict = self._check(self._context(draft, inst, protective=protective, shrinks=shrinks))
        if not verdict.ok:
            raise _Refused(f"replace refused: {verdict.reason}")
        try:
            await self.broker.replace(order, new_qty, new_limit, new_stop)
        except BrokerError as exc:
            raise OrderError(f"cannot replace order {order.id}: {exc}") from None
        return self.orders[order.id]

    # ------------------------------------------------------------------ state
    def _set(self, order: Order, kind: str, event: type[OrderEvent] | None, now: float | None = None) -> Order:
        """Journal first, then hold, then publish (``now``: the clock's time, when the caller has it)."""
        if now is None:
            now = self.clock.time()
        self.journal.record_order(kind, order, now)
        self._index(order)
        if event is not None:
            self.bus.publish(event(order=order, ts=now))
        return order

    def _transition(
        self, order: Order, status: OrderStatus, kind: str, event: type[OrderEvent], reason: str | None = None,
        broker_id: str | None = None,
    ) -> Order:
        check_transition(order.status, status)
        now = self.clock.time()
        updated = replace(
            order, status=status, updated=now, reason=reason or order.reason, broker_id=broker_id or order.broker_id,
        )
        self._set(updated, kind, event, now)
        if updated.role or updated.oco_group:  # (only brackets and OCO pairs have follow-ups)
            self._after(updated)
        return updated

    def restore(self, orders: list[Order]) -> None:
        """Take back orders from the journal after a restart (no events, no writes)."""
        for order in orders:
            self._index(order)
        combos = [o for o in orders if o.legs and o.status is not _NEW]
        if combos:  # each combo's leg fills, for its progress in units
            self._combo_fills.rebuild(combos, self.journal.iter_fills())

    # ------------------------------------------------------------------ broker reports
    def on_report(self, report: BrokerReport) -> None:
        order_id = self._by_client.get(report.client_id)
        if order_id is None:
            if isinstance(report, BrokerFill):
                self._foreign_fill(report)
            else:
                log.info("report for an order we do not know: %s", report)
            return
        order = self.orders[order_id]
        try:
            if isinstance(report, BrokerFill):
                self._on_fill(order, report)
            elif isinstance(report, BrokerAccepted):
                if order.status is _SUBMITTED or order.status is OrderStatus.UNKNOWN:
                    self._transition(order, _ACCEPTED, "accepted", OrderAccepted, broker_id=report.broker_id)
                elif report.broker_id and not order.broker_id:
                    self._set(replace(order, broker_id=report.broker_id), "broker_id", None)
            elif isinstance(report, BrokerCanceled):
                why = self._cancel_reasons.pop(order.id, None) or report.reason
                self._transition(order, OrderStatus.CANCELED, "canceled", OrderCanceled, reason=why)
            elif isinstance(report, BrokerRejected):
                self._transition(order, OrderStatus.REJECTED, "rejected", OrderRejected, reason=report.reason)
                self.bus.publish(AlertRaised(title="Order rejected", message=f"order {order.id} {order.side.value} {plain(order.qty)} {order.symbol}: {report.reason}", priority="high", source="broker", ts=self.clock.time(), key=f"reject-{order.id}"))
            elif isinstance(report, BrokerExpired):
                self._transition(order, OrderStatus.EXPIRED, "expired", OrderExpired)
            elif isinstance(report, BrokerReplaced):
                if order.status.is_terminal:
                    raise IllegalTransition(f"order {order.id} is {order.status.value}; replace ignored")
                updated = replace(order, qty=report.qty, limit_price=report.limit_price, stop_price=report.stop_price, updated=self.clock.time())
                self._set(updated, "replaced", OrderReplaced)
        except IllegalTransition as exc:
            log.info("ignored %s for order %s: %s", type(report).__name__, order.id, exc)

    def _on_fill(self, order: Order, report: BrokerFill) -> None:
        if order.legs:  # a combo's leg fill: booked on the leg's symbol
            combo_orders.on_fill(self, order, report)
            return
        if report.qty <= ZERO:
            return
        fill = Fill(
            exec_id=report.exec_id, order_id=order.id, symbol=order.symbol, side=order.side, qty=report.qty,
            price=report.price, commission=report.commission, ts=report.ts or self.clock.time(),
            strategy=order.strategy,
        )
        before = order.filled_qty
        if before:
            filled = before + fill.qty
            avg = ((order.avg_fill_price or ZERO) * before + fill.price * fill.qty) / filled
        else:  # the first fill (most orders' only one): its own price, exactly
            filled, avg = fill.qty, fill.price
        status = order.status
        if not status.is_terminal:
            status = _FILLED if filled >= order.qty else _PARTIALLY_FILLED
            check_transition(order.status, status)
        updated = replace(order, filled_qty=filled, avg_fill_price=avg, status=status, updated=self.clock.time())
        if not self.journal.record_fill(fill, updated):
            return  # a duplicate: already booked
        self._index(updated)
        self.portfolio.apply_fill(fill)
        self.bus.publish(OrderFilled(order=updated, fill=fill, ts=fill.ts))
        if filled > order.qty:
            self.bus.publish(AlertRaised(title="Overfill", message=f"order {order.id} filled {plain(filled)} of {plain(order.qty)}", priority="critical", source="oms", ts=self.clock.time()))
        if updated.role or updated.oco_group:  # (only brackets and OCO pairs have follow-ups)
            self._after(updated, fill)

    def _foreign_fill(self, report: BrokerFill) -> None:
        """A fill for an order placed outside this workstation: book it so positions stay right."""
        if report.symbol is None or report.side is None or self.journal.has_fill(report.exec_id):
            return
        fill = Fill(
            exec_id=report.exec_id, order_id="external", symbol=report.symbol, side=Side(report.side),
            qty=report.qty, price=report.price, commission=report.commission, ts=report.ts or self.clock.time(),
        )
        if self.journal.record_fill(fill, None):
            self.portfolio.apply_fill(fill)
            self.bus.publish(AlertRaised(title="External fill", message=f"{fill.side.value} {plain(fill.qty)} {fill.symbol} @ {plain(fill.price)} from outside the workstation", priority="high", source="oms", ts=self.clock.time()))

    # ------------------------------------------------------------------ brackets and OCO
    def _after(self, order: Order, fill: Fill | None = None) -> None:
        if order.role == "entry" and order.status.is_terminal:
            children = [o for o in self.orders.values() if o.parent_id == order.id and o.status is OrderStatus.NEW]
            if order.filled_qty > 0:
                for child in children:
                    self._spawn(self._activate(child, order.filled_qty))
            else:
                for child in children:
                    self._transition(child, OrderStatus.CANCELED, "canceled", OrderCanceled, reason=f"entry {order.id} {order.status.value}")
        if order.oco_group and fill is not None:
            for sibling in self.orders.values():
                if sibling.oco_group != order.oco_group or sibling.id == order.id:
                    continue
                if sibling.status.is_working:
                    if order.remaining <= 0:
                        self._spawn(self._cancel_quietly(sibling))
                    elif sibling.qty - sibling.filled_qty > order.remaining:
                        self._spawn(self._shrink(sibling, sibling.filled_qty + order.remaining))
                elif sibling.status is OrderStatus.NEW and order.remaining <= 0:
                    self._transition(sibling, OrderStatus.CANCELED, "canceled", OrderCanceled, reason=f"OCO with {order.id}")

    async def _activate(self, child: Order, qty: Decimal) -> None:
        """Send a bracket exit once its entry filled: checked as a protective order (it passes
        while it only reduces the position), through the state machine and the journal."""
        current = self.orders.get(child.id)
        if current is None or current.status is not _NEW:
            return  # canceled meanwhile
        child = replace(current, qty=qty)
        try:
            inst = self._instruments.get(child.symbol) or await self.instrument(child.symbol)
            verdict = self._check(self._context(child, inst, protective=True))
        except OrderError as exc:
            verdict = Verdict(False, str(exc))
        if not verdict.ok:
            leg = _LEG_NAMES.get(child.role or "", "order")
            self._reject(child, f"{leg} not sent when entry {child.parent_id} filled: {verdict.reason}")
            return
        await self._send(child)

    async def _cancel_quietly(self, order: Order) -> None:
        try:
            await self.broker.cancel(order)
        except BrokerError as exc:
            log.info("OCO cancel of %s: %s", order.id, exc)

    async def _shrink(self, order: Order, qty: Decimal) -> None:
        """Cut an OCO sibling after a partial fill, through the replace path (a shrink reduces)."""
        current = self.orders.get(order.id, order)
        if not current.status.is_working or qty >= current.qty:
            return
        try:
            await self._replace(current, qty=qty, protective=True)
        except _Refused as exc:
            log.warning("OCO resize of %s: %s", order.id, exc)
            self.bus.publish(AlertRaised(title="OCO resize refused", message=f"order {order.id} stays at {plain(current.qty)}: {exc}", priority="high", source="oms", ts=self.clock.time()))
        except OrderError as exc:
            log.info("OCO resize of %s: %s", order.id, exc)

    def _spawn(self, coro: object) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self.follow_ups.add(task)
        task.add_done_callback(self.follow_ups.discard)

    async def drain(self) -> None:
        """Wait for follow-up work (bracket children, OCO cancels) to finish."""
        while self.follow_ups:
            await asyncio.gather(*list(self.follow_ups), return_exceptions=True)
