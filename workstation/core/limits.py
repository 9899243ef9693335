"""Risk limits: what they are, their paper defaults, and how they change at run time.

Limits live in the settings file per profile (``[profiles.NAME.risk]``) with per-strategy
overrides (``[profiles.NAME.strategy_risk.STRATEGY]``, only the keys that differ). At run
time ``LimitStore.set`` changes one limit (the Risk pane, ``main.py risk set NAME VALUE``):
the change is journaled and replayed on the next start, so every later command sees it.
``risk set NAME default`` drops the run-time value and goes back to the settings file.

A limit set to ``None`` (``none`` or ``off`` on the command line) is not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import time as dtime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from workstation.core.model import ModelError, plain, to_decimal

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
VAR_METHODS = ("historical", "parametric", "full")  # how max_var measures the VaR (workstation.risk.var)


class RiskLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Every limit the engine checks. Money is in the profile's base currency; ``_pct`` is percent."""

    # one order
    max_order_qty: Decimal | None = None
    max_order_notional: Decimal | None = Decimal(250_000)
    price_collar_pct: Decimal | None = Decimal(10)  # a limit/stop further than this from the last price is refused
    # exposure (reducing orders always pass these)
    max_position_qty: Decimal | None = None
    max_position_notional: Decimal | None = None
    max_gross_exposure: Decimal | None = None
    max_net_exposure: Decimal | None = None
    max_symbol_pct: Decimal | None = None  # one symbol's exposure as % of equity
    max_sector_pct: Decimal | None = None  # one sector's exposure as % of equity
    allow_short: bool = True
    # compliance (workstation.risk.compliance): symbols held, gross exposure / equity, and the
    # pattern-day-trader rule (margin accounts under $25,000: a 4th day trade in 5 business days
    # is refused; cash accounts and equity at or above $25,000 are not checked)
    max_open_positions: int | None = None  # symbols with a non-zero position (closing orders always pass)
    max_gross_leverage: Decimal | None = None  # gross exposure / equity, e.g. 2 for 2x
    pdt_check: bool = True
    # order flow (a working bracket entry counts as its two exits; the rates count orders sent *and* refused)
    max_open_orders: int | None = 200
    max_orders_per_second: int | None = 20
    max_orders_per_minute: int | None = 300
    max_orders_per_hour: int | None = None  # the last 3,600 seconds, counted like the second and the minute
    max_orders_per_day: int | None = 5_000
    trading_halted: bool = False
    # futures: bounded by contracts and margin; max_order_notional and max_position_notional
    # do not apply to them (their notional is many times the money they tie up)
    max_future_contracts_per_order: int | None = 10
    max_future_contracts_position: int | None = None  # one contract month, long or short
    max_margin_pct: Decimal | None = Decimal(80)  # initial margin of futures held and working, as % of equity
    # option greeks (workstation.risk.greek_limits): the net figure of the positions plus the
    # order's own, in money (workstation.trading.greeks); an order that brings a figure closer
    # to zero always passes. Account-wide ("net") and for any one underlying ("underlying").
    max_net_delta: Decimal | None = None  # |dollar delta| of the account: delta in shares x price, $
    max_underlying_delta: Decimal | None = None  # |dollar delta| of any one underlying
    max_net_gamma: Decimal | None = None  # |dollar gamma per 1% move| of the account
    max_underlying_gamma: Decimal | None = None  # |dollar gamma per 1% move| of any one underlying
    max_net_vega: Decimal | None = None  # |vega| of the account: $ per vol point
    max_underlying_vega: Decimal | None = None  # |vega| of any one underlying
    # portfolio risk (workstation.risk.var_limits): the 1-day 99% VaR of the book by
    # ``var_method`` (historical, parametric or full: options repriced) and the worst loss across
    # the shipped and the user's stress scenarios. A pre-trade check refuses an order that would
    # raise the VaR beyond max_var(_pct); post-trade monitors warn near a limit and trip the breaker.
    max_var: Decimal | None = None  # 1-day 99% VaR, money
    max_var_pct: Decimal | None = None  # 1-day 99% VaR as % of equity
    max_stress_loss: Decimal | None = None  # the worst scenario's loss, money
    max_stress_loss_pct: Decimal | None = None  # the worst scenario's loss as % of equity
    var_method: str = "historical"  # historical | parametric | full
    # post-trade monitors (a breach trips the circuit breaker)
    max_daily_loss: Decimal | None = None
    max_daily_loss_pct: Decimal | None = Decimal(10)  # of start-of-day equity
    max_intraday_drawdown_pct: Decimal | None = None  # from the day's equity high
    max_drawdown_pct: Decimal | None = None  # from the all-time equity peak
    near_pct: Decimal = Decimal(80)  # a limit used this much is "near" (amber, warning alert)
    day_roll: str = "17:00"  # the trading day starts at this local time ...
    day_timezone: str = "America/New_York"  # ... in this zone

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, Decimal) and (not value.is_finite() or value >= Decimal("1e15")):  # NaN, inf: no bound at all
                raise ValueError(f"risk limit {name} must be a number below 1e15 (leave it out for no limit), got {value}")
            if isinstance(value, (Decimal, int)) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"risk limit {name} must not be negative, got {plain(Decimal(value))}")
        if self.var_method not in VAR_METHODS:
            raise ValueError(f"risk limit var_method must be one of {', '.join(VAR_METHODS)}, got {self.var_method!r}")
        if not _HHMM.match(self.day_roll):
            raise ValueError(f"risk limit day_roll must be HH:MM, got {self.day_roll!r}")
        try:
            ZoneInfo(self.day_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"risk limit day_timezone: unknown time zone {self.day_timezone!r}") from None

    @property
    def roll_time(self) -> dtime:
        h, m = self.day_roll.split(":")
        return dtime(int(h), int(m))


