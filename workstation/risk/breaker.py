"""Post-trade monitors and the circuit breaker.

``RiskMonitor`` follows equity (on every fill, and on quotes of held symbols) against the
daily loss limit (absolute and % of start-of-day equity), the intraday drawdown from the
day's equity high and the total drawdown from the all-time peak. The trading day rolls
at ``day_roll`` in ``day_timezone`` (17:00 America/New_York by default). Holding futures,
it also watches for a margin call: equity below the maintenance margin of the futures held
(``Portfolio.futures_margin``) trips the breaker and raises a critical "Margin call" alert;
maintenance margin at ``near_pct`` of equity raises a "Margin warning" first. With
``max_gross_leverage`` set, gross exposure over equity beyond it trips the breaker too (a fall
in equity gets there without an order), and a "Leverage warning" comes at ``near_pct``.

A breach trips the ``CircuitBreaker``: working orders that open or grow a position are
canceled, new ones are rejected by the pre-trade checks, orders that reduce a position
still go, and a critical alert is raised. The breaker's state is journaled, so it is
still tripped after a restart. Resetting it is an explicit, confirmed action
(``RiskMonitor.reset_breaker(confirmed=True)``, ``main.py risk reset-breaker``), journaled,
and refused while a breach persists (raise the limit first).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal

import msgspec

from workstation.core.bus import Bus
from workstation.core.clock import Clock
from workstation.core.journal import Journal
from workstation.core.limits import LimitStore
from workstation.core.model import ZERO, AlertRaised, ModelError, Order, OrderFilled, Quote, iso, plain
from workstation.trading.portfolio import Portfolio
from workstation.risk.checks import HUNDRED, BreakerInfo, PreTradeRisk, RiskRow, RiskStatus, fmt_money, fmt_pct, row
from workstation.risk.compliance import gross_leverage, times

log = logging.getLogger(__name__)


class RiskError(ModelError):
    """A risk action was refused; the message says why and what to do."""


class BreakerChanged(msgspec.Struct, frozen=True, kw_only=True):
    """The circuit breaker tripped or was reset (the workstation shows a banner while tripped)."""

    tripped: bool
    reason: str
    source: str
    ts: float


class CircuitBreaker:
    def __init__(self, journal: Journal, bus: Bus, clock: Clock) -> None:
        self.journal = journal
        self.bus = bus
        self.clock = clock
        self.info = BreakerInfo()
        self.on_trip: list[Callable[[str], None]] = []
        for _seq, ts, _kind, _ref, data in journal.events("risk.breaker", limit=1):
            if data.get("state") == "tripped":
                self.info = BreakerInfo(tripped=True, reason=data.get("reason", ""), since=ts)

    @property
    def tripped(self) -> bool:
        return self.info.tripped

    def reason(self) -> str | None:
        return self.info.reason if self.info.tripped else None

    def trip(self, reason: str, source: str = "monitor") -> bool:
        """Trip (journaled first); False when it was already tripped."""
        if self.info.tripped:
            return False
        now = self.clock.time()
        self.journal.append("risk.breaker", {"state": "tripped", "reason": reason, "source": source}, now)
        self.info = BreakerInfo(tripped=True, reason=reason, since=now)
        self.bus.publish(BreakerChanged(tripped=True, reason=reason, source=source, ts=now))
        self.bus.publish(AlertRaised(
            title="Circuit breaker tripped", message=f"{reason}; new opening orders are refused, working ones canceled",
            priority="critical", source="risk", ts=now, key="breaker-tripped",
        ))
        for callback in self.on_trip:
            try:
                callback(reason)
            except Exception:
                log.exception("breaker trip callback failed")
        return True

    def follow(self, data: dict[str, object], ts: float) -> None:
        """Apply a breaker change another process journaled (nothing is written again)."""
        state, reason = data.get("state"), str(data.get("reason", ""))
        if state == "tripped" and not self.info.tripped:
            self.info = BreakerInfo(tripped=True, reason=reason, since=ts)
            self.bus.publish(BreakerChanged(tripped=True, reason=reason, source=str(data.get("source", "")), ts=ts))
            for callback in self.on_trip:
                try:
                    callback(reason)
                except Exception:
                    log.exception("breaker trip callback failed")
        elif state == "reset" and self.info.tripped:
            self.info = BreakerInfo()
            self.bus.publish(BreakerChanged(tripped=False, reason=reason, source=str(data.get("source", "")), ts=ts))

    def _reset(self, who: str) -> None:
        now = self.clock.time()
        self.journal.append("risk.breaker", {"state": "reset", "reason": self.info.reason, "source": who}, now)
        old = self.info.reason
        self.info = BreakerInfo()
        self.bus.publish(BreakerChanged(tripped=False, reason=old, source=who, ts=now))
        self.bus.publish(AlertRaised(
            title="Circuit breaker reset", message=f"reset by {who} (was: {old}); opening orders are accepted again",
            priority="high", source="risk", ts=now, key="breaker-reset",
        ))


class _DayState(msgspec.Struct, kw_only=True):
    day: float = 0.0  # epoch seconds at which the day began
    start: Decimal = ZERO  # start-of-day equity
    high: Decimal = ZERO  # the day's equity high
    peak: Decimal = ZERO  # the all-time equity peak
    last: Decimal = ZERO  # the latest equity seen


_META = "risk.monitor"


class RiskMonitor:
    """Equity against the loss and drawdown limits; trips the breaker; builds ``RiskStatus``."""

    def __init__(
        self,
        *,
        portfolio: Portfolio,
        store: LimitStore,
        breaker: CircuitBreaker,
        risk: PreTradeRisk,
        journal: Journal,
        bus: Bus,
        clock: Clock,
        min_interval: float = 0.25,
        save_interval: float = 5.0,
        filtered: Callable[[], int] = lambda: 0,
    ) -> None:
        self.portfolio = portfolio
        self.store = store
        self.breaker = breaker
        self.risk = risk
        self.journal = journal
        self.bus = bus
        self.clock = clock
        self.min_interval = min_interval
        self.save_interval = save_interval
        self.filtered = filtered
        self.more_breaches: Callable[[], list[str]] = lambda: []  # other monitors' breaches (VaR: workstation.risk.var_limits)
        self.more_rows: Callable[[], tuple[RiskRow, ...]] = lambda: ()  # other limits' rows (workstation.risk.compliance)
        self._last_eval = float("-inf")
        self._last_save = float("-inf")
        self._warned: set[str] = set()
        self.state: _DayState | None = None
        self.readonly = False
        stored = journal.meta(_META)
        if stored:
            try:
                self.state = msgspec.json.decode(stored, type=_DayState)
            except msgspec.DecodeError:
                log.warning("risk monitor state in the journal is unreadable; starting the day afresh")

    # -- events in
    def on_quote(self, quote: Quote) -> None:
        if quote.symbol not in self.portfolio.book.positions:
            return
        t = self.clock.monotonic()
        if t - self._last_eval >= self.min_interval:
            self._last_eval = t
            self.evaluate()

    def on_fill(self, event: OrderFilled) -> None:
        self.evaluate()

    # -- the day
    def _roll(self, equity: Decimal) -> _DayState:
        now = self.clock.time()
        began = self.risk.days.start(now, self.store.limits)
        st = self.state
        if st is None:
            st = _DayState(day=began, start=equity, high=equity, peak=equity, last=equity)
            self.state = st
            self._save(force=True)
        elif st.day != began:
            opening = st.last if st.last > 0 else equity
            st.day, st.start, st.high = began, opening, max(opening, equity)
            self._warned.clear()
            self._save(force=True)
        return st

    def _save(self, force: bool = False) -> None:
        if self.readonly:  # a read-only view of the account (status with no owner) writes nothing
            return
        t = self.clock.monotonic()
        if force or t - self._last_save >= self.save_interval:
            self._last_save = t
            self.journal.set_meta(_META, msgspec.json.encode(self.state).decode())

    def flush(self) -> None:
        if self.state is not None:
            self._save(force=True)

    # -- measures
    def measures(self) -> dict[str, Decimal]:
        equity = self.portfolio.equity()
        st = self._roll(equity)
        changed = equity > st.high or equity > st.peak or equity != st.last
        st.high = max(st.high, equity)
        st.peak = max(st.peak, equity)
        st.last = equity
        if changed:
            self._save()
        day_pnl = equity - st.start
        held = self.portfolio.futures_margin() if self.portfolio.broker_account is None else None
        return {
            "maintenance": held[1] if held is not None else ZERO,
            "futures": Decimal(held is not None),
            "equity": equity,
            "start": st.start,
            "day_pnl": day_pnl,
            "loss": max(ZERO, -day_pnl),
            "intraday_dd": (st.high - equity) / st.high * HUNDRED if st.high > 0 else ZERO,
            "dd": (st.peak - equity) / st.peak * HUNDRED if st.peak > 0 else ZERO,
        }

    def loss_limit(self, start: Decimal) -> Decimal | None:
        """The daily loss limit in force in money: the tighter of the absolute and % limits."""
        lim = self.store.limits
        found = [x for x in (lim.max_daily_loss, start * lim.max_daily_loss_pct / HUNDRED if lim.max_daily_loss_pct is not None else None) if x is not None]
        return min(found) if found else None

    def _checks(self, m: dict[str, Decimal]) -> list[tuple[str, Decimal, Decimal, str]]:
        """(rule, used, limit, sentence) for each monitor limit that is set."""
        lim = self.store.limits
        out = []
        if lim.max_daily_loss is not None:
            out.append(("max_daily_loss", m["loss"], lim.max_daily_loss,
                        f"day loss {fmt_money(m['loss'])} exceeds max_daily_loss {fmt_money(lim.max_daily_loss)}"))
        if lim.max_daily_loss_pct is not None and m["start"] > 0:
            pct = m["loss"] / m["start"] * HUNDRED
            out.append(("max_daily_loss_pct", pct, lim.max_daily_loss_pct,
                        f"day loss {fmt_money(m['loss'])} is {fmt_pct(pct)} of start-of-day equity {fmt_money(m['start'])}, "
                        f"exceeding max_daily_loss_pct {plain(lim.max_daily_loss_pct)}%"))
        if lim.max_intraday_drawdown_pct is not None:
            out.append(("max_intraday_drawdown_pct", m["intraday_dd"], lim.max_intraday_drawdown_pct,
                        f"intraday drawdown {fmt_pct(m['intraday_dd'])} from the day's high exceeds "
                        f"max_intraday_drawdown_pct {plain(lim.max_intraday_drawdown_pct)}%"))
        if lim.max_drawdown_pct is not None:
            out.append(("max_drawdown_pct", m["dd"], lim.max_drawdown_pct,
                        f"drawdown {fmt_pct(m['dd'])} from the equity peak exceeds max_drawdown_pct {plain(lim.max_drawdown_pct)}%"))
        if lim.max_gross_leverage is not None:  # gross exposure / equity (workstation.risk.compliance)
            gross = sum((abs(e) for e in self.risk.exposures().values()), ZERO)
            lev = gross_leverage(gross, m["equity"])
            if gross > 0:
                used = lev if lev is not None else Decimal("Infinity")  # no equity behind it: beyond any limit
                out.append(("max_gross_leverage", used, lim.max_gross_leverage,
                            f"gross leverage {times(lev) if lev is not None else 'unbounded'} (gross exposure {fmt_money(gross)} "
                            f"on equity {fmt_money(m['equity'])}) exceeds max_gross_leverage {plain(lim.max_gross_leverage)}x"))
        if m["futures"]:  # a margin call: always watched while futures are held
            out.append(("margin_call", m["maintenance"], m["equity"],
                        f"margin call: equity {fmt_money(m['equity'])} is below the maintenance margin "
                        f"{fmt_money(m['maintenance'])} of the futures held"))
        return out

    def breaches(self) -> list[str]:
        """Sentences for every monitor limit breached right now."""
        return [text for _rule, used, limit, text in self._checks(self.measures()) if used > limit] + self.more_breaches()

    def evaluate(self) -> list[str]:
        """Check every monitor limit now; trip the breaker on a breach, warn when near."""
        m = self.measures()
        near = self.store.limits.near_pct
        breached = []
        margin_call = False
        for rule, used, limit, text in self._checks(m):
            if used > limit:
                breached.append(text)
                margin_call = margin_call or rule == "margin_call"
            elif limit > 0 and used * HUNDRED >= limit * near and rule not in self._warned:
                self._warned.add(rule)
                if rule == "margin_call":
                    title = "Margin warning"
                    message = (f"maintenance margin {fmt_money(used)} is {fmt_pct(used / limit * HUNDRED)} of equity "
                               f"{fmt_money(limit)}: a margin call comes when equity falls below it")
                else:
                    title = "Drawdown warning" if "drawdown" in rule else "Leverage warning" if "leverage" in rule else "Daily loss warning"
                    message = f"{rule.replace('_', ' ')}: {plain(used.quantize(Decimal('0.01')))} used of {plain(limit)} (near the limit)"
                self.bus.publish(AlertRaised(
                    title=title, message=message, priority="high", source="risk", ts=self.clock.time(), key=f"near-{rule}",
                ))
        if margin_call and "margin_call:breach" not in self._warned:
            self._warned.add("margin_call:breach")
            text = next(t for t in breached if t.startswith("margin call"))
            self.bus.publish(AlertRaised(
                title="Margin call", message=f"{text}: reduce the futures or add cash",
                priority="critical", source="risk", ts=self.clock.time(), key="margin-call",
            ))
        elif not margin_call:
            self._warned.discard("margin_call:breach")
        if breached:
            self._save(force=True)
            if self.breaker.trip(breached[0]):
                self.publish_status()
        return breached

    # -- reset
    def reset_breaker(self, *, confirmed: bool, who: str = "user") -> None:
        if not self.breaker.tripped:
            raise RiskError("the circuit breaker is not tripped")
        if not confirmed:
            raise RiskError("resetting the circuit breaker needs confirmation")
        still = self.breaches()
        if still:
            fix = "reduce the futures or add cash first" if still[0].startswith("margin call") else "raise the limit first"
            raise RiskError(f"cannot reset the circuit breaker while the breach persists: {still[0]} ({fix})")
        self._warned.clear()
        self.breaker._reset(who)
        self.publish_status()

    # -- status for the UI and `status`
    def status(self) -> RiskStatus:
        m = self.measures()
        lim = self.store.limits
        near = lim.near_pct
        loss_limit = self.loss_limit(m["start"])
        rows = [
            row("day loss", m["loss"], loss_limit, "$", near, f"day P&L {fmt_money(m['day_pnl'])}"),
            row("intraday drawdown", m["intraday_dd"], lim.max_intraday_drawdown_pct, "%", near),
            row("drawdown from peak", m["dd"], lim.max_drawdown_pct, "%", near),
            *self.risk.usage(),
            *self.more_rows(),
        ]
        _s, per_minute, _d = self.risk.rate_counts()
        return RiskStatus(
            ts=self.clock.time(), rows=tuple(rows), breaker=self.breaker.info, day_pnl=m["day_pnl"],
            daily_loss_limit=loss_limit, drawdown_pct=m["dd"], intraday_drawdown_pct=m["intraday_dd"],
            orders_per_minute=per_minute, trading_halted=lim.trading_halted, equity=m["equity"],
            start_of_day_equity=m["start"], filtered_quotes=self.filtered(),
        )

    def publish_status(self) -> RiskStatus:
        status = self.status()
        self.bus.publish(status)
        return status


async def cancel_opening_orders(
    working: Callable[[], list[Order]], portfolio: Portfolio, cancel: Callable[[str], Awaitable[object]]
) -> list[str]:
    """Cancel every working order that opens or grows a position; returns their ids."""
    from workstation.risk.checks import reducing

    done = []
    for order in list(working()):
        if not order.status.is_working:
            continue  # bracket children wait for their entry and go with it
        if order.role in ("take_profit", "stop_loss") and order.parent_id:
            continue  # a working bracket exit protects a filled entry (its OCO sibling may be mid-resize)
        if reducing(portfolio.qty(order.symbol), order.side, order.remaining):
            continue
        try:
            await cancel(order.id)
            done.append(order.id)
        except Exception as exc:  # an order that finished meanwhile, a broker error: report, go on
            log.warning("breaker could not cancel order %s: %s", order.id, exc)
    return done


def breaker_events(journal: Journal, limit: int = 20) -> list[dict[str, object]]:
    """The breaker's recent history from the journal, newest last."""
    return [{"ts": iso(ts), **data} for _seq, ts, _kind, _ref, data in journal.events("risk.breaker", limit=limit)]


def spawn_tracked(tasks: set[asyncio.Task[object]], coro: Awaitable[object]) -> None:
    """Run ``coro`` on the running loop, keeping a reference until it ends."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        log.warning("no running event loop: follow-up work skipped")
        if hasattr(coro, "close"):
            coro.close()  # type: ignore[union-attr]
        return
    task = loop.create_task(coro)  # type: ignore[arg-type]
    tasks.add(task)
    task.add_done_callback(tasks.discard)

