"""Shared bits for the benchmarks: 500 plausible symbols and percentile helpers."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def symbols(n: int) -> list[str]:
    """``n`` distinct well-formed equity symbols (AAAA, AAAB, ...)."""
    out = []
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    i = 0
    while len(out) < n:
        a, b, c = divmod(i, 26 * 26)[0], divmod(i, 26)[0] % 26, i % 26
        out.append("Q" + letters[a % 26] + letters[b] + letters[c])
        i += 1
    return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return 0.0
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]