LIMIT_NAMES: tuple[str, ...] = RiskLimits.__struct_fields__


class LimitError(ModelError):
    """A limit name or value a person typed is not valid."""


def _field_kind(name: str) -> str:
    default = getattr(RiskLimits(), name)
    hints = {f.name: f.type for f in msgspec.structs.fields(RiskLimits)}
    text = str(hints[name])
    if isinstance(default, bool) or "bool" in text:
        return "bool"
    if "int" in text:
        return "int"
    if "Decimal" in text:
        return "decimal"
    return "str"


def parse_value(name: str, text: object) -> Any:
    """Turn what a person typed into the value of limit ``name`` (``none``/``off`` clear it)."""
    if name not in LIMIT_NAMES:
        raise LimitError(f"unknown risk limit {name!r} (known: {', '.join(LIMIT_NAMES)})")
    kind = _field_kind(name)
    raw = str(text).strip()
    low = raw.lower()
    if kind in ("decimal", "int") and low in ("none", "off", ""):
        if name == "near_pct":
            raise LimitError("near_pct needs a number (percent of a limit that counts as near)")
        return None
    if kind == "bool":
        if low in ("true", "yes", "on", "1"):
            return True
        if low in ("false", "no", "off", "0"):
            return False
        raise LimitError(f"{name} must be true or false, got {raw!r}")
    if kind in ("decimal", "int"):
        d = to_decimal(raw.rstrip("%").replace("$", ""), name)
        if kind == "int":
            if d != d.to_integral_value():
                raise LimitError(f"{name} must be a whole number, got {raw!r}")
            return int(d)
        return d
    return raw


def with_values(base: RiskLimits, values: dict[str, Any]) -> RiskLimits:
    """``base`` with ``values`` applied, validated; LimitError names the problem."""
    unknown = [k for k in values if k not in LIMIT_NAMES]
    if unknown:
        raise LimitError(f"unknown risk limit {unknown[0]!r} (known: {', '.join(LIMIT_NAMES)})")
    merged = {**msgspec.structs.asdict(base), **values}
    try:
        return msgspec.convert(merged, RiskLimits, strict=False)
    except msgspec.ValidationError as exc:
        raise LimitError(str(exc)) from None


def check_overrides(base: RiskLimits, overrides: dict[str, dict[str, Any]]) -> dict[str, RiskLimits]:
    """Per-strategy limits from the settings file: ``base`` plus each strategy's keys."""
    out: dict[str, RiskLimits] = {}
    for strategy, values in overrides.items():
        parsed = {k: v if not isinstance(v, str) else parse_value(k, v) for k, v in values.items()}
        parsed = {k: to_decimal(v, k) if isinstance(v, float) else v for k, v in parsed.items()}
        out[strategy] = with_values(base, parsed)
    return out


