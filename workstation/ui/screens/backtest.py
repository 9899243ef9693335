"""The Backtest screen: pick a strategy, data and parameters, run, see the equity and the figures.

The run happens on a thread worker (the same engine as ``main.py backtest``); progress comes
back with ``call_from_thread`` and fills the progress bar; the result draws the equity
curve and the metrics table. Bad input (an unknown file, a malformed parameter) shows on
the status line. Ctrl+R runs, Escape goes back.

The third row chooses the fill model, as ``main.py backtest`` does with ``--spread``,
``--participation`` and ``--impact`` (and with the same parsers): spread blank or ``none``,
``auto`` (Corwin-Schultz from the bar ranges) or a full spread in bps; participation blank or
a percent of each bar's volume (``10%``); impact blank or the square-root law's coefficient.
A value that cannot be used is one line on the status line and runs nothing. The result adds
the fill model's name and the costs split into commission, spread and impact.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from rich.table import Table
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static
from textual.worker import Worker, WorkerState
from textual_plotext import PlotextPlot

from brokers.paper.fill_models import FillModel, FillModelError, model_of
from workstation.core import formatting
from workstation.core.model import ModelError

_SHOWN = ("final_equity", "total_return", "annual_return", "sharpe", "sortino", "calmar", "max_drawdown",
          "max_drawdown_days", "win_rate", "profit_factor", "trades", "exposure", "alpha", "beta")
_PCT = {"total_return", "annual_return", "max_drawdown", "win_rate", "exposure"}


@dataclass
class BacktestRequest:
    strategy: str
    data: str
    params: list[str]
    cash: str
    days: str
    fill_model: FillModel = field(default_factory=FillModel)


def fill_model(spread: str, participation: str, impact: str) -> FillModel:
    """The fill model the three fields choose (blank or ``none``: that part off; all off:
    ``next_open``), read as the CLI reads its flags; a value that cannot be used raises
    ``FillModelError`` (one line)."""
    def given(text: str) -> str | None:
        text = text.strip()
        return text if text and text.lower() != "none" else None

    try:
        return model_of(given(spread), given(participation), given(impact))
    except FillModelError as exc:
        raise FillModelError(str(exc).removeprefix("--")) from None


class BacktestScreen(Screen[None]):
    DEFAULT_CSS = """
    BacktestScreen { layout: vertical; }
    BacktestScreen #bt-form { height: auto; padding: 0 1; }
    BacktestScreen #bt-form Horizontal { height: auto; }
    BacktestScreen #bt-form Label { padding: 1 1 0 0; width: auto; }
    BacktestScreen #bt-strategy { width: 28; }
    BacktestScreen #bt-data { width: 1fr; }
    BacktestScreen #bt-params { width: 1fr; }
    BacktestScreen #bt-cash, BacktestScreen #bt-days { width: 14; }
    BacktestScreen #bt-spread { width: 14; }
    BacktestScreen #bt-participation { width: 12; }
    BacktestScreen #bt-impact { width: 12; }
    BacktestScreen #bt-spread, BacktestScreen #bt-participation, BacktestScreen #bt-impact { padding: 0 1; }
    BacktestScreen #bt-run { min-width: 9; width: auto; }
    BacktestScreen #bt-status { height: auto; padding: 0 1; color: $text-muted; }
    BacktestScreen #bt-status.error { color: $error; }
    BacktestScreen #bt-progress { padding: 0 1; height: 1; }
    BacktestScreen #bt-results { height: 1fr; }
    BacktestScreen #bt-chart { width: 2fr; }
    BacktestScreen #bt-metrics-box { width: 1fr; min-width: 36; padding: 0 1; }
    """

    BINDINGS = [
        Binding("ctrl+r", "run", "Run", id="backtest.run", tooltip="Run the backtest"),
        Binding("escape", "back", "Back", id="backtest.back", tooltip="Back to the workstation"),
    ]

    class Progress(Message):
        def __init__(self, done: int, total: int) -> None:
            super().__init__()
            self.done, self.total = done, total

    class Finished(Message):
        def __init__(self, result: Any, figures: dict[str, Any], refused: dict[str, dict[str, Any]] | None = None,
                     costs: dict[str, Any] | None = None) -> None:
            super().__init__()
            self.result, self.figures, self.refused, self.costs = result, figures, refused or {}, costs or {}

    def __init__(self, config_path: Path | None = None) -> None:
        super().__init__()
        self.config_path = config_path
        self.result: Any = None
        self.figures: dict[str, Any] = {}
        self.metrics_text = ""
        self.status_text = ""

    def compose(self) -> ComposeResult:
        from workstation.strategies.plugins import discover

        self.plugins = discover(config=self.config_path).plugins
        names = sorted(self.plugins)
        with Vertical(id="bt-form"):
            with Horizontal():
                yield Label("Strategy")
                yield Select([(n, n) for n in names], value=names[0] if names else Select.BLANK, id="bt-strategy",
                             allow_blank=False)
                yield Label("Data")
                yield Input(placeholder="a CSV/Parquet file, or symbols to simulate (AAPL MSFT)", id="bt-data")
            with Horizontal():
                yield Label("Params")
                yield Input(placeholder=self.params_hint(names[0] if names else ""), id="bt-params")
                yield Label("Cash")
                yield Input("100000", id="bt-cash")
                yield Label("Days")
                yield Input("90", id="bt-days")
            with Horizontal():
                yield Label("Spread")
                yield Input(placeholder="auto or 5", id="bt-spread",
                            tooltip="Fill model: blank for none, auto (from the bar ranges) or a full spread in bps")
                yield Label("Participation")
                yield Input(placeholder="e.g. 10%", id="bt-participation",
                            tooltip="Fill model: blank for none, or at most this share of each bar's volume fills")
                yield Label("Impact")
                yield Input(placeholder="e.g. 0.1", id="bt-impact",
                            tooltip="Fill model: blank for none, or the square-root impact coefficient")
                yield Button("Run", id="bt-run", variant="primary")
        yield ProgressBar(id="bt-progress", show_eta=False)
        yield Static("Ctrl+R runs · Escape goes back", id="bt-status")
        with Horizontal(id="bt-results"):
            yield PlotextPlot(id="bt-chart")
            with VerticalScroll(id="bt-metrics-box"):  # (scrolls when the figures outgrow a short screen)
                yield Static(id="bt-metrics")

    def params_hint(self, strategy: str) -> str:
        """The chosen strategy's own parameters at their defaults (``fast=10 slow=30``)."""
        from workstation.strategies.api import show_value

        spec = self.plugins.get(strategy)
        if spec is None:
            return "NAME=VALUE ..."
        params = spec.cls.parameters()
        return " ".join(f"{n}={show_value(p.default)}" for n, p in params.items()) or "(no parameters)"

    @on(Select.Changed, "#bt-strategy")
    def _strategy_chosen(self, event: Select.Changed) -> None:
        self.query_one("#bt-params", Input).placeholder = self.params_hint(str(event.value))

    def request(self) -> BacktestRequest:
        return BacktestRequest(
            strategy=str(self.query_one("#bt-strategy", Select).value),
            data=self.query_one("#bt-data", Input).value.strip(),
            params=self.query_one("#bt-params", Input).value.split(),
            cash=self.query_one("#bt-cash", Input).value.strip() or "100000",
            days=self.query_one("#bt-days", Input).value.strip() or "90",
            fill_model=fill_model(*(self.query_one(f"#bt-{n}", Input).value for n in ("spread", "participation", "impact"))),
        )

    @on(Button.Pressed, "#bt-run")
    def action_run(self) -> None:
        try:
            req = self.request()
        except FillModelError as exc:  # one line; nothing runs
            self._status(f"error: {exc}", error=True)
            return
        self._status("running...")
        self.query_one("#bt-progress", ProgressBar).update(total=None, progress=0)
        self._run(req)

    def action_back(self) -> None:
        self.app.pop_screen()

    @work(thread=True, exclusive=True, exit_on_error=False, group="backtest")
    def _run(self, req: BacktestRequest) -> None:
        from workstation.research import backtest as bt
        from workstation.research.inputs import backtest_config, load_inputs, order_limits, strategy_specs
        from workstation.core.clock import LiveClock
        from workstation.core.config import data_dir
        from workstation.core.model import to_decimal

        now = LiveClock().time()
        path = Path(req.data).expanduser()
        is_file = bool(req.data) and (path.exists() or "/" in req.data or "." in Path(req.data).name)
        files = [path] if is_file else None
        symbols = None if is_file else (req.data.replace(",", " ").split() or None)
        days = float(to_decimal(req.days, "days"))
        specs = strategy_specs([req.strategy], req.params, None, None, self.config_path)
        cfg = backtest_config(req.cash, None, None, 0, order_limits(None, None, False))
        if req.fill_model.active:
            cfg = msgspec.structs.replace(cfg, fill_model=req.fill_model)
        series, _ = load_inputs(files, symbols, days, 0, None, None, now)
        run = bt.Backtest(series, specs, cfg, journal_path=bt.backtest_journal_path(data_dir(), now))
        result = asyncio.run(run.run(lambda done, total: self.post_message(self.Progress(done, total))))
        # the figures read the run's fills (from its journal for a long run): here, off the screen's thread
        from workstation.research.figures import costs, fold

        folded = fold(result)
        self.post_message(self.Finished(result, bt.metrics(result, folded), bt.refusals(result), costs(result, folded)))

    def on_backtest_screen_progress(self, msg: Progress) -> None:
        self.query_one("#bt-progress", ProgressBar).update(total=msg.total, progress=msg.done)

    def on_backtest_screen_finished(self, msg: Finished) -> None:
        self.result, self.figures = msg.result, msg.figures
        r = msg.result
        self._status(f"{r.bars:,} bars, {r.fill_count:,} fills in {r.elapsed:.2f} s · journal {r.journal_path}")
        self._draw(r)
        table = Table.grid(padding=(0, 2))
        table.add_column(style="dim")
        table.add_column(justify="right")
        lines = []
        def row(label: str, text: str) -> None:
            table.add_row(label, text)
            lines.append(f"{label}: {text}")

        for key in _SHOWN:
            v = msg.figures.get(key)
            if v is None:
                text = "-"
            elif key in _PCT:
                text = f"{float(v) * 100:.2f}%"
            elif key.endswith("_days"):
                text = formatting.days(v)
            elif isinstance(v, float):
                text = f"{v:,.3f}"
            else:
                text = f"{v:,}" if isinstance(v, int) else f"{v:,.2f}"
            row(key.replace("_", " "), text)
            if key == "total_return" and msg.costs:  # what the return paid, under which fill model
                row("fill model", str(msg.costs.get("model", "next_open")))
                for name, label in (("commission", "commission"), ("spread", "spread cost"),
                                    ("impact", "impact cost"), ("total", "total costs")):
                    row(label, formatting.money(msg.costs[name]))
                if msg.costs.get("partial_fills"):
                    row("partial fills", f"{msg.costs['partial_fills']:,}")
        refused = msg.refused
        if refused:  # a run whose orders were all refused must not read as a quiet strategy
            total = sum(v["count"] for v in refused.values())
            self._status(f"{r.bars:,} bars, {r.fill_count:,} fills, {total:,} orders refused in {r.elapsed:.2f} s"
                         f" · journal {r.journal_path}")
            for rule, v in refused.items():
                table.add_row(f"refused: {rule.replace('_', ' ')}", f"{v['count']:,}")
                table.add_row("", v["example"])
                lines.append(f"refused: {rule.replace('_', ' ')}: {v['count']:,} (e.g. {v['example']})")
        self.metrics_text = "\n".join(lines)
        self.query_one("#bt-metrics", Static).update(table)

    def _draw(self, result: Any) -> None:
        chart = self.query_one("#bt-chart", PlotextPlot)
        plt = chart.plt
        plt.clear_data()
        plt.clear_figure()
        days, eq = result.curve.days, result.curve.day_equity  # each New York day's last equity, kept by the run
        if len(eq):
            plt.plot(list(range(len(eq))), eq.tolist(), label="equity")
            step = max(1, len(days) // 5)
            plt.xticks(list(range(0, len(days), step)), [d.isoformat() for d in days[::step]])
        plt.title("Equity")
        chart.refresh()

    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#bt-status", Static)
        self.status_text = text
        status.update(text)
        status.set_class(error, "error")

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "backtest" or event.state is not WorkerState.ERROR:
            return
        exc = event.worker.error
        message = str(exc) if isinstance(exc, (ModelError, ValueError, OSError)) else f"{type(exc).__name__}: {exc}"
        self._status(f"error: {message}", error=True)
        self.query_one("#bt-progress", ProgressBar).update(total=100, progress=0)
