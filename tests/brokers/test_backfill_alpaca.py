"""A hole in a live feed filled through the Alpaca adapter's bars endpoint (its fake on 127.0.0.1)."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.alpaca_support import fake, keys, settings_for  # noqa: F401 (fixtures)
from workstation.core.clock import SimClock
from workstation.core.model import Quote
from workstation.trading.session import Session

T0 = datetime(2023, 11, 14, 15, 30, tzinfo=timezone.utc).timestamp()
HOLE = (T0 + 60, T0 + 360)


async def test_a_hole_in_the_feed_is_filled_from_alpacas_bars(fake, keys, home, tmp_path):  # noqa: F811
    fake.set_bars("MSFT", [(T0 + 60 * i, 370.0 + i, 371.0 + i, 369.0 + i, 370.5 + i, 1200.0) for i in range(10)])
    clock = SimClock(T0)
    s = Session.build(settings_for(fake), "alpaca-paper", data_root=tmp_path, clock=clock)
    await s.broker.connect()
    try:
        t = T0
        while t <= T0 + 420:  # the feed: a quote every 10 s, none from 15:31 to 15:36
            if not HOLE[0] <= t < HOLE[1]:
                clock.set(t)
                s.quality.on_quote(Quote(symbol="MSFT", ts=t, bid=370.0, ask=370.1, last=370.05, bid_size=1, ask_size=1))
            t += 10
        assert "gap" in s.quality.badges("MSFT")
        await s.drain()
        assert s.backfill.requests == [("MSFT", 60, *HOLE)]
        bars = s.backfill.bars.bars("MSFT")
        assert [b.ts for b in bars] == [T0 + 60 * i for i in range(7)]
        assert [(b.open, b.volume) for b in bars[1:6]] == [(370.0 + i, 1200.0) for i in range(1, 6)]  # Alpaca's bars
        assert all(s.backfill.bars.backfilled("MSFT", b.ts) for b in bars[1:6])
        assert "gap" not in s.quality.badges("MSFT")
        assert sum(1 for _, p, _ in fake.requests if p.endswith("/bars")) == 1
    finally:
        await s.broker.close()
