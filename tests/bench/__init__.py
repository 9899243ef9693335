"""Tests of the benchmarks' own logic (never timed)."""
