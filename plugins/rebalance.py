"""Rebalance: hold target weights across the strategy's symbols, on a schedule or past a drift."""

from __future__ import annotations

from datetime import datetime, time, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from workstation.core.model import ZERO, Bar, Side
from workstation.strategies.api import Param, Strategy
from workstation.strategies.optimiser import (
    METHODS, Constraints, OptimiseError, Trade, optimise, plan, read_weights_file, target_weights,
)

NEW_YORK = ZoneInfo("America/New_York")


class Rebalance(Strategy):
    """Trade the symbols to target weights of this strategy's capital: ``equal``,
    ``inverse_vol``, ``min_variance``, ``max_sharpe``, ``risk_parity`` (on the risk model's
    covariance of the last ``lookback`` daily returns) or a ``file`` of weights. It rebalances
    at the first bar at or after ``at`` (New York time) of each day, week or month, and at any
    bar where a weight is more than ``drift`` from its target; in whole lots, sells first and
    the buys once they have filled."""

    name = "rebalance"
    method = Param("equal", choices=METHODS, description="how the target weights are chosen")
    weights = Param("", description="CSV or TOML file of symbol,weight (method=file)")
    schedule = Param("monthly", choices=("daily", "weekly", "monthly", "never"), description="when to rebalance")
    at = Param("00:00", description="time of day (New York) from which a scheduled rebalance is due, HH:MM")
    drift = Param(0.0, min=0.0, max=1.0, description="also rebalance when a weight is this far off (0.05 = 5 points; 0: off)")
    lookback = Param(60, min=2, max=5_000, description="daily returns in the covariance")
    decay = Param(0.0, min=0.0, max=0.9999, description="EWMA lambda of the covariance (0: equal weights)")
    min_weight = Param(0.0, min=0.0, max=1.0, description="lowest weight of any symbol")
    max_weight = Param(1.0, min=0.0, max=1.0, description="highest weight of any symbol")
    sector_cap = Param(1.0, min=0.0, max=1.0, description="highest weight of any sector (the sector table)")
    risk_free = Param(0.0, min=-1.0, max=1.0, description="annual risk-free rate (max_sharpe)")
    bar_seconds = Param(86_400, min=1, max=86_400, description="bar size in seconds")

    @classmethod
    def check(cls, p):
        if p["method"] == "file" and not p["weights"]:
            return "method=file needs weights=FILE"
        if p["min_weight"] > p["max_weight"]:
            return f"min_weight ({p['min_weight']}) is above max_weight ({p['max_weight']})"
        try:
            hh, mm = (int(x) for x in str(p["at"]).split(":"))
            time(hh, mm)
        except ValueError:
            return f"at must be HH:MM, got {p['at']!r}"
        return None

    def on_start(self) -> None:
        hh, mm = (int(x) for x in self.at.split(":"))
        self.due_at = time(hh, mm)
        self.closes: dict[str, tuple[float, float]] = {}  # symbol -> (bar ts, close)
        self.done_period: tuple[int, ...] | None = None
        self.buys: list[Trade] = []
        self.warned = ""
        self.file_weights = read_weights_file(Path(self.weights).expanduser()) if self.method == "file" else None
        self.ctx.subscribe(self.ctx.symbols, bars=self.bar_seconds, quotes=False)

    # -- when
    def _period(self, ts: float) -> tuple[int, ...] | None:
        local = datetime.fromtimestamp(ts, tz=timezone.utc).astimezone(NEW_YORK)
        if local.time() < self.due_at:
            return None
        if self.schedule == "daily":
            return (local.year, local.month, local.day)
        if self.schedule == "weekly":
            year, week, _ = local.isocalendar()
            return (year, week)
        if self.schedule == "monthly":
            return (local.year, local.month)
        return None

    def on_bar(self, bar: Bar) -> None:
        self.closes[bar.symbol] = (bar.ts, bar.close)
        if len(self.closes) < len(self.ctx.symbols) or any(t != bar.ts for t, _ in self.closes.values()):
            return  # every symbol's bar of this time first
        if self.buys or self.ctx.open_orders():
            return  # a rebalance is still under way
        period = self._period(bar.ts)
        scheduled = period is not None and period != self.done_period
        if not scheduled and self.drift <= 0:
            return
        try:
            targets = self._targets()
            trades = plan(targets, self._held(), self._prices(), self.ctx.capital(), self._lots(),
                          drift=0.0 if scheduled else self.drift)
        except OptimiseError as exc:  # (tried again at the next bar: more history may come)
            if self.warned != str(exc):
                self.warned = str(exc)
                self.ctx.log(f"rebalance skipped: {exc}")
            return
        if scheduled:
            self.done_period = period
        if not trades:
            return
        shown = ", ".join(f"{s} {w:.1%}" for s, w in targets.items())
        self.ctx.log(f"rebalance to {shown}: {len(trades)} orders")
        self.buys = [t for t in trades if t.side is Side.BUY]
        sells = [t for t in trades if t.side is Side.SELL]
        for t in sells:
            self.ctx.sell(t.symbol, t.qty)
        if not sells:
            self._send_buys()

    def on_order(self, event) -> None:
        if self.buys and not self.ctx.open_orders():
            self._send_buys()

    def _send_buys(self) -> None:
        buys, self.buys = self.buys, []
        for t in buys:
            self.ctx.buy(t.symbol, t.qty)

    # -- what
    def _targets(self) -> dict[str, float]:
        symbols = list(self.ctx.symbols)
        constraints = Constraints(
            bounds={s: (self.min_weight, self.max_weight) for s in symbols},
            sector_caps=self._caps(symbols),
        )
        if self.file_weights is not None:
            missing = [s for s in self.file_weights if s not in symbols]
            if missing:
                raise OptimiseError(f"{', '.join(missing)} in the weights file but not among the symbols")
            return {s: self.file_weights.get(s, 0.0) for s in symbols}
        if self.method == "equal":
            import numpy as np

            return optimise("equal", symbols, np.empty((0, 0)), constraints=constraints)
        bars = {s: self.ctx.history(s, self.bar_seconds, self._bars_needed()) for s in symbols}
        return target_weights(self.method, bars, constraints, self.lookback, self.decay or None, self.risk_free)

    def _caps(self, symbols: list[str]) -> dict[str, float]:
        if self.sector_cap >= 1.0:
            return {}
        sectors = Constraints().sectors
        return {sectors.sector(s): self.sector_cap for s in symbols}

    def _bars_needed(self) -> int:
        per_day = max(1, 86_400 // self.bar_seconds) if self.bar_seconds < 86_400 else 1
        return (self.lookback + 1) * per_day

    def _held(self) -> dict[str, Decimal]:
        return {s: self.ctx.qty(s) for s in self.ctx.symbols if self.ctx.qty(s) != ZERO}

    def _prices(self) -> dict[str, Decimal]:
        return {s: Decimal(repr(c)) for s, (_, c) in self.closes.items()}

    def _lots(self) -> dict[str, Decimal]:
        return {s: self.ctx.instrument(s).lot_size for s in self.ctx.symbols}
