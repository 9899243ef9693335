"""Symbols to IB contracts and back; order types and time in force on the wire; profile settings."""

from decimal import Decimal

import pytest

from brokers.ib.adapter import IBConfig, default_port
from brokers.ib.contracts import contract_for, symbol_for
from tests.fakes.ib_harness import ib_session, until
from workstation.core.config import ConfigError, Settings, load_settings
from workstation.core.model import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from workstation.core.symbols import parse_symbol


@pytest.mark.parametrize(
    ("symbol", "wire"),
    [
        ("AAPL", ("STK", "AAPL", "", 0.0, "", "SMART", "USD")),
        ("BRK.B", ("STK", "BRK B", "", 0.0, "", "SMART", "USD")),
        ("EUR/USD", ("CASH", "EUR", "", 0.0, "", "IDEALPRO", "USD")),
        ("BTC/USD", ("CRYPTO", "BTC", "", 0.0, "", "PAXOS", "USD")),
        ("ES-2026-12", ("FUT", "ES", "202612", 0.0, "", "CME", "USD")),
        ("AAPL-2026-12-18-200-C", ("OPT", "AAPL", "20261218", 200.0, "C", "SMART", "USD")),
    ],
)
def test_symbols_map_to_ib_contracts_and_back(symbol, wire):
    c = contract_for(parse_symbol(symbol))
    assert (c.secType, c.symbol, c.lastTradeDateOrContractMonth, c.strike, c.right, c.exchange, c.currency) == wire
    if c.secType == "FUT":
        c.lastTradeDateOrContractMonth = "20261218"  # as IB reports it
    assert symbol_for(c) == symbol


def test_ports_follow_tws_and_gateway_conventions():
    assert (default_port(False, False), default_port(True, False), default_port(False, True), default_port(True, True)) == (7497, 7496, 4002, 4001)
    settings = Settings()
    assert IBConfig.from_profile(settings.profile("ib-paper")).port == 7497
    live = settings.profile("ib-live")
    assert live.live and IBConfig.from_profile(live).port == 7496


def test_a_settings_table_merges_over_the_built_in_ib_profile(home):
    home.mkdir(parents=True)
    (home / "settings.toml").write_text('[profiles.ib-paper]\noptions = { gateway = true, client_id = 12 }\n')
    profile = load_settings().profile("ib-paper")
    config = IBConfig.from_profile(profile)
    assert (profile.broker, config.port, config.client_id) == ("ib", 4002, 12)
    (home / "settings.toml").write_text('[profiles.ib-paper]\noptions = { prot = 4002 }\n')
    with pytest.raises(ConfigError, match="unknown IB option.*prot"):
        IBConfig.from_profile(load_settings().profile("ib-paper"))


async def test_stop_and_stop_limit_orders_reach_tws_with_their_prices_and_tif(home):
    async with ib_session(home, ["AAPL"]) as (session, fake):
        stop = await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.SELL, qty=Decimal(5), type=OrderType.STOP,
                                                     stop_price=Decimal("170"), tif=TimeInForce.GTC))
        stop_limit = await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(5), type=OrderType.STOP_LIMIT,
                                                           stop_price=Decimal("190"), limit_price=Decimal("190.5")))
        await until(lambda: all(session.oms.orders[o.id].status is OrderStatus.ACCEPTED for o in (stop, stop_limit)), what="acks")
        a, b = fake.order_by_ref(stop.client_id), fake.order_by_ref(stop_limit.client_id)
        assert (a.action, a.order_type, a.aux_price, a.lmt_price, a.tif) == ("SELL", "STP", 170.0, None, "GTC")
        assert (b.action, b.order_type, b.aux_price, b.lmt_price, b.tif) == ("BUY", "STP LMT", 190.0, 190.5, "DAY")
        states = {o.client_id: o for o in await session.broker.open_orders()}
        assert states[stop.client_id].stop_price == Decimal(170) and states[stop_limit.client_id].limit_price == Decimal("190.5")


async def test_trailing_stop_goes_out_as_an_ib_trail_order(home):
    async with ib_session(home, ["AAPL"]) as (session, fake):
        fake.push_quote(265598, 184.9, 185.1, 185.0)
        await until(lambda: session.quotes.get("AAPL"), what="quote")
        order = await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.SELL, qty=Decimal(5),
                                                      type=OrderType.TRAILING_STOP, trail_amount=Decimal("1.50")))
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.ACCEPTED, what="ack")
        at_ib = fake.order_by_ref(order.client_id)
        assert (at_ib.order_type, at_ib.aux_price) == ("TRAIL", 1.5)


async def test_tick_and_lot_come_from_ibs_contract_details(home):
    async with ib_session(home) as (session, fake):
        btc = await session.broker.instrument("BTC/USD")
        assert (btc.tick_size, btc.lot_size, btc.exchange) == (Decimal("0.25"), Decimal("0.00000001"), "PAXOS")
        aapl = await session.broker.instrument("AAPL")
        assert (aapl.tick_size, aapl.lot_size, aapl.exchange, aapl.multiplier) == (Decimal("0.01"), Decimal(1), "NASDAQ", Decimal(1))
        with pytest.raises(Exception, match="IB has no contract for ZZZZ"):
            await session.broker.instrument("ZZZZ")
