"""The paper market under ``calendar = "exchange"``: every instrument trades its venue's real
regular session (NYSE holidays and early closes, CME futures hours, the FX week, crypto 24/7)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from brokers.base import BrokerRejected
from brokers.paper.broker import SimConfig
from brokers.paper.market import SimMarket, is_open
from tests.brokers.test_sim_matching import Rig
from workstation.core.model import OrderType, TimeInForce

NY = ZoneInfo("America/New_York")


def ny(*a: int) -> float:
    return datetime(*a, tzinfo=NY).timestamp()


async def test_a_day_order_on_thanksgiving_is_refused_and_a_gtc_waits_for_the_next_open() -> None:
    rig = Rig(SimConfig(calendar="exchange"), start=ny(2028, 11, 23, 11))
    rig.quote("AAPL", 100.00, 100.02)
    day = await rig.submit()
    (report,) = rig.of(day.client_id)
    assert isinstance(report, BrokerRejected) and "the market for AAPL is closed" in report.reason
    gtc = await rig.submit(tif=TimeInForce.GTC)
    rig.broker.step()
    assert rig.kinds(gtc.client_id) == ["accepted"]
    rig.clock.set(ny(2028, 11, 24, 9, 30))
    rig.broker.step()
    assert [f.price for f in rig.fills(gtc.client_id)] == [D("100.02")]


async def test_a_day_order_expires_at_the_early_close() -> None:
    rig = Rig(SimConfig(calendar="exchange"), start=ny(2028, 11, 24, 10))
    rig.quote("AAPL", 100.00, 100.02)
    order = await rig.submit(type=OrderType.LIMIT, limit_price=D("90.00"))
    rig.clock.set(ny(2028, 11, 24, 12, 59))
    rig.broker.step()
    assert rig.kinds(order.client_id) == ["accepted"]
    rig.clock.set(ny(2028, 11, 24, 13, 0))
    rig.broker.step()
    assert rig.kinds(order.client_id) == ["accepted", "expired"]


def test_the_broker_says_each_symbol_s_session() -> None:
    rig = Rig(SimConfig(calendar="exchange"), start=ny(2028, 3, 13, 8))
    assert rig.broker.session("AAPL", ny(2028, 3, 13, 8)) == "pre"
    assert rig.broker.session("AAPL", ny(2028, 3, 13, 17)) == "post"
    assert rig.broker.session("AAPL", ny(2028, 3, 11, 12)) == "closed"
    assert rig.broker.session("BTC/USD", ny(2028, 3, 11, 12)) == "regular"
    assert rig.broker.session("ES-2028-06", ny(2028, 3, 13, 20)) == "regular"
    assert not is_open("AAPL", ny(2028, 3, 13, 8), "exchange")


async def test_futures_follow_cme_hours_not_the_nyse() -> None:
    evening = ny(2028, 3, 14, 20)  # a Tuesday evening: Globex trades, the NYSE is shut
    rig = Rig(SimConfig(calendar="exchange"), start=evening)
    rig.quote("ES-2028-06", 6000.00, 6000.25)
    order = await rig.submit(symbol="ES-2028-06", qty=D(1))
    assert rig.kinds(order.client_id) == ["accepted", "fill"]
    assert not is_open("ES-2028-06", evening, "nyse")  # the older calendar: NYSE hours
    assert not is_open("EUR/USD", ny(2028, 3, 11, 12), "exchange")  # the FX weekend


def test_always_is_still_the_default_and_always_regular() -> None:
    rig = Rig()
    assert rig.broker.config.calendar == "always"
    assert rig.broker.session("AAPL", ny(2028, 11, 23, 3)) == "regular"


def test_bars_under_the_exchange_calendar_stop_at_the_early_close() -> None:
    market = SimMarket()
    bars = market.bars("AAPL", 60, ny(2028, 11, 24, 0), ny(2028, 11, 25, 0), "exchange")
    assert bars[0].ts == ny(2028, 11, 24, 9, 30) and bars[-1].ts == ny(2028, 11, 24, 12, 59)
    assert market.bars("AAPL", 60, ny(2028, 11, 23, 0), ny(2028, 11, 24, 0), "exchange") == []
    es = market.bars("ES-2028-12", 3600, ny(2028, 11, 21, 0), ny(2028, 11, 22, 0), "exchange")
    assert len(es) == 23  # the Globex day less its hour's halt
