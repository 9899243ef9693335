"""The paper options market: a volatility surface, listed expiries and strikes, American
equity options, cash indices, and the chain the paper broker answers."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal as D
from time import perf_counter
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from brokers.base import BrokerRejected
from brokers.paper import listings, surface
from brokers.paper.broker import NotListed, SimBroker
from brokers.paper.market import PREMIUM_KNOT, RATE, SimMarket, shipped_universe
from brokers.paper.universe import UniverseError
from workstation.core.chain import OptionChain, OptionQuote, with_greeks
from workstation.core.clock import SimClock
from workstation.core.model import Order, OrderType, Right, Side, TimeInForce
from workstation.core.options import american_price, bsm_price, year_fraction

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 6, 10, 11, 0, tzinfo=NY).timestamp()  # a Wednesday morning; a multiple of PREMIUM_KNOT
TODAY = date(2026, 6, 10)


async def chain(underlying: str, expiry: date | None = None, t: float = T0) -> OptionChain:
    return await SimBroker(SimClock(t)).option_chain(underlying, expiry)


def by_strike(ch: OptionChain, right: Right) -> dict[D, object]:
    return {c.strike: c for c in ch.contracts if c.right is right}


def near(strikes: list[D], target: float) -> D:
    return min(strikes, key=lambda k: abs(float(k) - target))


# ------------------------------------------------------------------ the surface


async def test_lower_strikes_carry_more_implied_volatility_on_stocks_and_more_still_on_an_index() -> None:
    for und, expiry in (("AAPL", date(2026, 9, 18)), ("SPX", date(2026, 9, 18))):
        ch = with_greeks(await chain(und, expiry), T0)
        strikes, spot = ch.strikes(), ch.spot
        calls, puts = by_strike(ch, Right.CALL), by_strike(ch, Right.PUT)
        low, atm, high = near(strikes, 0.85 * spot), near(strikes, spot), near(strikes, 1.1 * spot)
        iv_low, iv_atm, iv_high = puts[low].iv, calls[atm].iv, calls[high].iv
        assert iv_low > iv_atm > iv_high, (und, iv_low, iv_atm, iv_high)
        if und == "SPX":
            assert iv_low - iv_atm > 0.05  # an index's put skew: 15% below the money, 5+ vol points richer
        else:
            assert iv_low - iv_atm > 0.01


def test_a_selloff_lifts_vols_and_inverts_the_term_structure_and_short_expiries_skew_more() -> None:
    years = np.array([7 / 365, 30 / 365, 0.5, 2.0])
    ones = np.ones(4)

    def atm(spot: float) -> np.ndarray:
        iv, _ = surface.implied_vols(spot * ones, 100 * ones, 0.3 * ones, spot * np.exp(RATE * years), years,
                                     RATE, 0 * ones, 0.08 * ones, 0.08 * ones, 0 * ones)
        return iv

    calm, selloff = atm(100.0), atm(80.0)
    assert list(calm) == sorted(calm)  # upward sloping: short-dated vol below long-dated
    assert list(selloff) == sorted(selloff, reverse=True)  # inverted after a 20% drop
    assert selloff[0] > 1.3 * calm[0] and selloff[-1] >= calm[-1]

    def slope(t: float) -> float:  # d iv / d ln K at the money
        k = np.array([95.0, 105.0])
        iv, _ = surface.implied_vols(100 * np.ones(2), 100 * np.ones(2), 0.3 * np.ones(2), k, t * np.ones(2),
                                     0.0, np.zeros(2), 0.08 * np.ones(2), 0.08 * np.ones(2), np.zeros(2))
        return float((iv[1] - iv[0]) / math.log(105 / 95))

    assert slope(7 / 365) < slope(0.25) < slope(1.0) < 0  # put skew, steeper as expiry nears


def test_two_markets_with_the_same_seed_quote_options_alike_whatever_they_were_asked_before() -> None:
    symbols = [f"AAPL-2026-12-18-{k}-{r}" for k in range(150, 350, 5) for r in "CP"]
    warm = SimMarket(seed=3)
    for i in range(12):
        warm.quotes(symbols, T0 + 17.25 * i)  # fills its caches at other times
    t = T0 + 1234.5
    assert warm.quotes(symbols, t) == SimMarket(seed=3).quotes(symbols, t)
    assert [SimMarket(seed=3).quote(s, t) for s in symbols[:6]] == warm.quotes(symbols[:6], t)
    assert SimMarket(seed=4).quotes(symbols, t) != warm.quotes(symbols, t)


# ------------------------------------------------------------------ listings


def test_listed_expiries_are_weeklies_monthlies_and_quarterlies_moved_before_holidays() -> None:
    u = shipped_universe()
    aapl = listings.expiries(u, "AAPL", TODAY)
    assert aapl[:5] == [date(2026, 6, 12), date(2026, 6, 18), date(2026, 6, 26), date(2026, 7, 2), date(2026, 7, 10)]
    # 2026-06-19 (the third Friday) is Juneteenth: the monthly expires on the Thursday;
    # 2026-07-03 (Independence Day observed): that weekly on 2026-07-02
    assert date(2026, 6, 19) not in aapl and date(2026, 7, 3) not in aapl
    assert listings.is_monthly(date(2026, 6, 18)) and listings.cycle(date(2026, 9, 18)) == "quarterly"
    assert listings.cycle(date(2026, 6, 26)) == "weekly"
    assert date(2026, 7, 17) in aapl and date(2026, 11, 20) in aapl  # monthlies, six months out
    assert date(2026, 7, 24) not in aapl  # weeklies only for the next five weeks
    assert date(2027, 1, 15) in aapl and date(2027, 2, 19) not in aapl  # past six months: quarterlies and LEAPS
    assert date(2027, 12, 17) in aapl and date(2028, 3, 17) in aapl  # quarterlies out to two years
    ko = listings.expiries(u, "KO", TODAY)
    assert date(2026, 6, 12) not in ko and ko[0] == date(2026, 6, 18)  # no weeklies on KO


@pytest.mark.parametrize(
    ("underlying", "step"),
    [("F", D(1)), ("KO", D("2.5")), ("AAPL", D(5)), ("SPY", D(1)), ("SPX", D(5)), ("NDX", D(25)), ("BKNG", D(10))],
)
async def test_a_chain_lists_strikes_on_the_standard_increment_around_the_money(underlying: str, step: D) -> None:
    ch = await chain(underlying, listings.expiries(shipped_universe(), underlying, TODAY)[3])
    strikes = ch.strikes()
    spot = D(repr(ch.spot))
    assert strikes[0] < spot < strikes[-1]
    steps = {b - a for a, b in zip(strikes, strikes[1:], strict=False) if abs(a - spot) < 10 * step}
    assert steps == {step}  # near the money: the listing's increment
    assert strikes[0] < D("0.85") * spot and strikes[-1] > D("1.15") * spot  # and a wider one further out
    assert 10 <= len(strikes) <= listings.MAX_STRIKES
    assert len(ch.contracts) == 2 * len(strikes)


# ------------------------------------------------------------------ quotes


async def test_option_markets_are_wider_away_from_the_money_and_near_expiry() -> None:
    weekly, quarterly = await chain("AAPL", date(2026, 6, 26)), await chain("AAPL", date(2026, 12, 18))

    def rel_width(ch: OptionChain, strike_at: float, right: Right) -> float:
        c = by_strike(ch, right)[near(ch.strikes(), strike_at * ch.spot)]
        return (c.ask - c.bid) / c.mid

    assert rel_width(quarterly, 0.8, Right.PUT) > 1.3 * rel_width(quarterly, 1.0, Right.CALL)
    assert rel_width(weekly, 1.0, Right.CALL) > rel_width(quarterly, 1.0, Right.CALL)
    deep = by_strike(quarterly, Right.CALL)[near(quarterly.strikes(), 0.7 * quarterly.spot)]
    atm = by_strike(quarterly, Right.CALL)[near(quarterly.strikes(), quarterly.spot)]
    assert deep.ask - deep.bid > atm.ask - atm.bid  # dollars too: deep in the money is wider
    for c in weekly.contracts + quarterly.contracts:
        assert c.ask - c.bid >= 0.01 - 1e-9 and c.bid >= 0.01


async def test_open_interest_and_volume_peak_at_the_money_and_in_the_monthlies() -> None:
    monthly, weekly = await chain("AAPL", date(2026, 7, 17)), await chain("AAPL", date(2026, 7, 10))

    def total(ch: OptionChain, lo: float, hi: float, field: str) -> float:
        base = float(shipped_universe().listings["AAPL"].price)
        picked = [getattr(c, field) for c in ch.contracts if lo <= float(c.strike) / base <= hi]
        return sum(picked) / len(picked)

    for field in ("open_interest", "volume"):
        assert total(monthly, 0.95, 1.05, field) > 3 * total(monthly, 1.3, 1.5, field)
    assert total(monthly, 0.95, 1.05, "open_interest") > total(weekly, 0.95, 1.05, "open_interest")
    assert all(c.open_interest == int(c.open_interest) and c.open_interest >= 0 for c in monthly.contracts)
    assert all(1 <= q.bid_size <= 500 for q in SimMarket().quotes([c.symbol for c in monthly.contracts], T0))


# ------------------------------------------------------------------ American and European


def test_an_equity_put_is_worth_its_american_value_above_the_european_and_a_call_on_a_non_payer_is_european() -> None:
    market = SimMarket()
    t = T0 + 40 * PREMIUM_KNOT  # on a knot: the premium there is the tree's own
    expiry = date(2027, 6, 17)
    years = year_fraction(expiry, t)
    spot = float(market.mids("TSLA", [t])[0])
    assert surface.dividend_yield("TSLA") == 0.0
    for k in (200, 250, 300, 350, 400):
        call = float(market.mids(f"TSLA-{expiry}-{k}-C", [t])[0])
        put = float(market.mids(f"TSLA-{expiry}-{k}-P", [t])[0])
        iv = float(with_greeks(OptionChain(underlying="TSLA", spot=spot, ts=t, expiries=(expiry,), expiry=expiry,
                                           contracts=(_quote(f"TSLA-{expiry}-{k}-C", expiry, k, call),)), t).contracts[0].iv)
        # a call on a non-payer is never exercised early: its American value is the European one
        assert american_price(spot, k, years, RATE, 0.0, iv, True) == pytest.approx(call, abs=0.015)
        european_put = float(bsm_price(spot, k, years, RATE, 0.0, iv, False))
        assert put >= european_put - 0.01
        assert put == pytest.approx(float(american_price(spot, k, years, RATE, 0.0, iv, False)), abs=0.03)
        if k == 400:  # deep in the money (TSLA near 250): early exercise is worth more than a few cents
            assert put - european_put > 0.5


def _quote(symbol: str, expiry: date, strike: int, mid: float) -> OptionQuote:
    return OptionQuote(symbol=symbol, expiry=expiry, strike=D(strike), right=Right.CALL, bid=mid, ask=mid)


def test_index_options_are_european_and_equity_puts_are_not() -> None:
    market = SimMarket()
    t = T0 + 7 * PREMIUM_KNOT
    expiry = date(2027, 6, 17)
    years = year_fraction(expiry, t)
    for und, k, q in (("SPX", 7000, surface.dividend_yield("SPX")), ("SPY", 700, surface.dividend_yield("SPY"))):
        spot = float(market.mids(und, [t])[0])
        call = float(market.mids(f"{und}-{expiry}-{k}-C", [t])[0])
        put = float(market.mids(f"{und}-{expiry}-{k}-P", [t])[0])
        parity = spot * math.exp(-q * years) - k * math.exp(-RATE * years)  # C - P for European options
        if und == "SPX":
            assert call - put == pytest.approx(parity, abs=0.02)
        else:  # the deep in-the-money American put is worth more than parity says
            assert call - put < parity - 0.5


# ------------------------------------------------------------------ indices


async def test_an_index_is_quoted_but_an_order_for_it_is_refused_with_one_line() -> None:
    broker = SimBroker(SimClock(T0))
    inst = await broker.instrument("SPX")
    assert inst.asset_class.value == "index"
    q = broker.snapshot("SPX")
    assert q is not None and 4_000 < q.mid < 9_000
    reports: list[object] = []
    broker.attach(reports.append, lambda q: None, lambda s: None)
    order = Order(id="1", client_id="c1", symbol="SPX", side=Side.BUY, qty=D(1), type=OrderType.MARKET, tif=TimeInForce.DAY)
    await broker.submit(order)
    assert isinstance(reports[0], BrokerRejected)
    assert reports[0].reason == "SPX is an index: it is quoted but cannot be traded (trade its options, a future or an ETF)"
    # its options trade
    option = Order(id="2", client_id="c2", symbol="SPX-2026-06-18-6000-C", side=Side.BUY, qty=D(1),
                   type=OrderType.MARKET, tif=TimeInForce.DAY)
    await broker.submit(option)
    assert [type(r).__name__ for r in reports[1:3]] == ["BrokerAccepted", "BrokerFill"]


def test_a_user_index_the_engine_does_not_know_is_one_line() -> None:
    with pytest.raises(UniverseError, match=r"\[indices\] VIX: VIX is not a cash index the engine knows \(indices: NDX, RUT, SPX\)"):
        shipped_universe().extended({"indices": {"VIX": {"price": "15"}}}, "mine.toml")


# ------------------------------------------------------------------ the chain


async def test_the_chain_shows_what_the_quotes_say() -> None:
    broker = SimBroker(SimClock(T0))
    ch = await broker.option_chain("aapl")
    assert ch.underlying == "AAPL" and ch.expiry == date(2026, 6, 12) == ch.expiries[0]
    assert ch.dividend_yield == surface.dividend_yield("AAPL") and ch.rate == RATE and ch.ts == T0
    assert ch.spot == broker.snapshot("AAPL").mid
    for c in ch.contracts:
        q = broker.snapshot(c.symbol)
        assert (c.bid, c.ask, c.last, c.volume) == (q.bid, q.ask, q.last, q.volume)
        assert c.iv is None and c.delta is None  # the engine computes them
        await broker.instrument(c.symbol)  # every listed contract passes the broker's door
    assert ch.contracts == (await broker.option_chain("AAPL", date(2026, 6, 12))).contracts


async def test_at_the_close_of_an_expiry_day_the_chain_moves_on_to_the_next_expiry() -> None:
    friday = date(2026, 6, 12)
    before = await chain("AAPL", t=datetime(2026, 6, 12, 15, 59, tzinfo=NY).timestamp())
    after = await chain("AAPL", t=datetime(2026, 6, 12, 16, 1, tzinfo=NY).timestamp())
    assert before.expiry == friday == before.expiries[0]
    assert after.expiry == date(2026, 6, 18) == after.expiries[0] and friday not in after.expiries


async def test_an_unlisted_expiry_an_underlying_without_options_and_an_unlisted_strike_are_one_line() -> None:
    broker = SimBroker(SimClock(T0))
    cases = (
        (("AAPL", date(2026, 6, 19)), "AAPL options do not expire on 2026-06-19 (nearest listed: 2026-06-18, 2026-06-26, 2026-07-02)"),
        (("BTC/USD", None), "BTC/USD: the paper market lists options on stocks, ETFs and indices, not on a crypto"),
        (("APPL", None), "APPL is not in the paper market's universe; did you mean AAPL?"),
    )
    for args, says in cases:
        with pytest.raises(NotListed) as err:
            await broker.option_chain(*args)
        assert str(err.value) == says
    reports: list[object] = []
    broker.attach(reports.append, lambda q: None, lambda s: None)
    order = Order(id="1", client_id="c1", symbol="AAPL-2026-06-18-231-C", side=Side.BUY, qty=D(1),
                  type=OrderType.MARKET, tif=TimeInForce.DAY)
    await broker.submit(order)
    assert isinstance(reports[0], BrokerRejected)
    assert "strike 231 is off the 5 increment (nearest listed: 230 or 235)" in reports[0].reason


# ------------------------------------------------------------------ speed


def test_quotes_for_a_forty_strike_chain_stay_fast() -> None:
    market = SimMarket()
    symbols = [f"AAPL-2026-12-18-{k}-{r}" for k in range(135, 335, 5) for r in "CP"]
    market.quotes(symbols, T0)
    began = perf_counter()
    rounds = 40
    for i in range(rounds):
        market.quotes(symbols, T0 + 0.5 * i)  # crosses knots: their trees count too
    per_call_ms = (perf_counter() - began) / rounds * 1e3
    assert per_call_ms < 20.0, f"{per_call_ms:.1f} ms per 80 option quotes"
