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


def paper_universe(names: list[str]):
    """The paper market's shipped universe plus the made-up ``names`` (they quote like any stock)."""
    from brokers.paper.market import shipped_universe

    return shipped_universe().extended_by(None, {name: {"price": "100"} for name in names})


def paper_settings_toml(names: list[str]) -> str:
    """A settings file adding the made-up ``names`` to the paper market (``[paper.symbols]``)."""
    return "[paper.symbols]\n" + "".join(f'{name} = {{ price = "100" }}\n' for name in names)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return 0.0
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]
