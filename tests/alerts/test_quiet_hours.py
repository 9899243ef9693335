"""Quiet hours per channel: an alert raised inside a channel's quiet hours is held for that
channel (delivered when they end) while another channel and the workstation get it at once."""

import msgspec
import pytest

from tests.alerts.test_delivery import wait_for, webhook, with_channels  # noqa: F401 (fixture)
from tests.risk_helpers import T0, build, settings
from workstation.alerts.engine import AlertNotice


async def test_quiet_hours_hold_one_channel_and_not_the_other(tmp_path, webhook):  # noqa: F811
    port, posts = webhook
    st = with_channels([
        {"url": f"json://127.0.0.1:{port}/night", "min_priority": "low", "quiet": "22:00-07:00", "timezone": "UTC"},
        {"url": f"json://127.0.0.1:{port}/always", "min_priority": "low"},
    ])
    s, broker, clock = build(tmp_path, st)  # T0 is 22:13 UTC: inside the quiet hours
    shown = []
    s.bus.subscribe(AlertNotice, lambda n: shown.append(n.alert.title))
    s.dispatcher.tick = 0.05  # look for the end of the quiet hours often (engine clock)
    await s.start(feed=False)
    try:
        s.alerts.raise_alert("Late", "after hours", priority="high")
        assert s.dispatcher.wait_idle()
        assert shown == ["Late"]  # the workstation shows it at once
        assert [(p, b["title"]) for p, b in posts] == [("/always", "[HIGH] Late")]
        assert s.dispatcher.held() == 1
        clock.advance(7 * 3600)  # 05:13 UTC: still quiet
        s.alerts.raise_alert("Early", "before the end", priority="high")
        assert s.dispatcher.wait_idle()
        assert [p for p, _ in posts] == ["/always", "/always"] and s.dispatcher.held() == 2
        clock.advance(2 * 3600)  # 07:13 UTC: the quiet hours are over, the held alerts go, oldest first
        assert wait_for(lambda: len(posts) == 4)
    finally:
        await s.stop()
    assert [(p, b["title"]) for p, b in posts[2:]] == [("/night", "[HIGH] Late"), ("/night", "[HIGH] Early")]
    assert s.dispatcher.held() == 0 and T0 % 86400 > 22 * 3600


@pytest.mark.parametrize("quiet, zone, message", [
    ("22-07", "UTC", "malformed quiet hours '22-07'"),
    ("22:00-07:00", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
])
def test_bad_quiet_hours_are_refused_when_the_settings_load(quiet, zone, message):
    st = settings()
    with pytest.raises((msgspec.ValidationError, ValueError), match=message):
        msgspec.convert({"channels": [{"url": "json://127.0.0.1:1/x", "quiet": quiet, "timezone": zone}]}, type(st.alerts))
