"""Settings: one TOML file plus the environment, validated into frozen structs.

Where things live
-----------------
* Settings file: ``$WORKSTATION_HOME/settings.toml`` when ``WORKSTATION_HOME`` is set,
  else the platform's user config directory (``~/.config/workstation/settings.toml`` on
  Linux); ``--config FILE`` overrides both.
* Data (journals, watchlists): ``$WORKSTATION_HOME/data``, else the user data directory
  (``~/.local/share/workstation``); ``--data-dir DIR`` overrides both. Each profile keeps
  its own journal under ``<data>/<profile>/``.

Profiles
--------
``paper`` (the default, fully offline: the built-in simulated market and paper broker),
``alpaca-paper``/``alpaca-live`` and ``ib-paper``/``ib-live`` always exist. A
``[profiles.NAME]`` table adds or overrides one. Secrets never live in
this file: brokers read them from the environment (or the OS keyring).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from workstation.core.limits import RiskLimits, check_overrides
from workstation.core.stress_settings import StressReplaySettings, StressScenarioSettings, StressSettings  # noqa: F401 (re-exported)
from workstation.core.model import to_decimal

DEFAULT_WATCHLIST = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "SPY", "QQQ", "BTC/USD", "ETH/USD", "EUR/USD")


class ConfigError(ValueError):
    """The settings file is malformed; the message names the file and the problem."""


_TOO_BIG = Decimal("1e15")  # no amount in a settings file is that large


def _within(name: str, value: float, low: float, high: float) -> None:
    """A number setting inside [low, high] (NaN and infinity refused), or ValueError naming it."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be from {low:g} to {high:g}, got {value}")


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be {', '.join(allowed[:-1])} or {allowed[-1]}, got {value!r}")


# Broker endpoints a profile may point elsewhere (a sandbox, a proxy, a regional host):
# option -> the URL schemes it takes.
ENDPOINT_OPTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "alpaca": {
        "trading_url": ("http", "https"), "data_url": ("http", "https"),
        "trading_stream_url": ("ws", "wss"), "stock_stream_url": ("ws", "wss"), "crypto_stream_url": ("ws", "wss"),
    },
    "ccxt": {"url_override": ("http", "https")},
}


def _check_endpoints(broker: str, options: dict[str, Any]) -> None:
    """Each endpoint option of ``broker`` is a URL of its schemes with a host, or ValueError naming it."""
    from urllib.parse import urlsplit

    for key, schemes in ENDPOINT_OPTIONS.get(broker, {}).items():
        value = options.get(key)
        if value is None:
            continue
        wanted = " or ".join(f"{s}://" for s in schemes)
        try:
            parts = urlsplit(value) if isinstance(value, str) else None
            ok = parts is not None and parts.scheme in schemes and bool(parts.hostname) and (parts.port or 1) > 0
        except ValueError:  # a port that is not a number, or out of range
            ok = False
        if not ok:
            raise ValueError(f"options.{key} must be a URL ({wanted}) with a host, got {value!r}")


class PaperSymbol(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One symbol a user adds to the paper market: ``ACME = { price = "42.50", sector = "Industrials" }``."""

    price: Decimal
    sector: str = "unclassified"
    vol: float = 0.3  # annualised volatility of its simulated price
    weeklies: bool = False  # options listed every Friday

    def __post_init__(self) -> None:
        if not self.price.is_finite() or not 0 < self.price < Decimal("1e9"):
            raise ValueError(f"price must be above 0 and below 1e9, got {self.price}")
        if not (math.isfinite(self.vol) and 0 < self.vol <= 5):
            raise ValueError(f"vol must be above 0 and at most 5, got {self.vol}")


class PaperSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[paper]``: symbols added to the paper market's shipped universe (every paper profile)."""

    universe: str | None = None  # a symbols file in the shipped file's format
    symbols: dict[str, PaperSymbol] = {}  # [paper.symbols]


class SimSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    seed: int = 0
    tick_hz: float = 2.0
    calendar: str = "always"  # "always", "exchange" or "nyse"
    slippage_bps: Decimal = Decimal(0)
    commission_per_share: Decimal = Decimal(0)
    commission_min: Decimal = Decimal(0)
    commission_pct: Decimal = Decimal(0)
    partial_fills: bool = True
    depth: bool = True  # the paper market's book: orders walk it, resting limits queue (brokers.paper.depth)
    universe: PaperSettings = PaperSettings()  # Settings.profile fills it from [paper]

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tick_hz) and 0 < self.tick_hz <= 1000):
            raise ValueError(f"tick_hz must be above 0 and at most 1000 quotes a second, got {self.tick_hz}")
        for name in ("slippage_bps", "commission_per_share", "commission_min", "commission_pct"):
            value = getattr(self, name)
            if not value.is_finite() or value < 0 or value >= _TOO_BIG:
                raise ValueError(f"{name} must be a number from 0 to below 1e15, got {value}")
        if self.calendar not in ("always", "exchange", "nyse"):
            raise ValueError(f"calendar must be always, exchange or nyse, got {self.calendar!r}")


