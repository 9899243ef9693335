"""Commands for historical runs: ``main.py backtest`` and ``main.py optimize``.

Hooked into the Typer app by ``register(app)`` from ``workstation.cli.app``.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from workstation.cli.common import CliError, console, default_strategies, emit_json, read_settings

from workstation.research.inputs import (
    backtest_config,
    load_inputs,
    order_limits,
    parse_when,
    strategy_specs,
)
from workstation.core.model import ModelError


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)
    app.command("optimize")(optimize)
    app.command("execution")(execution_report)



DataOpt = Annotated[list[Path] | None, typer.Option("--data", help="CSV or Parquet bar file (repeatable: several symbols).")]
SymOpt = Annotated[
    list[str] | None,
    typer.Option("--symbols", "--symbol", "-s", help="Symbols to simulate; with --data, the symbol of each file."),
]
StratOpt = Annotated[list[str] | None, typer.Option(
    "--strategy", help="Strategy plugin (repeatable); default: the [[strategies]] of the settings, else ma_crossover.",
)]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="name=value or strategy.name=value (repeatable).")]


def backtest(
    data: DataOpt = None,
    symbols: SymOpt = None,
    days: Annotated[float, typer.Option("--days", "-d", help="Days of simulated 1-minute history (without --data).")] = 90,
    strategy: StratOpt = None,
    param: ParamOpt = None,
    cash: Annotated[str, typer.Option("--cash", "-c", help="Starting cash.")] = "100000",
    qty: Annotated[str | None, typer.Option("--qty", help="Fixed quantity per entry (the strategy's qty).")] = None,
    size: Annotated[str | None, typer.Option("--size", help="Sizing rule: a fraction of equity per entry, 0.1 or 10%.")] = None,
    commission: Annotated[str | None, typer.Option("--commission", help="Per share in dollars (0.005) or a percent (0.1%).")] = None,
    slippage: Annotated[str | None, typer.Option("--slippage", help="Basis points (5 or 5bps) or ticks (2ticks).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day (New York), e.g. 2010-01-01.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End (exclusive), e.g. 2012-01-01.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated market.")] = 0,
    max_qty: Annotated[str | None, typer.Option("--max-order-qty", help="Risk limit: largest order quantity.")] = None,
    max_notional: Annotated[str | None, typer.Option("--max-order-notional", help="Risk limit: largest order notional.")] = None,
    no_short: Annotated[bool, typer.Option("--no-short", help="Risk limit: refuse orders that open a short.")] = False,
    limit: Annotated[list[str] | None, typer.Option(
        "--limit", help="Any risk limit as NAME=VALUE (repeatable; names as in `risk show`): max_open_positions=3, "
                        "max_orders_per_hour=20, max_gross_leverage=2.")] = None,
    account: Annotated[str, typer.Option(
        "--account", help="cash or margin (margin: buying power at 2x equity, and the pattern-day-trader rule under $25,000).")] = "cash",
    spike_filter: Annotated[bool, typer.Option("--spike-filter", help="Drop bars the data-quality monitor calls spikes.")] = False,
    all_sessions: Annotated[bool, typer.Option(
        "--all-sessions", help="Keep an equity file's intraday bars outside the NYSE regular session (pre/post-market, holidays).")] = False,
    spread: Annotated[str | None, typer.Option(
        "--spread", help="Fill model: pay half the spread: auto (quotes where known, else Corwin-Schultz from bar ranges), "
                         "quotes (quotes only) or a full spread in bps (5).")] = None,
    quotes: Annotated[list[str] | None, typer.Option(
        "--quotes", help="Quote file for the spread model: SYMBOL=FILE (repeatable), a CSV of timestamp,bid,ask; "
                         "FILE alone with one symbol.")] = None,
    participation: Annotated[str | None, typer.Option(
        "--participation", help="Fill model: at most this share of a bar's volume fills (10%); the rest waits.")] = None,
    impact: Annotated[str | None, typer.Option(
        "--impact", help="Fill model: square-root impact coefficient (0.1): k x daily vol x sqrt(qty / daily volume).")] = None,
    capacity: Annotated[bool, typer.Option(
        "--capacity", help="Run again at 10x and 100x the size (qty and cash) and report each return and cost.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document (fills, final equity, metrics).")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="Write a self-contained HTML report here.")] = None,
    csv_dir: Annotated[Path | None, typer.Option("--csv", help="Export fills.csv, orders.csv and equity.csv into this folder.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Settings file (its folder holds strategies/).")] = None,
    data_dir_: Annotated[Path | None, typer.Option("--data-dir", help="Data directory; runs go in <data>/backtests/.")] = None,
) -> None:
    """Run strategies on history through the live engine and the simulated broker."""
    from workstation.research.inputs import start_loading

    loaded = start_loading(data, symbols)  # (the files are read while the engine is imported)
    from workstation.research.backtest import Backtest, backtest_journal_path
    from workstation.research.backtest_quotes import with_quotes
    from workstation.core.clock import LiveClock
    from workstation.core.config import data_dir

    now = LiveClock().time()
    names, params, source = list(strategy or []), list(param or []), ""
    if not names:  # the source documents' form (backtest -s AAPL -d 90): the default strategy set
        names, defaults, source = default_strategies(read_settings(config))
        params = defaults + params
    try:
        specs = strategy_specs(names, params, qty, size, config)
        cfg = backtest_config(cash, commission, slippage, seed, order_limits(max_qty, max_notional, no_short, limit),
                              spike_filter, account)
        cfg = _with_fill_model(cfg, "auto" if spread is None and quotes else spread, participation, impact)
        t0, t1 = parse_when(start, "--from"), parse_when(end, "--to")
        if t0 is not None and t1 is not None and t1 <= t0:
            raise ModelError("--to must be after --from")
        series, warm = load_inputs(data, symbols, days, seed, t0, t1, now, cache=data_dir_, note=_say, loaded=loaded,
                                   regular_only=not all_sessions)
        cfg = with_quotes(cfg, series, quotes or [])
        journal = backtest_journal_path(data_dir(data_dir_), now)
        bt = Backtest(series, specs, cfg, journal_path=journal, warmup=warm)
    except (ModelError, ValueError) as exc:
        raise CliError(str(exc), 2) from None
    if source:
        from types import SimpleNamespace

        from workstation.cli.strategies import strategies_line

        chosen = [SimpleNamespace(cls=sp.cls, params=sp.cls.validate_params(dict(sp.params))) for sp in specs]
        print(strategies_line(chosen, source), file=sys.stderr if json_out else sys.stdout, flush=True)
    from workstation.strategies.runner import tracebacks_to

    with tracebacks_to(data_dir(data_dir_) / "errors.log") as errors_log:  # one line on screen, the traceback there
        result = run(bt, quiet=json_out)
        if capacity:
            from workstation.research.capacity import capacity_curve

            result.capacity = capacity_curve(bt.series, specs, cfg, warmup=warm, first=result)
    from workstation.research import report as rep

    failed = [f"{n}: {s['error']} (traceback in {errors_log})" for n, s in result.strategies.items() if s["error"]]
    try:
        if report is not None:
            rep.write_html(result, report)
        step = rep.write_csv(result, csv_dir) if csv_dir is not None else 1
    except OSError as exc:
        raise CliError(f"cannot write the report: {exc}", 1) from None
    if json_out:  # written as it is made: the fills are encoded a batch at a time
        sys.stdout.flush()
        out = getattr(sys.stdout, "buffer", None)
        if out is None:  # a text-only stream (an embedding caller): one encoded copy
            import io

            out = io.BytesIO()
            rep.write_json(result, out)
            sys.stdout.write(out.getvalue().decode("utf-8") + "\n")
        else:
            rep.write_json(result, out)
            out.write(b"\n")
            out.flush()
    else:
        con = console()
        con.print(rep.summary(result))
        if report is not None:
            con.print(f"report: {report}")
        if csv_dir is not None:
            every = f" (equity.csv: one bar close in {step:,}, and the last)" if step > 1 else ""
            con.print(f"csv: {csv_dir}/fills.csv, orders.csv, equity.csv{every}")
        con.print(f"journal: {result.journal_path}")
    for line in failed:
        print(f"error: strategy {line}", file=sys.stderr)
    if failed:
        raise CliError("a strategy stopped with an error; the figures cover the run up to then", 1)


def _with_fill_model(cfg, spread: str | None, participation: str | None, impact: str | None):
    """``cfg`` with the fill model the flags choose (none: next_open); a bad value is a ValueError."""
    import msgspec

    from brokers.paper.fill_models import model_of

    if spread is None and participation is None and impact is None:
        return cfg
    return msgspec.structs.replace(cfg, fill_model=model_of(spread, participation, impact))


def run(bt, quiet: bool):
    import asyncio

    if quiet or not sys.stderr.isatty():
        return asyncio.run(bt.run())
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("backtest"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} bars"),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("run", total=sum(len(s) for s in bt.series))
        return asyncio.run(bt.run(lambda done, total: bar.update(task, completed=done)))


def optimize(
    data: DataOpt = None,
    symbols: SymOpt = None,
    days: Annotated[float, typer.Option("--days", "-d", help="Days of simulated history (without --data).")] = 90,
    strategy: Annotated[str | None, typer.Option("--strategy", help="Strategy plugin.")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="name=value or a range name=start:stop:step (inclusive).")] = None,
    metric: Annotated[str, typer.Option("--metric", help="Figure to sort by: sharpe, sortino, calmar, total_return, ...")] = "sharpe",
    split: Annotated[str | None, typer.Option("--split", help="Out-of-sample from this date (2010-01-01) or fraction (0.7).")] = None,
    cash: Annotated[str, typer.Option("--cash", "-c", help="Starting cash.")] = "100000",
    commission: Annotated[str | None, typer.Option("--commission", help="Per share (0.005) or percent (0.1%).")] = None,
    slippage: Annotated[str | None, typer.Option("--slippage", help="Basis points or ticks.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End (exclusive).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated market.")] = 0,
    workers: Annotated[int | None, typer.Option("--workers", help="Processes, or Ray CPUs (default: all cores).")] = None,
    executor: Annotated[str, typer.Option("--executor", help="local (processes) or ray.")] = "local",
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster (host:port); without it, one on this machine.")] = None,
    top: Annotated[int, typer.Option("--top", help="Rows to show.")] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Every column, however wide the terminal.")] = False,
    all_sessions: Annotated[bool, typer.Option(
        "--all-sessions", help="Keep an equity file's intraday bars outside the NYSE regular session (pre/post-market, holidays).")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="Settings file.")] = None,
) -> None:
    """Run a parameter grid on all cores (or a Ray cluster), in-sample and out-of-sample."""
    from workstation.research import optimize as opt
    from workstation.core.clock import LiveClock

    now = LiveClock().time()
    try:
        if not strategy:
            raise ModelError("choose a strategy with --strategy NAME")
        grid = opt.parse_grid(param or [])
        specs = strategy_specs([strategy], [], None, None, config)
        cls = specs[0].cls
        opt.check_grid(cls, grid)
        if metric not in opt.METRICS:
            raise ModelError(f"unknown metric {metric!r} (one of: {', '.join(opt.METRICS)})")
        if executor not in ("local", "ray"):
            raise ModelError(f"executor must be local or ray, got {executor!r}")
        if workers is not None and workers < 1:
            raise ModelError(f"--workers must be at least 1, got {workers}")
        cfg = backtest_config(cash, commission, slippage, seed, order_limits(None, None, False))
        t0, t1 = parse_when(start, "--from"), parse_when(end, "--to")
        series, _ = load_inputs(data, symbols, days, seed, t0, t1, now, warmup=False, note=_say, regular_only=not all_sessions)
        cut = opt.split_point(series, split, parse_when)
    except (ModelError, ValueError) as exc:
        raise CliError(str(exc), 2) from None
    job = opt.Sweep(plugin=strategy, config_path=str(config) if config else None, series=series, config=cfg, split=cut)
    combos = opt.combinations(grid)
    try:
        if executor == "ray":
            rows = opt.run_ray(job, combos, address, workers)
        else:
            rows = opt.run_local(job, combos, workers, progress=not json_out and sys.stderr.isatty())
    except opt.SweepError as exc:
        raise CliError(str(exc), 1) from None
    rows = opt.rank(rows, metric)
    if json_out:
        emit_json({"metric": metric, "split": opt.describe_split(cut), "results": rows})
        return
    from workstation.cli.common import Col, fitted_table, print_table

    title, cols, cells = opt.table(rows[:top], metric, cut)
    print_table(fitted_table(title, [Col(n, keep, right=not wrap, wrap=wrap) for n, keep, wrap in cols], cells, wide), wide)


def _journal_for(journal: Path | None, session: str | None, backtest_run: str | None, profile: str | None,
                 data: Path | None, config: Path | None) -> Path:
    from workstation.core.config import data_dir

    if journal is not None:
        if not journal.is_file():
            raise ModelError(f"{journal}: no such journal")
        return journal
    if session is not None:
        from workstation.research.realtime import find_session

        found = sorted(find_session(data, session).glob("*/journal.sqlite"))
        if not found:
            raise ModelError(f"session {session} has no journal")
        return found[0]
    if backtest_run is not None:
        base = data_dir(data) / "backtests"
        runs = sorted(base.glob("*.sqlite")) if base.is_dir() else []
        if not runs:
            raise ModelError(f"no backtests yet in {base}")
        if backtest_run == "last":
            return runs[-1]
        named = [r for r in runs if r.stem == backtest_run]
        if not named:
            raise ModelError(f"no backtest {backtest_run!r} in {base}")
        return named[0]
    settings = read_settings(config)
    path = data_dir(data) / settings.profile(profile).name / "journal.sqlite"
    if not path.is_file():
        raise ModelError(f"no journal for profile {settings.profile(profile).name!r} yet ({path})")
    return path


def execution_report(
    session: Annotated[str | None, typer.Option("--session", help="A realtime session (a name, or last).")] = None,
    backtest_run: Annotated[str | None, typer.Option("--backtest", help="A backtest run (a name, or last).")] = None,
    journal: Annotated[Path | None, typer.Option("--journal", help="Any journal file.")] = None,
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="An account's journal (default: paper).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="Settings file.")] = None,
    data_dir_: Annotated[Path | None, typer.Option("--data-dir", help="Data directory.")] = None,
) -> None:
    """Execution quality of a session's fills: slippage against decision and arrival prices."""
    from workstation.research import analytics, exec_benchmarks
    from workstation.core.journal import Journal, JournalError

    try:
        path = _journal_for(journal, session, backtest_run, profile, data_dir_, config)
        j = Journal(path)
    except (ModelError, JournalError) as exc:
        raise CliError(str(exc), 2) from None
    try:
        orders = {o.id: o for o in j.orders()}
        fills = j.fills()
        arrivals: dict[str, Decimal] = {}
        for _seq, _ts, _kind, _ref, data in j.events("arrivals"):
            arrivals.update({k: Decimal(v) for k, v in data.items()})
        algos = exec_benchmarks.journal_algorithms(j)
    finally:
        j.close()
    from workstation.cli.common import profile_of
    from workstation.core.symbols import parse_symbol

    base = profile_of(read_settings(config), profile).base_currency
    known: dict[str, tuple[Decimal, str]] = {}

    def contract(symbol: str) -> tuple[Decimal, str]:  # (multiplier, quote currency) by the symbol syntax
        if symbol not in known:
            try:
                inst = parse_symbol(symbol)
                known[symbol] = (inst.multiplier, inst.currency)
            except ModelError:  # a data file's own name for a series: one unit, in the base currency
                known[symbol] = (Decimal(1), base)
        return known[symbol]

    rows = analytics.execution_quality(
        fills, orders, arrivals, lambda s: contract(s)[0], currency=lambda s: contract(s)[1], base=base,
    )
    by_symbol = analytics.execution_summary(rows, "symbol")
    by_strategy = analytics.execution_summary(rows, "strategy")
    paper = exec_benchmarks.paper_bars(profile_of(read_settings(config), profile)) if algos and not (journal or backtest_run) else None
    executed = exec_benchmarks.parents(algos, orders.values(), fills, paper)
    if json_out:
        from workstation.research.report import _jsonable

        emit_json(_jsonable({"journal": str(path), "currency": base, "fills": len(rows), "by_symbol": by_symbol,
                             "by_strategy": by_strategy, "algorithms": exec_benchmarks.document(executed)}))
        return
    from rich.table import Table

    def amount(v: dict, key: str) -> str:
        if v.get(f"{key}_by_currency"):  # fills in several currencies, some with no rate to the base
            return ", ".join(f"{x:,.2f} {c}" for c, x in sorted(v[f"{key}_by_currency"].items()))
        if v[key] is None:
            return "-"
        ccy = v.get("currency") or base
        return f"{v[key]:,.2f}" + ("" if ccy == base else f" {ccy}")

    con = console()
    for title, groups in (("symbol", by_symbol), ("strategy", by_strategy)):
        t = Table(
            title=(f"Execution quality by {title} (cost > 0 is worse than the decision price; "
                   f"money in {base}, options and futures times their multiplier)"),
            title_justify="left",
        )
        for col in (title, "fills", f"vs decision {base}", "bps", f"vs arrival {base}", "bps"):
            t.add_column(col, justify="left" if col == title else "right")
        for k, v in groups.items():
            t.add_row(
                k, str(v["fills"]),
                amount(v, "vs_decision"), "-" if v["vs_decision_bps"] is None else f"{v['vs_decision_bps']:,.2f}",
                amount(v, "vs_arrival"), "-" if v["vs_arrival_bps"] is None else f"{v['vs_arrival_bps']:,.2f}",
            )
        con.print(t)
    if executed:
        con.print(exec_benchmarks.table(executed))
    con.print(f"journal: {path} ({len(rows)} fills)")
