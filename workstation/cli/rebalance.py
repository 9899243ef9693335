"""``main.py rebalance``: the account's target weights, its current ones, and the trades between.

The weights come from ``workstation.strategies.optimiser`` (the method, or ``--weights FILE``)
on the account's daily bars (the broker's history: the risk model's returns and covariance);
the symbols are ``--symbols``, else the file's, else the positions held. The trades are sized
on the account's equity at the quotes' mid (else the last daily close), in whole lots; a held
symbol outside the targets is sold. ``--dry-run`` shows them and sends nothing; without it the
sells go first through the order manager (risk checks, journal), the buys once the sells have
finished, through the account's owner when one runs.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from workstation.cli.common import (
    MARKET_WAIT_S, CliError, Col, ConfigOpt, DataDirOpt, JsonOpt, ProfileOpt, WideOpt, check_live, confirm_live,
    console, emit_json, escape, fitted_table, money, print_table, read_settings,
)
from workstation.core.config import ConfigError
from workstation.core.model import ZERO, ModelError, Order, OrderStatus, Side, plain

__all__ = ["rebalance", "register"]

QUOTE_WAIT_S = 3.0
CENT4 = Decimal("0.0001")
CALENDAR_PER_TRADING_DAY = 1.6  # calendar days asked of the broker per trading day of returns
POLL_S = 0.05


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """What ``rebalance`` found and would do (``--json`` prints it)."""

    method: str
    equity: Decimal
    targets: dict[str, float]
    current: dict[str, float]
    prices: dict[str, Decimal]
    trades: list[dict[str, Any]]
    sent: list[dict[str, Any]] = []
    not_sent: str | None = None


def register(app: typer.Typer) -> None:
    app.command("rebalance")(rebalance)


def rebalance(
    method: Annotated[str, typer.Option("--method", "-m", help="equal, inverse_vol, min_variance, max_sharpe or risk_parity.")] = "equal",
    symbols: Annotated[list[str] | None, typer.Option("--symbols", "--symbol", "-s", help="Symbols (AAPL,MSFT or repeated); default: the file's, else the positions held.")] = None,
    weights: Annotated[Path | None, typer.Option("--weights", help="CSV (symbol,weight) or TOML (SYMBOL = weight) file of target weights.")] = None,
    lookback: Annotated[int, typer.Option("--lookback", help="Daily returns in the covariance.")] = 250,
    ewma: Annotated[float | None, typer.Option("--ewma", metavar="LAMBDA", help="Exponentially weighted covariance, e.g. 0.94.")] = None,
    min_weight: Annotated[float, typer.Option("--min-weight", help="Lowest weight of any symbol (0.02 = 2%).")] = 0.0,
    max_weight: Annotated[float, typer.Option("--max-weight", help="Highest weight of any symbol.")] = 1.0,
    sector_cap: Annotated[float, typer.Option("--sector-cap", help="Highest weight of any sector (the sector table and [sectors]).")] = 1.0,
    risk_free: Annotated[float, typer.Option("--risk-free", help="Annual risk-free rate (max_sharpe).")] = 0.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the weights and the trades; send nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="On a live profile, do not ask for confirmation.")] = False,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Target weights, current weights and the trades that reach them (sent unless --dry-run)."""
    from workstation.core.sectors import SectorMap
    from workstation.core.symbols import parse_symbol
    from workstation.strategies.optimiser import METHODS, Constraints, OptimiseError, read_weights_file

    try:
        if weights is None and method not in METHODS[:-1]:
            raise CliError(f"unknown method {method!r}: use {', '.join(METHODS[:-1])} (or --weights FILE)", 2)
        if lookback < 2:
            raise CliError("--lookback is at least 2 days", 2)
        for name, v in (("--min-weight", min_weight), ("--max-weight", max_weight), ("--sector-cap", sector_cap)):
            if not 0.0 <= v <= 1.0:
                raise CliError(f"{name} is a fraction from 0 to 1, got {v:g}", 2)
        if ewma is not None and not 0.0 < ewma < 1.0:
            raise CliError(f"--ewma is a decay between 0 and 1, e.g. 0.94, got {ewma:g}", 2)
        fixed = read_weights_file(weights.expanduser()) if weights is not None else None
        chosen = [parse_symbol(p.strip()).symbol for item in (symbols or []) for p in item.split(",") if p.strip()]
        settings = read_settings(config)
        prof = settings.profile(profile)
    except (OptimiseError, ModelError) as exc:
        raise CliError(str(exc), 2) from None
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None
    if fixed is not None:
        method = "file"
        stray = [s for s in chosen if s not in fixed]
        if stray:
            raise CliError(f"{', '.join(stray)}: not in {weights} (a file of weights names every symbol it holds)", 2)
        chosen = list(fixed)
    check_live(prof)
    sectors = SectorMap(settings.sectors)
    caps_for = (lambda syms: {sectors.sector(s): sector_cap for s in syms}) if sector_cap < 1.0 else (lambda syms: {})

    async def fn(engine) -> Plan:
        return await _run(engine, method, chosen, fixed, lookback, ewma, risk_free, dry_run, yes, prof,
                          lambda syms: Constraints(bounds={s: (min_weight, max_weight) for s in syms},
                                                   sector_caps=caps_for(syms), sectors=sectors))

    async def local(session) -> Plan:
        from workstation.api import LocalEngine

        result = await fn(LocalEngine(session, source="cli"))
        await session.oms.drain()
        return result

    from workstation.cli.account import with_session

    plan_ = with_session(profile, config, data_dir_, local, remote=fn, mode="read" if dry_run else "write",
                         feed=True, symbols=chosen, refused_code=2)
    if json_out:
        emit_json(msgspec.to_builtins(plan_, builtin_types=(Decimal,)))
    else:
        _print(plan_, dry_run, wide, prof.live)
    if plan_.not_sent:
        raise CliError(plan_.not_sent, 1)
    rejected = [s for s in plan_.sent if s["status"] == OrderStatus.REJECTED.value]
    if rejected:
        raise CliError(f"{len(rejected)} of the orders were rejected: {rejected[0]['reason']}", 1)


