"""Research: backtests (the live parts replayed on history), their inputs and reports,
parameter sweeps, analytics, ``main.py realtime`` and its view.

May import: ``core``, ``trading``, ``risk``, ``alerts``, ``strategies``."""
