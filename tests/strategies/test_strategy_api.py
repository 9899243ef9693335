"""The strategy plugin API: parameters, the conflating inbox, allocation parsing."""

import threading
from decimal import Decimal

import pytest

from workstation.core.model import Bar, Quote
from workstation.strategies.api import Allocation, Param, ParamError, Strategy, parse_assignments
from workstation.strategies.workers import Inbox


class Demo(Strategy):
    name = "demo"
    fast = Param(10, min=1, max=500, description="fast length")
    slow = Param(30, min=2, description="slow length")
    qty = Param(Decimal(100), min=Decimal("0.0001"), description="units per trade")
    threshold = Param(1.5, min=0.0, description="band width")
    mode = Param("long", choices=("long", "short", "both"), description="direction")
    verbose = Param(False, description="log every bar")

    @classmethod
    def check(cls, p):
        return None if p["fast"] < p["slow"] else f"fast ({p['fast']}) must be shorter than slow ({p['slow']})"


def test_defaults_and_typed_values():
    s = Demo()
    assert (s.fast, s.slow, s.qty, s.threshold, s.mode, s.verbose) == (10, 30, Decimal(100), 1.5, "long", False)
    s = Demo({"fast": "5", "qty": "2.5", "threshold": "0.25", "verbose": "yes", "mode": "both"})
    assert s.fast == 5 and isinstance(s.fast, int)
    assert s.qty == Decimal("2.5") and isinstance(s.qty, Decimal)
    assert s.threshold == 0.25 and s.verbose is True and s.mode == "both"


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"fast": "0"}, "fast must be at least 1, got 0"),
        ({"fast": "501"}, "fast must be at most 500, got 501"),
        ({"fast": "2.5"}, "fast: expected a whole number, got '2.5'"),
        ({"fast": "ten"}, "expected a whole number"),
        ({"verbose": "maybe"}, "expected true/false"),
        ({"mode": "sideways"}, "mode must be one of long, short, both, got sideways"),
        ({"fast": 40}, "fast (40) must be shorter than slow (30)"),
        ({"speed": 1}, "demo has no parameter 'speed' (parameters: fast, slow, qty, threshold, mode, verbose)"),
        ({"threshold": "nan"}, "expected a number"),
    ],
)
def test_bad_values_are_refused_with_the_name(raw, message):
    with pytest.raises(ParamError) as err:
        Demo(raw)
    assert message in str(err.value)


def test_parameters_describe_themselves():
    spec = {p.name: p.describe() for p in Demo.parameters().values()}
    assert spec["fast"] == {
        "name": "fast", "type": "a whole number", "default": 10, "min": 1, "max": 500, "choices": None,
        "description": "fast length",
    }
    assert list(spec) == ["fast", "slow", "qty", "threshold", "mode", "verbose"]


def test_parse_assignments():
    assert parse_assignments(["fast=10", " slow = 30 "]) == {"fast": "10", "slow": "30"}
    with pytest.raises(ParamError, match="use name=value"):
        parse_assignments(["fast"])


def test_allocation_parsing():
    assert Allocation.parse("25000").capital(Decimal(100_000)) == Decimal(25000)
    assert Allocation.parse("25%").capital(Decimal(100_000)) == Decimal(25000)
    assert Allocation.parse("0.1").capital(Decimal(50_000)) == Decimal(5000)
    for bad in ("0", "-5", "150%", "lots"):
        with pytest.raises(Exception):
            Allocation.parse(bad)


def q(symbol, px, ts=0.0):
    return Quote(symbol=symbol, ts=ts, bid=px - 0.01, ask=px + 0.01, last=px)


def test_inbox_conflates_quotes_per_symbol_and_keeps_everything_else():
    box = Inbox()
    box.put_quote(q("AAPL", 1))
    box.put_quote(q("MSFT", 1))
    bar = Bar(symbol="AAPL", ts=0, open=1, high=1, low=1, close=1)
    box.put(bar)
    box.put_quote(q("AAPL", 2))
    box.put_quote(q("AAPL", 3))
    box.put("fill-1")
    box.put("fill-2")
    got = []
    while len(box):
        got.append(box.get())
        box.done()
    # the AAPL slot keeps its place and carries the newest quote; nothing else is dropped
    assert [g.last if isinstance(g, Quote) else g for g in got] == [3, 1, bar, "fill-1", "fill-2"]
    assert box.received == 7 and box.conflated == 2


def test_inbox_never_drops_order_events_past_capacity():
    box = Inbox(capacity=10)
    for i in range(50):
        box.put(i)
    assert box.overflowed and len(box) == 50
    assert [box.get() for _ in range(50)] == list(range(50))


def test_inbox_get_waits_for_a_producer():
    box = Inbox()
    out = []
    t = threading.Thread(target=lambda: out.append(box.get(timeout=5)))
    t.start()
    box.put_quote(q("AAPL", 7))
    t.join(5)
    assert out[0].last == 7
