"""The Risk pane's VaR and stress-loss rows (Pilot, at 80x24 and 160x45): on a paper book of a
few positions, setting ``max_var``, ``max_var_pct`` and ``max_stress_loss`` through the engine
makes the session measure in the background, and the pane then shows one row per limit: its
short name, the measured figure as money or percent, the limit, and (in the row the pane holds)
the method or the worst scenario; a limit below the measured figure paints the row red."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.ui_support import START, settle, started, until
from workstation.core.formatting import percent
from workstation.ui.panes.format import money
from workstation.ui.panes.risk import RiskPane

CENT = Decimal("0.01")
BOOK = {"AAPL": 100, "MSFT": 50, "SPY": 40}


def paper_app(tmp_path):
    """The workstation on the paper market (its daily history is what the VaR is measured from)."""
    import msgspec

    from brokers.paper.broker import SimBroker
    from workstation.api import LocalEngine
    from workstation.core.clock import SimClock
    from workstation.core.config import Settings
    from workstation.trading.session import Session
    from workstation.ui.app import WorkstationApp
    from workstation.ui.watchlists import Watchlists

    symbols = list(BOOK)
    clock = SimClock(START)
    settings = msgspec.convert({"watchlist": symbols, "alerts": {"bell": False}}, Settings, strict=False)
    session = Session.build(settings, "paper", data_root=tmp_path / "data", clock=clock, broker=SimBroker(clock=clock))
    lists = Watchlists.load(tmp_path / "data" / "watchlists.json", symbols)
    app = WorkstationApp(LocalEngine(session), settings, watchlists=lists, config_path=tmp_path / "settings.toml")
    return app, session


def pane_lines(pane) -> list[str]:
    return ["".join(seg.text for seg in pane.render_line(y)) for y in range(pane.size.height)]


async def hold_book(pilot, session) -> None:
    from workstation.core.model import OrderRequest, OrderStatus, Side

    for symbol, qty in BOOK.items():
        done = await session.oms.submit(OrderRequest(symbol=symbol, side=Side.BUY, qty=Decimal(qty)))
        assert done.status is OrderStatus.FILLED, done
    await until(pilot, lambda: all(session.portfolio.qty(s) == q for s, q in BOOK.items()), what="the book is held")


def measured(session) -> bool:
    """Whether the background measurement has seen the whole book."""
    st = session.var_limits.state
    return st is not None and st.var is not None and len(st.inputs.positions) == len(BOOK)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_risk_pane_shows_var_var_pct_and_stress_rows_and_paints_a_breach_red(tmp_path, size):
    app, session = paper_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await hold_book(pilot, session)
        await pilot.press("5")
        pane = app.main.query_one(RiskPane)
        assert pane.row("VaR") is None and pane.row("stress loss") is None  # no VaR limit: no row, nothing measured
        assert session.var_limits.state is None

        # generous limits first: measured in the background, shown in the ok colour
        session.set_limit("max_var", "1000000")
        session.set_limit("max_var_pct", "50")
        session.set_limit("max_stress_loss", "1000000")
        await until(pilot, lambda: measured(session), timeout=20, what="the background VaR measurement")
        st = session.var_limits.state
        assert st.var > 0 and st.stress_loss > 0 and st.stress_scenario
        await until(pilot, lambda: pane.row("VaR") is not None and pane.row("VaR % equity") is not None
                    and pane.row("stress loss") is not None, what="the VaR and stress rows")
        # the market moves and the session measures again: each row is read with the figure it shows
        shown = pane.rows_shown
        var, pct, loss = shown["VaR"].used, shown["VaR % equity"].used, shown["stress loss"].used
        assert float(var) == pytest.approx(st.var, rel=0.05) and var == var.quantize(CENT)
        assert float(pct) == pytest.approx(float(var / session.portfolio.equity() * 100), abs=0.05)
        assert float(loss) == pytest.approx(float(st.stress_loss), rel=0.05)
        assert pane.row("VaR").cells[:3] == (("VaR", ""), (money(var), ""), (money(Decimal(1000000)), "muted"))
        assert pane.row("VaR % equity").cells[:3] == (("VaR %", ""), (percent(pct), ""), (percent(Decimal(50)), "muted"))
        assert pane.row("stress loss").cells[:3] == (("stress loss", ""), (money(loss), ""), (money(Decimal(1000000)), "muted"))
        assert money(Decimal(1000000)) == "1,000,000.00" and percent(Decimal(50)).endswith("%")
        # what each figure is: the method beside the VaR, the worst scenario beside the stress loss
        assert shown["VaR"].detail == "1d 99% historical" and shown["VaR % equity"].detail == "1d 99% historical"
        assert shown["stress loss"].detail == session.var_limits.state.stress_scenario != ""
        assert pane.row("VaR").cells[4] == ("1d 99% historical", "muted")
        assert pane.row("stress loss").cells[4] == (shown["stress loss"].detail, "muted")
        for key, name in (("VaR", "VaR"), ("VaR % equity", "VaR %"), ("stress loss", "stress loss")):
            assert pane.select_key(key)  # on screen (a small pane scrolls to the selected row)
            await settle(pilot)
            line = next((ln for ln in pane_lines(pane) if ln.split()[:len(name.split())] == name.split()), "")
            value = pane.row(key).cells[1][0]
            assert value in line and value[0].isdigit() and (value.endswith("%") if key == "VaR % equity" else "." in value), (key, line)
            if pane.size.width >= 70:  # a wide pane (the 80x24 layout gives it the full width) shows what each figure is
                assert shown[key].detail in line, (key, line)

        # limits below the measured figures: each row turns red (the breach colour) and the breaker trips
        session.set_limit("max_var", str((var / 2).quantize(CENT)))  # half of it: far below even as prices move
        session.set_limit("max_stress_loss", str((loss / 2).quantize(CENT)))
        await until(pilot, lambda: pane.row("VaR").cells[0] == ("VaR", "down")
                    and pane.row("stress loss").cells[0] == ("stress loss", "down"), timeout=20, what="the breach colour")
        assert pane.rows_shown["VaR"].state == "breach" and pane.rows_shown["stress loss"].state == "breach"
        assert pane.row("VaR").cells[1] == (money(pane.rows_shown["VaR"].used), "down")
        assert pane.row("stress loss").cells[1] == (money(pane.rows_shown["stress loss"].used), "down")
        assert pane.row("VaR").cells[2] == (money((var / 2).quantize(CENT)), "muted")
        assert pane.row("VaR % equity").cells[0] == ("VaR %", "")  # still inside its 50%: not red
        assert session.breaker.tripped
