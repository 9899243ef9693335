"""Tests of backtests (and their anchors against backtrader), analytics, sweeps, realtime."""
