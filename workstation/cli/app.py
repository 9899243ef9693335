"""The command line (Typer): ``main.py stream``, ``prices``, ``status``, order commands and more.

Every command takes ``--profile``, ``--config`` and ``--data-dir``. Errors are one line on
stderr: bad input exits with status 2 (nothing sent, nothing written), a refused order or
an unreachable broker with status 1. No traceback reaches the screen; unexpected errors
are written to ``<data>/errors.log`` with their traceback.
"""

from __future__ import annotations

import asyncio
import csv
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
from workstation.core.config import ConfigError, data_dir
from workstation.core.model import (
    Fill,
    ModelError,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    infer_order_type,
    Quote,
    Side,
    TimeInForce,
    iso,
    plain,
    to_decimal,
)

from workstation.cli.common import (
    LIVE_FLAG,
    MARKET_WAIT_S,
    CliError,
    ConfigOpt,
    DataDirOpt,
    JsonOpt,
    ProfileOpt,
    SymbolsOpt,
    check_live,
    confirm_live,
    console,
    digits,
    emit_json,
    fmt,
    money,
    num,
    open_view,
    parse_duration,
    profile_of,
    read_settings,
    run,
    symbols_of,
)

from workstation.cli.account import with_session  # noqa: E402

# this module's own short names for the shared helpers
_settings = read_settings
_profile = profile_of
_symbols = symbols_of
_run = run
_open_view = open_view
_check_live = check_live
_confirm_live = confirm_live
_emit_json = emit_json
_num = num
_digits = digits
_console = console
_fmt = fmt
_money = money
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
        "bid": _num(q.bid, digits),
        "ask": _num(q.ask, digits),
        "last": _num(q.last, digits),
        "bid_size": _num(q.bid_size, 8),
        "ask_size": _num(q.ask_size, 8),
        "change": _num(q.change, digits),
        "change_pct": _num(q.change_pct, 4),
    }


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
    settings = _settings(config)
    syms = _symbols(symbols, settings)
    seconds = parse_duration(duration)
    session = _open_view(profile, config, data_dir_)
    digits = {s: _digits(s) for s in syms}
    out = _console()
    err = _console(stderr=True)
    wanted = set(syms)
    count = 0

    def on_quote(q: Quote) -> None:
        nonlocal count
        if q.symbol not in wanted:
            return
        count += 1
        d = digits[q.symbol]
        if json_out:
            sys.stdout.write(_NUM.encode(quote_json(q, d)).decode() + "\n")
            sys.stdout.flush()
            return
        colour = "green" if q.change > 0 else "red" if q.change < 0 else "white"
        t = datetime.fromtimestamp(q.ts, tz=timezone.utc).astimezone().strftime("%H:%M:%S")
        out.print(
            f"{t}  {q.symbol:<12} {q.bid:>14,.{d}f} {q.ask:>14,.{d}f} {q.last:>14,.{d}f} "
            f"[{colour}]{q.change:>+12,.{d}f} {q.change_pct:>+8.2f}%[/]"
        )

    async def body() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        session.bus.subscribe(Quote, on_quote)
        started = session.clock.monotonic()
        if session.profile.live:
            err.print(f"[bold white on red] LIVE [/] profile {session.profile.name}: real money")
        if not json_out:
            out.print(f"[bold]{'time':<9} {'symbol':<12} {'bid':>14} {'ask':>14} {'last':>14} {'change':>12} {'chg %':>9}[/]")
        try:
            await session.start(syms)
            try:
                await asyncio.wait_for(stop.wait(), timeout=seconds)
            except TimeoutError:
                pass
        finally:
            await session.stop()
        elapsed = session.clock.monotonic() - started
        err.print(f"streamed {count} quotes for {len(syms)} symbols in {elapsed:.1f}s from {session.broker.name}")

    _run(body)


# --------------------------------------------------------------------------- prices