def show(value: Any) -> str:
    if value is None:
        return "off"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return plain(value) or "0"
    return str(value)


class LimitStore:
    """The limits in force: settings-file values plus journaled run-time changes.

    ``on_change`` is called with the store after every change (the pre-trade checks and the
    monitors read ``limits_for`` each time, so they see a change at once).
    """

    def __init__(self, base: RiskLimits, strategy_base: dict[str, dict[str, Any]] | None = None) -> None:
        self.base = base
        self.strategy_base = {k: dict(v) for k, v in (strategy_base or {}).items()}
        self.runtime: dict[str | None, dict[str, Any]] = {}
        self._cache: dict[str | None, RiskLimits] = {}
        self._rebuild()

    def _rebuild(self) -> None:
        account = with_values(self.base, self.runtime.get(None, {}))
        cache: dict[str | None, RiskLimits] = {None: account}
        for strategy in {*self.strategy_base, *(k for k in self.runtime if k is not None)}:
            values = dict(self.strategy_base.get(strategy, {}))
            values = {k: parse_value(k, v) if isinstance(v, str) else (to_decimal(v, k) if isinstance(v, float) else v) for k, v in values.items()}
            values.update(self.runtime.get(strategy, {}))
            cache[strategy] = with_values(account, values)
        self._cache = cache

    @property
    def limits(self) -> RiskLimits:
        return self._cache[None]

    def limits_for(self, strategy: str | None) -> RiskLimits:
        if strategy is not None and strategy in self._cache:
            return self._cache[strategy]
        return self._cache[None]

    def strategies(self) -> list[str]:
        return sorted(k for k in self._cache if k is not None)

    def set(self, name: str, value: object, strategy: str | None = None) -> RiskLimits:
        """Apply one change (``value`` as typed, or ``default``); returns the new limits. No journal."""
        if name not in LIMIT_NAMES:
            raise LimitError(f"unknown risk limit {name!r} (known: {', '.join(LIMIT_NAMES)})")
        runtime = {k: dict(v) for k, v in self.runtime.items()}
        bucket = runtime.setdefault(strategy, {})
        if str(value).strip().lower() == "default":
            bucket.pop(name, None)
        else:
            bucket[name] = parse_value(name, value)
        old = self.runtime
        self.runtime = runtime
        try:
            self._rebuild()
        except LimitError:
            self.runtime = old
            self._rebuild()
            raise
        return self.limits_for(strategy)

    def replace_base(self, base: RiskLimits) -> None:
        """New account-wide limits (dropping the account's run-time changes; strategies keep theirs)."""
        self.base = base
        self.runtime.pop(None, None)
        self._rebuild()

    def source(self, name: str, strategy: str | None = None) -> str:
        """Where a limit's value comes from: ``run time``, ``strategy``, ``settings`` or ``default``."""
        if name in self.runtime.get(strategy, {}):
            return "run time"
        if strategy is not None and name in self.strategy_base.get(strategy, {}):
            return "settings"
        if strategy is None or name not in self.runtime.get(None, {}):
            return "settings" if getattr(self.base, name) != getattr(RiskLimits(), name) else "default"
        return "run time"

    def rows(self, strategy: str | None = None) -> Iterator[tuple[str, str, str]]:
        limits = self.limits_for(strategy)
        for name in LIMIT_NAMES:
            yield name, show(getattr(limits, name)), self.source(name, strategy)


def day_start(ts: float, limits: RiskLimits) -> float:
    """Epoch seconds at which the trading day containing ``ts`` began (the last roll at or before ts)."""
    from datetime import datetime, timedelta

    zone = ZoneInfo(limits.day_timezone)
    local = datetime.fromtimestamp(ts, tz=zone)
    roll = local.replace(hour=limits.roll_time.hour, minute=limits.roll_time.minute, second=0, microsecond=0)
    if roll > local:
        roll = (roll - timedelta(days=1)).replace(hour=limits.roll_time.hour, minute=limits.roll_time.minute)
        roll = roll.replace(tzinfo=zone)
    return roll.timestamp()
