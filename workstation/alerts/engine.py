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

from workstation.core.bus import Bus
from workstation.core.clock import Clock
from workstation.core.journal import Journal
from workstation.core.model import (
    AlertRaised,
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
    _holds,
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
            elif data.get("op") == "rm":
                self.rules.pop(data["id"], None)
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
        return rule

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
        elif kind == "alert.rule" and data.get("op") == "rm":
            self.rules.pop(str(data.get("id")), None)
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

    def _judge(self, rule: AlertRule, holds: bool, what: str) -> None:
        armed = self._armed.get(rule.id, True)
        if not holds:
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
