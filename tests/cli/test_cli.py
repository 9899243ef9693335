"""The command line, run as a user runs it: in a subprocess."""

import csv
import json
import re

import pytest

from tests.conftest import run_cli

EXPONENT = re.compile(r"\d[eE][+-]?\d")


def one_line_error(result, code, *needles):
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_stream_json_prints_only_well_formed_quotes(home):
    r = run_cli("stream", "-s", "AAPL", "-d", "2s", "--json", home=home)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) >= 2
    for line in lines:
        q = json.loads(line)
        assert set(q) == {"ts", "symbol", "bid", "ask", "last", "bid_size", "ask_size", "change", "change_pct"}
        assert q["symbol"] == "AAPL"
        assert 0 < q["bid"] < q["ask"]
        assert q["ts"].endswith("Z")
        assert not EXPONENT.search(line)
    assert "streamed" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_stream_symbol_forms_and_table(home):
    r = run_cli("stream", "-s", "aapl,eur/usd", "-s", "BTC/USD", "-d", "1.5s", home=home)
    assert r.returncode == 0, r.stderr
    for sym in ("AAPL", "EUR/USD", "BTC/USD"):
        assert sym in r.stdout
    assert "TSLA" not in r.stdout


def test_prices_json(home):
    r = run_cli("prices", "-s", "AAPL", "MSFT", "USD/JPY", "--json", home=home)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [q["symbol"] for q in doc] == ["AAPL", "MSFT", "USD/JPY"]
    assert not EXPONENT.search(r.stdout)


def test_buy_then_status_shows_the_position(home):
    r = run_cli("buy", "100", "aapl", home=home)
    assert r.returncode == 0, r.stderr
    assert "filled 100" in r.stdout
    s = json.loads(run_cli("status", "--json", home=home).stdout)
    pos = {p["symbol"]: p for p in s["positions"]}
    assert pos["AAPL"]["qty"] == "100"
    for key in ("symbol", "qty", "avg_price", "last", "market_value", "unrealized_pnl", "realized_pnl"):
        assert key in pos["AAPL"]
    cash = float(s["account"]["cash"])
    assert cash < 100000 - 100 * float(pos["AAPL"]["avg_price"]) + 0.01
    p = json.loads(run_cli("positions", "--json", home=home).stdout)
    assert p[0]["symbol"] == "AAPL" and p[0]["qty"] == "100"
    f = json.loads(run_cli("fills", "--json", home=home).stdout)
    assert len(f) >= 1 and f[0]["symbol"] == "AAPL"


def test_limit_order_rests_then_cancel(home):
    quote = json.loads(run_cli("prices", "-s", "MSFT", "--json", home=home).stdout)[0]
    low = f"{round(quote['bid'] * 0.95, 2):.2f}"
    r = run_cli("buy", "10", "MSFT", "--limit", low, "--tif", "gtc", home=home)
    assert r.returncode == 0, r.stderr
    oid = re.search(r"order (\d+)", r.stdout).group(1)
    orders = json.loads(run_cli("orders", "--json", home=home).stdout)
    mine = next(o for o in orders if o["id"] == oid)
    assert mine["status"] == "accepted" and mine["type"] == "limit" and mine["limit_price"] == low.rstrip("0").rstrip(".")
    for key in ("id", "symbol", "side", "qty", "type", "status", "filled_qty", "avg_fill_price", "reason"):
        assert key in mine
    c = run_cli("cancel", oid, home=home)
    assert c.returncode == 0 and "canceled" in c.stdout
    assert json.loads(run_cli("status", "--json", home=home).stdout)["open_orders"] == []


