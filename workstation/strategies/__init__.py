"""Strategies: the plugin API (``api``; also importable as ``workstation.strategy``), the
runner and its workers, plugin discovery, the desk a face manages, sizing, the execution
algorithms' engine, per-strategy capital.

May import: ``core``, ``trading``, ``risk``, ``alerts``."""
