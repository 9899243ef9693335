"""Risk: the pre-trade checks (``checks``), the breaker and its monitors, the kill switch,
data quality.

May import: ``core``; its sibling ``trading`` (portfolio, order manager)."""
