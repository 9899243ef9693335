"""Stress settings: ``[[stress.scenarios]]`` (shocks as fractions) and ``[[stress.replays]]``
(historical windows), validated at load with one line naming the scenario or replay and the
key (workstation.risk.stress and workstation.risk.replays use them; docs/risk-and-alerts.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import msgspec

__all__ = [
    "STRESS_ASSET_CLASSES", "STRESS_DOLLAR", "STRESS_MOVE", "STRESS_VOL", "StressReplaySettings", "StressScenarioSettings",
    "StressSettings",
]


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be {', '.join(allowed[:-1])} or {allowed[-1]}, got {value!r}")


STRESS_ASSET_CLASSES = ("equity", "crypto", "forex", "future", "index")  # what a scenario may shock by asset class
STRESS_MOVE = (Decimal(-1), Decimal(10))  # a price move from -100% to +1000%
STRESS_VOL = (Decimal("-0.99"), Decimal(10))  # implied volatility from -99% to +1000% of itself
STRESS_DOLLAR = (Decimal("-0.5"), Decimal(1))  # the dollar from -50% to +100% against every other currency


def _move(name: str, value: Decimal, bounds: tuple[Decimal, Decimal] = STRESS_MOVE) -> None:
    low, high = bounds
    if not value.is_finite() or not low <= value <= high:
        raise ValueError(f"{name} must be from {low} to {high} (a fraction: -0.1 is -10%), got {value}")


class StressScenarioSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One ``[[stress.scenarios]]``: shocks as fractions (-0.1 = -10%); see docs/risk-and-alerts.md.

    ``equity``, ``crypto``: the market's move; ``vol``: implied volatility's relative move
    (0.5 = each IV x 1.5); ``dollar``: the US dollar against every other currency;
    ``symbols``, ``sectors``, ``asset_classes``: moves that win over the factors (a symbol's
    over its sector's over its asset class's over the market's)."""

    name: str
    description: str = ""
    equity: Decimal = Decimal(0)
    vol: Decimal = Decimal(0)
    crypto: Decimal = Decimal(0)
    dollar: Decimal = Decimal(0)
    symbols: dict[str, Decimal] = {}
    sectors: dict[str, Decimal] = {}
    asset_classes: dict[str, Decimal] = {}

    def __post_init__(self) -> None:
        where = f"stress scenario {self.name!r}: "
        if not self.name.strip():
            raise ValueError("scenario name must not be empty")
        try:
            _move("equity", self.equity)
            _move("crypto", self.crypto)
            _move("vol", self.vol, STRESS_VOL)
            _move("dollar", self.dollar, STRESS_DOLLAR)
            for table in ("symbols", "sectors", "asset_classes"):
                for key, value in getattr(self, table).items():
                    _move(f"{table}.{key}", value)
            for key in self.asset_classes:
                _one_of(f"asset_classes key {key!r}", key, STRESS_ASSET_CLASSES)
        except ValueError as exc:
            raise ValueError(where + str(exc)) from None


class StressReplaySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One ``[[stress.replays]]``: a historical window (``window = "2008-10-06..2008-10-10"``,
    both days inclusive) replayed on today's holdings from the broker's daily bars."""

    name: str
    window: str
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("replay name must not be empty")
        parts = self.window.strip().split("..")
        try:
            if len(parts) != 2:
                raise ValueError
            start, end = date.fromisoformat(parts[0].strip()), date.fromisoformat(parts[1].strip())
        except ValueError:
            raise ValueError(
                f"stress replay {self.name!r}: window must read START..END (e.g. 2008-10-06..2008-10-10), got {self.window!r}"
            ) from None
        if end < start:
            raise ValueError(f"stress replay {self.name!r}: window ends ({end}) before it starts ({start})")


class StressSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[stress]``: the user's own scenarios, shown after the shipped ones, and historical
    replays, shown after the scenarios (workstation.risk.stress, workstation.risk.replays)."""

    scenarios: list[StressScenarioSettings] = []
    replays: list[StressReplaySettings] = []

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for s in self.scenarios:
            if s.name.casefold() in seen:
                raise ValueError(f"stress scenario {s.name!r} is named twice")
            seen.add(s.name.casefold())
        for r in self.replays:
            if r.name.casefold() in seen:
                raise ValueError(f"stress replay {r.name!r} is named twice (replay and scenario names are one list)")
            seen.add(r.name.casefold())
