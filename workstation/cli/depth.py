"""``main.py depth AAPL [--levels 10] [--json]`` and ``main.py tape AAPL -d 30s [--json]``:
the order book and time and sales in the shell.

``depth`` waits for the first full view of the book (at most ``BOOK_WAIT_S`` seconds), prints
it once (bid size, bid, ask, ask size per row, best prices on top; ``--json``: the view's
fields) and ends. ``tape`` prints each trade as it comes, newest at the bottom, for the
duration (``--json``: one object per line), then exits 0. Both reach the book through the
account's owning engine when one runs (``EngineAPI.watch_depth`` over its socket), else
through a read-only session of their own on the paper market. Hooked into the Typer app by
``register(app)``.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from workstation.cli.common import (
    CliError,
    Col,
    ConfigOpt,
    DataDirOpt,
    JsonOpt,
    ProfileOpt,
    console,
    emit_json,
    fitted_table,
    parse_duration,
    print_table,
)
from workstation.core import formatting
from workstation.core.model import ModelError

BOOK_WAIT_S = 5.0  # how long ``depth`` waits for the first full view
POLL_S = 0.02


def register(app: typer.Typer) -> None:
    app.command("depth")(depth)
    app.command("tape")(tape)


def _symbol(text: str) -> Any:
    from workstation.core.symbols import parse_symbol

    try:
        return parse_symbol(text)
    except ModelError as exc:
        raise CliError(str(exc), 2) from None


def _digits(inst: Any) -> int:
    return formatting.tick_digits(getattr(inst, "tick", None))


async def _first_book(engine: Any, symbol: str, levels: int) -> Any:
    """Watch ``symbol``'s book, wait for its first view, unwatch; CliError (1) when none comes."""
    from workstation.api import IntentError

    try:
        await engine.watch_depth([symbol], levels)
    except IntentError as exc:
        raise CliError(str(exc), 1) from None
    try:
        waited = 0.0
        while (view := engine.book(symbol)) is None or view.state in ("empty", "stale"):
            if waited >= BOOK_WAIT_S:
                raise CliError(f"no order book for {symbol} within {BOOK_WAIT_S:g} s", 1)
            await asyncio.sleep(POLL_S)
            waited += POLL_S
        return view
    finally:
        try:
            await engine.unwatch_depth([symbol])
        except (IntentError, OSError):
            pass


def _local_engine(session: Any) -> Any:
    from workstation.api import LocalEngine

    return LocalEngine(session, source="cli")


def _reach(profile, config, data_dir_, symbol: str, fn) -> Any:
    from workstation.cli.account import with_session

    async def local(session) -> Any:
        return await fn(_local_engine(session))

    return with_session(profile, config, data_dir_, local, remote=fn, mode="read", feed=True, symbols=[symbol], refused_code=1)


