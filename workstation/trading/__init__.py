"""Trading: the order manager (the one door to a broker), the portfolio, the session that
wires one account's parts together, reconciliation with a broker, tax lots, and the status
documents every face shows.

May import: ``core``; its siblings ``risk`` and ``alerts`` (the session wires them in)."""
