"""Every pre-trade check at, just below and just above its limit, through the order manager."""

from decimal import Decimal

import pytest

from tests.risk_helpers import build, hold, order, settings
from workstation.core.model import OrderStatus, Side
from workstation.trading.oms import OrderError
from workstation.risk.checks import KILL_SOURCE


async def submit(s, req):
    o = await s.oms.submit(req)
    return o.status is not OrderStatus.REJECTED, o.reason


@pytest.fixture
def env(tmp_path):
    def make(**risk):
        s, broker, clock = build(tmp_path, **risk)
        broker.set_quote("AAPL", 99.99, 100.01, 100.0)
        for sym in ("MSFT", "JPM"):
            broker.set_quote(sym, 99.99, 100.01, 100.0)
        return s, broker, clock

    return make


@pytest.mark.parametrize("qty, ok", [(99, True), (100, True), (101, False)])
async def test_max_order_qty(env, qty, ok):
    s, _, _ = env(max_order_qty=100)
    passed, reason = await submit(s, order(qty=qty, limit_price=100))
    assert passed is ok
    if not ok:
        assert reason == "order quantity 101 exceeds max_order_qty 100"


@pytest.mark.parametrize("qty, ok", [(99, True), (100, True), (101, False)])
async def test_max_order_notional(env, qty, ok):
    s, _, _ = env(max_order_notional=10_000)
    passed, reason = await submit(s, order(qty=qty, limit_price=100))
    assert passed is ok
    if not ok:
        assert reason == "order notional $10,100.00 exceeds max_order_notional $10,000.00"


async def test_paper_defaults(tmp_path):
    from workstation.core.config import Settings

    s, broker, _ = build(tmp_path, Settings())
    assert s.limits.limits.price_collar_pct == 10 and s.limits.limits.max_order_notional == 250_000
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    o = await s.oms.submit(order(qty=2600, limit_price=100))
    assert o.reason == "order notional $260,000.00 exceeds max_order_notional $250,000.00"


@pytest.mark.parametrize(
    "kw, ok",
    [
        ({"limit_price": "110"}, True),
        ({"limit_price": "109.99"}, True),
        ({"limit_price": "110.01"}, False),
        ({"limit_price": "90"}, True),
        ({"limit_price": "89.99"}, False),
        ({"stop_price": "110.01"}, False),
        ({"stop_price": "109.5"}, True),
    ],
)
async def test_price_collar(env, kw, ok):
    s, _, _ = env(price_collar_pct=10)
    passed, reason = await submit(s, order(qty=1, **kw))
    assert passed is ok, reason
    if not ok:
        assert "beyond price_collar_pct 10%" in reason and "from the last price 100" in reason


@pytest.mark.parametrize("qty, ok", [(99, True), (100, True), (101, False)])
async def test_max_position_qty(env, qty, ok):
    s, broker, _ = env(max_position_qty=200)
    await hold(s, broker, "AAPL", 100, 100.0)
    passed, reason = await submit(s, order(qty=qty, limit_price=100))
    assert passed is ok
    if not ok:
        assert reason == "position in AAPL would reach 201, exceeding max_position_qty 200"


async def test_working_orders_count_towards_the_position(env):
    s, broker, _ = env(max_position_qty=200)
    assert (await submit(s, order(qty=150, limit_price=99)))[0]
    passed, reason = await submit(s, order(qty=51, limit_price=99))
    assert not passed and "would reach 201" in reason
    assert (await submit(s, order(qty=50, limit_price=99)))[0]


async def test_reducing_orders_pass_exposure_limits(env):
    s, broker, _ = env()
    await hold(s, broker, "AAPL", 300, 100.0)
    s.set_limit("max_position_qty", "100")
    s.set_limit("max_gross_exposure", "1000")
    s.set_limit("max_symbol_pct", "1")
    assert (await submit(s, order(side=Side.SELL, qty=300, limit_price=100)))[0]
    # but two sells that together cross zero are judged at their worst case
    passed, reason = await submit(s, order(side=Side.SELL, qty=200, limit_price=100))
    assert not passed and "position in AAPL would reach 200" in reason


@pytest.mark.parametrize("qty, ok", [(99, True), (100, True), (101, False)])
async def test_max_position_notional(env, qty, ok):
    s, broker, _ = env(max_position_notional=20_000)
    await hold(s, broker, "AAPL", 100, 100.0)
    passed, reason = await submit(s, order(qty=qty, limit_price=100))
    assert passed is ok
    if not ok:
        assert reason == "position in AAPL would be worth $20,100.00, exceeding max_position_notional $20,000.00"


