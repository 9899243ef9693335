"""A corrupt, nested or hostile watchlists.json never stops the workstation: it starts with
the default list, says so in one line naming the file, and the bad file is moved aside."""

from __future__ import annotations

import os
import sys

import pytest

from tests.ui.test_ui_tmux import ROOT, TMUX, Terminal
from tests.ui_support import SYMBOLS, make_app, settle
from workstation.ui.watchlists import Watchlists

BAD = {
    "nested lists": "[" * 10_000 + "]" * 10_000,
    "nested objects": '{"lists": ' + '{"a": ' * 10_000 + "1" + "}" * 10_001,
    "wrong types": '{"active": "x", "lists": {"x": [1, 2, null]}}',
    "a list at the top": '["AAPL"]',
    "active not text": '{"active": 5, "lists": {"x": ["AAPL"]}}',
    "huge": '{"lists": {"x": ["' + "A" * 1_100_000 + '"]}}',
    "binary": b"\xff\xfe\x00\x01SQLite format 3\x00",
    "empty": "",
    "not json": "{lists: [",
    "control characters": '{"lists": {"x": ["AA\\u0000PL"]}}',
}


@pytest.mark.parametrize("content", BAD.values(), ids=BAD.keys())
def test_a_bad_file_gives_the_default_list_one_line_and_is_kept_aside(tmp_path, content):
    path = tmp_path / "watchlists.json"
    data = content if isinstance(content, bytes) else content.encode()
    path.write_bytes(data)
    wl = Watchlists.load(path, ["AAPL", "MSFT"])
    assert wl.symbols == ["AAPL", "MSFT"] and wl.active == "default"
    assert wl.problem and str(path) in wl.problem and "\n" not in wl.problem and len(wl.problem) < 400
    kept = tmp_path / "watchlists.json.bad"
    assert kept.read_bytes() == data and not path.exists()
    wl.add("TSLA")  # a later change writes a fresh file, never over the bad one
    assert kept.read_bytes() == data and "TSLA" in path.read_text()


def test_a_good_file_loads_as_before(tmp_path):
    path = tmp_path / "watchlists.json"
    path.write_text('{"active": "tech", "lists": {"default": ["SPY"], "tech": ["AAPL", "NVDA"]}}')
    wl = Watchlists.load(path, ["MSFT"])
    assert wl.problem is None and wl.active == "tech" and wl.symbols == ["AAPL", "NVDA"] and path.exists()


def test_an_unreadable_file_is_never_saved_over(tmp_path):
    path = tmp_path / "watchlists.json"
    path.mkdir()  # cannot be read as a file, nor moved over by a save
    wl = Watchlists.load(path, ["AAPL"])
    assert wl.problem and "not saved over" in wl.problem
    wl.add("TSLA")
    assert path.is_dir() and wl.symbols == ["AAPL", "TSLA"]


async def test_the_workstation_starts_and_says_it_in_the_log(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "watchlists.json").write_text("[" * 10_000 + "]" * 10_000)
    app, _, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        assert app.watchlists.symbols == list(SYMBOLS)
        log = app.main.query_one("#log")
        assert any("nested too deeply" in str(row.cells) for row in log.entries)


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_a_nested_file_does_not_stop_the_real_workstation(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "watchlists.json").write_text("[" * 10_000 + "]" * 10_000)
    term = Terminal(f"ws-wl-{os.getpid()}")
    env = f"WORKSTATION_HOME={tmp_path} PYTHONPATH={ROOT} TERM=xterm-256color"
    term.tmux("new-session", "-d", "-s", "ws", "-x", "100", "-y", "30", f"cd {ROOT} && env {env} {sys.executable} main.py; sleep 5")
    try:
        screen = term.wait_for(r"Watchlist.*\n(.*\n)*.*AAPL\s+\d", timeout=30)
        assert "Traceback" not in screen and "RecursionError" not in screen
        term.tmux("send-keys", "-t", "ws", "q")
    finally:
        term.tmux("kill-server")
    assert (tmp_path / "data" / "watchlists.json.bad").exists()
