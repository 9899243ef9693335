"""What the Orders and Positions panes show: working orders by default, linked legs, trailing
triggers, who canceled, positions closed today and the total line (Pilot, at both sizes)."""

from __future__ import annotations

from decimal import Decimal as D

import msgspec
import pytest

from tests.fakes.market import InstantBroker
from tests.ui_support import START, describe, make_app, settle, started, until
from workstation.core.model import OrderRequest, OrderStatus, OrderType, Side
from workstation.ui.panes.orders import OrdersPane
from workstation.ui.panes.positions import GROSS, TOTAL, PositionsPane

SIZES = [(80, 24), (160, 45)]


async def command(pilot, text: str, done=None) -> None:
    """``:``, the text pasted, Enter; then a wait until ``done()`` (without one: until the app is idle)."""
    from workstation.ui.panes.cmdline import CommandLine

    await pilot.press("colon")
    pilot.app.main.query_one(CommandLine).insert_text_at_cursor(text)
    await pilot.press("enter")
    if done is None:
        await settle(pilot)
    else:
        await until(pilot, done, what=f"after {text!r}: {describe(done)}")


def placed(session, n: int, status: OrderStatus):
    """A condition: ``n`` orders, the newest in ``status``."""
    return lambda: len(session.oms.orders) == n and session.oms.orders[ids(session)[-1]].status is status


def cell(pane, key: str, column: str) -> str:
    i = next(n for n, c in enumerate(pane.columns) if c.key == column)
    return pane.row(key).cells[i][0]


def ids(session) -> list[str]:
    return sorted(session.oms.orders, key=int)


@pytest.mark.parametrize("size", SIZES)
async def test_orders_show_the_working_ones_until_a_shows_them_all(tmp_path, size):
    app, session, _ = make_app(tmp_path, confirm=False)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        pane = app.query_one(OrdersPane)
        await command(pilot, "buy 10 AAPL", done=placed(session, 1, OrderStatus.FILLED))  # fills at once
        await command(pilot, "buy 5 MSFT lmt 405", done=lambda: pane.keys == [ids(session)[-1]])  # rests
        filled, resting = ids(session)
        assert session.oms.orders[filled].status is OrderStatus.FILLED
        assert pane.keys == [resting]
        assert pane.border_title == "3 Orders · working (1 of 2)"
        await pilot.press("3", "a")
        await until(pilot, lambda: pane.keys == [resting, filled])
        assert pane.keys == [resting, filled]
        assert pane.border_title == "3 Orders · all (2)"
        await pilot.press("a")
        await until(pilot, lambda: pane.keys == [resting])
        assert pane.keys == [resting]


