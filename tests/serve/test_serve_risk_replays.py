"""An ad-hoc historical replay asked through the owning engine's socket: the same rows as in process."""

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


async def test_a_face_on_the_socket_gets_the_replay_rows_it_asked_for(tmp_path):
    session = Session.build(Settings(watchlist=list(SYMBOLS)), data_root=tmp_path / "data", clock=SimClock(START),
                            broker=HistoryBroker(ts=START))
    engine = LocalEngine(session, source="engine")
    server = EngineServer(engine, session, account_hz=0)
    await engine.start(SYMBOLS)
    path = short_socket(tmp_path)
    await server.listen_unix(path)
    try:
        await engine.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(10)))
        await session.oms.drain()
        remote = await attached(path, "cli")
        try:
            windows = ["1900-01-01..1900-01-05"]
            got = await remote.risk_report(["historical"], 60, None, windows)
            local = await engine.risk_report(["historical"], 60, None, windows)
            with pytest.raises(IntentError, match="window must read START..END"):
                await remote.risk_report(["historical"], 60, None, ["last week"])
        finally:
            await remote.stop()
    finally:
        await server.close()
        await engine.stop()
    assert got == local
    assert got.stress[-1].scenario == "replay 1900-01-01..1900-01-05" and got.stress[-1].window == "1900-01-01..1900-01-05"
