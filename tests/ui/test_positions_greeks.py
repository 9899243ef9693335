"""The Positions pane's Greeks view (Pilot, at 80x24 and 160x45): ``v`` switches the pane
from its P&L columns to delta, dollar delta, gamma, theta, vega and IV per position, with a
total line per underlying that has options, the account's total and its beta-weighted delta
to SPY; a Greek that cannot be worked out is blank, never 0; ``v`` again goes back."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from tests.ui_support import START, make_app, settle, started, until
from workstation.ui.panes.positions import BETA, TOTAL, UNDERLYING, PositionsPane

CALL = "AAPL-2026-10-16-190-C"
ORPHAN = "ZZZZ-2026-10-16-50-C"  # quoted, but its underlying is not: no Greeks
YEARS = (datetime(2026, 10, 16, 20, 0, tzinfo=timezone.utc).timestamp() - START) / (365 * 86_400)


def call_price_and_delta(spot: float, strike: float, vol: float, t: float = YEARS, r: float = 0.04) -> tuple[float, float]:
    d1 = (math.log(spot / strike) + (r + vol * vol / 2) * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    return spot * cdf(d1) - strike * math.exp(-r * t) * cdf(d2), cdf(d1)


def cell(pane: PositionsPane, key: str, column: str) -> str:
    i = next(n for n, c in enumerate(pane.columns) if c.key == column)
    return pane.row(key).cells[i][0]


def header(pane: PositionsPane) -> str:
    return pane.render_line(0).text


def holding(tmp_path):
    app, session, broker = make_app(tmp_path, confirm=False)
    price, delta = call_price_and_delta(185.0, 190.0, 0.30)
    broker.prices[CALL] = round(price, 2)
    broker.prices[ORPHAN] = 2.0
    return app, session, broker, delta


async def buy(pilot, session, text: str, n: int) -> None:
    from workstation.ui.panes.cmdline import CommandLine

    await pilot.press("colon")
    pilot.app.main.query_one(CommandLine).insert_text_at_cursor(text)
    await pilot.press("enter")
    await until(pilot, lambda: len(session.journal.fills()) == n, what=f"{text} filled")


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_v_shows_the_greeks_per_position_and_the_totals(tmp_path, size):
    app, session, broker, delta = holding(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await buy(pilot, session, f"buy 2 {CALL}", 1)
        await buy(pilot, session, "sell 50 AAPL", 2)
        await buy(pilot, session, "buy 10 MSFT", 3)
        await buy(pilot, session, f"buy 1 {ORPHAN}", 4)
        await pilot.press("2")
        pane = app.query_one(PositionsPane)
        await until(pilot, lambda: set(pane.keys) == {CALL, "AAPL", "MSFT", ORPHAN}, what="four positions")
        assert "Delta" not in header(pane)  # the P&L view first, at either width
        await pilot.press("v")
        await until(pilot, lambda: pane.greeks_view and pane.row(TOTAL) is not None, what="the Greeks view")
        await settle(pilot)
        shown = header(pane)
        for label in ("Delta", "Gamma", "Theta", "Vega"):
            assert label in shown, (label, shown)
        assert "Mkt value" not in shown and "Avg cost" not in shown
        # per position: the long call's delta in shares is 2 x 100 x N(d1)
        assert cell(pane, CALL, "delta") == f"{200 * delta:,.1f}"
        assert cell(pane, "AAPL", "delta") == "-50.0" and cell(pane, "MSFT", "delta") == "10.0"
        assert float(cell(pane, CALL, "theta")) < 0 < float(cell(pane, CALL, "vega"))
        # a contract whose underlying has no price: blank, not 0
        for column in ("delta", "ddelta", "gamma", "theta", "vega", "iv"):
            assert cell(pane, ORPHAN, column) == ""
        # AAPL's options and stock add up in shares; MSFT (no options) has no total line of its own
        assert cell(pane, UNDERLYING + "AAPL", "symbol") == "AAPL total"
        assert cell(pane, UNDERLYING + "AAPL", "delta") == f"{200 * delta - 50:,.1f}"
        assert pane.row(UNDERLYING + "MSFT") is None
        assert cell(pane, TOTAL, "delta") == ""  # shares of different underlyings do not add
        assert cell(pane, TOTAL, "iv") == "1 ?"  # one position without Greeks
        # no daily bars in this market: beta 1 for each, and said so
        assert cell(pane, BETA, "symbol") == "β SPY" and cell(pane, BETA, "gamma") == "β=1"
        dollars = (200 * delta - 50) * 185.0 + 10 * 410.0
        assert float(cell(pane, BETA, "delta").replace(",", "")) == pytest.approx(dollars / 560.0, abs=2.0)
        assert pane.border_subtitle == "Greeks · v: P&L"
        await pilot.press("v")
        await until(pilot, lambda: not pane.greeks_view and "Unrealized" in header(pane), what="back to P&L")
        assert "Delta" not in header(pane) and pane.row(UNDERLYING + "AAPL") is None


async def test_risk_pane_shows_each_set_greek_limit_and_e_edits_it(tmp_path):
    from textual.widgets import Input

    from workstation.ui.panes.risk import RiskPane
    from workstation.ui.screens.limit_edit import LimitEditScreen

    app, session, broker, delta = holding(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await buy(pilot, session, f"buy 2 {CALL}", 1)
        session.set_limit("max_net_delta", "10000")
        session.set_limit("max_underlying_vega", "500")
        await pilot.press("5")
        pane = app.main.query_one(RiskPane)
        await until(pilot, lambda: pane.row("underlying vega") is not None, what="the Greek rows")
        net = pane.rows_shown["net delta"]
        assert float(net.used) == pytest.approx(200 * delta * 185.0, rel=2e-3) and net.state == "breach"
        assert net.limit == 10000 and pane.row("net delta").cells[0] == ("net delta", "down")  # over it: red
        assert pane.row("underlying vega").cells[0][0] == "und. vega" and pane.rows_shown["underlying vega"].detail == "AAPL"
        assert pane.select_key("net delta")
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, LimitEditScreen))
        assert app.screen.query_one(Input).value == "max_net_delta 10000"  # prefilled from the row
