"""An option chain asked through the owning engine's socket: the same figures as in process."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.fakes.market import InstantBroker
from tests.fakes.option_chains import EXPIRIES, ChainBroker, smile
from tests.serve_support import START, SYMBOLS, attached, short_home, short_socket  # noqa: F401 (fixture)
from workstation.api import IntentError, LocalEngine
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import Right
from workstation.serve.server import EngineServer
from workstation.trading.session import Session


async def _serve(root, broker):
    session = Session.build(Settings(watchlist=list(SYMBOLS)), data_root=root / "data", clock=SimClock(START), broker=broker)
    engine = LocalEngine(session, source="engine")
    server = EngineServer(engine, session, account_hz=0)
    await engine.start(SYMBOLS)
    path = short_socket(root)
    await server.listen_unix(path)
    return engine, server, path


async def test_a_face_on_the_socket_gets_the_chain_with_iv_and_greeks(tmp_path):
    engine, server, path = await _serve(tmp_path, ChainBroker(ts=START))
    try:
        remote = await attached(path, "cli")
        try:
            chain = await remote.option_chain("AAPL", EXPIRIES[1], 7)
            local = await engine.option_chain("AAPL", EXPIRIES[1], 7)
        finally:
            await remote.stop()
    finally:
        await server.close()
        await engine.stop()
    assert chain == local  # exact: strikes and money stay Decimal on the wire, floats round-trip
    assert chain.expiry == EXPIRIES[1] and chain.expiries == EXPIRIES
    assert len(chain.strikes()) == 7 and chain.atm_strike() == Decimal("185")
    atm_call = next(c for c in chain.contracts if c.strike == Decimal(185) and c.right is Right.CALL)
    assert atm_call.iv == pytest.approx(smile(185.0, chain.spot, EXPIRIES[1]), abs=0.01)  # the mid's IV is near the fake's vol
    assert 0.45 < atm_call.delta < 0.65 and atm_call.gamma > 0 and atm_call.theta < 0 and atm_call.vega > 0


async def test_a_chain_without_a_spot_is_priced_off_the_underlyings_quote(tmp_path):
    """The fake sends no spot: the engine prices the chain off its quote of the underlying,
    or, for one it does not stream (NVDA here), the broker's snapshot of it."""
    engine, server, path = await _serve(tmp_path, ChainBroker(ts=START))
    try:
        chain = await engine.option_chain("NVDA", None, 5)
    finally:
        await server.close()
        await engine.stop()
    assert chain.spot == pytest.approx(120.0, abs=0.05)
    assert all(c.delta is not None for c in chain.contracts if c.strike == chain.atm_strike())


async def test_refusals_travel_as_one_line(tmp_path):
    engine, server, path = await _serve(tmp_path, ChainBroker(ts=START))
    try:
        remote = await attached(path, "cli")
        try:
            with pytest.raises(IntentError, match="no expiry 2026-10-17|no AAPL options expire on 2026-10-17"):
                await remote.option_chain("AAPL", date(2026, 10, 17))
            with pytest.raises(IntentError, match="malformed symbol"):
                await remote.option_chain("AAPL!")
            with pytest.raises(IntentError, match="BTC/USD lists no options"):
                await remote.option_chain("BTC/USD")
        finally:
            await remote.stop()
    finally:
        await server.close()
        await engine.stop()


async def test_a_broker_without_chains_says_so(tmp_path):
    engine, server, path = await _serve(tmp_path, InstantBroker(ts=START))
    try:
        remote = await attached(path, "cli")
        try:
            with pytest.raises(IntentError, match="this broker lists no option chains"):
                await remote.option_chain("AAPL")
        finally:
            await remote.stop()
    finally:
        await server.close()
        await engine.stop()


def test_main_py_chain_asks_the_serving_engine(short_home):
    """With ``main.py serve`` owning the account, ``main.py chain`` is answered by it (a cli
    client attaches to it) with the same document a view prints."""
    import json
    import sqlite3

    from tests.conftest import run_cli
    from tests.serve.test_serve_process import start_serve, stop

    engine = start_serve(short_home)
    try:
        r = run_cli("chain", "SPY", "--strikes", "6", "--json", home=short_home)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["underlying"] == "SPY" and len(doc["strikes"]) == 6
        assert [s["atm"] for s in doc["strikes"]].count(True) == 1
        bad = run_cli("chain", "SPY", "--expiry", "2020-01-17", home=short_home)
        assert bad.returncode == 2 and "2020-01-17" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    finally:
        stop(engine)
    db = sqlite3.connect(f"file:{short_home / 'data' / 'paper' / 'journal.sqlite'}?mode=ro", uri=True)
    try:
        clients = [ref for (ref,) in db.execute("SELECT ref FROM events WHERE kind = 'client.attach'")]
    finally:
        db.close()
    assert sum(ref.startswith("cli#") for ref in clients) == 2  # both commands went through the owner