@pytest.mark.parametrize(
    "args,needle",
    [
        (["buy", "-5", "AAPL"], "quantity must be positive, got -5"),
        (["buy", "0", "AAPL"], "quantity must be positive"),
        (["sell", "ten", "AAPL"], "quantity must be a number"),
        (["buy", "1.5", "AAPL"], "whole number"),
        (["buy", "100", "AA$PL"], "malformed symbol"),
        (["buy", "100", "AAPL", "--limit", "185.503"], "off the 0.01 tick"),
        (["buy", "100", "AAPL", "--limit", "-3"], "limit must be positive"),
        (["buy", "100", "AAPL", "--tif", "forever"], "unknown time in force"),
        (["cancel", "999"], "unknown order id"),
        (["cancel", "abc"], "malformed order id"),
        (["stream", "-s", "AAPL", "-d", "soon"], "malformed duration"),
        (["status", "--bogus"], "No such option"),
        (["frobnicate"], "No such command"),
        (["status", "--profile", "nope"], "unknown profile"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(home, args, needle):
    one_line_error(run_cli(*args, home=home), 2, needle)
    orders = run_cli("orders", "--json", home=home)
    assert json.loads(orders.stdout) == []


def test_rejected_order_exits_1_with_reason(home):
    r = run_cli("buy", "5000", "AAPL", home=home)
    one_line_error(r, 1, "rejected", "max_order_notional")


def test_dry_run_sends_nothing(home):
    r = run_cli("buy", "100", "AAPL", "--dry-run", home=home)
    assert r.returncode == 0, r.stderr
    assert "notional" in r.stdout and "would be accepted" in r.stdout and "nothing sent" in r.stdout
    assert json.loads(run_cli("orders", "--json", home=home).stdout) == []
    j = json.loads(run_cli("buy", "5000", "AAPL", "--dry-run", "--json", home=home).stdout)
    assert j["ok"] is False and "max_order_notional" in j["reason"]


def test_bracket_and_trailing_from_cli(home):
    q = json.loads(run_cli("prices", "-s", "AAPL", "--json", home=home).stdout)[0]
    tp, sl = f"{q['ask'] * 1.05:.2f}", f"{q['bid'] * 0.95:.2f}"
    r = run_cli("buy", "10", "AAPL", "--take-profit", tp, "--stop-loss", sl, home=home)
    assert r.returncode == 0, r.stderr
    orders = json.loads(run_cli("orders", "--json", home=home).stdout)
    roles = {o["role"]: o for o in orders}
    assert roles["entry"]["status"] == "filled"
    assert roles["take_profit"]["status"] == "accepted" and roles["stop_loss"]["status"] == "accepted"
    r = run_cli("sell", "10", "AAPL", "--trail", "2%", "--tif", "gtc", home=home)
    assert r.returncode == 0 and "trail 2%" in r.stdout


def test_fills_csv_and_paper_reset(home, tmp_path):
    assert run_cli("buy", "1", "SPY", home=home).returncode == 0
    out = tmp_path / "fills.csv"
    r = run_cli("fills", "--csv", str(out), home=home)
    assert r.returncode == 0
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["symbol"] == "SPY" and rows[0]["qty"] == "1"
    assert one_line_error(run_cli("paper", "reset", home=home), 2, "--yes")
    r = run_cli("paper", "reset", "--yes", home=home)
    assert r.returncode == 0
    s = json.loads(run_cli("status", "--json", home=home).stdout)
    assert s["positions"] == [] and s["account"]["cash"] == "100000"


@pytest.mark.parametrize("cmd", [[], ["stream"], ["prices"], ["status"], ["buy"], ["sell"], ["cancel"], ["orders"], ["positions"], ["fills"], ["paper", "reset"]])
def test_help_everywhere(home, cmd):
    r = run_cli(*cmd, "--help", home=home)
    assert r.returncode == 0 and "Usage" in r.stdout


def test_stream_into_a_reader_that_stops_early_ends_quietly(home):
    """`main.py stream --json | head -1`: once the reader has gone, the stream ends at once,
    with no traceback (it printed 20 BrokenPipeError tracebacks)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = dict(__import__("os").environ, WORKSTATION_HOME=str(home), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "stream", "-s", "AAPL", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=str(ROOT),
    )
    first = proc.stdout.readline()
    assert b'"symbol":"AAPL"' in first
    proc.stdout.close()  # what head does after its line
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()


import pytest  # noqa: E402


@pytest.mark.parametrize(
    "args, message",
    [
        (("buy", "1e19", "AAPL"), "quantity 1e19 is out of range"),
        (("buy", "1", "AAPL", "--limit", "1e20"), "limit price 1e20 is out of range"),
        (("buy", "1", "AAPL", "--trail", "1e309"), "trail amount 1e309 is out of range"),
        (("buy", "1", "AAPL", "--limit", "200", "--take-profit", "1e309", "--stop-loss", "100"), "take-profit price 1e309 is out of range"),
        (("paper", "reset", "--yes", "--cash", "1e309"), "cash 1e309 is out of range"),
        (("fills", "--since", "0001-01-01"), "--since '0001-01-01' is out of range"),
        (("cancel", "1" * 30), "malformed order id"),
    ],
)
def test_absurd_numbers_are_one_line_exit_2_and_write_nothing(home, args, message):
    from tests.conftest import run_cli

    r = run_cli(*args, home=home)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.stderr
    assert not (home / "data" / "paper" / "journal.sqlite").exists()  # nothing written
