"""Synthetic input for measuring the workstation headless (bench/bench_ui.py)."""

from __future__ import annotations

from textual import events
from textual.app import App


def post_key(app: App, key: str) -> None:
    """Deliver a key press through the app's message queue, as a terminal would."""
    app.post_message(events.Key(key, None))
