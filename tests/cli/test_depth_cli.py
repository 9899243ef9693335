"""``main.py depth`` and ``main.py tape``: the order book and time and sales in the shell, run
as a user runs them (a subprocess), on the paper market and through a serving owner."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.serve_support import short_home  # noqa: F401 (fixture)


def one_line_error(result, code: int, *needles: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def check_book(doc: dict, levels: int) -> None:
    assert doc["symbol"] == "AAPL" and doc["state"] == "ok" and doc["seq"] >= 1 and doc["ts"] > 0
    assert len(doc["bids"]) == levels and len(doc["asks"]) == levels
    bids = [lv["price"] for lv in doc["bids"]]
    asks = [lv["price"] for lv in doc["asks"]]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)  # best first each side
    assert bids[0] < asks[0]
    assert all(lv["size"] > 0 for lv in doc["bids"] + doc["asks"])


def test_depth_json_prints_the_paper_book_once(home):
    r = run_cli("depth", "aapl", "--levels", "7", "--json", home=home)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1
    check_book(json.loads(lines[0]), 7)


def test_depth_table_has_a_row_per_level_with_sizes_either_side(home):
    r = run_cli("depth", "AAPL", "-n", "4", home=home, env={"COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    out = r.stdout
    header = next(line for line in out.splitlines() if "Bid" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == ["Bid size", "Bid", "Ask", "Ask size"]
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == 4
    bid, ask = (float(c.strip().replace(",", "")) for c in rows[0].strip("│ ").split("│")[1:3])
    assert bid < ask and "spread" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_tape_streams_trades_as_json_lines_for_the_duration(home):
    r = run_cli("tape", "AAPL", "-d", "2s", "--json", home=home)
    assert r.returncode == 0, r.stderr
    prints = [json.loads(line) for line in r.stdout.splitlines()]
    assert prints, "the paper market prints trades every few hundred ms"
    assert all(p["symbol"] == "AAPL" and p["price"] > 0 and p["size"] > 0 and p["aggressor"] in ("buy", "sell") for p in prints)
    times = [p["ts"] for p in prints]
    assert times == sorted(times)  # a stream: newest at the bottom
    assert times[-1] - times[0] <= 3.0


def test_tape_for_people_names_the_side_and_counts_the_trades(home):
    r = run_cli("tape", "AAPL", "-d", "2s", home=home, env={"COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("AAPL time and sales") and lines[1].split() == ["Time", "Price", "Size", "Side"]
    trades = lines[2:-1]
    assert trades and all(line.split()[-1] in ("B", "S") for line in trades)
    assert lines[-1] == f"{len(trades)} trade{'' if len(trades) == 1 else 's'}"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("depth", "AAPL!"), 2, "malformed symbol"),
        (("tape", "AAPL!", "-d", "1s"), 2, "malformed symbol"),
        (("tape", "AAPL", "-d", "soon"), 2, "malformed duration 'soon'"),
        (("depth", "AAPL", "--levels", "0"), 2, "levels must be a whole number from 1 to 1000"),
    ],
)
def test_bad_input_is_one_line_and_a_usage_error(home, args, code, needle):
    one_line_error(run_cli(*args, home=home), code, needle)


@pytest.mark.slow
def test_depth_and_tape_ask_the_serving_engine(short_home):
    """With ``main.py serve`` owning the account, both commands attach to it as cli clients."""
    import sqlite3

    from tests.serve.test_serve_process import start_serve, stop

    engine = start_serve(short_home)
    try:
        r = run_cli("depth", "AAPL", "--levels", "5", "--json", home=short_home)
        assert r.returncode == 0, r.stderr
        check_book(json.loads(r.stdout), 5)
        t = run_cli("tape", "AAPL", "-d", "2s", "--json", home=short_home)
        assert t.returncode == 0, t.stderr
        assert [json.loads(line)["symbol"] for line in t.stdout.splitlines()][:1] == ["AAPL"]
        bad = run_cli("depth", "AAPL!", home=short_home)
        one_line_error(bad, 2, "malformed symbol")
    finally:
        stop(engine)
    db = sqlite3.connect(f"file:{short_home / 'data' / 'paper' / 'journal.sqlite'}?mode=ro", uri=True)
    try:
        clients = [ref for (ref,) in db.execute("SELECT ref FROM events WHERE kind = 'client.attach'")]
    finally:
        db.close()
    assert sum(ref.startswith("cli#") for ref in clients) == 2  # both commands went through the owner


async def test_a_book_that_never_comes_is_one_line_after_the_wait_and_is_unwatched(tmp_path, monkeypatch):
    """A venue that sends no snapshot: ``depth`` gives up after its wait (5 s; shortened here)
    with one line and exit 1, and stops the book it started."""
    from tests.fakes.depth_feed import ScriptedDepthBroker
    from workstation.api import LocalEngine
    from workstation.cli import depth as depth_cli
    from workstation.cli.common import CliError
    from workstation.core.clock import SimClock
    from workstation.core.config import Settings
    from workstation.trading.session import Session

    clock = SimClock(1_790_000_000.0)
    broker = ScriptedDepthBroker(clock=clock)
    session = Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=broker)
    engine = LocalEngine(session)
    await engine.start([])
    monkeypatch.setattr(depth_cli, "BOOK_WAIT_S", 0.2)
    try:
        with pytest.raises(CliError) as err:
            await depth_cli._first_book(engine, "AAPL", 10)
        assert err.value.code == 1 and str(err.value) == "no order book for AAPL within 0.2 s"
        assert broker.depth_subs == {} and session.depth.watched() == []
    finally:
        await engine.stop()


def test_a_paper_market_without_its_book_is_one_line_and_exit_1(home):
    """``depth = false`` in the paper profile's settings: the book is off, and both commands say so."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text("[profiles.paper.sim]\ndepth = false\n", encoding="utf-8")
    one_line_error(run_cli("depth", "AAPL", home=home), 1, "the paper market's book is off")
    one_line_error(run_cli("tape", "AAPL", "-d", "1s", home=home), 1, "the paper market's book is off")
