"""Spreads at IB as ONE native order: a BAG contract with its combo legs, through the real
ib_async and the fake TWS on 127.0.0.1 (which decodes comboLegs where ib_async writes them and
reports a combo's executions per leg plus the BAG's own line, as TWS does)."""

from __future__ import annotations

from decimal import Decimal

from tests.conftest import run_cli
from tests.fakes.ib_harness import ib_session, until
from tests.fakes.tws_fake import FakeTWS, option_contracts
from workstation.core.model import BUY, SELL, Leg, OrderRequest, OrderStatus, OrderType

D = Decimal
C200, C210 = "AAPL-2026-12-18-200-C", "AAPL-2026-12-18-210-C"
VERTICAL = (Leg(symbol=C200, side=BUY), Leg(symbol=C210, side=SELL))


def list_options(fake: FakeTWS) -> None:
    """AAPL Dec 200 and 210 calls and puts, quoted: the 200 call 5.00/5.20, the 210 call 2.00/2.10."""
    fake.contracts = [c for c in fake.contracts if c.sec_type != "OPT"] + option_contracts("AAPL", ["20261218"], [200.0, 210.0])
    quotes = {(200.0, "C"): (5.0, 5.2), (210.0, "C"): (2.0, 2.1), (200.0, "P"): (4.0, 4.2), (210.0, "P"): (9.0, 9.3)}
    for c in fake.contracts:
        if c.sec_type == "OPT":
            bid, ask = quotes[(c.strike, c.right)]
            fake.quotes[c.con_id] = dict(bid=bid, ask=ask, last=(bid + ask) / 2)


def con_id(fake: FakeTWS, strike: float, right: str = "C") -> int:
    return next(c.con_id for c in fake.contracts if c.sec_type == "OPT" and c.strike == strike and c.right == right)


def combo(side, qty: int, limit: str | None = None) -> OrderRequest:
    return OrderRequest(symbol="", side=side, qty=D(qty), legs=VERTICAL, type=OrderType.MARKET if limit is None else OrderType.LIMIT,
                        limit_price=None if limit is None else D(limit))


async def test_a_vertical_is_one_bag_order_filled_atomically_and_booked_per_leg(home):
    fake = FakeTWS()
    list_options(fake)
    async with ib_session(home, [C200, C210], fake=fake) as (session, fake):
        await until(lambda: session.quotes.get(C200) and session.quotes.get(C210), what="leg quotes")
        order = await session.oms.submit(combo(BUY, 2))
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="the combo filled")

        places = [r for r in fake.requests if r[0] == "3"]
        assert len(places) == 1  # one order at IB, not one per leg
        at_ib = fake.order_by_ref(order.client_id)
        assert (at_ib.contract.sec_type, at_ib.contract.symbol, at_ib.action, at_ib.qty, at_ib.order_type) == ("BAG", "AAPL", "BUY", 2, "MKT")
        assert [(leg.contract.con_id, leg.ratio, leg.action, leg.exchange) for leg in at_ib.legs] == [
            (con_id(fake, 200.0), 1, "BUY", "SMART"), (con_id(fake, 210.0), 1, "SELL", "SMART")]

        filled = session.oms.orders[order.id]
        assert (filled.filled_qty, filled.avg_fill_price) == (D(2), D("3.2"))  # 5.20 paid, 2.00 received
        fills = session.journal.fills()
        assert sorted((f.symbol, f.side, f.qty, f.price, f.order_id) for f in fills) == [
            (C200, BUY, D(2), D("5.2"), order.id), (C210, SELL, D(2), D(2), order.id)]  # the BAG's own line not booked
        assert len(fake.executions) == 3  # two legs and the BAG line: TWS's report, deduplicated by the adapter
        assert session.portfolio.position(C200).qty == D(2) and session.portfolio.position(C210).qty == D(-2)
        assert session.portfolio.cash["USD"] == D(100_000) - D(1040) + D(400) - D(2)  # each leg's commission $1


async def test_a_limit_combo_rests_at_its_net_price_at_ib_then_is_canceled(home):
    fake = FakeTWS()
    list_options(fake)
    async with ib_session(home, [C200, C210], fake=fake) as (session, fake):
        order = await session.oms.submit(combo(BUY, 1, limit="3.05"))
        assert session.oms.orders[order.id].status is OrderStatus.ACCEPTED, session.oms.orders[order.id].reason
        at_ib = fake.order_by_ref(order.client_id)
        assert (at_ib.contract.sec_type, at_ib.order_type, at_ib.lmt_price, at_ib.status) == ("BAG", "LMT", 3.05, "Submitted")
        assert len(at_ib.legs) == 2 and not fake.executions

        await session.oms.cancel(order.id)
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.CANCELED, what="cancel")
        assert at_ib.status == "Cancelled"
        assert session.journal.fills() == [] and session.portfolio.position(C200).qty == 0


