"""The paper broker's matching engine: every order type, time in force, fill and report rule.

Most tests script the quotes (``Script``, a SimMarket whose quotes the test sets) so each
rule is checked against exact prices; a few run against the real simulated market.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal as D
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from brokers.base import (
    Broker,
    BrokerAccepted,
    BrokerCanceled,
    BrokerError,
    BrokerExpired,
    BrokerFill,
    BrokerRejected,
    BrokerReplaced,
    BrokerReport,
)
from brokers.paper.broker import SimBroker, SimConfig, SimMarket
from workstation.core.clock import SimClock
from workstation.core.model import (
    ConnectionState,
    Order,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    TimeInForce,
)
from workstation.core.symbols import parse_symbol

NY = ZoneInfo("America/New_York")
# Tuesday 10 June 2025, 11:00 New York: a normal trading day
T0 = datetime(2025, 6, 10, 11, 0, tzinfo=NY).timestamp()
_ids = count(1)


class Script(SimMarket):
    """A market whose quotes the test sets: ``set(symbol, bid, ask, bid_size, ask_size)``."""

    def __init__(self) -> None:
        super().__init__(0)
        self.book: dict[str, tuple[float, float, float, float]] = {}

    def set(self, symbol: str, bid: float, ask: float, bid_size: float = 1000, ask_size: float = 1000) -> None:
        self.book[parse_symbol(symbol).symbol] = (bid, ask, bid_size, ask_size)

    def quote(self, symbol: str, t: float) -> Quote:
        bid, ask, bid_size, ask_size = self.book[parse_symbol(symbol).symbol]
        return Quote(parse_symbol(symbol).symbol, t, bid, ask, bid, bid_size, ask_size, 0.0, bid)

    def quotes(self, symbols: Sequence[str], t: float) -> list[Quote]:
        return [self.quote(s, t) for s in symbols]


class Rig:
    """A broker on a SimClock with recorded reports, quotes and connection states."""

    def __init__(self, config: SimConfig | None = None, market: SimMarket | None = None, start: float = T0) -> None:
        self.clock = SimClock(start)
        self.market = market if market is not None else Script()
        self.broker = SimBroker(self.clock, config or SimConfig(), self.market)
        self.reports: list[BrokerReport] = []
        self.quotes: list[Quote] = []
        self.states: list[ConnectionState] = []
        self.broker.attach(self.reports.append, self.quotes.append, self.states.append)

    def quote(self, symbol: str, bid: float, ask: float, bid_size: float = 1000, ask_size: float = 1000) -> None:
        assert isinstance(self.market, Script)
        self.market.set(symbol, bid, ask, bid_size, ask_size)

    def tick(
        self, symbol: str, bid: float, ask: float, bid_size: float = 1000, ask_size: float = 1000
    ) -> list[BrokerReport]:
        """Set a new quote half a second later and step; return the reports it caused."""
        self.quote(symbol, bid, ask, bid_size, ask_size)
        self.clock.advance(0.5)
        before = len(self.reports)
        self.broker.step()
        return self.reports[before:]

    async def submit(self, **fields: object) -> Order:
        order = make_order(**fields)
        await self.broker.submit(order)
        return order

    def of(self, client_id: str, kind: type[BrokerReport] = BrokerReport) -> list[BrokerReport]:
        return [r for r in self.reports if r.client_id == client_id and isinstance(r, kind)]

    def kinds(self, client_id: str) -> list[str]:
        """The kinds of an order's reports in order: "accepted", "fill", "canceled"..."""
        return [type(r).__name__.removeprefix("Broker").lower() for r in self.of(client_id)]

    def fills(self, client_id: str) -> list[BrokerFill]:
        return [r for r in self.reports if isinstance(r, BrokerFill) and r.client_id == client_id]


def make_order(**fields: object) -> Order:
    n = next(_ids)
    base: dict[str, object] = {
        "id": f"o{n}", "client_id": f"c{n}", "symbol": "AAPL", "side": Side.BUY, "qty": D(100),
        "type": OrderType.MARKET, "tif": TimeInForce.DAY, "status": OrderStatus.SUBMITTED,
    }
    base.update(fields)
    return Order(**base)  # type: ignore[arg-type]


