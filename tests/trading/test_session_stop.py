"""Stopping a session leaves none of its background loops running, even when a fill wakes one
of them at the very moment it is cancelled (Python 3.11's ``asyncio.wait_for`` can lose that
cancel: the loop then went on for two minutes, holding a closed broker, and hung the exit)."""

from __future__ import annotations

import asyncio

from brokers.paper.broker import SimBroker
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.trading.session import Session


async def test_stop_ends_every_background_loop_even_when_a_fill_wakes_one_as_it_stops(tmp_path):
    clock = SimClock(1_790_000_000.0)
    s = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=SimBroker(clock=clock))
    await s.start()
    await asyncio.sleep(0.05)  # the loops are waiting on their events
    background = list(s._background)
    assert background
    s._betas_due.set()  # a fill asks for betas ...
    s._account_due.set()
    await s.stop()  # ... in the same instant as the stop
    assert all(t.done() for t in background)
