"""Numbers as every face shows them: money, P&L, prices at tick digits, quantities, days."""

from __future__ import annotations

import re
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from workstation.core import formatting as f
from workstation.core.symbols import parse_symbol

D = Decimal
amounts = st.decimals(min_value=D("-1e15"), max_value=D("1e15"), allow_nan=False, allow_infinity=False)
tiny = st.decimals(min_value=D("-0.00499"), max_value=D("0.00499"), allow_nan=False, allow_infinity=False, places=6)
floats = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
MONEY = re.compile(r"^-?\d{1,3}(,\d{3})*\.\d{2}$")


def grouped(text: str) -> str:
    return text.lstrip("+-").split(".")[0]


@given(amounts)
def test_money_always_has_two_decimals_and_separators(d):
    text = f.money(d)
    assert MONEY.match(text), text
    assert D(text.replace(",", "")) == d.quantize(D("0.01"))


@given(st.one_of(amounts, tiny, floats))
def test_nothing_reads_minus_zero(d):
    for text in (f.money(d), f.signed_money(d), f.dollars(d), f.price(d, 2), f.price_change(d, 2), f.percent(d, signed=True)):
        assert "-0.00" != text.rstrip("%") and not re.match(r"^-\$?0\.0+%?$", text), text
        assert not re.match(r"^-[0.,]+%?$", text.replace("$", "")), text


@given(tiny)
def test_an_amount_that_rounds_to_zero_is_zero(d):
    assert f.money(d) == "0.00"
    assert f.signed_money(d) == "+0.00"
    assert f.dollars(d) == "$0.00"
    assert f.pnl_role(d) == ""


@given(amounts)
def test_signed_money_carries_its_sign(d):
    text = f.signed_money(d)
    assert text[0] in "+-"
    assert MONEY.match(text.lstrip("+")), text
    assert (text[0] == "-") == (d.quantize(D("0.01")) < 0)


@given(st.integers(min_value=1000, max_value=10**12))
def test_thousands_are_separated_in_money_prices_and_quantities(n):
    for text in (f.money(D(n)), f.price(D(n), 2), f.quantity(D(n)), f.dollars(D(n))):
        assert re.fullmatch(r"\d{1,3}(,\d{3})+", grouped(text).lstrip("$")), text


@given(st.decimals(min_value=D("0.0001"), max_value=D("1e7"), places=6, allow_nan=False), st.sampled_from(["EUR/USD", "USD/JPY", "AAPL", "BTC/USD", "ES-2026-12", "ZN-2026-12"]))
def test_a_price_has_its_instruments_tick_digits(d, symbol):
    digits = f.tick_digits(parse_symbol(symbol).tick_size)
    text = f.price(d, digits)
    decimals = text.split(".")[1] if "." in text else ""
    assert len(decimals) == digits


def test_tick_digits_per_instrument():
    assert {s: f.tick_digits(parse_symbol(s).tick_size) for s in ("EUR/USD", "USD/JPY", "AAPL", "BTC/USD", "ZN-2026-12")} == {
        "EUR/USD": 5, "USD/JPY": 3, "AAPL": 2, "BTC/USD": 2, "ZN-2026-12": 6,
    }
    assert f.price(1.085, 5) == "1.08500"
    assert f.price(151.2, 3) == "151.200"
    assert f.price(D("95012.5"), 2) == "95,012.50"
    assert f.price_change(-0.000001, 2) == "+0.00"  # a quote float, not a loss of -0.00


@given(st.decimals(min_value=D("-1e9"), max_value=D("1e9"), places=8, allow_nan=False))
def test_a_quantity_is_as_exact_as_it_is(d):
    text = f.quantity(d)
    assert D(text.replace(",", "")) == d
    assert not text.startswith("-0") or d < 0


def test_days_read_as_days_not_as_thousandths():
    assert f.days(5392.0) == "5,392 days"
    assert f.days(2.179) == "2.2 days"
    assert f.days(1.0) == "1 day"
    assert f.days(0.25) == "6.0 h"
    assert f.duration(45) == "45 s"
    assert f.duration(720) == "12 min"
    assert "." not in f.days(12.7)


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_days_never_show_three_decimals(x):
    text = f.days(x)
    assert not re.search(r"\.\d{2,}", text), text
    assert text.endswith((" s", " min", " h", " day", " days"))


def test_not_a_number_reads_a_dash():
    assert f.money(D("NaN")) == f.DASH and f.price(float("inf"), 2) == f.DASH and f.days(None) == f.DASH


def test_risk_reasons_never_say_minus_zero_dollars():
    from workstation.risk.checks import fmt_money

    assert fmt_money(D("-0.004")) == "$0.00"
    assert fmt_money(D("-1234.5")) == "-$1,234.50"
