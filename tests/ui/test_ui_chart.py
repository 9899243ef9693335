"""The chart as a trader sees it: a timeframe on a key, a UTC time axis, volume bars."""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timezone

import pytest

from tests.ui_support import START, make_app, settle
from workstation.core.model import Bar

SIZES = [(80, 24), (160, 45)]
WAIT_S = 10.0  # how long a chart may take to load its bars
POLL_S = 0.005  # look that often (a bare pilot.pause() waits at least 20 ms for the app to go idle)


def with_history(broker) -> list[int]:
    """Give the fake broker a past: bars of any length, rising, with growing volume."""
    asked: list[int] = []

    async def history(symbol, seconds, start, end):
        asked.append(seconds)
        first = math.ceil(start / seconds) * seconds
        return [
            Bar(symbol, t, 100 + i * 0.1, 100.2 + i * 0.1, 99.9 + i * 0.1, 100.1 + i * 0.1, 1000.0 + 100 * (i % 10), seconds)
            for i, t in enumerate(range(int(first), int(end), seconds))
        ]

    broker.history = history
    return asked


async def open_chart(pilot, app):
    await settle(pilot)
    await pilot.press("7")
    chart = app.query_one("#chart")
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        app._last_input_ns = 0
        app.repaint()
        await pilot.pause(POLL_S)
        if chart.loads and len(chart.bars) > 2 and chart.symbol:
            break
    await settle(pilot)
    return chart


async def wait_loaded(pilot, chart, loads: int):
    deadline = time.monotonic() + WAIT_S
    while chart.loads < loads and time.monotonic() < deadline:
        await pilot.pause(POLL_S)
    await pilot.pause()


def utc(ts: float, fmt: str) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime(fmt)


@pytest.mark.parametrize("size", SIZES[-1:])  # (80x24 draws the same cycle: the axis test covers that size)
async def test_f_cycles_the_timeframe_shown_in_the_border_and_the_title(tmp_path, size):
    app, session, broker = make_app(tmp_path)
    asked = with_history(broker)
    async with app.run_test(size=size) as pilot:
        chart = await open_chart(pilot, app)
        assert "f" in str(chart.border_subtitle) and "1m" in str(chart.border_subtitle)
        assert "AAPL · 1m" in chart._text.plain
        seen = []
        for name, seconds in (("5m", 300), ("1h", 3600), ("1d", 86400), ("1m", 60)):
            loads = chart.loads  # counted before the key: its load may be done when press returns
            await pilot.press("f")
            await wait_loaded(pilot, chart, loads + 1)
            seen.append(chart.timeframe_name)
            assert f"AAPL · {name}" in chart._text.plain
            assert {b.seconds for b in chart.bars} == {seconds}
            assert seconds in asked
            # no bar lies past now: the last one is the bar under way
            assert chart.bars[-1].ts <= START < chart.bars[-1].ts + seconds
        assert seen == ["5m", "1h", "1d", "1m"]


@pytest.mark.parametrize("size", SIZES)
async def test_the_chart_has_a_utc_time_axis_and_volume_bars(tmp_path, size):
    app, session, broker = make_app(tmp_path)
    with_history(broker)
    async with app.run_test(size=size) as pilot:
        chart = await open_chart(pilot, app)
        lines = chart._text.plain.splitlines()
        assert len(lines) == chart.size.height and "UTC" in lines[0]
        labels = lines[-1].split()
        stamps = {utc(b.ts, "%H:%M") for b in chart.bars} | {utc(b.ts, "%d %b") for b in chart.bars}
        assert len(labels) >= 2 and all(re.fullmatch(r"\d\d:\d\d|\d\d \w\w\w", s) and s in stamps for s in labels)
        volume = [line for line in lines if re.search(r"[▁▂▃▄▅▆▇█]{3}", line) and "┤" in line or "│" in line and "█" in line]
        assert volume, "\n".join(lines)
        assert any(re.search(r"\d(\.\d)?k┤", line) for line in lines)  # the volume scale
        # bars of different volume get different heights
        assert len(set(re.findall(r"[▁▂▃▄▅▆▇█]", "".join(volume)))) >= 2


async def test_candles_show_the_bars_of_the_timeframe(tmp_path):
    app, session, broker = make_app(tmp_path)
    with_history(broker)
    async with app.run_test(size=(160, 45)) as pilot:
        chart = await open_chart(pilot, app)
        await pilot.press("v")
        assert "1m candles" in chart._text.plain and "v candles" in str(chart.border_subtitle)
