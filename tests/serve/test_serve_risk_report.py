"""The portfolio risk report asked through the owning engine's socket: the same document as in process."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.fakes.daily_history import HistoryBroker
from tests.serve_support import START, SYMBOLS, attached, short_socket
from workstation.api import IntentError, LocalEngine
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import OrderRequest, Side
from workstation.serve.server import EngineServer
from workstation.trading.session import Session


async def _serve(root):
    session = Session.build(Settings(watchlist=list(SYMBOLS)), data_root=root / "data", clock=SimClock(START), broker=HistoryBroker(ts=START))
    engine = LocalEngine(session, source="engine")
    server = EngineServer(engine, session, account_hz=0)
    await engine.start(SYMBOLS)
    path = short_socket(root)
    await server.listen_unix(path)
    return engine, server, session, path


async def test_a_face_on_the_socket_gets_the_same_risk_report(tmp_path):
    engine, server, session, path = await _serve(tmp_path)
    try:
        for sym, side, qty in (("AAPL", Side.BUY, "10"), ("MSFT", Side.SELL, "4"), ("BTC/USD", Side.BUY, "0.05")):
            await engine.submit(OrderRequest(symbol=sym, side=side, qty=Decimal(qty)))
        await session.oms.drain()
        remote = await attached(path, "cli")
        try:
            got = await remote.risk_report(["historical", "parametric"], 60, 0.94)
            local = await engine.risk_report(["historical", "parametric"], 60, 0.94)
            with pytest.raises(IntentError, match="unknown method"):
                await remote.risk_report(["montecarlo"])
        finally:
            await remote.stop()
    finally:
        await server.close()
        await engine.stop()
    assert got == local  # exact: stress P&L stays Decimal on the wire, floats round-trip
    assert got.methods == ["historical", "parametric"] and got.lookback == 60 and got.risk.decay == 0.94
    assert {p.symbol for p in got.risk.positions} == {"AAPL", "MSFT", "BTC/USD"}
    assert got.risk.figure("parametric", 0.99, 1).var > 0
    assert [s.scenario for s in got.stress][:2] == ["equities -10%", "equities -20%"]
    assert isinstance(got.stress[0].pnl, Decimal)


async def test_no_positions_is_one_line_through_the_socket(tmp_path):
    engine, server, session, path = await _serve(tmp_path)
    try:
        remote = await attached(path, "cli")
        try:
            with pytest.raises(IntentError, match="no open positions") as info:
                await remote.risk_report()
        finally:
            await remote.stop()
    finally:
        await server.close()
        await engine.stop()
    assert "\n" not in str(info.value)
