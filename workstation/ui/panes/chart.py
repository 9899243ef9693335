"""The chart of the selected symbol: a line or candles, with two moving averages (plotext)."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.color import Color
from textual_plotext import PlotextPlot

CANDLE_TICKS = 8  # price points per candle


def moving_average(values: list[float], n: int) -> list[float | None]:
    out: list[float | None] = []
    total = 0.0
    for i, v in enumerate(values):
        total += v
        if i >= n:
            total -= values[i - n]
        out.append(total / n if i >= n - 1 else None)
    return out


def candles(values: list[float], per: int = CANDLE_TICKS) -> dict[str, list[float]]:
    data: dict[str, list[float]] = {"Open": [], "High": [], "Low": [], "Close": []}
    for i in range(0, len(values), per):
        chunk = values[i : i + per]
        data["Open"].append(chunk[0])
        data["High"].append(max(chunk))
        data["Low"].append(min(chunk))
        data["Close"].append(chunk[-1])
    return data


class ChartPane(PlotextPlot, can_focus=True):
    """plotext builds the whole plot in Python (tens of ms), so the plot is built only when
    the data, the size or the theme change (the app asks at most ``CHART_HZ`` times a
    second, and not while keys are arriving); a repaint shows the last plot built."""

    BINDINGS = [Binding("v", "toggle_mode", "Line/candles", id="chart.mode", tooltip="Switch between a line and candles")]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.symbol: str | None = None
        self.mode = "line"
        self.points: list[float] = []
        self.colours: dict[str, str] = {}
        self._text = Text()
        self.built = 0  # plots built (tests wait on it)

    def render(self) -> Text:
        return self._text

    def on_resize(self) -> None:
        self._draw()

    def show(self, symbol: str | None, points: list[float]) -> None:
        self.symbol = symbol
        # plotext's cost grows with the points drawn: no more than two per column
        width = max(20, self.size.width * 2)
        step = max(1, len(points) // width)
        self.points = list(points)[-width * step :: step] if step > 1 else list(points)
        self._draw()

    def _rgb(self, role: str, fallback: str) -> tuple[int, int, int]:
        return Color.parse(self.colours.get(role, fallback)).rgb

    def _draw(self) -> None:
        width, height = self.size.width, self.size.height
        if not self.is_mounted or width <= 0 or height <= 0:
            return
        self._text = self._plot_text(width, height, self._get_plotext_theme_name(self.app.theme))
        self.built += 1
        self.refresh()

    def _plot_text(self, width: int, height: int, theme: str) -> Text:
        """Build the plot as text."""
        self._set_data()
        plt = self.plt
        plt.plotsize(width, height)
        plt._set_size(width, height)
        plt.theme(theme)
        return Text.from_ansi(plt.build())

    def _set_data(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        title = self.symbol or "no symbol selected"
        pts = self.points
        if self.symbol and len(pts) >= 2:
            xs = list(range(len(pts)))
            if self.mode == "candles" and len(pts) >= 2 * CANDLE_TICKS:
                data = candles(pts)
                plt.candlestick(list(range(len(data["Open"]))), data, colors=[self._rgb("up", "green"), self._rgb("down", "red")])
                closes = data["Close"]
                for n, role in ((5, "accent"), (10, "muted")):
                    ma = moving_average(closes, n)
                    idx = [i for i, v in enumerate(ma) if v is not None]
                    if idx:
                        plt.plot(idx, [ma[i] for i in idx], color=self._rgb(role, "yellow"), label=f"MA{n}")
                title += " · candles"
            else:
                plt.plot(xs, pts, color=self._rgb("line", "cyan"), label="last")
                for n, role in ((20, "accent"), (50, "muted")):
                    ma = moving_average(pts, n)
                    idx = [i for i, v in enumerate(ma) if v is not None]
                    if idx:
                        plt.plot(idx, [ma[i] for i in idx], color=self._rgb(role, "yellow"), label=f"MA{n}")
                title += f" · last {pts[-1]:,.2f}"
            plt.xticks([])
        plt.title(title)

    def action_toggle_mode(self) -> None:
        self.mode = "candles" if self.mode == "line" else "line"
        self._draw()
