"""A paper broker with a scripted order book and tape: a ``DepthFeed`` the test drives.

``ScriptedDepthBroker`` is a ``SimBroker`` (quotes, orders, fills as usual) that also speaks
``DepthFeed``: it records every depth and trades (un)subscribe, and the test pushes book
messages and prints through the engine's sinks with ``push_snapshot``, ``push_delta`` and
``push_trade`` (numbered per symbol like a venue without sequence numbers; ``push_delta(..., lost=True)``
consumes a number without sending, a gap). ``snapshot_on_subscribe`` makes every
``subscribe_depth`` answer with a snapshot of the book the fake holds, as adapters do after
a resubscribe. Symbols in ``refuse`` raise ``BrokerError`` on subscribe.
"""

from __future__ import annotations

from brokers.base import BrokerError
from brokers.paper.broker import SimBroker
from workstation.core.book import BookDelta, BookLevel, BookSnapshot, TradePrint

Levels = list[tuple[float, float]]


class ScriptedDepthBroker(SimBroker):
    def __init__(self, *args, snapshot_on_subscribe: bool = False, refuse: tuple[str, ...] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.snapshot_on_subscribe = snapshot_on_subscribe
        self.refuse = set(refuse)
        self.calls: list[tuple[str, tuple[str, ...], int | None]] = []  # (what, symbols, levels)
        self.depth_subs: dict[str, int] = {}
        self.trade_subs: set[str] = set()
        self._fake_seq: dict[str, int] = {}
        self._fake_book: dict[str, tuple[dict[float, float], dict[float, float]]] = {}
        self._fake_on_book = self._fake_on_trade = None

    # -- DepthFeed
    def attach_depth(self, on_book, on_trade) -> None:
        self._fake_on_book, self._fake_on_trade = on_book, on_trade

    async def subscribe_depth(self, symbols: list[str], levels: int = 20) -> None:
        bad = [s for s in symbols if s in self.refuse]
        if bad:
            raise BrokerError(f"{bad[0]}: the venue refuses its book")
        self.calls.append(("subscribe_depth", tuple(symbols), levels))
        for sym in symbols:
            self.depth_subs[sym] = levels
            if self.snapshot_on_subscribe and sym in self._fake_book:
                bids, asks = self._fake_book[sym]
                self.push_snapshot(sym, sorted(bids.items(), reverse=True), sorted(asks.items()))

    async def unsubscribe_depth(self, symbols: list[str]) -> None:
        self.calls.append(("unsubscribe_depth", tuple(symbols), None))
        for sym in symbols:
            self.depth_subs.pop(sym, None)

    async def subscribe_trades(self, symbols: list[str]) -> None:
        self.calls.append(("subscribe_trades", tuple(symbols), None))
        self.trade_subs.update(symbols)

    async def unsubscribe_trades(self, symbols: list[str]) -> None:
        self.calls.append(("unsubscribe_trades", tuple(symbols), None))
        self.trade_subs.difference_update(symbols)

    # -- what the test pushes
    def _fake_next(self, symbol: str) -> int:
        self._fake_seq[symbol] = self._fake_seq.get(symbol, 0) + 1
        return self._fake_seq[symbol]

    def push_snapshot(self, symbol: str, bids: Levels = (), asks: Levels = ()) -> BookSnapshot:
        """Send the whole book (bids highest first, asks lowest first)."""
        self._fake_book[symbol] = (dict(bids), dict(asks))
        msg = BookSnapshot(
            symbol=symbol, ts=self.clock.time(), seq=self._fake_next(symbol),
            bids=tuple(BookLevel(p, s) for p, s in bids), asks=tuple(BookLevel(p, s) for p, s in asks),
        )
        if self._fake_on_book is not None:
            self._fake_on_book(msg)
        return msg

    def push_delta(self, symbol: str, bids: Levels = (), asks: Levels = (), *, lost: bool = False) -> BookDelta:
        """Send changed levels (size 0 removes); ``lost``: number it but never deliver it (a gap)."""
        held_bids, held_asks = self._fake_book.setdefault(symbol, ({}, {}))
        for side, levels in ((held_bids, bids), (held_asks, asks)):
            for p, s in levels:
                if s > 0:
                    side[p] = s
                else:
                    side.pop(p, None)
        msg = BookDelta(
            symbol=symbol, ts=self.clock.time(), seq=self._fake_next(symbol),
            bids=tuple(BookLevel(p, s) for p, s in bids), asks=tuple(BookLevel(p, s) for p, s in asks),
        )
        if not lost and self._fake_on_book is not None:
            self._fake_on_book(msg)
        return msg

    def push_trade(self, symbol: str, price: float, size: float, aggressor: str = "", trade_id: str = "") -> TradePrint:
        msg = TradePrint(symbol=symbol, ts=self.clock.time(), price=price, size=size, aggressor=aggressor, trade_id=trade_id)
        if self._fake_on_trade is not None:
            self._fake_on_trade(msg)
        return msg
