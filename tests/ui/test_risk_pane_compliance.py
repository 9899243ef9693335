"""The Risk pane's compliance rows (Pilot, at 80x24 and 160x45): open positions, gross
leverage, orders per hour and the day-trade count, under names that fit a 40-column pane; the
editor opens on the leverage limit, and a leverage beyond it paints the row red and trips the
breaker."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.ui_support import make_app, settle, started, until
from workstation.core.model import OrderRequest, OrderStatus, Side
from workstation.ui.panes.risk import RiskPane
from workstation.ui.screens.limit_edit import LimitEditScreen


def pane_lines(pane) -> list[str]:
    return ["".join(seg.text for seg in pane.render_line(y)) for y in range(pane.size.height)]


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_risk_pane_shows_the_compliance_rows_and_a_leverage_breach(tmp_path, size):
    app, session, _ = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        for symbol, qty in (("AAPL", 100), ("MSFT", 50)):
            done = await session.oms.submit(OrderRequest(symbol=symbol, side=Side.BUY, qty=Decimal(qty)))
            assert done.status is OrderStatus.FILLED, done
        session.set_limit("max_open_positions", "5")
        session.set_limit("max_gross_leverage", "2")
        await pilot.press("5")
        pane = app.main.query_one(RiskPane)
        await until(pilot, lambda: pane.row("gross leverage") is not None and pane.rows_shown["gross leverage"].limit == 2,
                    what="the leverage row")
        equity = session.portfolio.equity()
        gross = session.portfolio.gross_exposure()
        shown = pane.rows_shown
        assert shown["open positions"].used == 2 and shown["open positions"].limit == 5
        assert shown["gross leverage"].used == (gross / equity).quantize(Decimal("0.01")) > 0
        assert shown["orders per hour"].limit is None  # off unless set
        assert shown["day trades (5d)"].detail == "equity ≥ $25k"  # the paper account: margin, $100,000
        for key, name in (("open positions", "open pos."), ("gross leverage", "leverage"), ("orders per hour", "orders/h"),
                          ("day trades (5d)", "day trades")):
            assert pane.row(key).cells[0][0] == name and len(name) <= 12  # the Check column of a 40-column pane
            assert pane.select_key(key)
            await settle(pilot)
            assert any(line.split()[:len(name.split())] == name.split() for line in pane_lines(pane)), (key, pane_lines(pane))
        # the editor opens on the selected row's limit
        assert pane.select_key("gross leverage")
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, LimitEditScreen))
        from textual.widgets import Input

        assert app.screen.query_one(Input).value == "max_gross_leverage 2"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LimitEditScreen))
        # a limit below the leverage held: the breaker trips, the row turns red
        session.set_limit("max_gross_leverage", str((gross / equity / 2).quantize(Decimal("0.01"))))
        session.monitor.evaluate()
        assert session.breaker.tripped and session.breaker.info.reason.startswith("gross leverage ")
        await until(pilot, lambda: pane.row("gross leverage").cells[0] == ("leverage", "down"), what="the breach colour")
