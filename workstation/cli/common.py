"""What every command shares: the one-line error, the common options, settings and
profile lookup, the live-money guard, JSON and console output.

The command modules (``workstation.cli.app`` and ``cli_*``) import these public names; none
imports another command module's private helpers.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import msgspec
import typer

from workstation.core import formatting
from workstation.core.config import ConfigError, Profile, Settings, load_settings
from workstation.core.model import ModelError, plain

T = TypeVar("T")
MARKET_WAIT_S = 5.0


class CliError(Exception):
    """A failure to report on one line, with the exit status to use."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


ProfileOpt = Annotated[str | None, typer.Option("--profile", "-p", help="Profile to use (default: paper).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Settings file (default: the user config dir).")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (journals); or set WORKSTATION_HOME.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
SymbolsOpt = Annotated[
    list[str] | None, typer.Option("--symbols", "-s", help="Symbols: -s AAPL TSLA, -s AAPL,TSLA or repeated -s.")
]


# --------------------------------------------------------------------------- helpers


def read_settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None


def profile_of(settings: Settings, name: str | None) -> Profile:
    """The named profile, or a one-line error (exit 2) naming the known ones."""
    try:
        return settings.profile(name)
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None


def symbols_of(values: list[str] | None, settings: Settings) -> list[str]:
    from workstation.core.symbols import split_symbols

    try:
        syms = split_symbols(values)
        return syms or split_symbols(settings.watchlist)
    except ModelError as exc:
        raise CliError(str(exc), 2) from None


def parse_duration(text: str | None) -> float | None:
    """``5`` is minutes (as in the tool this replaces); ``30s``, ``2m``, ``1h`` also work."""
    if text is None or text == "":
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower(), re.ASCII)  # ASCII digits, as every number
    if not m:
        raise CliError(f"malformed duration {text!r}: use minutes (5) or 30s, 2m, 1h", 2)
    value = float(m.group(1))
    unit = m.group(2) or "m"
    seconds = value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if seconds <= 0:
        raise CliError(f"duration must be positive, got {text!r}", 2)
    return seconds


def run(coro: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coro())  # type: ignore[arg-type]


def open_view(profile: str | None, config: Path | None, data: Path | None):  # -> Session
    """A read-only view of the account (journal read only, quotes, no orders): what ``stream``,
    ``prices`` and ``fills`` use. Writing goes through the account's owner (``_with_session``)."""
    from workstation.core.journal import JournalError
    from workstation.trading.session import Session

    settings = read_settings(config)
    try:
        check_live(settings.profile(profile))
        return Session.build(settings, profile, data_root=data, readonly=True)
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None
    except JournalError as exc:
        raise CliError(str(exc), 1) from None


LIVE_FLAG: ContextVar[bool] = ContextVar("live_flag", default=False)
"""Whether ``--live`` was on this invocation's command line (``main`` takes it out of argv)."""


def check_live(prof: Profile) -> None:
    if prof.live and not LIVE_FLAG.get():
        raise CliError(f"profile {prof.name!r} trades real money: add --live to the command line", 2)


def confirm_live(prof: Profile, yes: bool, what: str) -> None:
    """Order commands on a live profile ask first (``--yes`` for scripts)."""
    if not prof.live or yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"LIVE profile {prof.name!r}: {what} needs confirmation: run it in a terminal or pass --yes", 2)
    if not typer.confirm(f"LIVE ({prof.name}): {what} with real money?"):
        raise CliError("canceled", 1)


