"""The chart shows the bars the engine backfilled into a hole of the feed, in their places, marked."""

from __future__ import annotations

import math

import pytest

from tests.ui.test_ui_chart import open_chart
from tests.ui_support import START, make_app, settle, until
from workstation.core.chart_series import BarSeries
from workstation.core.model import Bar
from workstation.ui.panes.chart import BACKFILL_MARKER

MINUTE = math.floor(START / 60) * 60
HOLE = (MINUTE - 900, MINUTE - 600)  # five minutes the feed (and at first the history) lacked


def bar(t: float, i: int) -> Bar:
    return Bar("AAPL", t, 100 + i * 0.1, 100.2 + i * 0.1, 99.9 + i * 0.1, 100.1 + i * 0.1, 1000.0, 60)


def holed_history(broker) -> None:
    async def history(symbol, seconds, start, end):
        first = math.ceil(start / seconds) * seconds
        return [
            bar(t, i) if seconds == 60 else Bar(symbol, t, 100, 101, 99, 100.5, 5000.0, seconds)
            for i, t in enumerate(range(int(first), int(end), seconds))
            if seconds != 60 or not HOLE[0] <= t < HOLE[1]
        ]

    broker.history = history


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_backfilled_bars_take_their_places_in_the_chart_with_a_marker(tmp_path, size):
    app, session, broker = make_app(tmp_path)
    holed_history(broker)
    async with app.run_test(size=size) as pilot:
        chart = await open_chart(pilot, app)
        stamps = [b.ts for b in chart.bars]
        assert HOLE[0] not in stamps and BACKFILL_MARKER not in chart._text.plain  # a hole, nothing marked
        before = chart.built
        filled = tuple(bar(HOLE[0] + 60 * k, 0) for k in range(5))
        session.quality.gap_filled("AAPL", filled)  # the engine filled the hole from the broker's history
        await until(pilot, lambda: chart.built > before and BACKFILL_MARKER in chart._text.plain, what="the marked bars drawn")
        stamps = [b.ts for b in chart.bars]
        assert stamps == sorted(stamps) and all(b - a == 60 for a, b in zip(stamps, stamps[1:]))  # no hole left
        assert chart._text.plain.count(BACKFILL_MARKER) >= 4  # one marker a bar (5, or 4 where two share a column)
        assert "backfilled" in chart._text.plain  # the legend says what the marker means
        await pilot.press("f")  # 5m: the windows of the hole are still marked
        await until(pilot, lambda: chart.timeframe_name == "5m" and chart.series.seeded and chart.series.backfilled, what="5m marked")
        assert math.floor(HOLE[0] / 300) * 300 in chart.series.backfilled
        await settle(pilot)


def test_fill_puts_bars_in_order_and_never_past_the_latest_bar():
    s = BarSeries("AAPL", 60)
    s.bars = [bar(0, 0), bar(240, 4)]
    assert s.fill([bar(120, 2), bar(60, 1), bar(180, 3), bar(300, 5)])
    assert [b.ts for b in s.bars] == [0, 60, 120, 180, 240]  # the bar after the latest one is left out
    assert s.backfilled == {60, 120, 180}
    assert not s.fill([bar(60, 1)])  # nothing new
    five = BarSeries("AAPL", 300)
    five.bars = [Bar("AAPL", 0, 1, 1, 1, 1, 0, 300), Bar("AAPL", 900, 1, 1, 1, 1, 0, 300)]
    assert five.fill([bar(300 + 60 * k, k) for k in range(5)])
    assert [b.ts for b in five.bars] == [0, 300, 900] and five.bars[1].volume == 5000.0
