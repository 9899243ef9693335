"""Snapshots of the position heatmap on crafted tiles (``tests.ui.test_heatmap.TILES``: three
sectors, twelve positions, gains and losses in every colour band, one short, one without a
previous close): 80x24 with the largest position selected, 160x45 after moving the cursor
right and down.

Regenerate after a deliberate change with
``pytest tests/ui/test_heatmap_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from tests.ui.test_heatmap import HeatmapApp, settle


def test_heatmap_at_80x24(snap_compare):
    async def scene(pilot) -> None:
        await settle(pilot)

    assert snap_compare(HeatmapApp(), terminal_size=(80, 24), run_before=scene)


def test_heatmap_after_moving_at_160x45(snap_compare):
    async def scene(pilot) -> None:
        await settle(pilot)
        await pilot.press("right", "down")
        await settle(pilot)

    assert snap_compare(HeatmapApp(), terminal_size=(160, 45), run_before=scene)


def test_heatmap_with_no_positions_at_80x24(snap_compare):
    async def scene(pilot) -> None:
        await settle(pilot)

    assert snap_compare(HeatmapApp(tiles=[]), terminal_size=(80, 24), run_before=scene)
