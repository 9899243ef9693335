"""The command palette (Ctrl+P): every workstation action by name."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from workstation.ui.app import WorkstationApp


def actions(app: WorkstationApp) -> list[tuple[str, Callable[[], object], str]]:
    """(title, callback, help) for every action the workstation offers."""
    from workstation.ui.panes import PANES
    from workstation.ui.panes.chart import ChartPane
    from workstation.ui.panes.feed import AlertsPane
    from workstation.ui.panes.risk import RiskPane

    out: list[tuple[str, Callable[[], object], str]] = []
    for key, pane, title in PANES:
        out.append((f"Go to {title}", partial(app.action_focus_pane, pane), f"key {key}"))
    out += [
        ("Command line", app.action_command_line, "key :  (buy 100 AAPL, cancel all, ...)"),
        ("Filter rows", app.action_filter, "key /"),
        ("Help: every key", app.action_help, "key ?"),
        ("New order ticket", app.action_ticket, "key t"),
        ("Cancel all orders", partial(app.ask_cancel, None), "asks first"),
        ("Flatten all positions", partial(app.ask_flatten, None), "cancels working orders, closes at market; asks first"),
        ("Kill switch", app.action_kill, "key K: cancel every order, flatten every position, stop strategies, trip the breaker; asks first"),
        ("Reset the circuit breaker", app.ask_reset_breaker, "key R in the Risk pane; asks first"),
        ("Change a risk limit", lambda: app.on_risk_pane_edit_limit(RiskPane.EditLimit("")), "key e in the Risk pane (journaled)"),
        ("Portfolio risk: heatmap, VaR, correlation, stress", app.open_risk_screen, "key p in the Risk pane, or :risk"),
        ("Acknowledge every alert", lambda: app.on_alerts_pane_ack(AlertsPane.Ack(None)), "key A in the Alerts pane (journaled)"),
        ("Chart: line or candles", lambda: app.query_one(ChartPane).action_toggle_mode(), "key v in the chart"),
        ("Watchlist: next list", partial(app.cycle_watchlist, 1), "key ]"),
        ("Watchlist: previous list", partial(app.cycle_watchlist, -1), "key ["),
        ("Quit", app.action_quit, "key q"),
    ]
    for name in sorted(app.themes):
        out.append((f"Theme: {name}", partial(app.set_theme, name), "saved in the settings file"))
    return out


class WorkstationCommands(Provider):
    async def discover(self) -> Hits:
        for title, callback, help_text in actions(self.app):  # type: ignore[arg-type]
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in actions(self.app):  # type: ignore[arg-type]
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