def accepted_first(rig: Rig) -> None:
    """Every order's BrokerAccepted precedes its fills."""
    seen: set[str] = set()
    for r in rig.reports:
        if isinstance(r, BrokerAccepted):
            seen.add(r.client_id)
        if isinstance(r, BrokerFill):
            assert r.client_id in seen


# ----------------------------------------------------------------------------- market orders


async def test_market_buy_fills_at_ask_and_sell_at_bid() -> None:
    rig = Rig()
    rig.quote("AAPL", 100.00, 100.02)
    buy = await rig.submit(side=Side.BUY, qty=D(100))
    sell = await rig.submit(side=Side.SELL, qty=D(50))
    assert rig.kinds(buy.client_id) == ["accepted", "fill"]
    assert rig.fills(buy.client_id)[0].price == D("100.02")
    assert rig.fills(sell.client_id)[0].price == D("100.00")
    fill = rig.fills(buy.client_id)[0]
    assert (fill.qty, fill.symbol, fill.side) == (D(100), "AAPL", "buy")
    assert fill.exec_id == f"sim-{buy.client_id}-100"
    accepted = rig.of(buy.client_id, BrokerAccepted)[0]
    assert isinstance(accepted, BrokerAccepted) and accepted.broker_id == f"paper-{buy.client_id}"
    assert await rig.broker.open_orders() == []


async def test_market_order_against_the_real_simulated_market_fills_at_its_quote() -> None:
    rig = Rig(market=SimMarket(seed=3), config=SimConfig(partial_fills=False))
    q = rig.broker.snapshot("MSFT")
    assert q is not None
    order = await rig.submit(symbol="MSFT", qty=D(10), side=Side.SELL)
    (fill,) = rig.fills(order.client_id)
    assert fill.price == D(repr(q.bid)) and fill.ts == T0
    accepted_first(rig)


# ----------------------------------------------------------------------------- limits


async def test_marketable_limit_fills_at_the_touch_not_the_limit() -> None:
    rig = Rig()
    rig.quote("AAPL", 100.00, 100.50)
    order = await rig.submit(type=OrderType.LIMIT, limit_price=D("101.00"))
    assert [f.price for f in rig.fills(order.client_id)] == [D("100.5")]


async def test_resting_limit_fills_at_its_limit_when_reached() -> None:
    rig = Rig()
    rig.quote("AAPL", 99.98, 100.00)
    order = await rig.submit(type=OrderType.LIMIT, limit_price=D("99.00"))
    assert rig.fills(order.client_id) == []
    (state,) = await rig.broker.open_orders()
    assert state.status == "accepted" and state.limit_price == D("99.00")
    assert rig.tick("AAPL", 99.10, 99.20) == []
    (fill,) = rig.tick("AAPL", 98.80, 98.90)
    assert isinstance(fill, BrokerFill) and fill.price == D("99.00")


async def test_sell_limit_rests_above_the_market() -> None:
    rig = Rig()
    rig.quote("AAPL", 100.00, 100.02)
    order = await rig.submit(side=Side.SELL, type=OrderType.LIMIT, limit_price=D("100.50"))
    assert rig.fills(order.client_id) == []
    (fill,) = rig.tick("AAPL", 100.50, 100.52)
    assert isinstance(fill, BrokerFill) and fill.price == D("100.50")


# ----------------------------------------------------------------------------- stops


async def test_sell_stop_triggers_when_the_bid_trades_through_then_fills_as_market() -> None:
    rig = Rig()
    rig.quote("AAPL", 96.00, 96.02)
    order = await rig.submit(side=Side.SELL, type=OrderType.STOP, stop_price=D("95.00"))
    assert rig.fills(order.client_id) == []
    assert rig.tick("AAPL", 95.01, 95.03) == []
    (fill,) = rig.tick("AAPL", 94.50, 94.52)
    assert isinstance(fill, BrokerFill) and fill.price == D("94.50")


async def test_buy_stop_triggers_on_the_ask() -> None:
    rig = Rig()
    rig.quote("AAPL", 99.00, 99.02)
    order = await rig.submit(type=OrderType.STOP, stop_price=D("100.00"))
    assert rig.tick("AAPL", 99.97, 99.99) == []
    (fill,) = rig.tick("AAPL", 99.99, 100.01)
    assert isinstance(fill, BrokerFill) and fill.price == D("100.01") and fill.client_id == order.client_id


