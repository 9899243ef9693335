"""The order book a face shows is the venue's book: snapshot plus deltas, gaps caught."""

from hypothesis import given
from hypothesis import strategies as st

from workstation.core.book import BookDelta, BookLevel, BookSnapshot, OrderBook, apply_all


def snap(seq, bids, asks, symbol="AAPL"):
    return BookSnapshot(symbol=symbol, ts=float(seq), seq=seq, bids=tuple(BookLevel(p, s) for p, s in bids),
                        asks=tuple(BookLevel(p, s) for p, s in asks))


def delta(seq, bids=(), asks=()):
    return BookDelta(symbol="AAPL", ts=float(seq), seq=seq, bids=tuple(BookLevel(p, s) for p, s in bids),
                     asks=tuple(BookLevel(p, s) for p, s in asks))


def test_levels_best_first_after_deltas():
    book = OrderBook("AAPL")
    assert book.state() == "stale"
    book.apply(snap(1, [(100.0, 5), (99.9, 7)], [(100.1, 3), (100.2, 9)]))
    assert book.apply(delta(2, bids=[(100.0, 0), (99.95, 4)], asks=[(100.05, 2)]))
    v = book.view(2)
    assert [lv.price for lv in v.bids] == [99.95, 99.9]
    assert [lv.price for lv in v.asks] == [100.05, 100.1]
    assert v.best_bid == 99.95 and v.best_ask == 100.05 and v.state == "ok" and v.seq == 2


def test_a_gap_makes_the_book_stale_until_a_snapshot():
    book = OrderBook("AAPL")
    book.apply(snap(1, [(100.0, 5)], [(100.1, 3)]))
    assert not book.apply(delta(3, bids=[(100.0, 1)]))  # 2 was lost
    assert book.state() == "stale" and book.size_at("bid", 100.0) == 5
    assert not book.apply(delta(4, bids=[(100.0, 2)]))  # still waiting for a snapshot
    assert book.apply(snap(5, [(100.0, 8)], [(100.1, 3)]))
    assert book.state() == "ok" and book.size_at("bid", 100.0) == 8


def test_loose_sequence_accepts_skips_but_never_old_messages():
    book = OrderBook("BTC/USDT", strict=False)
    book.apply(snap(10, [(1.0, 1)], [(2.0, 1)], symbol="BTC/USDT"))
    assert book.apply(delta(15, bids=[(1.5, 2)]))
    assert not book.apply(delta(12, bids=[(1.6, 2)]))
    assert book.best_bid == 1.5 and book.state() == "ok"


def test_crossed_and_locked_are_told_apart():
    book = OrderBook("AAPL")
    book.apply(snap(1, [(100.0, 5)], [(100.0, 3)]))
    assert book.state() == "locked"
    book.apply(delta(2, asks=[(100.0, 0), (99.9, 1)]))
    assert book.state() == "crossed" and book.view().state == "crossed"
    book.apply(delta(3, asks=[(99.9, 0)]))
    assert book.state() == "ok"  # one side empty: nothing to cross


prices = st.integers(min_value=1, max_value=40).map(lambda t: t / 4)
changes = st.lists(st.tuples(prices, st.integers(min_value=0, max_value=5).map(float)), max_size=6)


@given(st.lists(st.tuples(changes, changes), max_size=30))
def test_deltas_equal_the_book_rebuilt_from_scratch(updates):
    """However the levels change, the book equals a dict replay of the same changes."""
    book = OrderBook("AAPL")
    book.apply(snap(0, [], []))
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    msgs = []
    for i, (b, a) in enumerate(updates, start=1):
        msgs.append(delta(i, bids=b, asks=a))
        for side, ch in ((bids, b), (asks, a)):
            for p, s in ch:
                if s > 0:
                    side[p] = s
                else:
                    side.pop(p, None)
    assert apply_all(book, msgs) == len(updates)
    assert book.levels("bid") == tuple(BookLevel(p, bids[p]) for p in sorted(bids, reverse=True))
    assert book.levels("ask") == tuple(BookLevel(p, asks[p]) for p in sorted(asks))
    assert book.depth() == (len(bids), len(asks))
