"""Commands for strategies: ``main.py strategies`` (list plugins) and ``main.py realtime``.

Hooked into the Typer app by ``register(app)`` from ``workstation.cli.app``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from workstation.cli.common import (
    CliError, console, default_strategies, emit_json, parse_duration, read_settings, symbols_of,
)

from workstation.core.model import ModelError, to_decimal


def register(app: typer.Typer) -> None:
    app.command("strategies")(strategies)
    app.command("realtime")(realtime)



def _report_plugin_errors(found) -> None:
    for err in found.errors:
        print(f"error: {err}", file=sys.stderr)


def strategies(
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="Settings file (its folder holds strategies/).")] = None,
) -> None:
    """List strategy plugins (shipped, user folder, entry points) with their parameters."""
    from workstation.strategies.api import show_value
    from workstation.strategies.plugins import describe, discover, user_dir

    found = discover(config=config)
    _report_plugin_errors(found)
    rows = [describe(found.plugins[n]) for n in sorted(found.plugins)]
    if json_out:
        emit_json({"strategies": rows, "errors": [str(e) for e in found.errors], "user_dir": str(user_dir(config))})
        return
    from rich.table import Table

    con = console()
    for r in rows:
        table = Table(title=f"{r['name']}  ({r['source']}{', process worker' if r['process'] else ''})", title_justify="left",
                      caption=r["description"], caption_justify="left", expand=False)
        for col in ("Parameter", "Type", "Default", "Range", "Description"):
            table.add_column(col)
        for p in r["parameters"]:
            table.add_row(p["name"], p["type"], show_value(p["default"]), _range(p), p["description"])
        con.print(table)
    con.print(f"user strategies folder: {user_dir(config)}")


def _range(p: dict[str, Any]) -> str:
    from workstation.strategies.api import show_value

    if p["choices"]:
        return ", ".join(map(show_value, p["choices"]))
    lo, hi = p["min"], p["max"]
    if lo is not None and hi is not None:
        return f"{show_value(lo)} .. {show_value(hi)}"
    if lo is not None:
        return f">= {show_value(lo)}"
    if hi is not None:
        return f"<= {show_value(hi)}"
    return ""


def strategies_line(chosen: list[Any], source: str) -> str:
    """The first line of a run without ``--strategy``: which strategies, with which parameters."""
    def one(c: Any) -> str:
        params = " ".join(f"{k}={v}" for k, v in c.params.items())
        return f"{c.cls.plugin_name()} ({params})" if params else c.cls.plugin_name()

    return f"strategies: {', '.join(one(c) for c in chosen)}: {source}, as no --strategy was given"


def realtime(
    symbols: Annotated[list[str] | None, typer.Option("--symbols", "-s", help="Symbols: -s AAPL MSFT, -s AAPL,MSFT or repeated -s.")] = None,
    duration: Annotated[str | None, typer.Option("--duration", "-d", help="Minutes (10) or 30s, 2m, 1h; default: until Ctrl+C.")] = None,
    cash: Annotated[str, typer.Option("--cash", "-c", help="Starting capital of this session's own book.")] = "100000",
    strategy: Annotated[list[str] | None, typer.Option("--strategy", help="Strategy plugin to run (repeatable); default: the [[strategies]] of the settings, else ma_crossover.")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="name=value, or strategy.name=value (repeatable).")] = None,
    allocation: Annotated[str | None, typer.Option("--allocation", help="Capital per strategy: 25000 or 25%.")] = None,
    tick_hz: Annotated[float | None, typer.Option("--tick-hz", help="Quotes per second per symbol from the paper market.")] = None,
    keep_orders: Annotated[bool, typer.Option("--keep-orders", help="Leave working orders in the session book at the end.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="No dashboard: print only the summary, one JSON object.")] = False,
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Paper profile whose market settings to use.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Settings file.")] = None,
    data_dir_: Annotated[Path | None, typer.Option("--data-dir", help="Data directory; sessions go in <data>/sessions/.")] = None,
) -> None:
    """A headless paper-trading session with strategies, a live dashboard and a summary."""
    import asyncio

    from workstation.research.realtime import RealtimeOptions, choose_strategies, run_realtime
    from workstation.strategies.api import Allocation
    from workstation.strategies.plugins import discover

    settings = read_settings(config)
    syms = symbols_of(symbols, settings)
    seconds = parse_duration(duration)
    if tick_hz is not None and not 0 < tick_hz <= 1000:
        raise CliError(f"tick rate must be above 0 and at most 1000 per second, got {tick_hz:g}", 2)
    try:
        start_cash = to_decimal(cash, "cash")
        if start_cash <= 0:
            raise ModelError(f"cash must be positive, got {cash}")
        alloc = Allocation.parse(allocation) if allocation is not None else None
        found = discover(config=config)
        names, params, source = list(strategy or []), list(param or []), ""
        if not names:  # the source documents' form: no --strategy runs the default set
            names, defaults, source = default_strategies(settings)
            params = defaults + params
        chosen = choose_strategies(names, params, found)
    except ModelError as exc:
        raise CliError(str(exc), 2) from None
    wanted = {c.cls.plugin_name() for c in chosen}
    for err in found.errors:  # a broken plugin the user did not ask for: mention it, carry on
        if Path(err.file).stem not in wanted:
            print(f"warning: plugin not loaded: {err}", file=sys.stderr)
    if source:
        print(strategies_line(chosen, source), file=sys.stderr if json_out else sys.stdout, flush=True)
    options = RealtimeOptions(
        symbols=syms, duration=seconds, cash=start_cash, strategies=chosen, tick_hz=tick_hz, keep_orders=keep_orders,
        allocation=alloc, profile=profile,
    )

    from workstation.core.config import data_dir
    from workstation.strategies.runner import tracebacks_to

    errors_log = data_dir(data_dir_) / "errors.log"  # a failed strategy's traceback goes there; one line on screen
    if json_out:
        try:
            with tracebacks_to(errors_log):
                summary = asyncio.run(run_realtime(options, settings, data=data_dir_))
        except ModelError as exc:
            raise CliError(str(exc), 2) from None
        emit_json(summary)
        return

    from rich.live import Live

    from workstation.research.realtime_view import dashboard, summary_view

    con = console()
    with Live(console=con, auto_refresh=False, transient=False) as screen:

        def refresh(live) -> None:
            screen.update(dashboard(live), refresh=True)

        try:
            with tracebacks_to(errors_log):
                summary = asyncio.run(run_realtime(options, settings, data=data_dir_, on_refresh=refresh))
        except ModelError as exc:
            raise CliError(str(exc), 2) from None
    con.line()
    con.print(summary_view(summary))
    con.print(f"see it again with: main.py status --session {summary['session']}")


def session_status(which: str, json_out: bool, data: Path | None) -> None:
    """``main.py status --session last``: the summary a realtime session journaled."""
    from workstation.research.realtime import find_session, load_summary

    try:
        root = find_session(data, which)
        summary, journal = load_summary(root)
    except ModelError as exc:
        raise CliError(str(exc), 2) from None
    try:
        if summary is None:
            fills = journal.fills()
            summary = {"session": root.name, "finished": False, "trades": len(fills), "journal": str(journal.path)}
            if json_out:
                emit_json(summary)
            else:
                console().print(
                    f"session {root.name} did not finish (no summary); {len(fills)} fills journaled in {journal.path}"
                )
            return
    finally:
        journal.close()
    if json_out:
        emit_json(summary)
        return
    from workstation.research.realtime_view import summary_view

    console().print(summary_view(summary))
