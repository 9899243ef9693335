"""What a backtest runs on, read from what a person typed: the series (files or simulated
days), the strategies with their parameters, costs and order limits.

Both faces that start a backtest use it: ``main.py backtest``/``optimize`` and the
workstation's Backtest screen. Errors are ``ModelError`` (``BacktestError``) with one line.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from workstation.core.model import ModelError, to_decimal

NY = ZoneInfo("America/New_York")


def parse_when(text: str | None, what: str) -> float | None:
    """``2020-01-31`` (New York midnight) or ``2020-01-31T10:00`` (New York time) -> epoch seconds."""
    if text is None:
        return None
    try:
        d = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ModelError(f"{what} must be a date like 2020-01-31 or 2020-01-31T10:00, got {text!r}") from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=NY) if (d.hour, d.minute, d.second) != (0, 0, 0) else datetime.combine(d.date(), time(0), NY)
    return d.timestamp()


def parse_commission(text: str | None) -> tuple[Decimal, Decimal]:
    """``0.005`` (dollars per share) or ``0.1%`` (of the notional) -> (per share, percent)."""
    if text is None:
        return Decimal(0), Decimal(0)
    s = text.strip()
    if s.endswith("%"):
        pct = to_decimal(s[:-1], "commission")
        if pct < 0:
            raise ModelError(f"commission must not be negative, got {s}")
        return Decimal(0), pct
    per = to_decimal(s, "commission")
    if per < 0:
        raise ModelError(f"commission must not be negative, got {s}")
    return per, Decimal(0)


def parse_slippage(text: str | None) -> tuple[Decimal, int]:
    """``5`` or ``5bps`` (basis points of the price), or ``2ticks`` -> (bps, ticks)."""
    if text is None:
        return Decimal(0), 0
    s = text.strip().lower()
    if s.endswith("ticks") or s.endswith("tick"):
        n = to_decimal(s.rstrip("s")[:-4], "slippage ticks")
        if n < 0 or n != n.to_integral_value():
            raise ModelError(f"slippage ticks must be a whole number, got {text}")
        return Decimal(0), int(n)
    bps = to_decimal(s.removesuffix("bps"), "slippage")
    if bps < 0:
        raise ModelError(f"slippage must not be negative, got {text}")
    return bps, 0


def split_symbols(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out += [s.strip() for s in v.split(",") if s.strip()]
    return out


# Files a ``main.py backtest`` process began reading before its command line was parsed
# (``read_early``), by (files, symbols) as the command will ask for them; taken once.
_early: dict[tuple[tuple[str, ...], tuple[str, ...]], Callable[[int], Any] | None] = {}


def read_early(argv: list[str]) -> None:
    """Start reading a ``backtest`` command line's ``--data`` files at once, before the
    command-line parser and the engine are imported (the reading takes longer than both).
    Only the plain forms are recognised (``backtest ... --data FILE [--symbol SYM]``, ``=``
    forms too), and only files held in memory (up to ``STREAM_ROWS`` bars); anything else is
    left to the command, which then reads the files itself: ``start_loading`` takes these
    readers only for the same files and symbols."""
    if not argv or argv[0] != "backtest":
        return
    data: list[str] = []
    symbols: list[str] = []
    args = iter(argv[1:])
    for arg in args:
        name, eq, value = arg.partition("=")
        into = data if name == "--data" else symbols if name in ("--symbol", "--symbols", "-s") else None
        if into is None:
            continue
        if not eq:
            value = next(args, "")
        if not value or value.startswith("-"):
            return  # (a missing value: the parser will say so)
        into.append(value)
    if data:
        from workstation.research.series import STREAM_ROWS, _estimated_rows

        paths = [Path(p) for p in data]
        if any(_estimated_rows(p) > STREAM_ROWS for p in paths):
            return  # (a file too big to hold is checked whole first and streamed: a long run, and
            # read early its check would overlap the imports' memory, for no time that counts)
        _early[(tuple(str(p) for p in paths), tuple(symbols))] = start_loading(paths, symbols or None)


def start_loading(data: list[Path] | None, symbols: list[str] | None) -> Callable[[int], Any] | None:
    """Start reading the ``--data`` files now, each on a thread of its own, and return
    ``loaded(i)``: file ``i``'s series (or its error, raised), waiting for it if need be.

    The readers parse in Arrow's C++ without the interpreter lock, so a command that starts
    them first overlaps the reading with what it does before it needs the bars (importing
    the engine, finding the strategies). The threads are daemons: a command that fails
    before it asks for the bars does not wait for them. None when there is nothing to read
    (or the symbols do not pair with the files: ``load_inputs`` says so)."""
    import threading

    if data and _early:
        key = (tuple(str(p) for p in data), tuple(symbols or ()))
        if key in _early:
            return _early.pop(key)
    syms = split_symbols(symbols)
    if not data or (syms and len(syms) != len(data)):
        return None
    # imported here, on the command's thread: the readers' threads then import only Arrow
    # (never a module the command's thread may be importing at the same time)
    import brokers.paper.barfile  # noqa: F401
    from workstation.research.series import load_series

    results: list[tuple[bool, Any]] = [(False, None)] * len(data)
    threads = []

    def read(i: int, path: Path, symbol: str | None) -> None:
        try:
            results[i] = (True, load_series(path, symbol))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            results[i] = (False, exc)

    for i, path in enumerate(data):
        t = threading.Thread(target=read, args=(i, path, syms[i] if syms else None), daemon=True,
                             name=f"load-{i}")
        t.start()
        threads.append(t)

    def loaded(i: int) -> Any:
        threads[i].join()
        ok, value = results[i]
        if not ok:
            raise value
        return value

    return loaded


def load_inputs(
    data: list[Path] | None, symbols: list[str] | None, days: float, seed: int, start: float | None, end: float | None,
    now: float, warmup: bool = True, *, cache: Path | None = None, bar: str = "1m",
    note: Callable[[str], None] | None = None, loaded: Callable[[int], Any] | None = None,
    regular_only: bool = True,
):
    """The series to run on (files; else each symbol's cached ``bar`` bars under the data
    directory ``cache``, else simulated days), and the warm-up bars before ``start``.
    ``note`` hears one line for each cache file used, and for each file whose bars outside
    the NYSE regular session were left out (``regular_only``: intraday bars of equities,
    ETFs and their options keep to the exchange's sessions, see ``regular_session_only``);
    ``loaded`` (``start_loading``) gives the files' series already being read."""
    from workstation.research.backtest import BacktestError, load_series, synthetic_series

    syms = split_symbols(symbols)
    series = []
    if data:
        if syms and len(syms) != len(data):
            raise BacktestError(f"give one --symbol per --data file ({len(data)} files, {len(syms)} symbols)")
        for i, path in enumerate(data):
            series.append(loaded(i) if loaded is not None else load_series(path, syms[i] if syms else None))
    else:
        if not syms:
            raise BacktestError("give --data FILE or -s SYMBOL (simulated history)")
        stop = end if end is not None else (now // 86_400) * 86_400
        for sym in syms:
            cached = cached_series(sym, bar, cache, start, end)
            if cached is not None:
                if note is not None:
                    note(f"{cached.symbol}: {bar} bars from the cache {cached.source}")
                series.append(cached)
            else:
                series.append(synthetic_series(sym, days, end=stop, seed=seed))
    if regular_only:  # intraday bars of NYSE-listed files and caches: the regular session only
        series = [_regular(s, note) for s in series]
    chosen = [s.between(start, end) for s in series]
    for s in chosen:
        if not len(s):
            raise BacktestError(f"{s.source or s.symbol}: no bars between the chosen --from and --to")
    before = [s.between(None, start) for s in series] if warmup and start is not None else []
    return chosen, [b for b in before if len(b)]


def _regular(series: Any, note: Callable[[str], None] | None) -> Any:
    from workstation.research.series import BarSeries, regular_session_only

    if not isinstance(series, BarSeries):  # a file read in chunks runs on every bar it holds
        return series
    kept, dropped = regular_session_only(series)
    if dropped and note is not None:
        note(f"{series.symbol}: {dropped:,} bars outside the NYSE regular session left out "
             f"(pre- and post-market, holidays, early closes)")
    if not len(kept):
        from workstation.research.backtest import BacktestError

        raise BacktestError(f"{series.source or series.symbol}: no bars in the NYSE regular session")
    return kept


def cached_series(symbol: str, bar: str, cache: Path | None, start: float | None, end: float | None):
    """The cached bars of ``symbol`` (``main.py data fetch``) as a series, or None when the
    cache has none at that bar size. A cache that does not reach into ``[start, end)`` or
    cannot be read is a BacktestError saying what to do."""
    from workstation.core.config import data_dir
    from workstation.core.symbols import parse_symbol
    from workstation.research import datacache as dc
    from workstation.research.backtest import BacktestError, load_series

    try:
        sym = parse_symbol(symbol).symbol
        dc.bar_seconds(bar)
    except ModelError as exc:
        raise BacktestError(str(exc)) from None
    path = dc.cached_file(data_dir(cache), sym, bar)
    if path is None:
        return None
    try:
        series = load_series(path, sym)
    except ValueError as exc:  # ReplayError: the file is damaged
        raise BacktestError(f"{exc}: {dc.removal_hint(path)}") from None
    if not len(series.between(start, end)):
        first, last = (datetime.fromtimestamp(float(t), NY).strftime("%Y-%m-%d %H:%M") for t in (series.ts[0], series.ts[-1]))
        raise BacktestError(
            f"{path}: the cached {sym} bars run from {first} to {last} (New York), none between the chosen --from and --to; "
            f"fetch them with main.py data fetch -s {sym} --bar {bar} --from DAY"
        )
    return series


def strategy_specs(names: list[str], params: list[str], qty: str | None, size: str | None, config: Path | None):
    """Resolve ``--strategy`` and ``--param`` (validated) into specs carrying the user's own values."""
    from workstation.research.backtest import BacktestError, StrategySpec
    from workstation.research.realtime import choose_strategies
    from workstation.strategies.api import parse_assignments
    from workstation.strategies.plugins import discover

    if not names:
        raise BacktestError("choose a strategy with --strategy NAME (main.py strategies lists them)")
    extra = list(params)
    if qty is not None:
        extra.append(f"qty={qty}")
    if size is not None:
        extra.append(f"fraction={size.strip().removesuffix('%')}" if not size.strip().endswith("%") else
                     f"fraction={Decimal(size.strip()[:-1]) / 100}")
    found = discover(config=config)
    try:
        chosen = choose_strategies(names, extra, found)
    except ModelError as exc:
        if qty is not None and "'qty'" in str(exc):
            raise BacktestError(f"--qty: the chosen strategy has no qty parameter ({exc})") from None
        if size is not None and "'fraction'" in str(exc):
            raise BacktestError(f"--size: the chosen strategy has no fraction parameter ({exc})") from None
        raise
    raw = parse_assignments(extra)
    specs = []
    for choice in chosen:
        declared = choice.cls.parameters()
        mine = {}
        for key, value in raw.items():
            target, dot, pname = key.rpartition(".")
            if (dot and target == choice.cls.plugin_name()) or (not dot and key in declared):
                mine[pname if dot else key] = value
        specs.append(StrategySpec(choice.cls, mine))
    return specs


def backtest_config(cash: str, commission: str | None, slippage: str | None, seed: int, limits: dict[str, Any],
            spike_filter: bool = False, account: str = "cash"):
    from workstation.core.limits import with_values
    from workstation.research.backtest import BacktestConfig, open_limits

    start_cash = to_decimal(cash, "cash")
    per_share, pct = parse_commission(commission)
    bps, ticks = parse_slippage(slippage)
    return BacktestConfig(
        cash=start_cash, commission_per_share=per_share, commission_pct=pct, slippage_bps=bps, slippage_ticks=ticks,
        seed=seed, limits=with_values(open_limits(), limits), spike_filter=spike_filter, account=account,
    )


def order_limits(max_qty: str | None, max_notional: str | None, no_short: bool, given: list[str] | None = None) -> dict[str, Any]:
    """The limits of a run: the flags, then each ``NAME=VALUE`` of ``--limit`` (parsed as ``risk set`` parses)."""
    from workstation.core.limits import LimitError, parse_value

    out: dict[str, Any] = {"allow_short": not no_short}
    for item in given or []:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise LimitError(f"--limit takes NAME=VALUE, got {item!r}")
        out[name.strip()] = parse_value(name.strip(), value)
    if max_qty is not None:
        out["max_order_qty"] = to_decimal(max_qty, "max order quantity")
    if max_notional is not None:
        out["max_order_notional"] = to_decimal(max_notional, "max order notional")
    return out