def depth(
    symbol: Annotated[str, typer.Argument(help="The symbol: AAPL, BTC/USD, ESZ6 ...", show_default=False)],
    levels: Annotated[int, typer.Option("--levels", "-n", help="Price levels each side (1 to 1000).")] = 10,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """The order book once: bid size, bid, ask and ask size per level, best prices on top."""
    inst = _symbol(symbol)
    if not 1 <= levels <= 1000:
        raise CliError(f"levels must be a whole number from 1 to 1000, got {levels}", 2)

    async def fn(engine) -> Any:
        return await _first_book(engine, inst.symbol, levels)

    view = _reach(profile, config, data_dir_, inst.symbol, fn)
    if json_out:
        emit_json(book_document(view))
        return
    _print_book(view, _digits(inst))


def book_document(view: Any) -> dict[str, Any]:
    """A BookView as ``depth --json`` prints it: its fields, each level ``{price, size}``."""
    return {
        "symbol": view.symbol, "ts": view.ts, "seq": view.seq, "state": view.state,
        "bids": [{"price": lv.price, "size": lv.size} for lv in view.bids],
        "asks": [{"price": lv.price, "size": lv.size} for lv in view.asks],
    }


def _size(value: float) -> str:
    return formatting.quantity(value) if value == int(value) else f"{value:,.8g}"


def _print_book(view: Any, digits: int) -> None:
    rows = []
    for i in range(max(len(view.bids), len(view.asks))):
        bid = view.bids[i] if i < len(view.bids) else None
        ask = view.asks[i] if i < len(view.asks) else None
        rows.append([
            _size(bid.size) if bid else "", f"[green]{formatting.price(bid.price, digits)}[/]" if bid else "",
            f"[red]{formatting.price(ask.price, digits)}[/]" if ask else "", _size(ask.size) if ask else "",
        ])
    cols = [Col("Bid size", right=True), Col("Bid", right=True), Col("Ask", right=True), Col("Ask size", right=True)]
    when = datetime.fromtimestamp(view.ts).strftime("%H:%M:%S") if view.ts else ""
    state = "" if view.state == "ok" else f" · {view.state}"
    print_table(fitted_table(f"{view.symbol} book · {when}{state}", cols, rows), False)
    bid, ask = view.best_bid, view.best_ask
    if bid is not None and ask is not None:
        console().print(f"spread {formatting.price(ask - bid, digits)}", highlight=False)


def tape(
    symbol: Annotated[str, typer.Argument(help="The symbol: AAPL, BTC/USD, ESZ6 ...", show_default=False)],
    duration: Annotated[str, typer.Option("--duration", "-d", help="How long to print trades: 30s, 2m, 1h (a bare number is minutes).")] = "30s",
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Time and sales: each trade as it prints (time, price, size, aggressor) for the duration."""
    from workstation.core.book import TradePrint

    inst = _symbol(symbol)
    seconds = parse_duration(duration)
    assert seconds is not None
    digits = _digits(inst)
    out = _TapeWriter(json_out, digits)

    async def fn(engine) -> int:
        from workstation.api import IntentError

        def on_event(event: object) -> None:
            if type(event) is TradePrint and event.symbol == inst.symbol:
                out.write(event)

        unsubscribe = engine.subscribe(on_event)
        try:
            try:
                await engine.watch_depth([inst.symbol], 1)
            except IntentError as exc:
                raise CliError(str(exc), 1) from None
            out.header(inst.symbol, seconds)
            await asyncio.sleep(seconds)
            try:
                await engine.unwatch_depth([inst.symbol])
            except (IntentError, OSError):
                pass
        finally:
            unsubscribe()
        return out.count

    try:
        count = _reach(profile, config, data_dir_, inst.symbol, fn)
    except BrokenPipeError:  # `tape ... | head`: end quietly
        return
    out.footer(count)


class _TapeWriter:
    """Prints trades as lines: aligned columns for a person, JSON objects for a program."""

    def __init__(self, json_out: bool, digits: int) -> None:
        self.json_out = json_out
        self.digits = digits
        self.count = 0
        self._con = None if json_out else console()

    def header(self, symbol: str, seconds: float) -> None:
        if self._con is not None:
            self._con.print(f"[bold]{symbol} time and sales[/] for {formatting.duration(seconds)} (newest at the bottom)", highlight=False)
            self._con.print(f"{'Time':<12} {'Price':>12} {'Size':>12}  Side", style="bold", highlight=False)

    def write(self, trade: Any) -> None:
        self.count += 1
        if self._con is None:
            sys.stdout.write(_json_line(trade))
            sys.stdout.flush()
            return
        side = {"buy": "[green]B[/]", "sell": "[red]S[/]"}.get(trade.aggressor, " ")
        when = datetime.fromtimestamp(trade.ts).strftime("%H:%M:%S.%f")[:12]
        self._con.print(f"{when:<12} {formatting.price(trade.price, self.digits):>12} {_size(trade.size):>12}  {side}", highlight=False)

    def footer(self, count: int) -> None:
        if self._con is not None:
            self._con.print(f"{formatting.count(count)} trade{'' if count == 1 else 's'}", highlight=False)


def _json_line(trade: Any) -> str:
    import msgspec

    doc = {
        "symbol": trade.symbol, "ts": trade.ts, "price": trade.price, "size": trade.size,
        "aggressor": trade.aggressor, "trade_id": trade.trade_id,
    }
    return msgspec.json.encode(doc).decode() + "\n"
