"""The account's tables in an 80-column terminal: values are never cut (columns are dropped
whole, by priority), ``--wide`` shows every column, and machines keep ``--json``."""

import json
import re

import pytest

from tests.conftest import run_cli

NARROW = {"COLUMNS": "80"}
CLOCK = re.compile(r"^\d\d:\d\d:\d\d ")


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    """A paper account with a position, a filled, a working and a refused order, fills and alerts."""
    home = tmp_path_factory.mktemp("narrow")
    assert run_cli("alert", "add", "AAPL > 1", home=home).returncode == 0
    assert run_cli("buy", "100", "AAPL", home=home).returncode == 0
    last = json.loads(run_cli("prices", "-s", "MSFT", "--json", home=home).stdout)[0]["last"]
    assert run_cli("buy", "10", "MSFT", "--limit", f"{round(last * 0.95, 2)}", "--tif", "gtc", home=home).returncode == 0
    assert run_cli("buy", "100000", "NVDA", home=home).returncode == 1  # refused: a long reason
    return home


COMMANDS = [["status"], ["prices"], ["positions"], ["orders"], ["fills"], ["alert", "log"], ["risk", "show"]]


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_no_value_is_cut_at_80_columns(account, cmd):
    r = run_cli(*cmd, home=account, env=NARROW)
    assert r.returncode == 0, r.stderr
    assert "…" not in r.stdout, r.stdout
    for line in r.stdout.splitlines():
        assert len(line) <= 80, line


def test_narrow_tables_drop_whole_columns_and_say_which(account):
    out = run_cli("orders", home=account, env=NARROW).stdout
    for value in ("AAPL", "MSFT", "NVDA", "100,000", "filled", "rejected", "accepted"):
        assert value in out, out
    assert "not shown: " in out and "Reason" in out.split("not shown: ")[1] and "--wide" in out
    assert "Reason" not in out.split("not shown: ")[0]  # the column went whole, its header too


def test_wide_shows_every_column(account):
    out = run_cli("orders", "--wide", home=account, env=NARROW).stdout
    header = next(line for line in out.splitlines() if "Symbol" in line)
    for col in ("ID", "Time", "Symbol", "Side", "Qty", "Type", "Price", "TIF", "Status", "Filled", "Avg", "Reason"):
        assert f" {col} " in header, header
    assert re.search(r"│ order notional \$[\d,.]+ exceeds max_order_notional \$250,000.00 +│", out), out
    assert "…" not in out and "not shown" not in out
    fills = run_cli("fills", "--wide", home=account, env=NARROW).stdout
    assert "Commission" in fills and "Strategy" in fills


def test_json_stays_whole_for_machines(account):
    rows = json.loads(run_cli("orders", "--json", home=account, env=NARROW).stdout)
    assert {r["status"] for r in rows} >= {"filled", "rejected"}
    assert any("max_order_notional" in (r["reason"] or "") for r in rows)


def test_stream_prints_one_quote_a_line_at_80_columns(tmp_path):
    r = run_cli("stream", "-s", "AAPL", "EUR/USD", "BTC/USDT", "-d", "2s", home=tmp_path, env=NARROW)
    assert r.returncode == 0, r.stderr
    quotes = [line for line in r.stdout.splitlines() if CLOCK.match(line)]
    streamed = int(re.search(r"streamed (\d+) quotes", r.stderr).group(1))
    assert streamed > 0 and len(quotes) == streamed  # no quote spilled onto a second line
    assert len(r.stdout.splitlines()) == streamed + 1  # and nothing else but the header
    assert all(len(line) <= 80 for line in r.stdout.splitlines())
    assert any(line.split()[1] == "BTC/USDT" for line in quotes)
