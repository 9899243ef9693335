"""The IB account as TWS states it: buying power, margin requirements, excess liquidity and day
trades left come from the account values, marked as the broker's own figures."""

from decimal import Decimal

from tests.fakes.ib_harness import ib_session
from tests.fakes.tws_fake import FakeTWS

AAPL = 265598


async def test_account_carries_tws_margin_and_day_trade_figures(home):
    fake = FakeTWS(cash=100_000.0)
    fake.positions[AAPL] = (200.0, 150.0)  # 200 shares at 150: 30,000 gross
    fake.day_trades_remaining = 2
    async with ib_session(home, fake=fake) as (session, fake):
        acct = await session.broker.account()
        assert acct.from_broker is True
        assert acct.equity == Decimal("130000.00")
        assert (acct.initial_margin, acct.maintenance_margin) == (Decimal("15000.00"), Decimal("7500.00"))
        assert acct.excess_liquidity == Decimal("122500.00")
        assert acct.buying_power == Decimal("460000.00")  # TWS's BuyingPower, not equity x leverage
        assert acct.day_trades_left == 2


async def test_unlimited_day_trades_are_not_a_count(home):
    fake = FakeTWS()
    fake.day_trades_remaining = -1
    async with ib_session(home, fake=fake) as (session, fake):
        acct = await session.broker.account()
        assert acct.day_trades_left is None and acct.from_broker is True
        assert acct.initial_margin == Decimal("0.00") and acct.excess_liquidity == acct.equity


async def test_float_noise_from_tws_is_rounded_away(home):
    fake = FakeTWS()
    fake.positions[AAPL] = (10.0, 150.1 + 0.2)  # TWS prints 150.29999999999998
    fake.positions[fake.contract("ES").con_id] = (3.0, 5866.7 + 1 / 3)  # per point: 5867.033333333333
    async with ib_session(home, fake=fake) as (session, fake):
        positions = {p.symbol: p for p in await session.broker.positions()}
        assert positions["AAPL"].avg_price == Decimal("150.3")
        # IB's cost per contract (293351.6666666667, read to 12 significant digits) over the multiplier, to 8 places
        assert positions["ES-2026-12"].avg_price == Decimal("5867.03333334")
