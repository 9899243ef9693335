"""Tests of alert rules and delivery."""
