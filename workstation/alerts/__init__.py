"""Alerts: the alert engine (built-in alerts and user rules, journaled), the book faces
read, delivery channels (bell, apprise) off the trading path.

May import: ``core``."""
