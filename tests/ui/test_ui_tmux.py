"""End to end in a real terminal: ``python main.py`` inside tmux at 80x24, an order typed on
the command line, confirmed in the review, and the position found on the captured screen."""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TMUX = shutil.which("tmux")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed: the end-to-end terminal test needs it (Debian package tmux)"),
]


class Terminal:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        r = subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        return r.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "ws")

    def wait_for(self, pattern: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if re.search(pattern, text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} never appeared; the screen was:\n{text}")


def test_buy_from_the_command_line_in_tmux(tmp_path):
    term = Terminal(f"ws-test-{os.getpid()}")
    env = f"WORKSTATION_HOME={tmp_path} PYTHONPATH={ROOT} TERM=xterm-256color"
    command = f"cd {ROOT} && env {env} {sys.executable} main.py; sleep 5"
    term.tmux("new-session", "-d", "-s", "ws", "-x", "80", "-y", "24", command)
    try:
        term.wait_for(r"Watchlist.*\n(.*\n)*.*AAPL\s+\d", timeout=30)
        term.wait_for(r"connected")
        term.tmux("send-keys", "-t", "ws", ":buy 100 AAPL", "Enter")
        review = term.wait_for(r"Review order")
        assert "BUY" in review and "passes the pre-trade checks" in review
        term.tmux("send-keys", "-t", "ws", "Enter")
        screen = term.wait_for(r"Positions[\s\S]*AAPL\s+100\s")
        assert "Traceback" not in screen
        term.tmux("send-keys", "-t", "ws", "q")
        deadline = time.monotonic() + 10
        while "Watchlist" in term.screen() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "Watchlist" not in term.screen(), "q did not quit"
    finally:
        term.tmux("kill-server")
    from workstation.core.journal import Journal

    journal = Journal(tmp_path / "data" / "paper" / "journal.sqlite")
    fills = journal.fills()
    journal.close()
    # (the paper market fills at most the displayed size at a time: one fill or several)
    assert {(f.symbol, f.side.value) for f in fills} == {("AAPL", "buy")} and sum(f.qty for f in fills) == 100


def test_the_workstation_ends_when_its_terminal_goes_away(tmp_path):
    """``make run`` in tmux, then tmux killed (as a dropped SSH link): the terminal is hung up,
    and the workstation must end, not keep running (and spinning) without a screen. Started the
    quick-start way on purpose: under make the kernel's SIGHUP does not reach it."""
    if not Path("/proc/self/environ").exists():
        pytest.skip("finds the workstation's process through /proc (Linux)")
    if not (ROOT / ".venv" / ".installed").exists() or shutil.which("make") is None:
        pytest.skip("needs `make` and the project's .venv (make test sets both up)")
    term = Terminal(f"ws-hup-{os.getpid()}")
    command = f"cd {ROOT} && WORKSTATION_HOME={tmp_path} TERM=xterm-256color make -s -o .venv/.installed run"
    term.tmux("new-session", "-d", "-s", "ws", "-x", "80", "-y", "24", command)
    try:
        term.wait_for(r"Watchlist.*\n(.*\n)*.*AAPL\s+\d", timeout=30)
        assert len(_workstations(tmp_path)) == 1
    finally:
        term.tmux("kill-server")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _workstations(tmp_path):
        time.sleep(0.2)
    assert not _workstations(tmp_path), "the workstation kept running without its terminal"


def _workstations(home: Path) -> list[int]:
    """Live processes running main.py with this test's WORKSTATION_HOME."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if b"main.py" not in (proc / "cmdline").read_bytes():
                continue
            if f"WORKSTATION_HOME={home}".encode() not in (proc / "environ").read_bytes():
                continue
            if (proc / "stat").read_text().split(") ", 1)[1][:1] == "Z":
                continue
        except OSError:
            continue
        found.append(int(proc.name))
    return found
