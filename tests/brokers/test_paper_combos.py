"""The paper broker's combo book: a spread fills atomically (every leg at its own touch, or no
leg at all), a limit rests until the legs' net touch reaches it, and a combo is canceled,
looked up, expired and restored after a restart like any order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from brokers.base import BrokerAccepted, BrokerCanceled, BrokerError, BrokerExpired, BrokerFill, BrokerRejected, BrokerReport
from brokers.paper.broker import SimBroker, SimConfig, SimMarket
from workstation.core.clock import SimClock
from workstation.core.model import BUY, SELL, Leg, Order, OrderStatus, OrderType, Quote, TimeInForce
from workstation.core.symbols import parse_symbol

import pytest

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 12, 1, 11, 0, tzinfo=NY).timestamp()
P200, P190, P180 = "SPY-2026-12-18-600-P", "SPY-2026-12-18-590-P", "SPY-2026-12-18-580-P"
BUTTERFLY = (Leg(symbol=P200, side=BUY), Leg(symbol=P190, side=SELL, ratio=2), Leg(symbol=P180, side=BUY))


class Script(SimMarket):
    def __init__(self) -> None:
        super().__init__(0)
        self.book: dict[str, tuple[float, float]] = {}

    def set(self, symbol: str, bid: float, ask: float) -> None:
        self.book[parse_symbol(symbol).symbol] = (bid, ask)

    def quote(self, symbol: str, t: float) -> Quote:
        sym = parse_symbol(symbol).symbol
        bid, ask = self.book.get(sym, (600.0, 600.02))
        return Quote(sym, t, bid, ask, bid, 10, 10, 0.0, bid)

    def quotes(self, symbols: Sequence[str], t: float) -> list[Quote]:
        return [self.quote(s, t) for s in symbols]


class Rig:
    def __init__(self, config: SimConfig | None = None) -> None:
        self.clock = SimClock(T0)
        self.market = Script()
        self.market.set(P200, 9.00, 9.20)
        self.market.set(P190, 5.00, 5.10)
        self.market.set(P180, 2.60, 2.70)
        self.broker = SimBroker(self.clock, config or SimConfig(), self.market)
        self.reports: list[BrokerReport] = []
        self.broker.attach(self.reports.append, lambda q: None, lambda s: None)
        self.n = 0

    def order(self, side=BUY, qty=3, limit: str | None = None, tif=TimeInForce.DAY, legs=BUTTERFLY) -> Order:
        self.n += 1
        return Order(
            id=str(self.n), client_id=f"c-{self.n}", symbol="SPY butterfly", side=side, qty=D(qty),
            type=OrderType.MARKET if limit is None else OrderType.LIMIT, tif=tif,
            limit_price=None if limit is None else D(limit), legs=legs, created=self.clock.time(),
            status=OrderStatus.SUBMITTED,
        )

    def fills(self, cid: str) -> list[BrokerFill]:
        return [r for r in self.reports if isinstance(r, BrokerFill) and r.client_id == cid]

    def step(self) -> None:
        self.clock.advance(0.5)
        self.broker.step()


async def test_a_market_combo_fills_every_leg_at_once_at_its_own_touch():
    rig = Rig()
    o = rig.order(qty=3)
    await rig.broker.submit(o)
    assert isinstance(rig.reports[0], BrokerAccepted)
    fills = rig.fills(o.client_id)
    # bought: 600P at its ask, 580P at its ask; sold: 2 x 590P at its bid; net 9.20 - 10.00 + 2.70 = 1.90
    assert [(f.symbol, f.side, f.qty, f.price) for f in fills] == [
        (P200, "buy", 3, D("9.20")), (P190, "sell", 6, D("5.00")), (P180, "buy", 3, D("2.70")),
    ]
    assert len({f.exec_id for f in fills}) == 3
    state = await rig.broker.lookup(o.client_id)
    assert (state.status, state.filled_qty) == ("filled", 3)
    assert await rig.broker.open_orders() == []


async def test_a_limit_under_the_net_touch_fills_no_leg_until_the_net_reaches_it():
    rig = Rig()
    o = rig.order(limit="1.80")
    await rig.broker.submit(o)
    rig.market.set(P180, 2.55, 2.65)  # 9.20 - 10.00 + 2.65 = 1.85: not yet
    rig.step()
    assert rig.fills(o.client_id) == []
    assert [s.status for s in await rig.broker.open_orders()] == ["accepted"]
    rig.market.set(P190, 5.05, 5.15)  # 9.20 - 10.10 + 2.65 = 1.75: through the limit
    rig.step()
    fills = rig.fills(o.client_id)
    assert [(f.symbol, f.price) for f in fills] == [(P200, D("9.20")), (P190, D("5.05")), (P180, D("2.65"))]
    assert all(f.ts == fills[0].ts for f in fills)  # one execution


async def test_a_sell_combo_reverses_every_leg_and_needs_at_least_its_credit():
    rig = Rig()
    o = rig.order(side=SELL, qty=1, limit="1.75")  # sold: 600P at the bid 9.00, 590P bought at 5.10, 580P sold at 2.60 = 1.40
    await rig.broker.submit(o)
    assert rig.fills(o.client_id) == []
    rig.market.set(P200, 9.35, 9.40)  # 9.35 - 10.20 + 2.60 = 1.75
    rig.step()
    assert [(f.symbol, f.side, f.qty) for f in rig.fills(o.client_id)] == [(P200, "sell", 1), (P190, "buy", 2), (P180, "sell", 1)]


async def test_a_combo_with_an_unquoted_side_fills_nothing():
    rig = Rig()
    rig.market.set(P180, 0.0, 0.0)
    o = rig.order()
    await rig.broker.submit(o)
    rig.step()
    assert rig.fills(o.client_id) == []


async def test_cancel_lookup_and_replace_refusal():
    rig = Rig()
    o = rig.order(limit="1.00", tif=TimeInForce.GTC)
    await rig.broker.submit(o)
    with pytest.raises(BrokerError, match="is a combo: cancel it and send a new one"):
        await rig.broker.replace(o, D(4), D("1.10"), None)
    await rig.broker.cancel(o)
    assert isinstance(rig.reports[-1], BrokerCanceled)
    assert (await rig.broker.lookup(o.client_id)).status == "canceled"
    with pytest.raises(BrokerError, match="is not working"):
        await rig.broker.cancel(o)


async def test_a_day_combo_expires_at_the_close_and_a_gtc_one_rests():
    rig = Rig(SimConfig(calendar="nyse"))
    day, gtc = rig.order(limit="1.00"), rig.order(limit="1.00", tif=TimeInForce.GTC)
    await rig.broker.submit(day)
    await rig.broker.submit(gtc)
    rig.clock.advance(6 * 3600)  # 17:00 New York
    rig.broker.step()
    assert [type(r) for r in rig.reports if r.client_id == day.client_id] == [BrokerAccepted, BrokerExpired]
    assert [s.client_id for s in await rig.broker.open_orders()] == [gtc.client_id]


async def test_an_unlisted_leg_is_rejected_whole():
    rig = Rig()
    legs = (Leg(symbol=P200, side=BUY), Leg(symbol="SPY-2026-12-18-601.5-P", side=SELL))
    o = rig.order(legs=legs)
    await rig.broker.submit(o)
    assert [type(r) for r in rig.reports] == [BrokerRejected]
    assert rig.fills(o.client_id) == []


async def test_a_working_combo_is_restored_after_a_restart_and_fills_on_its_own_exec_ids():
    rig = Rig()
    o = rig.order(limit="1.50", tif=TimeInForce.GTC)
    await rig.broker.submit(o)
    again = Rig()  # a new broker process: the journal hands the working order back
    again.market.set(P200, 9.00, 9.05)  # 9.05 - 10.00 + 2.70 = 1.75: not yet
    again.broker.restore([Order(**{**{f: getattr(o, f) for f in o.__struct_fields__}, "status": OrderStatus.ACCEPTED})])
    assert again.fills(o.client_id) == [] and not again.reports
    again.market.set(P180, 2.40, 2.45)  # 9.05 - 10.00 + 2.45 = 1.50
    again.step()
    assert [f.exec_id for f in again.fills(o.client_id)] == [f"sim-{o.client_id}-{sym}-3" for sym in (P200, P190, P180)]