class FutureMargin(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One futures root's margin per contract, in its currency:
    ``[profiles.NAME.margins] ES = { initial = 16000, maintenance = 14500 }``."""

    initial: Decimal
    maintenance: Decimal

    def __post_init__(self) -> None:
        for name in ("initial", "maintenance"):
            value = getattr(self, name)
            if not value.is_finite() or not 0 < value < _TOO_BIG:
                raise ValueError(f"margin {name} must be above 0 and below 1e15, got {value}")
        if self.maintenance > self.initial:
            raise ValueError(
                f"margin maintenance {self.maintenance} must not exceed initial {self.initial} (the initial margin is the larger)"
            )


_FUTURES_ROOT = re.compile(r"^[A-Z0-9]{1,5}$")


class Profile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str = "paper"
    broker: str = "sim"  # sim, alpaca, ccxt, ib
    base_currency: str = "USD"
    initial_cash: Decimal = Decimal(100_000)
    account_type: str = "margin"  # margin or cash
    leverage: Decimal = Decimal(2)
    live: bool = False
    journal_sync: str = "NORMAL"  # NORMAL survives a killed process; FULL also a power cut
    sim: SimSettings = SimSettings()
    options: dict[str, Any] = {}  # broker-specific settings (hosts, ports, exchange id...)
    risk: RiskLimits = RiskLimits()  # [profiles.NAME.risk]
    strategy_risk: dict[str, dict[str, Any]] = {}  # [profiles.NAME.strategy_risk.STRATEGY]: keys that differ
    margins: dict[str, FutureMargin] = {}  # [profiles.NAME.margins] ROOT = { initial, maintenance }: over the contract table

    def __post_init__(self) -> None:
        if not self.initial_cash.is_finite() or not 0 < self.initial_cash < _TOO_BIG:
            raise ValueError(f"initial_cash must be above 0 and below 1e15, got {self.initial_cash}")
        if not self.leverage.is_finite() or not 0 < self.leverage <= 100:
            raise ValueError(f"leverage must be above 0 and at most 100, got {self.leverage}")
        _one_of("broker", self.broker, ("sim", "alpaca", "ccxt", "ib"))
        _one_of("account_type", self.account_type, ("margin", "cash"))
        _one_of("journal_sync", self.journal_sync.upper(), ("NORMAL", "FULL", "OFF"))  # OFF: bulk loads and tests
        try:
            check_overrides(self.risk, self.strategy_risk)
        except ValueError as exc:
            raise ValueError(f"strategy_risk: {exc}") from None
        _check_endpoints(self.broker, self.options if isinstance(self.options, dict) else {})
        for root in self.margins:
            if not _FUTURES_ROOT.match(root):
                raise ValueError(f"margins: {root!r} is not a futures root (1 to 5 capital letters or digits, e.g. ES)")


# Profiles that exist without a settings file. A ``[profiles.NAME]`` table of the same
# name is merged over the built-in one (its ``options`` key by key), so
# ``[profiles.ib-paper] options = { gateway = true }`` is enough to use IB Gateway.
BUILTIN_PROFILES: dict[str, dict[str, Any]] = {
    "alpaca-paper": {"broker": "alpaca"},
    "alpaca-live": {"broker": "alpaca", "live": True},
    "ib-paper": {"broker": "ib"},
    "ib-live": {"broker": "ib", "live": True},
    # ccxt: keys in WORKSTATION_BINANCE_API_KEY / _SECRET; any other exchange is a
    # [profiles.NAME] table with broker = "ccxt" and options.exchange = "<ccxt id>"
    "binance-testnet": {
        "broker": "ccxt", "account_type": "cash", "leverage": Decimal(1),
        "options": {"exchange": "binance", "sandbox": True},
    },
    "binance": {
        "broker": "ccxt", "live": True, "account_type": "cash", "leverage": Decimal(1),
        "options": {"exchange": "binance"},
    },
}


def _with_builtins(raw: dict[str, Any]) -> dict[str, Any]:
    profiles = raw.get("profiles")
    if not isinstance(profiles, dict):
        return raw
    merged = dict(profiles)
    for name, table in profiles.items():
        base = BUILTIN_PROFILES.get(name)
        if base is not None and isinstance(table, dict):
            own = table.get("options", {})  # not a table: left for the check to name
            options = {**base.get("options", {}), **own} if isinstance(own, dict) else own
            merged[name] = {**base, **table, "options": options}
    return {**raw, "profiles": merged}


class UISettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    theme: str = "dark"
    confirm_orders: bool = True
    bindings: dict[str, str] = {}
    repaint_hz: float = 10.0

    def __post_init__(self) -> None:
        _within("repaint_hz", self.repaint_hz, 1, 60)


class QualitySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[data_quality]``: what the data-quality monitor (``workstation.risk.dataquality``) calls stale, a spike, a gap."""

    stale_after: float = 60.0  # seconds without a quote
    spike_sigma: float = 8.0
    spike_min_pct: float = 1.0  # a smaller jump is never a spike
    min_samples: int = 20  # returns needed before spikes are judged
    window: int = 100  # returns kept for the standard deviation
    badge_ttl: float = 300.0  # seconds a spike or gap badge stays on
    gap_bars: int = 1  # missing bars that count as a gap

    def __post_init__(self) -> None:
        for name in ("stale_after", "spike_sigma", "spike_min_pct", "badge_ttl"):
            _within(name, getattr(self, name), 0, 1e9)
        if self.stale_after <= 0 or self.spike_sigma <= 0 or self.min_samples < 2 or self.window < self.min_samples:
            raise ValueError("data_quality: stale_after and spike_sigma must be positive, window >= min_samples >= 2")


class DepthSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[depth]``: how often the engine publishes each watched symbol's order book (``workstation.trading.depth``)."""

    interval: float = 0.1  # seconds of engine time between two views of one symbol's book (the latest wins)

    def __post_init__(self) -> None:
        _within("depth.interval", self.interval, 0.001, 60)


class ServeSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[serve]``: the background engine's optional TCP listener (the Unix socket is always on)."""

    tcp_port: int = 0  # 0: no TCP listener
    tcp_host: str = "127.0.0.1"  # reach it from another machine through SSH port forwarding
    token: str = ""  # a TCP client must present it; required when tcp_port is set

    def __post_init__(self) -> None:
        if not 0 <= self.tcp_port <= 65535:
            raise ValueError(f"tcp_port must be from 0 (no TCP listener) to 65535, got {self.tcp_port}")


class WebSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[web]``: ``main.py web``. Without a token a random one is made at each start."""

    token: str = ""  # at least 16 characters; WORKSTATION_WEB_TOKEN overrides it


class AlertChannel(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An external channel: an apprise URL, the lowest priority it receives, its quiet hours (held then)."""

    url: str
    min_priority: str = "high"
    quiet: str = ""
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.min_priority not in ("low", "normal", "high", "critical"):
            raise ValueError(f"alert channel min_priority must be low, normal, high or critical, got {self.min_priority!r}")
        if self.quiet:  # "22:00-07:00" in timezone; an AlertRuleError is a ValueError the settings file names
            from workstation.core.alert_rules import parse_quiet
            parse_quiet(self.quiet, self.timezone)


class AlertSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    bell: bool = True  # ring the terminal bell for high and critical alerts
    cooldown: float = 60.0  # seconds before the same alert (or rule) fires again
    rules: list[str] = []  # e.g. "AAPL > 200", "pnl < -1000 priority high"
    channels: list[AlertChannel] = []
    retries: int = 2  # delivery attempts after the first, with backoff
    retry_delay: float = 1.0  # seconds before the first retry (doubling)

    def __post_init__(self) -> None:
        from workstation.core.alert_rules import parse_rule

        _within("cooldown", self.cooldown, 0, 86400)
        _within("retries", self.retries, 0, 10)
        _within("retry_delay", self.retry_delay, 0, 3600)

        for text in self.rules:
            parse_rule(text)  # AlertRuleError is a ValueError: the settings file names it


class SettlementSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Expiry and settlement on the paper market (``[settlement]``; docs/options.md)."""

    exercise_threshold: Decimal = Decimal("0.01")  # an equity option this far in the money is exercised (OCC)
    warn_within_pct: Decimal = Decimal(1)  # the day before expiry: warn of options this close to the money
    roll_reminder_days: int = 5  # remind to roll a held future this many days before it expires

    def __post_init__(self) -> None:
        if not self.exercise_threshold.is_finite() or not 0 <= self.exercise_threshold < _TOO_BIG:
            raise ValueError(f"exercise_threshold must be from 0 to below 1e15, got {self.exercise_threshold}")
        if not self.warn_within_pct.is_finite() or not 0 <= self.warn_within_pct <= 100:
            raise ValueError(f"warn_within_pct must be from 0 to 100, got {self.warn_within_pct}")
        _within("roll_reminder_days", self.roll_reminder_days, 0, 365)


class StrategySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One strategy instance the workstation offers (``[[strategies]]`` in settings.toml)."""

    plugin: str
    symbols: list[str] = []
    name: str | None = None  # default: the plugin's name (numbered when taken)
    params: dict[str, Any] = {}
    allocation: str | None = None  # an amount (25000) or a share of equity (25%)
    autostart: bool = False

    def __post_init__(self) -> None:
        if self.allocation is not None:
            text = self.allocation.strip()
            amount = to_decimal(text.removesuffix("%"), "allocation")
            if amount <= 0 or text.endswith("%") and amount > 100:
                raise ValueError(f"allocation must be an amount above 0 or a share from above 0% to 100%, got {self.allocation!r}")


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    default_profile: str = "paper"
    watchlist: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_WATCHLIST))
    profiles: dict[str, Profile] = {}
    ui: UISettings = UISettings()
    alerts: AlertSettings = AlertSettings()
    sectors: dict[str, str] = {}  # symbol -> sector, added to the shipped table
    data_quality: QualitySettings = QualitySettings()
    depth: DepthSettings = DepthSettings()
    strategies: list[StrategySettings] = []
    serve: ServeSettings = ServeSettings()
    web: WebSettings = WebSettings()
    paper: PaperSettings = PaperSettings()
    settlement: SettlementSettings = SettlementSettings()
    stress: StressSettings = StressSettings()

    def __post_init__(self) -> None:
        from workstation.core.sectors import SECTORS

        known = {*SECTORS.values(), *self.sectors.values(), "Crypto & FX"}
        for s in self.stress.scenarios:
            for name in s.sectors:
                if name not in known:
                    raise ValueError(f"stress scenario {s.name!r}: sectors.{name} is not a sector (known: {', '.join(sorted(known))})")

    def profile(self, name: str | None) -> Profile:
        """The named profile (``paper`` is built in); ConfigError for an unknown name.
        A paper-market profile carries ``[paper]`` (the symbols added to its universe)."""
        found = self._profile(name)
        if found.broker == "sim" and self.paper != PaperSettings() and found.sim.universe == PaperSettings():
            return msgspec.structs.replace(found, sim=msgspec.structs.replace(found.sim, universe=self.paper))
        return found

    def _profile(self, name: str | None) -> Profile:
        name = name or self.default_profile
        if name in self.profiles:
            return msgspec.structs.replace(self.profiles[name], name=name)
        if name == "paper":
            return Profile(name="paper")
        if name in BUILTIN_PROFILES:
            return msgspec.convert({**BUILTIN_PROFILES[name], "name": name}, Profile)
        known = ", ".join(sorted({"paper", *BUILTIN_PROFILES, *self.profiles}))
        raise ConfigError(f"unknown profile {name!r} (known: {known})")


