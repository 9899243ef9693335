"""Snapshots of the depth ladder on a deterministic book (``tests.fakes.depth_feed``): the
book around 215.01, a working buy of 300 marked at 214.97, the cursor on the best bid
touch (moved to the best bid), and a tape of fourteen prints with one large print; at 80x24 (the tape below the
ladder) and 160x45 (beside it). Trade flashes are cleared first: they last a second of
wall time, which a snapshot cannot pin down.

Regenerate after a deliberate change with
``pytest tests/ui/test_depth_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from tests.ui.test_depth_ladder import open_ladder, depth_app, review_screen, working_aapl
from tests.ui_support import settle, until


async def _scene(pilot, broker) -> None:
    app = pilot.app
    screen = await open_ladder(pilot, broker)
    await pilot.press("j", "j", "j", "j", "3", "0", "0", "b")
    await until(pilot, lambda: review_screen(app) is not None, what="the review")
    await pilot.press("y")
    await until(pilot, lambda: len(working_aapl(app)) == 1, what="the order working")
    for i in range(12):
        broker.push_trade("AAPL", 215.02 if i % 2 else 215.00, 100.0 + i, "buy" if i % 2 else "sell")
    broker.push_trade("AAPL", 215.00, 5000.0, "sell")
    broker.push_trade("AAPL", 215.02, 200.0, "buy")
    await until(pilot, lambda: len(screen.tape.prints) == 14, what="the prints")
    await pilot.press("k", "k", "k")  # the cursor on the best bid
    screen._flash.clear()
    screen._moved = True
    screen.repaint()
    await settle(pilot)


def test_depth_ladder_at_80x24(snap_compare, tmp_path):
    app, broker = depth_app(tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=lambda pilot: _scene(pilot, broker))


def test_depth_ladder_at_160x45(snap_compare, tmp_path):
    app, broker = depth_app(tmp_path)
    assert snap_compare(app, terminal_size=(160, 45), run_before=lambda pilot: _scene(pilot, broker))
