"""Strategies shipped with the product, one module each, loaded at run time by
``workstation.strategies.plugins`` (the same code runs in backtests, paper and live)."""
