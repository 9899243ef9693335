"""``optimize --executor ray`` on a real single-node Ray cluster started on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.research.conftest import ORCL, SWEEP_ARGS

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_alone")]  # (one Ray module at a time)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    try:
        import ray  # noqa: F401
    except ImportError:
        pytest.skip("ray is not installed (optional extra: pip install '.[ray]')")
    ray_bin = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
    port = _free_port()
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths must stay under 107 bytes
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
        shutil.rmtree(temp, ignore_errors=True)


def test_the_sweep_runs_on_a_ray_cluster_and_matches_the_local_one(cluster: str, tmp_path: Path, local_sweep) -> None:
    env = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    remote = run_cli(*SWEEP_ARGS[:-2], "--executor", "ray", "--address", cluster, home=tmp_path, timeout=240, env=env)  # Ray picks its workers
    assert remote.returncode == 0, remote.stderr[-2000:]
    a = json.loads(remote.stdout)
    assert len(a["results"]) == 4
    assert a == local_sweep  # the same sweep on local processes (tests/research/conftest.py)


def test_an_unreachable_cluster_is_a_one_line_error(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    r = run_cli("optimize", "--strategy", "ma_crossover", "--data", ORCL, "--param", "fast=5,10", "--executor", "ray",
                "--address", f"127.0.0.1:{_free_port()}", home=tmp_path, timeout=120, env={"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"})
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "Ray cluster" in r.stderr
