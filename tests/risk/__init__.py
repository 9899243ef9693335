"""Tests of pre-trade checks, the breaker, the kill switch, data quality."""