def plain_json(doc: Any) -> Any:
    """Decimals as plain-notation strings (``"185.5"``, never ``"1.855E+2"``), recursively."""
    if isinstance(doc, Decimal):
        return plain(doc)
    if isinstance(doc, dict):
        return {k: plain_json(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [plain_json(v) for v in doc]
    if isinstance(doc, msgspec.Struct):
        return plain_json(msgspec.structs.asdict(doc))
    return doc


def emit_json(doc: Any) -> None:
    sys.stdout.write(msgspec.json.encode(plain_json(doc), enc_hook=_enc_hook).decode() + "\n")
    sys.stdout.flush()


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return plain(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


_NUM = msgspec.json.Encoder(decimal_format="number")


def num(x: float, digits: int) -> Decimal:
    """A float as a plain decimal with at most ``digits`` places (never an exponent)."""
    return Decimal(plain(Decimal(repr(round(x, digits)))) or "0")


def digits(symbol: str) -> int:
    """The tick digits of a symbol (EUR/USD 5, USD/JPY 3, AAPL 2)."""
    from workstation.core.symbols import parse_symbol

    try:
        return formatting.tick_digits(parse_symbol(symbol).tick_size)
    except ModelError:
        return 2


def escape(text: str) -> str:
    """``text`` shown as it is in rich markup (rich imported when a table is drawn, not by a
    command that prints JSON)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def console(stderr: bool = False, width: int | None = None):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, width=width)


def fmt(d: Decimal | None, places: int | None = None) -> str:
    """A price or quantity for a table: at ``places`` decimals, else as exact as it is; with separators."""
    if d is None:
        return ""
    if places is not None:
        return formatting.price(d, places)
    return formatting.quantity(d)


def money(d: Decimal) -> str:
    """Two decimals and thousands separators, never ``-0.00``."""
    return formatting.money(d)


# --------------------------------------------------------------------------- the default strategy set

DEFAULT_STRATEGY = "ma_crossover"
"""What ``realtime`` and ``backtest`` run without ``--strategy`` when the settings list none."""


def default_strategies(settings: Settings) -> tuple[list[str], list[str], str]:
    """The strategies to run when no ``--strategy`` is given: the ``[[strategies]]`` of the
    settings (each plugin once, with its settings' parameters as ``plugin.name=value``), else
    ``ma_crossover`` with its defaults. Returns (names, parameter assignments, where they came from)."""
    names: list[str] = []
    params: list[str] = []
    for entry in settings.strategies:
        if entry.plugin in names:
            continue  # one instance per plugin: the first entry's parameters
        names.append(entry.plugin)
        params.extend(f"{entry.plugin}.{key}={value}" for key, value in entry.params.items())
    if names:
        return names, params, "the [[strategies]] of the settings"
    return [DEFAULT_STRATEGY], [], "the default"


# --------------------------------------------------------------------------- tables that fit the terminal

WideOpt = Annotated[bool, typer.Option("--wide", help="Every column, however wide the terminal.")]


class Col:
    """A table column: ``keep`` ranks it (0 is never dropped; higher numbers go first when the
    terminal is too narrow); ``wrap`` lets a free-text column fold onto more lines instead."""

    __slots__ = ("name", "keep", "right", "wrap")

    def __init__(self, name: str, keep: int = 0, right: bool = False, wrap: bool = False) -> None:
        self.name, self.keep, self.right, self.wrap = name, keep, right, wrap


WRAP_MIN = 12
"""The narrowest a wrapping (free-text) column gets before it is dropped."""


def fitted_table(title: str, cols: list[Col], rows: list[list[str]], wide: bool = False, width: int | None = None):
    """A Rich table whose values are never cut: columns are dropped whole, lowest priority
    first, until the rest fit ``width`` (the console's); ``wide`` keeps them all (the lines
    are then as long as they need to be). The caption names what was left out."""
    from rich.table import Table
    from rich.text import Text

    width = width if width is not None else console().width

    def cell_width(i: int) -> int:
        return max([len(cols[i].name)] + [Text.from_markup(r[i]).cell_len for r in rows])

    natural = [cell_width(i) for i in range(len(cols))]
    shown = list(range(len(cols)))

    def needed(idx: list[int]) -> int:  # borders and one space either side of each cell
        return sum(min(natural[i], WRAP_MIN) if cols[i].wrap else natural[i] for i in idx) + 3 * len(idx) + 1

    if not wide:
        for i in sorted(shown, key=lambda i: (-cols[i].keep, -i)):
            if needed(shown) <= width or cols[i].keep == 0:
                break
            shown.remove(i)
    dropped = [cols[i].name for i in range(len(cols)) if i not in shown]
    table = Table(title=title, caption=("not shown: " + ", ".join(dropped) + " (--wide shows them)") if dropped else None)
    for i in shown:
        c = cols[i]
        table.add_column(
            c.name, justify="right" if c.right else "left",
            no_wrap=not c.wrap, overflow="fold", min_width=None if c.wrap else natural[i],
        )
    for r in rows:
        table.add_row(*(r[i] for i in shown))
    return table


def print_table(table, wide: bool = False) -> None:
    """Print a table; with ``--wide`` at its natural width even past the terminal's edge."""
    con = console()
    if wide:
        from rich.measure import Measurement

        need = Measurement.get(con, con.options.update(width=10_000), table).maximum
        con = console(width=max(con.width, need))
    con.print(table)
