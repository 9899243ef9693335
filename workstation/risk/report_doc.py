"""The portfolio risk report as one document: ``PortfolioReport`` and ``report_on(session)``.

What ``EngineAPI.risk_report`` returns and ``main.py risk report`` prints (table, ``--json``,
``--html``): the VaR model's ``RiskReport`` (``workstation.risk.var``: VaR and CVaR by method,
confidence and horizon; the decomposition by position, sector, asset class and strategy; the
correlation matrix, betas, the diversification ratio, what was left out), every stress
scenario applied (``workstation.risk.stress``: shipped and the user's, each with its total
P&L, its share of equity, the five worst positions, and the P&L by sector and asset class),
then each historical replay (``workstation.risk.replays``: the configured ones, then ad-hoc windows)
and a heatmap-ready list of positions (``HeatTile``: sector, exposure, day P&L %).

Plain msgspec fields: the same document in process, on the socket and as JSON. Stress P&L is
money (Decimal, a string in JSON); VaR figures, exposures and percentages are model figures
(floats).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec

from workstation.core.model import IntentError
from workstation.risk.var import METHODS, RiskReport

__all__ = ["HeatTile", "PortfolioReport", "StressPosition", "StressRow", "StressTotal", "check_args", "report_on"]

WORST = 5  # positions per scenario


class StressPosition(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    move: Decimal  # the price move applied (a fraction)
    pnl: Decimal  # base currency


class StressTotal(msgspec.Struct, frozen=True, kw_only=True):
    name: str  # a sector or an asset class
    pnl: Decimal


class StressRow(msgspec.Struct, frozen=True, kw_only=True):
    scenario: str
    description: str
    pnl: Decimal
    pnl_pct: Decimal | None  # of equity, percent
    worst: list[StressPosition]  # the five that lose most (only those that lose)
    by_sector: list[StressTotal]
    by_asset_class: list[StressTotal]
    notes: list[str] = []
    window: str | None = None  # a historical replay's START..END (None: a scenario)
    measured: bool = True  # False: a replay whose window has no bar of any held symbol (its note says so)


class HeatTile(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    sector: str
    asset_class: str
    exposure: float  # delta-equivalent in the base currency, signed (the tile's size: its absolute value)
    day_pnl_pct: float | None  # the position's P&L today as a % of its value (None: no previous close)


class PortfolioReport(msgspec.Struct, frozen=True, kw_only=True):
    ts: float  # the engine's clock when it was made
    base_currency: str
    equity: Decimal
    methods: list[str]
    lookback: int
    risk: RiskReport
    stress: list[StressRow]
    heatmap: list[HeatTile]  # by sector, then largest exposure first


def check_args(methods: Sequence[str], lookback: int, decay: float | None) -> None:
    """IntentError (one line) for arguments the model cannot use."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise IntentError(f"unknown method {unknown[0] if unknown else '(none)'}: choose {', '.join(METHODS)}")
    if not 20 <= lookback <= 5000:
        raise IntentError(f"lookback is a number of days between 20 and 5000, got {lookback}")
    if decay is not None and not 0.0 < decay < 1.0:
        raise IntentError(f"the EWMA decay (lambda) is between 0 and 1, e.g. 0.94, got {decay}")


def _stress_row(result: Any) -> StressRow:
    return StressRow(
        scenario=result.scenario, description=result.description, pnl=result.pnl, pnl_pct=result.pnl_pct,
        worst=[StressPosition(symbol=p.symbol, move=p.move, pnl=p.pnl) for p in result.worst(WORST)],
        by_sector=[StressTotal(name=n, pnl=v) for n, v in result.by_sector],
        by_asset_class=[StressTotal(name=n, pnl=v) for n, v in result.by_asset_class],
        notes=list(result.notes), window=result.window or None, measured=result.measured,
    )


def _day_pct(session: Any, symbol: str, qty: Decimal) -> float | None:
    q = session.quotes.get(symbol)
    if q is None or not q.prev_close or q.last <= 0:
        return None
    return q.change_pct * (1.0 if qty > 0 else -1.0)


async def report_on(
    session: Any, *, methods: Sequence[str] = METHODS, lookback: int = 250, decay: float | None = None,
    cache: Any = None, replays: Sequence[str] = (),
) -> PortfolioReport:
    """The report of a ``Session``'s open positions (its broker's daily bars, its GreekBook, its
    settings' sectors, stress scenarios and replays); ``cache``: a ``ReturnCache`` kept between
    calls; ``replays``: ad-hoc windows (``START..END``) replayed after the configured ones.
    IntentError, one line, when nothing can be measured or a window cannot be read."""
    from workstation.core.sectors import SectorMap
    from workstation.risk import stress
    from workstation.risk.portfolio_model import load_portfolio_risk
    from workstation.risk.replays import ad_hoc, stress_results
    from workstation.risk.var import RiskModelError, risk_report
    from workstation.trading.greeks import BETA_BENCHMARK

    check_args(methods, lookback, decay)
    try:
        extra = [ad_hoc(w) for w in replays]
    except stress.StressError as exc:
        raise IntentError(str(exc)) from None
    book = session.greeks
    if book is None:
        raise IntentError("this engine keeps no Greeks: no risk report")
    portfolio = session.portfolio
    now = session.clock.time()
    try:
        inputs = await load_portfolio_risk(
            portfolio, book.instrument, book, session.broker.history, now,
            sectors=SectorMap(session.settings.sectors), benchmark=BETA_BENCHMARK, lookback=lookback, decay=decay,
            cache=cache,
        )
        risk = risk_report(inputs, methods=list(dict.fromkeys(methods)))
        results = await stress_results(session, extra, cache=cache)
    except (RiskModelError, stress.StressError) as exc:
        raise IntentError(str(exc)) from None
    qty = {p.symbol: p.qty for p in portfolio.positions() if p.qty}
    tiles = [
        HeatTile(symbol=p.symbol, sector=p.sector, asset_class=p.asset_class, exposure=p.exposure,
                 day_pnl_pct=_day_pct(session, p.symbol, qty.get(p.symbol, Decimal(1))))
        for p in risk.positions
    ]
    tiles.sort(key=lambda t: (t.sector, -abs(t.exposure), t.symbol))
    return PortfolioReport(
        ts=now, base_currency=risk.base_currency, equity=portfolio.equity(), methods=list(dict.fromkeys(methods)),
        lookback=lookback, risk=risk, stress=[_stress_row(r) for r in results], heatmap=tiles,
    )
