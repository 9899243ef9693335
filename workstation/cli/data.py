"""``main.py data fetch`` and ``data list``: history kept on disk for backtests without the network.

``fetch`` asks the profile's broker for bars (the paper market generates them, offline) in
pieces and merges them into the Parquet cache of ``workstation.research.datacache``;
``list`` shows what the cache holds. Hooked into the Typer app by ``register(app)``.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Annotated

import typer

from workstation.cli.common import (
    CliError,
    Col,
    ConfigOpt,
    DataDirOpt,
    JsonOpt,
    ProfileOpt,
    SymbolsOpt,
    WideOpt,
    check_live,
    emit_json,
    fitted_table,
    print_table,
    profile_of,
    read_settings,
    run,
)
from workstation.core.model import ModelError

data_app = typer.Typer(help="Bars kept on disk: fetch them once, backtest without the network.", rich_markup_mode=None)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


def _day(ts: float, seconds: int) -> str:
    d = datetime.fromtimestamp(ts, tz=timezone.utc)
    return d.strftime("%Y-%m-%d") if seconds >= 86_400 else d.strftime("%Y-%m-%d %H:%M")


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


@data_app.command("fetch")
def fetch(
    symbols: SymbolsOpt = None,
    bar: Annotated[str, typer.Option("--bar", help="Bar size: 1m, 5m, 1h or 1d.")] = "1m",
    start: Annotated[str | None, typer.Option("--from", help="First day (New York), e.g. 2026-01-01.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End (exclusive; default: now), e.g. 2026-02-01.")] = None,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Download bars from the profile's broker (the paper market: generated) into the cache."""
    from workstation.core.clock import LiveClock
    from workstation.core.config import data_dir
    from workstation.core.symbols import split_symbols
    from workstation.research import datacache as dc
    from workstation.research.inputs import parse_when

    try:
        syms = split_symbols(symbols)
        if not syms:
            raise CliError("give the symbols to fetch: -s AAPL MSFT", 2)
        bar_name = bar.strip().lower()
        seconds = dc.bar_seconds(bar_name)
        if start is None:
            raise CliError("give the first day to fetch: --from 2026-01-01", 2)
        t0 = parse_when(start, "--from")
        now = LiveClock().time()
        t1 = parse_when(end, "--to")
        if t0 is None or (t1 is not None and t1 <= t0):
            raise CliError("--to must be after --from", 2)
        t1 = min(t1 or now, (now // seconds) * seconds)  # only bars that have closed
        if t1 <= t0:
            raise CliError(f"--from {start} is in the future: no {bar_name} bars to fetch yet", 2)
    except ModelError as exc:
        raise CliError(str(exc), 2) from None
    settings = read_settings(config)
    prof = profile_of(settings, profile)
    check_live(prof)
    root = data_dir(data_dir_)
    try:
        for sym in syms:  # a file we could not merge into is refused before anything is fetched
            dc.check_existing(root, sym, bar_name)
    except dc.CacheError as exc:
        raise CliError(str(exc), 2) from None
    err = sys.stderr
    show = err.isatty()

    from brokers.factory import create_broker

    broker = create_broker(prof, LiveClock())
    broker.attach(lambda report: None, lambda quote: None, lambda state: None)
    source = {"profile": prof.name, "broker": prof.broker}

    def progress_of(sym: str):
        def progress(t: float, n: int) -> None:
            if show:
                err.write(f"\r{sym} {bar_name}: {_day(t, 86_400)}  {n:,} bars")
                err.flush()

        return progress

    async def body() -> int:
        await broker.connect()
        try:
            for sym in syms:  # unknown symbols are refused before anything is written
                await broker.instrument(sym)
            wrote = 0
            for sym in syms:  # each symbol is written once fetched: memory holds one at a time
                cols = await dc.fetch(broker.history, sym, seconds, t0, t1, progress_of(sym))
                if show:
                    err.write("\r\x1b[K")
                count = len(cols["timestamp"])
                if not count:
                    print(f"{sym} {bar_name}: no bars from {prof.name} between {_day(t0, 86_400)} and {_day(t1, 86_400)}", file=err)
                    continue
                _path, added, _total = dc.store(root, sym, bar_name, cols, source)
                wrote += 1
                first, last = float(cols["timestamp"][0]), float(cols["timestamp"][-1])
                print(f"{sym} {bar_name}: {count:,} bars ({added:,} new) from {prof.name}, "
                      f"{_day(first, 86_400)} to {_day(last, 86_400)}", flush=True)
            return wrote
        finally:
            await broker.close()

    if not run(body):
        raise CliError("nothing fetched: no bars in that range", 1)


_LIST_COLS = [
    Col("Symbol"), Col("Bar"), Col("First (UTC)", 0), Col("Last (UTC)", 0), Col("Bars", 0, right=True),
    Col("Source", 1), Col("Size", 2, right=True),
]


@data_app.command("list")
def list_(
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    data_dir_: DataDirOpt = None,
) -> None:
    """What the cache holds: symbol, bar size, first and last bar, bars, source, file size."""
    from workstation.core.config import data_dir
    from workstation.core.model import iso
    from workstation.research import datacache as dc

    found, problems = dc.listing(data_dir(data_dir_))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if json_out:
        emit_json([
            {"symbol": f.symbol, "bar": f.bar, "first": iso(f.first), "last": iso(f.last), "bars": f.count,
             "source": f.source, "bytes": f.size, "path": str(f.path)}
            for f in found
        ])
    elif not found:
        print(f"no cached bars in {dc.bars_root(data_dir(data_dir_))} (main.py data fetch -s AAPL --from 2026-01-01)")
    else:
        rows = [
            [f.symbol, f.bar, _day(f.first, dc.BAR_SIZES.get(f.bar, 60)), _day(f.last, dc.BAR_SIZES.get(f.bar, 60)),
             f"{f.count:,}", f.source, _size(f.size)]
            for f in found
        ]
        print_table(fitted_table(f"Cached bars ({dc.bars_root(data_dir(data_dir_))})", _LIST_COLS, rows, wide), wide)
    if problems:
        raise typer.Exit(1)
