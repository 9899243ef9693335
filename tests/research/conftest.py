"""Fixtures shared by the research tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

ORCL = str(Path(__file__).parents[1] / "data" / "orcl-1995-2014.txt")
# the sweep both Ray modules run on Ray and compare with the same sweep on local processes
SWEEP_ARGS = ("optimize", "--strategy", "ma_crossover", "--data", ORCL, "--param", "fast=5:10:5", "--param", "slow=20:30:10",
              "--split", "0.7", "--json", "--workers", "2")


@pytest.fixture(scope="session")
def local_sweep(tmp_path_factory) -> dict:
    """``SWEEP_ARGS`` on local processes, run once per test process (it is deterministic and
    each Ray test only reads it): the document the Ray runs must equal."""
    local = run_cli(*SWEEP_ARGS, home=tmp_path_factory.mktemp("local-sweep"), timeout=120)
    assert local.returncode == 0, local.stderr
    return json.loads(local.stdout)


@pytest.fixture(scope="module")
def ray_alone():
    """The Ray modules never run at the same time in two test processes: ``ray stop --force``
    (the cluster fixture's teardown) ends every Ray process on the machine, and ``ray.init()``
    without an address joins whatever cluster it finds. A lock file held for the module."""
    import fcntl
    import tempfile

    with open(Path(tempfile.gettempdir()) / "workstation-ray-tests.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
