"""Every theme stays readable in 16 and 256 colours: contrast ratios of text and borders.

Ratios are WCAG's (relative luminance), computed after reducing both colours the way Rich
does for ``TEXTUAL_COLOR_SYSTEM=standard`` (16 colours) and ``256``. Text needs 4.5:1 in
256 colours and full colour, 3:1 in 16 colours (a coarse palette: the nearest of 16);
borders need 3:1 everywhere (WCAG's bar for what is not text).
"""

from __future__ import annotations

import pytest
from rich.color import Color as RichColor
from rich.color import ColorSystem
from textual.color import Color

from themes import load_themes

SYSTEMS = {"truecolor": None, "256": ColorSystem.EIGHT_BIT, "16": ColorSystem.STANDARD}


def luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str, system: ColorSystem | None) -> float:
    def rgb(hexcolour: str) -> tuple[int, int, int]:
        c = RichColor.parse(hexcolour)
        t = (c.downgrade(system) if system is not None else c).get_truecolor()
        return t.red, t.green, t.blue

    hi, lo = sorted((luminance(rgb(a)), luminance(rgb(b))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def pairs(spec) -> list[tuple[str, str, str, bool]]:
    """(role, foreground, background, is_text) as the workstation draws them."""
    v = spec.textual().to_color_system().generate()

    def var(name: str) -> str:
        return Color.parse(v[name]).hex

    p = spec.palette
    surface, panel, fg = var("surface"), var("panel"), var("foreground")
    out = [
        ("unfocused pane border", var("border-blurred"), surface, False),
        ("focused pane border", var("border"), surface, False),
        ("text", fg, surface, True), ("text on the background", fg, var("background"), True),
        ("header", fg, panel, True), ("unread flag in the header", p.stale, panel, True),
        ("cursor row", fg, p.cursor, True), ("up flash", fg, p.flash_up, True), ("down flash", fg, p.flash_down, True),
        ("PAPER badge", "#ffffff", p.paper, True), ("LIVE badge", "#ffffff", p.live, True),
    ]
    out += [(role, getattr(p, role), surface, True) for role in ("up", "down", "buy", "sell", "muted", "stale")]
    return out


THEMES = load_themes()


@pytest.mark.parametrize("system", list(SYSTEMS))
@pytest.mark.parametrize("name", sorted(THEMES))
def test_every_role_is_readable(name: str, system: str) -> None:
    bad = []
    for role, fg, bg, is_text in pairs(THEMES[name]):
        need = (3.0 if system == "16" else 4.5) if is_text else 3.0
        ratio = contrast(fg, bg, SYSTEMS[system])
        if ratio < need:
            bad.append(f"{role}: {fg} on {bg} is {ratio:.2f}:1 (needs {need}:1)")
    assert not bad, f"theme {name} in {system} colours:\n" + "\n".join(bad)
