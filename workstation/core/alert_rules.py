"""The alert rule grammar (pure: no engine, no journal), one for every face and the settings file.

::

    AAPL > 200                 price above (or <, >=, <=, "above", "below")
    AAPL move 3% 5m            a move of at least 3% either way within 5 minutes
    pnl < -1000                the account's P&L for the day
    pnl AAPL > 500             one position's P&L (unrealized + realized)
    spread BTC/USD > 20        ask - bid wider than 20
    AAPL rsi14 < 30            an indicator of the bars against a level (rsiN, smaN, emaN)
    AAPL cross sma50           the close crosses its 50-bar SMA, either way
    AAPL cross above sma50     ... only upwards ("cross below": only downwards)
    AAPL sma20 cross sma50     one indicator crosses another (above/below as well)
    ... on 5m                  the bars an indicator rule reads (default: 1-minute bars)
    ... priority high          low, normal (default), high, critical (or "!high")
    ... cooldown 10m           quiet period before the same rule fires again

Indicator and cross rules are judged when a bar closes (the engine builds the bars from
its quotes), never on every quote.

``parse_rule`` reads one; ``workstation.alerts.engine`` evaluates them. The settings file checks
its rules with it when it is loaded, so this module sits with the settings, below alerts.
"""

from __future__ import annotations

import re
from decimal import Decimal

import msgspec

from workstation.core.model import ModelError, plain, to_decimal

PRIORITIES = ("low", "normal", "high", "critical")


def priority_rank(priority: str) -> int:
    try:
        return PRIORITIES.index(priority)
    except ValueError:
        raise ModelError(f"unknown priority {priority!r} (use {', '.join(PRIORITIES)})") from None


class AlertRuleError(ModelError):
    """An alert rule a person typed cannot be read; the message says how to write it."""


# --------------------------------------------------------------------------- rules


