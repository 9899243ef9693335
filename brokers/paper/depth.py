"""The paper market's order book and tape: deterministic depth around each quote.

**The book.** ``PaperBook`` is one symbol's book at one quote. Its touch IS the quote: the
best bid and ask, and their sizes, are the quote's ``bid``/``ask`` and ``bid_size``/``ask_size``.
Deeper levels (``LEVELS`` each side by default) lie ``gap`` ticks apart, where ``gap`` is one
tick for liquid names and a third of the spread (in ticks) for wide ones. Their sizes thin
away from the touch: level ``i`` holds about ``0.85**i`` of the touch's average size, times a
hash-drawn factor in [0.5, 1.5), in whole lots (at least one, at most the larger touch size:
option levels stay under the paper market's 500 contracts). The noise comes from the paper
market's splitmix hash keyed by ``(symbol, seed)`` and the quote's 0.25 s micro slot, so the
book, like the quote, is a pure function of ``(symbol, seed, t)``: it changes when the quote
changes, and two processes agree. Deep levels are built only when an order walks past the
touch or a face asks for the book.

What the broker's own orders take from a book is remembered with it (``take``), so a second
order in the same instant sees the thinner book; a new quote brings a new, replenished book.

**The tape.** ``tape(market, symbols, t0, t1)`` lists the trades printed in ``(t0, t1]``.
Prints happen on the micro-slot grid (every 0.25 s): in slot ``k`` (time ``k / 4``) a symbol
prints ``floor(rate / 4 + u)`` trades (``u`` a hash uniform), where ``rate`` (prints per
second) rises with the day's cumulative volume, ``0.25 + 0.35 * log10(1 + volume in lots)``,
capped at 3.6. Each print's aggressor is a hash coin; a buy prints at the slot's ask, a sell
at its bid; its size is a hash-drawn share of the displayed size on that side (whole lots, at
least one). Prices and sizes come from ``SimMarket.quotes`` at the slot's time, so the tape is
deterministic in ``(symbol, seed, t)`` and needs one vectorised quote call per slot for all
the symbols asked for. Trade ids are ``<slot>-<n>``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

import numpy as np

from workstation.core.book import BookLevel, BookView, TradePrint
from workstation.core.model import Instrument, Quote

__all__ = ["LEVELS", "MAX_TAPE_SECONDS", "PaperBook", "book_key", "tape", "tape_key"]

LEVELS = 20  # levels each side of a paper book
MICRO_HZ = 4  # the quotes' micro draws: four slots a second
MAX_TAPE_SECONDS = 10.0  # a step longer after the last prints only the last 10 s
_DECAY = 0.85
_MAX_RATE = 3.6
_LEVEL_INDEX = np.arange(LEVELS, dtype=np.uint64)
_LEVEL_INDEX_F = np.arange(LEVELS, dtype=np.float64)
_DECAY_POW = _DECAY**_LEVEL_INDEX_F

_U64 = np.uint64
_GOLDEN = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1


def _key(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def book_key(symbol: str, seed: int) -> int:
    """The hash key of a symbol's book noise."""
    return _key("book", symbol, seed)


def tape_key(symbol: str, seed: int) -> int:
    """The hash key of a symbol's tape."""
    return _key("tape", symbol, seed)


def _mix(x: int) -> int:
    """The splitmix64 finaliser on one Python integer."""
    x &= _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _mix_np(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> _U64(27))) * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def _unit(z: int) -> float:
    return (z >> 11) * (1.0 / 9007199254740992.0)


