"""The engine is headless: importing any module outside workstation/ui and themes/ never
loads Textual (a later version runs the engine in its own process, behind a socket)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import importlib, pkgutil, sys
names = []
for package in ("workstation", "brokers", "plugins"):
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, package + "."):
        if info.name.startswith("workstation.ui"):
            continue
        names.append(info.name)
for name in names:
    importlib.import_module(name)
    if "textual" in sys.modules:
        print("LOADED-BY", name)
        sys.exit(1)
print("OK", len(names))
"""


def test_headless_modules_never_import_textual():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("OK")
    assert int(r.stdout.split()[1]) >= 10


def test_the_grammar_and_the_engine_api_are_pure():
    code = "import sys, workstation.ui.commands, workstation.ui.watchlists, workstation.api; print('textual' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert r.stdout.strip() == "False", r.stderr


def test_an_engine_that_prices_no_option_never_loads_scipy(tmp_path):
    """The option pricing's scipy loads when an option is priced, not at every command's start:
    `main.py status` on a paper account builds the whole engine (order manager, Greek limits,
    paper market) without it."""
    code = (
        "import sys, runpy; sys.argv = ['main.py', 'status', '--json']\n"
        "try:\n    runpy.run_path('main.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('SCIPY', 'scipy' in sys.modules, file=sys.stderr)\n"
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": "", "WORKSTATION_HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)
    assert "SCIPY False" in r.stderr, r.stderr[-2000:]


def test_status_never_loads_the_exchange_calendar_library(tmp_path):
    """The calendar library (and the pandas it brings) loads when a session is first looked
    up, not at every command's start: `main.py status` on a paper account runs without it."""
    code = (
        "import sys, runpy; sys.argv = ['main.py', 'status', '--json']\n"
        "try:\n    runpy.run_path('main.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('CALENDARS', 'pandas_market_calendars' in sys.modules, 'exchange_calendars' in sys.modules, file=sys.stderr)\n"
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": "", "WORKSTATION_HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)
    assert "CALENDARS False False" in r.stderr, r.stderr[-2000:]


def test_status_and_the_strategy_list_never_load_the_optimisation_library(tmp_path):
    """PyPortfolioOpt (and cvxpy, its solvers, scikit-learn: seconds to import) loads when a
    minimum-variance or maximum-Sharpe optimisation runs, not when the rebalance plugin is
    listed or an engine starts: `main.py status` and `main.py strategies` run without it."""
    code = (
        "import sys, runpy\n"
        "for cmd in (['status', '--json'], ['strategies']):\n"
        "    sys.argv = ['main.py', *cmd]\n"
        "    try:\n        runpy.run_path('main.py', run_name='__main__')\n    except SystemExit:\n        pass\n"
        "print('OPTIMISER', 'plugins.rebalance' in sys.modules, 'pypfopt' in sys.modules, 'cvxpy' in sys.modules, file=sys.stderr)\n"
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": "", "WORKSTATION_HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)
    assert "OPTIMISER True False False" in r.stderr, r.stderr[-2000:]
