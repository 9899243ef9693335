"""Whatever is typed on the workstation's command line becomes a command (an order request
for orders) or one line saying what is wrong: never an exception that ends the workstation.

The parser and ``IntentsMixin.order_request`` are driven directly with Hypothesis text
(order-shaped lines with hostile numbers, and free text); one Pilot test checks the Unicode
digit rule on the screen.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from tests.ui_support import make_app, settle
from workstation.core.model import ModelError, OrderRequest, Quote
from workstation.core.symbols import parse_symbol
from workstation.ui.commands import OrderCommand, ParseError, parse
from workstation.ui.intents import IntentsMixin, command_problem
from workstation.ui.panes.cmdline import CommandLine

NUMBERS = st.one_of(
    st.sampled_from([
        "1", "0", "-0", "-1", "0.5", "1e5", "1e309", "nan", "inf", "sNaN", "١٠٠", "１００", "𝟙", "100\u2003", "1\x00",
        "9" * 40, "1" + "0" * 40, "0." + "0" * 40 + "1", "0.0000001", "1,000", "1_000", "1,,", ",", "_", ".", "1.", ".5",
        "99999999999999", "999999999999999", "2%", "%",
    ]),
    st.from_regex(r"[+-]?[0-9,_]{0,45}(\.[0-9]{0,45})?", fullmatch=True),
    st.text(max_size=8),
)
SYMBOLS = st.sampled_from(["AAPL", "aapl", "BTC/USD", "EUR/USD", "ES-2099-12", "AAPL-2099-01-16-200-C", "AAPL-2099-01-16-1e32-C", "", "١", "$", "A" * 200])
WORDS = st.sampled_from(["@", "lmt", "stp", "trail", "tp", "sl", "gtc", "day", "ioc", "mkt", "%", "l", "s", "t"])


@st.composite
def order_lines(draw) -> str:
    verb = draw(st.sampled_from(["buy", "sell", "short", "b", "s"]))
    amount = draw(NUMBERS)
    amount = "$" + amount if draw(st.booleans()) else amount
    parts = [verb, amount, draw(SYMBOLS)]
    for _ in range(draw(st.integers(0, 4))):
        parts.append(draw(WORDS))
        if draw(st.booleans()):
            parts.append(draw(NUMBERS))
    return " ".join(parts)


LINES = st.one_of(
    order_lines(),
    st.text(max_size=40),
    st.builds(lambda verb, rest: f"{verb} {rest}", st.sampled_from(["cancel", "flatten", "watch add", "watch list", "risk set max_order_qty", "alert AAPL >", "theme"]), NUMBERS),
)


class _Face:
    """What ``order_request`` reads from the app: instruments, the latest quote, positions."""

    def __init__(self) -> None:
        self._latest = {"AAPL": Quote("AAPL", 1.0, 199.9, 200.1, 200.0, 100.0, 100.0, 1e6)}
        self._snapshot = None
        self.engine = self

    def instrument(self, symbol: str):
        return parse_symbol(symbol)

    def quote(self, symbol: str):
        return None


def _request_or_problem(text: str) -> OrderRequest | str | object:
    """What the workstation does with a line up to the review: a request, another command, or a problem."""
    try:
        cmd = parse(text)
        if isinstance(cmd, OrderCommand):
            return IntentsMixin.order_request(_Face(), cmd)[0]  # type: ignore[arg-type]
        return cmd
    except (ParseError, ModelError) as exc:
        problem = command_problem(exc)
        assert problem and "\n" not in problem, (text, problem)
        return problem


@settings(max_examples=400, deadline=None)
@given(text=LINES)
def test_any_line_is_a_command_or_one_line_problem(text):
    outcome = _request_or_problem(text)  # any other exception fails the test: it would end up as a generic notice
    if isinstance(outcome, OrderRequest):
        for value in (outcome.qty, outcome.limit_price, outcome.stop_price, outcome.take_profit, outcome.stop_loss, outcome.trail_amount, outcome.trail_percent):
            assert value is None or (value.is_finite() and 0 < value < Decimal("1e15")), (text, outcome)


@pytest.mark.parametrize("text, needle", [
    ("buy ١٠٠ AAPL", "U+0661 ARABIC-INDIC DIGIT ONE"),
    ("buy １００ AAPL", "U+FF11 FULLWIDTH DIGIT ONE"),
    ("buy 100 AAPL @ ١٨٥", "ASCII digits"),
    ("buy $١٠٠٠ AAPL", "ASCII digits"),
    ("buy 1 AAPL trail １%", "ASCII digits"),
])
def test_unicode_digits_are_refused_naming_the_character(text, needle):
    outcome = _request_or_problem(text)
    assert isinstance(outcome, str) and needle in outcome


async def test_the_screen_names_the_unicode_digit_and_sends_nothing(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await pilot.press("colon")
        app.main.query_one(CommandLine).insert_text_at_cursor("buy ١٠٠ AAPL")
        await pilot.press("enter")
        await settle(pilot)
        error = app.query_one("#cmd-error")
        assert error.display and "U+0661" in str(error.render())
        assert not session.oms.orders
