"""The workstation's risk intents: the kill switch, the breaker reset, limit changes, alert rules.

Each goes to the engine (``EngineAPI.kill``, ``reset_breaker``, ``risk_set``,
``alert_rule``), which does what ``main.py kill``, ``risk reset-breaker``, ``risk set`` and
``alert add`` do, journal included. The kill switch and the reset ask first; a refusal is
one line (a notification and the Log).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workstation.api import IntentError, working
from workstation.ui.messages import IntentDone
from workstation.ui.panes.feed import AlertsPane
from workstation.ui.panes.risk import RiskPane

if TYPE_CHECKING:
    from workstation.ui.app import WorkstationApp


class RiskIntentsMixin:
    def action_kill(self: WorkstationApp) -> None:
        snap = self._snapshot or (self.engine.snapshot() if self._started else None)
        n_orders = len(working(self.engine.orders())) if self._started else 0
        n_pos = len(snap.positions) if snap is not None else 0
        question = (
            f"KILL SWITCH: cancel {n_orders} working order{'s' if n_orders != 1 else ''}, flatten {n_pos} "
            f"position{'s' if n_pos != 1 else ''} at market, stop every strategy and trip the circuit breaker?"
        )

        async def go() -> None:
            try:
                report = await self.engine.kill("kill switch from the workstation")
            except IntentError as exc:
                self.failed("kill", str(exc))
                return
            self._orders_dirty = self._account_dirty = True
            report = report or {}
            canceled, sent, errors = report.get("canceled", []), report.get("flatten_orders", []), report.get("errors", [])
            text = f"{len(canceled)} orders canceled, {len(sent)} flatten orders sent; circuit breaker tripped"
            self.log_line("error", f"KILLED: {text}")
            for err in errors:
                self.log_line("error", f"kill: {err}")
            self.notify(text + (f" ({len(errors)} problem(s): {errors[0]})" if errors else ""), title="Kill switch", severity="error")
            self.post_message(IntentDone("kill", text))

        self.confirm(question, "Kill switch", go)

    def ask_reset_breaker(self: WorkstationApp) -> None:
        snap = self._snapshot or (self.engine.snapshot() if self._started else None)
        reason = snap.breaker if snap is not None else None
        if not reason:
            self.failed("reset-breaker", "the circuit breaker is not tripped")
            return

        async def go() -> None:
            try:
                had = await self.engine.reset_breaker()
            except IntentError as exc:
                self.failed("reset-breaker", str(exc))
                return
            self._account_dirty = True
            self.log_line("info", f"circuit breaker reset (it had tripped on: {had})")
            self.notify(f"it had tripped on: {had}", title="Circuit breaker reset")
            self.post_message(IntentDone("reset-breaker", had))

        self.confirm(f"The breaker tripped on: {reason}. Reset it and accept opening orders again?", "Reset breaker", go)

    def set_limit(self: WorkstationApp, name: str, value: str) -> None:
        async def go() -> None:
            try:
                shown = await self.engine.risk_set(name, value)
            except IntentError as exc:
                self.failed("risk set", str(exc))
                return
            self.limit_changed(f"{name} = {shown}")

        self.run_worker(go(), group="intents", exit_on_error=False, name="risk set")

    def limit_changed(self: WorkstationApp, text: str) -> None:
        self._account_dirty = True
        self.log_line("info", f"{text} (journaled)")
        self.notify(f"{text} (journaled)", title="Risk limit")
        self.post_message(IntentDone("risk set", text))

    def add_alert(self: WorkstationApp, rule: str) -> None:
        async def go() -> None:
            try:
                added = await self.engine.alert_rule("add", rule)
            except IntentError as exc:
                self.failed("alert", str(exc))
                return
            text = f"alert {added['id']}: {added['text']}"
            self.log_line("info", text)
            self.notify(text, title="Alert rule added")
            self.post_message(IntentDone("alert", text))

        self.run_worker(go(), group="intents", exit_on_error=False, name="alert")

    def on_alerts_pane_ack(self: WorkstationApp, event: AlertsPane.Ack) -> None:
        async def go() -> None:
            try:
                done = await self.engine.alert_ack(event.ids)
            except IntentError as exc:
                self.failed("alert ack", str(exc))
                return
            self.main.query_one("#alerts", AlertsPane).mark_acked(done)
            self.log_line("info", f"acknowledged {len(done)} alert(s)")
            self.post_message(IntentDone("alert ack", ", ".join(str(i) for i in done)))

        self.run_worker(go(), group="alerts", exit_on_error=False, name="alert ack")

    def on_risk_pane_reset_breaker(self: WorkstationApp, event: RiskPane.ResetBreaker) -> None:
        self.ask_reset_breaker()

    def on_risk_pane_edit_limit(self: WorkstationApp, event: RiskPane.EditLimit) -> None:
        from workstation.ui.screens.limit_edit import LimitEditScreen

        def done(text: str | None) -> None:
            if text:
                self.limit_changed(text)

        self.push_screen(LimitEditScreen(event.prefill, self.engine.risk_set), done)
