"""Pre-trade checks: every order from every source passes ``PreTradeRisk.check``.

A refusal is a ``Verdict`` with the rule's name and a sentence naming the numbers, so it
reads like "order notional $250,000.00 exceeds max_order_notional $100,000.00"; the order
manager turns it into a journaled ``OrderRejected`` event. Warnings (a possible wash sale)
ride along in ``Verdict.warnings`` and never block.

Checks, in order: trading halted, circuit breaker, order quantity, order notional, price
collar, order rate (second, minute, hour, day), open orders, shorting, position quantity and
notional, gross and net exposure, symbol and sector concentration, buying power.

Futures are bounded by contracts and margin instead of notional (``workstation.risk.futures``),
and use their initial margin of the buying power, not their notional.

The order rate counts every order the order manager sends *or refuses* (``record_sent``,
``record_refused``), so a client flooding refused orders is throttled; once a window is
full, ``throttled`` refuses the next order before any other check (the order manager asks it
first, so a flood costs little). A bracket is judged whole: its entry counts as the two
exits it will leave working (open orders), and ``check_leg`` holds each exit to the price
collar and ``max_order_notional`` before anything is sent.

Positions are judged at their worst case: the current position plus every working order
on the same side, plus this one. An order that only shrinks that worst case (a *reducing*
order) passes the exposure limits, buying power, the breaker and a trading halt; so no
sequence of orders can push a position past ``max_position_qty``, whatever fills.
Reducing orders from the kill switch (``source == KILL_SOURCE``) skip the per-order caps and
the flow limits (rate, open orders, price collar): flattening cannot be throttled by a flood
or refused for its size. The order manager's own protective follow-ups (``protective``: a
bracket's exits going out once the entry filled, an OCO resize) get the same pass when they
reduce; one that would not (the position was closed meanwhile) is checked fully. An order in
an OCO group is judged without its siblings (only one of them can fill), and a replace that
only lowers the quantity (``shrinks``) is reducing: it shrinks the worst case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from workstation.core.formatting import dollars
from workstation.core.limits import LimitStore, RiskLimits
from workstation.core.model import BUY, SELL, ZERO, Instrument, Order, OrderType, Side, plain
from workstation.risk import futures
from workstation.risk.rates import OrderRate, TradingDays
from workstation.trading.margin import is_margined
from workstation.trading.combos import combo_cost, leg_side, reducing_combo
from workstation.trading.portfolio import Portfolio
from workstation.core.sectors import SectorMap
from workstation.trading.taxlots import TaxLots

KILL_SOURCE = "kill-switch"
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str | None = None
    rule: str | None = None
    warnings: tuple[str, ...] = ()


ALLOWED = Verdict(True)  # the common answer, shared


class OrderContext(msgspec.Struct, frozen=True):
    """What a check may know about an order besides the order itself."""

    order: Order
    instrument: Instrument
    price: Decimal  # the price used for notional: limit, stop, or the touch
    notional: Decimal  # in the base currency
    position: Decimal  # current signed position
    reducing: bool
    protective: bool = False  # the order manager's own follow-up: a bracket exit going out, an OCO resize
    shrinks: bool = False  # a replace that only lowers the quantity (prices unchanged)


def fmt_money(d: Decimal) -> str:
    return dollars(d)


def fmt_qty(d: Decimal | int) -> str:
    return f"{Decimal(d).normalize():,f}"


_LEG = {"take_profit": "take-profit", "stop_loss": "stop-loss"}  # a bracket exit's name in a reason


def fmt_pct(d: Decimal) -> str:
    return f"{d.quantize(Decimal('0.01'))}%"


def reducing(position: Decimal, side: Side, qty: Decimal) -> bool:
    """An order that only shrinks the current position (does not cross zero)."""
    if position > ZERO:
        return side is SELL and qty <= position
    if position < ZERO:
        return side is BUY and qty <= -position
    return False


# --------------------------------------------------------------------------- status for the UI


class RiskRow(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the Risk pane: a limit, how much of it is used, and whether that is ok."""

    name: str
    used: Decimal
    limit: Decimal | None
    unit: str  # "$", "%", "qty", "orders"
    state: str  # "ok", "near", "breach", "off"
    detail: str = ""

    @property
    def breached(self) -> bool:
        return self.state == "breach"

    @property
    def fraction(self) -> float | None:
        if self.limit is None or self.limit == 0:
            return None
        return float(self.used / self.limit)


