"""Compliance limits: how many symbols are held, gross leverage, and the pattern-day-trader rule.

``Compliance`` is a pre-trade check (registered with ``OrderManager.add_check``, after the
checks of ``PreTradeRisk``), with its Risk pane rows:

* ``max_open_positions``: symbols with a non-zero position, plus symbols not held that have a
  working order (it would open one when it fills). An order that would open one more beyond
  the cap is refused; adding to a held symbol, reducing, closing or flipping one always pass.
  A combo counts each leg symbol it would open.
* ``max_gross_leverage``: gross exposure (the sum of every position's absolute exposure in the
  base currency, futures at full notional) over equity. An order that would leave it beyond
  the limit *and higher than now* is refused (the position judged at its worst case, with the
  working orders on the same side, as the exposure limits are); reducing orders pass. Combos
  are not judged against it. The post-trade monitor (``workstation.risk.breaker``) warns at
  ``near_pct`` and trips the circuit breaker beyond the limit (a fall in equity can get there).
* ``pdt_check`` (true by default): FINRA rule 4210 as brokers apply it. A *day trade* is
  opening a position and closing (part of) it on the same day: buying then selling, or selling
  short then buying to cover, the same stock, ETF or option (futures, crypto and forex are not
  covered). A position held overnight and sold before any new purchase that day is not one; a
  sale matches the day's own purchases first. One closing order is one day trade however many
  fills it takes. Four or more day trades within five business days make a pattern day trader,
  which a margin account with equity under $25,000 may not be: the order that would make the
  third day trade in the window passes with a warning (the review's warning line, and a "Risk
  warning" alert when it is sent), the one that would make the fourth is refused in one line
  naming the count and the rule. Cash accounts (``account_type = "cash"``) and equity of
  $25,000 or more are not checked (the paper account is a margin account with $100,000 unless
  its profile says otherwise). Equity is the account's equity now; brokers use the previous
  close's. The kill switch and a bracket's protective exits are never refused by it (their
  fills still count). Business days are the NYSE's (``workstation.core.sessions``: weekends and
  holidays skipped), weekdays when the calendar library cannot be read; a day is the New York
  date of the fill.

``DayTrades`` counts day trades from fills: the session feeds it every fill of the journal at
start (so a restart rebuilds the count) and every new one after. The Risk pane's day-trade row
waits, while there are day trades to count, until the exchange calendar has been read (in a
worker thread: a repaint never waits for the library); the pre-trade check reads it at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from workstation.core import sessions
from workstation.core.formatting import dollars
from workstation.core.limits import LimitStore, RiskLimits
from workstation.core.model import BUY, SELL, ZERO, AssetClass, Fill, Instrument, Side, plain
from workstation.risk.checks import ALLOWED, KILL_SOURCE, OrderContext, PreTradeRisk, RiskRow, Verdict, row

PDT_EQUITY = Decimal(25_000)  # a margin account under this may not be a pattern day trader
PDT_ALLOWED = 3  # day trades allowed in the window: the fourth is refused
PDT_WINDOW = 5  # business days
PDT_CLASSES = frozenset({AssetClass.EQUITY, AssetClass.OPTION})  # securities: stocks, ETFs, options
_CENT = Decimal("0.01")


def trade_day(ts: float) -> date:
    """The day a fill or an order belongs to: its New York date."""
    return datetime.fromtimestamp(ts, sessions.NEW_YORK).date()


def _span(today: date, n: int) -> tuple[date, float, float]:
    first = today - timedelta(days=3 * n + 10)  # enough to hold n sessions around any holiday
    start = datetime.combine(first, time(), sessions.NEW_YORK).timestamp()
    return first, start, datetime.combine(today + timedelta(days=1), time(), sessions.NEW_YORK).timestamp()


def calendar_ready(today: date, n: int = PDT_WINDOW) -> bool:
    """Whether ``business_days`` would answer at once; if not, the calendar is read in a worker thread."""
    _first, start, end = _span(today, n)
    try:
        return sessions.session_if_ready("XNYS", start) is not None and sessions.session_if_ready("XNYS", end) is not None
    except (ImportError, ValueError):
        return True  # (no calendar: business_days falls back to weekdays at once)


def business_days(today: date, n: int = PDT_WINDOW) -> tuple[date, ...]:
    """The last ``n`` NYSE business days up to ``today`` (included when it is one)."""
    first, start, end = _span(today, n)
    try:
        days = sorted({trade_day(o) for o, _c in sessions.regular_sessions("XNYS", start, end)})
    except (ImportError, ValueError):  # no calendar library: weekdays
        days = [first + timedelta(days=k) for k in range((today - first).days + 1)]
        days = [d for d in days if d.weekday() < 5]
    return tuple(d for d in days if d <= today)[-n:]


@dataclass(frozen=True, slots=True)
class DayTrade:
    day: date
    symbol: str
    order_id: str  # the closing order


@dataclass
class DayTrades:
    """Day trades from fills; for each symbol, what today's fills opened that is still held."""

    trades: list[DayTrade] = field(default_factory=list)
    _day: date | None = None
    _long: dict[str, Decimal] = field(default_factory=dict)  # bought today, still held long
    _short: dict[str, Decimal] = field(default_factory=dict)  # sold short today, still held short
    _counted: set[str] = field(default_factory=set)  # closing orders counted today

    def apply(self, fill: Fill, position_after: Decimal) -> DayTrade | None:
        """Book a fill (``position_after``: the symbol's position once it is applied); the day
        trade it makes, if it makes a new one."""
        day = trade_day(fill.ts)
        if day != self._day:
            self._day, self._long, self._short, self._counted = day, {}, {}, set()
        sym, q = fill.symbol, fill.qty
        before = position_after - fill.signed_qty
        mine, other = (self._long, self._short) if fill.side is BUY else (self._short, self._long)
        held_against = max(-before, ZERO) if fill.side is BUY else max(before, ZERO)  # what this fill closes
        closing = min(q, held_against)
        matched = min(closing, other.get(sym, ZERO))
        if matched:
            other[sym] -= matched
        if q > closing:
            mine[sym] = mine.get(sym, ZERO) + q - closing
        for book, cap in ((self._long, max(position_after, ZERO)), (self._short, max(-position_after, ZERO))):
            if book.get(sym, ZERO) > cap:  # a position changed by other means (a transfer): today's part cannot exceed it
                book[sym] = cap
        if matched <= 0 or fill.order_id in self._counted:
            return None
        self._counted.add(fill.order_id)
        trade = DayTrade(day, sym, fill.order_id)
        self.trades.append(trade)
        return trade

    def would_make_one(self, symbol: str, side: Side, order_id: str, now: float) -> bool:
        """Whether an order now would close something opened today (a new day trade)."""
        if trade_day(now) != self._day or order_id in self._counted:
            return False
        opened = self._long if side is SELL else self._short
        return opened.get(symbol, ZERO) > 0

    def count(self, days: tuple[date, ...]) -> int:
        """Day trades on ``days`` (older ones are forgotten)."""
        if not days:
            return 0
        self.trades = [t for t in self.trades if t.day >= days[0]]
        return sum(1 for t in self.trades if t.day in days)


