"""``Memo``: values worked out once and looked up after (a quote's float price as a Decimal on
the tick, say), forgotten all at once when there are too many.

A plain ``dict`` underneath, so a hit is one ``get``; ``keep`` stores a new value and empties
the memo first when it has reached its ``limit`` (prices repeat, so it fills again with the
ones in use)."""

from __future__ import annotations

from typing import Any


class Memo(dict):  # type: ignore[type-arg]
    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: Any, value: Any) -> Any:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value


__all__ = ["Memo"]
