"""Tests of the order manager, the portfolio, brackets, recovery after a crash."""
