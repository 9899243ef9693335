"""The Risk screen: the portfolio risk report, live, in four tabs.

``p`` on the Risk pane or ``:risk`` opens it. The tabs (keys ``1``-``4``, or the tab bar):

1. **Heatmap**: every position a tile sized by its exposure and coloured by its day P&L %,
   grouped by sector (``workstation.ui.heatmap.Heatmap``); the selected tile's line of the
   decomposition beneath it; Enter closes the screen with that position in the order ticket,
   on the side that reduces it.
2. **Decomposition**: VaR and CVaR by method, 95/99% and 1/10 days; then one table by
   position (exposure, marginal VaR, component VaR, share of the VaR, beta) and by sector,
   asset class and strategy, for one method (``m`` cycles); the portfolio's beta and
   diversification ratio; what was left out, muted.
3. **Correlation**: the holdings' correlation matrix as a grid of numbers (two decimals,
   always printed) on bands of colour that read in 16 colours; the largest exposures first,
   as many as fit, then "+N more".
4. **Stress**: one row per scenario (P&L, % of equity, worst position); the selected
   scenario's five worst positions and its P&L by sector beneath.

Data come only through ``EngineAPI.risk_report`` (a local engine or an owning engine over the
socket): a worker asks every ``REFRESH_S`` seconds (never twice at once). A refresh that fails
puts its one-line reason on the status line and keeps the last good figures with their time;
an empty book says so calmly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from workstation.core.formatting import money, percent, ratio, signed_money
from workstation.core.model import IntentError
from workstation.risk.report_doc import PortfolioReport, StressRow
from workstation.risk.var import GroupRisk, PositionRisk
from workstation.ui.panes.table import Column, LiveTable, Row

REFRESH_S = 5.0  # seconds between reports
TABS = ("heatmap", "decomposition", "correlation", "stress")
CELL = 6  # a correlation cell: " -0.35"
GROUPS = (("sector", "by sector"), ("asset_class", "by asset class"), ("strategy", "by strategy"))
EMPTY = "no open positions"


@dataclass(frozen=True, slots=True)
class RiskTrade:
    """What Enter on a heatmap tile hands back: the position to put in the ticket."""

    symbol: str


def clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%H:%M:%S UTC")


def corr_style(value: float, diagonal: bool) -> str:
    """Bands of colour from the 16 ANSI ones, each with a text colour that reads on it."""
    if diagonal:
        return "dim"
    if value >= 0.6:
        return "bold white on red"
    if value >= 0.2:
        return "black on yellow"
    if value > -0.2:
        return ""
    if value > -0.6:
        return "black on cyan"
    return "bold white on blue"


def corr_legend() -> Text:
    text = Text("bands: ", style="dim")
    for label, v in (("≥ 0.6", 0.9), ("0.2-0.6", 0.4), ("±0.2", 0.0), ("-0.6 to -0.2", -0.4), ("≤ -0.6", -0.9)):
        text.append(f" {label} ", style=corr_style(v, False) or "default")
        text.append(" ")
    return text


def correlation_grid(report: PortfolioReport, width: int, height: int) -> Text:
    """The matrix as text: the largest exposures first, as many as ``width`` x ``height`` hold."""
    r = report.risk
    syms = list(r.correlation_symbols)
    if not syms:
        return Text("no correlation: one series or none", style="dim")
    exposure: dict[str, float] = {}
    for p in r.positions:
        exposure[p.factor] = exposure.get(p.factor, 0.0) + abs(p.exposure)
    order = sorted(range(len(syms)), key=lambda i: (-exposure.get(syms[i], 0.0), syms[i]))
    label = min(10, max(len(s) for s in syms))
    cell = min(9, max(CELL, label + 1)) if width >= 100 else CELL  # wide: whole symbols over the columns
    fit_cols = max(1, (width - label - 1) // cell)
    fit_rows = max(1, height - 3)  # the header, the "+N more" line and the legend
    n = min(len(order), fit_cols, fit_rows)
    shown = order[:n]
    text = Text(" " * label, style="bold")
    for i in shown:
        text.append(syms[i][: cell - 1].rjust(cell), style="bold")
    for i in shown:
        text.append("\n")
        text.append(syms[i][:label].ljust(label), style="bold")
        for j in shown:
            v = r.correlation[i][j]
            text.append(f"{v:+.2f}".replace("+", " ").rjust(cell), style=corr_style(v, i == j))
    if len(order) > n:
        text.append(f"\n+{len(order) - n} more (largest exposures shown)", style="dim")
    text.append("\n")
    text.append_text(corr_legend())
    return text


class RiskTable(LiveTable):
    """A table of the screen: a section's header row in the header style."""

    def __init__(self, columns: list[Column], *, empty: str, id: str | None = None) -> None:
        super().__init__(columns, id=id)
        self.empty = empty


