"""The command line (Typer): ``main.py stream``, ``prices``, ``status``, order commands and more.

Every command takes ``--profile``, ``--config`` and ``--data-dir``. Errors are one line on
stderr: bad input exits with status 2 (nothing sent, nothing written), a refused order or
an unreachable broker with status 1. No traceback reaches the screen; unexpected errors
are written to ``<data>/errors.log`` with their traceback.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys
import traceback
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from brokers.base import BrokerError
from workstation.core import formatting as fmt
from workstation.core.config import ConfigError, data_dir
from workstation.core.model import (
    ModelError,
    Quote,
    iso,
    to_decimal,
)

from workstation.cli.common import (
    LIVE_FLAG,
    CliError,
    Col,
    ConfigOpt,
    DataDirOpt,
    JsonOpt,
    ProfileOpt,
    SymbolsOpt,
    WideOpt,
    console,
    digits,
    fitted_table,
    money,
    num,
    open_view,
    parse_duration,
    print_table,
    profile_of,
    read_settings,
    run,
    symbols_of,
)


_NUM = msgspec.json.Encoder(decimal_format="number")

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="A trading workstation for the terminal. Without a command, opens the workstation. "
    "A live profile needs --live anywhere on the command line.",
)
paper_app = typer.Typer(help="The built-in paper account.", rich_markup_mode=None)
app.add_typer(paper_app, name="paper")

# --------------------------------------------------------------------------- stream


def quote_json(q: Quote, digits: int) -> dict[str, Any]:
    return {
        "ts": iso(q.ts),
        "symbol": q.symbol,
        "bid": num(q.bid, digits),
        "ask": num(q.ask, digits),
        "last": num(q.last, digits),
        "bid_size": num(q.bid_size, 8),
        "ask_size": num(q.ask_size, 8),
        "change": num(q.change, digits),
        "change_pct": num(q.change_pct, 4),
    }


def _quiet_stdout() -> None:
    """Point stdout at /dev/null once its reader has gone, so nothing more (not even the
    interpreter's last flush) raises on the closed pipe."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except OSError:
        pass


_PRICE_W = 12
"""Width of a price in ``stream``: 99,999,999.99 or 1,234.56789 (an 80-column line holds three)."""
_CHANGE_W = 10


@app.command()
def stream(
    symbols: SymbolsOpt = None,
    duration: Annotated[str | None, typer.Option("--duration", "-d", help="Minutes (5) or 30s, 2m, 1h; default: until Ctrl+C.")] = None,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Print live quotes until the duration ends or Ctrl+C."""
    settings = read_settings(config)
    syms = symbols_of(symbols, settings)
    seconds = parse_duration(duration)
    session = open_view(profile, config, data_dir_)
    places = {s: digits(s) for s in syms}
    sym_w = max(6, *(len(s) for s in syms))  # one quote is one line: 8+6+3x13+11+9 = 73 columns for short symbols
    out = console()
    err = console(stderr=True)
    wanted = set(syms)
    count = 0
    stop = asyncio.Event()
    reader_gone = False

    def on_quote(q: Quote) -> None:
        nonlocal count, reader_gone
        if q.symbol not in wanted or reader_gone:
            return
        count += 1
        d = places[q.symbol]
        try:
            if json_out:
                sys.stdout.write(_NUM.encode(quote_json(q, d)).decode() + "\n")
                sys.stdout.flush()
                return
            colour = "green" if q.change > 0 else "red" if q.change < 0 else "white"
            t = datetime.fromtimestamp(q.ts, tz=timezone.utc).astimezone().strftime("%H:%M:%S")
            out.print(
                f"{t} {q.symbol:<{sym_w}} {fmt.price(q.bid, d):>{_PRICE_W}} {fmt.price(q.ask, d):>{_PRICE_W}} {fmt.price(q.last, d):>{_PRICE_W}} "
                f"[{colour}]{fmt.price_change(q.change, d):>{_CHANGE_W}} {fmt.percent(q.change_pct, signed=True):>8}[/]",
                no_wrap=True, overflow="ignore", crop=False,
            )
        except (BrokenPipeError, SystemExit):  # `stream | head -1` (Rich turns the broken pipe into SystemExit): end quietly
            reader_gone = True
            _quiet_stdout()
            stop.set()

    async def body() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        session.bus.subscribe(Quote, on_quote)
        started = session.clock.monotonic()
        if session.profile.live:
            err.print(f"[bold white on red] LIVE [/] profile {session.profile.name}: real money")
        if not json_out:
            out.print(
                f"[bold]{'time':<8} {'symbol':<{sym_w}} {'bid':>{_PRICE_W}} {'ask':>{_PRICE_W}} {'last':>{_PRICE_W}} "
                f"{'change':>{_CHANGE_W}} {'chg %':>8}[/]",
                no_wrap=True, overflow="ignore", crop=False,
            )
        try:
            await session.start(syms)
            try:
                await asyncio.wait_for(stop.wait(), timeout=seconds)
            except TimeoutError:
                pass
        finally:
            await session.stop()
        elapsed = session.clock.monotonic() - started
        if reader_gone:
            return
        err.print(f"streamed {count} quotes for {len(syms)} symbols in {elapsed:.1f}s from {session.broker.name}")

    run(body)


# --------------------------------------------------------------------------- prices


@app.command()
def prices(
    symbols: SymbolsOpt = None,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """A table of the latest quotes."""
    settings = read_settings(config)
    syms = symbols_of(symbols, settings)
    session = open_view(profile, config, data_dir_)

    async def body() -> list[Quote]:
        try:
            # a broker's quotes need its connection (the paper market's are at hand)
            await session.start(syms, feed=session.profile.broker != "sim")
            return [q for s in syms if (q := session.quotes.get(s)) is not None]
        finally:
            await session.stop()

    quotes = run(body)
    if json_out:
        sys.stdout.write(_NUM.encode([quote_json(q, digits(q.symbol)) | {"volume": num(q.volume, 4)} for q in quotes]).decode() + "\n")
        return
    rows = []
    for q in quotes:
        d = digits(q.symbol)
        colour = "green" if q.change > 0 else "red" if q.change < 0 else ""
        rows.append([
            q.symbol, fmt.price(q.bid, d), fmt.price(q.ask, d), fmt.price(q.last, d),
            f"[{colour}]{fmt.price_change(q.change, d)}[/]" if colour else fmt.price_change(q.change, d),
            f"[{colour}]{fmt.percent(q.change_pct, signed=True)}[/]" if colour else fmt.percent(q.change_pct, signed=True),
            f"{q.volume:,.0f}", datetime.fromtimestamp(q.ts, tz=timezone.utc).astimezone().strftime("%H:%M:%S"),
        ])
    cols = [Col("Symbol"), Col("Bid", right=True), Col("Ask", right=True), Col("Last", right=True), Col("Change", 2, right=True),
            Col("Chg %", 1, right=True), Col("Volume", 3, right=True), Col("Time", 4, right=True)]
    print_table(fitted_table(f"Prices ({session.broker.name})", cols, rows, wide), wide)


_KEPT_KINDS = ("alert.rule", "risk.set")
"""What a paper reset carries into the new journal (without ``--all``): the account's
settings-like state, alert rules and run-time risk limits, in the order they were made."""

_ERASED = "positions, orders, fills, cash movements, the alert log, the circuit breaker and the equity history"


@paper_app.command("reset")
def paper_reset(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    cash: Annotated[str | None, typer.Option("--cash", help="Starting cash (default: the profile's).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Also erase the alert rules and run-time risk limits (kept by default).")] = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Start the paper account afresh: positions, orders, fills and the alert log go; alert rules
    and run-time risk limits stay unless --all (watchlists are every profile's and always stay).
    The old journal is kept as a backup."""
    settings = read_settings(config)
    prof = profile_of(settings, profile)
    if prof.broker != "sim":
        raise CliError(f"profile {prof.name!r} is not a paper profile", 2)
    start_cash = prof.initial_cash
    if cash is not None:
        try:
            start_cash = to_decimal(cash, "cash")
        except ModelError as exc:
            raise CliError(str(exc), 2) from None
        if start_cash <= 0:
            raise CliError("cash must be positive", 2)
    kept = "" if all_ else "; alert rules, risk limits and watchlists are kept"
    if not yes:
        if not sys.stdin.isatty():
            raise CliError("paper reset needs confirmation: run it in a terminal or pass --yes", 2)
        erased = _ERASED + (", alert rules and run-time risk limits" if all_ else "")
        console().print(f"This erases the {prof.name} account's {erased}, and starts it with {money(start_cash)} cash{kept}.")
        if not typer.confirm(f"Reset the {prof.name} account?"):
            raise CliError("paper reset canceled", 1)
    from workstation.serve.owner import AccountBusy, AccountLock

    lock = AccountLock(prof.name, data_dir_)
    try:
        lock.acquire("cli", config=config, command="paper reset")
    except AccountBusy as exc:
        raise CliError(f"{exc}: stop it first (main.py serve --stop, or quit the workstation)", 1) from None
    try:
        moved, carried = _reset_journal(lock.root, start_cash if cash is not None else None, keep=not all_)
    finally:
        lock.release()
    rules: set[str] = set()
    limits: set[tuple[str, str | None]] = set()
    for kind, data in carried:  # what the carried events amount to: rules still there, limits set
        if kind == "alert.rule":
            (rules.add if data.get("op") == "add" else rules.discard)(str(data.get("id")))
        else:
            limits.add((str(data.get("name")), data.get("strategy")))
    con = console()
    con.print(f"paper account {prof.name!r} reset to {money(start_cash)} cash" + (f"; old journal kept in {lock.root}" if moved else ""))
    if all_:
        con.print("erased: " + _ERASED + ", alert rules and run-time risk limits")
    else:
        con.print(f"erased: {_ERASED}; kept: {len(rules)} alert rule(s), {len(limits)} run-time risk limit(s), watchlists")


def _reset_journal(root: Path, cash: Decimal | None, keep: bool = True) -> tuple[bool, list[tuple[str, Any]]]:
    """Move the journal aside (kept as a backup) and start a new one holding, when ``keep``,
    the old one's alert rules and run-time risk limits. Returns (a journal was moved, the
    events carried over as (kind, data))."""
    journal = root / "journal.sqlite"
    from workstation.core.clock import LiveClock
    from workstation.core.journal import Journal

    carried: list[tuple[float, str, str | None, Any]] = []
    if keep and journal.exists():
        old = Journal(journal, readonly=True)
        try:
            for kind in _KEPT_KINDS:
                carried += [(seq, ts, k, ref, data) for seq, ts, k, ref, data in old.events(kind) if k == kind]
        finally:
            old.close()
        carried = [c[1:] for c in sorted(carried, key=lambda c: c[0])]
    stamp = datetime.fromtimestamp(LiveClock().time()).strftime("%Y%m%d-%H%M%S")
    moved = False
    for suffix in ("", "-wal", "-shm"):
        f = Path(str(journal) + suffix)
        if f.exists():
            f.rename(root / f"journal-{stamp}.sqlite{suffix}.bak")
            moved = True
    if cash is not None or carried:
        j = Journal(journal)
        try:
            if cash is not None:
                j.set_meta("initial_cash", str(cash))
            for ts, kind, ref, data in carried:
                j.append(kind, data, ts, ref=ref)
        finally:
            j.close()
    return moved, [(kind, data) for _ts, kind, _ref, data in carried]


from workstation.cli.listings import register as _register_listings  # noqa: E402
from workstation.cli.orders import build_request, describe  # noqa: E402,F401 (re-exported)
from workstation.trading.status import order_row, status_document  # noqa: E402,F401 (re-exported)
from workstation.cli.orders import register as _register_orders  # noqa: E402
from workstation.cli.risk import register as _register_risk  # noqa: E402

_register_listings(app)
_register_orders(app)

_register_risk(app)


# --------------------------------------------------------------------------- strategies

from workstation.cli.strategies import register as _register_strategies  # noqa: E402

_register_strategies(app)

from workstation.cli.backtest import register as _register_backtest  # noqa: E402

_register_backtest(app)

from workstation.cli.journal import register as _register_journal  # noqa: E402

_register_journal(app)

from workstation.cli.data import register as _register_data  # noqa: E402

_register_data(app)

from workstation.cli.chain import register as _register_chain  # noqa: E402

_register_chain(app)

from workstation.cli.spreads import register as _register_spreads  # noqa: E402

_register_spreads(app)

from workstation.cli.depth import register as _register_depth  # noqa: E402

_register_depth(app)

from workstation.cli.rebalance import register as _register_rebalance  # noqa: E402

_register_rebalance(app)

from workstation.cli.tax import register as _register_tax  # noqa: E402

_register_tax(app)


# --------------------------------------------------------------------------- default


@app.callback(invoke_without_command=True)
def root(ctx: typer.Context) -> None:
    """Without a command: open the workstation (``main.py tui``)."""
    if ctx.invoked_subcommand is None:
        from workstation.cli.tui import run_tui

        run_tui()


def _register_faces() -> None:
    from workstation.cli import serve as cli_serve
    from workstation.cli import tui as cli_tui

    cli_tui.register(app)
    cli_serve.register(app)


# --------------------------------------------------------------------------- entry


_NEGATIVE = re.compile(r"^-\d+(\.\d*)?$|^-\.\d+$")


def _check_negative_numbers(argv: list[str]) -> None:
    """``buy -5 AAPL``: a parser would take -5 for an option; name the real problem instead."""
    if argv[:1] == ["spread"]:  # a spread's legs are signed (-2 AAPL-...): it checks its own numbers
        return
    for i, token in enumerate(argv):
        if _NEGATIVE.match(token):
            prev = argv[i - 1] if i else ""
            if prev.startswith("--") and "=" not in prev:
                what = prev[2:].replace("-", " ")
                raise CliError(f"{what} must be positive, got {token}", 2)
            if argv[:2] == ["risk", "set"]:
                raise CliError(f"a risk limit cannot be negative, got {token}", 2)
            raise CliError(f"quantity must be positive, got {token}", 2)


def _gather_symbols(argv: list[str]) -> list[str]:
    """Let ``-s AAPL TSLA`` mean ``-s AAPL,TSLA``: a parser option takes one value, users type several."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        out.append(token)
        if token in ("-s", "--symbols") and i + 1 < len(argv):
            values = [argv[i + 1]]
            i += 2
            while i < len(argv) and not argv[i].startswith("-"):
                values.append(argv[i])
                i += 1
            out.append(",".join(values))
            continue
        i += 1
    return out


def _log_crash(exc: BaseException) -> Path | None:
    try:
        from workstation.core.files import private_dir, private_file

        path = data_dir() / "errors.log"
        private_dir(path.parent)
        with open(private_file(path), "a", encoding="utf-8") as fh:  # tracebacks may name accounts: 0600
            fh.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return None


def _for_the_command(argv: list[str]) -> typer.Typer:
    """The app with only the command (or command group) ``argv`` starts with, when it names one:
    the parser is built for that command alone, not for all thirty (a tenth of a second of
    every command's start). Anything else (no command, an option first, an unknown name)
    gets the whole app, its help and its suggestions."""
    import copy

    from typer.main import get_command_name

    if not argv or argv[0].startswith("-"):
        return app
    name = argv[0]
    commands = [c for c in app.registered_commands if (c.name or get_command_name(c.callback.__name__)) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if len(commands) + len(groups) != 1:
        return app
    trimmed = copy.copy(app)
    trimmed.registered_commands = commands
    trimmed.registered_groups = groups
    return trimmed


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    from workstation.cli import params

    params.install()  # plain values read without importing Pydantic (Typer's reader for the rest)
    _register_faces()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    code = 0
    live = LIVE_FLAG.set("--live" in args)  # a global flag: anywhere on the line, for every command
    args = [a for a in args if a != "--live"]
    try:
        _check_negative_numbers(args)
        args = _gather_symbols(args)
        result = _for_the_command(args)(args=args, standalone_mode=False, prog_name="main.py")
        if isinstance(result, int):
            code = result
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = exc.code
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        code = 130
    except (ModelError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    except BrokerError as exc:  # unreachable broker, missing keys, refused credentials
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # never a traceback on screen
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # the parser's usage errors
            print(f"error: {exc.format_message()}", file=sys.stderr)
            sys.exit(exc.exit_code)
        if type(exc).__name__ in ("Exit", "Abort"):
            sys.exit(getattr(exc, "exit_code", 130))
        where = _log_crash(exc)
        print(f"error: {type(exc).__name__}: {exc}" + (f" (details in {where})" if where else ""), file=sys.stderr)
        code = 1
    finally:
        LIVE_FLAG.reset(live)
    sys.exit(code)
