"""``main.py chain AAPL [--expiry 2026-12-18] [--strikes 10] [--json]``: an option chain in the shell.

Calls on the left (mirrored, so bid and ask sit next to the strike), the strike in the middle,
puts on the right, the at-the-money row marked, and the listed expiries under the table.
Figures come from the engine (``EngineAPI.option_chain``: the broker's quotes, IV and Greeks
at the engine's clock) through the account's owner when one runs, else from a read-only view.
Unknown figures are blank. A narrow terminal drops the same figures on both sides (Vol and OI
first); ``--wide`` keeps them all. Hooked into the Typer app by ``register(app)``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from workstation.cli.common import (
    CliError,
    Col,
    ConfigOpt,
    DataDirOpt,
    JsonOpt,
    ProfileOpt,
    WideOpt,
    console,
    emit_json,
    fitted_table,
    print_table,
    profile_of,
    read_settings,
)
from workstation.core import formatting
from workstation.core.model import ModelError, Right


def register(app: typer.Typer) -> None:
    app.command("chain")(chain)


def _expiry(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"malformed expiry {text!r}: expected a date such as 2026-12-18", 2) from None


def chain(
    underlying: Annotated[str, typer.Argument(help="The underlying: AAPL, SPY, SPX ...", show_default=False)],
    expiry: Annotated[str | None, typer.Option("--expiry", "-e", help="Expiry date, e.g. 2026-12-18 (default: the nearest listed).")] = None,
    strikes: Annotated[int | None, typer.Option("--strikes", "-n", help="Only this many strikes nearest the money (default: every listed one).")] = None,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """An option chain: bid, ask, last, IV and Greeks of each strike's call and put."""
    from workstation.api import chain_on
    from workstation.cli.account import with_session
    from workstation.core.symbols import parse_symbol

    try:
        symbol = parse_symbol(underlying).symbol
    except ModelError as exc:
        raise CliError(str(exc), 2) from None
    when = _expiry(expiry)
    if strikes is not None and strikes < 1:
        raise CliError(f"strikes must be at least 1, got {strikes}", 2)
    prof = profile_of(read_settings(config), profile)

    async def local(session) -> Any:
        from workstation.api import IntentError

        try:
            return await chain_on(session, symbol, when, strikes)
        except IntentError as exc:
            raise CliError(str(exc), 2) from None

    async def remote(engine) -> Any:
        return await engine.option_chain(symbol, when, strikes)

    got = with_session(
        profile, config, data_dir_, local, remote=remote, mode="read", feed=prof.broker != "sim", symbols=[symbol], refused_code=2,
    )
    if json_out:
        from workstation.core.chain_view import chain_document

        emit_json(chain_document(got))
        return
    _print(got, wide)


def _print(chain, wide: bool) -> None:
    from datetime import datetime

    from workstation.core.chain_view import FIGURES, figure, strike_rows, strike_text
    from workstation.core.options import NEW_YORK

    rows = strike_rows(chain)
    today = datetime.fromtimestamp(chain.ts, NEW_YORK).date()
    con = console()
    figures = list(FIGURES)
    dropped: list[str] = []

    def natural(fig) -> int:
        return max([len(fig.label)] + [len(figure(r.side(right), fig.key)) for r in rows for right in (Right.CALL, Right.PUT)])

    strike_w = max([len("Strike")] + [len(strike_text(r.strike)) + 2 for r in rows])
    if not wide:  # drop a figure from both sides at once, least kept first, until the rest fit
        while len(figures) > 1 and strike_w + 2 * sum(natural(f) + 3 for f in figures) + 4 > con.width:
            gone = min(figures, key=lambda f: f.keep)
            figures.remove(gone)
            dropped.append(gone.label)
    cols = [Col(f"{f.label}", right=True) for f in reversed(figures)] + [Col("Strike", right=True)] + [Col(f.label, right=True) for f in figures]
    body = []
    for r in rows:
        k = strike_text(r.strike)
        mark = f"[bold reverse]▸{k}◂[/]" if r.atm else f"[bold]{k}[/]"
        body.append([figure(r.call, f.key) for f in reversed(figures)] + [mark] + [figure(r.put, f.key) for f in figures])
    when = chain.expiry
    n = (when - today).days if when is not None else 0
    days = f" ({formatting.count(n)} day{'' if n == 1 else 's'})" if when is not None else ""
    spot = f" · spot {formatting.price(chain.spot, 2)}" if chain.spot is not None else ""
    title = f"{chain.underlying} {when.isoformat() if when else ''}{days}{spot} · calls | puts"
    print_table(fitted_table(title, cols, body, wide=True), False)
    notes = []
    if dropped:
        notes.append("not shown: " + ", ".join(dropped) + " (--wide shows them)")
    atm = chain.atm_strike()
    if atm is not None:
        notes.append(f"▸◂ at the money: {strike_text(atm)}")
    notes.append("blank: not known (no two-sided quote, or no IV)")
    if chain.expiries:
        listed = ", ".join(
            (f"[bold]{d.isoformat()}[/]" if d == when else d.isoformat()) + f" ({(d - today).days}d)" for d in chain.expiries
        )
        notes.append(f"expiries: {listed}")
    for n in notes:
        con.print(n, highlight=False)
