"""Snapshots of the main screen at 80x24 and 160x45 in every theme.

Deterministic: a simulated clock at a fixed instant, the test broker's fixed prices, one
filled and one working order. Regenerate after a deliberate change with
``pytest tests/ui/test_ui_snapshots.py --snapshot-update`` and look at the SVGs.
"""

import pytest

from tests.ui_support import make_app, settle
from themes import load_themes

THEMES = sorted(load_themes())
SIZES = [(80, 24), (160, 45)]


async def _scene(pilot) -> None:
    app = pilot.app
    await settle(pilot)
    app.confirm_orders = False
    app.run_command("buy 100 AAPL")
    await settle(pilot)
    app.run_command("sell 10 MSFT lmt 415 gtc")
    await settle(pilot)
    app.broker_for_tests.move("AAPL", 187.25)
    await settle(pilot)
    for _ in range(5):  # let the up-flash run out: repaints, not time, end it
        app.repaint()
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("theme", THEMES)
def test_main_screen(snap_compare, tmp_path, theme, size):
    app, session, broker = make_app(tmp_path, theme=theme)
    app.broker_for_tests = broker
    assert snap_compare(app, terminal_size=size, run_before=_scene)


def test_there_are_at_least_four_themes():
    assert {"dark", "light", "high-contrast", "amber"} <= set(THEMES)


@pytest.mark.parametrize("theme", THEMES)
def test_every_theme_stays_readable_in_16_colours(theme):
    """TEXTUAL_COLOR_SYSTEM=standard: text, up/down, buy/sell and PAPER/LIVE stay distinct."""
    from rich.color import Color, ColorSystem

    spec = load_themes()[theme]
    p = spec.palette

    def ansi(colour: str) -> int:
        return Color.parse(colour).downgrade(ColorSystem.STANDARD).number

    background = ansi(spec.colours["background"])
    assert ansi(spec.colours["foreground"]) != background
    assert ansi(p.up) != ansi(p.down) and ansi(p.buy) != ansi(p.sell)
    assert ansi(p.paper) != ansi(p.live)
    for colour in (p.up, p.down, p.stale):
        assert ansi(colour) != background, colour


async def test_app_runs_in_16_colours(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTUAL_COLOR_SYSTEM", "standard")
    app, session, broker = make_app(tmp_path, theme="amber")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.console.color_system == "standard"
        assert "AAPL" in app.export_screenshot()
