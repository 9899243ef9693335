"""Futures on margin from the shell: with the paper defaults and $100,000, one ES of the
next quarterly contract is bought and filled; eleven in one order are refused with one line;
the dry run and the status show the margin."""

from __future__ import annotations

import json
from datetime import date

import pytest

from brokers.paper.universe import load_universe
from tests.conftest import run_cli


def next_es() -> str:
    return load_universe().contracts("ES", date.today())[0]  # the front quarterly, as the paper market lists it


@pytest.mark.slow
def test_one_es_is_bought_with_100000_and_the_status_shows_its_margin(home):
    es = next_es()
    dry = run_cli("buy", "1", es, "--dry-run", home=home)
    assert dry.returncode == 0, dry.stderr
    assert "initial margin 15,000.00" in dry.stdout and "would be accepted" in dry.stdout
    r = run_cli("buy", "1", es, home=home)
    assert r.returncode == 0, r.stderr
    assert "filled 1" in r.stdout
    doc = json.loads(run_cli("status", "--json", home=home).stdout)
    assert {p["symbol"]: p["qty"] for p in doc["positions"]} == {es: "1"}
    acct = doc["account"]
    assert acct["initial_margin"] == "15000" and acct["maintenance_margin"] == "13500"
    text = run_cli("status", home=home).stdout
    assert "initial margin 15,000.00" in text and "maintenance margin 13,500.00" in text


def test_eleven_es_in_one_order_are_refused_with_one_line(home):
    r = run_cli("buy", "11", next_es(), home=home)
    assert r.returncode != 0
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines == ["error: rejected: order of 11 contracts exceeds max_future_contracts_per_order 10"]
    assert "Traceback" not in r.stdout + r.stderr


def test_margins_in_the_settings_file_change_what_an_order_needs(home):
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text(
        "[profiles.paper.margins]\nES = { initial = 16000, maintenance = 14500 }\n", encoding="utf-8"
    )
    dry = run_cli("buy", "2", next_es(), "--dry-run", home=home)
    assert dry.returncode == 0, dry.stderr
    assert "initial margin 32,000.00" in dry.stdout
