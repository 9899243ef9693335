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

    return formatting.tick_digits(parse_symbol(symbol).tick_size)


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


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
