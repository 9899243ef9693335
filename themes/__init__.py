"""The workstation's themes: data files (``themes/*.toml``) turned into Textual themes.

Each file names a Textual theme (``primary``, ``background``, ...) and, under
``[palette]``, the trading colours the live tables draw with: up/down, buy/sell, the
flash backgrounds, the stale badge, and the PAPER/LIVE badges. Drop a new file here to
add a theme; ``theme NAME`` (or the command palette) switches at run time.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.theme import Theme

FOLDER = Path(__file__).resolve().parent
DEFAULT = "dark"


@dataclass(frozen=True, slots=True)
class Palette:
    up: str
    down: str
    buy: str
    sell: str
    flash_up: str
    flash_down: str
    muted: str
    stale: str
    paper: str
    live: str
    cursor: str


@dataclass(frozen=True, slots=True)
class ThemeSpec:
    name: str
    palette: Palette
    colours: dict[str, Any]

    def textual(self) -> Theme:
        from textual.theme import Theme

        return Theme(name=self.name, **self.colours)


def load_themes(folder: Path = FOLDER) -> dict[str, ThemeSpec]:
    """Every ``*.toml`` theme in ``folder``, by name (a malformed file raises ValueError)."""
    out: dict[str, ThemeSpec] = {}
    names = {f.name for f in fields(Palette)}
    for path in sorted(folder.glob("*.toml")):
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        palette = raw.pop("palette", {})
        missing = names - set(palette)
        if missing:
            raise ValueError(f"theme {path.name}: [palette] lacks {', '.join(sorted(missing))}")
        name = raw.pop("name", path.stem)
        out[name] = ThemeSpec(name=name, palette=Palette(**{k: palette[k] for k in names}), colours=raw)
    return out
