"""The help screen's content: every binding of the app, its panes and its dialogs, as mapped now."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding

from workstation.ui.commands import GRAMMAR_HELP

if TYPE_CHECKING:
    from workstation.ui.app import WorkstationApp
    from workstation.ui.screens.help import HelpScreen


def _pretty(keys: str) -> str:
    names = {"colon": ":", "slash": "/", "question_mark": "?", "left_square_bracket": "[", "right_square_bracket": "]",
             "enter": "Enter", "escape": "Esc", "delete": "Del", "pagedown": "PgDn", "pageup": "PgUp", "up": "↑", "down": "↓"}
    out = []
    for k in keys.split(","):
        k = k.strip()
        if k.startswith("ctrl+"):
            out.append("Ctrl+" + names.get(k[5:], k[5:].upper()))
        else:
            out.append(names.get(k, k))
    return " ".join(out)


def sections(app: WorkstationApp) -> list[tuple[str, list[tuple[str, str, str]]]]:
    from workstation.ui.panes.chart import ChartPane
    from workstation.ui.panes.cmdline import CommandLine
    from workstation.ui.panes.orders import OrdersPane
    from workstation.ui.panes.feed import AlertsPane
    from workstation.ui.panes.positions import PositionsPane
    from workstation.ui.panes.risk import RiskPane
    from workstation.ui.panes.strategies import StrategiesPane
    from workstation.ui.screens.strategy_params import StrategyParamsScreen
    from workstation.ui.panes.table import LiveTable
    from workstation.ui.panes.ticket import ChoiceField, TicketField, TicketPane
    from workstation.ui.panes.watchlist import WatchlistPane
    from workstation.ui.screens.confirm import ConfirmScreen
    from workstation.ui.screens.limit_edit import LimitEditScreen
    from workstation.ui.screens.review import ReviewScreen
    from workstation.ui.screens.chain import ChainScreen
    from workstation.ui.screens.risk import RiskScreen
    from workstation.ui.screens.depth import DepthScreen

    keymap = dict(app.settings.ui.bindings)

    def rows(bindings: list) -> list[tuple[str, str, str]]:
        out = []
        for b in bindings:
            if not isinstance(b, Binding):
                b = Binding(*b)
            keys = keymap.get(b.id, b.key) if b.id else b.key
            out.append((_pretty(keys), b.tooltip or b.description or b.action, b.id or ""))
        return out

    return [
        ("Everywhere", rows(app.BINDINGS) + [("Ctrl+P", "Command palette: every action", "app.palette"), ("Tab Shift+Tab", "Next / previous pane", "")]),
        ("Tables (watchlist, positions, orders, risk, alerts, log)", rows(LiveTable.BINDINGS)),
        ("Watchlist", rows(WatchlistPane.BINDINGS)),
        ("Orders", rows(OrdersPane.BINDINGS)),
        ("Positions", rows(PositionsPane.BINDINGS)),
        ("Risk", rows(RiskPane.BINDINGS)),
        ("Alerts", rows(AlertsPane.BINDINGS)),
        ("Risk limit editor", rows(LimitEditScreen.BINDINGS) + [("Enter", "Apply NAME VALUE (checked; the error is shown)", "")]),
        ("Ticket", rows(TicketField.BINDINGS) + rows(ChoiceField.BINDINGS[:2]) + [("Enter", "Review the order (then Enter sends)", "")] + [("", f"fields: {', '.join(f for _, f in TicketPane.FIELDS)}", "")]),
        ("Chart", rows(ChartPane.BINDINGS)),
        ("Strategies", rows(StrategiesPane.BINDINGS)),
        ("Strategy parameters", rows(StrategyParamsScreen.BINDINGS) + [("Enter", "Apply (checked first; the error is shown)", "")]),
        ("Command line", rows(CommandLine.BINDINGS) + [("Enter", "Run the command", "")]),
        ("Option chain (:chain AAPL, or o on a watchlist row)", rows(ChainScreen.BINDINGS) + [("↑ ↓ j k", "Move between strikes", "")]),
        ("Depth ladder (:depth AAPL, or D on a watchlist row; :tape AAPL: time and sales alone)", rows(DepthScreen.BINDINGS) + [("0-9 .", "Type the next order's quantity, then b or s", "")]),
        ("Risk screen (:risk, or p on the Risk pane)", rows(RiskScreen.BINDINGS) + [("↑ ↓ j k", "Move between rows (decomposition, stress)", ""), ("Enter", "On a heatmap tile: that position in the ticket", "")]),
        ("Order review", rows(ReviewScreen.BINDINGS)),
        ("Confirmations", rows(ConfirmScreen.BINDINGS)),
    ]


def help_screen(app: WorkstationApp) -> HelpScreen:
    from workstation.ui.screens.help import HelpScreen

    return HelpScreen(sections(app), GRAMMAR_HELP)
