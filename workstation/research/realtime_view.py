"""The Rich renderables of ``main.py realtime``: the live dashboard and the closing summary."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from workstation.core.model import iso, money, plain


def _m(d: Decimal | float | str | None) -> str:
    if d is None:
        return "-"
    return f"{Decimal(str(d)):,.2f}"


def _pnl(d: Decimal | float | str) -> Text:
    v = Decimal(str(d))
    return Text(f"{v:+,.2f}", style="green" if v > 0 else "red" if v < 0 else "")


def dashboard(live: Any) -> Group:
    session, runner, opts = live.session, live.runner, live.options
    pf = session.portfolio
    acct = pf.account()
    elapsed = session.clock.time() - live.started
    total = f"/{opts.duration:.0f}s" if opts.duration else ""
    head = Table.grid(padding=(0, 3))
    for _ in range(6):
        head.add_column()
    head.add_row(
        Text.assemble(("PAPER SESSION ", "bold black on green"), f" {elapsed:.0f}s{total}"),
        f"value {_m(acct.equity)}",
        Text.assemble("P&L ", _pnl(acct.equity - opts.cash)),
        f"cash {_m(acct.cash)}",
        f"trades {pf.book.trades}",
        f"symbols {' '.join(opts.symbols)}",
    )

    positions = Table(title="Positions", expand=True)
    for col in ("Symbol", "Qty", "Avg", "Last", "Unrealized"):
        positions.add_column(col, justify="left" if col == "Symbol" else "right")
    for p in pf.positions():
        last = pf.last(p.symbol)
        positions.add_row(p.symbol, plain(p.qty), f"{p.avg_price:,.2f}", _m(last), _pnl(pf.unrealized(p.symbol)))

    trades = Table(title="Recent trades", expand=True)
    for col in ("Time", "Strategy", "Side", "Qty", "Symbol", "Price"):
        trades.add_column(col)
    for f in reversed(live.trades):
        trades.add_row(iso(f.ts)[11:19], f.strategy or "manual", Text(f.side.value, style="green" if f.side.value == "buy" else "red"),
                       plain(f.qty), f.symbol, plain(f.price))

    strategies = Table(title="Strategies", expand=True)
    for col in ("Name", "State", "Symbols", "Allocation", "P&L", "Trades", "Last message"):
        strategies.add_column(col, justify="right" if col in ("P&L", "Trades") else "left")
    for st in runner.status():
        inst = runner.instances[st.name]
        state_style = {"running": "green", "paused": "yellow", "error": "bold red", "stopped": "dim"}.get(st.state, "")
        last = st.error or (inst.logs[-1] if inst.logs else "")
        strategies.add_row(st.name, Text(st.state, style=state_style), " ".join(st.symbols), st.allocation or "-",
                           _pnl(money(st.pnl)), str(st.trades), last[:60])

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
    head = Table.grid(padding=(0, 3))
    for _ in range(4):
        head.add_column()
    rate = f"{s['win_rate'] * 100:.1f}%" if s.get("win_rate") is not None else "-"
    head.add_row(f"equity {_m(s['equity'])}", Text.assemble("P&L ", _pnl(s["pnl"])), f"cash {_m(s['cash'])}", f"trades {s['trades']}")
    head.add_row(f"win rate {rate}", f"max drawdown {float(s['max_drawdown']) * 100:.2f}%", f"sharpe {_ratio(s.get('sharpe'))}  sortino {_ratio(s.get('sortino'))}",
                 f"{s['seconds']:.0f}s, {len(s['symbols'])} symbol{'' if len(s['symbols']) == 1 else 's'}")
    table = Table(title="Per strategy", expand=True)
    for col in ("Name", "State", "Trades", "Round trips", "Win rate", "Realized", "Unrealized", "P&L"):
        table.add_column(col, justify="left" if col in ("Name", "State") else "right")
    for st in s["strategies"]:
        wr = f"{float(st['win_rate']) * 100:.1f}%" if st.get("win_rate") is not None else "-"
        table.add_row(st["name"], st["state"] + (f" ({st['error']})" if st.get("error") else ""), str(st["trades"]),
                      str(st["wins"] + st["losses"]), wr, _m(st["realized_pnl"]), _m(st["unrealized_pnl"]), _pnl(st["pnl"]))
    parts: list[Any] = [Panel(head, title=f"Session {s['session']}", expand=False)]
    if s["strategies"]:
        parts.append(table)
    parts.append(Text(f"journal {s['journal']}", style="dim"))
    return Group(*parts)
