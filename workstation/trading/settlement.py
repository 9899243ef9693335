"""Expiry and daily settlement on the paper market: nothing is left hanging at expiry.

``Settlement.run(now)`` settles, in time order, everything whose time has come:

* each held option whose expiry (16:00 New York) has passed, at its underlying's price then
  (``workstation.trading.expiry``: exercise or assignment into shares at the strike, cash
  settlement at intrinsic value for an index option, or expiry worthless);
* each held future whose expiry has passed, closed at its final settlement price;
* each held future's daily settlement (17:00 New York on weekdays) since the last run: the
  day's P&L against the previous settlement moves into cash and the settlement price becomes
  the position's cost (``Portfolio.settle_variation``).

Each is journaled before anything is shown (``Journal.record_settlement``: its fills, with
orders of source ``expiry`` whose fills carry ``expiry:<symbol>:<date>:...`` exec ids, and
one ``settle`` event keyed ``expiry:<symbol>:<date>`` or ``variation:<symbol>:<date>``, in one
transaction). A key already journaled is never applied again, so an owner starting after
the engine was down at expiry processes it once, and the next start does not repeat it.
Then the portfolio books it, the fills go on the bus (Orders and Log panes) and an alert
says what happened; the alert fires once per settlement (``AlertEngine.raise_once``), and
``start`` announces again, once, a settlement journaled by an engine that stopped before
it could (``RECENT_S``).

``Settlement.warn(now)`` raises, once each, the day-before warning for options at risk of
assignment or exercise (short options in the money or within ``warn_within_pct`` of it,
long options that close to the money) and a roll reminder ``roll_reminder_days`` before a
held future expires.

Settlement prices are the paper market's (``market_prices``: the simulated price process at
the settlement time), so only the paper account is settled here; a real broker reports
exercises, assignments and expiries as fills, which the order manager and reconciliation
book. Only the owner of the account builds one (``Session.build``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from workstation.core.bus import Bus
from workstation.core.clock import Clock
from workstation.core.config import SettlementSettings
from workstation.core.formatting import price as show_price
from workstation.core.formatting import quantity as show_qty
from workstation.core.formatting import signed_money, tick_digits
from workstation.core.journal import Journal
from workstation.core.model import (
    BUY,
    ZERO,
    AssetClass,
    Fill,
    Instrument,
    ModelError,
    Order,
    OrderFilled,
    OrderStatus,
    OrderType,
    Right,
    Side,
    TimeInForce,
    to_decimal,
)
from workstation.trading.expiry import (
    expiry_time,
    futures_closes,
    last_futures_close,
    next_contract,
    ny_date,
    option_outcome,
    warn_time,
)
from workstation.trading.portfolio import MANUAL, Portfolio

log = logging.getLogger(__name__)

SOURCE = "expiry"  # the source of the orders a settlement books
THROUGH = "settled_through"  # journal meta: the daily settlements are done up to this time
RECENT_S = 7 * 86_400  # settlements this recent are announced again at start (once per key)
WARN_EVERY_S = 60.0

Prices = Callable[[str, float], Decimal | None]
Announce = Callable[..., object]


@dataclass(frozen=True, slots=True)
class Due:
    """One settlement whose time has come."""

    at: float
    kind: str  # "expiry" or "variation"
    symbol: str
    day: str  # the New York date it settles, ISO

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.symbol}:{self.day}"


@dataclass(frozen=True, slots=True)
class Settled:
    """A settlement journaled and booked: what the user is told."""

    key: str
    kind: str  # exercise, assignment, cash, worthless, future, variation
    symbol: str
    title: str
    message: str
    amount: Decimal  # the cash it moved (base of the settlement's currency)


def market_prices(broker: object) -> Prices | None:
    """The paper market's price of a symbol at a time (its process mid, on tick), or None
    when ``broker`` has no simulated market behind it (a real broker)."""
    market = getattr(broker, "market", None)
    mids = getattr(market, "mids", None)
    if mids is None:
        return None

    def price(symbol: str, t: float) -> Decimal | None:
        try:
            value = float(mids(symbol, [t])[0])
        except (ValueError, KeyError, ModelError) as exc:
            log.warning("no settlement price for %s: %s", symbol, exc)
            return None
        return to_decimal(value) if value > 0 else None

    return price


def _on_tick(value: Decimal, inst: Instrument) -> Decimal:
    tick = inst.tick_size
    if not tick or tick <= 0:
        return value
    return (value / tick).to_integral_value() * tick


_TITLES = {
    "exercise": "Exercised", "assignment": "Assigned", "cash": "Cash-settled", "worthless": "Expired",
    "future": "Future settled", "variation": "Variation margin",
}


_REASONS = {  # an order's reason, in the Orders pane
    "exercise": "exercise of {}", "assignment": "assignment of {}", "cash": "cash settlement of {}",
    "worthless": "{} expired worthless", "future": "final settlement of {}",
}


class Settlement:
    def __init__(
        self,
        *,
        portfolio: Portfolio,
        journal: Journal,
        bus: Bus,
        clock: Clock,
        prices: Prices,
        instrument: Callable[[str], Instrument],
        client_prefix: str,
        settings: SettlementSettings | None = None,
        announce: Announce | None = None,
        keep_orders: Callable[[list[Order]], None] | None = None,
    ) -> None:
        self.portfolio = portfolio
        self.journal = journal
        self.bus = bus
        self.clock = clock
        self.prices = prices
        self.instrument = instrument
        self.prefix = client_prefix
        self.settings = settings or SettlementSettings()
        self.announce = announce
        self.keep_orders = keep_orders  # the order manager's ``restore``: the Orders pane lists them
        self.through: float | None = None
        self._warned_at = float("-inf")
        self._unpriced: set[str] = set()

    # ------------------------------------------------------------------ the loop's steps
    def start(self, now: float | None = None) -> list[Settled]:
        """At the owner's start: announce what an earlier engine journaled but may not have
        shown, then settle everything missed while no engine ran, and warn."""
        now = self.clock.time() if now is None else now
        stored = self.journal.meta(THROUGH)
        if stored is not None:
            self.through = float(stored)
        else:  # the first run with settlement: daily settlements start from the journal's last event
            self.through = min(self.journal.last_ts() or now, now)
        for _ts, key, data in self.journal.settlements(since=now - RECENT_S):
            self._announce(key, data)
        done = self.run(now)
        self.warn(now, force=True)
        return done

    def run(self, now: float | None = None) -> list[Settled]:
        """Settle everything due at ``now``, oldest first; returns what was settled."""
        now = self.clock.time() if now is None else now
        if self.through is None:
            self.through = now
        done = []
        for due in self.due(now):
            try:
                settled = self._settle(due, now)
            except ModelError as exc:  # an unparseable symbol must not stop the rest
                log.warning("%s not settled: %s", due.key, exc)
                continue
            if settled is not None:
                done.append(settled)
        if done or last_futures_close(now) > self.through:
            self.through = now
            self.journal.set_meta(THROUGH, repr(now))
        return done

    def due(self, now: float) -> list[Due]:
        """Every settlement due at ``now`` for the positions held, in time order."""
        through = self.through if self.through is not None else now
        out: list[Due] = []
        for pos in self.portfolio.positions():
            inst = self.instrument(pos.symbol)
            at = expiry_time(inst)
            if at is not None and at <= now:
                out.append(Due(at, "expiry", inst.symbol, ny_date(at).isoformat()))
            if inst.asset_class is AssetClass.FUTURE:
                until = now if at is None else min(now, at - 1)
                for day, close in futures_closes(through, until):
                    out.append(Due(close, "variation", inst.symbol, day.isoformat()))
        out.sort(key=lambda d: (d.at, d.symbol))
        return out

    def warn(self, now: float | None = None, *, force: bool = False) -> int:
        """The day-before warnings and the roll reminders due at ``now`` (each raised once
        per contract); returns how many were raised. Runs at most once a minute unless forced."""
        now = self.clock.time() if now is None else now
        if not force and now - self._warned_at < WARN_EVERY_S:
            return 0
        self._warned_at = now
        raised = 0
        for pos in self.portfolio.positions():
            try:
                inst = self.instrument(pos.symbol)
            except ModelError:
                continue
            at = expiry_time(inst)
            if at is None or now >= at:
                continue
            if inst.asset_class is AssetClass.OPTION:
                raised += self._warn_option(inst, pos.qty, now)
            elif inst.asset_class is AssetClass.FUTURE:
                raised += self._remind_roll(inst, at, now)
        return raised

    # ------------------------------------------------------------------ settling
    def _settle(self, due: Due, now: float) -> Settled | None:
        if self.journal.has_settlement(due.key):
            return None
        inst = self.instrument(due.symbol)
        if due.kind == "variation":
            return self._variation(due, inst, now)
        if inst.asset_class is AssetClass.OPTION:
            return self._expire_option(due, inst, now)
        return self._expire_future(due, inst, now)

    def _holders(self, symbol: str) -> list[tuple[str | None, Decimal]]:
        """Who holds ``symbol``: each strategy book's quantity (None: the manual book)."""
        out: list[tuple[str | None, Decimal]] = []
        total = ZERO
        for tag, book in self.portfolio.books.items():
            pos = book.positions.get(symbol)
            if pos is not None and pos.qty:
                out.append((None if tag == MANUAL else tag, pos.qty))
                total += pos.qty
        rest = self.portfolio.qty(symbol) - total
        if rest:
            out.append((None, rest))
        return out

    def _price(self, symbol: str, at: float) -> Decimal | None:
        value = self.prices(symbol, at)
        if value is None:
            if symbol not in self._unpriced:  # said once: the loop asks again every second
                self._unpriced.add(symbol)
                log.warning("no settlement price for %s at %s: settled once there is one", symbol, at)
            return None
        return _on_tick(value, self.instrument(symbol))

    def _expire_option(self, due: Due, inst: Instrument, now: float) -> Settled | None:
        und = inst.underlying or ""
        settle = self._price(und, due.at)
        if settle is None:
            return None
        held = self.portfolio.qty(inst.symbol)
        outcome = option_outcome(inst, held, settle, self.settings.exercise_threshold)
        legs: list[tuple[str, Side, Decimal, Decimal, str | None, str]] = []  # symbol, side, qty, price, strategy, leg
        for tag, qty in self._holders(inst.symbol):
            legs.append((inst.symbol, Side.SELL if qty > 0 else BUY, abs(qty), outcome.close_price, tag, "close"))
            if outcome.shares:  # each holder takes or delivers its own shares: a call buys, a put sells
                shares = qty * inst.multiplier * (1 if inst.right is Right.CALL else -1)
                legs.append((und, BUY if shares > 0 else Side.SELL, abs(shares), inst.strike or ZERO, tag, "deliver"))
        digits = tick_digits(self.instrument(und).tick_size)
        shown_settle = show_price(settle, digits)
        amount = -outcome.shares * (inst.strike or ZERO) + held * outcome.close_price * inst.multiplier
        if outcome.kind in ("exercise", "assignment"):
            verb = "bought" if outcome.shares > 0 else "sold"
            done = "exercised" if outcome.kind == "exercise" else "assigned"
            message = (
                f"{inst.symbol} {done}: {verb} {show_qty(abs(outcome.shares))} {und} at "
                f"{show_price(inst.strike, digits)} ({und} settled at {shown_settle})"
            )
        elif outcome.kind == "cash":
            message = (
                f"{inst.symbol} cash-settled at {show_price(outcome.close_price, digits)} "
                f"({und} settled at {shown_settle}): {signed_money(amount)}"
            )
        else:
            message = f"{inst.symbol} expired worthless ({und} settled at {shown_settle})"
        data = {
            "type": outcome.kind, "symbol": inst.symbol, "underlying": und, "date": due.day, "at": due.at,
            "settle": str(settle), "qty": str(held), "amount": str(amount), "message": message,
        }
        return self._book(due, now, data, legs, amount)

    def _expire_future(self, due: Due, inst: Instrument, now: float) -> Settled | None:
        settle = self._price(inst.symbol, due.at)
        if settle is None:
            return None
        held = self.portfolio.qty(inst.symbol)
        pos = self.portfolio.position(inst.symbol)
        amount = held * (settle - pos.avg_price) * inst.multiplier
        legs = [
            (inst.symbol, Side.SELL if qty > 0 else BUY, abs(qty), settle, tag, "close")
            for tag, qty in self._holders(inst.symbol)
        ]
        digits = tick_digits(inst.tick_size)
        message = (
            f"{inst.symbol} expired: {show_qty(held)} closed at the final settlement price "
            f"{show_price(settle, digits)}: {signed_money(amount)}"
        )
        data = {
            "type": "future", "symbol": inst.symbol, "date": due.day, "at": due.at, "settle": str(settle),
            "qty": str(held), "amount": str(amount), "message": message,
        }
        return self._book(due, now, data, legs, amount)

    def _variation(self, due: Due, inst: Instrument, now: float) -> Settled | None:
        settle = self._price(inst.symbol, due.at)
        if settle is None:
            return None
        pos = self.portfolio.position(inst.symbol)
        amount = pos.qty * (settle - pos.avg_price) * inst.multiplier
        message = (
            f"{inst.symbol} settled at {show_price(settle, tick_digits(inst.tick_size))} "
            f"({due.day}): {signed_money(amount)} variation margin on {show_qty(pos.qty)}"
        )
        data = {
            "type": "variation", "symbol": inst.symbol, "date": due.day, "at": due.at, "price": str(settle),
            "qty": str(pos.qty), "amount": str(amount), "message": message, "booked": now,
        }
        if not self.journal.record_settlement(due.key, now, data, []):
            return None
        moved = self.portfolio.settle_variation(inst.symbol, settle, now)
        return self._announce(due.key, data, moved)

    def _book(
        self, due: Due, now: float, data: dict[str, Any], legs: list[tuple[str, Side, Decimal, Decimal, str | None, str]],
        amount: Decimal,
    ) -> Settled | None:
        """Journal the settlement's fills (each with its order) and its record in one
        transaction; then book the fills, publish them and announce it."""
        if not legs:
            return None
        last = self.journal.next_order_number(len(legs))
        pairs: list[tuple[Fill, Order]] = []
        for n, (symbol, side, qty, px, tag, leg) in enumerate(legs, start=last - len(legs) + 1):
            order = Order(
                id=str(n), client_id=f"{self.prefix}-{n}", symbol=symbol, side=side, qty=qty, type=OrderType.MARKET,
                tif=TimeInForce.DAY, status=OrderStatus.FILLED, filled_qty=qty, avg_fill_price=px,
                reason=_REASONS.get(str(data["type"]), "settlement of {}").format(data["symbol"]), strategy=tag, source=SOURCE, created=now, updated=now,
            )
            exec_id = f"{due.key}:{leg}" + (f":{tag}" if tag else "")
            fill = Fill(exec_id=exec_id, order_id=order.id, symbol=symbol, side=side, qty=qty, price=px, ts=now, strategy=tag)
            pairs.append((fill, order))
        if not self.journal.record_settlement(due.key, now, data, pairs):
            return None
        if self.keep_orders is not None:
            self.keep_orders([order for _fill, order in pairs])
        for fill, _order in pairs:
            self.portfolio.apply_fill(fill)
        for fill, order in pairs:
            self.bus.publish(OrderFilled(order=order, fill=fill, ts=now))
        return self._announce(due.key, data, amount)

    def _announce(self, key: str, data: dict[str, Any], amount: Decimal | None = None) -> Settled:
        kind = str(data.get("type", ""))
        title = _TITLES.get(kind, "Settled")
        settled = Settled(
            key=key, kind=kind, symbol=str(data.get("symbol", "")), title=title, message=str(data.get("message", key)),
            amount=Decimal(str(data.get("amount", "0"))) if amount is None else amount,
        )
        if self.announce is not None:
            priority = "high" if kind in ("assignment", "exercise", "future") else "low" if kind == "variation" else "normal"
            self.announce(title, settled.message, key=f"settle-{key}", priority=priority, source="settlement")
        return settled

    # ------------------------------------------------------------------ warnings
    def _warn_option(self, inst: Instrument, qty: Decimal, now: float) -> int:
        start = warn_time(inst)
        if start is None or now < start or self.announce is None or inst.strike is None:
            return 0
        und = inst.underlying or ""
        spot = self._price(und, now)
        if spot is None:
            return 0
        strike = inst.strike
        call = inst.right is Right.CALL
        itm = spot - strike if call else strike - spot
        near = strike * self.settings.warn_within_pct / 100
        short = qty < 0
        if short and itm >= -near:
            risk = "in the money: assignment likely" if itm > 0 else f"within {self.settings.warn_within_pct}% of the money: assignment possible"
        elif not short and abs(itm) <= near:
            risk = "near the money: it is exercised if it ends $0.01 in the money"
        else:
            return 0
        side = "short" if short else "long"
        digits = tick_digits(self.instrument(und).tick_size)
        shares = show_qty(abs(qty) * inst.multiplier)
        message = (
            f"{inst.symbol} expires {inst.expiry}: {side} {show_qty(abs(qty))}, {und} at {show_price(spot, digits)} "
            f"vs strike {show_price(strike, digits)}, {risk} ({shares} shares)"
        )
        fired = self.announce("Expiry next trading day", message, key=f"expiry-risk-{inst.symbol}", priority="high", source="settlement")
        return 1 if fired is not None else 0

    def _remind_roll(self, inst: Instrument, at: float, now: float) -> int:
        days = self.settings.roll_reminder_days
        if self.announce is None or now < at - days * 86_400:
            return 0
        target = next_contract(inst)
        left = max(0, int((at - now) // 86_400))
        message = (
            f"{inst.symbol} expires {inst.expiry} (in {left} day{'s' if left != 1 else ''}): "
            f"roll it with `main.py roll {inst.symbol} {target}`"
        )
        fired = self.announce("Roll reminder", message, key=f"roll-{inst.symbol}", priority="normal", source="settlement")
        return 1 if fired is not None else 0