@pytest.mark.parametrize("qty, ok", [(99, True), (100, True), (101, False)])
async def test_max_gross_exposure(env, qty, ok):
    s, broker, _ = env(max_gross_exposure=20_000)
    await hold(s, broker, "AAPL", 100, 100.0)
    passed, reason = await submit(s, order("MSFT", Side.SELL, qty, limit_price=100))  # a short adds to gross
    assert passed is ok
    if not ok:
        assert reason == "gross exposure would be $20,100.00, exceeding max_gross_exposure $20,000.00"


@pytest.mark.parametrize("qty, ok", [(49, True), (50, True), (51, False)])
async def test_max_net_exposure(env, qty, ok):
    s, broker, _ = env(max_net_exposure=15_000)
    await hold(s, broker, "AAPL", 100, 100.0)
    passed, reason = await submit(s, order("MSFT", Side.BUY, qty, limit_price=100))
    assert passed is ok
    if not ok:
        assert reason == "net exposure would be $15,100.00, exceeding max_net_exposure $15,000.00"
    # a short offsets: net stays inside even though gross grows
    assert (await submit(s, order("JPM", Side.SELL, 200, limit_price=100)))[0]


@pytest.mark.parametrize("qty, ok", [(99, True), (100, True), (101, False)])
async def test_max_symbol_pct(env, qty, ok):
    s, _, _ = env(max_symbol_pct=10)  # equity $100,000
    passed, reason = await submit(s, order(qty=qty, limit_price=100))
    assert passed is ok
    if not ok:
        assert reason == "AAPL would be 10.10% of equity, exceeding max_symbol_pct 10%"


@pytest.mark.parametrize("qty, ok", [(49, True), (50, True), (51, False)])
async def test_max_sector_pct(env, qty, ok):
    s, broker, _ = env(max_sector_pct=15)
    await hold(s, broker, "AAPL", 100, 100.0)  # 10% in Information Technology
    passed, reason = await submit(s, order("MSFT", Side.BUY, qty, limit_price=100))
    assert passed is ok
    if not ok:
        assert reason == "sector Information Technology would be 15.10% of equity, exceeding max_sector_pct 15%"
    assert (await submit(s, order("JPM", Side.BUY, 140, limit_price=100)))[0]  # another sector


async def test_user_sectors_extend_the_table(tmp_path):
    import msgspec

    from workstation.core.config import Settings

    st = msgspec.convert({"sectors": {"ZZZ": "Information Technology"}}, Settings)
    s, _, _ = build(tmp_path, st)
    assert s.risk.sectors.sector("ZZZ") == "Information Technology"
    assert s.risk.sectors.sector("AAPL") == "Information Technology"
    assert s.risk.sectors.sector("QQQQ").startswith("unclassified")


@pytest.mark.parametrize("qty, ok", [(1999, True), (2000, True), (2001, False)])
async def test_buying_power(env, qty, ok):
    s, _, _ = env(max_order_notional=None)  # margin 2x $100,000
    passed, reason = await submit(s, order(qty=qty, limit_price=100))
    assert passed is ok
    if not ok:
        assert reason == "insufficient buying power: order needs $200,100.00, $200,000.00 available"


@pytest.mark.parametrize("working, ok", [(2, True), (3, True), (4, False)])
async def test_max_open_orders(env, working, ok):
    s, _, _ = env(max_open_orders=4)
    for _ in range(working):
        assert (await submit(s, order(qty=1, limit_price=99)))[0]
    passed, reason = await submit(s, order(qty=1, limit_price=99))
    assert passed is ok
    if not ok:
        assert reason == "4 orders are working, max_open_orders is 4"


async def test_order_rate_per_second_minute_and_day(env):
    # every order counts, sent or refused: the refused fourth uses up a place in each window
    s, _, clock = env(max_orders_per_second=3, max_orders_per_minute=5, max_orders_per_day=8)
    for _ in range(3):
        assert (await submit(s, order(qty=1)))[0]
    passed, reason = await submit(s, order(qty=1))
    assert not passed and reason == "order rate: 3 orders sent or refused in the last second, max_orders_per_second is 3"
    clock.advance(1.0)
    assert (await submit(s, order(qty=1)))[0]
    passed, reason = await submit(s, order(qty=1))
    assert not passed and reason == "order rate: 5 orders sent or refused in the last minute, max_orders_per_minute is 5"
    clock.advance(60.0)
    assert (await submit(s, order(qty=1)))[0]
    assert (await submit(s, order(qty=1)))[0]
    clock.advance(60.0)
    passed, reason = await submit(s, order(qty=1))
    assert not passed and reason == "order rate: 8 orders sent or refused in this trading day, max_orders_per_day is 8"
    clock.advance(86_400)  # the next trading day
    assert (await submit(s, order(qty=1)))[0]


