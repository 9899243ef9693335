"""ib_async stays behind brokers/: the engine and the commands load without it."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_nothing_outside_brokers_imports_ib_async():
    offenders = [
        str(p.relative_to(ROOT))
        for folder in ("workstation", "plugins", "themes")
        for p in (ROOT / folder).rglob("*.py")
        if "ib_async" in p.read_text(encoding="utf-8") or "ib_insync" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_the_engine_and_cli_load_without_ib_async():
    code = "import sys, workstation.cli.app, workstation.trading.session, brokers.factory; print('ib_async' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
