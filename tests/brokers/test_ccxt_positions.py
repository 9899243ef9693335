"""Positions and account from a ccxt exchange (the binance fake): a cost the exchange cannot
tell is never reported as a made-up number, averages carry no division noise, and the
account's buying power is the exchange's free balance."""

from __future__ import annotations

from decimal import Decimal

from tests.fakes.binance_session import fake, keys, open_session  # noqa: F401 (fixtures)
from workstation.core.model import OrderRequest, OrderStatus, OrderType, Side, TimeInForce

D = Decimal


async def _buy(session, qty: str, price: str) -> None:
    order = await session.oms.submit(OrderRequest(symbol="BTC/USD", side=Side.BUY, qty=D(qty), type=OrderType.LIMIT, limit_price=D(price), tif=TimeInForce.GTC))
    return order


async def test_the_journals_average_survives_an_exchange_without_trades(fake, keys, tmp_path):  # noqa: F811
    session = await open_session(fake, tmp_path)
    try:
        order = await _buy(session, "0.01", "59000")
        fake.fill(order.client_id)
        from tests.fakes.binance_session import until

        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="fill")
        assert session.portfolio.position("BTC/USD").avg_price == D("59000")
    finally:
        await session.stop()
    fake.trades.clear()  # the exchange no longer has the trade (older than it keeps)
    session = await open_session(fake, tmp_path)  # the resync adopts the exchange's positions
    try:
        pos = session.portfolio.position("BTC/USD")
        assert (pos.qty, pos.avg_price) == (D("0.01"), D("59000"))
    finally:
        await session.stop()


async def test_a_balance_its_trades_do_not_explain_has_no_cost(fake, keys, tmp_path):  # noqa: F811
    fake.balances["BTC"] = [D("1"), D(0)]  # a deposit: no trade bought it
    session = await open_session(fake, tmp_path)
    try:
        order = await _buy(session, "0.01", "59000")
        fake.fill(order.client_id)
        from tests.fakes.binance_session import until

        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="fill")
        positions = {p.symbol: p for p in await session.broker.positions()}
        assert positions["BTC/USD"].qty == D("1.01")
        assert positions["BTC/USD"].avg_price == 0  # unknown, not 59000 for all of it, nor the last price
    finally:
        await session.stop()


async def test_an_average_of_several_buys_is_rounded_to_eight_places(fake, keys, tmp_path):  # noqa: F811
    from tests.fakes.binance_session import until

    session = await open_session(fake, tmp_path)
    try:
        for qty, price in (("0.01", "58000"), ("0.02", "59000")):
            order = await _buy(session, qty, price)
            fake.fill(order.client_id)
            await until(lambda o=order: session.oms.orders[o.id].status is OrderStatus.FILLED, what="fill")
        positions = {p.symbol: p for p in await session.broker.positions()}
        assert positions["BTC/USD"].avg_price == D("58666.66666667")  # not 58666.66666666666666666666667
    finally:
        await session.stop()


async def test_the_account_is_the_exchanges_own(fake, keys, tmp_path):  # noqa: F811
    fake.balances["USDT"] = [D("20000"), D(0)]
    session = await open_session(fake, tmp_path)
    try:
        order = await _buy(session, "0.1", "59000")  # rests: 5,900 USDT locked for it
        assert session.oms.orders[order.id].status is OrderStatus.ACCEPTED, session.oms.orders[order.id].reason
        account = await session.broker.account()
        assert account.from_broker is True
        assert account.cash == D("20000") and account.buying_power == D("14100")  # the free balance
    finally:
        await session.stop()
