"""Tests of the plugin API, discovery, the runner, sizing, the shipped plugins."""