@app.command()
def prices(
    symbols: SymbolsOpt = None,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """A table of the latest quotes."""
    settings = _settings(config)
    syms = _symbols(symbols, settings)
    session = _open_view(profile, config, data_dir_)

    async def body() -> list[Quote]:
        try:
            await session.start(syms, feed=False)
            return [q for s in syms if (q := session.quotes.get(s)) is not None]
        finally:
            await session.stop()

    quotes = _run(body)
    if json_out:
        sys.stdout.write(_NUM.encode([quote_json(q, _digits(q.symbol)) | {"volume": _num(q.volume, 4)} for q in quotes]).decode() + "\n")
        return
    from rich.table import Table

    table = Table(title=f"Prices ({session.broker.name})")
    for col in ("Symbol", "Bid", "Ask", "Last", "Change", "Chg %", "Volume", "Time"):
        table.add_column(col, justify="left" if col == "Symbol" else "right")
    for q in quotes:
        d = _digits(q.symbol)
        colour = "green" if q.change > 0 else "red" if q.change < 0 else ""
        table.add_row(
            q.symbol, f"{q.bid:,.{d}f}", f"{q.ask:,.{d}f}", f"{q.last:,.{d}f}",
            f"[{colour}]{q.change:+,.{d}f}[/]" if colour else f"{q.change:+,.{d}f}",
            f"[{colour}]{q.change_pct:+.2f}%[/]" if colour else f"{q.change_pct:+.2f}%",
            f"{q.volume:,.0f}", datetime.fromtimestamp(q.ts, tz=timezone.utc).astimezone().strftime("%H:%M:%S"),
        )
    _console().print(table)


# --------------------------------------------------------------------------- listings

from workstation.trading.status import fill_row, order_row, position_rows, status_document  # noqa: E402,F401 (re-exported)


def _orders_table(rows: list[dict[str, Any]], title: str):
    from rich.table import Table

    table = Table(title=title)
    for col in ("ID", "Time", "Symbol", "Side", "Qty", "Type", "Price", "TIF", "Status", "Filled", "Avg", "Reason"):
        table.add_column(col, justify="right" if col in ("ID", "Qty", "Price", "Filled", "Avg") else "left")
    for r in rows:
        price = " / ".join(x for x in (_fmt(r["stop_price"]), _fmt(r["limit_price"])) if x) or (str(r["trail"] or "") if r["trail"] else "mkt")
        side_col = "green" if r["side"] == "buy" else "red"
        table.add_row(
            r["id"], r["created"][11:19], r["symbol"], f"[{side_col}]{r['side']}[/]", _fmt(r["qty"]),
            r["type"], price, r["tif"], r["status"], _fmt(r["filled_qty"]), _fmt(r["avg_fill_price"]), r["reason"] or "",
        )
    return table


def _positions_table(rows: list[dict[str, Any]]):
    from rich.table import Table

    table = Table(title="Positions")
    for col in ("Symbol", "Qty", "Avg cost", "Last", "Market value", "Unrealized", "Realized", "% equity"):
        table.add_column(col, justify="left" if col == "Symbol" else "right")
    for r in rows:
        def pnl(d: Decimal) -> str:
            colour = "green" if d > 0 else "red" if d < 0 else ""
            text = _money(d)
            return f"[{colour}]{text}[/]" if colour else text

        table.add_row(
            r["symbol"], _fmt(r["qty"]), _fmt(r["avg_price"].quantize(Decimal("0.0001")) if r["avg_price"] else r["avg_price"]),
            _fmt(r["last"]), _money(r["market_value"]), pnl(r["unrealized_pnl"]), pnl(r["realized_pnl"]), f"{r['pct_of_equity']}%",
        )
    return table


@app.command()
def status(
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
    session_: Annotated[str | None, typer.Option("--session", help="A realtime session's summary: 'last' or its name.")] = None,
) -> None:
    """Profile, broker connection, account, positions, open orders and data directory."""
    if session_ is not None:
        from workstation.cli.strategies import session_status

        return session_status(session_, json_out, data_dir_)
    from workstation.cli.account import revive_status

    async def body(session) -> dict[str, Any]:
        from workstation.serve.rundir import RunDirError, socket_path

        try:
            sock = str(socket_path(session.profile.name, session.data_dir.parent))
        except RunDirError:
            sock = ""
        return status_document(session, sock)

    async def remote(engine) -> dict[str, Any]:
        return revive_status(await engine.status())

    from workstation.cli.risk import print_status, status_doc

    doc = with_session(profile, config, data_dir_, body, remote=remote, mode="read")
    risk_status = doc.pop("risk")
    if json_out:
        _emit_json({**doc, "risk": status_doc(risk_status)})
        return
    con = _console()
    a = doc["account"]
    mode = "[bold white on red] LIVE [/]" if doc["live"] else "[bold black on green] PAPER [/]"
    con.print(f"{mode} profile [bold]{doc['profile']}[/]  broker {doc['broker']} ({doc['connection']})")
    if doc["connection_detail"]:
        con.print(doc["connection_detail"], markup=False)
    con.print(
        f"cash {_money(a['cash'])} {a['currency']}   equity {_money(a['equity'])}   buying power {_money(a['buying_power'])}   "
        f"unrealized {_money(a['unrealized_pnl'])}   realized {_money(a['realized_pnl'])}"
    )
    if doc["positions"]:
        con.print(_positions_table(doc["positions"]))
    else:
        con.print("no positions")
    if doc["open_orders"]:
        con.print(_orders_table(doc["open_orders"], "Open orders"))
    else:
        con.print("no open orders")
    print_status(risk_status, doc["rejections"])
    con.print(f"data directory {doc['data_dir']}" + (f"   socket {doc['socket']}" if doc.get("socket") else ""))
    if "served_by" in doc:
        con.print(f"answered by the engine serving this profile (pid {doc['served_by']}); attached: {', '.join(doc['clients'])}")


@app.command()
def positions(
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Open positions with average cost, last price and P&L."""

    from workstation.cli.account import revive_status

    async def body(session) -> list[dict[str, Any]]:
        return position_rows(session)

    async def remote(engine) -> list[dict[str, Any]]:
        return revive_status(await engine.status())["positions"]

    rows = with_session(profile, config, data_dir_, body, remote=remote, mode="read")
    if json_out:
        _emit_json(rows)
    elif rows:
        _console().print(_positions_table(rows))
    else:
        _console().print("no positions")


@app.command()
def orders(
    all_: Annotated[bool, typer.Option("--all", help="Every order in the journal, not only working and today's.")] = False,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Working orders and today's filled, canceled and rejected ones."""

    async def body(session) -> list[dict[str, Any]]:
        source = session.journal.orders() if all_ else sorted(session.oms.orders.values(), key=lambda o: int(o.id))
        return [order_row(o) for o in source]

    async def remote(engine) -> list[dict[str, Any]]:
        return [order_row(o) for o in await engine.order_list(all_)]

    rows = with_session(profile, config, data_dir_, body, remote=remote, mode="read")
    if json_out:
        _emit_json(rows)
    elif rows:
        _console().print(_orders_table(rows, "Orders"))
    else:
        _console().print("no orders")


@app.command()
def fills(
    since: Annotated[str | None, typer.Option("--since", help="Only fills on or after this date (YYYY-MM-DD) or time (ISO).")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Also write the fills to this CSV file.")] = None,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Executions from the journal."""
    start = None
    if since:
        try:
            dt = datetime.fromisoformat(since)
        except ValueError:
            raise CliError(f"malformed --since {since!r}: use YYYY-MM-DD or an ISO date-time", 2) from None
        if dt.tzinfo is None:
            dt = dt.astimezone()  # a bare date or time is local
        start = dt.timestamp()
    session = _open_view(profile, config, data_dir_)
    try:
        rows = [fill_row(f) for f in session.journal.fills(since=start)]
    finally:
        session.journal.close()
    if csv_file is not None:
        try:
            with open(csv_file, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=["ts", "exec_id", "order_id", "symbol", "side", "qty", "price", "commission", "strategy"])
                writer.writeheader()
                for r in rows:
                    writer.writerow({k: (plain(v) if isinstance(v, Decimal) else v) for k, v in r.items()})
        except OSError as exc:
            raise CliError(f"cannot write {csv_file}: {exc.strerror}", 1) from None
    if json_out:
        _emit_json(rows)
        return
    if not rows:
        _console().print("no fills")
        return
    from rich.table import Table

    table = Table(title="Fills")
    for col in ("Time", "Order", "Symbol", "Side", "Qty", "Price", "Commission", "Strategy"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["ts"], r["order_id"], r["symbol"], r["side"], _fmt(r["qty"]), _fmt(r["price"]), _fmt(r["commission"]), r["strategy"] or "")
    _console().print(table)
    if csv_file is not None:
        _console(stderr=True).print(f"wrote {len(rows)} fills to {csv_file}")


# --------------------------------------------------------------------------- orders


def build_request(
    side: Side,
    qty: str,
    symbol: str,
    *,
    limit: str | None = None,
    stop: str | None = None,
    trail: str | None = None,
    take_profit: str | None = None,
    stop_loss: str | None = None,
    tif: str = "day",
    source: str = "cli",
) -> OrderRequest:
    """Turn command-line words into an OrderRequest; ModelError for malformed ones."""
    from workstation.core.symbols import parse_symbol

    inst = parse_symbol(symbol)
    quantity = to_decimal(qty, "quantity")
    if quantity <= 0:
        raise ModelError(f"quantity must be positive, got {qty}")
    try:
        time_in_force = TimeInForce(tif.lower())
    except ValueError:
        raise ModelError(f"unknown time in force {tif!r}: use day, gtc, ioc or fok") from None
    trail_amount = trail_percent = None
    if trail is not None:
        text = trail.strip()
        if text.endswith("%"):
            trail_percent = to_decimal(text[:-1], "trail percent")
        else:
            trail_amount = to_decimal(text, "trail amount")
        if limit is not None or stop is not None:
            raise ModelError("a trailing stop takes no --limit or --stop")
    otype = infer_order_type(limit, stop, trail is not None)
    return OrderRequest(
        symbol=inst.symbol, side=side, qty=quantity, type=otype,
        limit_price=to_decimal(limit, "limit price") if limit is not None else None,
        stop_price=to_decimal(stop, "stop price") if stop is not None else None,
        trail_amount=trail_amount, trail_percent=trail_percent, tif=time_in_force,
        take_profit=to_decimal(take_profit, "take-profit price") if take_profit is not None else None,
        stop_loss=to_decimal(stop_loss, "stop-loss price") if stop_loss is not None else None,
        source=source,
    )


def describe(order: Order) -> str:
    price = ""
    if order.type is OrderType.LIMIT:
        price = f" @ {plain(order.limit_price)}"
    elif order.type is OrderType.STOP:
        price = f" stop {plain(order.stop_price)}"
    elif order.type is OrderType.STOP_LIMIT:
        price = f" stop {plain(order.stop_price)} limit {plain(order.limit_price)}"
    elif order.type is OrderType.TRAILING_STOP:
        price = f" trail {plain(order.trail_percent)}%" if order.trail_percent is not None else f" trail {plain(order.trail_amount)}"
    text = f"order {order.id} {order.side.value} {plain(order.qty)} {order.symbol} {order.type.value.replace('_', '-')}{price} {order.tif.value}: {order.status.value.replace('_', ' ')}"
    if order.filled_qty:
        text += f" {plain(order.filled_qty)} @ {plain(order.avg_fill_price.quantize(Decimal('0.0001')) if order.avg_fill_price else None)}"
    if order.reason:
        text += f" ({order.reason})"
    return text


def _place(
    side: Side, qty: str, symbol: str, limit: str | None, stop: str | None, trail: str | None,
    take_profit: str | None, stop_loss: str | None, tif: str, dry_run: bool, json_out: bool,
    profile: str | None, config: Path | None, data: Path | None, yes: bool = False,
) -> None:
    try:
        req = build_request(side, qty, symbol, limit=limit, stop=stop, trail=trail, take_profit=take_profit, stop_loss=stop_loss, tif=tif)
    except ModelError as exc:
        raise CliError(str(exc), 2) from None
    try:
        prof = _settings(config).profile(profile)
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None
    _check_live(prof)
    if not dry_run:
        _confirm_live(prof, yes, f"{side.value} {plain(req.qty)} {req.symbol}")
    warned: list[str] = []  # risk warnings (a possible wash sale) never block, but are shown

    async def remote(engine) -> Any:
        if dry_run:
            result = await engine.review(req)
        else:
            result = await engine.submit(req, wait=True)
        warned.extend(getattr(result, "warnings", ()) or ())
        return result

    async def local(session) -> Any:
        return await _place_here(session, req, dry_run, warned)

    result = with_session(
        profile, config, data, local, remote=remote, mode="read" if dry_run else "write", feed=not dry_run,
        symbols=[req.symbol], refused_code=2,
    )
    _show_placed(result, dry_run, json_out, prof.live, warned)


async def _place_here(session, req: OrderRequest, dry_run: bool, warned: list[str]) -> Any:
    """The order placed by this process, which owns the account for the run."""
    from workstation.core.model import AlertRaised
    from workstation.trading.oms import OrderError

    session.bus.subscribe(AlertRaised, lambda a: warned.append(a.message) if a.title == "Risk warning" else None)
    try:
        if dry_run:
            return await session.oms.review(req)
        order = await session.oms.submit(req)
        await session.oms.drain()
        # a marketable order that filled in part (more than the displayed size) completes
        # on the next quotes: give it a few seconds, as a trader at a screen would
        deadline = session.clock.monotonic() + MARKET_WAIT_S
        while (
            session.oms.orders[order.id].status.is_working
            and order.type is OrderType.MARKET
            and session.clock.monotonic() < deadline
        ):
            await asyncio.sleep(0.05)
        await session.oms.drain()
        return session.oms.orders[order.id]
    except OrderError as exc:
        raise CliError(str(exc), 2) from None


def _show_placed(result: Any, dry_run: bool, json_out: bool, live: bool = False, warned: list[str] | None = None) -> None:
    for warning in dict.fromkeys([*(warned or ()), *(result.warnings if dry_run else ())]):
        _console(stderr=True).print(f"[yellow]warning: {warning}[/]")
    if dry_run:
        review = result
        if json_out:
            _emit_json(msgspec.structs.asdict(review))
        else:
            verdict = "[green]would be accepted[/]" if review.ok else f"[red]would be rejected: {review.reason}[/]"
            colour = "green" if review.side is Side.BUY else "red"
            _console().print(
                f"[{colour}]{review.side.value.upper()}[/] {plain(review.qty)} {review.symbol} {review.type.value.replace('_', '-')} {review.tif.value}"
                f" at ~{plain(review.price)}: notional {_money(review.notional)}, commission {_money(review.commission)}, "
                f"buying power after {_money(review.buying_power_after)}; {verdict} (dry run: nothing sent)"
            )
        return
    order: Order = result
    if json_out:
        _emit_json(order_row(order))
    if order.status is OrderStatus.REJECTED:
        raise CliError(f"rejected: {order.reason}", 1)
    if not json_out:
        _console().print(("[bold white on red] LIVE [/] " if live else "") + describe(order))


def _order_command(side: Side):
    def command(
        qty: Annotated[str, typer.Argument(help="Quantity (positive, whole lots).")],
        symbol: Annotated[str, typer.Argument(help="Symbol: AAPL, BTC/USD, EUR/USD, ES-2026-12, AAPL-2026-12-18-200-C.")],
        limit: Annotated[str | None, typer.Option("--limit", help="Limit price.")] = None,
        stop: Annotated[str | None, typer.Option("--stop", help="Stop (trigger) price.")] = None,
        trail: Annotated[str | None, typer.Option("--trail", help="Trailing stop: an amount (1.50) or a percent (2%).")] = None,
        take_profit: Annotated[str | None, typer.Option("--take-profit", help="Bracket: take-profit limit price.")] = None,
        stop_loss: Annotated[str | None, typer.Option("--stop-loss", help="Bracket: stop-loss price.")] = None,
        tif: Annotated[str, typer.Option("--tif", help="Time in force: day, gtc, ioc, fok.")] = "day",
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the review and the risk verdict; send nothing.")] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="On a live profile, do not ask for confirmation.")] = False,
        json_out: JsonOpt = False,
        profile: ProfileOpt = None,
        config: ConfigOpt = None,
        data_dir_: DataDirOpt = None,
    ) -> None:
        _place(side, qty, symbol, limit, stop, trail, take_profit, stop_loss, tif, dry_run, json_out, profile, config, data_dir_, yes)

    command.__doc__ = f"{side.value.capitalize()} through the order manager and the risk checks."
    return command


app.command("buy")(_order_command(Side.BUY))
app.command("sell")(_order_command(Side.SELL))


@app.command()
def cancel(
    order_id: Annotated[str, typer.Argument(metavar="ID|all", help="An order id, or 'all'.")],
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Cancel one working order, or all of them."""
    from workstation.trading.oms import OrderError

    if order_id.lower() != "all" and not order_id.isdigit():
        raise CliError(f"malformed order id {order_id!r}: expected a number or 'all'", 2)

    async def body(session) -> list[Order]:
        try:
            if order_id.lower() == "all":
                done = await session.oms.cancel_all()
            else:
                done = [await session.oms.cancel(order_id)]
            await session.oms.drain()
            return [session.oms.orders.get(o.id, o) for o in done]
        except OrderError as exc:
            raise CliError(str(exc), 2) from None

    async def remote(engine) -> list[Order]:
        if order_id.lower() == "all":
            return await engine.cancel_all(wait=True)
        return [await engine.cancel(order_id)]

    done = with_session(profile, config, data_dir_, body, remote=remote, refused_code=2)
    if json_out:
        _emit_json([order_row(o) for o in done])
        return
    if not done:
        _console().print("no working orders")
    for o in done:
        _console().print(describe(o))


@paper_app.command("reset")
def paper_reset(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    cash: Annotated[str | None, typer.Option("--cash", help="Starting cash (default: the profile's).")] = None,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Start the paper account afresh (the old journal is kept as a backup)."""
    settings = _settings(config)
    prof = _profile(settings, profile)
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
    if not yes:
        if not sys.stdin.isatty():
            raise CliError("paper reset needs confirmation: run it in a terminal or pass --yes", 2)
        if not typer.confirm(f"Erase the {prof.name} account (positions, orders, fills) and start with {_money(start_cash)}?"):
            raise CliError("paper reset canceled", 1)
    from workstation.serve.owner import AccountBusy, AccountLock

    lock = AccountLock(prof.name, data_dir_)
    try:
        lock.acquire("cli", config=config, command="paper reset")
    except AccountBusy as exc:
        raise CliError(f"{exc}: stop it first (main.py serve --stop, or quit the workstation)", 1) from None
    try:
        moved = _reset_journal(lock.root, start_cash if cash is not None else None)
    finally:
        lock.release()
    _console().print(f"paper account {prof.name!r} reset to {_money(start_cash)} cash" + (f"; old journal kept in {lock.root}" if moved else ""))


def _reset_journal(root: Path, cash: Decimal | None) -> bool:
    """Move the journal aside (kept as a backup) and start a new one; True if one was moved."""
    journal = root / "journal.sqlite"
    from workstation.core.clock import LiveClock

    stamp = datetime.fromtimestamp(LiveClock().time()).strftime("%Y%m%d-%H%M%S")
    moved = False
    for suffix in ("", "-wal", "-shm"):
        f = Path(str(journal) + suffix)
        if f.exists():
            f.rename(root / f"journal-{stamp}.sqlite{suffix}.bak")
            moved = True
    if cash is not None:
        from workstation.core.journal import Journal

        j = Journal(journal)
        j.set_meta("initial_cash", str(cash))
        j.close()
    return moved


from workstation.cli.risk import register as _register_risk  # noqa: E402  (it imports this module's helpers)

_register_risk(app)


# --------------------------------------------------------------------------- strategies

from workstation.cli.strategies import register as _register_strategies  # noqa: E402

_register_strategies(app)

from workstation.cli.backtest import register as _register_backtest  # noqa: E402

_register_backtest(app)

from workstation.cli.journal import register as _register_journal  # noqa: E402

_register_journal(app)


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


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    _register_faces()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    code = 0
    live = LIVE_FLAG.set("--live" in args)  # a global flag: anywhere on the line, for every command
    args = [a for a in args if a != "--live"]
    try:
        _check_negative_numbers(args)
        args = _gather_symbols(args)
        result = app(args=args, standalone_mode=False, prog_name="main.py")
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
