"""Pilot tests of the workstation's risk controls: the kill switch (K, :kill), the breaker
reset (R in the Risk pane, :reset-breaker), limit changes (e in the Risk pane, :risk set)
and alert rules (:alert). Each asserts on the engine's state and its journal."""

from decimal import Decimal

import pytest

from tests.ui.test_ui_flows import command, of, orders, working_limit
from tests.ui_support import make_app, settle, started, until
from tests.ui_support import until as ui_until
from workstation.core.model import OrderStatus
from workstation.ui.messages import IntentDone, IntentFailed
from workstation.ui.panes.risk import RiskPane
from workstation.ui.screens.confirm import ConfirmScreen
from workstation.ui.screens.limit_edit import LimitEditScreen

D = Decimal


def confirming(app):
    return isinstance(app.screen, ConfirmScreen)


def risk_sets(session):
    return [data for _seq, _ts, _kind, _ref, data in session.journal.events("risk.set")]


@pytest.mark.slow
async def test_kill_key_asks_then_cancels_flattens_and_trips(tmp_path):
    app, session, _ = make_app(tmp_path)
    msgs = []
    async with app.run_test(size=(160, 45), message_hook=msgs.append) as pilot:
        await started(pilot)
        await working_limit(pilot, session, "buy 100 AAPL")
        limit = await working_limit(pilot, session, "buy 10 MSFT lmt 400")
        assert session.portfolio.qty("AAPL") == 100
        await pilot.press("K")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # declined: nothing happens
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await settle(pilot)  # a kill would have had the time to reach the engine
        assert not session.breaker.tripped and session.oms.orders[limit.id].status is OrderStatus.ACCEPTED
        await pilot.press("K", "y")
        await until(pilot, lambda: session.breaker.tripped and session.portfolio.positions() == [] and of(IntentDone, msgs)[-1].action == "kill"
                    and session.oms.orders[limit.id].status is OrderStatus.CANCELED)
        assert session.oms.orders[limit.id].status is OrderStatus.CANCELED
        assert session.portfolio.positions() == []
        assert session.breaker.tripped
        assert of(IntentDone, msgs)[-1].action == "kill"
        # the breaker now refuses opening orders (the review blocks them: nothing is sent)
        n = len(orders(session))
        await working_limit(pilot, session, "buy 10 MSFT lmt 400", sent=False)
        assert len(orders(session)) == n or orders(session)[-1].status is OrderStatus.REJECTED


async def test_kill_is_typed_in_full_on_the_command_line(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await pilot.press("t", "K")  # in a text field K is a character, not the kill switch
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen) and not session.breaker.tripped
        await pilot.press("ctrl+g")
        await command(pilot, "k")
        assert not isinstance(app.screen, ConfirmScreen) and not session.breaker.tripped
        await pilot.press("escape")
        await command(pilot, "kill", done=confirming)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: session.breaker.tripped)
        assert session.breaker.tripped


@pytest.mark.slow
async def test_reset_breaker_from_risk_pane_refused_then_done(tmp_path, monkeypatch):
    app, session, _ = make_app(tmp_path)
    msgs = []
    async with app.run_test(size=(160, 45), message_hook=msgs.append) as pilot:
        await started(pilot)
        await pilot.press("5", "R")  # not tripped: one line, no dialog
        await until(pilot, lambda: "not tripped" in of(IntentFailed, msgs)[-1].message)
        assert not isinstance(app.screen, ConfirmScreen)
        assert "not tripped" in of(IntentFailed, msgs)[-1].message
        # a breach that persists (the monitor's own check, stood in for): the reset is refused with the reason
        breaches = ["day loss 1,500.00 over the limit 1,000.00"]
        monkeypatch.setattr(session.monitor, "breaches", lambda: list(breaches))
        session.breaker.trip("day loss 1,500.00 over the limit 1,000.00")
        await settle(pilot)
        await pilot.press("5", "R")
        await until(pilot, lambda: confirming(app))
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: "breach persists" in of(IntentFailed, msgs)[-1].message)
        assert session.breaker.tripped
        assert "breach persists" in of(IntentFailed, msgs)[-1].message
        # the limit raised (from the command line), the breach is over and the reset goes through
        await command(pilot, "risk set max_daily_loss 2000", done=lambda app: session.limits.limits_for(None).max_daily_loss == 2000)
        breaches.clear()
        await command(pilot, "reset-breaker", done=confirming)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: not session.breaker.tripped and of(IntentDone, msgs)[-1].action == "reset-breaker")
        assert not session.breaker.tripped
        assert of(IntentDone, msgs)[-1].action == "reset-breaker"


