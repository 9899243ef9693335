"""SIGKILL the engine mid-stream; the journal must hold every fill it reported, exactly."""

import os
import random
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest

from workstation.core.config import load_settings
from workstation.trading.session import Session
from workstation.core.symbols import parse_symbol

HERE = Path(__file__).resolve().parents[1]  # the drivers live in tests/

SETTINGS = """
[profiles.paper.sim]
commission_per_share = "0.005"
commission_min = "1"
"""


def recompute(fills, initial):
    """An independent average-cost ledger in Fractions."""
    qty, avg, cash = {}, {}, Fraction(initial)
    for f in fills:
        inst = parse_symbol(f.symbol)
        m = Fraction(inst.multiplier)
        s = Fraction(f.qty) * (1 if f.side.value == "buy" else -1)
        p = Fraction(f.price)
        old = qty.get(f.symbol, Fraction(0))
        a = avg.get(f.symbol, Fraction(0))
        realized = Fraction(0)
        if old == 0 or (old > 0) == (s > 0):
            a = (a * abs(old) + p * abs(s)) / abs(old + s)
        else:
            realized = min(abs(s), abs(old)) * (p - a) * m * (1 if old > 0 else -1)
            new = old + s
            a = Fraction(0) if new == 0 else (p if (new > 0) != (old > 0) else a)
        qty[f.symbol], avg[f.symbol] = old + s, a
        cash += (-s * p * m) if inst.settles_notional else realized
        cash -= Fraction(f.commission)
    return qty, cash


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_then_restart_restores_every_reported_fill(home, seed):
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text(SETTINGS)
    env = dict(os.environ, WORKSTATION_HOME=str(home), PYTHONPATH=str(HERE.parent))
    proc = subprocess.Popen([sys.executable, str(HERE / "crash_driver.py"), str(seed)], stdout=subprocess.PIPE, text=True, env=env)
    reported = []
    target = random.Random(seed).randint(20, 120)
    deadline = time.monotonic() + 60
    try:
        for line in proc.stdout:
            if line.startswith("FILL"):
                reported.append(line.split())
            if len(reported) >= target or time.monotonic() > deadline:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert len(reported) >= target

    session = Session.build(load_settings(), "paper")
    journaled = {f.exec_id: f for f in session.journal.fills()}
    for _, exec_id, symbol, side, qty, price, commission in reported:
        f = journaled[exec_id]
        assert (f.symbol, f.side.value, str(f.qty), str(f.price), str(f.commission)) == (symbol, side, qty, price, commission)
    qty, cash = recompute(session.journal.fills(), 100000)
    for sym, q in qty.items():
        assert session.portfolio.qty(sym) == q
    assert Fraction(session.portfolio.cash["USD"]) == cash
    # and the restarted engine's open orders are exactly the journal's working ones
    working = {o.id for o in session.journal.orders(("submitted", "accepted", "partially_filled"))}
    assert {o.id for o in session.oms.working()} == working
