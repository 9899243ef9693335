"""Typed in-process publish/subscribe.

Handlers subscribe to an event *type* and are called synchronously, in subscription
order, for events of exactly that type (or a subclass registered through ``subscribe``
on the base). A handler that raises is logged and skipped: one bad handler never stops
the others, nor the publisher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[Any], None]


class Bus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = {}
        self._resolved: dict[type, tuple[Handler, ...]] = {}
        self.errors = 0

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Call ``handler`` for every published event of ``event_type`` (or a subclass).

        Returns a function that removes the subscription.
        """
        self._handlers.setdefault(event_type, []).append(handler)
        self._resolved.clear()

        def unsubscribe() -> None:
            handlers = self._handlers.get(event_type, [])
            if handler in handlers:
                handlers.remove(handler)
                self._resolved.clear()

        return unsubscribe

    def _resolve(self, event_type: type) -> tuple[Handler, ...]:
        handlers: list[Handler] = []
        for klass in event_type.__mro__:
            handlers.extend(self._handlers.get(klass, ()))
        resolved = tuple(handlers)
        self._resolved[event_type] = resolved
        return resolved

    def publish(self, event: object) -> None:
        handlers = self._resolved.get(type(event))
        if handlers is None:
            handlers = self._resolve(type(event))
        for handler in handlers:
            try:
                handler(event)
            except Exception:  # one bad handler must not stop the others
                self.errors += 1
                log.exception("bus handler %r failed on %s", handler, type(event).__name__)
