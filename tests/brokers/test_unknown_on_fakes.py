"""A submit whose answer is lost and whose lookup fails, on each adapter's fake with its real
SDK: the order is ``unknown`` (never rejected, never resent) until evidence settles it."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.alpaca_support import fake as alpaca_fake  # noqa: F401 (fixture)
from tests.alpaca_support import settings_for, until, write_settings
from tests.conftest import run_cli
from tests.fakes.alpaca_fake import KEY, SECRET
from tests.fakes.binance_session import fake as binance_fake  # noqa: F401 (fixture)
from tests.fakes.binance_session import keys, open_session  # noqa: F401 (fixture)
from tests.fakes.ib_harness import ib_session
from workstation.core.model import AlertRaised, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from workstation.trading import oms as oms_module
from workstation.trading.session import Session

KEYS = {"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


@pytest.fixture(autouse=True)
def quick_lookups(monkeypatch):
    monkeypatch.setattr(oms_module, "SETTLE_DELAYS", (0.1,))


def limit(symbol: str, qty: str, price: str, **kw) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=Side.BUY, qty=Decimal(qty), type=OrderType.LIMIT, limit_price=Decimal(price), **kw)


async def test_alpaca_unanswered_submit_and_failed_lookup_is_unknown_then_settled_by_a_lookup(alpaca_fake, home, monkeypatch):  # noqa: F811
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    s = Session.build(settings_for(alpaca_fake, request_timeout=0.5), "alpaca-paper")
    alerts: list[AlertRaised] = []
    s.bus.subscribe(AlertRaised, alerts.append)
    await s.start(["AAPL"])
    try:
        alpaca_fake.swallow_next_submit()
        alpaca_fake.fail_lookups = 10**6
        order = await s.oms.submit(limit("AAPL", "2", "180"))
        assert s.oms.orders[order.id].status is OrderStatus.UNKNOWN
        assert any(a.title == "Order state unknown" for a in alerts)
        alpaca_fake.fail_lookups = 0  # the broker answers again: the next lookup settles it
        await until(lambda: s.oms.orders[order.id].status is OrderStatus.ACCEPTED, what="settled by a lookup")
        assert len(alpaca_fake.orders_for(order.client_id)) == 1
        assert [m for m, p, _ in alpaca_fake.requests if p == "/v2/orders"].count("POST") == 1
    finally:
        await s.stop()


async def test_ccxt_unanswered_submit_and_failed_lookup_is_unknown_then_settled_and_filled_once(binance_fake, keys, tmp_path):  # noqa: F811
    session = await open_session(binance_fake, tmp_path, submit_timeout_seconds=0.5)
    try:
        binance_fake.hung = True  # the user stream says nothing either
        binance_fake.swallow_submits = 1
        binance_fake.fail_lookups = 10**6
        order = await session.oms.submit(limit("BTC/USD", "0.01", "59000", tif=TimeInForce.GTC))
        assert session.oms.orders[order.id].status is OrderStatus.UNKNOWN
        assert binance_fake.count("POST", "order") == 1
        binance_fake.release_swallowed()
        binance_fake.fail_lookups = 0
        binance_fake.hung = False
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED, timeout=10, what="settled")
        binance_fake.fill(order.client_id)
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, timeout=10, what="filled")
        assert [f.order_id for f in session.journal.fills()] == [order.id]  # booked against the order, not as external
        assert binance_fake.count("POST", "order") == 1
    finally:
        binance_fake.hung = False
        binance_fake.release_swallowed()
        await session.stop()


async def test_ib_unanswered_submit_and_failed_lookup_is_unknown_then_settled_by_a_lookup(home):
    async with ib_session(home, ["AAPL"], submit_timeout=0.3, request_timeout=0.3) as (session, fake):
        fake.swallow_answers = 1
        fake.fail_lookups = 10**6
        order = await session.oms.submit(limit("AAPL", "10", "180"))
        assert session.oms.orders[order.id].status is OrderStatus.UNKNOWN
        assert "do not resend" in session.oms.orders[order.id].reason
        fake.fail_lookups = 0
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED, timeout=10, what="settled by a lookup")
        assert len(fake.orders) == 1
        assert sum(1 for r in fake.requests if r[0] == "3") == 1  # placeOrder went out once


@pytest.mark.slow
def test_cli_exits_3_on_an_unknown_order_and_the_next_command_settles_it(alpaca_fake, home):  # noqa: F811
    write_settings(home, alpaca_fake, request_timeout=0.5)
    alpaca_fake.swallow_next_submit()
    alpaca_fake.fail_lookups = 10**6
    r = run_cli("buy", "2", "AAPL", "--limit", "180", "--profile", "alpaca-paper", home=home, env=KEYS)
    assert r.returncode == 3, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "UNKNOWN" in lines[0] and "do not resend" in lines[0], r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert [m for m, p, _ in alpaca_fake.requests if p == "/v2/orders"].count("POST") == 1
    alpaca_fake.fail_lookups = 0
    done = run_cli("orders", "--profile", "alpaca-paper", "--json", home=home, env=KEYS)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    rows = rows if isinstance(rows, list) else rows.get("orders", rows)
    assert [row["status"] for row in rows] == ["accepted"]  # the resync found it working at the broker
    assert [m for m, p, _ in alpaca_fake.requests if p == "/v2/orders"].count("POST") == 1
