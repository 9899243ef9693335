"""Snapshots of the option chain screen on a deterministic chain (``tests.fakes.option_chains``):
80x24 (bid, ask, IV and delta a side, the money marked), 80x24 on the put side a strike
below, and 160x45 with every figure and the IV smile.

Regenerate after a deliberate change with
``pytest tests/ui/test_chain_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from tests.ui.test_chain_screen import chain_app, open_chain
from tests.ui_support import settle


def test_chain_at_80x24(snap_compare, tmp_path):
    app, _ = chain_app(tmp_path)

    async def scene(pilot) -> None:
        await open_chain(pilot)
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=scene)


def test_chain_puts_a_strike_below_at_80x24(snap_compare, tmp_path):
    app, _ = chain_app(tmp_path)

    async def scene(pilot) -> None:
        await open_chain(pilot)
        await pilot.press("k", "space")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=scene)


def test_chain_with_the_smile_at_160x45(snap_compare, tmp_path):
    app, _ = chain_app(tmp_path)

    async def scene(pilot) -> None:
        screen = await open_chain(pilot)
        await pilot.press("i")
        await settle(pilot)
        while screen.query_one("#chain-smile").built < 1:
            await pilot.pause(0.01)
        await settle(pilot)

    assert snap_compare(app, terminal_size=(160, 45), run_before=scene)