async def test_three_orders_in_one_second_under_a_limit_of_two(env):
    s, broker, _ = env(max_orders_per_second=2)
    assert (await submit(s, order(qty=1)))[0]
    assert (await submit(s, order(qty=1)))[0]
    passed, reason = await submit(s, order(qty=1))
    assert not passed and reason == "order rate: 2 orders sent or refused in the last second, max_orders_per_second is 2"
    assert len(broker.sent) == 2


async def test_refused_orders_use_up_the_rate_limit(env):
    s, broker, clock = env(max_orders_per_second=2, price_collar_pct=10)
    for _ in range(2):
        passed, reason = await submit(s, order(qty=1, limit_price=150))  # off the collar
        assert not passed and "beyond price_collar_pct" in reason
    passed, reason = await submit(s, order(qty=1, limit_price=100))  # a good order, but the second is full
    assert not passed and reason == "order rate: 2 orders sent or refused in the last second, max_orders_per_second is 2"
    assert broker.sent == []
    clock.advance(1.0)
    assert (await submit(s, order(qty=1, limit_price=100)))[0]


async def test_bad_input_uses_up_the_rate_limit_and_a_throttled_unknown_symbol_asks_no_broker(env):
    s, broker, _ = env(max_orders_per_second=2)
    for _ in range(2):
        with pytest.raises(OrderError, match="off the 0.01 tick"):
            await s.oms.submit(order(qty=1, limit_price="100.001"))
    passed, reason = await submit(s, order(qty=1, limit_price=100))
    assert not passed and reason.startswith("order rate: 2 orders")
    asked = []
    broker.instrument = lambda symbol: asked.append(symbol)  # would be a round trip to a real broker
    with pytest.raises(OrderError, match="^order rate: 3 orders sent or refused in the last second"):
        await s.oms.submit(order("ZZZQ", qty=1))
    assert asked == []
    # a throttled refusal of a known symbol is journaled like any refusal
    assert [o.status for o in s.journal.orders()] == [OrderStatus.REJECTED]


async def test_the_kill_switch_flattens_after_a_flood_of_refused_orders(env):
    s, broker, _ = env(price_collar_pct=10)  # paper defaults: 20 orders a second
    await hold(s, broker, "AAPL", 100, 100.0)
    reasons = [(await s.oms.submit(order(qty=1, limit_price=200, strategy="runaway"))).reason for _ in range(1_000)]
    assert all("beyond price_collar_pct" in r for r in reasons[:19])
    assert all(r.startswith("order rate:") for r in reasons[19:])  # the window filled: refused by the rate check
    assert len(s.journal.orders(("rejected",))) == 1_000  # every refusal is journaled
    report = await s.kill("flood", who="test")
    assert report.errors == [] and len(report.flatten_orders) == 1
    flat = s.oms.orders[report.flatten_orders[0]]
    assert flat.status is OrderStatus.ACCEPTED and (flat.side, flat.qty) == (Side.SELL, 100)
    assert broker.sent[-1].id == flat.id


async def test_kill_switch_orders_skip_the_flow_limits(env):
    s, broker, _ = env(max_orders_per_second=1)
    await hold(s, broker, "AAPL", 10, 100.0)
    passed, _ = await submit(s, order(side=Side.SELL, qty=10))
    assert not passed
    passed, reason = await submit(s, order(side=Side.SELL, qty=10, source=KILL_SOURCE))
    assert passed, reason


async def test_shorting_not_allowed(env):
    s, broker, _ = env(allow_short=False)
    passed, reason = await submit(s, order(side=Side.SELL, qty=1, limit_price=100))
    assert not passed and reason == "shorting is not allowed: selling 1 AAPL would leave a short position of 1"
    await hold(s, broker, "AAPL", 100, 100.0)
    assert (await submit(s, order(side=Side.SELL, qty=99, limit_price=100)))[0]
    passed, reason = await submit(s, order(side=Side.SELL, qty=2, limit_price=100))
    assert not passed and "short position of 1" in reason


async def test_trading_halted_lets_reducing_orders_through(env):
    s, broker, _ = env()
    await hold(s, broker, "AAPL", 100, 100.0)
    s.set_limit("trading_halted", "true")
    passed, reason = await submit(s, order(qty=1, limit_price=100))
    assert not passed and reason.startswith("trading is halted")
    assert (await submit(s, order(side=Side.SELL, qty=100, limit_price=100)))[0]


async def test_per_strategy_limits_from_settings(tmp_path):
    st = settings()
    import msgspec

    st = msgspec.structs.replace(st, profiles={"paper": msgspec.structs.replace(st.profile("paper"), strategy_risk={"mom": {"max_order_qty": 10}})})
    s, broker, _ = build(tmp_path, st)
    broker.set_quote("AAPL", 99.99, 100.01, 100.0)
    o = await s.oms.submit(order(qty=11, strategy="mom"))
    assert o.reason == "order quantity 11 exceeds max_order_qty 10"
    assert (await s.oms.submit(order(qty=11))).reason is None
    s.set_limit("max_order_qty", "20", strategy="mom")
    assert (await s.oms.submit(order(qty=11, strategy="mom"))).reason is None


