"""The Risk screen's heatmap: the treemap layout and the widget's repaint, one JSON object.

* ``layout_ms_*``: ``workstation.risk.treemap.layout`` of 200 positions in 8 sectors onto a
  160x45 grid (what a new report costs before any drawing);
* ``new_data_ms_*``: ``Heatmap.show`` with new figures for 200 tiles at 160x45 plus every line
  rendered (a refresh of the screen: new layout, every strip rebuilt);
* ``repaint_ms_*``: the cursor moved and every line rendered again (a key press).

The widget runs in a headless Textual app (Pilot), as in the tests. The target: a refresh well
inside the workstation's 100 ms frame budget (issue 20 asks the whole report under 100 ms so the
screen can refresh every few seconds; the drawing must not eat that budget).

Usage: python bench/bench_heatmap.py [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

from _common import pct
from textual.app import App, ComposeResult

from workstation.risk.report_doc import HeatTile
from workstation.risk.treemap import layout
from workstation.ui.heatmap import Heatmap

SECTORS = ["Technology", "Financials", "Energy", "Health Care", "Industrials", "Utilities", "Materials", "Real Estate"]


def tiles(shift: float) -> list[HeatTile]:
    return [
        HeatTile(symbol=f"S{i:03d}", sector=SECTORS[i % len(SECTORS)], asset_class="equity",
                 exposure=(1 + (i * 7919) % 97) * 1_000.0 * (-1 if i % 11 == 0 else 1),
                 day_pnl_pct=((i * 37) % 90 - 45) / 10 + shift)
        for i in range(200)
    ]


class _Host(App):
    def compose(self) -> ComposeResult:
        yield Heatmap(id="heatmap")


async def widget(rounds: int) -> tuple[list[float], list[float], int]:
    app = _Host()
    new_data, repaint = [], []
    async with app.run_test(size=(160, 45)) as pilot:
        heatmap = app.query_one(Heatmap)
        heatmap.show(tiles(0.0), "USD")
        await pilot.pause()
        for n in range(rounds):
            fresh = tiles(n / 10)
            t0 = time.perf_counter()
            heatmap.show(fresh, "USD")
            for y in range(heatmap.size.height):
                heatmap.render_line(y)
            t1 = time.perf_counter()
            heatmap.action_move("right" if n % 2 else "left")
            for y in range(heatmap.size.height):
                heatmap.render_line(y)
            t2 = time.perf_counter()
            new_data.append((t1 - t0) * 1000)
            repaint.append((t2 - t1) * 1000)
        shown = len(heatmap.symbols)
    return new_data, repaint, shown


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=40)
    args = ap.parse_args()
    rnd = random.Random(7)
    groups = {f"S{g}": [(f"K{g}_{i}", rnd.uniform(1, 100)) for i in range(25)] for g in range(8)}
    lay = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        layout(groups, 160, 45, min_w=5)
        lay.append((time.perf_counter() - t0) * 1000)
    new_data, repaint, shown = asyncio.run(widget(args.rounds))
    print(json.dumps({
        "benchmark": "risk_heatmap", "positions": 200, "size": "160x45", "tiles_shown": shown,
        "layout_ms_p50": round(pct(lay, 50), 2), "layout_ms_p95": round(pct(lay, 95), 2),
        "new_data_ms_p50": round(pct(new_data, 50), 2), "new_data_ms_p95": round(pct(new_data, 95), 2),
        "repaint_ms_p50": round(pct(repaint, 50), 2), "repaint_ms_p95": round(pct(repaint, 95), 2),
        "frame_budget_ms": 100,
    }))


if __name__ == "__main__":
    main()
