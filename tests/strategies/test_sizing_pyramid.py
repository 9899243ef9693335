"""Pyramiding and scale-out (``workstation.sizing``): adds only to a winner, capped; exits in
whole lots that sum exactly to the position, at the planned prices."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.core.model import ModelError
from workstation.core.symbols import parse_symbol
from workstation.sizing import Pyramid, ScaleOut, split_lots

AAPL = parse_symbol("AAPL")
BTC = parse_symbol("BTC/USD")  # lot 0.0001


def walk(state, prices, **kw):
    """Feed prices one at a time; the quantities asked for at each."""
    out = []
    for p in prices:
        state, q = state.decide(D(p), **kw)
        out.append(q)
    return state, out


def test_adds_each_time_the_price_gains_the_trigger_since_the_last_add_and_stops_at_max_adds():
    p = Pyramid.start(AAPL, "long", "100", 100, step=50, trigger=2, max_adds=2, max_qty=1000)
    assert p.next_trigger() == D("102")
    path = ["101", "101.99", "102", "103", "104.03", "104.04", "110", "120"]
    p, adds = walk(p, path)
    #              <2%  <2%  +2% from 100  <2% from 102  <2%  +2% from 102  max_adds reached
    assert adds == [0, 0, 50, 0, 0, 50, 0, 0]
    assert p.adds == 2 and p.held == D(200) and p.anchor == D("104.04")
    assert p.next_trigger() is None


def test_never_adds_to_a_loser_and_the_same_path_gives_the_same_adds():
    start = Pyramid.start(AAPL, "long", "100", 100, step=50, trigger=2, max_adds=5)
    path = ["99", "95", "90", "101.9", "98", "97"]  # never 2% above the entry
    assert walk(start, path)[1] == [0] * 6
    wavy = ["102", "98", "90", "104", "104.04", "103", "106.12", "106.13"]
    first, second = walk(start, wavy), walk(start, wavy)
    assert first == second
    assert first[1] == [50, 0, 0, 0, 50, 0, 0, 50]  # 2% above 104.04 is 106.1208


def test_a_short_adds_on_the_way_down():
    p = Pyramid.start(AAPL, "short", "100", 100, step=100, trigger=5, max_adds=3)
    assert walk(p, ["105", "96", "95", "90.25"])[1] == [0, 0, 100, 100]


def test_max_qty_caps_the_total_in_whole_lots():
    p = Pyramid.start(AAPL, "long", "100", 100, step=80, trigger=1, max_adds=10, max_qty="250.7")
    p, adds = walk(p, ["101", "102.01", "103.04", "105"])
    assert adds == [80, 70, 0, 0]  # 100 + 80 + 70 = 250: the cap, rounded down to the lot
    assert p.held == D(250)


def test_an_atr_trigger_is_a_multiple_of_the_atr():
    p = Pyramid.start(AAPL, "long", "50", 10, step=10, trigger="1.5", by="atr", max_adds=2)
    p, adds = walk(p, ["52.9", "53"], atr="2")
    assert adds == [0, 10] and p.next_trigger(atr="2") == D("56")
    with pytest.raises(ModelError, match="needs the ATR"):
        p.decide(D("60"))


def test_scale_out_exits_a_third_at_each_target_and_the_rest_on_the_trailing_stop():
    s = ScaleOut.plan(AAPL, "long", "100", "95", 300, at=(1, 2), trail=1)
    assert s.targets == (D(105), D(110)) and s.parts == (D(100), D(100), D(100))
    path = ["104.99", "105", "104", "110.5", "118", "116", "113.01", "113"]
    exits = []
    for price in path:
        s, e = s.decide(D(price))
        exits.append((price, e.qty, e.reason))
    assert [(p, q, r) for p, q, r in exits if q] == [
        ("105", D(100), "target 1"),
        ("110.5", D(100), "target 2"),
        ("113", D(100), "trailing stop"),  # 5 (1R) behind the best close, 118
    ]
    assert s.remaining == 0 and s.decide(D(200))[1].qty == 0


def test_the_stop_takes_the_rest_and_moves_to_the_entry_after_the_first_target():
    s = ScaleOut.plan(AAPL, "long", "100", "95", 10, at=(1, 2), final=3)
    assert s.parts == (D(3), D(3), D(4)) and s.final == D(115)  # a third each to the nearest lot, the rest
    s, e = s.decide(D("105.5"))
    assert e.qty == D(3) and s.stop == D(100)
    s, e = s.decide(D("100"))
    assert (e.qty, e.reason) == (D(7), "stop")
    direct = ScaleOut.plan(AAPL, "long", "100", "95", 10, at=(1, 2), final=3)
    assert direct.decide(D("115"))[1] == type(e)(D(10), "targets 1-2 and final")  # a gap through everything


def test_a_position_too_small_for_every_part_keeps_the_first_targets_it_can_fill():
    s = ScaleOut.plan(AAPL, "long", "100", "95", 2, at=(1, 2))
    assert s.parts == (D(1), D(1)) and s.targets == (D(105),)
    with pytest.raises(ModelError, match="less than 1"):
        split_lots(AAPL, 10, ["0.5", "0.5"])
    with pytest.raises(ModelError, match="not a positive number"):
        split_lots(AAPL, "10.5", ["0.5"])


@settings(max_examples=300, deadline=None)
@given(
    lots=st.integers(min_value=1, max_value=100_000),
    shares=st.lists(st.integers(min_value=0, max_value=50), min_size=0, max_size=5),
    crypto=st.booleans(),
)
def test_parts_always_sum_to_the_position_in_whole_lots_never_below_one(lots, shares, crypto):
    inst = BTC if crypto else AAPL
    qty = inst.lot_size * lots
    total = sum(shares) + 1 + len(shares)  # leave the rest a share
    fractions = [D(s) / total for s in shares]
    parts = split_lots(inst, qty, fractions)
    assert sum(parts) == qty
    assert all(p >= inst.lot_size and p % inst.lot_size == 0 for p in parts)
    assert len(parts) <= len(fractions) + 1
    plan = ScaleOut.plan(inst, "long", "100", "90", qty, at=range(1, len(shares) + 1), fractions=fractions) \
        if shares and all(shares) else None
    if plan is not None:
        assert sum(plan.parts) == qty and len(plan.targets) == len(plan.parts) - 1


@settings(max_examples=200, deadline=None)
@given(prices=st.lists(st.integers(min_value=8_000, max_value=13_000), min_size=1, max_size=60),
       qty=st.integers(min_value=1, max_value=1_000))
def test_whatever_the_path_the_exits_never_exceed_the_position(prices, qty):
    s = ScaleOut.plan(AAPL, "long", "100", "95", qty, at=(1, 2), trail=1)
    out = D(0)
    for cents in prices:
        s, e = s.decide(D(cents) / 100)
        out += e.qty
    assert out + s.remaining == qty and out <= qty
