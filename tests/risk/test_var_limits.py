"""VaR and stress-loss limits (workstation.risk.var_limits) on a paper session: the pre-trade
check refuses an order that would raise the 1-day 99% VaR beyond max_var and lets through one
that would not (or that lowers it), the monitors trip the breaker and warn near a limit, the
Risk pane's rows, and the limits survive a restart."""

from __future__ import annotations

from decimal import Decimal

import pytest

from brokers.paper.broker import SimBroker
from workstation.core.clock import SimClock
from workstation.core.config import Settings
from workstation.core.limits import LimitError, LimitStore, RiskLimits
from workstation.core.model import AlertRaised, OrderRequest, OrderStatus, Side
from workstation.trading.session import Session

NOW = 1_790_000_000.0
OPTION = "AAPL-2026-12-18-220-C"


def _build(tmp_path) -> Session:
    clock = SimClock(NOW)
    return Session.build(Settings(), "paper", data_root=tmp_path, clock=clock, broker=SimBroker(clock=clock))


@pytest.fixture
async def s(tmp_path):
    session = _build(tmp_path)
    await session.start(["AAPL", "MSFT"], feed=False)
    yield session
    await session.stop()


def buy(symbol: str, qty: int) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=Side.BUY, qty=Decimal(qty))


def sell(symbol: str, qty: int) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=Side.SELL, qty=Decimal(qty))


async def _hold_aapl(s: Session, qty: int = 100) -> float:
    """Hold ``qty`` AAPL, measure, and return the VaR of it."""
    done = await s.oms.submit(buy("AAPL", qty))
    assert done.status is OrderStatus.FILLED
    s.set_limit("max_stress_loss", "1000000")  # any VaR/stress limit set: the session measures
    await s.refresh_var()
    var = s.var_limits.state.var
    assert var is not None and var > 0
    return var


async def test_an_order_that_would_breach_max_var_is_refused_one_that_would_not_passes(s):
    var = await _hold_aapl(s)
    limit = round(var * 2.5)
    s.set_limit("max_var", str(limit))
    ok = await s.oms.submit(buy("AAPL", 100))  # about twice the VaR: inside
    assert ok.status is OrderStatus.FILLED
    await s.refresh_var()
    refused = await s.oms.submit(buy("AAPL", 100))  # about three times: beyond
    assert refused.status is OrderStatus.REJECTED
    assert refused.reason.startswith("1-day 99% historical VaR would be $")
    assert refused.reason.endswith(f"beyond max_var ${limit:,}.00")
    assert "\n" not in refused.reason
    assert s.portfolio.qty("AAPL") == 200  # nothing changed


async def test_an_order_that_lowers_var_passes_even_over_the_limit(s):
    var = await _hold_aapl(s)
    s.set_limit("max_var", str(round(var / 2)))  # already over
    assert (await s.oms.submit(buy("AAPL", 1))).status is OrderStatus.REJECTED
    assert (await s.oms.submit(sell("AAPL", 40))).status is OrderStatus.FILLED
    assert s.portfolio.qty("AAPL") == 60


async def test_max_var_pct_is_of_equity_and_says_so(s):
    var = await _hold_aapl(s)
    pct = Decimal(repr(var * 1.5)) / s.portfolio.equity() * 100
    s.set_limit("max_var_pct", str(pct.quantize(Decimal("0.0001"))))
    refused = await s.oms.submit(buy("AAPL", 100))
    assert refused.status is OrderStatus.REJECTED
    assert "of equity ($" in refused.reason and "beyond max_var_pct" in refused.reason


async def test_an_order_on_a_symbol_not_measured_is_refused_until_its_history_is_loaded(s):
    await _hold_aapl(s)
    s.set_limit("max_var", "1000000")
    refused = await s.oms.submit(buy("MSFT", 10))
    assert refused.status is OrderStatus.REJECTED
    assert refused.reason == ("the VaR of MSFT is not measured yet (its daily history is being loaded), "
                              "and max_var is set: try again in a moment")
    assert s._var_due.is_set()  # the session is told to measure it now
    await s.refresh_var()
    assert (await s.oms.submit(buy("MSFT", 10))).status is OrderStatus.FILLED


async def test_no_var_limit_no_measurement_and_every_order_passes(s):
    assert not s.var_limits.active()
    assert (await s.oms.submit(buy("MSFT", 10))).status is OrderStatus.FILLED  # never held, no refusal
    assert s.var_limits.state is None and s.returns.misses == 0
    assert not [r for r in s.risk.status() if r.name in ("VaR", "stress loss")]


