"""The chart of the selected symbol: a line or candles, with two moving averages (plotext)."""

from __future__ import annotations

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
    BINDINGS = [Binding("v", "toggle_mode", "Line/candles", id="chart.mode", tooltip="Switch between a line and candles")]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.symbol: str | None = None
        self.mode = "line"
        self.points: list[float] = []
        self.colours: dict[str, str] = {}

    def show(self, symbol: str | None, points: list[float]) -> None:
        self.symbol = symbol
        self.points = list(points)
        self._draw()

    def _rgb(self, role: str, fallback: str) -> tuple[int, int, int]:
        return Color.parse(self.colours.get(role, fallback)).rgb

    def _draw(self) -> None:
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
        self.refresh()

    def action_toggle_mode(self) -> None:
        self.mode = "candles" if self.mode == "line" else "line"
        self._draw()