async def _run(engine: Any, method: str, chosen: list[str], fixed: dict[str, float] | None, lookback: int,
               ewma: float | None, risk_free: float, dry_run: bool, yes: bool, prof: Any, constraints: Any) -> Plan:
    from workstation.api import IntentError
    from workstation.strategies.optimiser import OptimiseError, optimise, plan, target_weights

    snap = engine.snapshot()
    equity = snap.account.equity
    held = {p.symbol: p.qty for p in snap.positions if p.qty != ZERO and not p.closed}
    symbols = chosen or sorted(held)
    if not symbols:
        raise CliError("nothing to rebalance: give --symbols (or --weights FILE), or hold positions", 2)
    try:
        insts = {s: engine.instrument(s) for s in {*symbols, *held}}
    except (ModelError, IntentError) as exc:
        raise CliError(str(exc), 2) from None
    daily: dict[str, list] = {}
    if method not in ("equal", "file"):
        for s in symbols:
            daily[s] = await engine.history(s, 86_400, int((lookback + 1) * CALENDAR_PER_TRADING_DAY) + 5)
    prices = await _prices(engine, sorted({*symbols, *held}), daily, snap)
    try:
        if fixed is not None:
            c = constraints(symbols)
            c.check(symbols)
            targets = dict(fixed)
        elif method == "equal":
            import numpy as np

            targets = optimise("equal", symbols, np.empty((0, 0)), constraints=constraints(symbols))
        else:
            short = [s for s in symbols if len(daily[s]) < 3]
            if short:
                raise OptimiseError(f"no daily history for {', '.join(short)}: {method} needs it")
            targets = target_weights(method, daily, constraints(symbols), lookback, ewma, risk_free)
        trades = plan(targets, held, prices, equity,
                      lots={s: i.lot_size for s, i in insts.items()}, multipliers={s: i.multiplier for s, i in insts.items()})
    except OptimiseError as exc:
        raise CliError(str(exc), 2) from None
    current = {s: float(held.get(s, ZERO) * prices[s] * insts[s].multiplier / equity) for s in sorted({*symbols, *held})}
    rows = [{"symbol": t.symbol, "side": t.side.value, "qty": t.qty, "price": t.price, "notional": t.notional} for t in trades]
    result = Plan(method=method, equity=equity, targets=targets, current=current, prices=prices, trades=rows)
    if dry_run or not trades:
        return result
    confirm_live(prof, yes, f"rebalance: {len(trades)} orders")
    sent: list[Order] = []
    for side in (Side.SELL, Side.BUY):
        batch = [t for t in trades if t.side is side]
        if not batch:
            continue
        if side is Side.BUY and sent and not await _finished(engine, [o.id for o in sent]):
            return msgspec.structs.replace(result, sent=[_row(engine, o) for o in sent], not_sent=(
                f"the sells had not finished within {MARKET_WAIT_S:g} s: the buys were not sent "
                "(`main.py orders` shows them; run rebalance again once they fill)"))
        for t in batch:
            sent.append(await _submit(engine, t))
    await _finished(engine, [o.id for o in sent])
    return msgspec.structs.replace(result, sent=[_row(engine, o) for o in sent])


