"""``main.py realtime``: a headless paper-trading session with strategies, and its summary.

Each run is a session book of its own: a fresh journal under
``<data>/sessions/<YYYYmmdd-HHMMSS>/<profile>/journal.sqlite`` with the starting cash given on
the command line, so it never touches the paper account the workstation uses. The session
connects to the simulated market (its tick rate adjustable, so a short session still makes
bars), runs the requested strategies on their workers, samples equity, and at the end
(duration or Ctrl+C) stops the strategies, cancels working orders unless asked to keep
them, and journals a summary that ``main.py status --session last`` shows later.
"""

from __future__ import annotations

import asyncio
import signal
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from workstation.research import analytics
from workstation.core.clock import Clock, LiveClock
from workstation.core.config import Settings, data_dir
from workstation.core.journal import Journal
from workstation.core.model import ModelError, OrderFilled, OrderRejected, iso, money, plain
from workstation.strategies.api import Allocation, ParamError, Strategy, parse_assignments
from workstation.strategies.plugins import Discovery
from workstation.strategies.runner import StrategyRunner, loop_history

SUMMARY_KIND = "session.summary"


@dataclass
class StrategyChoice:
    cls: type[Strategy]
    params: dict[str, Any]
    origin: tuple[str, str | None, str]


@dataclass
class RealtimeOptions:
    symbols: list[str]
    duration: float | None
    cash: Decimal
    strategies: list[StrategyChoice] = field(default_factory=list)
    tick_hz: float | None = None
    keep_orders: bool = False
    allocation: Allocation | None = None
    profile: str | None = None


def choose_strategies(names: Sequence[str], assignments: Sequence[str], found: Discovery) -> list[StrategyChoice]:
    """Resolve ``--strategy`` names and ``--param`` values (``name=value`` for every chosen
    strategy that has that parameter, ``strategy.name=value`` for one) into validated choices."""
    raw = parse_assignments(assignments)
    chosen = []
    for name in names:
        if name not in found.plugins:
            failed = [e for e in found.errors if Path(e.file).stem == name]
            if failed:
                raise ModelError(f"strategy {name!r} failed to load: {failed[0]}")
            found.get(name)  # raises: unknown, with the list of available ones
        chosen.append(found.plugins[name])
    used: set[str] = set()
    out = []
    for spec in chosen:
        declared = spec.cls.parameters()
        params: dict[str, Any] = {}
        for key, value in raw.items():
            target, dot, pname = key.rpartition(".")
            if dot and target == spec.name:
                params[pname] = value
                used.add(key)
            elif not dot and key in declared:
                params[key] = value
                used.add(key)
        try:
            values = spec.cls.validate_params(params)
        except ParamError as exc:
            raise ParamError(f"{spec.name}: {exc}") from None
        out.append(StrategyChoice(spec.cls, values, (spec.module, spec.path, spec.qualname)))
    unused = [k for k in raw if k not in used]
    if unused:
        which = ", ".join(s.name for s in chosen) or "no strategy chosen"
        raise ParamError(f"parameter {unused[0]!r} matches no parameter of the chosen strategies ({which})")
    return out


def session_root(data: Path | None, clock: Clock) -> Path:
    base = data_dir(data) / "sessions"
    stamp = clock.now().astimezone().strftime("%Y%m%d-%H%M%S")
    root, n = base / stamp, 1
    while root.exists():
        n += 1
        root = base / f"{stamp}-{n}"
    return root


def find_session(data: Path | None, which: str) -> Path:
    base = data_dir(data) / "sessions"
    names = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    if not names:
        raise ModelError(f"no realtime sessions yet in {base}")
    if which == "last":
        return base / names[-1]
    if which in names:
        return base / which
    raise ModelError(f"no session {which!r} (sessions: {', '.join(names[-5:])}{' ...' if len(names) > 5 else ''})")


