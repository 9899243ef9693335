"""One widget per pane of the workstation, and ``PANES``: the layout the number keys follow.

Panes import the domain (``workstation.core.model``, ``workstation.api``) and each other's
small helpers (``format``, ``table``), never ``workstation.ui.app``.
"""

# (number key, DOM id, title) in the order the number keys reach them
PANES = (
    ("1", "watchlist", "Watchlist"),
    ("2", "positions", "Positions"),
    ("3", "orders", "Orders"),
    ("4", "ticket", "Ticket"),
    ("5", "risk", "Risk"),
    ("6", "alerts", "Alerts"),
    ("7", "chart", "Chart"),
    ("8", "log", "Log"),
    ("9", "strategies", "Strategies"),
)
