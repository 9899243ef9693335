"""Snapshots of the Risk screen on a deterministic book (``tests.fakes.daily_history``: a year
of fixed daily wiggles, a simulated clock): each tab at 80x24 and at 160x45 (the heatmap with
the selected position's line, the VaR decomposition, the correlation grid, the stress table
with the selected scenario beneath).

Regenerate after a deliberate change with
``pytest tests/ui/test_risk_screen_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import pytest

from tests.ui.test_risk_screen import book, open_from_pane, risk_app
from tests.ui_support import settle

SIZES = [(80, 24), (160, 45)]
TABS = [("1", "heatmap"), ("2", "decomposition"), ("3", "correlation"), ("4", "stress")]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x45"])
@pytest.mark.parametrize(("key", "tab"), TABS, ids=[t for _, t in TABS])
def test_risk_screen_tab(snap_compare, tmp_path, size, key, tab):
    app, session, _ = risk_app(tmp_path)

    async def scene(pilot) -> None:
        await book(pilot, session)
        screen = await open_from_pane(pilot)
        await pilot.press(key)
        await settle(pilot)
        assert screen.tab == tab
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=scene)
