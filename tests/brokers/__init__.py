"""Tests of the adapters against loopback fakes that speak each broker's wire protocol, and the paper market."""
