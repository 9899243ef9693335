"""A screen's title line: parts joined by a dim " · ", redrawn only when a part changed."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static


def show_title(title: Static, parts: Sequence[tuple[str, str]]) -> str | None:
    """Put ``parts`` ((text, style) pairs) in ``title``; the plain text when it changed, else None
    (nothing redrawn)."""
    key = tuple(parts)
    if getattr(title, "_shown", None) == key:
        return None
    title._shown = key  # type: ignore[attr-defined]
    text = Text()
    for i, (part, style) in enumerate(parts):
        if i:
            text.append(" · ", style="dim")
        text.append(part, style=style)
    title.update(text, layout=False)
    return text.plain