class PaperBook:
    """One symbol's paper book at one quote (see the module docstring).

    Each side is built on first use as columns: integer tick counts, float prices, float sizes,
    best first; ``taken`` holds what the broker's orders took at each (side, ticks)."""

    __slots__ = ("_asks", "_bids", "_p", "_q", "ask_t", "bid_t", "inst", "key", "n", "quote", "taken")

    def __init__(self, quote: Quote, inst: Instrument, key: int, n: int = LEVELS) -> None:
        self.quote, self.inst, self.key, self.n = quote, inst, key, min(max(int(n), 1), LEVELS)
        tick = Fraction(inst.tick_size)
        self._p, self._q = float(tick.numerator), float(tick.denominator)
        self.bid_t = round(quote.bid * self._q / self._p)
        self.ask_t = round(quote.ask * self._q / self._p)
        self._bids: tuple[list[int], list[float], list[float]] | None = None
        self._asks: tuple[list[int], list[float], list[float]] | None = None
        self.taken: dict[tuple[bool, int], float] = {}

    # -- levels

    def touch(self, bid: bool) -> tuple[int, float]:
        """(ticks, size) of the best level of one side, before what was taken."""
        q = self.quote
        return (self.bid_t, q.bid_size) if bid else (self.ask_t, q.ask_size)

    def levels(self, bid: bool) -> list[tuple[int, float]]:
        """Every level of one side, best first, before what was taken: (ticks, size)."""
        side = self._side(bid)
        return list(zip(side[0], side[2], strict=True))

    def _side(self, bid: bool) -> tuple[list[int], list[float], list[float]]:
        """(ticks, prices, sizes) of one side, best first, built on first use."""
        side = self._bids if bid else self._asks
        if side is None:
            side = self._build(bid)
            if bid:
                self._bids = side
            else:
                self._asks = side
        return side

    def _build(self, bid: bool) -> tuple[list[int], list[float], list[float]]:
        q, n = self.quote, self.n
        spread = max(self.ask_t - self.bid_t, 1)
        gap = max(1, spread // 3)
        lot = Fraction(self.inst.lot_size)
        ref = (q.bid_size + q.ask_size) / 2.0
        slot = math.floor(q.ts * MICRO_HZ)
        base = (self.key + slot * _GOLDEN + (0 if bid else n)) & _MASK
        u = (_mix_np(_LEVEL_INDEX[:n] + _U64(base)) >> _U64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
        top, size0 = self.touch(bid)
        deep = _LEVEL_INDEX_F[1:n]
        ticks = top - deep * gap if bid else top + deep * gap
        m = int(np.count_nonzero(ticks >= 1.0))  # a bid side stops above zero
        cap = max(1.0, math.floor(max(q.bid_size, q.ask_size) / float(lot)))
        lots = np.clip(np.floor(ref * _DECAY_POW[1:n] * (0.5 + u[1:n]) / float(lot)), 1.0, cap)[:m]
        ticks = ticks[:m]
        prices = (ticks * self._p / self._q).tolist()
        sizes = (lots * float(lot.numerator) / float(lot.denominator)).tolist()
        return (
            [top, *ticks.astype(np.int64).tolist()],
            [q.bid if bid else q.ask, *prices],
            [size0, *sizes],
        )

    @staticmethod
    def build_all(books: Sequence[PaperBook]) -> None:
        """Build both sides of many books in one vectorised pass (the same numbers as building
        each on first use: the arithmetic is elementwise, in the same order)."""
        unbuilt = [b for b in books if b._bids is None and b._asks is None and b.n == LEVELS]
        if not unbuilt:
            return
        n = LEVELS
        slots = [math.floor(b.quote.ts * MICRO_HZ) for b in unbuilt]
        base = np.array([(b.key + k * _GOLDEN) & _MASK for b, k in zip(unbuilt, slots, strict=True)], dtype=np.uint64)
        lot = [Fraction(b.inst.lot_size) for b in unbuilt]
        lot_f = np.array([float(x) for x in lot])[:, None]
        lot_num = np.array([float(x.numerator) for x in lot])[:, None]
        lot_den = np.array([float(x.denominator) for x in lot])[:, None]
        ref = np.array([(b.quote.bid_size + b.quote.ask_size) / 2.0 for b in unbuilt])[:, None]
        cap = np.maximum(1.0, np.floor(np.array([max(b.quote.bid_size, b.quote.ask_size) for b in unbuilt])[:, None] / lot_f))
        gap = np.array([max(1, max(b.ask_t - b.bid_t, 1) // 3) for b in unbuilt], dtype=np.float64)[:, None]
        p = np.array([b._p for b in unbuilt])[:, None]
        q = np.array([b._q for b in unbuilt])[:, None]
        deep = _LEVEL_INDEX_F[None, 1:n]
        decay = _DECAY_POW[None, 1:n]
        for bid in (True, False):
            start = base if bid else base + _U64(n)
            u = (_mix_np(start[:, None] + _LEVEL_INDEX[None, :n]) >> _U64(11)).astype(np.float64) * (
                1.0 / 9007199254740992.0
            )
            top = np.array([b.bid_t if bid else b.ask_t for b in unbuilt], dtype=np.float64)[:, None]
            ticks = top - deep * gap if bid else top + deep * gap
            lots = np.clip(np.floor(ref * decay * (0.5 + u[:, 1:n]) / lot_f), 1.0, cap)
            prices = (ticks * p / q).tolist()
            sizes = (lots * lot_num / lot_den).tolist()
            counts = np.count_nonzero(ticks >= 1.0, axis=1).tolist()
            itick = ticks.astype(np.int64).tolist()
            for i, book in enumerate(unbuilt):
                m = counts[i]
                top_t, size0 = book.touch(bid)
                side = (
                    [top_t, *itick[i][:m]],
                    [book.quote.bid if bid else book.quote.ask, *prices[i][:m]],
                    [size0, *sizes[i][:m]],
                )
                if bid:
                    book._bids = side
                else:
                    book._asks = side

    def price(self, ticks: int) -> float:
        """The float price of a tick count, as the paper market prints it."""
        if ticks == self.bid_t:
            return self.quote.bid
        if ticks == self.ask_t:
            return self.quote.ask
        return ticks * self._p / self._q

    def decimal_price(self, ticks: int) -> Decimal:
        return Decimal(ticks) * self.inst.tick_size

    def available(self, bid: bool, ticks: int, size: float) -> float:
        return size - self.taken.get((bid, ticks), 0.0)

    def take(self, bid: bool, ticks: int, size: float) -> None:
        key = (bid, ticks)
        self.taken[key] = self.taken.get(key, 0.0) + size

    def size_at(self, bid: bool, ticks: int) -> float:
        """The displayed size at ``ticks`` on one side (0 when no level is there)."""
        top, size = self.touch(bid)
        if ticks == top:
            return size
        if (ticks > top) if bid else (ticks < top):
            return 0.0  # better than the touch: nothing ahead
        for lv_ticks, lv_size in self.levels(bid):
            if lv_ticks == ticks:
                return lv_size
        return 0.0

    def side_view(self, bid: bool, n: int) -> tuple[BookLevel, ...]:
        """The best ``n`` levels of one side as market data, less what was taken."""
        ticks, prices, sizes = self._side(bid)
        if not self.taken:
            return tuple(map(BookLevel, prices[:n], sizes[:n]))
        out = []
        for tk, price, size in zip(ticks, prices, sizes, strict=True):
            left = self.available(bid, tk, size)
            if left > 0:
                out.append(BookLevel(price, left))
                if len(out) == n:
                    break
        return tuple(out)

    def view(self, n: int = LEVELS) -> BookView:
        q = self.quote
        return BookView(symbol=q.symbol, ts=q.ts, seq=0, bids=self.side_view(True, n), asks=self.side_view(False, n))


# ----------------------------------------------------------------------------- the tape


class _QuoteSource:
    """What ``tape`` needs of the market: ``quotes(symbols, t)`` and ``seed``."""

    seed: int

    def quotes(self, symbols: Sequence[str], t: float) -> list[Quote]: ...  # pragma: no cover


def _rate(volume: float, lot: float) -> float:
    return min(0.25 + 0.35 * math.log10(1.0 + max(volume, 0.0) / lot), _MAX_RATE)


def tape(
    market: _QuoteSource,
    symbols: Sequence[str],
    t0: float,
    t1: float,
    insts: dict[str, Instrument],
    keys: dict[str, int] | None = None,
    known: dict[float, list[Quote]] | None = None,
) -> list[TradePrint]:
    """Trades printed for ``symbols`` in ``(t0, t1]`` (see the module docstring), in time order
    (symbols in the order given within a slot). ``insts`` gives each symbol's lot; ``keys``
    caches ``tape_key``; ``known`` may hold quotes of all ``symbols`` already computed at a slot time."""
    if not symbols or t1 <= t0:
        return []
    keys = {} if keys is None else keys
    first = math.floor(t0 * MICRO_HZ) + 1
    last = math.floor(t1 * MICRO_HZ)
    out: list[TradePrint] = []
    for k in range(first, last + 1):
        ts = k / MICRO_HZ
        quotes = (known or {}).get(ts) or market.quotes(list(symbols), ts)
        for sym, q in zip(symbols, quotes, strict=True):
            key = keys.get(sym)
            if key is None:
                key = keys[sym] = tape_key(sym, market.seed)
            lot_f = Fraction(insts[sym].lot_size)
            lot = float(lot_f)
            h = _mix(key + k * _GOLDEN)
            count = math.floor(_rate(q.volume, lot) / MICRO_HZ + _unit(h))
            for j in range(count):
                z = _mix(h + (j + 1) * _GOLDEN)
                buy = bool(z & 1)
                shown = q.ask_size if buy else q.bid_size
                lots = max(1.0, math.floor(shown * _unit(z) ** 2 / lot))
                out.append(TradePrint(
                    symbol=sym, ts=ts, price=q.ask if buy else q.bid, size=lots * lot_f.numerator / lot_f.denominator,
                    aggressor="buy" if buy else "sell", trade_id=f"{k}-{j}",
                ))
    return out
