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


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """One single-node Ray cluster on 127.0.0.1 for every Ray test of this process (starting one
    takes ~7 s and stopping it as long): the address its clients connect to."""
    import importlib.util
    import shutil
    import socket
    import subprocess

    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (optional extra: pip install '.[ray]')")
    ray_bin = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp = tmp_path_factory.mktemp("ray")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(ROOT)}
    start = subprocess.run(
        [ray_bin, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
        capture_output=True, text=True, timeout=180, env=env,
    )
    if start.returncode != 0:
        pytest.fail(f"ray start failed: {start.stderr[-2000:]}")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray_bin, "stop", "--force"], capture_output=True, timeout=120, env=env)