async def test_edit_limit_from_risk_pane_is_validated_and_journaled(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await pilot.press("5")
        pane = app.main.query_one(RiskPane)
        assert pane.select_key("open orders")
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, LimitEditScreen))
        assert isinstance(app.screen, LimitEditScreen)
        from textual.widgets import Input

        field = app.screen.query_one(Input)
        assert field.value.startswith("max_open_orders")  # prefilled from the selected row
        field.value = "max_open_orders lots"
        await pilot.press("enter")
        await until(pilot, lambda: "max_open_orders" in str(app.screen.query_one("#limit-error").render()))
        assert isinstance(app.screen, LimitEditScreen)  # the error is inline, nothing changed
        assert "max_open_orders" in str(app.screen.query_one("#limit-error").render())
        assert risk_sets(session) == []
        field.value = "max_open_orders 7"
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, LimitEditScreen) and session.limits.limits_for(None).max_open_orders == 7)
        assert not isinstance(app.screen, LimitEditScreen)
        assert session.limits.limits_for(None).max_open_orders == 7
        assert risk_sets(session)[-1] == {"name": "max_open_orders", "value": "7", "strategy": None}


async def test_risk_set_command_line_errors_inline_and_journals(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await command(pilot, "risk set no_such_limit 5", done=lambda app: "unknown risk limit" in str(app.main.query_one("#cmd-error").render()))
        assert "unknown risk limit" in str(app.main.query_one("#cmd-error").render())
        await pilot.press("escape")
        await command(pilot, "risk set max_order_qty 250", done=lambda app: session.limits.limits_for(None).max_order_qty == 250)
        assert session.limits.limits_for(None).max_order_qty == 250
        assert risk_sets(session)[-1]["name"] == "max_order_qty"


@pytest.mark.slow
async def test_alert_rules_from_the_command_line(tmp_path):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)

        def made():
            return len([r for r in session.alerts.rules.values() if r.origin != "settings"])

        for n, text in enumerate(("alert AAPL > 200", "alert AAPL move 3% 5m", "alert pnl < -1000", "alert spread BTC/USD > 20"), 1):
            await command(pilot, text, done=lambda app, n=n: made() == n)
        texts = [r.text for r in session.alerts.rules.values() if r.origin != "settings"]
        assert len(texts) == 4
        rules = [data for *_x, data in session.journal.events("alert.rule")]
        assert len(rules) == 4
        await command(pilot, "alert AAPL sideways", done=lambda app: "alert rule" in str(app.main.query_one("#cmd-error").render()))
        assert "alert rule" in str(app.main.query_one("#cmd-error").render())
        assert len([r for r in session.alerts.rules.values() if r.origin != "settings"]) == 4


