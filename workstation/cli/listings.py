"""``main.py status``, ``positions``, ``orders`` and ``fills``: the account as tables or JSON."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer


from workstation.core.model import (
    plain,
)

from workstation.cli.common import (
    CliError,
    ConfigOpt,
    DataDirOpt,
    JsonOpt,
    ProfileOpt,
    Col,
    WideOpt,
    console,
    digits,
    emit_json,
    escape,
    fitted_table,
    fmt,
    money,
    open_view,
    print_table,
)

from workstation.cli.account import with_session  # noqa: E402


# --------------------------------------------------------------------------- listings

from workstation.trading.status import fill_row, order_row, position_rows, status_document  # noqa: E402,F401 (re-exported)


_ORDER_COLS = [
    Col("ID", 0, right=True), Col("Time", 6), Col("Symbol"), Col("Side"), Col("Qty", 0, right=True),
    Col("Type", 2), Col("Price", 1, right=True), Col("TIF", 5), Col("Status"), Col("Filled", 3, right=True),
    Col("Avg", 4, right=True), Col("Reason", 7, wrap=True),
]


def _orders_table(rows: list[dict[str, Any]], title: str, wide: bool = False):
    out = []
    for r in rows:
        price = " / ".join(x for x in (fmt(r["stop_price"]), fmt(r["limit_price"])) if x) or (str(r["trail"] or "") if r["trail"] else "mkt")
        side_col = "green" if r["side"] == "buy" else "red"
        out.append([
            r["id"], r["created"][11:19], r["symbol"], f"[{side_col}]{r['side']}[/]", fmt(r["qty"]),
            r["type"], price, r["tif"], r["status"], fmt(r["filled_qty"]), fmt(r["avg_fill_price"]), escape(r["reason"] or ""),
        ])
    return fitted_table(title, _ORDER_COLS, out, wide)


_POSITION_COLS = [
    Col("Symbol"), Col("Qty", 0, right=True), Col("Avg cost", 2, right=True), Col("Last", 1, right=True),
    Col("Market value", 3, right=True), Col("Unrealized", 0, right=True), Col("Realized", 4, right=True),
    Col("% equity", 5, right=True),
]


def _positions_table(rows: list[dict[str, Any]], wide: bool = False):
    def pnl(d: Decimal) -> str:
        colour = "green" if d > 0 else "red" if d < 0 else ""
        text = money(d)
        return f"[{colour}]{text}[/]" if colour else text

    out = [
        [
            r["symbol"], fmt(r["qty"]), fmt(r["avg_price"], digits(r["symbol"])),
            fmt(r["last"], digits(r["symbol"])), money(r["market_value"]), pnl(r["unrealized_pnl"]), pnl(r["realized_pnl"]), f"{r['pct_of_equity']}%",
        ]
        for r in rows
    ]
    return fitted_table("Positions", _POSITION_COLS, out, wide)


def status(
    json_out: JsonOpt = False,
    wide: WideOpt = False,
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
        emit_json({**doc, "risk": status_doc(risk_status)})
        return
    con = console()
    a = doc["account"]
    mode = "[bold white on red] LIVE [/]" if doc["live"] else "[bold black on green] PAPER [/]"
    con.print(f"{mode} profile [bold]{doc['profile']}[/]  broker {doc['broker']} ({doc['connection']})")
    if doc["connection_detail"]:
        con.print(doc["connection_detail"], markup=False)
    con.print(
        f"cash {money(a['cash'])} {a['currency']}   equity {money(a['equity'])}   "
        f"buying power {money(a['buying_power'])} ({a.get('buying_power_source', 'local')})   "
        f"unrealized {money(a['unrealized_pnl'])}   realized {money(a['realized_pnl'])}"
    )
    broker_line = _broker_figures(a)
    if broker_line:
        con.print(broker_line)
    if doc["positions"]:
        print_table(_positions_table(doc["positions"], wide), wide)
    else:
        con.print("no positions")
    if doc["open_orders"]:
        print_table(_orders_table(doc["open_orders"], "Open orders", wide), wide)
    else:
        con.print("no open orders")
    print_status(risk_status, doc["rejections"], wide)
    con.print(f"data directory {doc['data_dir']}" + (f"   socket {doc['socket']}" if doc.get("socket") else ""))
    if "served_by" in doc:
        con.print(f"answered by the engine serving this profile (pid {doc['served_by']}); attached: {', '.join(doc['clients'])}")


def _broker_figures(a: dict[str, Any]) -> str:
    """Margin and day-trade figures the broker reported, on one line (only those it said)."""
    parts = [
        f"{label} {money(a[key])}" for key, label in (
            ("initial_margin", "initial margin"), ("maintenance_margin", "maintenance margin"),
            ("excess_liquidity", "excess liquidity"),
        ) if a.get(key) is not None
    ]
    if a.get("day_trades_left") is not None:
        parts.append(f"day trades left {a['day_trades_left']}")
    if a.get("day_trade_count") is not None:
        parts.append(f"day trade count {a['day_trade_count']}")
    if a.get("pattern_day_trader"):
        parts.append("pattern day trader")
    return "   ".join(parts)


def positions(
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
    greeks: Annotated[bool, typer.Option("--greeks", help="Delta, gamma, theta and vega per position, per underlying and in all.")] = False,
) -> None:
    """Open positions with average cost, last price and P&L."""

    from workstation.cli.account import revive_status

    if greeks:
        return _positions_greeks(json_out, wide, profile, config, data_dir_)
    async def body(session) -> list[dict[str, Any]]:
        return position_rows(session)

    async def remote(engine) -> list[dict[str, Any]]:
        return revive_status(await engine.status())["positions"]

    rows = with_session(profile, config, data_dir_, body, remote=remote, mode="read")
    if json_out:
        emit_json(rows)
    elif rows:
        print_table(_positions_table(rows, wide), wide)
    else:
        console().print("no positions")


def _positions_greeks(json_out: bool, wide: bool, profile, config, data_dir_) -> None:
    from workstation.cli.account import revive_status
    from workstation.cli.greeks import beta_line, greeks_table
    from workstation.trading.status import greek_totals

    async def body(session) -> dict[str, Any]:
        from workstation.trading.greeks import load_betas

        book = session.greeks  # (a view runs no background work: its betas are measured here)
        await load_betas(book, session.broker.history, book.groups(session.held_symbols()))
        return {"positions": position_rows(session, greeks=True), "greeks": greek_totals(session)}

    async def remote(engine) -> dict[str, Any]:
        doc = revive_status(await engine.status())
        return {"positions": doc["positions"], "greeks": doc.get("greeks", [])}

    doc = with_session(profile, config, data_dir_, body, remote=remote, mode="read")
    if json_out:
        emit_json(doc)
    elif doc["positions"]:
        print_table(greeks_table(doc["positions"], doc["greeks"], wide), wide)
        line = beta_line(doc["greeks"])
        if line:
            console().print(line, markup=False)
    else:
        console().print("no positions")


def orders(
    all_: Annotated[bool, typer.Option("--all", help="Every order in the journal, not only working and today's.")] = False,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
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
        emit_json(rows)
    elif rows:
        print_table(_orders_table(rows, "Orders", wide), wide)
    else:
        console().print("no orders")


_FILL_COLS = [
    Col("Time"), Col("Order", 3, right=True), Col("Symbol"), Col("Side"), Col("Qty", right=True),
    Col("Price", right=True), Col("Commission", 2, right=True), Col("Strategy", 4),
]


def fills(
    since: Annotated[str | None, typer.Option("--since", help="Only fills on or after this date (YYYY-MM-DD) or time (ISO).")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Also write the fills to this CSV file.")] = None,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
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
        try:
            if dt.tzinfo is None:
                dt = dt.astimezone()  # a bare date or time is local
            start = dt.timestamp()
        except (ValueError, OverflowError, OSError):
            raise CliError(f"--since {since!r} is out of range: give a date after 1970", 2) from None
    session = open_view(profile, config, data_dir_)
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
        emit_json(rows)
        return
    if not rows:
        console().print("no fills")
        return
    table = fitted_table("Fills", _FILL_COLS, [
        [r["ts"], r["order_id"], r["symbol"], r["side"], fmt(r["qty"]), fmt(r["price"]), fmt(r["commission"]), r["strategy"] or ""]
        for r in rows
    ], wide)
    print_table(table, wide)
    if csv_file is not None:
        console(stderr=True).print(f"wrote {len(rows)} fills to {csv_file}")


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command()(positions)
    app.command()(orders)
    app.command()(fills)