async def test_stop_already_through_on_arrival_fills_at_once() -> None:
    rig = Rig()
    rig.quote("AAPL", 99.00, 99.02)
    order = await rig.submit(side=Side.SELL, type=OrderType.STOP, stop_price=D("100.00"))
    assert [f.price for f in rig.fills(order.client_id)] == [D("99.00")]


async def test_stop_limit_triggers_then_rests_then_fills_at_its_limit() -> None:
    rig = Rig()
    rig.quote("AAPL", 96.00, 96.02)
    await rig.submit(side=Side.SELL, type=OrderType.STOP_LIMIT, stop_price=D("95.00"), limit_price=D("94.80"))
    assert rig.tick("AAPL", 94.50, 94.52) == []  # triggered, but the bid is below the limit: rests
    (state,) = await rig.broker.open_orders()
    assert state.limit_price == D("94.80")
    assert rig.tick("AAPL", 94.70, 94.72) == []
    (fill,) = rig.tick("AAPL", 94.90, 94.92)  # the bid reaches the resting limit
    assert isinstance(fill, BrokerFill) and fill.price == D("94.80")


async def test_stop_limit_marketable_at_the_trigger_fills_at_the_touch() -> None:
    rig = Rig()
    rig.quote("AAPL", 96.00, 96.02)
    order = await rig.submit(side=Side.SELL, type=OrderType.STOP_LIMIT, stop_price=D("95.00"), limit_price=D("94.00"))
    (fill,) = rig.tick("AAPL", 94.50, 94.52)
    assert isinstance(fill, BrokerFill) and fill.price == D("94.50") and fill.client_id == order.client_id


async def test_stop_limit_stays_triggered_after_the_market_comes_back() -> None:
    rig = Rig()
    rig.quote("AAPL", 96.00, 96.02)
    await rig.submit(side=Side.SELL, type=OrderType.STOP_LIMIT, stop_price=D("95.00"), limit_price=D("95.50"))
    assert rig.tick("AAPL", 94.90, 94.92) == []  # triggered; the limit 95.50 is above the bid
    (fill,) = rig.tick("AAPL", 95.60, 95.62)  # back above the stop: the resting limit fills
    assert isinstance(fill, BrokerFill) and fill.price == D("95.50")


# ----------------------------------------------------------------------------- trailing stops


async def test_trailing_sell_stop_follows_the_highest_bid_then_triggers() -> None:
    rig = Rig()
    rig.quote("AAPL", 100.00, 100.02)
    order = await rig.submit(side=Side.SELL, type=OrderType.TRAILING_STOP, trail_amount=D("1.00"))
    (state,) = await rig.broker.open_orders()
    assert state.stop_price == D("99.00")
    assert rig.tick("AAPL", 102.00, 102.02) == []
    assert (await rig.broker.open_orders())[0].stop_price == D("101.00")
    assert rig.tick("AAPL", 101.50, 101.52) == []  # falls back: the stop stays at 101
    assert (await rig.broker.open_orders())[0].stop_price == D("101.00")
    (fill,) = rig.tick("AAPL", 100.90, 100.92)
    assert isinstance(fill, BrokerFill) and fill.price == D("100.90") and fill.client_id == order.client_id


async def test_trailing_buy_stop_in_percent_follows_the_lowest_ask_rounded_up() -> None:
    rig = Rig()
    rig.quote("AAPL", 99.98, 100.00)
    await rig.submit(side=Side.BUY, type=OrderType.TRAILING_STOP, trail_percent=D("1.5"))
    assert (await rig.broker.open_orders())[0].stop_price == D("101.50")
    assert rig.tick("AAPL", 97.01, 97.03) == []
    # 97.03 * 1.015 = 98.48545, rounded up to the tick
    assert (await rig.broker.open_orders())[0].stop_price == D("98.49")
    (fill,) = rig.tick("AAPL", 98.48, 98.50)
    assert isinstance(fill, BrokerFill) and fill.price == D("98.50")


# ----------------------------------------------------------------------------- time in force


async def test_ioc_fills_what_it_can_and_cancels_the_rest() -> None:
    rig = Rig(SimConfig(depth=False))  # the top-of-book rule (the paper book's walk is tested in test_paper_depth)
    rig.quote("AAPL", 100.00, 100.02, ask_size=300)
    order = await rig.submit(qty=D(1000), tif=TimeInForce.IOC)
    assert rig.kinds(order.client_id) == ["accepted", "fill", "canceled"]
    assert rig.fills(order.client_id)[0].qty == D(300)
    cancel = rig.of(order.client_id, BrokerCanceled)[0]
    assert isinstance(cancel, BrokerCanceled) and cancel.reason == "IOC: 700 of 1000 unfilled"
    assert await rig.broker.open_orders() == []


async def test_ioc_limit_that_cannot_fill_is_canceled_whole() -> None:
    rig = Rig()
    rig.quote("AAPL", 100.00, 100.02)
    order = await rig.submit(type=OrderType.LIMIT, limit_price=D("99.00"), tif=TimeInForce.IOC)
    assert rig.kinds(order.client_id) == ["accepted", "canceled"]


async def test_fok_without_enough_displayed_size_is_canceled_whole() -> None:
    rig = Rig(SimConfig(depth=False))  # the top-of-book rule (the paper book's walk is tested in test_paper_depth)
    rig.quote("AAPL", 100.00, 100.02, ask_size=300)
    order = await rig.submit(qty=D(1000), tif=TimeInForce.FOK)
    assert rig.kinds(order.client_id) == ["accepted", "canceled"]
    cancel = rig.of(order.client_id, BrokerCanceled)[0]
    assert isinstance(cancel, BrokerCanceled) and cancel.reason == "FOK: only 300 of 1000 available at 100.02"


async def test_fok_limit_beyond_the_market_is_canceled_with_the_reason() -> None:
    rig = Rig()
    rig.quote("AAPL", 100.00, 100.02)
    order = await rig.submit(type=OrderType.LIMIT, limit_price=D("99.50"), tif=TimeInForce.FOK)
    cancel = rig.of(order.client_id, BrokerCanceled)[0]
    assert isinstance(cancel, BrokerCanceled) and cancel.reason == "FOK: the ask 100.02 does not reach the limit 99.5"


async def test_fok_with_enough_size_fills_completely_in_one_fill() -> None:
    rig = Rig()
    rig.quote("AAPL", 100.00, 100.02, ask_size=5000)
    order = await rig.submit(qty=D(1000), tif=TimeInForce.FOK)
    assert rig.kinds(order.client_id) == ["accepted", "fill"]
    assert rig.fills(order.client_id)[0].qty == D(1000)


async def test_day_order_expires_at_the_17_00_new_york_roll_with_calendar_always() -> None:
    rig = Rig()
    rig.quote("AAPL", 100.00, 100.02)
    order = await rig.submit(type=OrderType.LIMIT, limit_price=D("90.00"))
    gtc = await rig.submit(type=OrderType.LIMIT, limit_price=D("90.00"), tif=TimeInForce.GTC)
    roll = datetime(2025, 6, 10, 17, 0, tzinfo=NY).timestamp()
    rig.clock.set(roll - 1)
    rig.broker.step()
    assert rig.of(order.client_id, BrokerExpired) == []
    rig.clock.set(roll)
    rig.broker.step()
    assert rig.kinds(order.client_id) == ["accepted", "expired"]
    assert [s.client_id for s in await rig.broker.open_orders()] == [gtc.client_id]


async def test_day_order_expires_at_the_16_00_close_with_calendar_nyse() -> None:
    rig = Rig(SimConfig(calendar="nyse"))
    rig.quote("AAPL", 100.00, 100.02)
    order = await rig.submit(type=OrderType.LIMIT, limit_price=D("90.00"))
    rig.clock.set(datetime(2025, 6, 10, 16, 0, tzinfo=NY).timestamp())
    rig.broker.step()
    assert rig.kinds(order.client_id) == ["accepted", "expired"]


async def test_crypto_day_order_expires_at_the_roll_even_with_calendar_nyse() -> None:
    rig = Rig(SimConfig(calendar="nyse"))
    rig.quote("BTC/USD", 95000.00, 95001.00)
    order = await rig.submit(symbol="BTC/USD", qty=D("0.5"), type=OrderType.LIMIT, limit_price=D(90000))
    rig.clock.set(datetime(2025, 6, 10, 16, 30, tzinfo=NY).timestamp())
    rig.broker.step()
    assert rig.of(order.client_id, BrokerExpired) == []
    rig.clock.set(datetime(2025, 6, 10, 17, 0, tzinfo=NY).timestamp())
    rig.broker.step()
    assert len(rig.of(order.client_id, BrokerExpired)) == 1


# ----------------------------------------------------------------------------- partial fills


async def test_partial_fills_take_the_displayed_size_per_quote_with_unique_exec_ids() -> None:
    rig = Rig(SimConfig(depth=False))  # the top-of-book rule (the paper book's walk is tested in test_paper_depth)
    rig.quote("AAPL", 100.00, 100.02, ask_size=300)
    order = await rig.submit(qty=D(1000))
    rig.tick("AAPL", 100.01, 100.03, ask_size=400)
    (state,) = await rig.broker.open_orders()
    assert state.status == "partially_filled" and state.filled_qty == D(700)
    rig.tick("AAPL", 100.02, 100.04, ask_size=500)
    fills = rig.fills(order.client_id)
    assert [f.qty for f in fills] == [D(300), D(400), D(300)]
    assert [f.price for f in fills] == [D("100.02"), D("100.03"), D("100.04")]
    assert len({f.exec_id for f in fills}) == 3
    assert await rig.broker.open_orders() == []
    accepted_first(rig)


async def test_partial_fill_quantities_are_whole_lots() -> None:
    rig = Rig(SimConfig(depth=False))  # the top-of-book rule (the paper book's walk is tested in test_paper_depth)
    rig.quote("BTC/USD", 95000.00, 95001.00, ask_size=0.123456)
    order = await rig.submit(symbol="BTC/USD", qty=D("0.5"))
    fills = rig.fills(order.client_id)
    assert [f.qty for f in fills] == [D("0.1234")]
    lot = parse_symbol("BTC/USD").lot_size
    assert all(f.qty % lot == 0 for f in fills)


async def test_partial_fills_off_fills_everything_at_once() -> None:
    rig = Rig(SimConfig(partial_fills=False))
    rig.quote("AAPL", 100.00, 100.02, ask_size=300)
    order = await rig.submit(qty=D(5000))
    assert [f.qty for f in rig.fills(order.client_id)] == [D(5000)]


async def test_resting_limit_fills_partially_at_its_limit() -> None:
    rig = Rig()
    rig.quote("AAPL", 99.98, 100.00)
    order = await rig.submit(type=OrderType.LIMIT, limit_price=D("99.50"), qty=D(500))
    rig.tick("AAPL", 99.40, 99.45, ask_size=200)
    rig.tick("AAPL", 99.40, 99.45, ask_size=200)
    rig.tick("AAPL", 99.40, 99.45, ask_size=200)
    fills = rig.fills(order.client_id)
    assert [(f.qty, f.price) for f in fills] == [(D(200), D("99.5")), (D(200), D("99.5")), (D(100), D("99.5"))]


# ----------------------------------------------------------------------------- costs


async def test_commission_per_share_with_a_minimum() -> None:
    rig = Rig(SimConfig(commission_per_share=D("0.005"), commission_min=D("1.00"), partial_fills=False))
    rig.quote("AAPL", 100.00, 100.02)
    small = await rig.submit(qty=D(100))
    large = await rig.submit(qty=D(1000))
    assert rig.fills(small.client_id)[0].commission == D("1.00")
    assert rig.fills(large.client_id)[0].commission == D("5.00")


async def test_commission_percent_of_notional_uses_the_multiplier() -> None:
    rig = Rig(SimConfig(commission_pct=D("0.01")))
    rig.quote("ES-2026-12", 6000.00, 6000.25)
    order = await rig.submit(symbol="ES-2026-12", qty=D(2))
    # 6000.25 * 2 * 50 * 0.01% = 60.0025 -> 60.00
    assert rig.fills(order.client_id)[0].commission == D("60.00")


async def test_commission_combines_per_share_and_percent_and_rounds_to_the_cent() -> None:
    config = SimConfig(commission_per_share=D("0.0035"), commission_pct=D("0.02"))
    broker = SimBroker(SimClock(T0), config, Script())
    inst = parse_symbol("AAPL")
    # 0.0035 * 333 = 1.1655; 0.02% of 33,333.33 = 6.666666
    assert broker.estimate_commission(inst, D(333), D("100.10")) == D("7.83")
    assert SimBroker(SimClock(T0), SimConfig(), Script()).estimate_commission(inst, D(333), D("100.10")) == D(0)


async def test_slippage_moves_the_price_against_the_trader_on_the_tick() -> None:
    rig = Rig(SimConfig(slippage_bps=D(10)))
    rig.quote("AAPL", 100.00, 100.02)
    buy = await rig.submit(side=Side.BUY)
    sell = await rig.submit(side=Side.SELL)
    # buy: 100.02 * 1.001 = 100.12002 -> up to 100.13; sell: 100 * 0.999 = 99.90
    assert rig.fills(buy.client_id)[0].price == D("100.13")
    assert rig.fills(sell.client_id)[0].price == D("99.9")


async def test_slippage_in_ticks_and_capped_at_a_marketable_limit() -> None:
    rig = Rig(SimConfig(slippage_ticks=3))
    rig.quote("ES-2026-12", 6000.00, 6000.25)
    market = await rig.submit(symbol="ES-2026-12", qty=D(1))
    limit = await rig.submit(symbol="ES-2026-12", qty=D(1), type=OrderType.LIMIT, limit_price=D("6000.50"))
    assert rig.fills(market.client_id)[0].price == D(6001)
    assert rig.fills(limit.client_id)[0].price == D("6000.5")


# ----------------------------------------------------------------------------- cancel, replace, reject


async def test_cancel_removes_the_order_and_unknown_orders_raise() -> None:
    rig = Rig()
    rig.quote("AAPL", 100.00, 100.02)
    order = await rig.submit(type=OrderType.LIMIT, limit_price=D("90.00"))
    await rig.broker.cancel(order)
    assert rig.kinds(order.client_id) == ["accepted", "canceled"]
    assert rig.tick("AAPL", 89.00, 89.02) == []
    with pytest.raises(BrokerError, match=f"order {order.client_id} is not working"):
        await rig.broker.cancel(order)


async def test_replace_updates_in_place_then_matches_as_an_arrival() -> None:
    rig = Rig()
    rig.quote("AAPL", 100.00, 100.02)
    order = await rig.submit(type=OrderType.LIMIT, limit_price=D("99.00"), qty=D(100))
    await rig.broker.replace(order, D(200), D("99.50"), None)
    replaced = rig.of(order.client_id, BrokerReplaced)
    assert len(replaced) == 1 and isinstance(replaced[0], BrokerReplaced)
    assert replaced[0].qty == D(200) and replaced[0].limit_price == D("99.50")
    (state,) = await rig.broker.open_orders()
    assert state.qty == D(200) and state.limit_price == D("99.50")
    await rig.broker.replace(order, D(200), D("100.10"), None)  # now marketable: fills at the ask
    assert [(f.qty, f.price) for f in rig.fills(order.client_id)] == [(D(200), D("100.02"))]
    with pytest.raises(BrokerError, match="is not working"):
        await rig.broker.replace(order, D(300), D("100.10"), None)


async def test_replace_refuses_a_quantity_below_the_filled_part_and_off_tick_prices() -> None:
    rig = Rig(SimConfig(depth=False))  # the top-of-book rule (the paper book's walk is tested in test_paper_depth)
    rig.quote("AAPL", 99.40, 99.45, ask_size=200)
    order = await rig.submit(type=OrderType.LIMIT, limit_price=D("99.50"), qty=D(500))
    with pytest.raises(BrokerError, match="must exceed the 200 already filled"):
        await rig.broker.replace(order, D(150), D("99.50"), None)
    with pytest.raises(BrokerError, match=r"off the 0\.01 tick"):
        await rig.broker.replace(order, D(500), D("99.505"), None)
    assert (await rig.broker.open_orders())[0].qty == D(500)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"qty": D("1.5")}, "quantity must be a positive whole number, got 1.5"),
        ({"type": OrderType.LIMIT}, "a limit order needs a limit price"),
        ({"type": OrderType.LIMIT, "limit_price": D("100.001")}, "limit price 100.001 is off the 0.01 tick for AAPL"),
        ({"type": OrderType.STOP_LIMIT, "limit_price": D(100)}, "a stop-limit order needs a stop price"),
        ({"type": OrderType.TRAILING_STOP}, "a trailing stop needs exactly one of a trail amount and a trail percent"),
        (
            {"type": OrderType.TRAILING_STOP, "trail_percent": D(120)},
            "trail percent must be between 0 and 100, got 120",
        ),
        ({"symbol": "NOT A SYMBOL"}, "must not contain spaces"),
        ({"symbol": "BTC/USD", "qty": D("0.00001")}, "is not a multiple of the 0.0001 lot for BTC/USD"),
    ],
)
async def test_bad_orders_are_rejected_with_a_readable_reason(fields: dict[str, object], reason: str) -> None:
    rig = Rig()
    rig.quote("AAPL", 100.00, 100.02)
    order = await rig.submit(**fields)
    (report,) = rig.of(order.client_id)
    assert isinstance(report, BrokerRejected) and reason in report.reason


async def test_a_working_client_id_cannot_be_submitted_twice() -> None:
    rig = Rig()
    rig.quote("AAPL", 100.00, 100.02)
    order = await rig.submit(type=OrderType.LIMIT, limit_price=D("90.00"))
    with pytest.raises(BrokerError, match="already working"):
        await rig.broker.submit(order)


async def test_closed_market_rejects_day_orders_and_keeps_gtc_orders_for_the_open() -> None:
    saturday = datetime(2025, 6, 14, 12, 0, tzinfo=NY).timestamp()
    rig = Rig(SimConfig(calendar="nyse"), start=saturday)
    rig.quote("AAPL", 100.00, 100.02)
    day = await rig.submit()
    (report,) = rig.of(day.client_id)
    assert isinstance(report, BrokerRejected) and "the market for AAPL is closed" in report.reason
    gtc = await rig.submit(tif=TimeInForce.GTC)
    assert rig.kinds(gtc.client_id) == ["accepted"]
    rig.broker.step()
    assert rig.fills(gtc.client_id) == []
    rig.clock.set(datetime(2025, 6, 16, 9, 30, tzinfo=NY).timestamp())  # Monday's open
    rig.broker.step()
    assert [f.price for f in rig.fills(gtc.client_id)] == [D("100.02")]
    rig.clock.set(datetime(2025, 6, 21, 12, 0, tzinfo=NY).timestamp())  # the next Saturday
    rig.quote("BTC/USD", 95000.00, 95001.00)
    crypto = await rig.submit(symbol="BTC/USD", qty=D(1))  # crypto trades 24/7
    assert rig.kinds(crypto.client_id) == ["accepted", "fill"]


# ----------------------------------------------------------------------------- restore


async def test_restore_puts_orders_back_without_acceptance_and_matches_them() -> None:
    rig = Rig()
    rig.quote("AAPL", 98.00, 98.02)
    resting = make_order(
        type=OrderType.LIMIT, limit_price=D("99.00"), status=OrderStatus.ACCEPTED, qty=D(100), created=T0 - 60
    )
    far = make_order(type=OrderType.LIMIT, limit_price=D("90.00"), status=OrderStatus.PARTIALLY_FILLED, qty=D(300),
                     filled_qty=D(100), tif=TimeInForce.GTC, broker_id="paper-old", created=T0 - 86_400 * 3)
    stale = make_order(type=OrderType.LIMIT, limit_price=D("90.00"), status=OrderStatus.ACCEPTED, created=T0 - 86_400)
    done = make_order(status=OrderStatus.FILLED)
    rig.broker.restore([resting, far, stale, done])
    assert not any(isinstance(r, BrokerAccepted) for r in rig.reports)
    # the marketable resting limit fills at its limit, not at the touch
    assert [(f.qty, f.price) for f in rig.fills(resting.client_id)] == [(D(100), D("99.00"))]
    # the DAY order from yesterday expired at yesterday's roll
    assert rig.kinds(stale.client_id) == ["expired"]
    assert rig.of(done.client_id) == []
    (state,) = await rig.broker.open_orders()
    assert (state.client_id, state.broker_id) == (far.client_id, "paper-old")
    assert (state.filled_qty, state.status) == (D(100), "partially_filled")
    (fill,) = rig.tick("AAPL", 89.00, 89.02)
    assert isinstance(fill, BrokerFill) and fill.qty == D(200) and fill.exec_id == f"sim-{far.client_id}-300"


# ----------------------------------------------------------------------------- the broker surface


async def test_step_quotes_subscribed_symbols_and_symbols_with_working_orders() -> None:
    rig = Rig(market=SimMarket(seed=1))
    await rig.broker.subscribe(["aapl", "EUR/USD"])
    await rig.submit(symbol="MSFT", type=OrderType.LIMIT, limit_price=D("1.00"), tif=TimeInForce.GTC)
    quotes = rig.broker.step()
    assert [q.symbol for q in quotes] == ["AAPL", "EUR/USD", "MSFT"]
    assert rig.quotes == quotes and all(q.ts == T0 for q in quotes)
    await rig.broker.unsubscribe(["AAPL"])
    rig.clock.advance(0.5)
    assert [q.symbol for q in rig.broker.step()] == ["EUR/USD", "MSFT"]


async def test_broker_surface() -> None:
    rig = Rig(market=SimMarket(seed=2))
    broker = rig.broker
    assert isinstance(broker, Broker)
    assert broker.name == "paper" and broker.keeps_account is False
    assert (await broker.instrument("aapl-2026-12-18-200-c")).symbol == "AAPL-2026-12-18-200-C"
    with pytest.raises(BrokerError, match="malformed symbol"):
        await broker.instrument("$$$")
    assert broker.snapshot("$$$") is None
    snap = broker.snapshot("NVDA")
    assert snap is not None and snap == SimMarket(seed=2).quote("NVDA", T0)
    bars = await broker.history("NVDA", 60, T0 - 3600, T0)
    assert len(bars) == 60 and bars[-1].ts == T0 - 60
    assert await broker.positions() == [] and await broker.account() is None
    order = await rig.submit(symbol="NVDA", qty=D(1))
    rig.clock.advance(10)
    later = await rig.submit(symbol="NVDA", qty=D(1))
    assert [f.client_id for f in await broker.fills_since(T0 + 5)] == [later.client_id]
    assert [f.client_id for f in await broker.fills_since(0)] == [order.client_id, later.client_id]


async def test_lookup_reports_working_and_finished_orders() -> None:
    rig = Rig()
    rig.quote("AAPL", 100.00, 100.02)
    resting = await rig.submit(type=OrderType.LIMIT, limit_price=D("90.00"))
    filled = await rig.submit()
    rejected = await rig.submit(qty=D("0.5"))
    broker = rig.broker
    state = await broker.lookup(resting.client_id)
    assert state is not None and state.status == "accepted" and state.broker_id == f"paper-{resting.client_id}"
    await broker.cancel(resting)
    states = [await broker.lookup(o.client_id) for o in (resting, filled, rejected)]
    assert [s.status if s else None for s in states] == ["canceled", "filled", "rejected"]
    assert states[1] is not None and states[1].filled_qty == D(100)
    assert await broker.lookup("never-seen") is None


async def test_connect_steps_the_market_on_its_own_and_close_stops_it() -> None:
    rig = Rig(SimConfig(tick_hz=200.0), market=SimMarket())
    await rig.broker.subscribe(["SPY"])
    await rig.broker.connect()
    for _ in range(200):
        if len(rig.quotes) >= 3:
            break
        await asyncio.sleep(0.005)
    await rig.broker.close()
    assert [s.state for s in rig.states] == ["connected", "disconnected"]
    assert len(rig.quotes) >= 3 and {q.symbol for q in rig.quotes} == {"SPY"}
    seen = len(rig.quotes)
    await asyncio.sleep(0.02)
    assert len(rig.quotes) == seen


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="calendar must be one of always, nyse"):
        SimConfig(calendar="lse")
    with pytest.raises(ValueError, match="tick_hz must be positive"):
        SimConfig(tick_hz=0)
    with pytest.raises(ValueError, match="commission_min must not be negative"):
        SimConfig(commission_min=D(-1))
