"""The chart of the selected symbol: bars of a timeframe (1m, 5m, 1h, 1d) as a line or
candles, two moving averages, volume bars underneath and a UTC time axis (plotext). Bars the
engine backfilled from the broker's history into a hole of the live feed carry a marker
("backfilled" in the legend)."""

from __future__ import annotations

import math

from rich.text import Text
from textual.binding import Binding
from textual.color import Color
from textual.css.query import NoMatches
from textual_plotext import PlotextPlot

from workstation.core.chart_series import (
    TIMEFRAMES,
    BarSeries,
    moving_average,
    nice_ticks,
    price_labels,
    time_ticks,
    volume_label,
    window,
)
from workstation.core.model import Bar

HISTORY_BARS = 240  # bars of the timeframe fetched when a symbol or a timeframe is chosen
AVERAGES = ((20, "accent"), (50, "muted"))  # moving averages drawn: bars, palette role
MIN_VOLUME_HEIGHT = 8  # below this many rows the chart leaves the volume out
VOLUME_BLOCKS = " ▁▂▃▄▅▆▇█"
BACKFILL_MARKER = "◇"  # on each bar filled from the broker's history
FILLED_KEPT = 500  # backfilled bars remembered per symbol (for a symbol charted later)


class ChartPane(PlotextPlot, can_focus=True):
    """plotext builds the whole plot in Python (milliseconds), so the plot is built only when
    the data, the size, the timeframe or the theme change (the app asks at most ``CHART_HZ``
    times a second, and not while keys are arriving); a repaint shows the last plot built.

    The bars come from the engine's history in the chosen timeframe; each ``show`` folds the
    symbol's latest quote into the last bar (or opens the next one)."""

    BINDINGS = [
        Binding("v", "toggle_mode", "Line/candles", id="chart.mode", tooltip="Switch between a line and candles"),
        Binding("f", "next_timeframe", "Timeframe", id="chart.timeframe", tooltip="Next timeframe: 1m, 5m, 1h, 1d"),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.symbol: str | None = None
        self.mode = "line"
        self.timeframe = 0  # index into TIMEFRAMES
        self.series: BarSeries | None = None
        self.colours: dict[str, str] = {}
        self._text = Text()
        self._volume: tuple | None = None
        self.built = 0  # plots built (tests wait on it)
        self.loads = 0  # history loads finished (tests wait on it)
        self._filled: dict[str, list[Bar]] = {}  # symbol -> bars the engine backfilled

    @property
    def timeframe_name(self) -> str:
        return TIMEFRAMES[self.timeframe][0]

    @property
    def bars(self) -> list[Bar]:
        return self.series.bars if self.series is not None else []

    def on_mount(self) -> None:
        self._subtitle()

    def render(self) -> Text:
        return self._text

    def on_resize(self) -> None:
        self._draw()

    def show(self, symbol: str | None) -> None:
        """Chart ``symbol``: its bars come from the engine's history and quotes."""
        self.symbol = symbol
        if symbol:
            series = self._series_for(symbol)
            engine = getattr(self.app, "engine", None)
            q = engine.quote(symbol) if engine is not None else None
            if q is not None:
                series.on_quote(q.ts, q.last if q.last > 0 else q.mid, q.volume)
        self._draw()

    def backfill(self, symbol: str, bars: tuple[Bar, ...] | list[Bar]) -> bool:
        """Bars the engine filled into a hole of ``symbol``'s feed: kept, and put into the
        chart when it shows the symbol. Returns whether the chart must be drawn again (the
        app draws it at its own pace)."""
        kept = self._filled.setdefault(symbol, [])
        kept.extend(bars)
        del kept[:-FILLED_KEPT]
        s = self.series
        return s is not None and s.symbol == symbol and s.seeded and s.fill(bars)

    @staticmethod
    def backfill_into(app: object, symbol: str, bars: tuple[Bar, ...]) -> bool:
        """``backfill`` on the chart of ``app``'s main screen, if it has one (and ``bars``)."""
        if not bars:
            return False
        try:
            return app.main.query_one(ChartPane).backfill(symbol, bars)  # type: ignore[attr-defined]
        except NoMatches:  # no screen yet, or gone
            return False

    def _series_for(self, symbol: str) -> BarSeries:
        seconds = TIMEFRAMES[self.timeframe][1]
        s = self.series
        if s is None or s.symbol != symbol or s.seconds != seconds:
            s = self.series = BarSeries(symbol, seconds)
            if getattr(self.app, "engine", None) is not None:
                self.run_worker(self._load(s), group="chart-history", exclusive=True, exit_on_error=False, name="chart-history")
        return s

    async def _load(self, s: BarSeries) -> None:
        """The timeframe's past bars, and the ended minutes of the bar under way."""
        engine = self.app.engine  # type: ignore[attr-defined]
        now = engine.time()
        history: list[Bar] = []
        minutes: list[Bar] = []
        try:
            history = await engine.history(s.symbol, s.seconds, HISTORY_BARS)
            if s.seconds > 60:
                count = math.ceil((now - window(now, s.seconds)) / 60) + 1
                minutes = await engine.history(s.symbol, 60, count)
        except Exception:  # an engine gone away: the chart says it has no bars, never an error
            pass
        s.seed(history, minutes, engine.time())
        s.fill(self._filled.get(s.symbol, ()))
        self.loads += 1
        if s is self.series:
            self._draw()

    def _subtitle(self) -> None:
        names = " ".join(f"[b]{n}[/b]" if i == self.timeframe else n for i, (n, _) in enumerate(TIMEFRAMES))
        self.border_subtitle = f"f {names} · v {self.mode}"

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
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        self._volume = None
        self._set_data(width, height)
        volume = self._volume_rows(*self._volume) if self._volume is not None else []
        plt.plotsize(width, height - len(volume))
        plt._set_size(width, height - len(volume))
        plt.theme(theme)
        text = Text.from_ansi(plt.build())
        if not volume:
            return text
        lines = text.split("\n", allow_blank=True)
        # the volume goes between the price and the time axis (the frame's bottom line)
        at = next((i for i in range(len(lines) - 1, -1, -1) if "└" in lines[i].plain), len(lines))
        return Text("\n").join([*lines[:at], *volume, *lines[at:]])

    def _digits(self, symbol: str) -> int:
        try:
            exponent = self.app.instrument(symbol).tick_size.as_tuple().exponent  # type: ignore[attr-defined]
        except Exception:  # a symbol the engine no longer knows: two decimals
            return 2
        return max(2, -exponent) if isinstance(exponent, int) else 2

    def _set_data(self, width: int, height: int) -> None:
        plt = self.plt
        title = self.symbol or "no symbol selected"
        bars = self.bars
        if not self.symbol or len(bars) < 2:
            if self.symbol:
                title += f" · {self.timeframe_name} · " + ("no bars yet" if self.series and self.series.seeded else "loading…")
            plt.title(title)
            return
        volume_rows = 0 if height < MIN_VOLUME_HEIGHT else min(6, height // 6)
        price_rows = height - volume_rows - 4  # title, frame, time labels
        candles = self.mode == "candles"
        columns = max(10, width - 12)  # a first guess at the plot's columns, for how many bars fit
        shown = min(len(bars), columns // 2 if candles else columns)
        closes = [b.close for b in bars]
        first = len(bars) - shown
        view = bars[first:]
        lo, hi = min(b.low for b in view), max(b.high for b in view)
        averages = []
        for n, role in AVERAGES:
            ma = moving_average(closes, n)[first:]
            idx = [i for i, v in enumerate(ma) if v is not None]
            if idx:
                vals = [ma[i] for i in idx]
                lo, hi = min(lo, *vals), max(hi, *vals)
                averages.append((idx, vals, role, f"MA{n}"))
        yt = nice_ticks(lo, hi, max(3, min(5, price_rows // 2)))
        ylabels = price_labels(yt)
        vmax = max((b.volume for b in view), default=0.0)
        vlabel = volume_label(vmax) if volume_rows and vmax > 0 else ""
        label_width = max(len(s) for s in [*ylabels, vlabel])
        columns = max(1, width - label_width - 2)  # between the y axis and the right frame
        ticks = time_ticks([b.ts for b in view], view[-1].seconds, columns)
        xs = list(range(shown))
        plt.xlim(-0.5, shown - 0.5)
        if candles:
            data = {"Open": [b.open for b in view], "High": [b.high for b in view], "Low": [b.low for b in view], "Close": [b.close for b in view]}
            plt.candlestick(xs, data, colors=[self._rgb("up", "green"), self._rgb("down", "red")])
        else:
            plt.plot(xs, [b.close for b in view], color=self._rgb("line", "cyan"), label="last")
        for idx, vals, role, label in averages:
            plt.plot(idx, vals, color=self._rgb(role, "yellow"), label=label)
        filled = self.series.backfilled if self.series is not None else set()
        marked = [i for i, b in enumerate(view) if b.ts in filled]
        if marked:
            ys = [view[i].high if candles else view[i].close for i in marked]
            plt.scatter(marked, ys, marker=BACKFILL_MARKER, color=self._rgb("warning", "orange"), label="backfilled")
        plt.yticks(yt, [s.rjust(label_width) for s in ylabels])
        plt.xticks([i for i, _ in ticks], [s for _, s in ticks])
        digits = self._digits(self.symbol)
        plt.title(f"{title} · {self.timeframe_name}{' candles' if candles else ''} · last {closes[-1]:,.{digits}f} · UTC")
        self._volume = (view, vmax, vlabel.rjust(label_width), columns, volume_rows) if volume_rows and vmax > 0 else None

    def _volume_rows(self, view: list[Bar], vmax: float, label: str, columns: int, rows: int) -> list[Text]:
        """Volume bars in eighth blocks, each under its bar's column (plotext's own mapping
        of x to a column), coloured by the bar's direction."""
        cells: list[tuple[int, str]] = [(0, "")] * columns
        n = len(view)
        up, down = ("rgb({},{},{})".format(*self._rgb(role, fallback)) for role, fallback in (("up", "green"), ("down", "red")))
        for i, b in enumerate(view):
            col = math.floor(round(0.5 + (columns - 1) * (i + 0.5) / n, 8))
            if 0 <= col < columns:
                cells[col] = (round(b.volume / vmax * rows * 8), up if b.close >= b.open else down)
        out = []
        for r in range(rows):
            line = Text(label + "┤" if r == 0 else " " * len(label) + "│")
            floor = (rows - 1 - r) * 8
            for eighths, colour in cells:
                level = max(0, min(8, eighths - floor))
                line.append(VOLUME_BLOCKS[level], colour or None)
            line.append("│")
            out.append(line)
        return out

    def action_toggle_mode(self) -> None:
        self.mode = "candles" if self.mode == "line" else "line"
        self._subtitle()
        self._draw()

    def action_next_timeframe(self) -> None:
        self.timeframe = (self.timeframe + 1) % len(TIMEFRAMES)
        self._subtitle()
        self.show(self.symbol)