async def test_an_unknown_order_counts_as_working(tmp_path):
    app, session, _ = make_app(tmp_path, confirm=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await command(pilot, "buy 10 AAPL", done=placed(session, 1, OrderStatus.FILLED))
        await command(pilot, "buy 5 MSFT lmt 405", done=placed(session, 2, OrderStatus.ACCEPTED))
        filled, oid = ids(session)
        order = session.oms.orders[oid]
        unknown = msgspec.structs.replace(order, status=OrderStatus.UNKNOWN)  # its submit went unanswered
        pane = app.query_one(OrdersPane)
        pane.show([unknown, session.oms.orders[filled]])
        assert pane.keys == [oid] and cell(pane, oid, "status") == "UNKNOWN"


@pytest.mark.parametrize("size", SIZES)
async def test_bracket_legs_and_oco_orders_sit_under_their_parent(tmp_path, size):
    app, session, _ = make_app(tmp_path, confirm=False)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await command(pilot, "buy 100 AAPL @ 180 tp 195 sl 170", done=lambda: len(session.oms.orders) == 3)
        entry, tp, sl = ids(session)
        await command(pilot, "buy 5 MSFT lmt 405", done=placed(session, 4, OrderStatus.ACCEPTED))
        first = ids(session)[-1]
        second = await app.engine.submit(OrderRequest(symbol="MSFT", side=Side.BUY, qty=D(5), type=OrderType.LIMIT, limit_price=D(404), oco_with=first))
        await command(pilot, "buy 1 NVDA lmt 118", done=placed(session, 6, OrderStatus.ACCEPTED))
        newest = ids(session)[-1]
        pane = app.query_one(OrdersPane)
        await until(pilot, lambda: pane.keys == [newest, first, second.id, entry, tp, sl])
        assert pane.keys == [newest, first, second.id, entry, tp, sl]
        assert cell(pane, tp, "id") == f" └ TP {tp}" and cell(pane, sl, "id") == f" └ SL {sl}"
        assert cell(pane, second.id, "id") == f" └ OCO {second.id}"
        assert cell(pane, entry, "id") == entry


class TrailingBroker(InstantBroker):
    """The test market with a trailing stop that follows the bid, as the paper market's does."""

    def trail_trigger(self, client_id: str) -> D | None:
        order = self.resting.get(client_id)
        if order is None or order.type is not OrderType.TRAILING_STOP:
            return None
        bid = D(str(self.snapshot(order.symbol).bid))
        return (bid * (1 - order.trail_percent / 100)).quantize(D("0.01"))


def trailing_app(root):
    from workstation.api import LocalEngine
    from workstation.core.clock import SimClock
    from workstation.core.config import Settings, UISettings
    from workstation.trading.session import Session
    from workstation.ui.app import WorkstationApp
    from workstation.ui.watchlists import Watchlists

    settings = Settings(watchlist=["AAPL"], ui=UISettings(confirm_orders=False))
    broker = TrailingBroker(ts=START)
    session = Session.build(settings, None, data_root=root / "data", clock=SimClock(START), broker=broker)
    lists = Watchlists.load(root / "data" / "watchlists.json", ["AAPL"])
    return WorkstationApp(LocalEngine(session), settings, watchlists=lists, config_path=root / "settings.toml"), session, broker


async def repaints(app, pilot) -> None:
    """Enough repaints for the once-a-second rereads."""
    for _ in range(int(app.repaint_hz) + 1):
        app.repaint()
        await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
async def test_a_trailing_stop_shows_where_it_triggers_now(tmp_path, size):
    app, session, trailing = trailing_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        pane = app.query_one(OrdersPane)
        await command(pilot, "sell 10 AAPL trail 2%", done=lambda: len(session.oms.orders) == 1 and cell(pane, ids(session)[0], "price").startswith("trail 2% stp "))
        [oid] = ids(session)
        bid = D(str(trailing.snapshot("AAPL").bid))
        assert cell(pane, oid, "price") == f"trail 2% stp {(bid * D('0.98')).quantize(D('0.01'))}"
        trailing.move("AAPL", 200.0)  # the market moves: so does the trigger, without an order event
        await repaints(app, pilot)
        bid = D(str(trailing.quotes["AAPL"].bid))
        assert cell(pane, oid, "price") == f"trail 2% stp {(bid * D('0.98')).quantize(D('0.01'))}"


@pytest.mark.parametrize("size", SIZES)
async def test_a_cancel_says_who_canceled(tmp_path, size):
    app, session, _ = make_app(tmp_path, confirm=False)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        pane = app.query_one(OrdersPane)
        await command(pilot, "buy 5 MSFT lmt 405", done=placed(session, 1, OrderStatus.ACCEPTED))
        await command(pilot, "buy 5 NVDA lmt 118", done=lambda: len(session.oms.orders) == 2 and len(pane.keys) == 2)
        by_user, by_kill = ids(session)
        await pilot.press("3", "G", "c")  # the older order is last: cancel it
        await until(pilot, lambda: session.oms.orders[by_user].status is OrderStatus.CANCELED or app.screen is not app.screen_stack[0])
        if app.screen is not app.screen_stack[0]:
            await pilot.press("y")
            await until(pilot, lambda: session.oms.orders[by_user].status is OrderStatus.CANCELED)
        assert session.oms.orders[by_user].status is OrderStatus.CANCELED
        await app.engine.kill("test")
        await until(pilot, lambda: pane.keys == [])
        assert pane.keys == []  # nothing works any more
        await pilot.press("a")
        await until(pilot, lambda: cell(pane, by_kill, "reason") == "kill switch")
        assert cell(pane, by_user, "reason") == "user"
        assert cell(pane, by_kill, "reason") == "kill switch"
        assert session.oms.orders[by_kill].reason == "kill switch: test"  # the journal keeps the whole reason


@pytest.mark.parametrize("size", SIZES)
async def test_a_position_closed_today_stays_with_its_realized_pnl(tmp_path, size):
    app, session, broker = make_app(tmp_path, confirm=False)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        pane = app.query_one(PositionsPane)
        await command(pilot, "buy 10 AAPL", done=placed(session, 1, OrderStatus.FILLED))
        broker.move("AAPL", 190.0)
        await command(pilot, "sell 10 AAPL", done=lambda: placed(session, 2, OrderStatus.FILLED)() and cell(pane, "AAPL", "qty") == "0")
        realized = session.portfolio.position("AAPL").realized_pnl
        assert realized > 40
        assert pane.keys == ["AAPL"]
        assert cell(pane, "AAPL", "qty") == "0"
        assert cell(pane, "AAPL", "rpl") == f"+{realized:,.2f}"
        assert pane.row("AAPL").cells[0][1] == "muted"
        await pilot.press("2", "x")  # nothing to close
        await settle(pilot)
        assert len(session.oms.orders) == 2

        # the next trading day (the risk engine's: 17:00 New York) starts without it
        session.clock.advance(86_400)
        await repaints(app, pilot)
        assert pane.keys == []


@pytest.mark.parametrize("size", SIZES)
async def test_the_total_line_adds_pnl_and_exposure(tmp_path, size):
    app, session, broker = make_app(tmp_path, confirm=False)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await command(pilot, "buy 20 AAPL", done=placed(session, 1, OrderStatus.FILLED))
        await command(pilot, "short 5 MSFT", done=placed(session, 2, OrderStatus.FILLED))
        broker.move("AAPL", 190.0)
        await command(pilot, "sell 10 AAPL", done=placed(session, 3, OrderStatus.FILLED))
        broker.move("MSFT", 400.0)
        await repaints(app, pilot)  # the account is reread on a timer, not on every quote
        pf = session.portfolio
        pane = app.query_one(PositionsPane)
        unrealized = pf.unrealized("AAPL") + pf.unrealized("MSFT")
        assert unrealized != 0
        assert cell(pane, TOTAL, "upl") == f"{unrealized:+,.2f}"
        assert cell(pane, TOTAL, "rpl") == f"{pf.position('AAPL').realized_pnl:+,.2f}"
        assert (cell(pane, TOTAL, "qty"), cell(pane, TOTAL, "mv")) == ("net", f"{pf.net_exposure():,.2f}")
        assert (cell(pane, GROSS, "qty"), cell(pane, GROSS, "mv")) == ("gross", f"{pf.gross_exposure():,.2f}")
        assert pf.gross_exposure() > abs(pf.net_exposure())
        assert pane.keys == ["AAPL", "MSFT"]


async def test_the_paper_market_tells_where_its_trailing_stop_triggers():
    from tests.brokers.test_sim_matching import Rig

    rig = Rig()
    rig.quote("AAPL", 100.00, 100.02)
    order = await rig.submit(side=Side.SELL, type=OrderType.TRAILING_STOP, trail_amount=D("1.00"))
    assert rig.broker.trail_trigger(order.client_id) == D("99.00")
    rig.tick("AAPL", 102.00, 102.02)
    assert rig.broker.trail_trigger(order.client_id) == D("101.00")
    rig.tick("AAPL", 100.90, 100.92)  # triggered and filled: no longer working
    assert rig.broker.trail_trigger(order.client_id) is None
