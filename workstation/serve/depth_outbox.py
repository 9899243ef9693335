"""One client's share of market depth on the socket: what it watches, and what it has not
been sent yet.

* Book views conflate per symbol, as quotes do: a client that falls behind gets the latest
  ``BookView`` of each symbol, never a backlog. Each view is cut to the levels the client
  asked for (the engine's book may hold more for another face).
* Prints queue in the order the engine published them. A client more than ``TRADES_MAX``
  prints behind loses the oldest undelivered ones (never the order of the rest); the loss is
  counted (``dropped``, in all, and told to the client in its next ``Trades``), and the
  client is not cut for it: order events and replies are what a slow client must not lose.

``EngineServer`` keeps one ``DepthOutbox`` per ``ClientLink`` and drains it in the link's
writer task; the engine only ever appends.
"""

from __future__ import annotations

from collections import deque

import msgspec

from workstation.core.book import BookView, TradePrint
from workstation.serve import protocol as P

__all__ = ["DepthOutbox"]


class DepthOutbox:
    """The symbols a client watches (symbol -> levels), its conflated views and queued prints."""

    __slots__ = ("books", "dropped", "levels", "prints", "trades_max", "_unsent_drops")

    def __init__(self, trades_max: int = P.TRADES_MAX) -> None:
        self.levels: dict[str, int] = {}
        self.books: dict[str, BookView] = {}
        self.prints: deque[TradePrint] = deque()
        self.trades_max = trades_max
        self.dropped = 0  # prints this client lost because it fell behind, in all
        self._unsent_drops = 0

    def want(self, symbols: list[str], levels: int) -> None:
        for sym in symbols:
            self.levels[sym] = levels

    def forget(self, symbols: list[str]) -> None:
        """No more views or prints of ``symbols`` (those not yet sent go too)."""
        for sym in symbols:
            self.levels.pop(sym, None)
            self.books.pop(sym, None)
        if self.prints and symbols:
            gone = set(symbols)
            self.prints = deque(p for p in self.prints if p.symbol not in gone)

    def book(self, view: BookView) -> bool:
        """Keep ``view`` as the symbol's latest (True) when the client watches it."""
        n = self.levels.get(view.symbol)
        if n is None:
            return False
        if len(view.bids) > n or len(view.asks) > n:
            view = msgspec.structs.replace(view, bids=view.bids[:n], asks=view.asks[:n])
        self.books[view.symbol] = view
        return True

    def trade(self, trade: TradePrint) -> bool:
        """Queue ``trade`` (True) when the client watches its symbol; past ``trades_max``
        undelivered the oldest goes."""
        if trade.symbol not in self.levels:
            return False
        if len(self.prints) >= self.trades_max:
            self.prints.popleft()
            self.dropped += 1
            self._unsent_drops += 1
        self.prints.append(trade)
        return True

    def take(self, enc: msgspec.json.Encoder) -> list[bytes]:
        """The lines to send now (prints first, then the views), emptying the outbox."""
        out = []
        if self.prints or self._unsent_drops:
            out.append(P.line(enc, P.Trades(trades=list(self.prints), dropped=self._unsent_drops)))
            self.prints.clear()
            self._unsent_drops = 0
        if self.books:
            out.append(P.line(enc, P.Books(books=list(self.books.values()))))
            self.books.clear()
        return out

    def clear(self) -> None:
        self.books.clear()
        self.prints.clear()
