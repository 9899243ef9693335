"""``main.py status`` shows prices and money as the workstation does: separators, two decimals for money."""

from __future__ import annotations

import re

import pytest

from tests.conftest import run_cli


@pytest.mark.slow
def test_status_shows_a_crypto_position_with_separators_and_money_at_two_decimals(home):
    bought = run_cli("buy", "0.5", "BTC/USD", home=home)
    assert bought.returncode == 0, bought.stderr
    r = run_cli("status", home=home)
    assert r.returncode == 0, r.stderr
    rows = [[c.strip() for c in line.strip("│ ").split("│")] for line in r.stdout.splitlines() if line.startswith("│ BTC/USD")]
    [cells] = rows  # the Positions table's row
    row = " | ".join(cells)
    assert cells[1] == "0.5"
    assert re.fullmatch(r"\d{2,3},\d{3}\.\d{2}", cells[2]), row  # average cost: BTC/USD's two tick digits
    assert re.fullmatch(r"\d{2,3},\d{3}\.\d{2}", cells[3]), row  # last: the same
    assert re.fullmatch(r"\d{1,3},\d{3}\.\d{2}", cells[4]), row  # market value: money
    assert re.search(r"equity \d{2,3},\d{3}\.\d{2}", r.stdout)
    assert "-0.00" not in r.stdout and "-$0.00" not in r.stdout
