"""Alpaca API keys: from the environment (Alpaca's own variables) or the OS keyring, never from settings."""

from __future__ import annotations

import os
from collections.abc import Mapping

from brokers.base import BrokerUnavailable

KEY_VAR = "APCA_API_KEY_ID"
SECRET_VAR = "APCA_API_SECRET_KEY"
KEYRING_SERVICE = "workstation-alpaca"


def find_keys(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """API key and secret from the environment, else the OS keyring; BrokerUnavailable names what is missing."""
    env = os.environ if env is None else env
    found = {name: env.get(name) or _keyring(name) for name in (KEY_VAR, SECRET_VAR)}
    missing = [name for name, value in found.items() if not value]
    if missing:
        raise BrokerUnavailable(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: export "
            f"{KEY_VAR} and {SECRET_VAR}, or store them in the OS keyring (service {KEYRING_SERVICE!r})"
        )
    return found[KEY_VAR] or "", found[SECRET_VAR] or ""


def _keyring(name: str) -> str | None:
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, name)
    except Exception:  # no backend, a locked store, no D-Bus: the keyring is optional
        return None