def row(name: str, used: Decimal, limit: Decimal | int | None, unit: str, near_pct: Decimal, detail: str = "") -> RiskRow:
    if limit is None:
        return RiskRow(name=name, used=used, limit=None, unit=unit, state="off", detail=detail)
    lim = Decimal(limit)
    if used > lim:
        state = "breach"
    elif lim > 0 and used * HUNDRED >= lim * near_pct:
        state = "near"
    else:
        state = "ok"
    return RiskRow(name=name, used=used, limit=lim, unit=unit, state=state, detail=detail)


class BreakerInfo(msgspec.Struct, frozen=True, kw_only=True):
    tripped: bool = False
    reason: str = ""
    since: float = 0.0


class RiskStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of every limit, published on the bus for the Risk pane and shown by ``status``."""

    ts: float
    rows: tuple[RiskRow, ...]
    breaker: BreakerInfo
    day_pnl: Decimal
    daily_loss_limit: Decimal | None  # absolute amount in force (the tighter of the two limits)
    drawdown_pct: Decimal  # from the peak
    intraday_drawdown_pct: Decimal
    orders_per_minute: int
    trading_halted: bool
    equity: Decimal
    start_of_day_equity: Decimal
    filtered_quotes: int = 0


# --------------------------------------------------------------------------- the checks


def _never_tripped() -> str | None:
    return None


@dataclass
class PreTradeRisk:
    portfolio: Portfolio
    store: LimitStore = field(default_factory=lambda: LimitStore(RiskLimits()))
    working_orders: Callable[[], list[Order]] = field(default=lambda: [])
    last_price: Callable[[str], Decimal | None] = field(default=lambda symbol: None)
    now: Callable[[], float] = field(default=lambda: 0.0)
    sectors: SectorMap = field(default_factory=SectorMap)
    lots: TaxLots = field(default_factory=TaxLots)
    rate: OrderRate = field(default_factory=OrderRate)
    days: TradingDays = field(default_factory=TradingDays)
    breaker_reason: Callable[[], str | None] = _never_tripped
    rows_source: Callable[[], tuple[RiskRow, ...]] | None = None  # the monitor's full rows (set by the session)

    def status(self) -> tuple[RiskRow, ...]:
        """Rows for the Risk pane: every limit with its use (the monitor's rows when wired)."""
        return self.rows_source() if self.rows_source is not None else tuple(self.usage())

    # -- the account-wide limits (a setter keeps old callers working)
    @property
    def limits(self) -> RiskLimits:
        return self.store.limits

    @limits.setter
    def limits(self, value: RiskLimits) -> None:
        self.store.replace_base(value)

    def record_sent(self, order: Order) -> None:
        """Count an order that went out (for the rate limits)."""
        t = self.now()
        self.rate.record(t, self.days.start(t, self.limits))

    def record_refused(self) -> None:
        """Count an order the order manager refused: refusals use up the rate limits too."""
        t = self.now()
        self.rate.record(t, self.days.start(t, self.limits))

    def throttled(self, strategy: str | None) -> str | None:
        """The rate limits alone (cheap, asked before any other check): why the next order of
        ``strategy`` is refused, or None."""
        found = self._rate(self.store.limits_for(strategy))  # (no rate limit, the usual case: no call)
        return None if found is None else found[1]

    def _rate(self, lim: RiskLimits) -> tuple[str, str] | None:
        if (lim.max_orders_per_second is None and lim.max_orders_per_minute is None and lim.max_orders_per_day is None
                and lim.max_orders_per_hour is None):
            return None
        per_second, per_minute, today = self.rate_counts()
        per_hour = self.rate.last_hour(self.now()) if lim.max_orders_per_hour is not None else 0
        for name, count, window in (
            ("max_orders_per_second", per_second, "the last second"),
            ("max_orders_per_minute", per_minute, "the last minute"),
            ("max_orders_per_hour", per_hour, "the last hour"),
            ("max_orders_per_day", today, "this trading day"),
        ):
            cap = getattr(lim, name)
            if cap is not None and count + 1 > cap:
                return name, f"order rate: {count} orders sent or refused in {window}, {name} is {cap}"
        return None

    def rate_counts(self) -> tuple[int, int, int]:
        t = self.now()
        return self.rate.counts(t, self.days.start(t, self.limits))

    # -- worst-case positions
    def pending(self, symbol: str, side: Side, exclude: str | None = None, group: str | None = None) -> Decimal:
        """Quantity still to fill on working orders of ``symbol`` on ``side`` (an OCO group counts
        once, at its largest order: only one of them can fill), leaving out order ``exclude`` and
        the members of OCO group ``group``."""
        return self._pending(self.working_orders(), symbol, side, exclude, group)

    def _pending(self, working: list[Order], symbol: str, side: Side, exclude: str | None, group: str | None) -> Decimal:
        if not working:
            return ZERO
        total = ZERO
        groups: dict[str, Decimal] = {}
        for o in working:
            if o.legs:  # a combo: its legs count on their own symbols, each at its ratio
                if o.id != exclude:
                    total += sum((o.remaining * leg.ratio for leg in o.legs if leg.symbol == symbol and leg_side(leg, o.side) is side), ZERO)
                continue
            if o.symbol != symbol or o.side is not side or o.id == exclude:
                continue
            if group is not None and o.oco_group == group:
                continue
            if o.oco_group:
                groups[o.oco_group] = max(groups.get(o.oco_group, ZERO), o.remaining)
            else:
                total += o.remaining
        return total + sum(groups.values(), ZERO)

    def worst_position(self, order: Order, position: Decimal) -> Decimal:
        """The position if every other working order on the same side fills first (an order's OCO
        siblings left out: if it fills, they do not)."""
        pending = self.pending(order.symbol, order.side, exclude=order.id, group=order.oco_group)
        return position + pending if order.side is BUY else position - pending

    def check(self, ctx: OrderContext) -> Verdict:
        order = ctx.order
        lim = self.store.limits_for(order.strategy)
        working = self.working_orders()
        if working:  # (``worst_position``, with the working orders asked for once)
            pending = self._pending(working, order.symbol, order.side, order.id, order.oco_group)
            worst = ctx.position + pending if order.side is BUY else ctx.position - pending
        else:
            worst = ctx.position
        worst_case = ctx.shrinks or reducing(worst, order.side, order.qty)
        if worst_case is not ctx.reducing:
            ctx = msgspec.structs.replace(ctx, reducing=worst_case)
        refusal = self._refusal(ctx, lim, worst)
        if refusal is not None:
            return Verdict(False, refusal[1], refusal[0])
        if order.side is BUY:
            wash = self.lots.wash_sale(order.symbol, self.now())
            if wash:
                return Verdict(True, warnings=(wash,))
        return ALLOWED

    def _refusal(self, ctx: OrderContext, lim: RiskLimits, worst: Decimal) -> tuple[str, str] | None:
        order = ctx.order
        exempt = order.source == KILL_SOURCE or ctx.protective
        if lim.trading_halted and not ctx.reducing:
            return "trading_halted", "trading is halted: only orders that reduce a position are accepted"
        tripped = self.breaker_reason()
        if tripped and not ctx.reducing:
            return "circuit_breaker", f"circuit breaker tripped ({tripped}): only orders that reduce a position are accepted"
        if exempt and ctx.reducing:
            return None  # flattening or protecting must not be stopped by a per-order cap or the flow limits
        if lim.max_order_qty is not None and order.qty > lim.max_order_qty:
            return "max_order_qty", f"order quantity {fmt_qty(order.qty)} exceeds max_order_qty {fmt_qty(lim.max_order_qty)}"
        if is_margined(ctx.instrument):  # futures: contracts, not notional (workstation.risk.futures)
            found = futures.per_order(order, lim)
            if found is not None:
                return found
        elif lim.max_order_notional is not None and ctx.notional > lim.max_order_notional:
            return "max_order_notional", (
                f"order notional {fmt_money(ctx.notional)} exceeds max_order_notional {fmt_money(lim.max_order_notional)}"
            )
        found = self._flow(ctx, lim)
        if found is not None:
            return found
        if ctx.reducing:
            return None
        return self._exposure(ctx, lim, worst)

    def _collar(self, order: Order, lim: RiskLimits) -> tuple[str, str] | None:
        if lim.price_collar_pct is None:
            return None
        last = self.last_price(order.symbol)
        if last is None or last <= 0:
            return None
        leg = _LEG.get(order.role) if order.role is not None else None
        for what, price in (("limit", order.limit_price), ("stop", order.stop_price)):
            if price is None:
                continue
            off = abs(price / last - 1) * HUNDRED
            if off > lim.price_collar_pct:
                return "price_collar_pct", (
                    f"{leg or what} price {plain(price)} is {fmt_pct(off)} from the last price {plain(last)}, "
                    f"beyond price_collar_pct {plain(lim.price_collar_pct)}%"
                )
        return None

    def _flow(self, ctx: OrderContext, lim: RiskLimits) -> tuple[str, str] | None:
        order = ctx.order
        if lim.price_collar_pct is not None:
            found = self._collar(order, lim)
            if found is not None:
                return found
        found = self._rate(lim)
        if found is not None:
            return found
        if lim.max_open_orders is not None:
            working, exits = self._open_orders(order.id)
            needs = 2 if order.role == "entry" else 1  # once an entry fills, its take-profit and stop-loss work at once
            if working + needs > lim.max_open_orders:
                counted = " (a bracket counted as its take-profit and stop-loss)" if exits else ""
                this = "a bracket keeps 2 orders working (its take-profit and stop-loss); " if needs == 2 else ""
                return "max_open_orders", (
                    f"{this}{working} orders are working{counted}, max_open_orders is {lim.max_open_orders}"
                )
        return None

    def open_orders(self, exclude: str | None = None) -> int:
        """Orders working, a working bracket entry counted as the exits it will leave working
        (order ``exclude`` and its waiting exits left out)."""
        return self._open_orders(exclude)[0]

    def _open_orders(self, exclude: str | None) -> tuple[int, int]:
        """(open orders as ``open_orders`` counts them, how many of those are exits still waiting)."""
        n = 0
        waiting: dict[str, int] = {}
        entries: set[str] = set()
        for o in self.working_orders():
            if o.id == exclude:
                continue
            if o.status.is_working:
                n += 1
                if o.role == "entry":
                    entries.add(o.id)
            elif o.parent_id is not None and o.parent_id != exclude:
                waiting[o.parent_id] = waiting.get(o.parent_id, 0) + 1
        exits = 0
        for parent, legs in waiting.items():
            exits += legs - 1 if parent in entries else legs
        return n + exits, exits

    def check_leg(self, ctx: OrderContext) -> Verdict:
        """A bracket's take-profit or stop-loss, judged with its entry before anything is sent:
        its price inside the collar, its notional inside ``max_order_notional``. (Once the entry
        has filled it only reduces, so it goes out with the kill switch's pass.)"""
        order = ctx.order
        lim = self.store.limits_for(order.strategy)
        found = self._collar(order, lim)
        if found is not None:
            return Verdict(False, found[1], found[0])
        if lim.max_order_notional is not None and ctx.notional > lim.max_order_notional and not is_margined(ctx.instrument):
            leg = _LEG.get(order.role or "", "order")
            return Verdict(False, (
                f"{leg} notional {fmt_money(ctx.notional)} exceeds max_order_notional {fmt_money(lim.max_order_notional)}"
            ), "max_order_notional")
        return ALLOWED

    def _exposure(self, ctx: OrderContext, lim: RiskLimits, worst: Decimal) -> tuple[str, str] | None:
        order = ctx.order
        pf = self.portfolio
        after = worst + order.qty if order.side is BUY else worst - order.qty
        if not lim.allow_short and after < ZERO:
            return "allow_short", f"shorting is not allowed: selling {fmt_qty(order.qty)} {order.symbol} would leave a short position of {fmt_qty(-after)}"
        if lim.max_position_qty is not None and abs(after) > lim.max_position_qty:
            return "max_position_qty", (
                f"position in {order.symbol} would reach {fmt_qty(abs(after))}, exceeding max_position_qty {fmt_qty(lim.max_position_qty)}"
            )
        inst = ctx.instrument
        unit_value = pf.to_base(ctx.price * inst.multiplier, inst.currency)
        after_notional = after * unit_value  # signed, base currency
        future = is_margined(inst)
        if future:
            found = futures.position_and_margin(
                pf, order, lim, after, lambda: self.margin_in_use(exclude=order.id) + self._cost(ctx),
            )
            if found is not None:
                return found
        elif lim.max_position_notional is not None and abs(after_notional) > lim.max_position_notional:
            return "max_position_notional", (
                f"position in {order.symbol} would be worth {fmt_money(abs(after_notional))}, "
                f"exceeding max_position_notional {fmt_money(lim.max_position_notional)}"
            )
        needs_book = lim.max_gross_exposure is not None or lim.max_net_exposure is not None or lim.max_sector_pct is not None
        others = {sym: e for sym, e in self.exposures().items() if sym != order.symbol} if needs_book else {}
        if lim.max_gross_exposure is not None:
            gross = sum((abs(e) for e in others.values()), ZERO) + abs(after_notional)
            if gross > lim.max_gross_exposure:
                return "max_gross_exposure", f"gross exposure would be {fmt_money(gross)}, exceeding max_gross_exposure {fmt_money(lim.max_gross_exposure)}"
        if lim.max_net_exposure is not None:
            net = sum(others.values(), ZERO) + after_notional
            if abs(net) > lim.max_net_exposure:
                return "max_net_exposure", f"net exposure would be {fmt_money(net)}, exceeding max_net_exposure {fmt_money(lim.max_net_exposure)}"
        if lim.max_symbol_pct is not None or lim.max_sector_pct is not None:
            equity = pf.equity()
            if equity <= 0:
                return "max_symbol_pct", f"equity is {fmt_money(equity)}: no new exposure can be taken"
            if lim.max_symbol_pct is not None:
                pct = abs(after_notional) / equity * HUNDRED
                if pct > lim.max_symbol_pct:
                    return "max_symbol_pct", f"{order.symbol} would be {fmt_pct(pct)} of equity, exceeding max_symbol_pct {plain(lim.max_symbol_pct)}%"
            if lim.max_sector_pct is not None:
                sector = self.sectors.sector(order.symbol)
                total = abs(after_notional) + sum(
                    (abs(e) for sym, e in others.items() if self.sectors.sector(sym) == sector), ZERO
                )
                pct = total / equity * HUNDRED
                if pct > lim.max_sector_pct:
                    return "max_sector_pct", f"sector {sector} would be {fmt_pct(pct)} of equity, exceeding max_sector_pct {plain(lim.max_sector_pct)}%"
        bp = self.buying_power_after(ctx)
        if bp < ZERO:
            cost, what = self._cost(ctx), " of initial margin" if future else ""
            return "buying_power", f"insufficient buying power: order needs {fmt_money(cost)}{what}, {fmt_money(max(bp + cost, ZERO))} available"
        return None

    def order_margin(self, ctx: OrderContext) -> Decimal | None:
        """The initial margin a futures order needs (None for anything else: its notional is what counts)."""
        return self.portfolio.order_margin(ctx.order.symbol, ctx.order.qty, ctx.price) if is_margined(ctx.instrument) else None

    def margin_in_use(self, exclude: str | None = None) -> Decimal:
        """Initial margin of the futures held and of the working futures orders that open."""
        working = self.working_orders()
        combos = [o for o in working if o.legs and o.id != exclude]  # a combo of futures: the margin of its legs that open
        pf = self.portfolio
        held = sum((combo_cost(pf, o.legs, o.side, o.remaining, None, pf._inst) for o in combos if pf.margined(o.legs[0].symbol)), ZERO)
        return held + futures.margin_in_use(pf, [o for o in working if not o.legs], self.last_price, exclude)

    def exposures(self) -> dict[str, Decimal]:
        """Signed exposure of every open position in the base currency, in one pass."""
        pf = self.portfolio
        out: dict[str, Decimal] = {}
        for sym, pos in pf.book.positions.items():
            if pos.qty:
                e = pf.exposure(sym)
                out[sym] = e if pos.qty > 0 else -e
        return out

    def _cost(self, ctx: OrderContext) -> Decimal:
        """Buying power an order uses: its notional (cash accounts: buys only); a futures
        order its initial margin, either side."""
        if is_margined(ctx.instrument):
            return self.portfolio.order_margin(ctx.order.symbol, ctx.order.qty, ctx.price)
        if self.portfolio.margin:
            return ctx.notional
        return ctx.notional if ctx.order.side is Side.BUY else ZERO

    def buying_power_after(self, ctx: OrderContext) -> Decimal:
        """Buying power left once this order and the working orders are held, in the base
        currency. Each working priced order that opens holds its value (quantity x price x
        multiplier, converted from its currency). With the broker's own figures
        (``Portfolio.broker_account``) only orders created since they were asked for are held:
        the broker's buying power already holds the older ones."""
        pf = self.portfolio
        buying_power = pf.buying_power()
        since = pf.broker_at if pf.broker_account is not None else None
        reserved = ZERO
        for o in self.working_orders():
            if o.id == ctx.order.id or o.type is OrderType.MARKET:
                continue
            if since is not None and o.created < since:
                continue
            if o.legs:  # a combo holds its worst case at its limit (``workstation.trading.combos``)
                if o.limit_price is not None and not reducing_combo(pf, o.legs, o.side, o.remaining):
                    reserved += combo_cost(pf, o.legs, o.side, o.remaining, o.limit_price, pf._inst)
                continue
            price = o.limit_price or o.stop_price
            if price is not None and o.parent_id is None:
                pos = pf.qty(o.symbol)
                if not reducing(pos, o.side, o.remaining):  # (a futures order holds its initial margin)
                    held = pf.order_margin(o.symbol, o.remaining, price) if pf.margined(o.symbol) else None
                    reserved += pf.value(o.symbol, o.remaining, price) if held is None else held
        if ctx.reducing:
            return buying_power - reserved
        return buying_power - reserved - self._cost(ctx)

    # -- usage of each limit now, for the Risk pane
    def usage(self) -> list[RiskRow]:
        lim = self.limits
        pf = self.portfolio
        near = lim.near_pct
        book = self.exposures()
        gross = sum((abs(e) for e in book.values()), ZERO)
        equity = pf.equity()
        rows = [
            row("gross exposure", gross, lim.max_gross_exposure, "$", near),
            row("net exposure", abs(sum(book.values(), ZERO)), lim.max_net_exposure, "$", near),
        ]
        if book:
            biggest_qty = max(book, key=lambda sym: abs(pf.qty(sym)))
            biggest = max(book, key=lambda sym: abs(book[sym]))
            rows.append(row("largest position (qty)", abs(pf.qty(biggest_qty)), lim.max_position_qty, "qty", near, biggest_qty))
            rows.append(row("largest position ($)", abs(book[biggest]), lim.max_position_notional, "$", near, biggest))
            if equity > 0:
                rows.append(row("symbol concentration", abs(book[biggest]) / equity * HUNDRED, lim.max_symbol_pct, "%", near, biggest))
                by_sector: dict[str, Decimal] = {}
                for sym, e in book.items():
                    sector = self.sectors.sector(sym)
                    by_sector[sector] = by_sector.get(sector, ZERO) + abs(e)
                top = max(by_sector, key=lambda k: by_sector[k])
                rows.append(row("sector concentration", by_sector[top] / equity * HUNDRED, lim.max_sector_pct, "%", near, top))
        working = self.open_orders()
        per_second, per_minute, today = self.rate_counts()
        rows += [
            row("open orders", Decimal(working), lim.max_open_orders, "orders", near),
            row("orders per second", Decimal(per_second), lim.max_orders_per_second, "orders", near),
            row("orders per minute", Decimal(per_minute), lim.max_orders_per_minute, "orders", near),
            row("orders per hour", Decimal(self.rate.last_hour(self.now())), lim.max_orders_per_hour, "orders", near),
            row("orders today", Decimal(today), lim.max_orders_per_day, "orders", near),
        ]
        if pf.margin and equity > 0 and pf.broker_account is None:  # the broker's own figure is shown as it is
            rows.append(row("buying power used", pf.charged_exposure(), equity * pf.leverage, "$", near))
        if pf.broker_account is None:  # holding futures: margin used against max_margin_pct, and the margin call line
            rows += [row(*args, near) for args in futures.margin_rows(pf, lim, equity)]
        return rows