@dataclass
class RunningSession:
    """A session as it runs: what the dashboard shows and the summary is made of."""

    session: Any
    runner: StrategyRunner
    options: RealtimeOptions
    started: float
    trades: deque[Any] = field(default_factory=lambda: deque(maxlen=10))
    rejections: int = 0
    alerts: deque[Any] = field(default_factory=lambda: deque(maxlen=3))
    equity: list[tuple[float, float]] = field(default_factory=list)


async def run_realtime(
    options: RealtimeOptions,
    settings: Settings,
    *,
    data: Path | None = None,
    clock: Clock | None = None,
    broker: Any = None,
    on_refresh: Callable[[RunningSession], None] | None = None,
    refresh_hz: float = 4.0,
) -> dict[str, Any]:
    """Run a session to its end and return the summary (also journaled)."""
    from workstation.core.model import AlertRaised
    from workstation.trading.session import Session

    clock = clock or LiveClock()
    profile = settings.profile(options.profile)
    if profile.broker != "sim" and broker is None:
        raise ModelError(f"realtime runs on the paper market; profile {profile.name!r} uses {profile.broker}")
    if options.tick_hz is not None:
        profile = msgspec.structs.replace(profile, sim=msgspec.structs.replace(profile.sim, tick_hz=options.tick_hz))
    settings = msgspec.structs.replace(settings, profiles={**settings.profiles, profile.name: profile})
    root = session_root(data, clock)
    journal_path = root / profile.name / "journal.sqlite"
    seed = Journal(journal_path)
    seed.set_meta("initial_cash", str(options.cash))
    seed.set_meta("kind", "realtime")
    seed.set_meta("symbols", ",".join(options.symbols))
    seed.close()
    session = Session.build(settings, profile.name, data_root=root, clock=clock, broker=broker)
    loop = asyncio.get_running_loop()
    runner = StrategyRunner(
        bus=session.bus, oms=session.oms, portfolio=session.portfolio, clock=clock, delivery="thread",
        history=loop_history(session.broker, loop, clock), feed=session.broker.subscribe,
    )
    session.killswitch.stop_strategies = runner.stop_all  # the kill switch stops every strategy first
    live = RunningSession(session=session, runner=runner, options=options, started=clock.time())
    session.bus.subscribe(OrderFilled, lambda e: live.trades.append(e.fill))
    session.bus.subscribe(OrderRejected, lambda e: setattr(live, "rejections", live.rejections + 1))
    session.bus.subscribe(AlertRaised, live.alerts.append)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    interval = max(0.1, min(1.0, (options.duration or 60.0) / 100))

    def sample() -> None:
        eq = session.portfolio.equity()
        live.equity.append((clock.time(), float(eq)))
        session.journal.append("equity", {"equity": plain(money(eq)), "cash": plain(money(session.portfolio.cash_base()))}, clock.time())

    async def sampler() -> None:
        """Equity every ``interval`` (the drawdown's resolution; ratios take one-minute returns of it), the dashboard at ``refresh_hz``."""
        next_sample = next_refresh = clock.monotonic()
        while True:
            now = clock.monotonic()
            if now >= next_sample:
                sample()
                next_sample += interval
            if on_refresh is not None and now >= next_refresh:
                on_refresh(live)
                next_refresh = now + 1.0 / refresh_hz
            await asyncio.sleep(max(0.0, min(next_sample, next_refresh if on_refresh else next_sample) - clock.monotonic()))

    task = None
    finished = False
    try:
        await session.start(options.symbols)
        runner.attach()
        runner.start_ticker(0.1)
        for choice in options.strategies:
            inst = runner.add(choice.cls, choice.params, symbols=options.symbols, allocation=options.allocation, origin=choice.origin)
            await runner.start(inst.name)
        task = loop.create_task(sampler())
        try:
            await asyncio.wait_for(stop.wait(), timeout=options.duration)
        except TimeoutError:
            pass
        await runner.stop_all(cancel_orders=not options.keep_orders)
        if not options.keep_orders:
            await session.oms.cancel_all()
        await session.oms.drain()
        runner.refresh_account()
        finished = True
    finally:
        if task is not None:
            task.cancel()
        runner.detach()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
        if not finished:
            await runner.stop_all(cancel_orders=not options.keep_orders)
            await session.stop()
    sample()
    if on_refresh is not None:
        on_refresh(live)
    summary = summarize(live, root, interval)
    session.journal.append(SUMMARY_KIND, summary, clock.time())
    await session.stop()
    return summary


