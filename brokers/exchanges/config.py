"""Settings, keys and plumbing for the ccxt adapter (``brokers.exchanges.adapter``).

``CcxtConfig`` is a ccxt profile's ``options`` table; keys come from
``WORKSTATION_<EXCHANGE>_API_KEY`` / ``_SECRET`` or the OS keyring; ``rewrite_urls`` points
every REST and websocket URL of an exchange at one host (``url_override``: a proxy, a
regional host, the tests' loopback fake), keeping the override's own path as a prefix;
``RedactingLogger`` is what ccxt logs through, so its request log never shows a key.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any
from urllib.parse import urlsplit

import msgspec

from workstation.core.config import ConfigError

log = logging.getLogger("brokers.exchanges.adapter")


class CcxtConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The ``[profiles.NAME.options]`` of a ``broker = "ccxt"`` profile."""

    exchange: str
    sandbox: bool = False
    quote_map: dict[str, str] = msgspec.field(default_factory=lambda: {"USD": "USDT"})
    symbol_map: dict[str, str] = {}
    websockets: bool = True
    poll_seconds: float = 2.0
    stale_seconds: float = 30.0  # a quote stream silent this long is restarted
    ping_seconds: float = 20.0  # websocket keepalive: two missed pongs restart the stream
    timeout_seconds: float = 10.0
    connect_timeout_seconds: float = 12.0
    submit_timeout_seconds: float = 10.0
    reconnect_base_seconds: float = 0.5
    reconnect_max_seconds: float = 30.0
    rate_limit_ms: int | None = None  # ccxt's spacing between requests (default: the exchange's own)
    ccxt_options: dict[str, Any] = {}
    url_override: str | None = None  # every REST and websocket request to this host (a proxy, a regional host, the tests' fake)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> CcxtConfig:
        try:
            return msgspec.convert(options, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"ccxt profile options: {exc}") from None


def key_variables(exchange: str) -> tuple[str, str]:
    stem = re.sub(r"[^A-Z0-9]", "_", exchange.upper())
    return f"WORKSTATION_{stem}_API_KEY", f"WORKSTATION_{stem}_SECRET"


def load_keys(exchange: str) -> tuple[str | None, str | None]:
    """API key and secret from the environment, else the OS keyring (absent backend tolerated)."""
    key_var, secret_var = key_variables(exchange)
    key, secret = os.environ.get(key_var), os.environ.get(secret_var)
    if key and secret:
        return key, secret
    try:
        import keyring

        key = key or keyring.get_password("workstation", f"{exchange}-api-key")
        secret = secret or keyring.get_password("workstation", f"{exchange}-secret")
    except Exception:  # no backend, locked keychain, missing package: fall back to nothing
        log.debug("no usable OS keyring")
    return key or None, secret or None


def rewrite_urls(node: Any, base: str) -> Any:
    """Every http(s)/ws(s) URL under ``node`` with its scheme and host replaced by ``base``'s
    (a path in ``base`` goes in front of each URL's path: ``https://proxy.example/binance``)."""
    if isinstance(node, dict):
        return {k: rewrite_urls(v, base) for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite_urls(v, base) for v in node]
    if isinstance(node, str) and "://" in node:
        parts = urlsplit(node)
        target = urlsplit(base)
        scheme = ("wss" if target.scheme == "https" else "ws") if parts.scheme.startswith("ws") else target.scheme
        return f"{scheme}://{target.netloc}{target.path.rstrip('/')}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    return node


class RedactingLogger:
    """What ccxt logs (requests with their headers) without our key or secret in it."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._log = logging.getLogger("brokers.exchanges.adapter.sdk")
        self._secrets = secrets

    def _emit(self, level: int, msg: object, *args: object, **kw: object) -> None:
        if not self._log.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        for s in self._secrets:
            text = text.replace(s, "***")
        self._log.log(level, "%s", text)

    def debug(self, msg: object, *args: object, **kw: object) -> None:
        self._emit(logging.DEBUG, msg, *args)

    def info(self, msg: object, *args: object, **kw: object) -> None:
        self._emit(logging.INFO, msg, *args)

    def warning(self, msg: object, *args: object, **kw: object) -> None:
        self._emit(logging.WARNING, msg, *args)

    warn = warning

    def error(self, msg: object, *args: object, **kw: object) -> None:
        self._emit(logging.ERROR, msg, *args)

    exception = error

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 (the logging API's name)
        return self._log.isEnabledFor(level)
