"""Positions, cash, P&L and buying power, exactly.

Rules (average-cost accounting):

* A fill in the direction of the position (or from flat) moves the average price to the
  quantity-weighted mean; a fill against it realizes ``closed * (price - avg) * multiplier``
  (sign-adjusted for shorts) and leaves the average unchanged; a fill that crosses zero
  closes the old position and opens the remainder at the fill price (a *flip*).
* Cash is kept per currency. Buying an instrument that settles its notional (equity,
  crypto, forex, option) pays ``qty * price * multiplier`` out of the instrument's quote
  currency; selling receives it. A future settles only its P&L: realized P&L moves cash,
  unrealized P&L counts in equity. Commissions are paid in the quote currency.
* Values in another currency are converted to the base currency at the current rate
  from the feed (``rate`` callable).
* Buying power: a cash account has its base-currency cash; a margin account has
  ``equity * leverage - gross exposure`` (never below zero). A futures position is charged
  its initial margin there (``workstation.trading.margin``), not its notional: a margin
  account has ``equity * leverage - gross exposure of the rest - futures initial margin``,
  a cash account its cash less that margin. Holding futures, the account shows their initial
  and maintenance margin and the excess liquidity (equity less maintenance margin). A broker that keeps the
  account (``Broker.keeps_account``) knows better: once its figures are taken
  (``take_account``), the buying power, margin and day-trade figures shown and checked are
  the broker's, as of ``broker_at`` (the pre-trade check holds what our orders sent since
  then would use).
* A future's daily settlement (``settle_variation``) moves the day's P&L at the settlement
  price into cash as realized P&L and makes that price the position's cost.
* Every strategy tag has a sub-book with its own positions, realized P&L, commissions and
  trade count; untagged fills go to the ``manual`` book.
* The last two days of fills are remembered with the P&L each realized, so a face can show
  what was realized since the start of the trading day, symbol by symbol (``traded_since``).

Marks are the last traded price from the quote stream (floats, converted at read time).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from workstation.core.model import BUY, ZERO, Account, Fill, Instrument, Position, Quote, to_decimal
from workstation.trading.margin import MarginTable, is_margined

MANUAL = "manual"
RECENT_SECONDS = 2 * 86_400  # how far back fills are remembered for ``traded_since`` (a trading day is at most 25 hours)


@dataclass(slots=True)
class _Pos:
    qty: Decimal = ZERO
    avg: Decimal = ZERO
    realized: Decimal = ZERO


def apply_to_position(pos: _Pos, signed_qty: Decimal, price: Decimal, multiplier: Decimal) -> Decimal:
    """Apply a fill to ``pos`` in place; return the P&L it realized."""
    # (comparisons with the Decimal ZERO, not the int 0: an int is converted on every compare)
    q = pos.qty
    if not q:  # opening from flat: the average is the fill's price
        pos.avg = price
        pos.qty = q + signed_qty
        return ZERO
    long = q > ZERO
    if long == (signed_qty > ZERO):
        new_qty = q + signed_qty
        pos.avg = (pos.avg * abs(q) + price * abs(signed_qty)) / abs(new_qty)
        pos.qty = new_qty
        return ZERO
    closing = min(abs(signed_qty), abs(q))
    realized = closing * (price - pos.avg) * multiplier
    if not long:
        realized = -realized
    pos.realized += realized
    new_qty = q + signed_qty
    if not new_qty:
        pos.avg = ZERO
    elif (new_qty > ZERO) != long:  # flipped through zero: remainder opens at the fill price
        pos.avg = price
    pos.qty = new_qty
    return realized


@dataclass(slots=True)
class Book:
    """Positions and realized P&L for one strategy tag (or the whole account)."""

    positions: dict[str, _Pos] = field(default_factory=dict)
    realized: Decimal = ZERO
    commissions: Decimal = ZERO
    trades: int = 0
    wins: int = 0
    losses: int = 0

    def apply(self, fill: Fill, multiplier: Decimal) -> Decimal:
        pos = self.positions.get(fill.symbol)
        if pos is None:
            pos = self.positions[fill.symbol] = _Pos()
        before = pos.qty
        # (``fill.signed_qty``, without the property's call)
        realized = apply_to_position(pos, fill.qty if fill.side is BUY else -fill.qty, fill.price, multiplier)
        self.realized += realized
        self.commissions += fill.commission
        self.trades += 1
        if before and (not pos.qty or (pos.qty > ZERO) != (before > ZERO)):
            # a round trip closed: count it as a win or a loss
            if realized > ZERO:
                self.wins += 1
            elif realized < ZERO:
                self.losses += 1
        return realized


class Portfolio:
    def __init__(
        self,
        *,
        base_currency: str = "USD",
        initial_cash: Decimal = Decimal(100_000),
        instrument: Callable[[str], Instrument],
        rate: Callable[[str], Decimal | None] | None = None,
        margin: bool = True,
        leverage: Decimal = Decimal(2),
        margins: MarginTable | None = None,
    ) -> None:
        self.base = base_currency
        self.cash: dict[str, Decimal] = {base_currency: Decimal(initial_cash)}
        self._instrument = instrument
        self._rate = rate or (lambda ccy: None)
        self.margin = margin
        self.leverage = Decimal(leverage)
        self.margins = margins or MarginTable()
        self.book = Book()
        self.books: dict[str, Book] = {}
        self.marks: dict[str, float] = {}
        self._last: dict[str, tuple[float, Decimal]] = {}
        self._multipliers: dict[str, Instrument] = {}
        self.fills = 0
        self._recent: deque[tuple[float, str, Decimal]] = deque()  # (fill ts, symbol, realized), oldest first
        self.broker_account: Account | None = None  # the broker's own figures, when it keeps the account
        self.broker_at: float | None = None  # when they were asked for (clock time)

    # -- events in
    def apply_fill(self, fill: Fill) -> Decimal:
        """Book a fill (already journaled and de-duplicated). Returns the realized P&L."""
        inst = self._inst(fill.symbol)
        mult = inst.multiplier
        realized = self.book.apply(fill, mult)
        tag = fill.strategy or MANUAL
        sub = self.books.get(tag)
        if sub is None:
            sub = self.books[tag] = Book()
        sub.apply(fill, mult)
        ccy = inst.currency
        if inst.settles_notional:
            delta = -(fill.qty if fill.side is BUY else -fill.qty) * fill.price * mult
        else:
            delta = realized
        self.cash[ccy] = self.cash.get(ccy, ZERO) + delta - fill.commission
        if fill.symbol not in self.marks:
            self.marks[fill.symbol] = float(fill.price)
        self.fills += 1
        recent = self._recent
        recent.append((fill.ts, fill.symbol, realized))
        while recent and recent[0][0] < fill.ts - RECENT_SECONDS:
            recent.popleft()
        return realized

    def settle_variation(self, symbol: str, price: Decimal, ts: float | None = None) -> Decimal:
        """A future's daily settlement at ``price``, booked at ``ts``: each book's position in
        ``symbol`` realizes ``qty * (price - cost) * multiplier`` and its cost becomes ``price``;
        the account's amount moves into cash (its currency) and counts as realized at ``ts``
        (``traded_since``). Returns that amount (no trade is counted)."""
        mult = self._inst(symbol).multiplier
        amount = ZERO
        for book in (self.book, *self.books.values()):
            pos = book.positions.get(symbol)
            if pos is None or not pos.qty:
                continue
            moved = pos.qty * (price - pos.avg) * mult
            pos.realized += moved
            book.realized += moved
            pos.avg = price
            if book is self.book:
                amount = moved
        ccy = self._inst(symbol).currency
        self.cash[ccy] = self.cash.get(ccy, ZERO) + amount
        if ts is not None and amount:
            self._recent.append((ts, symbol, amount))
        return amount

    def adopt(self, positions: list[Position], cash: dict[str, Decimal] | None = None) -> None:
        """Take the broker's positions (and cash) as the truth, keeping realized P&L history.

        For brokers that keep the account (``Broker.keeps_account``): after a resync the
        account shown is the broker's, whatever our journal says.
        """
        seen = set()
        for p in positions:
            pos = self.book.positions.get(p.symbol)
            if pos is None:
                pos = self.book.positions[p.symbol] = _Pos()
            # a broker that cannot tell a position's cost says 0 (brokers/base.py): the known average stands
            known = pos.avg if pos.qty and (pos.qty > 0) == (p.qty > 0) else ZERO
            pos.qty, pos.avg = p.qty, p.avg_price or known
            seen.add(p.symbol)
            inst = self._inst(p.symbol)
            if p.multiplier != 1 and inst.multiplier != p.multiplier:  # the broker knows the contract better
                self._multipliers[p.symbol] = msgspec.structs.replace(inst, multiplier=p.multiplier)
        for sym, pos in self.book.positions.items():
            if sym not in seen:
                pos.qty, pos.avg = ZERO, ZERO
        if cash is not None:
            self.cash = dict(cash)

    def take_account(self, account: Account, ts: float) -> None:
        """The broker's account figures, asked for at ``ts``: its cash becomes ours, and its buying
        power, margin and day-trade figures are the ones shown and risk-checked from now on."""
        self.cash = {account.currency: account.cash}
        self.broker_account = account
        self.broker_at = ts

    def adjust_cash(self, amount: Decimal, currency: str | None = None) -> None:
        ccy = currency or self.base
        self.cash[ccy] = self.cash.get(ccy, ZERO) + amount

    def on_quote(self, quote: Quote) -> None:
        if quote.symbol in self.book.positions:
            self.marks[quote.symbol] = quote.last

    def mark(self, symbol: str, price: float) -> None:
        self.marks[symbol] = price

    # -- reads
    def _inst(self, symbol: str) -> Instrument:
        inst = self._multipliers.get(symbol)
        if inst is None:
            inst = self._multipliers[symbol] = self._instrument(symbol)
        return inst

    def to_base(self, amount: Decimal, currency: str) -> Decimal:
        if currency == self.base or amount == 0:
            return amount
        rate = self._rate(currency)
        if rate is None:
            return amount  # no rate yet: shown unconverted rather than as zero
        return amount * rate

    def value(self, symbol: str, qty: Decimal, price: Decimal) -> Decimal:
        """What ``qty`` of ``symbol`` at ``price`` is worth in the base currency: times the
        contract multiplier, converted from the instrument's currency (unsigned)."""
        inst = self._inst(symbol)
        return abs(self.to_base(price * qty * inst.multiplier, inst.currency))

    def last(self, symbol: str) -> Decimal | None:
        price = self.marks.get(symbol)
        if price is None:
            return None
        known = self._last.get(symbol)  # the mark as a Decimal, converted once per new mark
        if known is not None and known[0] == price:
            return known[1]
        d = to_decimal(price)
        self._last[symbol] = (price, d)
        return d

    def position(self, symbol: str, strategy: str | None = None) -> Position:
        book = self.book if strategy is None else self.books.get(strategy, Book())
        pos = book.positions.get(symbol, _Pos())
        inst = self._inst(symbol)
        return Position(
            symbol=symbol, qty=pos.qty, avg_price=pos.avg, realized_pnl=pos.realized,
            multiplier=inst.multiplier, currency=inst.currency,
        )

    def positions(self, include_flat: bool = False, strategy: str | None = None) -> list[Position]:
        book = self.book if strategy is None else self.books.get(strategy, Book())
        return [
            self.position(sym, strategy) for sym, p in sorted(book.positions.items()) if include_flat or p.qty != 0
        ]

    def traded_since(self, since: float) -> dict[str, Decimal]:
        """Every symbol with a fill at or after ``since`` (epoch seconds, at most two days back)
        and the P&L those fills realized, in the instrument's currency, before commissions."""
        out: dict[str, Decimal] = {}
        for ts, symbol, realized in reversed(self._recent):
            if ts < since:
                break
            out[symbol] = out.get(symbol, ZERO) + realized
        return out

    def qty(self, symbol: str) -> Decimal:
        pos = self.book.positions.get(symbol)
        return pos.qty if pos else ZERO

    def unrealized(self, symbol: str, strategy: str | None = None) -> Decimal:
        """Unrealized P&L in the instrument's currency (zero when there is no mark)."""
        book = self.book if strategy is None else self.books.get(strategy, Book())
        pos = book.positions.get(symbol)
        last = self.last(symbol)
        if pos is None or pos.qty == 0 or last is None:
            return ZERO
        return (last - pos.avg) * pos.qty * self._inst(symbol).multiplier

    def market_value(self, symbol: str) -> Decimal:
        """Signed market value in the instrument's currency (futures: their unrealized P&L)."""
        pos = self.book.positions.get(symbol)
        if pos is None or pos.qty == 0:
            return ZERO
        inst = self._inst(symbol)
        last = self.last(symbol)
        if last is None:
            last = pos.avg
        if not inst.settles_notional:
            return (last - pos.avg) * pos.qty * inst.multiplier
        return last * pos.qty * inst.multiplier

    def exposure(self, symbol: str) -> Decimal:
        """Absolute notional exposure in the base currency (futures: full notional)."""
        pos = self.book.positions.get(symbol)
        if pos is None or pos.qty == 0:
            return ZERO
        inst = self._inst(symbol)
        last = self.last(symbol) or pos.avg
        return abs(self.to_base(last * pos.qty * inst.multiplier, inst.currency))

    def gross_exposure(self) -> Decimal:
        return sum((self.exposure(s) for s in self.book.positions), ZERO)

    def net_exposure(self) -> Decimal:
        total = ZERO
        for sym, pos in self.book.positions.items():
            if pos.qty:
                total += self.exposure(sym) * (1 if pos.qty > 0 else -1)
        return total

    # -- futures margin
    def order_margin(self, symbol: str, qty: Decimal, price: Decimal | None) -> Decimal:
        """Initial margin ``qty`` contracts of future ``symbol`` tie up, in the base currency
        (zero for anything else: it is charged its notional)."""
        inst = self._inst(symbol)
        if not is_margined(inst):
            return ZERO
        return self.to_base(self.margins.initial(inst, qty, price), inst.currency)

    def margined(self, symbol: str) -> bool:
        """Whether ``symbol`` is charged its margin (a future) rather than its notional."""
        return is_margined(self._inst(symbol))

    def futures_margin(self) -> tuple[Decimal, Decimal] | None:
        """(initial, maintenance) margin of the futures held, in the base currency, at the
        mark; None when no futures are held."""
        initial = maintenance = ZERO
        held = False
        for sym, pos in self.book.positions.items():
            if not pos.qty:
                continue
            inst = self._inst(sym)
            if not is_margined(inst):
                continue
            held = True
            contract = self.margins.per_contract(inst, self.last(sym) or pos.avg)
            initial += self.to_base(abs(pos.qty) * contract.initial, inst.currency)
            maintenance += self.to_base(abs(pos.qty) * contract.maintenance, inst.currency)
        return (initial, maintenance) if held else None

    def charged_exposure(self) -> Decimal:
        """What the positions use of a margin account's ``equity * leverage``: the notional of
        everything but futures, and the futures' initial margin."""
        total = ZERO
        for sym, pos in self.book.positions.items():
            if pos.qty and not is_margined(self._inst(sym)):
                total += self.exposure(sym)
        held = self.futures_margin()
        return total + held[0] if held is not None else total

    def cash_base(self) -> Decimal:
        cash = self.cash
        if len(cash) == 1 and self.base in cash:  # the common case: no conversion
            return cash[self.base]
        return sum((self.to_base(v, c) for c, v in cash.items()), ZERO)

    def equity(self) -> Decimal:
        value = self.cash_base()
        for sym in self.book.positions:
            mv = self.market_value(sym)
            if mv:
                value += self.to_base(mv, self._inst(sym).currency)
        return value

    def _buying_power(self, cash: Decimal, equity: Decimal) -> Decimal:
        if self.margin:
            return max(ZERO, equity * self.leverage - self.charged_exposure())
        held = self.futures_margin()
        return max(ZERO, cash - held[0] if held is not None else cash)

    def buying_power(self) -> Decimal:
        """``account().buying_power`` without building the rest of the account."""
        theirs = self.broker_account
        if theirs is not None:
            return self.to_base(theirs.buying_power, theirs.currency)
        cash = self.cash_base()
        return self._buying_power(cash, self.equity() if self.margin else cash)

    def account(self) -> Account:
        cash = self.cash_base()
        mv = ZERO
        unreal = ZERO
        for sym, pos in self.book.positions.items():
            if pos.qty == 0:
                continue
            ccy = self._inst(sym).currency
            mv += self.to_base(self.market_value(sym), ccy)
            unreal += self.to_base(self.unrealized(sym), ccy)
        equity = cash + mv
        mine = Account(
            currency=self.base, cash=cash, equity=equity, buying_power=self._buying_power(cash, equity), market_value=mv,
            unrealized_pnl=unreal, realized_pnl=self.book.realized, commissions=self.book.commissions,
        )
        theirs = self.broker_account
        if theirs is None:
            held = self.futures_margin()
            if held is None:
                return mine  # (margin figures are for futures: none shown without them)
            return msgspec.structs.replace(
                mine, initial_margin=held[0], maintenance_margin=held[1], excess_liquidity=equity - held[1],
            )

        def base(amount: Decimal | None) -> Decimal | None:
            return None if amount is None else self.to_base(amount, theirs.currency)

        return msgspec.structs.replace(
            mine, from_broker=True, buying_power=self.to_base(theirs.buying_power, theirs.currency),
            initial_margin=base(theirs.initial_margin), maintenance_margin=base(theirs.maintenance_margin),
            excess_liquidity=base(theirs.excess_liquidity), day_trades_left=theirs.day_trades_left,
            day_trade_count=theirs.day_trade_count, pattern_day_trader=theirs.pattern_day_trader,
        )

    def strategies(self) -> Iterable[str]:
        return self.books.keys()
