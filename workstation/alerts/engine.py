"""Alerts: rules, the alert store, and what reaches the user.

Sources
-------
* Built-in: every ``AlertRaised`` on the bus (drawdown and daily-loss warnings, breaker
  tripped/reset, data quality, strategy errors...), order rejections (``OrderRejected``),
  fills (``OrderFilled``), broker disconnects and reconnects (``ConnectionState``).
* Once-only notices (``raise_once``): expiries and settlements, the day-before warning of
  assignment risk, futures roll reminders (``workstation.trading.settlement``).
* User rules, from the settings file (``[alerts] rules = [...]``), the workstation's
  command line and ``main.py alert add``, in the one grammar of ``workstation.core.alert_rules``.

A rule fires when its condition becomes true, then re-arms only once it has been false
again (a flapping price does not spam), and never within its cooldown. Built-in alerts
with the same key inside the cooldown are dropped (counted in ``suppressed``); order
rejections share a key per source, strategy, symbol and rule, so a strategy hammering a
limit raises one alert per cooldown (every rejection is still an event and journaled).

That state outlives the process: each journaled alert carries its de-duplication key
(``ref``) and a rule seen false after firing journals ``alert.armed``; the journal keeps
each key's last firing and re-arm in ``alert_state``, which an engine reads when it starts.
So a cooldown runs on across restarts, and a level rule that stayed true (``AAPL > 1``)
does not fire again at each start: it fires once more only after its condition has been
seen false (by this process or an earlier one) and then true again.

Managing rules: a rule is disabled and enabled again without being deleted, and edited (a
new condition or message) keeping its id and statistics; each change is an ``alert.rule``
event (``op``: add, rm, edit, disable, enable). Per-rule statistics (times fired, the last
firing, firings held back by the cooldown) are read from the journal when an engine starts:
``alert`` events keyed ``rule-ID``, and one ``alert.suppressed`` event each time a rule's
condition became true inside its cooldown (once per episode, not once per quote).

Indicator rules (``AAPL rsi14 < 30``, ``AAPL cross sma50``) read bars the engine builds from
its quotes (``workstation.core.bars``; 1-minute unless the rule says ``on 5m``) and are judged
when a bar closes, with the incremental indicators of ``workstation.core.indicators``; they
warm up on the bars seen since the engine started. A cross fires once per cross.

Every alert is journaled (``alert`` events; the id is the journal sequence number; fill
notices are not written twice, the fill is in the journal already), then
published as ``AlertNotice`` for the workstation's toast and Alerts pane, then handed to
the ``Dispatcher`` (``workstation.alerts.delivery``), which delivers off the trading path.
Acknowledging an alert is journaled too (``alert.ack``).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

import msgspec

from workstation.core.bars import BarBuilder
from workstation.core.bus import Bus
from workstation.core.clock import Clock
from workstation.core.journal import Journal
from workstation.core.indicators import EMA, RSI, SMA
from workstation.core.model import (
    AlertRaised,
    Bar,
    ConnectionState,
    OrderFilled,
    OrderRejected,
    Quote,
    plain,
    to_decimal,
)

from workstation.core.alert_rules import (  # the grammar, and the helpers evaluating it shares
    _NUMBERS,
    AlertRule,
    AlertRuleError,
    RuleStatus,
    _holds,
    indicator_series,
    _show_seconds,
    parse_rule,
    priority_rank,
)

if TYPE_CHECKING:
    from workstation.core.config import AlertSettings

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- alerts


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    ts: float
    title: str
    message: str
    priority: str = "normal"
    source: str = "engine"
    key: str | None = None
    acked: bool = False


class AlertNotice(msgspec.Struct, frozen=True, kw_only=True):
    """A new alert, after de-duplication and journaling: what the workstation shows."""

    alert: Alert


class AlertAcked(msgspec.Struct, frozen=True, kw_only=True):
    ids: tuple[int, ...]


class _Stats:
    __slots__ = ("fired", "last", "suppressed")

    def __init__(self) -> None:
        self.fired = 0
        self.last: float | None = None
        self.suppressed = 0


def _series(name: str) -> SMA | EMA | RSI:
    kind, n = indicator_series(name)
    return SMA(n) if kind == "sma" else EMA(n) if kind == "ema" else RSI(n)


class _BarState:
    """One indicator or cross rule's incremental series and the side it was last seen on."""

    __slots__ = ("a", "b", "side")

    def __init__(self, rule: AlertRule) -> None:
        self.a = None if rule.series in (None, "price") else _series(rule.series)
        self.b = _series(rule.other) if rule.other else None
        self.side = 0  # +1: a above b at the last bar, -1: below, 0: not known yet

    def update(self, close: float) -> tuple[float, float]:
        a = close if self.a is None else self.a.update(close)
        b = math.nan if self.b is None else self.b.update(close)
        return a, b


