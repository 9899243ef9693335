"""The Rich renderables of ``main.py realtime``: the live dashboard and the closing summary."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from workstation.core import formatting
from workstation.core.model import iso, money, plain


def _m(d: Decimal | float | str | None) -> str:
    if d is None:
        return "-"
    return formatting.money(Decimal(str(d)))


def _pnl(d: Decimal | float | str) -> Text:
    v = Decimal(str(d))
    role = formatting.pnl_role(v)
    return Text(formatting.signed_money(v), style="green" if role == "up" else "red" if role == "down" else "")


class Fitted:
    """A table that drops columns whole, lowest priority first, until it fits the width it is
    drawn at (an 80-column terminal cuts nothing). ``cols`` are (name, keep, justify, wrap):
    keep 0 is never dropped, higher goes first; a wrap column folds its text instead."""

    WRAP_MIN = 12

    def __init__(self, title: str, cols: list[tuple[str, int, str, bool]], rows: list[list[Any]]) -> None:
        self.title, self.cols, self.rows = title, cols, rows

    @staticmethod
    def _width(cell: Any) -> int:
        return cell.cell_len if isinstance(cell, Text) else Text(str(cell)).cell_len

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        natural = [max([len(c[0])] + [self._width(r[i]) for r in self.rows]) for i, c in enumerate(self.cols)]
        shown = list(range(len(self.cols)))

        def needed() -> int:
            return sum(min(natural[i], self.WRAP_MIN) if self.cols[i][3] else natural[i] for i in shown) + 3 * len(shown) + 1

        for i in sorted(shown, key=lambda i: (-self.cols[i][1], -i)):
            if needed() <= options.max_width or self.cols[i][1] == 0:
                break
            shown.remove(i)
        table = Table(title=self.title, expand=True)
        for i in shown:
            name, _keep, justify, wrap = self.cols[i]
            table.add_column(name, justify=justify, no_wrap=not wrap, min_width=None if wrap else natural[i])  # type: ignore[arg-type]
        for r in self.rows:
            table.add_row(*(r[i] for i in shown))
        yield table


RECENT_TRADES = 5
"""How many of the newest trades the dashboard lists (it fits 24 lines with a few positions)."""


def dashboard(live: Any) -> Group:
    session, runner, opts = live.session, live.runner, live.options
    pf = session.portfolio
    acct = pf.account()
    elapsed = session.clock.time() - live.started
    total = f"/{opts.duration:.0f}s" if opts.duration else ""
    head = Text.assemble(
        ("PAPER SESSION", "bold black on green"), f" {elapsed:.0f}s{total}   value {_m(acct.equity)}   P&L ",
        _pnl(acct.equity - opts.cash), f"   cash {_m(acct.cash)}   trades {pf.book.trades}   symbols {' '.join(opts.symbols)}",
    )

    positions = Fitted("Positions", [("Symbol", 0, "left", False), ("Qty", 0, "right", False), ("Avg", 2, "right", False),
                                     ("Last", 1, "right", False), ("Unrealized", 0, "right", False)], [
        [p.symbol, plain(p.qty), f"{p.avg_price:,.2f}", _m(pf.last(p.symbol)), _pnl(pf.unrealized(p.symbol))]
        for p in pf.positions()
    ])

    trades = Fitted(f"Recent trades ({min(len(live.trades), RECENT_TRADES)} of {len(live.trades)})", [
        ("Time", 0, "left", False), ("Strategy", 1, "left", False), ("Side", 0, "left", False), ("Qty", 0, "right", False),
        ("Symbol", 0, "left", False), ("Price", 0, "right", False),
    ], [
        [iso(f.ts)[11:19], f.strategy or "manual", Text(f.side.value, style="green" if f.side.value == "buy" else "red"),
         plain(f.qty), f.symbol, plain(f.price)]
        for f in list(reversed(live.trades))[:RECENT_TRADES]
    ])

    rows = []
    for st in runner.status():
        inst = runner.instances[st.name]
        state_style = {"running": "green", "paused": "yellow", "error": "bold red", "stopped": "dim"}.get(st.state, "")
        last = st.error or (inst.logs[-1] if inst.logs else "")
        rows.append([st.name, Text(st.state, style=state_style), " ".join(st.symbols), st.allocation or "-",
                     _pnl(money(st.pnl)), str(st.trades), last[:60]])
    strategies = Fitted("Strategies", [
        ("Name", 0, "left", False), ("State", 0, "left", False), ("Symbols", 3, "left", True), ("Allocation", 2, "left", False),
        ("P&L", 0, "right", False), ("Trades", 1, "right", False), ("Last message", 4, "left", True),
    ], rows)

    tripped = session.risk.breaker_reason()
    halted = tripped is not None or session.risk.limits.trading_halted
    watch = [r for r in session.risk.status() if r.state in ("near", "breach")]
    risk = Text.assemble(
        ("Risk  ", "bold"),
        (f"HALTED: {tripped}" if tripped else "HALTED" if halted else "trading allowed", "bold red" if halted else "green"),
        f"   buying power {_m(acct.buying_power)}   rejections {live.rejections}   ",
        *((f"{r.name} {r.state}  ", "red" if r.state == "breach" else "yellow") for r in watch[:4]),
    )
    parts: list[Any] = [head, positions, trades, strategies, risk]
    if live.alerts:
        a = live.alerts[-1]
        parts.append(Text(f"last alert: {a.title}: {a.message}", style="yellow", overflow="ellipsis", no_wrap=True))
    return Group(*parts)


def _ratio(x: float | None) -> str:
    """A ratio, or ``—`` when the session was too short for one (see analytics.RATIO_MIN_RETURNS)."""
    return "—" if x is None else f"{x:.2f}"


def summary_view(s: dict[str, Any]) -> Group:
    rate = f"{s['win_rate'] * 100:.1f}%" if s.get("win_rate") is not None else "-"
    head = Group(
        Text.assemble(f"equity {_m(s['equity'])}   P&L ", _pnl(s["pnl"]), f"   cash {_m(s['cash'])}   trades {s['trades']}"),
        Text(f"win rate {rate}   max drawdown {float(s['max_drawdown']) * 100:.2f}%   sharpe {_ratio(s.get('sharpe'))}   "
             f"sortino {_ratio(s.get('sortino'))}   {s['seconds']:.0f}s, {len(s['symbols'])} symbol{'' if len(s['symbols']) == 1 else 's'}"),
    )
    rows = []
    for st in s["strategies"]:
        wr = f"{float(st['win_rate']) * 100:.1f}%" if st.get("win_rate") is not None else "-"
        rows.append([st["name"], st["state"] + (f" ({st['error']})" if st.get("error") else ""), str(st["trades"]),
                     str(st["wins"] + st["losses"]), wr, _m(st["realized_pnl"]), _m(st["unrealized_pnl"]), _pnl(st["pnl"])])
    table = Fitted("Per strategy", [
        ("Name", 0, "left", False), ("State", 0, "left", True), ("Trades", 0, "right", False), ("Round trips", 3, "right", False),
        ("Win rate", 2, "right", False), ("Realized", 1, "right", False), ("Unrealized", 1, "right", False), ("P&L", 0, "right", False),
    ], rows)
    parts: list[Any] = [Panel(head, title=f"Session {s['session']}", expand=False)]
    if s["strategies"]:
        parts.append(table)
    parts.append(Text(f"journal {s['journal']}", style="dim"))
    return Group(*parts)
