"""Orders through the IB adapter, the real ib_async and a fake TWS on 127.0.0.1."""

from decimal import Decimal

from tests.fakes.ib_harness import ib_session, until
from tests.fakes.tws_fake import FakeContract, FakeTWS
from workstation.core.model import AlertRaised, OrderRequest, OrderStatus, OrderType, Side

AAPL = 265598
ES = 495512563
AAPL_CALL = 700000001


async def test_market_order_fills_with_its_commission(home):
    async with ib_session(home, ["AAPL"]) as (session, fake):
        fake.push_quote(AAPL, 184.9, 185.1, 185.0)
        await until(lambda: session.quotes.get("AAPL"), what="AAPL quote")
        order = await session.oms.submit(OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(10)))
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="fill")

        fills = session.journal.fills()
        assert len(fills) == 1
        assert fills[0].exec_id == fake.executions[0].exec_id
        assert (fills[0].qty, fills[0].price, fills[0].commission) == (Decimal(10), Decimal("185.1"), Decimal(1))
        assert fake.order_by_ref(order.client_id).order_type == "MKT"
        pos = session.portfolio.position("AAPL")
        assert (pos.qty, pos.avg_price) == (Decimal(10), Decimal("185.1"))
        assert session.portfolio.cash["USD"] == Decimal(100_000) - Decimal("1851") - Decimal(1)


async def test_resting_limit_order_is_modified_in_place_then_canceled(home):
    async with ib_session(home, ["AAPL"]) as (session, fake):
        order = await session.oms.submit(
            OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(10), type=OrderType.LIMIT, limit_price=Decimal("180"))
        )
        assert session.oms.orders[order.id].status is OrderStatus.ACCEPTED
        at_ib = fake.order_by_ref(order.client_id)
        assert (at_ib.qty, at_ib.lmt_price, at_ib.order_type) == (10, 180.0, "LMT")

        await session.oms.replace_order(order.id, qty="20", limit_price="181.5")
        await until(lambda: session.oms.orders[order.id].qty == 20, what="replace")
        assert session.oms.orders[order.id].limit_price == Decimal("181.5")
        assert len(fake.orders) == 1 and (at_ib.qty, at_ib.lmt_price) == (20, 181.5)  # same IB order id

        await session.oms.cancel(order.id)
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.CANCELED, what="cancel")
        assert at_ib.status == "Cancelled"
        assert not session.oms.working()


async def test_rejection_reaches_the_user_with_ibs_reason(home):
    async with ib_session(home, ["AAPL"]) as (session, fake):
        alerts = []
        session.bus.subscribe(AlertRaised, alerts.append)
        fake.reject_next("Insufficient buying power to place the order")
        order = await session.oms.submit(
            OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(10), type=OrderType.LIMIT, limit_price=Decimal("180"))
        )
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.REJECTED, what="rejection")
        reason = session.oms.orders[order.id].reason
        assert "Insufficient buying power to place the order" in reason and "201" in reason
        assert any("Insufficient buying power" in a.message for a in alerts)


async def test_option_and_future_carry_their_multipliers_into_positions_and_pnl(home):
    async with ib_session(home, ["ES-2026-12", "AAPL-2026-12-18-200-C"], fake=FakeTWS(cash=1_000_000)) as (session, fake):
        fake.push_quote(ES, 4000.0, 4000.25, 4000.0)
        fake.push_quote(AAPL_CALL, 5.0, 5.2, 5.1)
        await until(lambda: session.quotes.get("ES-2026-12") and session.quotes.get("AAPL-2026-12-18-200-C"), what="quotes")
        fut = await session.oms.submit(OrderRequest(symbol="ES-2026-12", side=Side.BUY, qty=Decimal(1)))
        opt = await session.oms.submit(OrderRequest(symbol="AAPL-2026-12-18-200-C", side=Side.BUY, qty=Decimal(2)))
        await until(lambda: all(session.oms.orders[o.id].status is OrderStatus.FILLED for o in (fut, opt)), what="fills")

        es = session.oms.instrument_cached("ES-2026-12")
        call = session.oms.instrument_cached("AAPL-2026-12-18-200-C")
        assert (es.multiplier, es.tick_size, es.exchange) == (Decimal(50), Decimal("0.25"), "CME")
        assert (call.multiplier, call.tick_size) == (Decimal(100), Decimal("0.01"))
        fake_es = fake.order_by_ref(fut.client_id).contract
        assert (fake_es.sec_type, fake_es.contract_month) == ("FUT", "202612")

        fake.push_quote(ES, 4010.0, 4010.5, 4010.25)
        fake.push_quote(AAPL_CALL, 6.1, 6.3, 6.2)
        await until(lambda: session.portfolio.marks.get("AAPL-2026-12-18-200-C") == 6.2, what="option mark")
        await until(lambda: session.portfolio.marks.get("ES-2026-12") == 4010.25, what="future mark")
        assert session.portfolio.unrealized("ES-2026-12") == Decimal(500)  # 10 points x 1 x 50
        assert session.portfolio.unrealized("AAPL-2026-12-18-200-C") == Decimal(200)  # 1.00 x 2 x 100
        # cash: the option's premium (2 x 5.2 x 100) and both commissions; a future moves no notional
        assert session.portfolio.cash["USD"] == Decimal(1_000_000) - Decimal(1040) - Decimal(2)

        await session.resync()  # IB reports avgCost per contract; the adapter divides by the multiplier
        by_symbol = {p.symbol: p for p in session.portfolio.positions()}
        assert (by_symbol["ES-2026-12"].qty, by_symbol["ES-2026-12"].avg_price) == (Decimal(1), Decimal("4000.25"))
        assert (by_symbol["AAPL-2026-12-18-200-C"].qty, by_symbol["AAPL-2026-12-18-200-C"].avg_price) == (Decimal(2), Decimal("5.2"))
        assert session.portfolio.unrealized("ES-2026-12") == Decimal(500)


