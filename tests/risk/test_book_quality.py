"""The data-quality monitor hears the engine's order books: crossed and locked books raise the
quote badges (a clean quote does not take them down), a sequence gap shows ``gap`` until the
healing snapshot, and a gap in bars flagged meanwhile stays."""

from workstation.core.bus import Bus
from workstation.core.clock import SimClock
from workstation.core.model import AlertRaised, Bar, Quote
from workstation.risk.dataquality import DataQualityMonitor, QualityChanged


def monitor():
    bus, clock = Bus(), SimClock(1_790_000_000.0)
    raised: list[AlertRaised] = []
    changes: list[QualityChanged] = []
    bus.subscribe(AlertRaised, raised.append)
    bus.subscribe(QualityChanged, changes.append)
    return DataQualityMonitor(lambda q: None, bus, clock), clock, raised, changes


def clean_quote(clock, symbol="AAPL"):
    return Quote(symbol=symbol, bid=100.0, ask=100.02, last=100.01, ts=clock.time())


def test_a_crossed_book_raises_the_crossed_badge_once_and_a_clean_quote_keeps_it_until_the_book_is_clean():
    m, clock, raised, changes = monitor()
    m.on_book_state("AAPL", "crossed")
    m.on_book_state("AAPL", "crossed")
    assert m.badges("AAPL") == ("crossed",)
    assert [a.title for a in raised] == ["Crossed book"]
    m.on_quote(clean_quote(clock))
    assert m.badges("AAPL") == ("crossed",)
    m.on_book_state("AAPL", "locked")
    assert m.badges("AAPL") == ("locked",)
    assert raised[-1].title == "Locked book"
    m.on_book_state("AAPL", "ok")
    assert m.badges("AAPL") == ()
    assert [c.badges for c in changes] == [("crossed",), (), ("locked",), ()]


def test_a_book_gap_shows_gap_until_the_snapshot_heals_it_but_a_gap_in_bars_since_stays():
    m, clock, raised, _ = monitor()
    m.on_book_state("AAPL", "stale")
    assert m.badges("AAPL") == ("gap",) and raised[-1].title == "Gap in book"
    m.on_book_state("AAPL", "ok")
    assert m.badges("AAPL") == ()
    m.on_book_state("AAPL", "stale")
    clock.advance(5)
    m.on_bar(Bar(symbol="AAPL", ts=clock.time() - 300, seconds=60, open=1, high=1, low=1, close=1, volume=1))
    m.on_bar(Bar(symbol="AAPL", ts=clock.time(), seconds=60, open=1, high=1, low=1, close=1, volume=1))  # 4 bars missing
    m.on_book_state("AAPL", "ok")
    assert m.badges("AAPL") == ("gap",)  # the bars' gap is still news
