"""Rolls and combo closes from the shell: ``main.py roll FRONT BACK`` sends ONE calendar order
that sells the held front and buys the back; ``main.py close-combo ID`` sends the reverse of a
spread as one order; what cannot be done is one line, exit 2, nothing written."""

from __future__ import annotations

import json
from datetime import date

import pytest

from brokers.paper.universe import load_universe
from tests.conftest import run_cli


def contracts() -> tuple[str, str]:
    front, back = load_universe().contracts("ES", date.today())[:2]  # as the paper market lists them today
    return front, back


def positions(home) -> dict[str, str]:
    doc = json.loads(run_cli("status", "--json", home=home).stdout)
    return {p["symbol"]: p["qty"] for p in doc["positions"]}


@pytest.mark.slow
def test_roll_sells_the_held_front_and_buys_the_back_as_one_order(home):
    front, back = contracts()
    assert run_cli("buy", "1", front, home=home).returncode == 0
    r = run_cli("roll", front, back, "--json", home=home)
    assert r.returncode == 0, r.stderr
    order = json.loads(r.stdout)
    assert order["side"] == "sell" and order["qty"] == "1" and order["status"] == "filled"
    assert positions(home) == {back: "1"}
    orders = json.loads(run_cli("orders", "--all", "--json", home=home).stdout)
    assert len(orders) == 2  # the buy, then the roll: one order, not two
    refused = run_cli("roll", front, back, home=home)
    assert refused.returncode == 2
    assert refused.stderr.strip() == f"error: no position in {front} to roll"


def test_a_roll_larger_than_the_position_is_one_line_and_sends_nothing(home):
    front, back = contracts()
    assert run_cli("buy", "1", front, home=home).returncode == 0
    r = run_cli("roll", front, back, "--qty", "2", home=home)
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: --qty 2 is more than the 1 held in {front}"
    assert positions(home) == {front: "1"}


@pytest.mark.slow
def test_close_combo_sends_the_reverse_spread_as_one_order(home):
    monthly = [d for d in load_universe().expiries("AAPL", date.today()) if 15 <= d.day <= 21 and d.weekday() == 4]
    expiry = monthly[1]  # a monthly expiry: listed whatever the weeklies' holidays
    opened = run_cli("spread", "buy", "2", "AAPL", expiry.isoformat(), "200/210", "call", "vertical", "--json", home=home)
    assert opened.returncode == 0, opened.stderr
    combo_id = json.loads(opened.stdout)["id"]
    legs = positions(home)
    assert sorted(legs.values()) == ["-2", "2"]
    r = run_cli("close-combo", combo_id, "--json", home=home)
    assert r.returncode == 0, r.stderr
    closing = json.loads(r.stdout)
    assert closing["side"] == "sell" and closing["qty"] == "2" and closing["status"] == "filled"
    assert positions(home) == {}
    again = run_cli("close-combo", combo_id, home=home)
    assert again.returncode == 2
    assert again.stderr.strip() == f"error: combo order {combo_id}: its legs are no longer held"