async def test_selling_a_combo_sends_sell_on_the_bag_and_ib_reverses_each_leg(home):
    fake = FakeTWS()
    list_options(fake)
    async with ib_session(home, [C200, C210], fake=fake) as (session, fake):
        order = await session.oms.submit(combo(SELL, 1, limit="2.90"))  # the credit: 5.00 - 2.10
        at_ib = fake.order_by_ref(order.client_id)
        assert (at_ib.action, at_ib.lmt_price) == ("SELL", 2.9)
        assert [leg.action for leg in at_ib.legs] == ["BUY", "SELL"]  # as written for one combo bought
        fake.fill(at_ib)
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="the combo filled")
        assert sorted((f.symbol, f.side, f.price) for f in session.journal.fills()) == [(C200, SELL, D(5)), (C210, BUY, D("2.1"))]
        assert session.oms.orders[order.id].avg_fill_price == D("2.9")
        assert session.portfolio.position(C200).qty == D(-1) and session.portfolio.position(C210).qty == D(1)


def test_main_py_spread_on_ib_paper_sends_one_bag_order(home):
    with FakeTWS.in_thread(list_options) as fake:
        home.mkdir(parents=True, exist_ok=True)
        (home / "settings.toml").write_text(f"[profiles.ib-paper]\noptions = {{ port = {fake.port}, client_id = 9 }}\n")
        result = run_cli("spread", "buy", "1", "AAPL", "2026-12-18", "200/210", "call", "vertical", "--limit", "3.05", "--profile", "ib-paper",
                         home=home)
        assert result.returncode == 0, result.stderr + result.stdout
        assert "Traceback" not in result.stderr
        [at_ib] = fake.orders.values()
        assert (at_ib.contract.sec_type, at_ib.lmt_price, at_ib.qty) == ("BAG", 3.05, 1)
        assert [(leg.contract.strike, leg.action) for leg in at_ib.legs] == [(200.0, "BUY"), (210.0, "SELL")]


async def test_a_futures_calendar_is_a_bag_at_the_futures_exchange(home):
    from tests.fakes.tws_fake import FakeContract
    from workstation.core.model import TimeInForce

    fake = FakeTWS(cash=1_000_000)
    fake.contracts.append(FakeContract(495512564, "ES", "FUT", "CME", expiry="20270319", multiplier="50", local_symbol="ESH7",
                                       trading_class="ES", min_tick=0.25, long_name="E-mini S&P 500", contract_month="202703"))
    front, back = fake.contract("ES").con_id, 495512564
    fake.quotes[front] = dict(bid=6000.0, ask=6000.25, last=6000.0)
    fake.quotes[back] = dict(bid=6040.0, ask=6040.25, last=6040.0)
    legs = (Leg(symbol="ES-2026-12", side=BUY), Leg(symbol="ES-2027-03", side=SELL))
    async with ib_session(home, ["ES-2026-12", "ES-2027-03"], fake=fake) as (session, fake):
        order = await session.oms.submit(OrderRequest(symbol="", side=BUY, qty=D(1), legs=legs, type=OrderType.LIMIT,
                                                      limit_price=D("-39.75"), tif=TimeInForce.GTC))
        assert session.oms.orders[order.id].status is OrderStatus.ACCEPTED, session.oms.orders[order.id].reason
        at_ib = fake.order_by_ref(order.client_id)
        assert (at_ib.contract.symbol, at_ib.contract.exchange, at_ib.tif, at_ib.lmt_price) == ("ES", "CME", "GTC", -39.75)
        assert [(leg.contract.con_id, leg.action, leg.exchange) for leg in at_ib.legs] == [(front, "BUY", "CME"), (back, "SELL", "CME")]
        fake.fill(at_ib)  # the front at its ask, the back at its bid: 6000.25 - 6040 = -39.75 a unit
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="the calendar filled")
        assert session.oms.orders[order.id].avg_fill_price == D("-39.75")
        assert session.portfolio.qty("ES-2026-12") == D(1) and session.portfolio.qty("ES-2027-03") == D(-1)


async def test_a_combo_filled_while_tws_restarted_is_booked_per_leg_once(home):
    fake = FakeTWS()
    list_options(fake)
    async with ib_session(home, [C200, C210], fake=fake) as (session, fake):
        order = await session.oms.submit(combo(BUY, 1, limit="3.20"))
        assert session.oms.orders[order.id].status is OrderStatus.ACCEPTED
        fake.accepting = False  # TWS goes down for its daily restart
        fake.drop()
        await until(lambda: session.connection.state == "reconnecting", what="reconnecting")
        fake.fill(fake.order_by_ref(order.client_id))  # the legs and the BAG line execute while nobody listens
        fake.accepting = True
        await until(lambda: session.oms.orders[order.id].status is OrderStatus.FILLED, what="fills recovered by the resync")
        await session.resync()  # and once more: nothing new
        fills = session.journal.fills()
        assert sorted((f.symbol, f.qty, f.price) for f in fills) == [(C200, D(1), D("5.2")), (C210, D(1), D(2))]
        assert {f.exec_id for f in fills} == {ex.exec_id for ex in fake.executions if not ex.bag}
        assert session.oms.orders[order.id].avg_fill_price == D("3.2")
