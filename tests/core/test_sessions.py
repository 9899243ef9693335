"""Exchange sessions (workstation.core.sessions): NYSE days, hours, holidays and early closes
from the calendar library in any year, CME futures, the FX week and 24/7 crypto."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from workstation.core import sessions
from workstation.core.sessions import is_open, next_open, regular_sessions, session_at, session_close, venue_of
from workstation.core.symbols import parse_symbol

NY = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")


def ny(*a: int) -> float:
    return datetime(*a, tzinfo=NY).timestamp()


def test_each_instrument_has_its_venue() -> None:
    assert [venue_of(parse_symbol(s)) for s in ("AAPL", "SPY", "AAPL-2026-12-18-200-C", "SPX")] == ["XNYS"] * 4
    assert venue_of(parse_symbol("ES-2026-12")) == "CME" and venue_of(parse_symbol("CL-2026-03")) == "CME"
    assert venue_of(parse_symbol("BTC/USD")) == "CRYPTO"
    assert venue_of(parse_symbol("EUR/USD")) == "FX"


def test_2028_nyse_holidays_and_the_thanksgiving_early_close() -> None:
    assert session_at("XNYS", ny(2028, 11, 22, 12)) == "regular"
    for hour in (5, 12, 18):  # Thanksgiving: closed all day, no pre- or post-market
        assert session_at("XNYS", ny(2028, 11, 23, hour)) == "closed"
    assert session_at("XNYS", ny(2028, 6, 19, 12)) == "closed"  # Juneteenth (a Monday)
    assert session_at("XNYS", ny(2028, 4, 14, 12)) == "closed"  # Good Friday
    assert session_at("XNYS", ny(2028, 12, 25, 12)) == "closed"  # Christmas
    # the day after: the regular session ends at 13:00 and post-market at 17:00
    assert session_at("XNYS", ny(2028, 11, 24, 12, 59, 59)) == "regular"
    assert session_at("XNYS", ny(2028, 11, 24, 13)) == "post"
    assert session_at("XNYS", ny(2028, 11, 24, 16, 59, 59)) == "post"
    assert session_at("XNYS", ny(2028, 11, 24, 17)) == "closed"
    assert session_close("XNYS", ny(2028, 11, 23, 10)) == ny(2028, 11, 24, 13)
    assert next_open("XNYS", ny(2028, 11, 23, 10)) == ny(2028, 11, 24, 9, 30)


@pytest.mark.parametrize("day", [(2025, 11, 28), (2026, 11, 27), (2027, 11, 26), (2029, 11, 23), (2031, 11, 28), (2040, 11, 23)])
def test_the_day_after_thanksgiving_closes_at_13_00_in_every_year(day: tuple[int, int, int]) -> None:
    assert session_at("XNYS", ny(*day, 12, 30)) == "regular"
    assert session_at("XNYS", ny(*day, 13, 30)) == "post"
    assert session_close("XNYS", ny(*day, 9)) == ny(*day, 13)


@pytest.mark.parametrize("day", [(2025, 12, 24), (2026, 12, 24), (2029, 12, 24)])
def test_christmas_eve_closes_early(day: tuple[int, int, int]) -> None:
    assert is_open("XNYS", ny(*day, 12, 59))
    assert not is_open("XNYS", ny(*day, 13, 0))
    assert is_open("XNYS", ny(*day, 13, 0), extended=True)


def test_pre_and_post_market_to_the_second_around_the_dst_changes() -> None:
    # 2028: clocks go forward on Sunday 12 March, back on Sunday 5 November
    for day in ((2028, 3, 10), (2028, 3, 13), (2028, 11, 3), (2028, 11, 6)):
        assert session_at("XNYS", ny(*day, 3, 59, 59)) == "closed"
        assert session_at("XNYS", ny(*day, 4, 0, 0)) == "pre"
        assert session_at("XNYS", ny(*day, 9, 29, 59)) == "pre"
        assert session_at("XNYS", ny(*day, 9, 30, 0)) == "regular"
        assert session_at("XNYS", ny(*day, 15, 59, 59)) == "regular"
        assert session_at("XNYS", ny(*day, 16, 0, 0)) == "post"
        assert session_at("XNYS", ny(*day, 19, 59, 59)) == "post"
        assert session_at("XNYS", ny(*day, 20, 0, 0)) == "closed"
    assert not is_open("XNYS", ny(2028, 3, 13, 8)) and is_open("XNYS", ny(2028, 3, 13, 8), extended=True)
    assert session_at("XNYS", ny(2028, 3, 11, 12)) == "closed"  # a Saturday
    assert next_open("XNYS", ny(2028, 3, 10, 17)) == ny(2028, 3, 13, 9, 30)  # over the weekend
    assert next_open("XNYS", ny(2028, 3, 13, 11)) == ny(2028, 3, 13, 11)  # open now


def test_the_year_end_is_crossed() -> None:
    assert next_open("XNYS", ny(2028, 12, 29, 17)) == ny(2029, 1, 2, 9, 30)  # 1 January 2029 is a holiday
    assert session_close("XNYS", ny(2028, 12, 31, 12)) == ny(2029, 1, 2, 16)
    spans = regular_sessions("XNYS", ny(2028, 12, 28, 0), ny(2029, 1, 4, 0))
    assert spans == [(ny(2028, 12, d, 9, 30), ny(2028, 12, d, 16)) for d in (28, 29)] + [
        (ny(2029, 1, d, 9, 30), ny(2029, 1, d, 16)) for d in (2, 3)
    ]


def test_cme_futures_holidays_and_halts() -> None:
    ct = lambda *a: datetime(*a, tzinfo=CHICAGO).timestamp()  # noqa: E731
    assert session_at("CME", ct(2028, 12, 25, 10)) == "closed"  # Christmas
    assert session_at("CME", ct(2028, 11, 23, 11, 59)) == "regular"  # Thanksgiving: trades until noon
    assert session_at("CME", ct(2028, 11, 23, 12, 30)) == "closed"
    assert session_at("CME", ct(2028, 12, 5, 16, 30)) == "closed"  # the daily halt
    assert session_at("CME", ct(2028, 12, 5, 17, 0)) == "regular"
    assert session_at("CME", ct(2028, 12, 9, 12)) == "closed"  # Saturday
    assert session_at("CME", ct(2028, 12, 10, 16, 59)) == "closed"
    assert session_at("CME", ct(2028, 12, 10, 17, 0)) == "regular"  # Sunday evening opens the week


def test_the_fx_week() -> None:
    assert session_at("FX", ny(2028, 12, 2, 12)) == "closed"  # Saturday
    assert session_at("FX", ny(2028, 12, 3, 16, 59, 59)) == "closed"
    assert session_at("FX", ny(2028, 12, 3, 17)) == "regular"  # Sunday 17:00
    assert session_at("FX", ny(2028, 12, 6, 3)) == "regular"
    assert session_at("FX", ny(2028, 12, 8, 16, 59, 59)) == "regular"
    assert session_at("FX", ny(2028, 12, 8, 17)) == "closed"  # Friday 17:00
    assert next_open("FX", ny(2028, 12, 9, 9)) == ny(2028, 12, 10, 17)
    assert session_close("FX", ny(2028, 12, 6, 3)) == ny(2028, 12, 8, 17)


def test_crypto_always_trades() -> None:
    for t in (ny(2028, 12, 25, 3), ny(2028, 11, 23, 12), ny(2030, 7, 6, 23, 59)):
        assert session_at("CRYPTO", t) == "regular" and is_open("CRYPTO", t)
        assert next_open("CRYPTO", t) == t and session_close("CRYPTO", t) is None


def test_an_unknown_venue_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown venue 'LSE'"):
        session_at("LSE", ny(2028, 1, 3, 12))


def test_a_year_is_built_once_then_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library is asked once per venue and year (off the hot path with ``prepare``); the
    lookups after it never build again."""
    t = ny(2033, 5, 2, 12)
    assert not sessions.ready("XNYS", t)
    sessions.prepare("XNYS", t)
    assert sessions.ready("XNYS", t)

    def no_build(venue: str, year: int) -> object:
        raise AssertionError(f"built {venue} {year} again")

    monkeypatch.setattr(sessions, "_build", no_build)
    kinds = {session_at("XNYS", t + 60.0 * i) for i in range(100_000)}  # about ten weeks
    assert kinds == {"pre", "regular", "post", "closed"}
