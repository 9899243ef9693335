"""``main.py risk report``: the portfolio's VaR and CVaR, which positions and sectors carry
them, betas, stress scenarios, historical replays (configured, and ``--replay START..END``)
and the correlation matrix; as tables, ``--json`` (the
``PortfolioReport`` document) or ``--html FILE`` (one self-contained page with a heatmap).

Through the account's owning engine when one runs (``EngineAPI.risk_report``), else from a
read-only view of the account (its positions, the market's quotes and daily bars).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from workstation.cli.account import with_session
from workstation.cli.common import (
    CliError, Col, ConfigOpt, DataDirOpt, JsonOpt, ProfileOpt, WideOpt, console, emit_json, escape, fitted_table, print_table,
)

__all__ = ["risk_report"]

TOP = 10  # positions in the table

MethodOpt = Annotated[
    str | None, typer.Option("--method", help="historical, parametric or full (revaluation); every one unless told."),
]
LookbackOpt = Annotated[int, typer.Option("--lookback", help="Days of returns the figures are drawn from.")]
EwmaOpt = Annotated[
    float | None, typer.Option("--ewma", metavar="LAMBDA", help="Exponentially weighted covariance with this decay, e.g. 0.94."),
]
ReplayOpt = Annotated[
    list[str] | None,
    typer.Option("--replay", metavar="START..END", help="Also replay this window of days on today's book (repeatable)."),
]
HtmlOpt = Annotated[Path | None, typer.Option("--html", metavar="FILE", help="Also write a self-contained HTML report here.")]


def _money(v: float | Decimal | None) -> str:
    return "-" if v is None else f"{v:,.2f}"


def _pct(v: float | Decimal | None) -> str:
    return "-" if v is None else f"{v:+.2f}%"


def risk_report(
    method: MethodOpt = None,
    lookback: LookbackOpt = 250,
    ewma: EwmaOpt = None,
    replay: ReplayOpt = None,
    html: HtmlOpt = None,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Portfolio VaR/CVaR, risk by position and sector, betas, stress scenarios, correlation."""
    from workstation.core.model import IntentError
    from workstation.risk.report_doc import PortfolioReport, check_args, report_on
    from workstation.risk.replays import ad_hoc
    from workstation.risk.stress import StressError
    from workstation.risk.var import METHODS

    methods = [method] if method is not None else list(METHODS)
    windows = list(replay or [])
    try:
        check_args(methods, lookback, ewma)
        for w in windows:
            ad_hoc(w)
    except (IntentError, StressError) as exc:
        raise CliError(str(exc), 2) from None

    async def body(session) -> PortfolioReport:
        try:
            return await report_on(session, methods=methods, lookback=lookback, decay=ewma, replays=windows)
        except IntentError as exc:
            raise CliError(str(exc), 1) from None

    async def remote(engine) -> PortfolioReport:
        return await engine.risk_report(methods, lookback, ewma, windows or None)

    report = with_session(profile, config, data_dir_, body, remote=remote, mode="read")
    if html is not None:
        from workstation.risk.report_html import render_html

        try:
            html.expanduser().write_text(render_html(report), encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write the report to {html}: {exc.strerror or exc}", 2) from None
    if json_out:
        emit_json(msgspec.to_builtins(report, builtin_types=(Decimal,)))
        return
    print_report(report, wide)
    if html is not None:
        console().print(f"HTML report written to {escape(str(html))}")


def print_report(report: Any, wide: bool = False) -> None:
    r = report.risk
    con = console()
    methods = report.methods
    con.print(
        f"portfolio risk: equity {_money(report.equity)} {r.base_currency}, {r.days} days of returns "
        f"({r.first_day} to {r.last_day}, " + (f"EWMA {r.decay})" if r.decay is not None else "equal weights)")
    )
    rows = []
    for m in methods:
        for h in (1, 10):
            figs = [r.figure(m, c, h) for c in (0.95, 0.99)]
            if all(f is None for f in figs):
                continue
            cells = [_money(f.var if f else None) for f in figs] + [_money(f.cvar if f else None) for f in figs]
            rows.append([m, f"{h}d", cells[0], cells[2], cells[1], cells[3]])
    print_table(fitted_table("VaR and CVaR", [
        Col("Method"), Col("Horizon"), Col("VaR 95%", right=True), Col("CVaR 95%", 2, right=True),
        Col("VaR 99%", right=True), Col("CVaR 99%", 1, right=True),
    ], rows, wide), wide)

    first = methods[0]
    total = sum(p.component_var.get(first, 0.0) for p in r.positions)
    top = sorted(r.positions, key=lambda p: -abs(p.component_var.get(first, 0.0)))[:TOP]
    conf = f"{r.decomposition_confidence * 100:g}% {r.decomposition_horizon}d {first}"
    print_table(fitted_table(f"Top positions by component VaR ({conf})", [
        Col("Symbol"), Col("Sector", 3, wrap=True), Col("Exposure", right=True), Col("Beta", 2, right=True),
        Col("Comp VaR", right=True), Col("Share", 1, right=True),
    ], [
        [escape(p.symbol), escape(p.sector), _money(p.exposure), "-" if p.beta is None else f"{p.beta:.2f}",
         _money(p.component_var.get(first)), f"{round(p.component_var.get(first, 0.0) / total * 100)}%" if total else "-"]
        for p in top
    ], wide), wide)

    sectors = sorted((g for g in r.groups if g.by == "sector"), key=lambda g: -abs(g.component_var.get(first, 0.0)))
    print_table(fitted_table("Sectors", [Col("Sector", wrap=True), Col("Exposure", right=True), Col("Comp VaR", right=True)], [
        [escape(g.name), _money(g.exposure), _money(g.component_var.get(first))] for g in sectors
    ], wide), wide)

    print_table(fitted_table("Stress scenarios", [
        Col("Scenario"), Col("P&L", right=True), Col("% equity", right=True), Col("Worst positions", 1, wrap=True),
    ], [
        [escape(s.scenario), _money(s.pnl) if s.measured else "-", _pct(s.pnl_pct),
         escape(", ".join(f"{w.symbol} {_money(w.pnl)}" for w in s.worst[:3]) or ("-" if s.measured else "not measured: no bars in the window"))]
        for s in report.stress
    ], wide), wide)
    for s in report.stress:
        if s.window is not None and s.measured:
            for note in s.notes:
                con.print(f"{escape(s.scenario)}: {escape(note)}")
    con.print(
        f"beta to {r.benchmark}: " + ("-" if r.beta is None else f"{r.beta:.2f}")
        + (f" ({_money(r.beta_exposure)} of {r.benchmark})" if r.beta_exposure is not None else "")
        + "   diversification ratio " + ("-" if r.diversification_ratio is None else f"{r.diversification_ratio:.2f}")
    )
    for line in r.left_out:
        con.print(f"[yellow]left out: {escape(line)}[/]")