class Deliverer(Protocol):
    def deliver(self, alert: Alert) -> None: ...


class AlertEngine:
    def __init__(
        self,
        *,
        bus: Bus,
        journal: Journal,
        clock: Clock,
        settings: AlertSettings,
        dispatcher: Deliverer | None = None,
        pnl: Callable[[str | None], Decimal | None] = lambda symbol: None,
        keep: int = 500,
    ) -> None:
        self.bus = bus
        self.journal = journal
        self.clock = clock
        self.settings = settings
        self.dispatcher = dispatcher
        self.pnl = pnl
        self.recent: deque[Alert] = deque(maxlen=keep)
        self.suppressed = 0
        self._unjournaled = 0
        self._seen: dict[str, float] = {}
        self._armed: dict[str, bool] = {}
        self._history: dict[str, deque[tuple[float, Decimal]]] = {}
        self._connection: dict[str, str] = {}
        self.rules: dict[str, AlertRule] = {}
        self.disabled: set[str] = set()
        self._stats: dict[str, _Stats] = {}
        self._suppressing: set[str] = set()
        self._bars: dict[tuple[str, int], BarBuilder] = {}
        self._bar_state: dict[str, _BarState] = {}
        for n, text in enumerate(settings.rules, start=1):
            rule = parse_rule(text, f"s{n}", origin="settings")
            self.rules[rule.id] = rule
        self._load()

    def attach(self) -> None:
        self._unsubscribe = [
            self.bus.subscribe(AlertRaised, self.on_raised),
            self.bus.subscribe(OrderRejected, self.on_rejected),
            self.bus.subscribe(OrderFilled, self.on_fill),
            self.bus.subscribe(ConnectionState, self.on_connection),
            self.bus.subscribe(Quote, self.on_quote),
        ]

    def detach(self) -> None:
        """Stop listening (a session closing down: its own disconnect is not news)."""
        for unsubscribe in getattr(self, "_unsubscribe", ()):
            unsubscribe()
        self._unsubscribe = []

    def _load(self) -> None:
        for _seq, _ts, _kind, _ref, data in self.journal.events("alert.rule"):
            if data.get("op") == "add":
                try:
                    self.rules[data["id"]] = parse_rule(data["text"], data["id"])
                except AlertRuleError as exc:  # written by another version: skip it, say so
                    log.warning("journaled alert rule %s not loaded: %s", data.get("id"), exc)
            else:
                self._apply(data)
        acked: set[int] = set()
        for _seq, _ts, _kind, _ref, data in self.journal.events("alert.ack"):
            acked.update(int(i) for i in data.get("ids", ()))
        for key, (fired, armed, text) in self.journal.alert_state().items():
            rule = self.rules.get(key[len("rule-"):]) if key.startswith("rule-") else None
            if rule is not None and text not in (None, rule.text):
                continue  # a settings rule's id now names another rule: that one starts afresh
            self._seen[key] = fired
            if rule is not None and not armed:
                self._armed[rule.id] = False  # fired, and its condition has not been seen false since
        for seq, ts, _kind, _ref, data in self.journal.latest("alert", self.recent.maxlen or 500):
            self.recent.append(Alert(
                id=seq, ts=ts, title=data["title"], message=data["message"], priority=data.get("priority", "normal"),
                source=data.get("source", "engine"), key=data.get("key"), acked=seq in acked,
            ))
        self._load_stats()

    def _apply(self, data: dict) -> None:
        """A journaled rule change other than ``add`` (from this journal's past or another process)."""
        op, rule_id = data.get("op"), str(data.get("id"))
        if op == "rm":
            self.rules.pop(rule_id, None)
            self.disabled.discard(rule_id)
        elif op == "disable":
            self.disabled.add(rule_id)
        elif op == "enable":
            self.disabled.discard(rule_id)
        elif op == "edit" and rule_id in self.rules:
            try:
                self.rules[rule_id] = parse_rule(str(data["text"]), rule_id, origin=self.rules[rule_id].origin)
            except (AlertRuleError, KeyError) as exc:
                log.warning("journaled edit of alert rule %s not applied: %s", rule_id, exc)
                return
            self._armed.pop(rule_id, None)
            self._bar_state.pop(rule_id, None)

    def _load_stats(self) -> None:
        """Each rule's statistics, from the journal (a settings rule counts only the firings of
        the rule its id names now; an edited user rule keeps those of its earlier conditions)."""
        self._stats = {}
        for _seq, ts, kind, ref, data in self.journal.events("alert"):
            if not ref or not ref.startswith("rule-"):
                continue
            rule = self.rules.get(ref[len("rule-"):])
            if rule is None:
                continue
            if kind == "alert":
                if rule.origin == "settings" and data.get("rule") not in (None, rule.text):
                    continue
                st = self._stats.setdefault(rule.id, _Stats())
                st.fired += 1
                st.last = ts if st.last is None else max(st.last, ts)
            elif kind == "alert.suppressed":
                self._stats.setdefault(rule.id, _Stats()).suppressed += 1
    # -- rules
    def add_rule(self, text: str) -> AlertRule:
        """Parse, journal and arm a user rule; returns it with its id."""
        existing = [int(k[1:]) for k in self.rules if k.startswith("u") and k[1:].isdigit()]
        for _seq, _ts, _kind, _ref, data in self.journal.events("alert.rule"):
            if str(data.get("id", "")).startswith("u"):
                existing.append(int(data["id"][1:]))
        rule_id = f"u{max(existing, default=0) + 1}"
        rule = parse_rule(text, rule_id)
        self.journal.append("alert.rule", {"op": "add", "id": rule_id, "text": rule.text}, self.clock.time(), ref=rule_id)
        self.rules[rule_id] = rule
        return rule

    def remove_rule(self, rule_id: str) -> AlertRule:
        rule = self.rules.get(rule_id)
        if rule is None:
            raise AlertRuleError(f"no alert rule {rule_id!r} (see `alert list`)")
        if rule.origin == "settings":
            raise AlertRuleError(f"alert rule {rule_id} comes from the settings file ([alerts] rules): remove it there")
        self.journal.append("alert.rule", {"op": "rm", "id": rule_id}, self.clock.time(), ref=rule_id)
        del self.rules[rule_id]
        self._armed.pop(rule_id, None)
        self.disabled.discard(rule_id)
        self._bar_state.pop(rule_id, None)
        return rule

    def _known(self, rule_id: str) -> AlertRule:
        rule = self.rules.get(rule_id.strip())
        if rule is None:
            raise AlertRuleError(f"no alert rule {rule_id.strip()!r} (see `alert list`)")
        return rule

    def set_enabled(self, rule_id: str, enabled: bool) -> AlertRule:
        """Disable a rule without deleting it (it keeps its id and statistics), or enable it again; journaled."""
        rule = self._known(rule_id)
        if enabled != (rule.id in self.disabled):
            raise AlertRuleError(f"alert rule {rule.id} is already {'enabled' if enabled else 'disabled'}")
        op = "enable" if enabled else "disable"
        self.journal.append("alert.rule", {"op": op, "id": rule.id}, self.clock.time(), ref=rule.id)
        self._apply({"op": op, "id": rule.id})
        self._suppressing.discard(rule.id)
        return rule

    def edit_rule(self, rule_id: str, text: str) -> AlertRule:
        """Give a rule a new condition (or priority, cooldown, bars), keeping its id and
        statistics; it starts armed. Journaled; a settings-file rule is edited in that file."""
        old = self._known(rule_id)
        if old.origin == "settings":
            raise AlertRuleError(f"alert rule {old.id} comes from the settings file ([alerts] rules): edit it there")
        rule = parse_rule(text, old.id)
        if rule.text == old.text:
            raise AlertRuleError(f"alert rule {old.id} is already {old.text!r}")
        self.journal.append("alert.rule", {"op": "edit", "id": old.id, "text": rule.text}, self.clock.time(), ref=old.id)
        self._apply({"op": "edit", "id": old.id, "text": rule.text})
        self._suppressing.discard(old.id)
        return self.rules[old.id]

    def statuses(self) -> list[RuleStatus]:
        """Every rule in force or disabled, with its statistics (``alert list``, the rules view)."""
        out = []
        for rule in self.rules.values():
            st = self._stats.get(rule.id) or _Stats()
            out.append(RuleStatus(
                id=rule.id, text=rule.text, origin=rule.origin, enabled=rule.id not in self.disabled,
                fired=st.fired, last_fired=st.last, suppressed=st.suppressed, armed=self._armed.get(rule.id, True),
            ))
        return out

    def rule_state(self, rule_id: str) -> tuple[float | None, bool]:
        """When the rule last fired (None: never, as far as the journal knows) and whether it
        is armed (False: it fired and waits for its condition to be false before it can again)."""
        return self._seen.get(f"rule-{rule_id}"), self._armed.get(rule_id, True)

    def follow(self, kind: str, data: dict[str, object]) -> None:
        """Apply a rule change or an acknowledgement another process journaled."""
        if kind == "alert.rule" and data.get("op") == "add" and data.get("id") not in self.rules:
            try:
                rule_id = str(data["id"])
                self.rules[rule_id] = parse_rule(str(data["text"]), rule_id)
            except (AlertRuleError, KeyError) as exc:
                log.warning("alert rule from the journal not loaded: %s", exc)
        elif kind == "alert.rule" and data.get("op") != "add":
            self._apply(data)
        elif kind == "alert.ack":
            ids = {int(i) for i in data.get("ids", ())}  # type: ignore[union-attr]
            if any(a.id in ids and not a.acked for a in self.recent):
                self.recent = deque(
                    (msgspec.structs.replace(a, acked=True) if a.id in ids else a for a in self.recent), maxlen=self.recent.maxlen
                )
                self.bus.publish(AlertAcked(ids=tuple(sorted(ids))))

    # -- raising
    def raise_alert(
        self, title: str, message: str, *, priority: str = "normal", source: str = "engine",
        key: str | None = None, cooldown: float | None = None, journal: bool = True, rule: str | None = None,
    ) -> Alert | None:
        """Journal, publish and deliver an alert, unless the same key fired within the cooldown
        (in this process or, the journal says, an earlier one).

        ``journal=False`` is for notices whose event is journaled already (a fill): they get a
        negative id, are shown and delivered, and are not written twice. ``rule`` is the text
        of the rule that fired (kept with its state, see ``_load``).
        """
        priority_rank(priority)
        now = self.clock.time()
        dedup = key or f"{source}|{title}|{message}"
        wait = self.settings.cooldown if cooldown is None else cooldown
        last = self._seen.get(dedup)
        if last is not None and now - last < wait:
            self.suppressed += 1
            return None
        self._seen[dedup] = now
        if len(self._seen) > 10_000:
            self._seen = {k: t for k, t in self._seen.items() if now - t < wait}
        if journal:
            data = {"title": title, "message": message, "priority": priority, "source": source, "key": key}
            if rule is not None:
                data["rule"] = rule
            seq = self.journal.append("alert", data, now, ref=dedup)  # ref: the key its cooldown runs by
        else:
            self._unjournaled -= 1
            seq = self._unjournaled
        alert = Alert(id=seq, ts=now, title=title, message=message, priority=priority, source=source, key=key)
        self.recent.append(alert)
        self.bus.publish(AlertNotice(alert=alert))
        if self.dispatcher is not None:
            self.dispatcher.deliver(alert)
        return alert

    def raise_once(self, title: str, message: str, *, key: str, priority: str = "normal", source: str = "engine") -> Alert | None:
        """An alert that fires once per ``key`` for the life of the journal (an expiry notice,
        the day-before warning, a roll reminder): shown once, even when the engine that
        journaled its event stopped before showing it and the next one announces it again."""
        return self.raise_alert(title, message, priority=priority, source=source, key=key, cooldown=math.inf)

    def ack(self, ids: list[int] | None = None) -> list[int]:
        """Acknowledge alerts by id (all unacknowledged ones when ``ids`` is None); journaled."""
        wanted = {a.id for a in self.recent if not a.acked} if ids is None else set(ids)
        known = {a.id for a in self.recent}
        missing = sorted(wanted - known)
        if missing:
            raise AlertRuleError(f"no alert with id {missing[0]}")
        if not wanted:
            return []
        self.journal.append("alert.ack", {"ids": sorted(wanted)}, self.clock.time())
        self.recent = deque(
            (msgspec.structs.replace(a, acked=True) if a.id in wanted else a for a in self.recent), maxlen=self.recent.maxlen
        )
        self.bus.publish(AlertAcked(ids=tuple(sorted(wanted))))
        return sorted(wanted)

    def unacked(self) -> list[Alert]:
        return [a for a in self.recent if not a.acked]

    # -- built-in sources
    def on_raised(self, event: AlertRaised) -> None:
        if event.key and event.key.startswith("reject-"):
            return  # the order manager's twin of an OrderRejected event, which on_rejected handles
        self.raise_alert(event.title, event.message, priority=event.priority, source=event.source, key=event.key)

    def on_rejected(self, event: OrderRejected) -> None:
        """One alert per kind of refusal (same source, strategy, symbol and rule) per cooldown:
        a strategy hammering a limit raises one alert, not one per order."""
        o = event.order
        rule = _NUMBERS.sub("#", o.reason or "")
        self.raise_alert(
            "Order rejected", f"order {o.id} {o.side.value} {plain(o.qty)} {o.symbol}: {o.reason}",
            priority="high", source="oms", key=f"reject|{o.source}|{o.strategy or ''}|{o.symbol}|{rule}",
        )

    def on_fill(self, event: OrderFilled) -> None:
        f = event.fill
        self.raise_alert(
            "Fill", f"order {f.order_id} {f.side.value} {plain(f.qty)} {f.symbol} @ {plain(f.price)}",
            priority="low", source="oms", key=f"fill-{f.exec_id}", cooldown=0, journal=False,
        )

    def on_connection(self, event: ConnectionState) -> None:
        before = self._connection.get(event.broker)
        self._connection[event.broker] = event.state
        if event.state in ("disconnected", "reconnecting") and before == "connected":
            detail = f": {event.detail}" if event.detail else ""
            self.raise_alert("Broker disconnected", f"{event.broker} {event.state}{detail}", priority="high",
                             source="broker", key=f"conn-down-{event.broker}", cooldown=0)
        elif event.state == "connected" and before in ("disconnected", "reconnecting"):
            self.raise_alert("Broker reconnected", f"{event.broker} connected again", priority="normal",
                             source="broker", key=f"conn-up-{event.broker}", cooldown=0)

    def channel_problem(self, channel: str, problem: str, recovered: bool = False) -> None:
        """A delivery channel started or stopped failing (reported once per change)."""
        if recovered:
            self.raise_alert("Alert channel recovered", f"{channel} delivers again", priority="normal",
                             source="alerts", key=f"channel-ok-{channel}", cooldown=0)
        else:
            self.raise_alert("Alert channel failing", f"{channel}: {problem}", priority="high",
                             source="alerts", key=f"channel-fail-{channel}", cooldown=0)

    # -- user rules
    def on_quote(self, quote: Quote) -> None:
        if not self.rules:
            return
        for size in self._bar_sizes(quote.symbol):
            if quote.ts <= 0:  # a feed that does not stamp its quotes: the engine's clock does
                quote = msgspec.structs.replace(quote, ts=self.clock.time())
            builder = self._bars.get((quote.symbol, size))
            if builder is None:
                builder = self._bars[(quote.symbol, size)] = BarBuilder(quote.symbol, size)
            bar = builder.on_quote(quote)
            if bar is not None:
                self.on_bar(bar)
        now = self.clock.time()
        price_f = quote.last if quote.last > 0 else quote.mid
        price = to_decimal(price_f) if price_f > 0 else None
        if price is not None and quote.symbol in self._watched_moves():
            hist = self._history.setdefault(quote.symbol, deque())
            hist.append((now, price))
            horizon = max(r.window or 0 for r in self.rules.values() if r.kind == "move" and r.symbol == quote.symbol)
            while hist and hist[0][0] < now - horizon:
                hist.popleft()
        for rule in list(self.rules.values()):
            if rule.id in self.disabled:
                continue
            if rule.kind == "pnl":
                value = self.pnl(rule.symbol)
                if value is not None and (rule.symbol is None or rule.symbol == quote.symbol):
                    self._judge(rule, _holds(rule.op, value, rule.value), f"P&L {plain(value.quantize(Decimal('0.01')))}")
                continue
            if rule.symbol != quote.symbol:
                continue
            if rule.kind == "price" and price is not None:
                self._judge(rule, _holds(rule.op, price, rule.value), f"{rule.symbol} at {plain(price)}")
            elif rule.kind == "spread" and quote.bid > 0 and quote.ask > 0:
                spread = to_decimal(quote.ask) - to_decimal(quote.bid)
                self._judge(rule, _holds(rule.op, spread, rule.value), f"{rule.symbol} spread {plain(spread)}")
            elif rule.kind == "move" and price is not None:
                window = [p for t, p in self._history.get(rule.symbol or "", ()) if t >= now - (rule.window or 0)]
                if len(window) >= 2 and window[0] > 0:
                    move = (price / window[0] - 1) * 100
                    self._judge(rule, abs(move) >= rule.value,
                                f"{rule.symbol} moved {move.quantize(Decimal('0.01')):+}% in {_show_seconds(rule.window or 0)} (to {plain(price)})")

    def _watched_moves(self) -> set[str]:
        return {r.symbol for r in self.rules.values() if r.kind == "move" and r.symbol}

    def _bar_sizes(self, symbol: str) -> set[int]:
        return {r.bar for r in self.rules.values() if r.kind in ("indicator", "cross") and r.symbol == symbol}

    def on_bar(self, bar: Bar) -> None:
        """A closed bar: update the indicator and cross rules that read this symbol's bars of this size."""
        for rule in list(self.rules.values()):
            if rule.kind not in ("indicator", "cross") or rule.symbol != bar.symbol or rule.bar != bar.seconds:
                continue
            if rule.id in self.disabled:
                continue
            state = self._bar_state.get(rule.id)
            if state is None:
                state = self._bar_state[rule.id] = _BarState(rule)
            a, b = state.update(bar.close)
            if rule.kind == "indicator":
                if a == a:  # NaN while the indicator warms up
                    self._judge(rule, _holds(rule.op, Decimal(repr(a)), rule.value),
                                f"{rule.symbol} {rule.series} {a:.2f} (close {bar.close:g})")
                continue
            if a != a or b != b:
                continue
            side = 1 if a > b else -1 if a < b else 0
            crossed = side != 0 and state.side != 0 and side != state.side
            if side != 0:
                state.side = side
            if crossed and rule.direction in (None, "above" if side > 0 else "below"):
                what = "price" if rule.series == "price" else rule.series
                self._judge(rule, True, f"{rule.symbol} {what} crossed {'above' if side > 0 else 'below'} {rule.other} "
                                        f"(close {bar.close:g}, {rule.other} {b:.2f})")
            else:
                self._judge(rule, False, "")

    def _judge(self, rule: AlertRule, holds: bool, what: str) -> None:
        armed = self._armed.get(rule.id, True)
        if not holds:
            self._suppressing.discard(rule.id)
            if not armed:  # seen false after firing: re-armed, for later processes too
                self._armed[rule.id] = True
                self.journal.append("alert.armed", {"id": rule.id}, self.clock.time(), ref=f"rule-{rule.id}")
            return
        if not armed:
            return
        fired = self.raise_alert(
            f"Alert {rule.id}: {rule.text}", what, priority=rule.priority, source="rule", key=f"rule-{rule.id}",
            cooldown=rule.cooldown, rule=rule.text,
        )
        if fired is not None:
            self._armed[rule.id] = False
            self._suppressing.discard(rule.id)
            st = self._stats.setdefault(rule.id, _Stats())
            st.fired += 1
            st.last = fired.ts
        elif rule.id not in self._suppressing:  # held back by the cooldown: counted once per episode
            self._suppressing.add(rule.id)
            self.journal.append("alert.suppressed", {"id": rule.id}, self.clock.time(), ref=f"rule-{rule.id}")
            self._stats.setdefault(rule.id, _Stats()).suppressed += 1