@pytest.mark.slow
async def test_attached_kill_limit_and_alert_go_to_the_serving_engine(tmp_path):
    from tests.fakes.market import InstantBroker
    from tests.serve_support import SYMBOLS, short_socket, until
    from tests.ui_support import START
    from workstation.api import LocalEngine
    from workstation.core.clock import SimClock
    from workstation.core.config import Settings, UISettings
    from workstation.core.model import OrderRequest, OrderType, Side
    from workstation.serve.remote import RemoteEngine
    from workstation.serve.server import EngineServer
    from workstation.trading.session import Session
    from workstation.ui.app import WorkstationApp
    from workstation.ui.watchlists import Watchlists

    session = Session.build(Settings(watchlist=list(SYMBOLS)), data_root=tmp_path / "data", clock=SimClock(START), broker=InstantBroker(ts=START))
    served = LocalEngine(session, source="engine")
    server = EngineServer(served, session, account_hz=0, kill=lambda reason, who: session.kill(reason, who=who))
    await served.start(SYMBOLS)
    path = short_socket(tmp_path)
    await server.listen_unix(path)
    try:
        limit = await session.oms.submit(OrderRequest(symbol="MSFT", side=Side.BUY, qty=D(10), type=OrderType.LIMIT, limit_price=D(400)))
        remote = RemoteEngine(path, kind="tui")
        app = WorkstationApp(remote, Settings(watchlist=list(SYMBOLS), ui=UISettings(confirm_orders=False)),
                             watchlists=Watchlists.load(tmp_path / "wl.json", list(SYMBOLS)), save_settings=False)
        async with app.run_test(size=(160, 50)) as pilot:
            await until(lambda: app._started)
            await settle(pilot)
            await command(pilot, "risk set max_order_qty 250")
            await until(lambda: session.limits.limits_for(None).max_order_qty == 250)
            assert risk_sets(session)[-1]["name"] == "max_order_qty"
            await command(pilot, "alert AAPL > 200")
            await until(lambda: any(r.text == "AAPL > 200" for r in session.alerts.rules.values()))
            await pilot.press("K")
            await ui_until(pilot, lambda: confirming(app))
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await until(lambda: session.breaker.tripped)
            assert session.oms.orders[limit.id].status is OrderStatus.CANCELED
            await until(lambda: bool(remote.snapshot().breaker))
            await pilot.press("5", "R")  # the reset, asked and done in the serving engine
            await ui_until(pilot, lambda: confirming(app))
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await until(lambda: not session.breaker.tripped)
            from workstation.core.model import AlertRaised
            from workstation.ui.panes.feed import AlertsPane

            session.bus.publish(AlertRaised(title="Stop hit", message="AAPL stop filled", priority="high", ts=START))
            await until(lambda: app.main.query_one("#alerts", AlertsPane).alert_ids)
            app.focus_now(app.main.query_one("#alerts", AlertsPane))
            await pilot.press("A")
            await until(lambda: all(a.acked for a in session.alerts.recent))
            await pilot.press("ctrl+d")
    finally:
        await server.close()
        await served.stop()


async def test_alerts_pane_acknowledges_the_selected_alert_then_all(tmp_path):
    from workstation.core.model import AlertRaised
    from workstation.ui.panes.feed import AlertsPane

    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        session.bus.publish(AlertRaised(title="Stop hit", message="AAPL stop filled", priority="high", ts=1_790_000_000.0))
        session.bus.publish(AlertRaised(title="Breaker", message="daily loss", priority="high", ts=1_790_000_001.0))
        pane = app.main.query_one("#alerts", AlertsPane)
        await until(pilot, lambda: len(pane.alert_ids) == 2)
        await settle(pilot)  # the rows drawn: g goes to the newest
        app.focus_now(pane)  # reached with Tab (the number key 6 marks everything read at once)
        await pilot.press("g", "a")  # the newest: Breaker
        await until(pilot, lambda: pane.entries[0].cells[1][0] == "acked" and session.journal.events("alert.ack"))
        acked = {a.title: a.acked for a in session.alerts.recent}
        assert acked["Breaker"] and not acked["Stop hit"]
        assert [data["ids"] for *_x, data in session.journal.events("alert.ack")] == [[session.alerts.recent[-1].id]]
        assert pane.entries[0].cells[1][0] == "acked"
        await pilot.press("A")
        await until(pilot, lambda: all(a.acked for a in session.alerts.recent))
        assert all(a.acked for a in session.alerts.recent)


async def test_kill_stops_a_running_strategy(tmp_path):
    from tests.ui.test_ui_strategies import cells, make_app as strategies_app, wait
    from workstation.ui.panes.strategies import StrategiesPane

    app, engine = strategies_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait(pilot, lambda: app._started)
        await settle(pilot)
        pane = app.query_one(StrategiesPane)
        await pilot.press("9", "s")
        await wait(pilot, lambda: cells(pane, "ma_crossover")["state"] == "running")
        await pilot.press("K", "y")
        await wait(pilot, lambda: cells(pane, "ma_crossover")["state"] == "stopped")
        assert engine.snapshot().breaker  # the reason it tripped on