async def _prices(engine: Any, symbols: list[str], daily: dict[str, list], snap: Any) -> dict[str, Decimal]:
    """Each symbol's mid (its last trade, else its last daily close, else its position's last)."""
    try:
        await engine.watch(symbols)
    except Exception:  # (a face that cannot watch still has the daily closes)
        pass
    waited = 0.0
    while any(engine.quote(s) is None for s in symbols) and waited < QUOTE_WAIT_S:
        await asyncio.sleep(POLL_S)
        waited += POLL_S
    last = {p.symbol: p.last for p in snap.positions if p.last is not None}
    out: dict[str, Decimal] = {}
    for s in symbols:
        q = engine.quote(s)
        seen = 0.0
        if q is not None:
            seen = q.mid if q.bid > 0 and q.ask > 0 else q.last
        if seen <= 0:
            bars = daily.get(s) or await engine.history(s, 86_400, 7)
            seen = bars[-1].close if bars else 0.0
        price = Decimal(repr(seen)).quantize(CENT4) if seen > 0 else last.get(s)
        if not price:
            raise CliError(f"{s}: no price (no quote and no daily bar)", 1)
        out[s] = price
    return out


async def _submit(engine: Any, trade: Any) -> Order:
    from workstation.api import IntentError
    from workstation.cli.orders import build_request

    req = build_request(trade.side, plain(trade.qty), trade.symbol, source="cli")
    try:
        submit = engine.submit
        try:
            return await submit(req, wait=True)
        except TypeError:  # (the engine in this process answers at once)
            return await submit(req)
    except IntentError as exc:
        raise CliError(f"{trade.side.value} {plain(trade.qty)} {trade.symbol}: {exc}", 2) from None


async def _finished(engine: Any, ids: list[str]) -> bool:
    """Wait up to ``MARKET_WAIT_S`` for the orders to stop working; whether they all did."""
    waited = 0.0
    while True:
        working = {o.id for o in engine.orders() if o.status.is_working}
        if not working.intersection(ids):
            return True
        if waited >= MARKET_WAIT_S:
            return False
        await asyncio.sleep(POLL_S)
        waited += POLL_S


def _row(engine: Any, order: Order) -> dict[str, Any]:
    now = {o.id: o for o in engine.orders()}.get(order.id, order)
    return {"id": now.id, "symbol": now.symbol, "side": now.side.value, "qty": now.qty, "status": now.status.value,
            "filled": now.filled_qty, "price": now.avg_fill_price, "reason": now.reason}


def _print(p: Plan, dry_run: bool, wide: bool, live: bool) -> None:
    con = console()
    con.print(f"rebalance ({p.method.replace('_', ' ')}) on equity {money(p.equity)}")
    by_symbol = {t["symbol"]: t for t in p.trades}
    rows = []
    for s in sorted({*p.targets, *p.current}):
        t = by_symbol.get(s)
        side = "" if t is None else (f"[green]{t['side'].upper()}[/]" if t["side"] == "buy" else f"[red]{t['side'].upper()}[/]")
        rows.append([escape(s), f"{p.targets.get(s, 0.0):.2%}", f"{p.current.get(s, 0.0):.2%}", side,
                     "" if t is None else plain(t["qty"]), "" if t is None else money(t["notional"]), money(p.prices[s])])
    print_table(fitted_table("Target weights and trades", [
        Col("Symbol"), Col("Target", right=True), Col("Now", right=True), Col("Side", 1), Col("Qty", right=True),
        Col("Notional", right=True), Col("Price", 2, right=True),
    ], rows, wide), wide)
    if not p.trades:
        con.print("already at the targets (within one lot): nothing to trade")
    elif dry_run:
        con.print(f"{len(p.trades)} orders, sells first (dry run: nothing sent)")
    for s in p.sent:
        filled = f" {plain(s['filled'])} @ {plain(s['price'].quantize(CENT4))}" if s["filled"] else ""
        why = f" ({s['reason']})" if s["reason"] else ""
        con.print(("[bold white on red] LIVE [/] " if live else "")
                  + f"order {s['id']} {s['side']} {plain(s['qty'])} {s['symbol']}: {s['status'].replace('_', ' ')}{filled}{why}")
