"""What a trader sees of an expiry on the paper market: the exercise as orders and fills in
the Orders and Log panes, an alert in the Alerts pane, and a toast."""

from datetime import date, time
from decimal import Decimal

import pytest

from brokers.paper.broker import SimBroker, SimConfig
from tests.ui_support import started, until
from workstation.api import LocalEngine
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import BUY, Fill
from workstation.trading.expiry import new_york
from workstation.trading.session import Session
from workstation.ui.panes.feed import AlertsPane, FeedPane
from workstation.ui.panes.orders import OrdersPane
from workstation.ui.watchlists import Watchlists

EXPIRY = date(2026, 12, 18)
CLOSE = new_york(EXPIRY, time(16))


def make(root, t):
    from workstation.ui.app import WorkstationApp

    settings = Settings(watchlist=["AAPL", "MSFT"])
    clock = SimClock(t)
    broker = SimBroker(clock, SimConfig(tick_hz=20))
    session = Session.build(settings, None, data_root=root / "data", clock=clock, broker=broker)
    app = WorkstationApp(LocalEngine(session), settings, watchlists=Watchlists.load(root / "data" / "watchlists.json", ["AAPL", "MSFT"]),
                         config_path=root / "settings.toml")
    return app, session


def hold_itm_call(session) -> tuple[str, int]:
    spot = float(session.broker.market.mids("AAPL", [CLOSE])[0])
    strike = int(spot) // 5 * 5 - 10  # a listed strike (the workstation prices what is held)
    call = f"AAPL-2026-12-18-{strike}-C"
    fill = Fill(exec_id="open-1", order_id="external", symbol=call, side=BUY, qty=Decimal(1), price=Decimal(12), ts=session.clock.time())
    session.journal.record_fill(fill, None)
    session.portfolio.apply_fill(fill)
    return call, strike


def texts(pane) -> list[str]:
    return [row.cells[-1][0] for row in pane.entries]


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_an_expiry_while_the_workstation_runs_is_shown(tmp_path, size):
    app, session = make(tmp_path, CLOSE - 60)
    call, strike = hold_itm_call(session)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        session.clock.set(CLOSE + 1)  # 16:00 New York passes: the settlement loop settles within a second
        message = f"{call} exercised: bought 100 AAPL at {strike}.00"
        await until(pilot, lambda: any(message in str(n.message) for n in app._notifications), timeout=5, what="the toast")
        alerts = app.main.query_one("#alerts", AlertsPane)
        assert any(t.startswith(f"Exercised: {message}") for t in texts(alerts))
        log = app.main.query_one("#log", FeedPane)
        await until(pilot, lambda: any(t.startswith(f"filled buy 100 AAPL @ {strike}") for t in texts(log)), what="the Log line")
        assert any(t.startswith(f"filled sell 1 {call} @ 0") for t in texts(log))
        orders = [o for o in app.engine.orders() if o.source == "expiry"]
        assert {(o.symbol, o.side.value, o.status.value) for o in orders} == {(call, "sell", "filled"), ("AAPL", "buy", "filled")}
        pilot.app.action_focus_pane("orders")
        await pilot.press("a")  # all orders, not only the working ones
        pane = app.main.query_one(OrdersPane)
        await until(pilot, lambda: {o.id for o in orders} <= set(pane.keys), what="the Orders pane's rows")
        assert session.portfolio.qty("AAPL") == 100


async def test_an_expiry_missed_while_no_engine_ran_is_shown_at_start(tmp_path):
    app, session = make(tmp_path, CLOSE - 3600)
    call, strike = hold_itm_call(session)
    session.journal.close()
    app, session = make(tmp_path, CLOSE + 2 * 86_400)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        message = f"{call} exercised: bought 100 AAPL at {strike}.00"
        await until(pilot, lambda: any(t.startswith(f"Exercised: {message}") for t in texts(app.main.query_one("#alerts", AlertsPane))),
                    what="the alert")
        assert session.portfolio.qty(call) == 0 and session.portfolio.qty("AAPL") == 100
