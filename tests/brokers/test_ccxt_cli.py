"""``main.py`` commands on a ccxt profile, in a subprocess, against the binance fake."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from tests.conftest import run_cli
from tests.fakes.binance_session import KEY, PROFILE, SECRET, fake, toml_for  # noqa: F401

ENV = {"WORKSTATION_BINANCE_API_KEY": KEY, "WORKSTATION_BINANCE_SECRET": SECRET, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
NO_KEYS = {"WORKSTATION_BINANCE_API_KEY": "", "WORKSTATION_BINANCE_SECRET": "", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def write_settings(home, fake, **extra) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text(toml_for(fake, **extra), encoding="utf-8")


def everything_written(home, result) -> str:
    files = [p.read_bytes().decode("utf-8", "replace") for p in home.rglob("*") if p.is_file()]
    return result.stdout + result.stderr + "".join(files)


@pytest.mark.slow
def test_stream_prints_live_quotes_from_the_exchange(fake, home):
    write_settings(home, fake)
    fake.start_ticking(hz=10)
    result = run_cli("stream", "--profile", PROFILE, "-s", "BTC/USD", "-d", "2s", "--json", home=home, env=ENV, timeout=30)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) >= 5 and {r["symbol"] for r in rows} == {"BTC/USD"}
    assert float(rows[-1]["bid"]) == 60000.0 and float(rows[-1]["ask"]) == 60001.0
    assert f"from {PROFILE}" in result.stderr


@pytest.mark.slow
def test_status_shows_the_connection_and_the_exchanges_account(fake, home):
    write_settings(home, fake)
    fake.balances["BTC"] = [Decimal("0.25"), Decimal(0)]
    result = run_cli("status", "--profile", PROFILE, "--json", home=home, env=ENV, timeout=30)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["broker"], doc["connection"]) == (PROFILE, "connected")
    assert doc["account"]["cash"] == "100000"
    assert [(p["symbol"], p["qty"]) for p in doc["positions"]] == [("BTC/USD", "0.25")]
    plain = run_cli("status", "--profile", PROFILE, home=home, env=ENV, timeout=30)
    assert "connected" in plain.stdout and "BTC/USD" in plain.stdout
    assert KEY not in everything_written(home, result) + plain.stdout + plain.stderr


def test_buy_on_the_exchange_from_the_command_line(fake, home):
    write_settings(home, fake)
    result = run_cli("buy", "0.01", "BTC/USD", "--profile", PROFILE, home=home, env=ENV, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "filled 0.01 @ 60001" in result.stdout
    assert [o.status for o in fake.orders.values()] == ["FILLED"]


def test_missing_keys_one_line_naming_the_variable(fake, home):
    write_settings(home, fake)
    start = time.monotonic()
    result = run_cli("status", "--profile", PROFILE, home=home, env=NO_KEYS, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "WORKSTATION_BINANCE_API_KEY" in result.stderr
    assert time.monotonic() - start < 15
    assert fake.requests == []


def test_unreachable_exchange_one_line_naming_host_and_port(home):
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text(
        f'[profiles.{PROFILE}]\nbroker = "ccxt"\n[profiles.{PROFILE}.options]\nexchange = "binance"\nurl_override = "http://127.0.0.1:9"\n',
        encoding="utf-8",
    )
    start = time.monotonic()
    result = run_cli("positions", "--profile", PROFILE, home=home, env=ENV, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: cannot reach binance at 127.0.0.1:9: connection refused"
    assert time.monotonic() - start < 15
    assert KEY not in everything_written(home, result)


def test_refused_key_is_never_shown(fake, home):
    write_settings(home, fake)
    fake.api_key = "another-key"
    result = run_cli("status", "--profile", PROFILE, home=home, env=ENV, timeout=30)
    assert result.returncode == 1
    assert "refused the API key from WORKSTATION_BINANCE_API_KEY" in result.stderr
    assert KEY not in everything_written(home, result) and SECRET not in everything_written(home, result)


def test_the_live_binance_profile_needs_live_on_the_command_line(home):
    result = run_cli("status", "--profile", "binance", home=home, env=ENV, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: profile 'binance' trades real money: add --live to the command line"
