"""What the chart draws, without a screen: timeframes, the live bar, the axes, the averages."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from workstation.core.chart_series import (
    BarSeries,
    moving_average,
    nice_ticks,
    price_labels,
    resample,
    time_ticks,
    volume_label,
)
from workstation.core.model import Bar

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc).timestamp()  # a Monday, 09:00 UTC


def minute_bars(n: int, start: float = T0) -> list[Bar]:
    return [Bar("AAPL", start + 60 * i, 100 + i, 100.5 + i, 99.5 + i, 100.25 + i, 10.0, 60) for i in range(n)]


def test_minutes_make_five_minute_bars_with_the_window_high_low_and_summed_volume():
    five = resample(minute_bars(12), 300)
    assert [b.ts for b in five] == [T0, T0 + 300, T0 + 600]
    first = five[0]
    assert (first.open, first.high, first.low, first.close, first.volume, first.seconds) == (100, 104.5, 99.5, 104.25, 50.0, 300)
    assert five[-1].volume == 20.0  # the last window had two minutes


def test_a_window_without_bars_stays_empty_and_longer_bars_are_refused():
    bars = minute_bars(2) + minute_bars(1, T0 + 3600)
    assert [b.ts for b in resample(bars, 3600)] == [T0, T0 + 3600]
    with pytest.raises(ValueError):
        resample(resample(bars, 3600), 300)


def test_the_bar_under_way_comes_from_ended_minutes_never_from_the_future():
    now = T0 + 3 * 3600 + 125  # two minutes and five seconds into the 12:00 hour
    hours = [Bar("AAPL", T0 + 3600 * i, 1, 2, 0.5, 1.5, 100, 3600) for i in range(4)]  # the last one knows 12:00-13:00
    minutes = minute_bars(3, T0 + 3 * 3600)  # 12:00, 12:01 and 12:02 (not ended)
    s = BarSeries("AAPL", 3600)
    s.seed(hours, minutes, now)
    assert [b.ts for b in s.bars] == [T0, T0 + 3600, T0 + 7200, T0 + 3 * 3600]
    assert s.bars[-1].volume == 20.0 and s.bars[-1].close == 101.25  # 12:00 and 12:01 only


def test_quotes_extend_the_last_bar_then_open_the_next():
    s = BarSeries("AAPL", 60)
    s.seed(minute_bars(2), [], T0 + 120)
    s.on_quote(T0 + 121, 105.0, 5_000)
    s.on_quote(T0 + 150, 98.0, 5_300)
    s.on_quote(T0 + 181, 99.0, 5_350)
    s.on_quote(T0 + 100, 500.0, 5_400)  # late: the ended bar is not reopened
    assert [b.ts for b in s.bars] == [T0, T0 + 60, T0 + 120, T0 + 180]
    live = s.bars[2]
    assert (live.open, live.high, live.low, live.close, live.volume) == (105.0, 105.0, 98.0, 98.0, 300.0)
    assert s.bars[-1].close == 99.0 and s.bars[-1].volume == 50.0


def test_averages_have_one_value_per_bar_and_none_past_the_last():
    closes = [float(i) for i in range(1, 31)]
    ma = moving_average(closes, 20)
    assert len(ma) == len(closes)
    assert ma[:19] == [None] * 19 and ma[19] == 10.5 and ma[-1] == 20.5
    assert moving_average(closes[:5], 20) == [None] * 5


def test_time_labels_fall_on_round_times_and_never_touch():
    stamps = [T0 + 60 * i for i in range(120)]
    ticks = time_ticks(stamps, 60, 70)
    assert [s for _, s in ticks] == ["09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45"]
    columns = [i * 70 / 120 for i, _ in ticks]
    assert all(b - a >= 8 for a, b in zip(columns, columns[1:], strict=False))
    assert [s for _, s in time_ticks(stamps, 60, 40)] == ["09:30", "10:00", "10:30"]


def test_a_new_day_is_labelled_with_its_date():
    hours = [T0 + 3600 * i for i in range(72)]
    labels = [s for _, s in time_ticks(hours, 3600, 70)]
    assert "03 Mar" in labels and "04 Mar" in labels and "12:00" in labels
    days = [T0 + 86400 * i for i in range(120)]
    assert [s for _, s in time_ticks(days, 86400, 40)] == ["Apr 26", "May 26", "Jun 26"]


def test_value_axes_are_round_and_read_at_the_right_precision():
    assert nice_ticks(187.3, 203.9, 4) == [190, 195, 200]
    assert price_labels([1.0825, 1.085, 1.0875]) == ["1.0825", "1.0850", "1.0875"]
    assert price_labels([110_000.0, 112_000.0]) == ["110,000", "112,000"]
    assert [volume_label(v) for v in (950, 12_500, 3_200_000)] == ["950", "12.5k", "3.2M"]


def test_a_narrow_price_range_still_gets_two_price_labels():
    assert len(nice_ticks(201.02, 201.9, 3)) >= 2
