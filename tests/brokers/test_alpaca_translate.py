"""The Alpaca adapter's pure parts: translation both ways, keys, pacing. No network."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import keyring
import keyring.backend
import pytest

from brokers.alpaca import (
    Backoff,
    RateLimiter,
    dec,
    find_keys,
    instrument_from_asset,
    order_request,
    our_client_id,
    our_symbol,
    parse_time,
    report_from_update,
    to_float,
)
from brokers.base import BrokerAccepted, BrokerError, BrokerFill, BrokerRejected, BrokerReplaced, BrokerUnavailable
from workstation.core.clock import SimClock
from workstation.core.model import Order, OrderType, Side, TimeInForce


def order(**kw) -> Order:
    base = dict(id="1", client_id="wsabc-1", symbol="AAPL", side=Side.BUY, qty=Decimal(3), type=OrderType.MARKET, tif=TimeInForce.DAY)
    return Order(**{**base, **kw})


def test_order_requests_for_every_type_carry_our_client_id():
    fields = order_request(order(), crypto=False).to_request_fields()
    assert fields == {"symbol": "AAPL", "qty": 3.0, "side": "buy", "type": "market", "time_in_force": "day", "client_order_id": "wsabc-1"}
    limit = order_request(order(type=OrderType.LIMIT, limit_price=Decimal("185.37")), crypto=False).to_request_fields()
    assert (limit["type"], limit["limit_price"]) == ("limit", 185.37)
    stop = order_request(order(type=OrderType.STOP, stop_price=Decimal("180"), side=Side.SELL), crypto=False).to_request_fields()
    assert (stop["type"], stop["stop_price"], stop["side"]) == ("stop", 180.0, "sell")
    sl = order_request(order(type=OrderType.STOP_LIMIT, stop_price=Decimal("180"), limit_price=Decimal("179.5")), crypto=False).to_request_fields()
    assert (sl["type"], sl["stop_price"], sl["limit_price"]) == ("stop_limit", 180.0, 179.5)
    trail = order_request(order(type=OrderType.TRAILING_STOP, trail_amount=Decimal("1.25"), side=Side.SELL), crypto=False).to_request_fields()
    assert (trail["type"], trail["trail_price"]) == ("trailing_stop", 1.25)
    gtc = order_request(order(symbol="BTC/USD", qty=Decimal("0.0123"), tif=TimeInForce.GTC), crypto=True).to_request_fields()
    assert (gtc["symbol"], gtc["qty"], gtc["time_in_force"]) == ("BTC/USD", 0.0123, "gtc")


def test_a_crypto_day_order_goes_as_gtc():
    """Crypto never closes: the default time in force (day) is sent as gtc, as the ccxt adapter does."""
    day = order_request(order(symbol="BTC/USD", qty=Decimal("0.01")), crypto=True).to_request_fields()
    assert day["time_in_force"] == "gtc"
    stock = order_request(order(), crypto=False).to_request_fields()
    assert stock["time_in_force"] == "day"


def test_orders_alpaca_cannot_take_are_refused_by_name():
    with pytest.raises(BrokerError, match="gtc or ioc, not fok"):
        order_request(order(symbol="BTC/USD", tif=TimeInForce.FOK), crypto=True)
    with pytest.raises(BrokerError, match="no trailing stops for crypto"):
        order_request(order(symbol="BTC/USD", tif=TimeInForce.GTC, type=OrderType.TRAILING_STOP, trail_percent=Decimal(1)), crypto=True)


def test_decimals_go_out_only_when_a_float_carries_them_exactly():
    assert to_float(Decimal("60000.01"), "price") == 60000.01
    with pytest.raises(BrokerError, match="more digits"):
        to_float(Decimal("0.12345678901234567891"), "quantity")


def test_numbers_come_back_as_exact_decimals():
    assert dec("185.37") == Decimal("185.37") and dec(0.1) == Decimal("0.1") and dec(3) == Decimal(3)


def test_symbols_and_client_ids_map_back():
    assert our_symbol("BTCUSD", "crypto") == "BTC/USD" and our_symbol("ETHBTC", "crypto") == "ETH/BTC"
    assert our_symbol("AAPL", "us_equity") == "AAPL" and our_symbol("BTC/USD", "crypto") == "BTC/USD"
    assert our_client_id("wsabc-7.r18c3f") == "wsabc-7" and our_client_id("wsabc-7") == "wsabc-7"


def test_nanosecond_timestamps_parse():
    assert parse_time("2026-11-20T14:30:00.123456789Z") == pytest.approx(1795185000.123456)


def test_trade_updates_become_reports():
    o = {"id": "A1", "client_order_id": "wsabc-1.r1", "symbol": "AAPL", "side": "buy", "qty": "10", "filled_qty": "4", "asset_class": "us_equity", "limit_price": "190.5"}
    ts = "2026-11-20T14:30:00Z"
    assert report_from_update({"event": "new", "order": o, "timestamp": ts}, 0) == BrokerAccepted(client_id="wsabc-1", broker_id="A1", ts=parse_time(ts))
    fill = report_from_update({"event": "partial_fill", "order": o, "timestamp": ts, "qty": "4", "price": "190.49", "execution_id": "x"}, 0)
    assert isinstance(fill, BrokerFill) and (fill.exec_id, fill.qty, fill.price) == ("A1@4", Decimal(4), Decimal("190.49"))
    rej = report_from_update({"event": "rejected", "order": o, "timestamp": ts, "reason": "market closed"}, 0)
    assert rej == BrokerRejected(client_id="wsabc-1", reason="Alpaca: market closed", ts=parse_time(ts))
    rep = report_from_update({"event": "replaced", "order": o, "timestamp": ts}, 0)
    assert rep == BrokerReplaced(client_id="wsabc-1", qty=Decimal(10), limit_price=Decimal("190.5"), ts=parse_time(ts))
    assert report_from_update({"event": "pending_cancel", "order": o, "timestamp": ts}, 0) is None


def test_instrument_metadata_from_assets():
    eq = instrument_from_asset("GME", {"class": "us_equity", "status": "active", "tradable": True, "fractionable": False, "exchange": "NYSE"})
    assert (eq.tick_size, eq.lot_size, eq.exchange) == (Decimal("0.01"), Decimal(1), "NYSE")
    btc = instrument_from_asset("BTC/USD", {"class": "crypto", "status": "active", "tradable": True, "min_trade_increment": 1e-09, "price_increment": 1.0})
    assert (btc.tick_size, btc.lot_size, btc.base, btc.currency) == (Decimal(1), Decimal("1E-9"), "BTC", "USD")
    with pytest.raises(BrokerError, match="not tradable"):
        instrument_from_asset("OLD", {"class": "us_equity", "status": "inactive", "tradable": False})


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self, values: dict[tuple[str, str], str]) -> None:
        super().__init__()
        self.values = values

    def get_password(self, service, username):
        return self.values.get((service, username))

    def set_password(self, service, username, password):
        self.values[(service, username)] = password

    def delete_password(self, service, username):
        self.values.pop((service, username), None)


def test_keys_from_environment_then_keyring_and_missing_ones_named():
    assert find_keys({"APCA_API_KEY_ID": "k", "APCA_API_SECRET_KEY": "s"}) == ("k", "s")
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring({("workstation-alpaca", "APCA_API_KEY_ID"): "kr", ("workstation-alpaca", "APCA_API_SECRET_KEY"): "sr"}))
    try:
        assert find_keys({}) == ("kr", "sr")
        keyring.set_keyring(MemoryKeyring({("workstation-alpaca", "APCA_API_KEY_ID"): "kr"}))
        with pytest.raises(BrokerUnavailable, match="^APCA_API_SECRET_KEY is not set"):
            find_keys({})
    finally:
        keyring.set_keyring(previous)


def test_backoff_grows_with_jitter_and_caps():
    import random

    b = Backoff(1.0, 30.0, random.Random(7))
    delays = [b.delay(n) for n in range(1, 8)]
    for n, d in enumerate(delays, start=1):
        cap = min(30.0, 2 ** (n - 1))
        assert cap / 2 <= d <= cap
    assert len(set(delays)) == len(delays)


async def test_rate_limiter_paces_beyond_the_burst(monkeypatch):
    clock = SimClock(0.0)
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    limiter = RateLimiter(120, clock)  # 2 per second after a burst of 120
    for _ in range(122):
        await limiter.acquire()
    assert len(slept) == 2 and all(s == pytest.approx(0.5) for s in slept)


def test_nothing_outside_brokers_imports_alpaca():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in [*root.glob("workstation/**/*.py"), *root.glob("plugins/**/*.py"), root / "main.py"]:
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text.startswith(("import alpaca", "from alpaca")):
                offenders.append(f"{path.relative_to(root)}: {text}")
    assert offenders == []


def test_keys_in_the_settings_file_are_refused():
    from brokers.alpaca import AlpacaBroker
    from workstation.core.config import ConfigError, Profile

    with pytest.raises(ConfigError, match="keys do not belong in the settings file"):
        AlpacaBroker(Profile(name="alpaca-paper", broker="alpaca", options={"secret_key": "x"}), SimClock(0))


def test_prices_and_quantities_round_trip_exactly_through_the_sdk():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=60, deadline=None)
    @given(st.integers(min_value=1, max_value=10**12), st.integers(min_value=0, max_value=9))
    def check(units: int, places: int) -> None:
        d = Decimal(units).scaleb(-places)
        if len(d.as_tuple().digits) > 15:
            return
        sent = order_request(order(type=OrderType.LIMIT, limit_price=d, qty=d), crypto=False).to_request_fields()
        assert dec(sent["limit_price"]) == d and dec(sent["qty"]) == d  # what Alpaca reads is what we meant

    check()
