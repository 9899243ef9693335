"""Strategies: every instance with its state, symbols, allocation, P&L and trade count.

Keys on the selected instance: ``s`` start (or resume), ``x`` stop (its working orders are
canceled), ``p`` pause / resume, ``e`` edit its parameters (validated as typed; the error is
shown in the dialog and nothing changes until the values are valid; a running instance
restarts with the new values). Intents run as workers: a refusal is a notification and a
Log line, never a traceback.
"""

from __future__ import annotations

from textual.binding import Binding

from workstation.strategies.desk import StrategyRow
from workstation.ui.panes.format import signed
from workstation.ui.panes.table import Column, LiveTable, Row

STATE_ROLE = {"running": "up", "paused": "stale", "error": "down", "stopped": "muted", "created": "muted"}


class StrategiesPane(LiveTable):
    BINDINGS = [
        Binding("s", "start", "Start", id="strategies.start", tooltip="Start (or resume) the selected strategy"),
        Binding("x", "stop", "Stop", id="strategies.stop", tooltip="Stop the selected strategy and cancel its orders"),
        Binding("p", "pause", "Pause", id="strategies.pause", tooltip="Pause or resume the selected strategy"),
        Binding("e", "edit", "Edit params", id="strategies.edit", tooltip="Edit the selected strategy's parameters"),
    ]

    COLUMNS = [
        Column("name", "Strategy", 14, priority=9),
        Column("state", "State", 8, priority=9),
        Column("symbols", "Symbols", 12, priority=6),
        Column("alloc", "Alloc", 9, right=True, priority=4),
        Column("pnl", "P&L", 10, right=True, priority=8),
        Column("trades", "Trades", 6, right=True, priority=7),
        Column("message", "Last message", 20, priority=2, flexible=True),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(list(self.COLUMNS), id=id, classes=classes)
        self.empty = "No strategy yet: add a [[strategies]] table to the settings file (main.py strategies lists them)"

    def show(self, rows: list[StrategyRow]) -> None:
        out = []
        for r in rows:
            pnl, role = signed(r.pnl)
            out.append(Row(r.name, (
                (r.name, ""), (r.state, STATE_ROLE.get(r.state, "")), (" ".join(r.symbols), ""),
                (r.allocation or "—", "muted"), (pnl, role), (str(r.trades), ""), (r.message, "muted"),
            )))
        self.set_rows(out)

    # -- intents
    @property
    def desk(self):
        return self.app.engine.strategies  # type: ignore[attr-defined]

    def _selected(self) -> str | None:
        name = self.selected_key
        if name is None:
            self.app.bell()
        return name

    def _run(self, name: str, what: str, coro) -> None:
        async def job() -> None:
            await coro
            self._done(f"strategy {name} {what}")

        self.run_worker(job(), name=f"strategy {what}", group="strategies", exit_on_error=False)

    def _done(self, text: str) -> None:
        self.show(self.desk.rows())
        log_line = getattr(self.app, "log_line", None)
        if log_line is not None:
            log_line("info", text)

    def action_start(self) -> None:
        if (name := self._selected()) is not None:
            self._run(name, "started", self.desk.start(name))

    def action_stop(self) -> None:
        if (name := self._selected()) is not None:
            self._run(name, "stopped", self.desk.stop(name))

    def action_pause(self) -> None:
        from workstation.api import IntentError

        if (name := self._selected()) is None:
            return
        try:
            state = self.desk.pause(name)
        except IntentError as exc:
            self.app.notify(str(exc), title="Strategy", severity="warning")
            return
        self._done(f"strategy {name} {state}")

    def action_edit(self) -> None:
        from workstation.ui.screens.strategy_params import StrategyParamsScreen

        if (name := self._selected()) is None:
            return
        desk = self.desk

        def apply(changes: dict[str, str] | None) -> None:
            if changes:
                self._run(name, "parameters changed", desk.set_params(name, changes))

        self.app.push_screen(StrategyParamsScreen(name, desk.params(name), lambda raw: desk.check_params(name, raw)), apply)