def summarize(live: RunningSession, root: Path, interval: float) -> dict[str, Any]:
    session, runner, opts = live.session, live.runner, live.options
    pf = session.portfolio
    acct = pf.account()
    equity_curve = [e for _, e in live.equity]
    wins = sum(b.wins for b in pf.books.values())
    losses = sum(b.losses for b in pf.books.values())
    rate = analytics.win_rate(wins, losses)
    ended = session.clock.time()
    strategies = []
    for st in runner.status():
        r = analytics.win_rate(st.wins, st.losses)
        strategies.append(
            {
                "name": st.name, "plugin": st.plugin, "state": st.state, "symbols": list(st.symbols),
                "allocation": st.allocation, "params": {k: _jsonable(v) for k, v in st.params.items()},
                "trades": st.trades, "wins": st.wins, "losses": st.losses,
                "win_rate": round(r, 4) if r is not None else None,
                "realized_pnl": money(st.realized_pnl), "unrealized_pnl": money(st.unrealized_pnl), "pnl": money(st.pnl),
                "error": st.error,
            }
        )
    return {
        "session": root.name,
        "started": iso(live.started),
        "ended": iso(ended),
        "seconds": round(ended - live.started, 3),
        "symbols": list(opts.symbols),
        "initial_cash": money(opts.cash),
        "equity": money(acct.equity),
        "pnl": money(acct.equity - opts.cash),
        "cash": money(acct.cash),
        "realized_pnl": money(acct.realized_pnl),
        "unrealized_pnl": money(acct.unrealized_pnl),
        "trades": pf.book.trades,
        "round_trips": wins + losses,
        "win_rate": round(rate, 4) if rate is not None else None,
        "max_drawdown": round(analytics.max_drawdown(equity_curve), 6),
        **analytics.session_ratios(live.equity),
        "positions": [
            {"symbol": p.symbol, "qty": p.qty, "avg_price": p.avg_price, "unrealized_pnl": money(pf.unrealized(p.symbol))}
            for p in pf.positions()
        ],
        "open_orders": len(session.oms.working()),
        "orders_kept": opts.keep_orders,
        "strategies": strategies,
        "journal": str(session.journal.path),
    }


def _jsonable(v: Any) -> Any:
    return v if isinstance(v, (int, float, str, bool, Decimal)) or v is None else str(v)


def load_summary(root: Path) -> tuple[dict[str, Any] | None, Journal]:
    """The journaled summary of a finished session (None if it did not finish) and its journal."""
    journals = sorted(root.glob("*/journal.sqlite"))
    if not journals:
        raise ModelError(f"session {root.name} has no journal")
    journal = Journal(journals[0])
    summary = None
    for _, _, _, _, data in journal.events(SUMMARY_KIND):
        summary = _revive(data)
    return summary, journal


_AMOUNTS = ("initial_cash", "equity", "pnl", "cash", "realized_pnl", "unrealized_pnl", "qty", "avg_price")


def _revive(doc: Any) -> Any:
    """Amounts come back from the journal as text; make them numbers again."""
    if isinstance(doc, dict):
        return {k: Decimal(v) if k in _AMOUNTS and isinstance(v, str) else _revive(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_revive(v) for v in doc]
    return doc


__all__ = ["RealtimeOptions", "RunningSession", "StrategyChoice", "choose_strategies", "find_session", "load_summary", "run_realtime"]