def home() -> Path | None:
    value = os.environ.get("WORKSTATION_HOME")
    return Path(value).expanduser() if value else None


def config_path(override: str | Path | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    root = home()
    if root is not None:
        return root / "settings.toml"
    import platformdirs

    return Path(platformdirs.user_config_dir("workstation")) / "settings.toml"


def data_dir(override: str | Path | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    root = home()
    if root is not None:
        return root / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir("workstation"))


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate the settings file; a missing file gives the defaults.

    Whatever the file holds, the outcome is Settings or one ConfigError: one line naming the
    file and, where one is at fault, the table and the key with its allowed range."""
    file = config_path(path)
    try:
        if not file.exists():
            if path:
                raise ConfigError(f"settings file {file} does not exist")
            return Settings()
        settings = _read(file)
    except ConfigError as exc:
        raise ConfigError(_one_line(str(exc))) from None
    return settings


def _read(file: Path) -> Settings:
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"settings file {file} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {file} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"settings file {file} is not valid TOML: nested too deeply") from None
    bad = _not_a_number(raw, "")
    if bad:
        raise ConfigError(f"settings file {file}: {bad} must be a number, not nan")
    try:
        settings = msgspec.convert(_with_builtins(raw), Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"settings file {file}: {_table_of(raw)}{exc}") from None
    except (ValueError, TypeError, ArithmeticError, RecursionError) as exc:  # a check that tripped on a value's type
        raise ConfigError(f"settings file {file}: {_table_of(raw)}{type(exc).__name__}: {exc}") from None
    try:
        settings.profile(None)
    except ConfigError as exc:
        raise ConfigError(f"settings file {file}: default_profile: {exc}") from None
    return settings


def _not_a_number(node: Any, where: str, depth: int = 0) -> str:
    """The dotted key of the first NaN in a parsed file (NaN compares false with every bound)."""
    if depth > 50:
        return ""
    if isinstance(node, float) and math.isnan(node):
        return where or "a value"
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found = _not_a_number(value, f"{where}.{key}" if where and isinstance(key, str) else f"{where}[{key}]" if where else str(key), depth + 1)
        if found:
            return found
    return ""


def _one_line(message: str, limit: int = 400) -> str:
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table_of(raw: dict[str, Any]) -> str:
    """``[profiles.NAME] `` for the profile table that is wrong on its own (msgspec's path
    does not name a dict's key), or nothing."""
    profiles = raw.get("profiles")
    if isinstance(profiles, dict):
        for name, table in profiles.items():
            if isinstance(table, dict) and isinstance(table.get("options", {}), dict):  # as merged: a built-in's broker
                base = BUILTIN_PROFILES.get(name, {})
                table = {**base, **table, "options": {**base.get("options", {}), **table.get("options", {})}}
            try:
                msgspec.convert(table, Profile, strict=False)
            except (msgspec.ValidationError, ValueError, TypeError, ArithmeticError, RecursionError):
                return f"[profiles.{name}] "
    return ""


def save_setting(path: str | Path | None, dotted: str, value: Any) -> None:
    """Set one key (``ui.theme``) in the settings file, keeping the rest."""
    import tomli_w

    file = config_path(path)
    raw: dict[str, Any] = {}
    if file.exists():
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    msgspec.convert(raw, Settings, strict=False)  # refuse to write something unreadable
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(raw), encoding="utf-8")
    tmp.replace(file)
