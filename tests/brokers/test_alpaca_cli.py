"""The command line on the Alpaca profiles, in a subprocess pointed at the loopback fake."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest

from tests.alpaca_support import fake, write_settings  # noqa: F401 (fixture)
from tests.conftest import run_cli
from tests.fakes.alpaca_fake import KEY, SECRET, FakePosition

KEYS = {"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
NO_KEYS = {"APCA_API_KEY_ID": "", "APCA_API_SECRET_KEY": "", "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


def _no_secrets(home, *texts: str) -> None:
    for text in texts:
        assert KEY not in text and SECRET not in text
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert KEY.encode() not in data and SECRET.encode() not in data, path


@pytest.mark.slow
def test_status_on_alpaca_paper(fake, home):  # noqa: F811
    fake.positions["AAPL"] = FakePosition("AAPL", Decimal(7), Decimal("150.5"))
    write_settings(home, fake)
    r = run_cli("status", "--profile", "alpaca-paper", "--json", home=home, env=KEYS)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["profile"], doc["broker"], doc["connection"], doc["live"]) == ("alpaca-paper", "alpaca-paper", "connected", False)
    assert [(p["symbol"], p["qty"], p["avg_price"]) for p in doc["positions"]] == [("AAPL", "7", "150.5")]
    assert doc["account"]["cash"] == "100000"
    text = run_cli("status", "--profile", "alpaca-paper", home=home, env=KEYS)
    assert "PAPER" in text.stdout and "broker alpaca-paper (connected)" in text.stdout
    _no_secrets(home, r.stdout, r.stderr, text.stdout, text.stderr)


@pytest.mark.slow
def test_stream_on_alpaca_paper(fake, home):  # noqa: F811
    write_settings(home, fake)
    stop = threading.Event()

    def pump() -> None:
        price = 190.0
        while not stop.is_set():
            fake.push_quote("AAPL", price, price + 0.02)
            price += 0.01
            time.sleep(0.05)

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    try:
        r = run_cli("stream", "--profile", "alpaca-paper", "-s", "AAPL", "--duration", "2s", "--json", home=home, env=KEYS)
    finally:
        stop.set()
        t.join()
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) >= 5 and {row["symbol"] for row in rows} == {"AAPL"}
    assert "from alpaca-paper" in r.stderr
    _no_secrets(home, r.stdout, r.stderr)


def test_buy_on_alpaca_paper_fills(fake, home):  # noqa: F811
    write_settings(home, fake)
    r = run_cli("buy", "3", "AAPL", "--profile", "alpaca-paper", home=home, env=KEYS)
    assert r.returncode == 0, r.stderr
    assert "buy 3 AAPL market day: filled 3 @ 190" in r.stdout
    assert [o["qty"] for o in fake.orders.values()] == [Decimal(3)]
    _no_secrets(home, r.stdout, r.stderr)


def test_rejection_reason_on_screen(fake, home):  # noqa: F811
    write_settings(home, fake)
    fake.reject_next_submit("insufficient buying power")
    r = run_cli("buy", "20", "AAPL", "--profile", "alpaca-paper", home=home, env=KEYS)
    assert r.returncode == 1
    assert r.stderr.strip() == "error: rejected: Alpaca: insufficient buying power"


def test_missing_keys_one_line_exit_1_fast(home):
    started = time.monotonic()
    r = run_cli("status", "--profile", "alpaca-paper", home=home, env=NO_KEYS)
    assert time.monotonic() - started < 15
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "APCA_API_KEY_ID" in lines[0] and lines[0].startswith("error: ")


def test_unreachable_broker_names_host_and_port(home):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text(f'[profiles.alpaca-paper.options]\ntrading_url = "http://127.0.0.1:{port}"\n')
    started = time.monotonic()
    r = run_cli("positions", "--profile", "alpaca-paper", home=home, env=KEYS)
    assert time.monotonic() - started < 15
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [f"error: cannot reach Alpaca at 127.0.0.1:{port}: connection refused"]


def test_wrong_keys_are_refused_and_not_printed(fake, home):  # noqa: F811
    write_settings(home, fake)
    r = run_cli("status", "--profile", "alpaca-paper", home=home, env={**KEYS, "APCA_API_KEY_ID": "PKWRONGKEY42"})
    assert r.returncode == 1
    assert "refused the API keys" in r.stderr and "PKWRONGKEY42" not in r.stderr + r.stdout


@pytest.mark.slow
def test_live_profile_needs_live_flag_and_confirmation(fake, home):  # noqa: F811
    home.mkdir(parents=True, exist_ok=True)
    import tomli_w

    (home / "settings.toml").write_text(tomli_w.dumps({"profiles": {"alpaca-live": {"options": fake.options()}}}))
    r = run_cli("status", "--profile", "alpaca-live", home=home, env=KEYS)
    assert r.returncode == 2 and "add --live" in r.stderr
    r = run_cli("buy", "1", "AAPL", "--profile", "alpaca-live", "--live", home=home, env=KEYS)
    assert r.returncode == 2 and "--yes" in r.stderr and fake.orders == {}
    r = run_cli("buy", "1", "AAPL", "--profile", "alpaca-live", "--live", home=home, env=KEYS, input="n\n")
    assert fake.orders == {}
    r = run_cli("buy", "1", "AAPL", "--profile", "alpaca-live", "--live", "--yes", home=home, env=KEYS)
    assert r.returncode == 0, r.stderr
    assert "LIVE" in r.stdout and len(fake.orders) == 1
    r = run_cli("status", "--profile", "alpaca-live", "--live", home=home, env=KEYS)
    assert "LIVE" in r.stdout and "(connected)" in r.stdout


def test_prices_lists_symbols_that_have_no_streamed_quote_yet(fake, home):  # noqa: F811
    """AAPL is priced from Alpaca's snapshot (nothing streamed); MSFT has no snapshot at all and
    is waited for until its first streamed quote: neither is dropped."""
    fake.assets["MSFT"] = {**fake.assets["AAPL"], "symbol": "MSFT"}
    write_settings(home, fake)
    stop = threading.Event()

    def stream_msft() -> None:
        while not stop.is_set() and not fake.push_quote("MSFT", 410.10, 410.20):
            time.sleep(0.05)

    pusher = threading.Thread(target=stream_msft, daemon=True)
    pusher.start()
    try:
        r = run_cli("prices", "--profile", "alpaca-paper", "-s", "AAPL,MSFT", "--json", home=home, env=KEYS)
    finally:
        stop.set()
        pusher.join(5)
    assert r.returncode == 0, r.stderr
    rows = {q["symbol"]: q for q in json.loads(r.stdout)}
    assert set(rows) == {"AAPL", "MSFT"}
    assert (rows["AAPL"]["bid"], rows["AAPL"]["ask"]) == (189.99, 190.01)
    assert (rows["MSFT"]["bid"], rows["MSFT"]["ask"]) == (410.1, 410.2)
