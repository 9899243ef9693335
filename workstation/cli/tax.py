"""``main.py tax report --year 2026 [--csv FILE] [--json]``: the year's realized gains and
losses per closed FIFO tax lot, with wash sales applied both ways (code W, the disallowed
loss, the basis and holding period a replacement carries), totals by term, and the
average-cost realized P&L the panes show beside them.

The report is the journal's fills replayed (``workstation.trading.tax_report``), read from
a read-only view of the account as ``fills`` reads them: safe while an owner runs (the
journal is only read), and the same replay the owner does at start, so the two agree.

Hooked into the main app by ``register(app)`` (see ``workstation.cli.app``).
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import msgspec
import typer

from workstation.cli.common import (
    CliError, Col, ConfigOpt, DataDirOpt, JsonOpt, ProfileOpt, WideOpt, console, emit_json, escape, fitted_table, money,
    open_view, print_table,
)
from workstation.core.model import plain

__all__ = ["register", "tax_report"]

YearOpt = Annotated[str | None, typer.Option("--year", help="The tax year (default: this year, New York time).")]
CsvOpt = Annotated[Path | None, typer.Option("--csv", metavar="FILE", help="Also write the closed lots to this CSV file.")]

_CSV_FIELDS = [
    "symbol", "qty", "acquired", "sold", "proceeds", "basis", "code", "disallowed", "gain", "reported", "term",
    "adjusted", "short_sale",
]

_COLS = [
    Col("Symbol"), Col("Qty", right=True), Col("Acquired", 2), Col("Sold"), Col("Proceeds", 3, right=True),
    Col("Basis", 3, right=True), Col("W", 1), Col("Disallowed", 1, right=True), Col("Gain", right=True), Col("Term"),
]


def tax_report(
    year: YearOpt = None,
    csv_file: CsvOpt = None,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Realized gains and losses per FIFO tax lot for a year, wash sales applied."""
    from workstation.core.clock import LiveClock
    from workstation.trading.tax_report import build_report, check_year
    from workstation.trading.taxlots import trade_date

    now = LiveClock().time()
    try:
        y = check_year(year) if year is not None else trade_date(now).year
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    session = open_view(profile, config, data_dir_)
    try:
        report = build_report(
            session.journal.book_entries(), y, lambda s: session.portfolio.position(s).multiplier, now,
        )
    finally:
        session.journal.close()
    if csv_file is not None:
        try:
            with open(csv_file.expanduser(), "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=_CSV_FIELDS)
                writer.writeheader()
                for r in report.rows:
                    doc = msgspec.to_builtins(r, builtin_types=(Decimal,))
                    writer.writerow({k: (plain(v) if isinstance(v, Decimal) else v) for k, v in doc.items()})
        except OSError as exc:
            raise CliError(f"cannot write {csv_file}: {exc.strerror or exc}", 2) from None
    if json_out:
        emit_json(msgspec.to_builtins(report, builtin_types=(Decimal,)))
        return
    con = console()
    con.print(f"{report.method}, {y}: realized gains and losses per closed lot, wash sales applied (code W)")
    if report.rows:
        print_table(fitted_table(f"Closed lots {y}", _COLS, [
            [escape(r.symbol), plain(r.qty), r.acquired, r.sold, money(r.proceeds), money(r.basis), r.code,
             money(r.disallowed) if r.disallowed else "", money(r.gain), r.term]
            for r in report.rows
        ], wide), wide)
    else:
        con.print(f"no lots closed in {y}")
    t = report.totals
    con.print(
        f"{y} short-term {money(t.short_term)}  long-term {money(t.long_term)}  "
        f"(gains plus disallowed losses)  disallowed (wash sales) {money(t.disallowed)}"
    )
    con.print(
        f"average-cost realized P&L (the panes) {money(report.average_cost_realized)}, "
        f"commissions {money(t.commissions)}; {escape(report.why_they_differ)}"
    )
    if report.open_washes:
        con.print(
            f"[yellow]{report.open_washes} loss sale(s) in the last 30 days: a buy of the same symbol "
            "would still wash them[/]"
        )
    if csv_file is not None:
        con.print(f"closed lots written to {escape(str(csv_file))}")


def register(app: typer.Typer) -> None:
    tax_app = typer.Typer(help="Tax lots: the year's realized gains and losses, wash sales applied.", rich_markup_mode=None)
    tax_app.command("report")(tax_report)
    app.add_typer(tax_app, name="tax")
