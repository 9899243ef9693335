import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own WORKSTATION_HOME: no test touches the user's data."""
    home = tmp_path / "home"
    monkeypatch.setenv("WORKSTATION_HOME", str(home))
    return home


@pytest.fixture
def home(_isolated_home):
    return _isolated_home


def run_cli(*args, home=None, input=None, timeout=60, env=None):
    import subprocess

    e = dict(os.environ)
    if home is not None:
        e["WORKSTATION_HOME"] = str(home)
    e.setdefault("PYTHONPATH", str(ROOT))
    e["COLUMNS"] = "200"
    if env:
        e.update(env)
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True, timeout=timeout, env=e, input=input,
        cwd=str(ROOT),
    )


def pytest_collection_modifyitems(items):
    """The slow tests first (a stable sort: the rest keep their order), so that two workers
    share them from the start instead of one of them finishing a long test alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
