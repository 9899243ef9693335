"""Market depth and the tape: the order book's wire types, ``OrderBook`` and ``TradePrint``.

A venue's book arrives as a ``BookSnapshot`` (every level it sends, each side best first)
followed by ``BookDelta`` updates (levels whose size changed; a size of 0 removes the
level). Each message carries the venue's sequence number ``seq``: a delta applies only to
the book whose ``seq`` it follows (``seq == book.seq + 1``, or any later number when the venue
numbers messages across symbols: ``strict=False``); a gap means updates were lost, and the
book is marked ``stale`` until the next snapshot (the adapter asks for one).

``OrderBook`` holds one symbol's book: a dict per side (price -> size), so applying a level
update costs a dict store, and the sorted levels are built only when asked (``view``), as a
``BookView`` of the best ``n`` levels each side. The engine publishes views conflated per
symbol (the latest wins), like quotes.

A book is **crossed** when its best bid is above its best ask and **locked** when they are
equal; ``OrderBook.state`` says which (``"ok"``, ``"locked"``, ``"crossed"``, ``"stale"``,
``"empty"``), and the data-quality monitor raises its badge from it.

Prices and sizes are floats: this is market data, like ``Quote``; a fill's price is money and
is made Decimal by whoever fills (the paper broker builds its levels in integer ticks).
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "BookDelta", "BookLevel", "BookSnapshot", "BookState", "BookView", "OrderBook", "TradePrint", "apply_all",
]

BookState = Literal["ok", "locked", "crossed", "stale", "empty"]


class BookLevel(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One price level: its price and the size resting there (shares, contracts, coins)."""

    price: float
    size: float


class BookSnapshot(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag="book"):
    """The whole book as the venue sends it: ``bids`` highest first, ``asks`` lowest first."""

    symbol: str
    ts: float
    seq: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]


class BookDelta(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag="book_delta"):
    """Levels that changed since ``seq - 1``: ``bids``/``asks`` hold (price, new size); size 0
    removes the level."""

    symbol: str
    ts: float
    seq: int
    bids: tuple[BookLevel, ...] = ()
    asks: tuple[BookLevel, ...] = ()


class BookView(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag="book_view"):
    """What a face shows: the best ``len(bids)``/``len(asks)`` levels, best first, at ``seq``."""

    symbol: str
    ts: float
    seq: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    state: BookState = "ok"

    @property
    def best_bid(self) -> float | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> float | None:
        return self.asks[0].price if self.asks else None


class TradePrint(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag="trade"):
    """One trade on the tape. ``aggressor``: the side that took liquidity ("buy" lifted the
    offer, "sell" hit the bid), "" when the venue does not say."""

    symbol: str
    ts: float
    price: float
    size: float
    aggressor: Literal["buy", "sell", ""] = ""
    trade_id: str = ""


class OrderBook:
    """One symbol's book, kept from a snapshot and its deltas.

    ``apply`` returns False (changing nothing) for a delta that does not follow the book's
    sequence: the book is then ``stale`` until a snapshot comes. ``strict=False`` accepts any
    later sequence number (venues whose numbers run across symbols or skip)."""

    __slots__ = ("_asks", "_bids", "seq", "stale", "strict", "symbol", "ts")

    def __init__(self, symbol: str, *, strict: bool = True) -> None:
        self.symbol = symbol
        self.strict = strict
        self.seq = -1
        self.ts = 0.0
        self.stale = True  # nothing until the first snapshot
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}

    def apply(self, msg: BookSnapshot | BookDelta) -> bool:
        if type(msg) is BookSnapshot:
            self._bids = {lv.price: lv.size for lv in msg.bids if lv.size > 0}
            self._asks = {lv.price: lv.size for lv in msg.asks if lv.size > 0}
            self.seq, self.ts, self.stale = msg.seq, msg.ts, False
            return True
        if self.stale or (msg.seq != self.seq + 1 if self.strict else msg.seq <= self.seq):
            if msg.seq > self.seq:
                self.stale = True  # a gap: wait for a snapshot
            return False
        _update(self._bids, msg.bids)
        _update(self._asks, msg.asks)
        self.seq, self.ts = msg.seq, msg.ts
        return True

    @property
    def best_bid(self) -> float | None:
        return max(self._bids) if self._bids else None

    @property
    def best_ask(self) -> float | None:
        return min(self._asks) if self._asks else None

    def state(self) -> BookState:
        if self.stale:
            return "stale"
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return "empty" if bid is None and ask is None else "ok"
        if bid > ask:
            return "crossed"
        return "locked" if bid == ask else "ok"

    def levels(self, side: Literal["bid", "ask"], n: int | None = None) -> tuple[BookLevel, ...]:
        """The best ``n`` levels of one side (all when ``n`` is None), best first."""
        book = self._bids if side == "bid" else self._asks
        prices = sorted(book, reverse=side == "bid")
        if n is not None:
            prices = prices[:n]
        return tuple(BookLevel(p, book[p]) for p in prices)

    def size_at(self, side: Literal["bid", "ask"], price: float) -> float:
        return (self._bids if side == "bid" else self._asks).get(price, 0.0)

    def depth(self) -> tuple[int, int]:
        """How many levels each side holds (bids, asks)."""
        return len(self._bids), len(self._asks)

    def view(self, n: int = 10) -> BookView:
        return BookView(
            symbol=self.symbol, ts=self.ts, seq=self.seq, bids=self.levels("bid", n), asks=self.levels("ask", n),
            state=self.state(),
        )


def _update(side: dict[float, float], levels: tuple[BookLevel, ...]) -> None:
    for lv in levels:
        if lv.size > 0:
            side[lv.price] = lv.size
        else:
            side.pop(lv.price, None)


def apply_all(book: OrderBook, messages: list[BookSnapshot | BookDelta]) -> int:
    """Apply messages in order; how many were applied (a gap stops nothing: later deltas are
    refused until a snapshot, which applies)."""
    return sum(1 for m in messages if book.apply(m))