async def test_runtime_changes_are_journaled_and_survive_a_restart(tmp_path):
    s, _, clock = build(tmp_path)
    s.set_limit("max_order_notional", "100000")
    s.set_limit("price_collar_pct", "off")
    with pytest.raises(Exception, match="must not be negative"):
        s.set_limit("max_order_qty", "-1")
    kinds = [(k, d["name"]) for _q, _t, k, _r, d in s.journal.events("risk.set")]
    assert kinds == [("risk.set", "max_order_notional"), ("risk.set", "price_collar_pct")]
    s.journal.close()
    s2, _, _ = build(tmp_path, clock=clock)
    assert s2.limits.limits.max_order_notional == 100_000 and s2.limits.limits.price_collar_pct is None
    assert s2.limits.source("max_order_notional") == "run time"
    s2.set_limit("max_order_notional", "default")
    assert s2.limits.limits.max_order_notional == 250_000


async def test_replace_is_checked(env):
    s, _, _ = env(max_order_qty=100)
    o = await s.oms.submit(order(qty=50, limit_price=99))
    with pytest.raises(OrderError, match="replace refused: order quantity 101 exceeds max_order_qty 100"):
        await s.oms.replace_order(o.id, qty=101)
    with pytest.raises(OrderError, match="beyond price_collar_pct"):
        await s.oms.replace_order(o.id, limit_price="150")


async def test_wash_sale_warns_and_does_not_block(env):
    s, broker, clock = env()
    warnings = []
    from workstation.core.model import AlertRaised

    s.bus.subscribe(AlertRaised, lambda a: warnings.append(a.message) if a.source == "risk" else None)
    await hold(s, broker, "AAPL", 100, 100.0)
    clock.advance(3600)
    await hold(s, broker, "AAPL", -100, 90.0)  # a $1,000 loss
    clock.advance(29 * 86_400)
    review = await s.oms.review(order(qty=10, limit_price=90))
    assert review.ok and review.warnings and review.warnings[0] == "wash sale: buying AAPL within 30 days of a sale at a loss on 2023-11-14; the loss may be disallowed"
    o = await s.oms.submit(order(qty=10, limit_price=90))
    assert o.status is not OrderStatus.REJECTED and any("wash sale" in w for w in warnings)
    clock.advance(2 * 86_400)  # 31 days: no more warning
    assert (await s.oms.review(order(qty=10, limit_price=90))).warnings == ()


async def test_fifo_lots(tmp_path):
    from workstation.core.model import Fill
    from workstation.trading.taxlots import TaxLots

    lots = TaxLots()
    lots.apply(Fill(exec_id="1", order_id="1", symbol="X", side=Side.BUY, qty=Decimal(10), price=Decimal(10), ts=1))
    lots.apply(Fill(exec_id="2", order_id="2", symbol="X", side=Side.BUY, qty=Decimal(10), price=Decimal(20), ts=2))
    realized = lots.apply(Fill(exec_id="3", order_id="3", symbol="X", side=Side.SELL, qty=Decimal(15), price=Decimal(15), ts=3))
    assert realized == Decimal(10 * 5 + 5 * -5)  # FIFO: the $10 lot first
    assert [(lot.qty, lot.price) for lot in lots.open_lots("X")] == [(Decimal(5), Decimal(20))]
    assert lots.wash_sale("X", 4) is not None  # the $20 lot's 5 shares sold at a loss (a wash is per lot)
    lots.apply(Fill(exec_id="4", order_id="4", symbol="X", side=Side.SELL, qty=Decimal(5), price=Decimal(18), ts=5))
    assert lots.wash_sale("X", 6) is not None



async def test_a_bracket_pair_counts_once_towards_the_worst_case(env):
    s, broker, _ = env(allow_short=False, max_position_qty=150)
    entry = await s.oms.submit(order(qty=100, limit_price=100, take_profit=Decimal(105), stop_loss=Decimal(95)))
    broker.fill(entry, 100, 100)
    await s.drain()
    # take-profit and stop-loss (100 each) are one OCO pair: at worst they sell 100, not 200
    assert s.risk.pending("AAPL", Side.SELL) == 100
    assert (await submit(s, order(qty=50, limit_price=100)))[0]  # 100 + 50 = 150: at the limit
    # selling by hand as well could leave a short (the pair may still fill): refused until it goes
    passed, reason = await submit(s, order(side=Side.SELL, qty=100, limit_price=100))
    assert not passed and "short position of 100" in reason
    await s.oms.cancel_all()
    await s.drain()
    assert (await submit(s, order(side=Side.SELL, qty=100, limit_price=100)))[0]