DECOMP_COLUMNS = [
    Column("name", "Position", 12, priority=9),
    Column("exposure", "Exposure", 10, right=True, priority=9),
    Column("marginal", "Marg. VaR", 9, right=True, priority=4),
    Column("component", "Comp. VaR", 10, right=True, priority=9),
    Column("share", "% VaR", 6, right=True, priority=8),
    Column("beta", "Beta", 5, right=True, priority=6),
]
STRESS_COLUMNS = [
    Column("name", "Scenario", 16, priority=9),
    Column("pnl", "P&L", 12, right=True, priority=9),
    Column("pct", "% equity", 8, right=True, priority=8),
    Column("worst", "Worst position", 20, priority=6),
]


def _pnl_role(v: Decimal | float) -> str:
    return "up" if v > 0 else "down" if v < 0 else ""


class RiskScreen(Screen[RiskTrade | None]):
    DEFAULT_CSS = """
    RiskScreen { layout: vertical; background: $surface; }
    RiskScreen #risk-title { height: 1; padding: 0 1; background: $panel; }
    RiskScreen #risk-status { height: 1; padding: 0 1; }
    RiskScreen #risk-empty { height: 1fr; content-align: center middle; display: none; }
    RiskScreen.-empty #risk-empty { display: block; }
    RiskScreen.-empty #risk-tabs { display: none; }
    RiskScreen #risk-tabs { height: 1fr; }
    RiskScreen TabPane { padding: 0; }
    RiskScreen #risk-headline { height: auto; padding: 0 1; }
    RiskScreen #risk-summary { height: auto; padding: 0 1; }
    RiskScreen #risk-notes { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    RiskScreen #risk-decomposition { height: 1fr; }
    RiskScreen #risk-correlation { height: 1fr; padding: 0 1; }
    RiskScreen #risk-stress { height: 1fr; }
    RiskScreen #risk-stress-detail { height: auto; max-height: 9; padding: 0 1; }
    RiskScreen #risk-heat-line { height: auto; padding: 0 1; }
    """

    BINDINGS = [
        Binding("escape,ctrl+g", "close", "Close", id="riskscreen.close", tooltip="Back to the workstation"),
        Binding("1", "tab('heatmap')", "Heatmap", show=False, id="riskscreen.heatmap", tooltip="Positions as tiles: size is exposure, colour is day P&L %"),
        Binding("2", "tab('decomposition')", "VaR", show=False, id="riskscreen.decomposition", tooltip="VaR and CVaR, and which positions and sectors carry them"),
        Binding("3", "tab('correlation')", "Correl.", show=False, id="riskscreen.correlation", tooltip="The holdings' correlation matrix"),
        Binding("4", "tab('stress')", "Stress", show=False, id="riskscreen.stress", tooltip="Stress scenarios: P&L, worst positions, by sector"),
        Binding("m", "method", "Method", id="riskscreen.method", tooltip="Decompose another method's VaR (historical, parametric, full)"),
        Binding("r", "refresh", "Refresh", id="riskscreen.refresh", tooltip="Compute the report again now"),
        Binding("enter", "trade", "Ticket", id="riskscreen.ticket", tooltip="On a heatmap tile: close the screen with that position in the ticket, on the side that reduces it"),
    ]

    def __init__(self, *, refresh_s: float = REFRESH_S) -> None:
        super().__init__()
        self.refresh_s = refresh_s
        self.report: PortfolioReport | None = None
        self.error = ""  # why the last refresh failed ("" : it did not)
        self.failed_at: float | None = None
        self.method = ""  # the method the decomposition shows ("": the report's first)
        self.fetches = 0  # reports received (tests)
        self._fetching = False
        self.title_line = ""  # plain text of the title and status lines (tests)
        self.status_line = ""

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        from workstation.ui.heatmap import Heatmap

        yield Static("", id="risk-title")
        yield Static("", id="risk-status")
        yield Static("", id="risk-empty")
        with TabbedContent(id="risk-tabs", initial="heatmap"):
            with TabPane("1 Heatmap", id="heatmap"):
                with Vertical():
                    yield Heatmap(id="risk-heatmap")
                    yield Static("", id="risk-heat-line")
            with TabPane("2 VaR", id="decomposition"):
                with Vertical():
                    yield Static("", id="risk-headline")
                    yield Static("", id="risk-summary")
                    yield RiskTable(list(DECOMP_COLUMNS), empty=EMPTY, id="risk-decomposition")
                    yield Static("", id="risk-notes")
            with TabPane("3 Correlation", id="correlation"):
                yield Static("", id="risk-correlation")
            with TabPane("4 Stress", id="stress"):
                with Vertical():
                    yield RiskTable(list(STRESS_COLUMNS), empty=EMPTY, id="risk-stress")
                    yield Static("", id="risk-stress-detail")
        yield Footer()

    def on_mount(self) -> None:
        self._show_title()
        self._show_status()
        self.set_interval(self.refresh_s, self.fetch, name="risk-refresh")
        self.fetch()
        self.call_after_refresh(self._focus_tab)

    # ------------------------------------------------------------------ fetching (worker)
    def fetch(self) -> None:
        """Ask for the report unless one is on its way (the next answer is the newer state)."""
        if self._fetching:
            return
        self._fetching = True
        self.run_worker(self._fetch(), group="risk-report", exit_on_error=False, name="risk report")

    async def _fetch(self) -> None:
        engine = self.app.engine  # type: ignore[attr-defined]
        try:
            report = await engine.risk_report()
        except IntentError as exc:
            self._failed(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - an engine gone, a socket closed: one line, the screen stays
            self._failed(f"{type(exc).__name__}: {exc}")
            return
        finally:
            self._fetching = False
        self.error = ""
        self.failed_at = None
        self.fetches += 1
        self.show(report)

    def _failed(self, reason: str) -> None:
        self.error = reason.splitlines()[0] if reason else "the report failed"
        self.failed_at = self.app.engine.time()  # type: ignore[attr-defined]
        if self.error.startswith(EMPTY):  # a flat book: nothing is at risk, no stale figures
            self.report = None
        self._show_empty()
        self._show_title()
        self._show_status()

    # ------------------------------------------------------------------ showing
    def show(self, report: PortfolioReport) -> None:
        self.report = report
        if self.method not in report.methods:
            self.method = report.methods[0] if report.methods else ""
        self._show_empty()
        self._show_title()
        self._show_status()
        self._show_heatmap()
        self._show_decomposition()
        self._show_correlation()
        self._show_stress()

    def _show_empty(self) -> None:
        empty = self.report is None
        self.set_class(empty, "-empty")
        if empty:
            if self.error.startswith(EMPTY):
                msg = Text("no open positions: nothing at risk", style="dim")
            elif self.error:
                msg = Text(self.error, style="bold red")
            else:
                msg = Text("computing the portfolio risk report…", style="dim")
            self.query_one("#risk-empty", Static).update(msg)

    def _show_title(self) -> None:
        rep = self.report
        text = Text("Portfolio risk", style="bold")
        if rep is not None:
            r = rep.risk
            wide = self.size.width >= 100
            weights = f"EWMA {r.decay:g}" if r.decay is not None else "equal weights" if wide else "equal wts"
            text.append(f" · equity {money(rep.equity)}" + (f" {rep.base_currency}" if wide else ""))
            text.append(f" · {r.days} days" + (f" ({r.first_day} to {r.last_day})" if wide else ""))
            text.append(f" · {weights} · {clock(rep.ts)}")
        self.title_line = text.plain
        self.query_one("#risk-title", Static).update(text)

    def _show_status(self) -> None:
        rep = self.report
        if self.error.startswith(EMPTY):
            text = Text("no open positions", style="dim")
        elif self.error:
            text = Text(f"refresh failed: {self.error}", style="bold red")
            if rep is not None:
                text.append(f" · figures of {clock(rep.ts)}", style="dim")
        elif rep is None:
            text = Text("computing…", style="dim")
        else:
            n = len(rep.risk.positions)
            text = Text(f"{n} position{'' if n == 1 else 's'} · lookback {rep.lookback} days · {', '.join(rep.methods)} · every {self.refresh_s:g} s", style="dim")
        self.status_line = text.plain
        self.query_one("#risk-status", Static).update(text)

    # heatmap
    def _show_heatmap(self) -> None:
        from workstation.ui.heatmap import Heatmap

        rep = self.report
        if rep is None:
            return
        heat = self.query_one(Heatmap)
        heat.show(list(rep.heatmap), rep.base_currency)
        self._show_heat_line(heat.selected)

    def _position(self, symbol: str | None) -> PositionRisk | None:
        if self.report is None or symbol is None:
            return None
        return next((p for p in self.report.risk.positions if p.symbol == symbol), None)

    def _show_heat_line(self, symbol: str | None) -> None:
        rep = self.report
        line = self.query_one("#risk-heat-line", Static)
        p = self._position(symbol)
        if rep is None or p is None:
            line.update(Text("←↑↓→ or h j k l move between tiles · Enter: the position in the ticket", style="dim"))
            return
        tile = next((t for t in rep.heatmap if t.symbol == p.symbol), None)
        comp = p.component_var.get(self.method, 0.0)
        total = self._total(self.method)
        text = Text(p.symbol, style="bold")
        text.append(f" · {p.sector} · exposure {money(p.exposure)}")
        text.append(f" · VaR contribution {money(comp)}" + (f" ({percent(comp / total * 100, 0)})" if total else ""))
        text.append(f" · beta {ratio(p.beta)}")
        day = tile.day_pnl_pct if tile is not None else None
        text.append(" · day ")
        text.append(percent(day, signed=True), style="green" if (day or 0) > 0 else "red" if (day or 0) < 0 else "")
        line.update(text)

    # decomposition
    def _total(self, method: str) -> float:
        rep = self.report
        return sum(p.component_var.get(method, 0.0) for p in rep.risk.positions) if rep is not None else 0.0

    def _show_decomposition(self) -> None:
        rep = self.report
        if rep is None:
            return
        r = rep.risk
        head = Text("", no_wrap=True)
        head.append(f"{'':15}{'VaR 95%':>12}{'CVaR 95%':>12}{'VaR 99%':>12}{'CVaR 99%':>12}", style="bold")
        for m in rep.methods:
            for h in (1, 10):
                figs = [r.figure(m, c, h) for c in (0.95, 0.99)]
                if all(f is None for f in figs):
                    continue
                head.append(f"\n{m} {h}d".ljust(16))
                for f in figs:
                    head.append(f"{money(f.var) if f else '-':>12}{money(f.cvar) if f else '-':>12}")
        self.query_one("#risk-headline", Static).update(head)
        summary = Text(f"beta to {r.benchmark} {ratio(r.beta)}")
        if r.beta_exposure is not None and self.size.width >= 100:
            summary.append(f" ({money(r.beta_exposure)} of {r.benchmark})", style="dim")
        summary.append(f" · diversification ratio {ratio(r.diversification_ratio)}")
        conf = f"{r.decomposition_confidence * 100:g}% {r.decomposition_horizon}d"
        summary.append(f" · by {self.method} {conf}", style="bold")
        self.query_one("#risk-summary", Static).update(summary)

        m = self.method
        total = self._total(m)

        def share(v: float) -> str:
            return percent(v / total * 100, 0) if total else "-"

        def comp_role(v: float) -> str:
            return "down" if v > 0 else "up" if v < 0 else ""

        rows: list[Row] = []
        for p in sorted(r.positions, key=lambda p: (-abs(p.component_var.get(m, 0.0)), p.symbol)):
            c = p.component_var.get(m, 0.0)
            rows.append(Row(f"pos:{p.symbol}", (
                (p.symbol, "bold"), (money(p.exposure), ""), (percent(p.marginal_var * 100), "muted"),
                (money(c), comp_role(c)), (share(c), ""), (ratio(p.beta), ""),
            )))
        rows.append(Row("total", (
            ("total", "header"), (money(sum(p.exposure for p in r.positions)), "header"), ("", ""),
            (money(total), "header"), (share(total), "header"), (ratio(r.beta), "header"),
        )))
        for by, title in GROUPS:
            groups: list[GroupRisk] = sorted((g for g in r.groups if g.by == by), key=lambda g: -abs(g.component_var.get(m, 0.0)))
            if not groups:
                continue
            rows.append(Row(f"h:{by}", ((title, "header"), ("", ""), ("", ""), ("", ""), ("", ""), ("", ""))))
            for g in groups:
                c = g.component_var.get(m, 0.0)
                rows.append(Row(f"{by}:{g.name}", (
                    (f"  {g.name}", ""), (money(g.exposure), ""), ("", ""), (money(c), comp_role(c)), (share(c), ""), ("", ""),
                )))
        self.query_one("#risk-decomposition", RiskTable).set_rows(rows)
        notes = self.query_one("#risk-notes", Static)
        notes.update(Text("\n".join(f"left out: {n}" for n in r.left_out)) if r.left_out else "")
        notes.display = bool(r.left_out)

    # correlation
    def _show_correlation(self) -> None:
        rep = self.report
        grid = self.query_one("#risk-correlation", Static)
        if rep is None:
            return
        width = grid.size.width or max(20, self.size.width - 4)
        height = grid.size.height or max(5, self.size.height - 7)
        grid.update(correlation_grid(rep, width, height))

    def on_resize(self) -> None:
        if self.report is not None:
            self.call_after_refresh(self._show_correlation)
            self.call_after_refresh(self._show_title)

    # stress
    def _show_stress(self) -> None:
        rep = self.report
        if rep is None:
            return
        rows = []
        for i, s in enumerate(rep.stress):
            worst = s.worst[0] if s.worst else None
            rows.append(Row(f"s{i}", (
                (s.scenario, "bold"), (signed_money(s.pnl), _pnl_role(s.pnl)), (percent(s.pnl_pct, signed=True), _pnl_role(s.pnl)),
                (f"{worst.symbol} {signed_money(worst.pnl)}" if worst is not None else "-", "down" if worst is not None else "muted"),
            )))
        table = self.query_one("#risk-stress", RiskTable)
        table.set_rows(rows)
        self._show_stress_detail()

    def selected_scenario(self) -> StressRow | None:
        rep = self.report
        key = self.query_one("#risk-stress", RiskTable).selected_key
        if rep is None or not key:
            return None
        i = int(key[1:])
        return rep.stress[i] if i < len(rep.stress) else None

    def _show_stress_detail(self) -> None:
        s = self.selected_scenario()
        detail = self.query_one("#risk-stress-detail", Static)
        if s is None:
            detail.update("")
            return
        text = Text(s.scenario, style="bold")
        if s.description:
            text.append(f": {s.description}", style="dim")
        text.append("\nworst: ", style="bold")
        if s.worst:
            for n, w in enumerate(s.worst):
                if n:
                    text.append(" · ")
                text.append(f"{w.symbol} ")
                text.append(signed_money(w.pnl), style="red")
        else:
            text.append("no position loses", style="dim")
        text.append("\nby sector: ", style="bold")
        if s.by_sector:
            for n, t in enumerate(s.by_sector):
                if n:
                    text.append(" · ")
                text.append(f"{t.name} ")
                text.append(signed_money(t.pnl), style="green" if t.pnl > 0 else "red" if t.pnl < 0 else "")
        else:
            text.append("-", style="dim")
        for note in s.notes:
            text.append(f"\n{note}", style="dim")
        detail.update(text)

    @on(LiveTable.Highlighted, "#risk-stress")
    def _scenario_highlighted(self, event: LiveTable.Highlighted) -> None:
        self._show_stress_detail()

    # ------------------------------------------------------------------ keys
    @property
    def tab(self) -> str:
        return self.query_one(TabbedContent).active

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.call_after_refresh(self._focus_tab)

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.call_after_refresh(self._focus_tab)
        if self.report is not None and self.tab == "correlation":
            self.call_after_refresh(self._show_correlation)

    def _focus_tab(self) -> None:
        from workstation.ui.heatmap import Heatmap

        target = {
            "heatmap": lambda: self.query_one(Heatmap),
            "decomposition": lambda: self.query_one("#risk-decomposition"),
            "stress": lambda: self.query_one("#risk-stress"),
        }.get(self.tab)
        if target is not None:
            self.set_focus(target())
        else:  # the correlation grid holds no cursor: the tab bar keeps the focus
            self.set_focus(self.query_one(TabbedContent).query_one("Tabs"))

    def action_method(self) -> None:
        rep = self.report
        if rep is None or not rep.methods:
            return
        at = rep.methods.index(self.method) if self.method in rep.methods else -1
        self.method = rep.methods[(at + 1) % len(rep.methods)]
        self._show_decomposition()
        self._show_heat_line(self._heat_selected())

    def _heat_selected(self) -> str | None:
        from workstation.ui.heatmap import Heatmap

        return self.query_one(Heatmap).selected

    def action_refresh(self) -> None:
        self.fetch()

    def action_close(self) -> None:
        self.dismiss(None)

    def on_heatmap_selected(self, event) -> None:
        """The heatmap's cursor moved: that position's line of the decomposition beneath."""
        event.stop()
        self._show_heat_line(event.symbol)

    def action_trade(self) -> None:
        """Enter on a tile: back to the workstation with that position in the ticket."""
        symbol = self._heat_selected() if self.tab == "heatmap" and self.report is not None else None
        if symbol is not None:
            self.dismiss(RiskTrade(symbol))
