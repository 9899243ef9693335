"""Broker endpoints are a user setting (sandboxes, proxies, regional hosts), checked when the
settings file is read: a bad one is one line naming the file, the profile and the key."""

from __future__ import annotations

import pytest

from brokers.alpaca import AlpacaBroker
from brokers.exchanges.config import CcxtConfig, rewrite_urls
from tests.conftest import run_cli
from workstation.core.clock import LiveClock
from workstation.core.config import ConfigError, load_settings


def settings_file(tmp_path, text: str):
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("trading_url", "ftp://paper-api.example.com"),
        ("trading_url", "paper-api.example.com"),
        ("data_url", "https://"),
        ("trading_stream_url", "https://stream.example.com/stream"),
        ("stock_stream_url", "wss://stream.example.com:99999/v2/iex"),
        ("crypto_stream_url", "42"),
    ],
)
def test_a_bad_alpaca_endpoint_is_named_with_its_file_and_key(tmp_path, key, value):
    path = settings_file(tmp_path, f'[profiles.alpaca-paper.options]\n{key} = "{value}"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    message = str(err.value)
    assert str(path) in message and "[profiles.alpaca-paper]" in message and f"options.{key}" in message
    assert "\n" not in message


def test_a_bad_ccxt_url_override_is_named(tmp_path):
    path = settings_file(tmp_path, '[profiles.kr]\nbroker = "ccxt"\n[profiles.kr.options]\nexchange = "binance"\nurl_override = "binance.example"\n')
    with pytest.raises(ConfigError, match=r"\[profiles.kr\] options.url_override must be a URL \(http:// or https://\) with a host"):
        load_settings(path)


def test_sandbox_and_proxy_endpoints_are_taken(tmp_path):
    path = settings_file(tmp_path, (
        "[profiles.alpaca-paper.options]\n"
        'trading_url = "https://alpaca-proxy.internal:8443"\n'
        'data_url = "https://data.sandbox.alpaca.markets"\n'
        'stock_stream_url = "wss://stream.data.sandbox.alpaca.markets/v2/iex"\n'
        "[profiles.bn]\n"
        'broker = "ccxt"\n'
        "[profiles.bn.options]\n"
        'exchange = "binance"\n'
        'url_override = "https://gateway.example.com/binance"\n'
    ))
    settings = load_settings(path)
    broker = AlpacaBroker(settings.profile("alpaca-paper"), LiveClock())
    assert broker.rest_host == "alpaca-proxy.internal:8443"
    assert broker.stock_stream_url == "wss://stream.data.sandbox.alpaca.markets/v2/iex"
    config = CcxtConfig.from_options(settings.profile("bn").options)
    urls = rewrite_urls({"public": "https://api.binance.com/api/v3", "ws": "wss://stream.binance.com:9443/ws"}, config.url_override)
    assert urls == {"public": "https://gateway.example.com/binance/api/v3", "ws": "wss://gateway.example.com/binance/ws"}


def test_the_command_line_says_it_in_one_line_and_exits_2(home):
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text('[profiles.alpaca-paper.options]\ntrading_url = "htp://paper-api.alpaca.markets"\n', encoding="utf-8")
    result = run_cli("status", "--profile", "alpaca-paper", home=home, timeout=30)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and "settings.toml" in line and "options.trading_url" in line and "Traceback" not in line
