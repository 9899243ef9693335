"""Spreads from a few words, and what they can make or lose (hand-computed figures)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.core.model import Leg, Side
from workstation.trading.payoff import analyze
from workstation.trading.spreads import SpreadError, effective_legs, parse_phrase, recognize

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc).timestamp()


def figures(phrase: str, side: Side, qty: int, price: str | None, quotes=None, spot=None):
    spread = parse_phrase(phrase.split())
    return analyze(spread.legs, side, D(qty), None if price is None else D(price), description=spread.describe(),
                   quotes=quotes or {}, spot=spot, now=NOW)


def legs(phrase: str) -> list[tuple[str, str, int]]:
    return [(leg.symbol, leg.side.value, leg.ratio) for leg in parse_phrase(phrase.split()).legs]


def test_each_kind_builds_the_legs_of_one_unit_bought():
    assert legs("AAPL 2026-12-18 200/210 call vertical") == [
        ("AAPL-2026-12-18-200-C", "buy", 1), ("AAPL-2026-12-18-210-C", "sell", 1)]
    assert legs("aapl 2026-12-18 200/210 put vertical") == [
        ("AAPL-2026-12-18-210-P", "buy", 1), ("AAPL-2026-12-18-200-P", "sell", 1)]
    assert legs("AAPL 2026-12-18 230 straddle") == [("AAPL-2026-12-18-230-C", "buy", 1), ("AAPL-2026-12-18-230-P", "buy", 1)]
    assert legs("AAPL 2026-12-18 220/240 strangle") == [("AAPL-2026-12-18-220-P", "buy", 1), ("AAPL-2026-12-18-240-C", "buy", 1)]
    assert legs("AAPL 2026-12-18 200/210/220 call butterfly") == [
        ("AAPL-2026-12-18-200-C", "buy", 1), ("AAPL-2026-12-18-210-C", "sell", 2), ("AAPL-2026-12-18-220-C", "buy", 1)]
    assert legs("SPY 2026-12-18 590/600/610/620 iron condor") == [
        ("SPY-2026-12-18-590-P", "sell", 1), ("SPY-2026-12-18-600-P", "buy", 1),
        ("SPY-2026-12-18-610-C", "buy", 1), ("SPY-2026-12-18-620-C", "sell", 1)]
    assert legs("AAPL 2026-12-18/2027-01-15 230 call calendar") == [
        ("AAPL-2026-12-18-230-C", "sell", 1), ("AAPL-2027-01-15-230-C", "buy", 1)]
    assert legs("ES 2026-12/2027-03 calendar") == [("ES-2026-12", "buy", 1), ("ES-2027-03", "sell", 1)]
    assert legs("ES-2026-12/ES-2027-03 calendar") == [("ES-2026-12", "buy", 1), ("ES-2027-03", "sell", 1)]
    assert legs("legs +AAPL-2026-12-18-200-C -2 aapl-2026-12-18-210-c") == [
        ("AAPL-2026-12-18-200-C", "buy", 1), ("AAPL-2026-12-18-210-C", "sell", 2)]


@pytest.mark.parametrize(("phrase", "words"), [
    ("AAPL 2026-12-18 210/200 call vertical", "must go up"),
    ("AAPL 2026-12-18 200/210 vertical", "needs call or put"),
    ("AAPL 2026-12-18 200/210/220 call vertical", "takes 2 strikes"),
    ("AAPL 2026-12-18 230 call straddle", "takes no call or put"),
    ("AAPL 2026-12-18 200/210 call", "name the spread's kind"),
    ("AAPL 2026-13-18 200/210 call vertical", "not a calendar date"),
    ("AAPL 2027-01-15/2026-12-18 230 call calendar", "front first"),
    ("AAPL 2026-12-18 230 call calendar", "two expiries"),
    ("ES-2027-03/ES-2026-12 calendar", "front first"),
    ("ES-2026-12/NQ-2027-03 calendar", "share one underlying"),
    ("legs +AAPL-2026-12-18-200-C -MSFT-2026-12-18-210-C", "share one underlying"),
    ("legs +AAPL-2026-12-18-200-C AAPL-2026-12-18-210-C", "must start with + (buy) or - (sell)"),
    ("legs +AAPL -MSFT", "not an option or a future"),
    ("BTC/USD 2026-12-18 200/210 call vertical", "not a stock, ETF or index"),
    ("AAPL 2026-12-18 200/210 call iron", "iron condor"),
    ("AAPL 2026-12-18 abc call vertical", "strikes"),
])
def test_bad_phrases_say_what_is_wrong_in_one_line(phrase, words):
    with pytest.raises(SpreadError) as err:
        parse_phrase(phrase.split())
    assert words in str(err.value) and "\n" not in str(err.value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.sampled_from(["AAPL", "ES", "2026-12-18", "2026-12-18/2027-01-15", "2026-12/2027-03", "200/210", "230",
                     "call", "put", "vertical", "iron", "condor", "calendar", "straddle", "legs", "+AAPL-2026-12-18-200-C",
                     "-2", "0/0", "ES-2026-12/ES-2027-03", "butterfly", "1e9/1e10", "-1/2"]),
    st.text(max_size=12)), max_size=8))
def test_any_phrase_is_a_spread_or_one_line_error(words):
    try:
        spread = parse_phrase(words)
    except SpreadError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert 2 <= len(spread.legs) <= 4


def test_call_vertical_bought_at_3_10():
    f = figures("AAPL 2026-12-18 200/210 call vertical", Side.BUY, 1, "3.10")
    assert (f.max_profit, f.max_loss, f.breakevens, f.cash) == (D(690), D(310), (D("203.10"),), D(310))
    assert f.payoff == "expiry" and f.debit


def test_iron_condor_sold_for_a_credit_has_two_breakevens():
    f = figures("SPY 2026-12-18 590/600/610/620 iron condor", Side.SELL, 2, "2.05")
    assert f.max_profit == D(410) and f.max_loss == D(1590)
    assert f.breakevens == (D("597.95"), D("612.05"))
    assert f.cash == D(-410) and not f.debit


def test_straddle_bought_has_unlimited_profit_and_sold_unlimited_loss():
    bought = figures("AAPL 2026-12-18 230 straddle", Side.BUY, 1, "12.40")
    assert bought.max_profit is None and bought.max_loss == D(1240)
    assert bought.breakevens == (D("217.60"), D("242.40"))
    sold = figures("AAPL 2026-12-18 230 straddle", Side.SELL, 3, "12.40")
    assert sold.max_loss is None and sold.max_profit == D(3720)


def test_butterfly_and_put_vertical_by_hand():
    fly = figures("AAPL 2026-12-18 200/210/220 call butterfly", Side.BUY, 1, "1.10")
    assert (fly.max_profit, fly.max_loss, fly.breakevens) == (D(890), D(110), (D("201.10"), D("218.90")))
    put = figures("AAPL 2026-12-18 200/210 put vertical", Side.BUY, 1, "4")
    assert (put.max_profit, put.max_loss, put.breakevens) == (D(600), D(400), (D(206),))


def test_a_market_combo_is_priced_at_the_legs_mid_and_has_net_greeks():
    quotes = {"AAPL-2026-12-18-200-C": (6.10, 6.30), "AAPL-2026-12-18-210-C": (2.00, 2.20)}
    f = figures("AAPL 2026-12-18 200/210 call vertical", Side.BUY, 2, None, quotes, spot=203.0)
    assert f.net_mid == D("4.10") and f.net_price == D("4.10") and f.cash == D(820)
    assert f.max_loss == D(820) and f.max_profit == D(1180)
    assert f.legs[0].iv is not None and 0.05 < f.legs[0].iv < 2
    # long the lower strike: positive delta, in shares (two spreads of 100)
    assert f.delta is not None and 0 < f.delta < 200
    sold = figures("AAPL 2026-12-18 200/210 call vertical", Side.SELL, 2, None, quotes, spot=203.0)
    assert sold.delta == pytest.approx(-f.delta) and sold.legs[0].side is Side.SELL


def test_no_price_and_no_quotes_says_so():
    f = figures("AAPL 2026-12-18 220/240 strangle", Side.BUY, 1, None)
    assert f.payoff == "none" and "no net price" in (f.note or "")


def test_calendar_is_estimated_at_the_front_expiry():
    quotes = {"AAPL-2026-12-18-230-C": (4.0, 4.2), "AAPL-2027-01-15-230-C": (7.6, 7.9)}
    f = figures("AAPL 2026-12-18/2027-01-15 230 call calendar", Side.BUY, 1, "3.00", quotes, spot=228.0)
    assert f.payoff == "estimated" and "estimates" in (f.note or "")
    assert f.max_loss == D(300)  # the debit: both far wings lose it
    assert f.max_profit is not None and f.max_profit > 0
    low, high = f.breakevens
    assert low < 230 < high
    blind = figures("AAPL 2026-12-18/2027-01-15 230 call calendar", Side.BUY, 1, "3.00")
    assert blind.payoff == "none" and "depends on volatility" in (blind.note or "")


def test_futures_calendar_is_unbounded_both_ways():
    f = figures("ES 2026-12/2027-03 calendar", Side.BUY, 1, "-20")
    assert f.max_profit is None and f.max_loss is None and f.cash == D(-1000)


def test_recognize_names_a_spread_from_its_legs_either_side():
    spread = parse_phrase("SPY 2026-12-18 590/600/610/620 iron condor".split())
    assert recognize(spread.legs).kind == "iron condor"
    assert recognize(effective_legs(spread.legs, Side.SELL)).describe() == "SPY 2026-12-18 590/600/610/620 iron condor"
    odd = (Leg(symbol="AAPL-2026-12-18-200-C", side=Side.BUY), Leg(symbol="AAPL-2027-01-15-210-P", side=Side.SELL))
    assert recognize(odd).kind == "legs"
