"""Tests of the domain, the journal and its migrations, indicators."""