async def test_a_price_move_that_pushes_var_over_trips_the_breaker_and_near_warns_first(s):
    alerts: list[AlertRaised] = []
    s.bus.subscribe(AlertRaised, alerts.append)
    var = await _hold_aapl(s)
    limit = Decimal(repr(var * 1.05)).quantize(Decimal("0.01"))
    s.set_limit("max_var", str(limit))
    s.var_limits.evaluate()
    assert not s.breaker.tripped
    warned = [a for a in alerts if a.title == "VaR warning"]
    assert len(warned) == 1 and "max_var" in warned[0].message
    price = s.portfolio.last("AAPL")
    s.portfolio.mark("AAPL", price * Decimal("1.10"))  # the position is worth 10% more: so is its VaR
    await s.refresh_var()
    assert s.breaker.tripped
    assert s.breaker.reason().startswith("1-day 99% historical VaR $")
    assert s.breaker.reason().endswith(f"exceeds max_var ${limit:,}")
    from workstation.risk.breaker import RiskError
    with pytest.raises(RiskError, match="while the breach persists: 1-day 99% historical VaR"):
        s.reset_breaker(confirmed=True)


async def test_the_worst_stress_loss_trips_the_breaker(s):
    await _hold_aapl(s)
    loss = s.var_limits.state.stress_loss
    assert s.var_limits.state.stress_scenario == "equities -20%"
    assert loss == (s.portfolio.last("AAPL") * 100 * Decimal("0.2")).quantize(Decimal("0.01"))
    s.set_limit("max_stress_loss", "4000")
    await s.refresh_var()
    assert s.breaker.tripped
    assert s.breaker.reason() == f"stress loss ${loss:,} (equities -20%) exceeds max_stress_loss $4,000.00"


async def test_the_risk_rows_show_each_set_limit_with_its_use(s):
    var = await _hold_aapl(s)
    s.set_limit("max_var", "10000")
    s.set_limit("max_stress_loss_pct", "5")
    await s.refresh_var()
    rows = {r.name: r for r in s.risk.status()}
    assert rows["VaR"].limit == Decimal(10000) and rows["VaR"].used == Decimal(repr(round(var, 2))).quantize(Decimal("0.01"))
    assert rows["VaR"].state == "ok" and rows["VaR"].detail == "1d 99% historical"
    stress = rows["stress loss %"]
    assert stress.unit == "%" and stress.limit == 5 and stress.detail == "equities -20%"
    assert stress.used == (s.var_limits.state.stress_loss / s.portfolio.equity() * 100).quantize(Decimal("0.01"))
    assert "VaR % equity" not in rows  # not set: no row


async def test_the_parametric_method_is_a_setting(s):
    await _hold_aapl(s)
    hist = s.var_limits.state.var
    s.set_limit("var_method", "parametric")
    await s.refresh_var()
    st = s.var_limits.state
    assert st.method == "parametric" and st.var != hist
    assert st.var == pytest.approx(st.incremental.now("parametric"))


def test_var_method_must_be_one_of_the_three_one_line():
    store = LimitStore(RiskLimits())
    with pytest.raises(LimitError) as err:
        store.set("var_method", "montecarlo")
    assert str(err.value) == "risk limit var_method must be one of historical, parametric, full, got 'montecarlo'"
    assert store.limits.var_method == "historical"


async def test_limits_set_at_run_time_survive_a_restart(tmp_path):
    s = _build(tmp_path)
    s.set_limit("max_var", "12345.67")
    s.set_limit("max_stress_loss_pct", "8")
    s.set_limit("var_method", "full")
    await s.stop()
    again = _build(tmp_path)
    try:
        lim = again.limits.limits
        assert (lim.max_var, lim.max_stress_loss_pct, lim.var_method) == (Decimal("12345.67"), Decimal(8), "full")
        assert again.var_limits.active()
    finally:
        await again.stop()


async def test_an_option_order_counts_at_its_delta_on_its_underlying_and_a_combo_sums_its_legs(s):
    from workstation.core.model import Leg, Order, OrderType, TimeInForce

    kw = dict(type=OrderType.MARKET, tif=TimeInForce.DAY)

    await _hold_aapl(s)
    s.set_limit("max_var", "1000000")
    vl = s.var_limits
    u = s.greeks.units([OPTION])[OPTION]
    change = vl.change(Order(id="x", client_id="x", symbol=OPTION, side=Side.BUY, qty=Decimal(2), **kw), None)
    assert change == {"AAPL": pytest.approx(2 * 100 * u.delta * u.spot)}
    combo = Order(id="y", client_id="y", symbol=OPTION, side=Side.SELL, qty=Decimal(3),
                  legs=(Leg(symbol=OPTION, side=Side.BUY), Leg(symbol="AAPL", side=Side.SELL, ratio=50)), **kw)
    price = s.portfolio.last("AAPL")
    expected = -3 * 100 * u.delta * u.spot + 3 * 50 * float(price)  # selling the combo reverses each leg
    assert vl.change(combo, None) == {"AAPL": pytest.approx(expected)}
    # an option order that would take the VaR past the limit is refused like a share order
    var = vl.state.var
    s.set_limit("max_var", str(round(var * 1.2)))
    refused = await s.oms.submit(buy(OPTION, 5))  # ~250 shares of delta on top of 100
    assert refused.status is OrderStatus.REJECTED and refused.reason.startswith("1-day 99% historical VaR would be")
