"""App-level messages: what the workstation did with an intent (for the log and for tests)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from workstation.core.model import Order


@dataclass
class OrderSent(Message):
    """An order went through the engine (its status says whether it was accepted)."""

    order: Order


@dataclass
class IntentDone(Message):
    """A cancel, replace, flatten or watchlist change was carried out."""

    action: str
    detail: str


@dataclass
class IntentFailed(Message):
    """The engine (or the input) refused an intent; ``message`` is shown inline and logged."""

    action: str
    message: str


@dataclass
class ThemeChanged(Message):
    name: str
