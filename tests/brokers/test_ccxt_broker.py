"""The ccxt adapter end to end: the real ccxt (REST and websockets) against a binance fake on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from brokers.base import BrokerError, BrokerUnavailable
from brokers.exchanges.adapter import CcxtBroker, CcxtConfig
from tests.fakes.binance_session import KEY, SECRET, fake, keys, open_session, profile_options, settle, until  # noqa: F401
from workstation.core.clock import LiveClock
from workstation.core.model import AlertRaised, ConnectionState, OrderFilled, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from workstation.trading.oms import OrderError

D = Decimal


def buy(qty: str, symbol: str = "BTC/USD", **kw) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=Side.BUY, qty=D(qty), **kw)


async def test_connect_loads_the_venue_and_reports_connected(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path)
    try:
        assert session.connection is not None and session.connection.state == "connected"
        inst = await session.oms.instrument("BTC/USD")
        assert (inst.tick_size, inst.lot_size, inst.exchange) == (D("0.01"), D("0.00001"), "binance")
        with pytest.raises(OrderError, match="binance lists no market for DOGE/USD"):
            await session.oms.instrument("DOGE/USD")
        assert ("GET", "exchangeInfo") in {(m, p) for m, p, _ in fake.requests}
    finally:
        await session.stop()


async def test_account_and_positions_come_from_balances(fake, keys, tmp_path):
    fake.balances["BTC"] = [D("0.5"), D(0)]
    fake.balances["USDT"] = [D("20000"), D(0)]
    session = await open_session(fake, tmp_path)
    try:
        assert session.portfolio.qty("BTC/USD") == D("0.5")
        assert session.portfolio.cash_base() == D("20000")
        account = await session.broker.account()
        assert account.cash == D("20000")
        assert account.equity == D("20000") + D("0.5") * D("60000.5")
    finally:
        await session.stop()


async def test_quotes_arrive_on_the_stream_into_the_quote_cache(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path, symbols=("BTC/USD", "ETH/USD"))
    try:
        fake.set_quote("BTCUSDT", "61000.00", "61000.50", "61000.25")
        await until(lambda: session.quotes.get("BTC/USD").bid == 61000.0, what="streamed BTC quote")
        q = session.quotes.get("BTC/USD")
        assert (q.ask, q.last, q.prev_close) == (61000.5, 61000.25, 59000.0)
        assert session.quotes.get("ETH/USD").bid == 3000.0  # the snapshot taken at subscribe
    finally:
        await session.stop()


async def test_market_order_fills_with_its_fill_event(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path)
    fills = []
    session.bus.subscribe(OrderFilled, fills.append)
    try:
        order = await session.oms.submit(buy("0.01"))
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="fill")
        assert [(f.fill.qty, f.fill.price) for f in fills] == [(D("0.01"), D("60001.00"))]
        assert fake.order_by_cid(order.client_id).status == "FILLED"
        await settle(session)
        assert len(session.journal.fills()) == 1
        assert session.portfolio.qty("BTC/USD") == D("0.01")
    finally:
        await session.stop()


async def test_limit_order_rests_is_replaced_without_double_fill_then_canceled(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path)
    try:
        order = await session.oms.submit(buy("0.02", type=OrderType.LIMIT, limit_price=D("59000"), tif=TimeInForce.GTC))
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED, what="accepted")
        fake.fill(order.client_id, "0.005")
        await until(lambda: session.oms.orders[order.id].filled_qty == D("0.005"), what="partial fill")
        await session.oms.replace_order(order.id, qty=D("0.03"), limit_price=D("59500"))
        await settle(session)
        old, new = fake.order_by_cid(order.client_id), fake.order_by_cid(f"{order.client_id}.r1")
        assert old.status == "CANCELED" and old.executed == D("0.005")
        assert (new.qty, new.price, new.status) == (D("0.025"), D("59500"), "NEW")  # the remainder only
        current = session.oms.orders[order.id]
        assert (current.qty, current.limit_price, current.filled_qty, current.status) == (D("0.03"), D("59500"), D("0.005"), OrderStatus.PARTIALLY_FILLED)
        await session.oms.cancel(order.id)
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.CANCELED, what="canceled")
        assert new.status == "CANCELED"
        assert [o for o in fake.orders.values() if o.status in ("NEW", "PARTIALLY_FILLED")] == []
        assert len(session.journal.fills()) == 1 and session.portfolio.qty("BTC/USD") == D("0.005")
    finally:
        await session.stop()


async def test_partial_fill_then_the_rest(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path)
    try:
        order = await session.oms.submit(buy("0.01", type=OrderType.LIMIT, limit_price=D("59900"), tif=TimeInForce.GTC))
        fake.fill(order.client_id, "0.004")
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.PARTIALLY_FILLED, what="partial")
        assert session.oms.orders[order.id].filled_qty == D("0.004")
        fake.fill(order.client_id)
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="filled")
        await settle(session)
        assert [f.qty for f in session.journal.fills()] == [D("0.004"), D("0.006")]
        assert session.portfolio.qty("BTC/USD") == D("0.01")
    finally:
        await session.stop()


async def test_insufficient_funds_rejection_shows_the_venues_reason(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path)
    alerts = []
    session.bus.subscribe(AlertRaised, alerts.append)
    try:
        fake.balances["USDT"][0] = D("100")  # withdrawn elsewhere: our books still say 100,000
        order = await session.oms.submit(buy("0.01"))
        assert order.status is OrderStatus.REJECTED
        assert order.reason == "binance: Account has insufficient balance for requested action."
        assert any("insufficient balance" in a.message for a in alerts)
        assert fake.orders == {}
    finally:
        await session.stop()


async def test_stop_stop_limit_and_trailing_go_native_and_unsupported_ones_are_refused_by_name(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path, symbols=("BTC/USD", "EUR/USD"))
    try:
        sl = await session.oms.submit(buy("0.01", type=OrderType.STOP_LIMIT, stop_price=D("61000"), limit_price=D("61100"), tif=TimeInForce.GTC))
        placed = fake.order_by_cid(sl.client_id)
        assert (placed.type, placed.stop, placed.price) == ("STOP_LOSS_LIMIT", D("61000"), D("61100"))
        stop = await session.oms.submit(buy("0.01", type=OrderType.STOP, stop_price=D("61500"), tif=TimeInForce.GTC))
        assert (fake.order_by_cid(stop.client_id).type, fake.order_by_cid(stop.client_id).stop) == ("STOP_LOSS", D("61500"))
        assert stop.status is OrderStatus.ACCEPTED
        eur = await session.oms.submit(buy("100", symbol="EUR/USD", type=OrderType.STOP_LIMIT, stop_price=D("1.09"), limit_price=D("1.091"), tif=TimeInForce.GTC))
        assert eur.status is OrderStatus.REJECTED and eur.reason == "binance (EUR/USDT) does not support stop-limit orders"
        trail = await session.oms.submit(OrderRequest(symbol="BTC/USD", side=Side.BUY, qty=D("0.01"), type=OrderType.TRAILING_STOP, trail_percent=D("2"), tif=TimeInForce.GTC))
        placed = fake.order_by_cid(trail.client_id)
        assert (trail.status, placed.type, placed.trailing_delta) == (OrderStatus.ACCEPTED, "STOP_LOSS", 200)
        by_amount = await session.oms.submit(OrderRequest(symbol="BTC/USD", side=Side.BUY, qty=D("0.01"), type=OrderType.TRAILING_STOP, trail_amount=D("500"), tif=TimeInForce.GTC))
        assert by_amount.status is OrderStatus.REJECTED and by_amount.reason == "binance trails by a percentage only (e.g. --trail 2%)"
        eur_trail = await session.oms.submit(OrderRequest(symbol="EUR/USD", side=Side.BUY, qty=D("100"), type=OrderType.TRAILING_STOP, trail_percent=D("1"), tif=TimeInForce.GTC))
        assert eur_trail.reason == "binance (EUR/USDT) does not support trailing-stop orders"
    finally:
        await session.stop()


async def test_fill_while_the_stream_is_down_is_journaled_once_after_reconnect(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path)
    states: list[str] = []
    session.bus.subscribe(ConnectionState, lambda s: states.append(s.state))
    try:
        order = await session.oms.submit(buy("0.01", type=OrderType.LIMIT, limit_price=D("59950"), tif=TimeInForce.GTC))
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED, what="accepted")
        fake.drop_streams(refuse=True)
        await until(lambda: "reconnecting" in states, what="reconnecting")
        fake.fill(order.client_id)  # nobody is listening
        await asyncio.sleep(0.3)
        assert session.oms.orders[order.id].status is OrderStatus.ACCEPTED
        fake.allow_streams()
        await until(lambda: states[-1:] == ["connected"], timeout=10, what="reconnected")
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="fill after resync")
        await settle(session)
        assert len(session.journal.fills()) == 1
        assert session.portfolio.qty("BTC/USD") == D("0.01")
        fake.set_quote("BTCUSDT", "60100.00", "60101.00")  # and the quote stream is back
        await until(lambda: session.quotes.get("BTC/USD").bid == 60100.0, what="quotes after reconnect")
    finally:
        await session.stop()


async def test_silent_quote_stream_is_detected_and_restarted(fake, keys, tmp_path):
    fake.start_ticking(hz=40)
    session = await open_session(fake, tmp_path, stale_seconds=0.5)
    states: list[str] = []
    session.bus.subscribe(ConnectionState, lambda s: states.append(s.state))
    try:
        await until(lambda: session.quotes.count > 5, what="ticks")
        before = fake.ws_connections
        fake.muted = True  # connected, but nothing arrives
        await until(lambda: "reconnecting" in states, timeout=5, what="silence detected")
        fake.muted = False
        await until(lambda: states[-1:] == ["connected"] and fake.ws_connections > before, timeout=5, what="restarted stream")
        count = session.quotes.count
        await until(lambda: session.quotes.count > count + 3, what="ticks after restart")
    finally:
        await session.stop()


async def test_dead_but_open_order_stream_is_detected_by_keepalive_and_restarted(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path, ping_seconds=0.2, stale_seconds=60)
    details: list[str] = []
    session.bus.subscribe(ConnectionState, lambda s: details.append(f"{s.state}: {s.detail}"))
    try:
        order = await session.oms.submit(buy("0.01", type=OrderType.LIMIT, limit_price=D("59950"), tif=TimeInForce.GTC))
        fake.hung = True  # sockets stay open; nothing comes back, not even a pong
        await until(lambda: any(d.startswith("reconnecting: orders stream") for d in details), timeout=5, what="dead stream detected")
        fake.hung = False
        await until(lambda: details[-1:] == ["connected: "], timeout=5, what="restarted")
        fake.fill(order.client_id)
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="fill on the new stream")
    finally:
        await session.stop()


async def test_lost_submit_answer_is_looked_up_not_resent(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path, submit_timeout_seconds=0.5)
    try:
        fake.swallow_submits = 1
        order = await session.oms.submit(buy("0.01", type=OrderType.LIMIT, limit_price=D("59000"), tif=TimeInForce.GTC))
        assert order.status is OrderStatus.ACCEPTED
        assert fake.count("POST", "order") == 1
        assert [o.cid for o in fake.orders.values()] == [order.client_id]
        assert session.oms.orders[order.id].broker_id == str(fake.order_by_cid(order.client_id).order_id)
    finally:
        fake.release_swallowed()
        await session.stop()


async def test_missing_keys_name_the_variable(fake, monkeypatch):
    monkeypatch.delenv("WORKSTATION_BINANCE_API_KEY", raising=False)
    monkeypatch.delenv("WORKSTATION_BINANCE_SECRET", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    broker = CcxtBroker(CcxtConfig(**profile_options(fake)), LiveClock())
    with pytest.raises(BrokerUnavailable, match="WORKSTATION_BINANCE_API_KEY"):
        await broker.connect()
    assert fake.requests == []


async def test_unreachable_venue_names_host_and_port(keys):
    broker = CcxtBroker(CcxtConfig(exchange="binance", url_override="http://127.0.0.1:9", connect_timeout_seconds=3), LiveClock())
    with pytest.raises(BrokerUnavailable, match=r"cannot reach binance at 127\.0\.0\.1:9"):
        await broker.connect()
    await broker.close()


async def test_unknown_symbol_is_a_broker_error(fake, keys):
    broker = CcxtBroker(CcxtConfig(**profile_options(fake)), LiveClock())
    await broker.connect()
    try:
        with pytest.raises(BrokerError, match="binance trades currency pairs"):
            await broker.instrument("AAPL")
        with pytest.raises(BrokerError, match=r"tried XYZ/USD, XYZ/USDT"):
            await broker.instrument("XYZ/USD")
    finally:
        await broker.close()


async def test_keys_never_reach_the_log(fake, keys, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    session = await open_session(fake, tmp_path)
    try:
        await session.oms.submit(buy("0.01"))
        fake.drop_streams()
        await asyncio.sleep(0.3)
        fake.api_key = "rotated"  # our key is now refused: errors everywhere
        await session.oms.submit(buy("0.01"))
        await asyncio.sleep(0.3)
    finally:
        await session.stop()
    journal = (session.journal.path).read_bytes()
    assert KEY not in caplog.text and SECRET not in caplog.text
    assert KEY.encode() not in journal and SECRET.encode() not in journal


async def test_without_websockets_quotes_and_fills_are_polled(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path, websockets=False, poll_seconds=0.1)
    try:
        order = await session.oms.submit(buy("0.01", type=OrderType.LIMIT, limit_price=D("59990"), tif=TimeInForce.GTC))
        fake.set_quote("BTCUSDT", "60200.00", "60201.00")
        await until(lambda: session.quotes.get("BTC/USD").bid == 60200.0, what="polled quote")
        fake.fill(order.client_id)
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="polled fill")
        assert fake.ws_connections == 0
        assert len(session.journal.fills()) == 1
    finally:
        await session.stop()


async def test_history_comes_from_the_exchanges_klines(fake, keys):
    broker = CcxtBroker(CcxtConfig(**profile_options(fake)), LiveClock())
    await broker.connect()
    try:
        end = fake._now / 1000
        bars = await broker.history("BTC/USD", 60, end - 3600, end)
        assert 59 <= len(bars) <= 61 and {b.symbol for b in bars} == {"BTC/USD"}
        assert all(b.seconds == 60 and b.high >= b.low for b in bars)
        assert bars[1].ts - bars[0].ts == 60
        with pytest.raises(BrokerError, match="binance has no 7s bars"):
            await broker.history("BTC/USD", 7, end - 60, end)
    finally:
        await broker.close()


async def test_fill_while_the_workstation_was_closed_is_journaled_once_on_restart(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path)
    order = await session.oms.submit(buy("0.01", type=OrderType.LIMIT, limit_price=D("59950"), tif=TimeInForce.GTC))
    await session.stop()
    fake.fill(order.client_id, "0.004")
    fake.fill(order.client_id)
    for _ in range(2):  # the first restart books the fills; the second finds nothing new
        session = await open_session(fake, tmp_path)
        try:
            assert session.oms.orders[order.id].status is OrderStatus.FILLED
            assert [f.qty for f in session.journal.fills()] == [D("0.004"), D("0.006")]
            assert session.portfolio.qty("BTC/USD") == D("0.01")
        finally:
            await session.stop()


def test_keys_from_the_os_keyring(monkeypatch):
    import keyring
    from keyring.backend import KeyringBackend

    from brokers.exchanges.adapter import load_keys

    class Memory(KeyringBackend):
        priority = 1

        def get_password(self, service, username):
            return {"binance-api-key": "kr-key", "binance-secret": "kr-secret"}.get(username) if service == "workstation" else None

        def set_password(self, service, username, password):
            raise NotImplementedError

        def delete_password(self, service, username):
            raise NotImplementedError

    monkeypatch.delenv("WORKSTATION_BINANCE_API_KEY", raising=False)
    monkeypatch.delenv("WORKSTATION_BINANCE_SECRET", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(Memory())
    try:
        assert load_keys("binance") == ("kr-key", "kr-secret")
    finally:
        keyring.set_keyring(previous)


def test_only_brokers_import_ccxt():
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(p.relative_to(root)) for p in root.rglob("*.py")
        if p.parts[len(root.parts)] not in ("brokers", "tests", "bench", ".venv")
        and re.search(r"^\s*(import|from)\s+ccxt\b", p.read_text(encoding="utf-8"), re.M)
    ]
    assert offenders == []
    probe = "import sys, workstation.cli.app, workstation.trading.session, brokers.factory; print('ccxt' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.strip() == "False"


async def test_replace_racing_a_complete_fill_books_the_fill_and_sends_nothing_new(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path)
    try:
        order = await session.oms.submit(buy("0.01", type=OrderType.LIMIT, limit_price=D("59900"), tif=TimeInForce.GTC))
        fake.drop_streams(refuse=True)  # the fill's report will not come on the stream
        fake.fill(order.client_id)
        with pytest.raises(OrderError, match="filled on binance before it could be replaced"):
            await session.oms.replace_order(order.id, qty=D("0.02"), limit_price=D("59950"))
        assert session.oms.orders[order.id].status is OrderStatus.FILLED
        assert len(fake.orders) == 1 and fake.count("POST", "order") == 1
        assert len(session.journal.fills()) == 1 and session.portfolio.qty("BTC/USD") == D("0.01")
    finally:
        fake.allow_streams()
        await session.stop()


async def test_restart_finds_fills_of_journaled_orders_in_markets_it_does_not_stream(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path)  # streams BTC/USD only
    order = await session.oms.submit(buy("0.5", symbol="ETH/USD", type=OrderType.LIMIT, limit_price=D("2990"), tif=TimeInForce.GTC))
    await session.stop()
    fake.fill(order.client_id)
    fake.balances["ETH"] = [D(0), D(0)]  # and moved off the exchange: no balance points at ETH
    session = await open_session(fake, tmp_path)
    try:
        assert session.oms.orders[order.id].status is OrderStatus.FILLED
        assert [(f.symbol, f.qty) for f in session.journal.fills()] == [("ETH/USD", D("0.5"))]
    finally:
        await session.stop()


async def test_a_fiat_pair_trades_where_the_exchange_lists_it(fake, keys, tmp_path):
    session = await open_session(fake, tmp_path, symbols=("EUR/USD",))
    try:
        inst = await session.oms.instrument("EUR/USD")
        assert (inst.asset_class.value, inst.tick_size, inst.lot_size) == ("forex", D("0.0001"), D("0.1"))
        order = await session.oms.submit(buy("1000", symbol="EUR/USD", type=OrderType.LIMIT, limit_price=D("1.0849"), tif=TimeInForce.GTC))
        placed = fake.order_by_cid(order.client_id)
        assert (placed.symbol, placed.qty, placed.price) == ("EURUSDT", D("1000"), D("1.0849"))
        fake.fill(order.client_id)
        await until(lambda: session.portfolio.qty("EUR/USD") == D("1000"), what="EUR position")
    finally:
        await session.stop()
