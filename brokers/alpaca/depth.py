"""Market depth and the tape from Alpaca's data streams: the ``DepthFeed`` half of ``AlpacaBroker``.

Alpaca streams an order book for crypto only (``orderbooks`` on the crypto stream): a message
with ``"r": true`` is a reset (the whole book: ``"b"``/``"a"`` lists of ``{"p", "s"}``), the
first one after every subscribe; the others carry the levels that changed, a size of 0
removing the level. Alpaca numbers nothing, so ``AlpacaDepth`` numbers each symbol's messages
itself, consecutively: a reset becomes a ``BookSnapshot``, an update a ``BookDelta``; an
update before the symbol's first reset (nothing to apply it to) is dropped. A reconnected
stream subscribes again, and Alpaca's fresh reset starts the book over.

Trades come from the ``trades`` channel of both streams, the same one the adapter's quotes
use for their last price (alpaca-py keeps one handler per symbol and channel: the adapter's
``_on_data`` hands trades of a symbol on the tape to ``trade``). Crypto trades say who took
liquidity (``"tks"``: ``"B"`` buy, ``"S"`` sell); stock trades do not, so their aggressor is "".

Stocks have no book at Alpaca: ``subscribe_depth`` refuses one in a line, and so does any
symbol that is neither a stock nor a crypto pair.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from brokers.alpaca.translate import parse_time
from brokers.base import BrokerError
from workstation.core.book import BookDelta, BookLevel, BookSnapshot, TradePrint
from workstation.core.clock import Clock
from workstation.core.model import AssetClass, ModelError
from workstation.core.symbols import parse_symbol

__all__ = ["AlpacaDepth", "depth_symbols", "trade_symbols"]

log = logging.getLogger("brokers.alpaca")

BookSink = Callable[[BookSnapshot | BookDelta], None]
TradeSink = Callable[[TradePrint], None]
_AGGRESSOR = {"B": "buy", "S": "sell"}
_PLURAL = {"option": "options", "future": "futures", "forex": "currency pairs", "index": "indexes"}


def _instrument(symbol: str) -> Any:
    try:
        return parse_symbol(symbol)
    except ModelError as exc:
        raise BrokerError(str(exc)) from None


def depth_symbols(symbols: Iterable[str]) -> list[str]:
    """Alpaca's names of the crypto pairs in ``symbols``; BrokerError (one line) for any other."""
    out: list[str] = []
    for s in symbols:
        inst = _instrument(s)
        if inst.asset_class is AssetClass.EQUITY:
            raise BrokerError(f"{inst.symbol}: Alpaca sends no order book for stocks")
        if inst.asset_class is not AssetClass.CRYPTO:
            raise BrokerError(f"{inst.symbol}: Alpaca sends no order book for {_PLURAL.get(inst.asset_class.value, inst.asset_class.value)}")
        out.append(inst.symbol)
    return out


def trade_symbols(symbols: Iterable[str]) -> dict[str, set[str]]:
    """``symbols`` split by Alpaca data stream ("stocks", "crypto"); BrokerError for any other."""
    out: dict[str, set[str]] = {"stocks": set(), "crypto": set()}
    for s in symbols:
        inst = _instrument(s)
        if inst.asset_class is AssetClass.CRYPTO:
            out["crypto"].add(inst.symbol)
        elif inst.asset_class is AssetClass.EQUITY:
            out["stocks"].add(inst.symbol)
        else:
            raise BrokerError(f"{inst.symbol}: Alpaca streams no trades for {_PLURAL.get(inst.asset_class.value, inst.asset_class.value)}")
    return {k: v for k, v in out.items() if v}


def _levels(rows: Any) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(float(r["p"]), float(r["s"])) for r in rows or ())


class AlpacaDepth:
    """Which books and tapes are wanted, and the turning of Alpaca's messages into ours."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.on_book: BookSink = lambda m: None
        self.on_trade: TradeSink = lambda t: None
        self.books: set[str] = set()  # crypto pairs whose book is streamed
        self.tapes: dict[str, set[str]] = {"stocks": set(), "crypto": set()}
        self._seq: dict[str, int] = {}  # the last number given to a symbol's book message
        self._synced: set[str] = set()  # symbols whose reset has come since the subscribe

    def attach(self, on_book: BookSink, on_trade: TradeSink) -> None:
        self.on_book, self.on_trade = on_book, on_trade

    def taped(self, symbol: str) -> bool:
        return symbol in self.tapes["crypto"] or symbol in self.tapes["stocks"]

    def register(self, stream: Any, kind: str, on_trades: Callable[[dict], Any]) -> None:
        """Put this kind's books and tapes on a (new or running) alpaca-py stream's handlers."""
        if self.tapes[kind]:
            stream.subscribe_trades(on_trades, *sorted(self.tapes[kind]))
        if kind == "crypto" and self.books:
            self._synced.difference_update(self.books)  # a new subscription: wait for its reset
            stream.subscribe_orderbooks(self.on_orderbook, *sorted(self.books))

    def forget(self, symbols: Iterable[str]) -> None:
        for s in symbols:
            self.books.discard(s)
            self._synced.discard(s)

    # ------------------------------------------------------------------ messages
    def book_message(self, msg: dict) -> BookSnapshot | BookDelta | None:
        symbol = msg.get("S")
        if not symbol or symbol not in self.books:
            return None
        reset = bool(msg.get("r"))
        if not reset and symbol not in self._synced:
            return None  # an update with no book under it yet: the reset is on its way
        seq = self._seq.get(symbol, 0) + 1
        self._seq[symbol] = seq
        ts = parse_time(msg.get("t")) or self.clock.time()
        bids, asks = _levels(msg.get("b")), _levels(msg.get("a"))
        if reset:
            self._synced.add(symbol)
            bids = tuple(sorted((lv for lv in bids if lv.size > 0), key=lambda lv: -lv.price))
            asks = tuple(sorted((lv for lv in asks if lv.size > 0), key=lambda lv: lv.price))
            return BookSnapshot(symbol=symbol, ts=ts, seq=seq, bids=bids, asks=asks)
        return BookDelta(symbol=symbol, ts=ts, seq=seq, bids=bids, asks=asks)

    def trade_print(self, msg: dict) -> TradePrint:
        tid = msg.get("i")
        return TradePrint(
            symbol=str(msg["S"]), ts=parse_time(msg.get("t")) or self.clock.time(),
            price=float(msg["p"]), size=float(msg.get("s") or 0.0),
            aggressor=_AGGRESSOR.get(str(msg.get("tks") or ""), ""),  # type: ignore[arg-type]
            trade_id="" if tid is None else str(tid),
        )

    async def on_orderbook(self, msg: dict) -> None:
        try:
            book = self.book_message(msg)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("unreadable order book message from Alpaca (%s): %s", type(exc).__name__, str(msg)[:300])
            return
        if book is None:
            return
        try:
            self.on_book(book)
        except Exception:  # the engine's failure must not tear down the socket
            log.exception("handling the book of %s failed", book.symbol)

    def trade(self, msg: dict) -> None:
        try:
            tp = self.trade_print(msg)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("unreadable trade from Alpaca (%s): %s", type(exc).__name__, str(msg)[:300])
            return
        try:
            self.on_trade(tp)
        except Exception:  # the engine's failure must not tear down the socket
            log.exception("handling a trade of %s failed", tp.symbol)
