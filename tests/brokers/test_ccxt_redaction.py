"""A ccxt error that carries a whole signed request URL never shows its signature, its
timestamp or the key: not in ``status --json``, not in the journal, not in the alerts."""

from __future__ import annotations

import json
import re
import sqlite3

from brokers.base import redact
from tests.conftest import run_cli
from tests.fakes.binance_session import KEY, PROFILE, SECRET, fake, toml_for  # noqa: F401

ENV = {"WORKSTATION_BINANCE_API_KEY": KEY, "WORKSTATION_BINANCE_SECRET": SECRET, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
SIGNED = re.compile(r"signature=|timestamp=\d|recvWindow=")


def journal_text(home) -> str:
    out = []
    for path in home.rglob("journal.sqlite"):
        with sqlite3.connect(path) as db:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
                out += [repr(row) for row in db.execute(f'SELECT * FROM "{table}"')]
    return "\n".join(out)


def test_a_signed_url_in_a_ccxt_error_is_redacted_everywhere(fake, home):  # noqa: F811
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text(toml_for(fake), encoding="utf-8")
    fake.outage("account", times=50, after=1)  # connect works; the resync's balance answers an HTML 503
    result = run_cli("status", "--profile", PROFILE, "--json", home=home, env=ENV, timeout=60)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    stored = journal_text(home)
    assert "503" in stored and "/api/v3/account" in stored  # the error was journaled, its URL without the query
    alerts = run_cli("alerts", "--profile", PROFILE, "--json", home=home, env=ENV, timeout=60)
    for text in (result.stdout, result.stderr, json.dumps(doc), stored, alerts.stdout, alerts.stderr):
        assert not SIGNED.search(text), text[:2000]
        assert KEY not in text and SECRET not in text


def test_redact_strips_queries_signatures_and_key_headers():
    text = (
        "binance GET http://127.0.0.1:8/api/v3/order?symbol=BTCUSDT&timestamp=1700000000000&signature=ab12 503 "
        "{'X-MBX-APIKEY': 'k-123', 'APCA-API-SECRET-KEY': 's-456', 'Authorization': 'Bearer t-789'} token=t-0 apiKey=k-1"
    )
    out = redact(text)
    assert "http://127.0.0.1:8/api/v3/order 503" in out
    for secret in ("1700000000000", "ab12", "k-123", "s-456", "t-789", "t-0", "k-1"):
        assert secret not in out
    assert redact("binance: Account has insufficient balance for requested action. (-2010)") == (
        "binance: Account has insufficient balance for requested action. (-2010)"
    )