class AlertRule(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    kind: str  # "price", "move", "pnl", "spread", "indicator", "cross"
    op: str  # ">", "<", ">=", "<=" ("move": ">=" on the absolute move; "cross": "cross")
    value: Decimal
    symbol: str | None = None
    window: float | None = None  # seconds, for "move"
    priority: str = "normal"
    cooldown: float | None = None  # seconds; None: the settings' default
    origin: str = "user"  # "user" (journal) or "settings"
    series: str | None = None  # "indicator" and "cross": "rsi14", "sma20"... ("price": the close)
    other: str | None = None  # "cross": the series crossed ("sma50")
    direction: str | None = None  # "cross": "above", "below" or None (either way)
    bar: int = 60  # "indicator" and "cross": the bar size in seconds

    @property
    def text(self) -> str:
        tail = f" priority {self.priority}" if self.priority != "normal" else ""
        if self.cooldown is not None:
            tail += f" cooldown {_show_seconds(self.cooldown)}"
        on = f" on {_show_seconds(self.bar)}" if self.bar != 60 else ""
        if self.kind == "indicator":
            return f"{self.symbol} {self.series} {self.op} {plain(self.value)}{on}{tail}"
        if self.kind == "cross":
            first = "" if self.series == "price" else f"{self.series} "
            way = f"{self.direction} " if self.direction else ""
            return f"{self.symbol} {first}cross {way}{self.other}{on}{tail}"
        if self.kind == "price":
            return f"{self.symbol} {self.op} {plain(self.value)}{tail}"
        if self.kind == "move":
            return f"{self.symbol} move {plain(self.value)}% {_show_seconds(self.window or 0)}{tail}"
        if self.kind == "pnl":
            who = f" {self.symbol}" if self.symbol else ""
            return f"pnl{who} {self.op} {plain(self.value)}{tail}"
        return f"spread {self.symbol} {self.op} {plain(self.value)}{tail}"


_NUMBERS = re.compile(r"[-+$]?[\d][\d,.]*%?")
_OPS = {">": ">", "<": "<", ">=": ">=", "<=": "<=", "above": ">", "below": "<"}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|sec|m|min|h|d)?$")
_UNITS = {None: 60.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_HOWTO = "write e.g. 'AAPL > 200', 'AAPL move 3% 5m', 'pnl < -1000', 'spread BTC/USD > 20', 'AAPL rsi14 < 30', 'AAPL cross sma50'"
_SERIES = re.compile(r"^(rsi|sma|ema)(\d+)$")
MAX_PERIOD = 1000


class RuleStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A rule as ``alert list`` and the rules view show it: its statistics come from the
    journal (times fired, the last firing, firings held back by the cooldown)."""

    id: str
    text: str
    origin: str = "user"
    enabled: bool = True
    fired: int = 0
    last_fired: float | None = None
    suppressed: int = 0
    armed: bool = True


def indicator_series(name: str) -> tuple[str, int]:
    """``"rsi14"`` -> ``("rsi", 14)``; AlertRuleError for anything else."""
    m = _SERIES.match(name.lower())
    if not m:
        raise AlertRuleError(f"unknown indicator {name!r}: use rsiN, smaN or emaN (e.g. rsi14, sma50)")
    n = int(m.group(2))
    if not 1 <= n <= MAX_PERIOD or (m.group(1) == "rsi" and n < 2):
        raise AlertRuleError(f"indicator period out of range in {name!r}: from 2 (rsi) or 1 to {MAX_PERIOD}")
    return m.group(1), n


def parse_duration(text: str) -> float:
    m = _DURATION.match(text.strip().lower())
    if not m or float(m.group(1)) <= 0:
        raise AlertRuleError(f"malformed duration {text!r}: use 30s, 5m, 1h")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _show_seconds(s: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{int(s // size)}{unit}"
    return f"{plain(Decimal(repr(s)))}s"


def _symbol(text: str) -> str:
    from workstation.core.symbols import parse_symbol

    try:
        return parse_symbol(text).symbol
    except ModelError as exc:
        raise AlertRuleError(str(exc)) from None


def _number(text: str, what: str) -> Decimal:
    try:
        return to_decimal(text.replace("$", ""), what)
    except ModelError as exc:
        raise AlertRuleError(f"{exc}; {_HOWTO}") from None


def parse_rule(text: str, rule_id: str = "", origin: str = "user") -> AlertRule:
    """Read one alert rule (pure; no I/O). Raises AlertRuleError with a readable message."""
    tokens = re.sub(r"(>=|<=|>|<)", r" \1 ", text.strip()).split()
    if tokens and tokens[0].lower() == "alert":
        tokens = tokens[1:]
    priority, cooldown, bar = "normal", None, None
    rest: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        low = tok.lower()
        if low.startswith("!") and low[1:] in PRIORITIES:
            priority = low[1:]
        elif low.startswith("priority="):
            priority = low.split("=", 1)[1]
        elif low == "priority" and i + 1 < len(tokens):
            priority, i = tokens[i + 1].lower(), i + 1
        elif low.startswith("cooldown="):
            cooldown = parse_duration(low.split("=", 1)[1])
        elif low == "cooldown" and i + 1 < len(tokens):
            cooldown, i = parse_duration(tokens[i + 1]), i + 1
        elif low == "on" and i + 1 < len(tokens):
            bar, i = parse_duration(tokens[i + 1]), i + 1
            if bar != int(bar) or not 1 <= bar <= 86400:
                raise AlertRuleError(f"malformed bar size {tokens[i]!r}: a whole number of seconds up to 1d (1m, 5m, 1h)")
        else:
            rest.append(tok)
        i += 1
    if priority not in PRIORITIES:
        raise AlertRuleError(f"unknown priority {priority!r} (use {', '.join(PRIORITIES)})")
    if not rest:
        raise AlertRuleError(f"empty alert rule: {_HOWTO}")
    common = {"id": rule_id, "priority": priority, "cooldown": cooldown, "origin": origin}
    lows = [t.lower() for t in rest]
    if "cross" in lows[1:3] or (len(rest) >= 2 and _SERIES.match(lows[1])):
        return _indicator_rule(text, rest, lows, common, 60 if bar is None else int(bar))
    if bar is not None:
        raise AlertRuleError(f"'on {_show_seconds(bar)}' is for indicator rules ('AAPL rsi14 < 30 on 5m'): {text!r}")
    head = rest[0].lower()
    if head == "pnl":
        if len(rest) == 3 and rest[1].lower() in _OPS:
            return AlertRule(kind="pnl", op=_OPS[rest[1].lower()], value=_number(rest[2], "P&L"), **common)
        if len(rest) == 4 and rest[2].lower() in _OPS:
            return AlertRule(kind="pnl", symbol=_symbol(rest[1]), op=_OPS[rest[2].lower()], value=_number(rest[3], "P&L"), **common)
        raise AlertRuleError(f"malformed P&L alert {text!r}: write 'pnl < -1000' or 'pnl AAPL > 500'")
    if head == "spread":
        if len(rest) == 4 and rest[2] in (">", ">="):
            value = _number(rest[3], "spread")
            if value < 0:
                raise AlertRuleError("a spread alert needs a spread of zero or more")
            return AlertRule(kind="spread", symbol=_symbol(rest[1]), op=rest[2], value=value, **common)
        raise AlertRuleError(f"malformed spread alert {text!r}: write 'spread BTC/USD > 20'")
    if len(rest) >= 2 and rest[1].lower() == "move":
        if len(rest) != 4 or not rest[2].endswith("%"):
            raise AlertRuleError(f"malformed move alert {text!r}: write 'AAPL move 3% 5m'")
        pct = _number(rest[2][:-1], "move percent")
        if pct <= 0:
            raise AlertRuleError("a move alert needs a positive percent")
        return AlertRule(kind="move", symbol=_symbol(rest[0]), op=">=", value=pct, window=parse_duration(rest[3]), **common)
    if len(rest) == 3 and rest[1].lower() in _OPS:
        value = _number(rest[2], "price")
        if value <= 0:
            raise AlertRuleError(f"a price alert needs a positive price, got {rest[2]}")
        return AlertRule(kind="price", symbol=_symbol(rest[0]), op=_OPS[rest[1].lower()], value=value, **common)
    raise AlertRuleError(f"cannot read alert rule {text!r}: {_HOWTO}")


def _indicator_rule(text: str, rest: list[str], lows: list[str], common: dict, bar: int) -> AlertRule:
    symbol = _symbol(rest[0])
    if lows[1] == "cross" or (len(lows) > 2 and lows[2] == "cross"):
        series = "price" if lows[1] == "cross" else lows[1]
        tail = lows[2:] if series == "price" else lows[3:]
        direction = None
        if tail and tail[0] in ("above", "below"):
            direction, tail = tail[0], tail[1:]
        if len(tail) != 1:
            raise AlertRuleError(f"malformed cross alert {text!r}: write 'AAPL cross sma50', 'AAPL cross above sma50' or 'AAPL sma20 cross sma50'")
        if series != "price":
            indicator_series(series)
        indicator_series(tail[0])
        if tail[0] == series:
            raise AlertRuleError(f"{series} cannot cross itself: {text!r}")
        return AlertRule(kind="cross", symbol=symbol, op="cross", value=Decimal(0), series=series, other=tail[0],
                         direction=direction, bar=bar, **common)
    if len(rest) != 4 or lows[2] not in _OPS:
        raise AlertRuleError(f"malformed indicator alert {text!r}: write 'AAPL rsi14 < 30' or 'AAPL sma20 > 150'")
    kind, _n = indicator_series(lows[1])
    value = _number(rest[3], "indicator level")
    if kind == "rsi" and not 0 <= value <= 100:
        raise AlertRuleError(f"an RSI level is from 0 to 100, got {rest[3]}")
    return AlertRule(kind="indicator", symbol=symbol, op=_OPS[lows[2]], value=value, series=lows[1], bar=bar, **common)


def _holds(op: str, x: Decimal, value: Decimal) -> bool:
    if op == ">":
        return x > value
    if op == "<":
        return x < value
    if op == ">=":
        return x >= value
    return x <= value


# --------------------------------------------------------------------------- quiet hours


class QuietHours(msgspec.Struct, frozen=True):
    """A channel's daily quiet hours (``"22:00-07:00"`` in ``timezone``): an alert raised
    inside them is held for that channel and delivered when they end."""

    start: int  # minutes after midnight, local
    end: int
    timezone: str = "UTC"

    def _local(self, ts: float):
        from datetime import datetime
        from zoneinfo import ZoneInfo

        return datetime.fromtimestamp(ts, tz=ZoneInfo(self.timezone))

    def contains(self, ts: float) -> bool:
        t = self._local(ts)
        m = t.hour * 60 + t.minute
        if self.start <= self.end:
            return self.start <= m < self.end
        return m >= self.start or m < self.end  # across midnight

    def ends_after(self, ts: float) -> float:
        """When the quiet hours that hold ``ts`` end (epoch seconds); ``ts`` itself outside them."""
        from datetime import datetime, time, timedelta

        if not self.contains(ts):
            return ts
        t = self._local(ts)
        day = t.date() if (self.start > self.end and t.hour * 60 + t.minute < self.end) or self.start <= self.end else t.date() + timedelta(days=1)
        end = datetime.combine(day, time(self.end // 60, self.end % 60), tzinfo=t.tzinfo)
        return end.timestamp()

    @property
    def text(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d} {self.timezone}"


_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_quiet(text: str, timezone: str = "UTC") -> QuietHours:
    """``"22:00-07:00"`` in a time zone; ValueError (one line) for anything else."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    parts = text.strip().split("-")
    marks = [_CLOCK.match(p.strip()) for p in parts] if len(parts) == 2 else []
    if len(marks) != 2 or not all(marks) or any(int(m.group(1)) > 23 or int(m.group(2)) > 59 for m in marks if m):
        raise AlertRuleError(f"malformed quiet hours {text!r}: write e.g. \"22:00-07:00\"")
    start, end = (int(m.group(1)) * 60 + int(m.group(2)) for m in marks if m)
    if start == end:
        raise AlertRuleError(f"quiet hours {text!r} start and end at the same time")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise AlertRuleError(f"unknown time zone {timezone!r} for quiet hours (e.g. Europe/London, America/New_York)") from None
    return QuietHours(start, end, timezone)
