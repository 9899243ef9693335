"""Resident memory of a headless session streaming 500 symbols (``main.py stream --json``).

Runs the real command in a subprocess for 10 seconds and samples its RSS. Prints JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from _common import ROOT, paper_settings_toml, symbols


def main(seconds: float = 10.0) -> dict:
    names = symbols(500)
    syms = ",".join(names)
    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "settings.toml").write_text(paper_settings_toml(names), encoding="utf-8")
        env = dict(os.environ, WORKSTATION_HOME=home, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "stream", "-s", syms, "-d", f"{seconds}s", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        p = psutil.Process(proc.pid)
        peak = 0
        lines = 0
        t0 = time.monotonic()
        os.set_blocking(proc.stdout.fileno(), False)
        while proc.poll() is None:
            try:
                peak = max(peak, p.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            chunk = proc.stdout.read()
            if chunk:
                lines += chunk.count(b"\n")
            time.sleep(0.05)
        chunk = proc.stdout.read()
        if chunk:
            lines += chunk.count(b"\n")
    return {
        "benchmark": "headless_stream_memory",
        "symbols": 500,
        "seconds": round(time.monotonic() - t0, 1),
        "quotes_printed": lines,
        "peak_rss_mb": round(peak / 2**20, 1),
        "target_mb": 100,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
