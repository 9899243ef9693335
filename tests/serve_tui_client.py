"""A workstation attached to a serving engine, driven by Pilot, in its own process.

    python tests/serve_tui_client.py SOCKET REPORT "buy 5 AAPL" [...]

Types each command on the command line (``:`` then the text, Enter), waits until the
order shows in the Orders pane, writes the order ids to REPORT as JSON, then idles until
killed: the tests SIGKILL it to see that the engine does not care.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def main(socket: str, report: str, commands: list[str]) -> None:
    from workstation.core.config import Settings, UISettings
    from workstation.serve.remote import RemoteEngine
    from workstation.ui.app import WorkstationApp
    from workstation.ui.panes.orders import OrdersPane
    from workstation.ui.watchlists import Watchlists

    symbols = ["AAPL", "MSFT"]
    settings = Settings(watchlist=symbols, ui=UISettings(confirm_orders=False))
    engine = RemoteEngine(Path(socket), kind="tui", name="pilot")
    lists = Watchlists.load(Path(report).with_suffix(".watchlists.json"), symbols)
    app = WorkstationApp(engine, settings, watchlists=lists, save_settings=False)
    async with app.run_test(size=(160, 50)) as pilot:
        while not app._started:
            await pilot.pause(0.02)
        before = {o.id for o in engine.orders()}
        for text in commands:
            await pilot.press("colon", *[("space" if c == " " else c) for c in text], "enter")
        while len({o.id for o in engine.orders()} - before) < len(commands):
            await pilot.pause(0.02)
        app.query_one(OrdersPane).action_toggle_view()  # every order of the day, not only the working ones
        app.repaint()
        await pilot.pause()
        shown = app.query_one(OrdersPane).keys
        ids = sorted({o.id for o in engine.orders()} - before, key=int)
        Path(report).write_text(json.dumps({"orders": ids, "client": engine.client_id, "shown": shown}))
        await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
