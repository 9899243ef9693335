"""``main.py`` one-shot commands on the ib-paper profile, in a subprocess, against a fake TWS."""

import json
import socket
import time
from decimal import Decimal

import pytest

from tests.conftest import run_cli
from tests.fakes.tws_fake import FakeTWS

AAPL = 265598


def _point_ib_paper_at(home, port: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text(f"[profiles.ib-paper]\noptions = {{ port = {port}, client_id = 9 }}\n")


def test_status_on_ib_paper_shows_the_connection_account_and_positions(home):
    def setup(fake: FakeTWS) -> None:
        fake.set_position(AAPL, 10, 180.0)
        fake.quotes[AAPL] = {"bid": 184.9, "ask": 185.1, "last": 185.0}
        fake.market_data_type = 3  # no live subscription: TWS sends delayed data

    with FakeTWS.in_thread(setup) as fake:
        _point_ib_paper_at(home, fake.port)
        result = run_cli("status", "--profile", "ib-paper", "--json", home=home, timeout=60)
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert (doc["profile"], doc["broker"], doc["connection"], doc["live"]) == ("ib-paper", "ib-paper", "connected", False)
        assert [(p["symbol"], p["qty"]) for p in doc["positions"]] == [("AAPL", "10")]
        assert Decimal(doc["account"]["cash"]) == 100000
        assert fake.versions == [178]
        assert any(r[0] == "71" and r[2] == "9" for r in fake.requests)  # the settings' client id

        text = run_cli("status", "--profile", "ib-paper", home=home, timeout=60)
        assert text.returncode == 0, text.stderr
        assert "ib-paper" in text.stdout and "connected" in text.stdout and "AAPL" in text.stdout
        assert "delayed market data" in text.stdout and "DU123456" in text.stdout


def test_unreachable_tws_prints_one_line_naming_host_and_port_and_exits_1(home):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _point_ib_paper_at(home, port)
    started = time.monotonic()
    result = run_cli("status", "--profile", "ib-paper", home=home, timeout=30)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "Traceback" not in result.stderr
    assert elapsed < 15


def test_buy_on_ib_paper_fills_and_is_journaled_once(home):
    def setup(fake: FakeTWS) -> None:
        fake.quotes[AAPL] = {"bid": 184.9, "ask": 185.1, "last": 185.0}

    with FakeTWS.in_thread(setup) as fake:
        _point_ib_paper_at(home, fake.port)
        result = run_cli("buy", "10", "AAPL", "--profile", "ib-paper", home=home, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "filled 10 @ 185.1" in result.stdout
        fills = run_cli("fills", "--profile", "ib-paper", "--json", home=home, timeout=60)
        rows = json.loads(fills.stdout)
        assert [(r["exec_id"], r["qty"], r["price"], r["commission"]) for r in rows] == [(fake.executions[0].exec_id, "10", "185.1", "1")]
        assert len(fake.orders) == 1


@pytest.mark.slow
def test_a_port_that_never_answers_the_handshake_gives_up_within_15_seconds(home):
    with socket.socket() as listener:  # accepts TCP connections (kernel backlog) and never speaks
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        _point_ib_paper_at(home, port)
        started = time.monotonic()
        result = run_cli("status", "--profile", "ib-paper", home=home, timeout=30)
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "handshake" in lines[0], result.stderr
    assert elapsed < 15