def compliance_applies(lim: RiskLimits, margin: bool) -> bool:
    """Whether ``Compliance`` has anything to check under ``lim`` (a backtest adds it only then)."""
    return lim.max_open_positions is not None or lim.max_gross_leverage is not None or (margin and lim.pdt_check)


def gross_leverage(gross: Decimal, equity: Decimal) -> Decimal | None:
    """Gross exposure over equity (None with no equity behind it)."""
    return gross / equity if equity > 0 else None


def times(x: Decimal) -> str:
    return f"{x.quantize(_CENT):f}x"


@dataclass
class Compliance:
    risk: PreTradeRisk
    store: LimitStore
    instrument: Callable[[str], Instrument]
    day_trades: DayTrades = field(default_factory=DayTrades)
    _window: tuple[date, tuple[date, ...]] | None = None

    # -- fills in
    def record(self, fill: Fill) -> DayTrade | None:
        """Count a fill (once the portfolio has it): every journaled fill at start, each new one after."""
        if self.instrument(fill.symbol).asset_class not in PDT_CLASSES:
            return None
        return self.day_trades.apply(fill, self.risk.portfolio.qty(fill.symbol))

    # -- the pattern-day-trader rule
    def window(self, now: float) -> tuple[date, ...]:
        today = trade_day(now)
        if self._window is None or self._window[0] != today:
            self._window = (today, business_days(today))
        return self._window[1]

    def pdt_applies(self, lim: RiskLimits) -> str | None:
        """Why the rule is not checked now (None: it is)."""
        pf = self.risk.portfolio
        if not lim.pdt_check:
            return "pdt_check off"
        if not pf.margin:
            return "cash account"
        if pf.equity() >= PDT_EQUITY:
            return "equity ≥ $25k"
        return None

    def _pdt(self, ctx: OrderContext, lim: RiskLimits) -> Verdict:
        order = ctx.order
        if order.legs or ctx.instrument.asset_class not in PDT_CLASSES or order.source == KILL_SOURCE or ctx.protective:
            return ALLOWED
        now = self.risk.now()
        if not self.day_trades.would_make_one(order.symbol, order.side, order.id, now) or self.pdt_applies(lim) is not None:
            return ALLOWED
        days = self.window(now)
        n = self.day_trades.count(days)
        span = f"{days[0]:%b %d} to {days[-1]:%b %d}"
        equity = dollars(self.risk.portfolio.equity())
        if n >= PDT_ALLOWED:
            return Verdict(False, (
                f"pattern day trader: {n} day trades in the last {PDT_WINDOW} business days ({span}); "
                f"this {order.side.value} of {order.symbol} would be day trade {n + 1}, refused in a margin account "
                f"with equity {equity} under {dollars(PDT_EQUITY)} (FINRA rule 4210)"
            ), "pdt_check")
        if n == PDT_ALLOWED - 1:
            return Verdict(True, warnings=(
                f"pattern day trader: this would be day trade {n + 1} of {PDT_ALLOWED} allowed in {PDT_WINDOW} business days "
                f"({span}) while equity is under {dollars(PDT_EQUITY)}; a 4th is refused",
            ))
        return ALLOWED

    # -- open positions and leverage
    def _open_positions(self, ctx: OrderContext, cap: int) -> Verdict:
        pf, order = self.risk.portfolio, ctx.order
        held = {sym for sym, pos in pf.book.positions.items() if pos.qty}
        mine = {leg.symbol for leg in order.legs} if order.legs else {order.symbol}
        new = mine - held
        if not new:
            return ALLOWED
        working: set[str] = set()
        for o in self.risk.working_orders():
            if o.id != order.id:
                working.update([leg.symbol for leg in o.legs] or [o.symbol])
        pending = working - held - mine
        if len(held) + len(pending) + len(new) <= cap:
            return ALLOWED
        also = f" and {len(pending)} more with orders working to open them" if pending else ""
        return Verdict(False, (
            f"open positions: {len(held)} symbols held{also}, max_open_positions is {cap}: "
            f"{', '.join(sorted(new))} would open another"
        ), "max_open_positions")

    def _leverage(self, ctx: OrderContext, cap: Decimal) -> Verdict:
        if ctx.order.legs:
            return ALLOWED
        pf, order, inst = self.risk.portfolio, ctx.order, ctx.instrument
        book = self.risk.exposures()
        now_gross = sum((abs(e) for e in book.values()), ZERO)
        worst = self.risk.worst_position(order, ctx.position)
        after = worst + order.qty if order.side is BUY else worst - order.qty
        after_value = abs(after * pf.to_base(ctx.price * inst.multiplier, inst.currency))
        gross = sum((abs(e) for sym, e in book.items() if sym != order.symbol), ZERO) + after_value
        equity = pf.equity()
        if gross <= now_gross:
            return ALLOWED  # no higher than now
        lev = gross_leverage(gross, equity)
        if lev is None:
            return Verdict(False, f"gross leverage: equity is {dollars(equity)}, no new exposure can be taken", "max_gross_leverage")
        if lev <= cap:
            return ALLOWED
        return Verdict(False, (
            f"gross leverage would be {times(lev)} (gross exposure {dollars(gross)} on equity {dollars(equity)}), "
            f"exceeding max_gross_leverage {plain(cap)}x"
        ), "max_gross_leverage")

    def __call__(self, ctx: OrderContext) -> Verdict:
        lim = self.store.limits_for(ctx.order.strategy)
        if not ctx.reducing:
            if lim.max_open_positions is not None:
                verdict = self._open_positions(ctx, lim.max_open_positions)
                if not verdict.ok:
                    return verdict
            if lim.max_gross_leverage is not None:
                verdict = self._leverage(ctx, lim.max_gross_leverage)
                if not verdict.ok:
                    return verdict
        account = self.store.limits  # the rule is the account's: a strategy's settings do not turn it off
        return self._pdt(ctx, account) if account.pdt_check else ALLOWED

    # -- the Risk pane
    def rows(self) -> tuple[RiskRow, ...]:
        lim = self.store.limits
        pf = self.risk.portfolio
        near = lim.near_pct
        held = sum(1 for pos in pf.book.positions.values() if pos.qty)
        gross = sum((abs(e) for e in self.risk.exposures().values()), ZERO)
        equity = pf.equity()
        lev = gross_leverage(gross, equity)
        out = [
            row("open positions", Decimal(held), lim.max_open_positions, "count", near),
            row("gross leverage", (lev if lev is not None else ZERO).quantize(_CENT), lim.max_gross_leverage, "x", near,
                "" if lev is not None else f"equity {dollars(equity)}"),
        ]
        now = self.risk.now()
        known = not self.day_trades.trades or (self._window is not None and self._window[0] == trade_day(now))
        if pf.margin and (known or calendar_ready(trade_day(now))):
            # (a cash account is never a pattern day trader; with day trades to count, the row waits
            # for the exchange calendar, read in a worker thread, rather than stall a repaint)
            n = self.day_trades.count(self.window(now)) if self.day_trades.trades else 0
            off = self.pdt_applies(lim)
            out.append(row("day trades (5d)", Decimal(n), None if off else PDT_ALLOWED, "count", near, off or "margin < $25k"))
        return tuple(out)
