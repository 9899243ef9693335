"""The risk report document (``workstation.risk.report_doc``) and its HTML page, from an engine
holding a few positions on a fake broker with a year of daily bars."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from tests.fakes.daily_history import HistoryBroker
from workstation.api import IntentError, LocalEngine
from workstation.core.clock import SimClock
from workstation.core.config import Settings, StressScenarioSettings, StressSettings
from workstation.core.model import OrderRequest, Side
from workstation.risk import stress
from workstation.risk.report_doc import PortfolioReport
from workstation.risk.report_html import render_html
from workstation.trading.session import Session

START = 1_790_000_000.0
SYMBOLS = ["AAPL", "MSFT", "NVDA", "BTC/USD", "SPY"]
MINE = StressScenarioSettings(name="chips <crash>", description="NVDA halves", symbols={"NVDA": Decimal("-0.5")})


async def _engine(tmp_path, orders=(("AAPL", Side.BUY, "10"), ("MSFT", Side.BUY, "5"), ("NVDA", Side.SELL, "20"), ("BTC/USD", Side.BUY, "0.1"))):
    broker = HistoryBroker(ts=START)
    settings = Settings(watchlist=SYMBOLS, stress=StressSettings(scenarios=[MINE]))
    session = Session.build(settings, data_root=tmp_path / "data", clock=SimClock(START), broker=broker)
    engine = LocalEngine(session, source="engine")
    await engine.start(SYMBOLS)
    for sym, side, qty in orders:
        await engine.submit(OrderRequest(symbol=sym, side=side, qty=Decimal(qty)))
    await session.oms.drain()
    return engine, session, broker


async def test_the_document_has_figures_stress_rows_and_tiles_and_survives_json(tmp_path):
    engine, session, broker = await _engine(tmp_path)
    try:
        broker.move("AAPL", 185.0 * 1.02)  # AAPL up 2% on the day, NVDA (held short) up 1%
        broker.move("NVDA", 120.0 * 1.01)
        report = await engine.risk_report()
        direct = stress.run_all(stress.inputs_from_session(session), stress.scenarios(session.settings))
    finally:
        await engine.stop()
    assert report.methods == ["historical", "parametric", "full"] and report.risk.days == 250
    assert report.risk.figure("historical", 0.99, 10).var > report.risk.figure("historical", 0.99, 1).var > 0
    # every scenario, shipped then the user's, with the same P&L as the stress engine's own run
    assert [s.scenario for s in report.stress] == [r.scenario for r in direct]
    assert report.stress[-1].scenario == "chips <crash>"
    assert [s.pnl for s in report.stress] == [r.pnl for r in direct]
    chips = report.stress[-1]
    assert chips.pnl > 0 and chips.worst == []  # short NVDA gains when it halves; nobody loses
    equities = report.stress[0]
    assert [w.symbol for w in equities.worst] == ["MSFT", "AAPL"] and equities.worst[0].pnl < equities.worst[1].pnl < 0
    # heatmap: grouped by sector, largest exposure first; a short's day P&L has the opposite sign of its price
    tiles = {t.symbol: t for t in report.heatmap}
    assert [t.sector for t in report.heatmap] == sorted(t.sector for t in report.heatmap)
    assert tiles["AAPL"].day_pnl_pct == pytest.approx(2.0, abs=0.01)
    assert tiles["NVDA"].exposure < 0 and tiles["NVDA"].day_pnl_pct == pytest.approx(-1.0, abs=0.01)
    assert [t.symbol for t in report.heatmap if t.sector == "Information Technology"] == ["NVDA", "MSFT", "AAPL"]
    again = msgspec.json.decode(msgspec.json.encode(report), type=PortfolioReport)
    assert again == report  # money exact (Decimal strings), figures round-trip


async def test_a_second_report_the_same_day_does_not_ask_the_broker_again(tmp_path):
    engine, _, broker = await _engine(tmp_path)
    try:
        first = await engine.risk_report(["parametric"])
        asked = broker.history_calls
        second = await engine.risk_report(["parametric"])
    finally:
        await engine.stop()
    assert asked > 0 and broker.history_calls == asked
    assert second.risk.figures == first.risk.figures


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"methods": ["montecarlo"]}, "unknown method montecarlo"),
    ({"lookback": 3}, "lookback is a number of days between 20 and 5000"),
    ({"decay": 1.0}, "EWMA decay"),
])
async def test_errors_are_one_line(tmp_path, kwargs, message):
    engine, *_ = await _engine(tmp_path)
    try:
        with pytest.raises(IntentError, match=message) as info:
            await engine.risk_report(**kwargs)
    finally:
        await engine.stop()
    assert "\n" not in str(info.value)


async def test_too_little_history_says_how_many_days(tmp_path):
    engine, _, broker = await _engine(tmp_path)
    broker.days = 12
    try:
        with pytest.raises(IntentError, match=r"not enough history: 11 common days of returns \(at least 20 needed\)"):
            await engine.risk_report()
    finally:
        await engine.stop()


async def test_no_positions_is_an_error_not_an_empty_report(tmp_path):
    engine, *_ = await _engine(tmp_path, orders=())
    try:
        with pytest.raises(IntentError, match="no open positions"):
            await engine.risk_report()
    finally:
        await engine.stop()


async def test_the_html_page_is_self_contained_with_tiles_and_the_correlation_grid(tmp_path):
    engine, *_ = await _engine(tmp_path)
    try:
        report = await engine.risk_report()
    finally:
        await engine.stop()
    page = render_html(report)
    assert len(report.heatmap) == 4
    assert page.count('class="tile"') == 3 and page.count('class="tile short"') == 1  # NVDA, held short
    n = len(report.risk.correlation_symbols)
    assert page.count("<td style=\"background:rgba(") == n * n
    assert "chips &lt;crash&gt;" in page and "<crash>" not in page  # the user's names are escaped
    assert "http" not in page and "<script" not in page and "src=" not in page
