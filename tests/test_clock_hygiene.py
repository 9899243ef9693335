"""Time comes only from workstation/clock.py: backtests and tests depend on an injected clock."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WALL_CLOCK = re.compile(r"datetime\.now\(|datetime\.utcnow\(|time\.time\(\)|date\.today\(\)")


def test_no_wall_clock_reads_outside_clock_module():
    offenders = []
    for folder in ("workstation", "brokers", "plugins"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "clock.py" and path.parent.name == "core":
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if WALL_CLOCK.search(line.split("#")[0]):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []
