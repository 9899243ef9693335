"""Extended-hours orders on the paper market following the exchange's sessions: an extended
DAY limit fills pre-market; a market order pre-market is refused in one line and nothing is
written; only DAY limit orders may be marked extended; a plain limit waits for the open; the
journal keeps the mark across a restart; crypto ignores it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import msgspec
import pytest

from brokers.paper.broker import SimBroker, SimConfig, SimMarket
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.model import OrderRequest, OrderStatus, OrderType, Quote, Side, TimeInForce
from workstation.core.symbols import parse_symbol
from workstation.risk.sessions_rule import EXTENDED_ONLY
from workstation.trading.oms import OrderError
from workstation.trading.session import Session

NY = ZoneInfo("America/New_York")
PRE = datetime(2026, 12, 1, 8, 0, tzinfo=NY).timestamp()  # a Tuesday, 08:00 New York: pre-market
POST = datetime(2026, 12, 1, 17, 0, tzinfo=NY).timestamp()  # the same day, 17:00: post-market
PRE_MARKET = ("pre-market: market orders trade only in the regular session (09:30-16:00 New York); "
              "send a limit order marked extended")


class Script(SimMarket):
    """A market whose quotes the test sets."""

    def __init__(self) -> None:
        super().__init__(0)
        self.book: dict[str, tuple[float, float]] = {}

    def set(self, symbol: str, bid: float, ask: float) -> None:
        self.book[parse_symbol(symbol).symbol] = (bid, ask)

    def quote(self, symbol: str, t: float) -> Quote:
        sym = parse_symbol(symbol).symbol
        bid, ask = self.book.get(sym, (100.0, 100.02))
        return Quote(sym, t, bid, ask, bid, 1000, 1000, 0.0, bid)

    def quotes(self, symbols: Sequence[str], t: float) -> list[Quote]:
        return [self.quote(s, t) for s in symbols]


def settings() -> Settings:
    raw = {"profiles": {"paper": {"initial_cash": "100000", "risk": {"max_daily_loss_pct": None}}}, "alerts": {"bell": False}}
    return msgspec.convert(raw, Settings, strict=False)


def paper(tmp_path, t: float, calendar: str = "exchange") -> tuple[Session, SimClock]:
    clock = SimClock(t)
    market = Script()
    market.set("AAPL", 150.00, 150.02)
    broker = SimBroker(clock, SimConfig(calendar=calendar, depth=False), market)
    return Session.build(settings(), "paper", data_root=tmp_path, clock=clock, broker=broker), clock


def buy(qty: str = "10", limit: str | None = None, **kw) -> OrderRequest:
    kind = OrderType.MARKET if limit is None else OrderType.LIMIT
    return OrderRequest(symbol=kw.pop("symbol", "AAPL"), side=Side.BUY, qty=D(qty), type=kind,
                        limit_price=None if limit is None else D(limit), **kw)


async def test_an_extended_limit_fills_pre_market_and_the_journal_keeps_the_mark(tmp_path) -> None:
    s, _ = paper(tmp_path, PRE)
    await s.start(["AAPL"])
    order = await s.oms.submit(buy(limit="150.05", extended=True))
    await s.oms.drain()
    done = s.oms.orders[order.id]
    assert (done.status, done.filled_qty, done.extended) == (OrderStatus.FILLED, D(10), True)
    assert s.portfolio.position("AAPL").qty == D(10)
    await s.stop()

    again, _ = paper(tmp_path, PRE)  # a restart: the same journal
    assert again.journal.order(order.id).extended is True
    assert again.oms.orders[order.id].extended is True
    again.journal.close()


async def test_a_market_order_pre_market_is_refused_in_one_line_and_nothing_is_written(tmp_path) -> None:
    s, _ = paper(tmp_path, PRE)
    await s.start(["AAPL"])
    with pytest.raises(OrderError) as refused:
        await s.oms.submit(buy())
    assert str(refused.value) == PRE_MARKET
    assert s.journal.orders() == [] and not s.oms.orders
    await s.stop()


async def test_post_market_names_its_session(tmp_path) -> None:
    s, _ = paper(tmp_path, POST)
    await s.start(["AAPL"])
    with pytest.raises(OrderError, match="^post-market: market orders trade only in the regular session"):
        await s.oms.submit(buy())
    order = await s.oms.submit(buy(limit="150.05", extended=True))
    await s.oms.drain()
    assert s.oms.orders[order.id].status is OrderStatus.FILLED
    await s.stop()


@pytest.mark.parametrize("request_", [
    buy(extended=True),  # an extended market order
    buy(limit="150.05", tif=TimeInForce.GTC, extended=True),  # an extended GTC
    buy(limit="150.05", tif=TimeInForce.IOC, extended=True),
], ids=["market", "gtc", "ioc"])
async def test_only_day_limit_orders_may_be_extended(tmp_path, request_) -> None:
    s, _ = paper(tmp_path, PRE)
    await s.start(["AAPL"])
    with pytest.raises(OrderError) as refused:
        await s.oms.review(request_)
    assert str(refused.value) == EXTENDED_ONLY
    with pytest.raises(OrderError, match=f"^{EXTENDED_ONLY}$"):
        await s.oms.submit(request_)
    assert s.journal.orders() == []
    await s.stop()


async def test_a_plain_limit_pre_market_waits_for_the_open_and_the_review_says_so(tmp_path) -> None:
    s, clock = paper(tmp_path, PRE)
    await s.start(["AAPL"])
    review = await s.oms.review(buy(limit="150.05"))
    assert review.ok and review.session_note == "pre-market: it waits for the regular session (09:30-16:00 New York)"
    order = await s.oms.submit(buy(limit="150.05"))
    await s.oms.drain()
    s.broker.step(datetime(2026, 12, 1, 9, 29, tzinfo=NY).timestamp())  # still pre-market
    await s.oms.drain()
    assert s.oms.orders[order.id].status is OrderStatus.ACCEPTED  # marketable, yet it waits
    clock.set(datetime(2026, 12, 1, 9, 31, tzinfo=NY).timestamp())  # the open
    s.broker.step()
    await s.oms.drain()
    assert s.oms.orders[order.id].status is OrderStatus.FILLED
    await s.stop()


async def test_the_review_says_extended_hours(tmp_path) -> None:
    s, _ = paper(tmp_path, PRE)
    await s.start(["AAPL"])
    review = await s.oms.review(buy(limit="150.05", extended=True))
    assert review.ok and review.extended
    assert review.session_note.startswith("extended hours: may fill in the pre-market")
    await s.stop()


async def test_crypto_ignores_extended(tmp_path) -> None:
    s, _ = paper(tmp_path, PRE)
    await s.start(["BTC/USD"])
    review = await s.oms.review(buy(qty="1", symbol="BTC/USD", extended=True))
    assert review.ok and review.session_note == "extended hours: no effect, BTC/USD has no separate sessions"
    order = await s.oms.submit(buy(qty="1", symbol="BTC/USD", extended=True))
    await s.oms.drain()
    assert s.oms.orders[order.id].status is OrderStatus.FILLED
    await s.stop()


async def test_under_the_always_open_calendar_a_market_order_at_8_fills(tmp_path) -> None:
    s, _ = paper(tmp_path, PRE, calendar="always")
    await s.start(["AAPL"])
    order = await s.oms.submit(buy())
    await s.oms.drain()
    assert s.oms.orders[order.id].status is OrderStatus.FILLED
    await s.stop()


@pytest.mark.parametrize("session", ["pre", "regular", "post", "closed"])
def test_an_option_order_cannot_be_extended(session) -> None:
    """Listed options trade only in the regular session: an extended option order is refused in
    one line whatever the session; the same order unmarked is judged as any limit."""
    from workstation.risk.sessions_rule import NO_EXTENDED_OPTIONS, refusal

    call = parse_symbol("AAPL-2026-12-18-150-C")
    assert refusal(buy(limit="3.10", symbol=call.symbol, extended=True), call, session) == NO_EXTENDED_OPTIONS
    assert refusal(buy(limit="3.10", symbol=call.symbol), call, session) is None