async def test_a_held_future_unknown_to_the_symbol_table_takes_ibs_multiplier(home):
    fake = FakeTWS()
    mym = FakeContract(
        510000001, "MYM", "FUT", "CBOT", expiry="20261218", multiplier="0.5", local_symbol="MYMZ6", trading_class="MYM",
        min_tick=1.0, contract_month="202612",
    )
    fake.contracts.append(mym)
    fake.set_position(mym.con_id, 4, 40000.0)  # held before this session started
    fake.quotes[mym.con_id] = {"bid": 40099.0, "ask": 40101.0, "last": 40100.0}
    async with ib_session(home, fake=fake) as (session, fake):
        await until(lambda: session.portfolio.marks.get("MYM-2026-12") == 40100.0, what="MYM mark")
        pos = session.portfolio.position("MYM-2026-12")
        assert (pos.qty, pos.avg_price, pos.multiplier) == (Decimal(4), Decimal(40000), Decimal("0.5"))
        assert session.portfolio.unrealized("MYM-2026-12") == Decimal(200)  # 100 points x 4 x 0.5


async def test_a_refused_modification_leaves_the_order_working(home):
    import pytest

    from workstation.trading.oms import OrderError

    async with ib_session(home, ["AAPL"]) as (session, fake):
        order = await session.oms.submit(
            OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(10), type=OrderType.LIMIT, limit_price=Decimal("180"))
        )
        fake.refuse_next_modify("the order is being filled")
        with pytest.raises(OrderError, match="refused to modify.*being filled.*10148"):
            await session.oms.replace_order(order.id, limit_price="181")
        current = session.oms.orders[order.id]
        assert (current.status, current.limit_price) == (OrderStatus.ACCEPTED, Decimal(180))
        await session.oms.cancel(order.id)  # still ours to cancel
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.CANCELED, what="cancel")


async def test_partial_fills_each_book_their_commission(home):
    async with ib_session(home, ["AAPL"]) as (session, fake):
        order = await session.oms.submit(
            OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(500), type=OrderType.LIMIT, limit_price=Decimal("180"))
        )
        at_ib = fake.order_by_ref(order.client_id)
        fake.fill(at_ib, qty=200, price=179.9)
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.PARTIALLY_FILLED, what="partial fill")
        fake.fill(at_ib, qty=300, price=180.0)
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="complete fill")
        fills = session.journal.fills()
        assert [(f.qty, f.price, f.commission) for f in fills] == [(Decimal(200), Decimal("179.9"), Decimal(1)), (Decimal(300), Decimal(180), Decimal("1.5"))]
        assert session.oms.orders[order.id].avg_fill_price == Decimal("179.96")


async def test_read_only_api_refuses_orders_with_a_readable_reason(home):
    async with ib_session(home, ["AAPL"]) as (session, fake):
        fake.read_only = True
        order = await session.oms.submit(
            OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(10), type=OrderType.LIMIT, limit_price=Decimal("180"))
        )
        current = session.oms.orders[order.id]
        assert current.status is OrderStatus.REJECTED
        assert "Read-Only mode" in current.reason and "321" in current.reason
        assert fake.orders == {}
