"""The workstation's themes on the App: the trading palette as styles, saving the choice,
and Textual's built-in themes kept out (they lack the trading palette)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.style import Style
from textual.app import SystemCommand
from textual.screen import Screen
from textual.theme import Theme

from themes import DEFAULT
from workstation.core.config import save_setting
from workstation.core.model import ModelError
from workstation.ui.messages import ThemeChanged
from workstation.ui.panes.chart import ChartPane
from workstation.ui.panes.table import LiveTable

if TYPE_CHECKING:
    from workstation.ui.app import WorkstationApp


class ThemesMixin:
    def _build_styles(self: WorkstationApp) -> None:
        spec = self.themes.get(self.theme) or self.themes[DEFAULT]
        p = spec.palette
        self.palette_styles = {
            "up": Style(color=p.up), "down": Style(color=p.down), "buy": Style(color=p.buy, bold=True),
            "sell": Style(color=p.sell, bold=True), "muted": Style(color=p.muted), "stale": Style(color=p.stale, bold=True),
            "flash_up": Style(bgcolor=p.flash_up), "flash_down": Style(bgcolor=p.flash_down),
            "cursor": Style(bgcolor=p.cursor, bold=True), "header": Style(color=p.muted, bold=True),
            "paper_badge": Style(color="#ffffff", bgcolor=p.paper, bold=True),
            "live_badge": Style(color="#ffffff", bgcolor=p.live, bold=True, blink=False),
        }

    def _apply_theme(self: WorkstationApp, theme) -> None:
        self._build_styles()
        for table in self.main.query(LiveTable):
            table.generation += 1
            table.refresh()
        chart = self.main.query_one(ChartPane)
        self._chart_colours(chart)
        self._chart_dirty = True
        self._account_dirty = True
        if theme.name in self.themes and self.save_settings:
            try:
                save_setting(self.config_path, "ui.theme", theme.name)
            except (OSError, ValueError) as exc:
                self.log_line("error", f"cannot save the theme: {exc}")
        self.post_message(ThemeChanged(theme.name))

    def _chart_colours(self: WorkstationApp, chart: ChartPane) -> None:
        spec = self.themes.get(self.theme) or self.themes[DEFAULT]
        chart.colours = {"up": spec.palette.up, "down": spec.palette.down, "muted": spec.palette.muted,
                         "accent": spec.colours.get("accent", "#d7af5f"), "line": spec.colours.get("primary", "#3d8fd6")}

    @property
    def available_themes(self: WorkstationApp) -> dict[str, Theme]:
        """The workstation's own themes only (``themes/``): Textual's built-in ones lack the
        trading palette, so neither the palette's Theme picker nor ``theme`` offers them.

        Textual asks for this on every style lookup (``get_theme``, ``current_theme``: hundreds
        of thousands of times in a minute of repaints), so the filtered mapping is kept until a
        theme is registered or unregistered."""
        mine = getattr(self, "themes", None)
        if not mine:  # Textual's own start-up, before the themes are loaded
            return super().available_themes
        cached = getattr(self, "_available_themes", None)
        if cached is None or cached[0] is not mine:
            registered = super().available_themes
            cached = (mine, {name: theme for name, theme in registered.items() if name in mine})
            self._available_themes = cached
        return cached[1]

    def register_theme(self: WorkstationApp, theme: Theme) -> None:
        super().register_theme(theme)
        self._available_themes = None

    def unregister_theme(self: WorkstationApp, theme_name: str) -> None:
        super().unregister_theme(theme_name)
        self._available_themes = None

    def get_system_commands(self: WorkstationApp, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title == "Theme":
                command = SystemCommand("Theme", f"Pick a theme: {', '.join(sorted(self.themes))} (saved in the settings file)", command.callback)
            yield command

    def set_theme(self: WorkstationApp, name: str) -> None:
        if name not in self.themes:
            raise ModelError(f"unknown theme {name!r} (themes: {', '.join(sorted(self.themes))})")
        self.theme = name
