"""A strategy that raises: one line on screen (name, exception, message), the traceback in errors.log."""

import pytest

from tests.conftest import run_cli

BOOM = '''
from workstation.strategy import Strategy


class Boom(Strategy):
    name = "boom"

    def on_start(self):
        self.ctx.subscribe(self.ctx.symbols, bars=60)
        self.ctx.set_timer("t", 0.5)

    def on_bar(self, bar):
        raise ZeroDivisionError("division by zero")

    def on_timer(self, name):
        raise ZeroDivisionError("division by zero")
'''


@pytest.mark.parametrize("command", [
    ["backtest", "--strategy", "boom", "-s", "AAPL", "--days", "2"],
    ["realtime", "--strategy", "boom", "-s", "AAPL", "-d", "2s", "--json"],
])
def test_a_failing_strategy_is_one_line_on_screen_and_its_traceback_goes_to_the_log_file(home, command):
    (home / "strategies").mkdir(parents=True, exist_ok=True)
    (home / "strategies" / "boom.py").write_text(BOOM)
    run = run_cli(*command, home=home, timeout=120)
    screen = run.stdout + run.stderr
    assert "Traceback" not in screen
    lines = [line for line in run.stderr.splitlines() if "strategy boom stopped: ZeroDivisionError: division by zero" in line]
    assert len(lines) == 1, run.stderr
    log = (home / "data" / "errors.log").read_text()
    assert "Traceback (most recent call last)" in log and 'raise ZeroDivisionError("division by zero")' in log
