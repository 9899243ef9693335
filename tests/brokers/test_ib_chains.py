"""Option chains from IB: ib_async against the fake TWS (reqSecDefOptParams, contract details,
market data with open interest and TWS's option computations)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from brokers.base import BrokerError
from tests.conftest import run_cli
from tests.fakes.ib_harness import ib_broker, until
from tests.fakes.tws_fake import FakeContract, FakeTWS, option_contracts
from workstation.core.model import Right

EXPIRIES = ["20261218", "20270115"]
STRIKES = [190.0, 200.0, 210.0]


def list_chain(fake: FakeTWS) -> None:
    """AAPL options at three strikes and two expiries, quoted, with open interest and TWS's Greeks."""
    fake.contracts = [c for c in fake.contracts if c.sec_type != "OPT"] + option_contracts("AAPL", EXPIRIES, STRIKES)
    for c in fake.contracts:
        if c.sec_type != "OPT":
            continue
        k = c.strike
        call = c.right == "C"
        mid = max(0.5, (200 - k if call else k - 200) + 6.0) + (2.0 if c.expiry == "20270115" else 0.0)
        fake.quotes[c.con_id] = dict(bid=mid - 0.05, ask=mid + 0.05, last=mid, volume=100 + k)
        fake.open_interest[c.con_id] = 1000 + k + (1 if call else 0)
        fake.set_greeks(c.con_id, iv=0.25 + (200 - k) / 1000, delta=(0.5 if call else -0.5) + (200 - k) / 100,
                        gamma=0.021, vega=0.31, theta=-0.045, und_price=201.25, opt_price=mid)


@pytest.fixture
async def tws():
    fake = FakeTWS()
    list_chain(fake)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def broker(tws):
    b = ib_broker(tws.port)
    await b.connect()
    yield b
    await b.close()


async def test_the_chain_lists_ibs_expiries_and_the_nearest_expirys_contracts(broker, tws):
    chain = await broker.option_chain("AAPL")
    assert chain.expiries == (date(2026, 12, 18), date(2027, 1, 15))
    assert chain.expiry == date(2026, 12, 18) and chain.underlying == "AAPL"
    assert chain.greeks_source == "broker" and chain.multiplier == Decimal(100)
    assert chain.spot == 201.25  # the underlying price of TWS's option model (AAPL is not streamed here)
    assert [(c.symbol, c.strike, c.right) for c in chain.contracts] == [
        ("AAPL-2026-12-18-190-C", Decimal(190), Right.CALL), ("AAPL-2026-12-18-190-P", Decimal(190), Right.PUT),
        ("AAPL-2026-12-18-200-C", Decimal(200), Right.CALL), ("AAPL-2026-12-18-200-P", Decimal(200), Right.PUT),
        ("AAPL-2026-12-18-210-C", Decimal(210), Right.CALL), ("AAPL-2026-12-18-210-P", Decimal(210), Right.PUT),
    ]
    call = chain.contracts[0]
    assert (call.bid, call.ask, call.last, call.volume, call.open_interest) == (15.95, 16.05, 16.0, 290.0, 1191.0)
    assert (call.iv, call.delta, call.gamma, call.vega, call.theta) == (0.26, 0.6, 0.021, 0.31, -0.045)
    put = chain.contracts[5]
    assert (put.bid, put.ask, put.open_interest, put.delta) == (15.95, 16.05, 1210.0, -0.6)
    assert chain.atm_strike() == Decimal(200)
    secdef = [r for r in tws.requests if r[0] == "78"]
    assert secdef and secdef[0][2:5] == ["AAPL", "", "STK"] and secdef[0][5] == "265598"  # the qualified underlying's conId


async def test_a_named_expiry_and_market_data_lines_given_back(broker, tws):
    tws.push_quote(265598, 200.9, 201.1, 201.0)
    await broker.subscribe(["AAPL"])
    await until(lambda: broker.snapshot("AAPL") is not None, what="AAPL quote")
    chain = await broker.option_chain("aapl", date(2027, 1, 15))
    assert chain.spot == pytest.approx(201.0)  # the adapter's own AAPL quote, its stream left running
    assert chain.expiry == date(2027, 1, 15) and len(chain.contracts) == 6
    assert {c.symbol[:15] for c in chain.contracts} == {"AAPL-2027-01-15"}
    assert chain.contracts[2].bid == 7.95  # the 200 call, two dollars dearer a month later
    asked = {r[2] for r in tws.requests if r[0] == "1" and r[5] == "OPT"}
    await until(lambda: {r[2] for r in tws.requests if r[0] == "2"} == asked, what="every option line asked for cancelled")
    assert len(asked) == 6 and broker._tickers  # the watchlist's AAPL line is still streaming


async def test_unknown_underlying_unlisted_expiry_and_no_options_are_one_line_errors(broker):
    with pytest.raises(BrokerError) as unknown:
        await broker.option_chain("ZZZZ")
    assert str(unknown.value) == "IB has no contract for ZZZZ"
    with pytest.raises(BrokerError) as expiry:
        await broker.option_chain("AAPL", date(2026, 12, 19))
    assert str(expiry.value) == "IB lists no AAPL options expiring 2026-12-19 (expiries: 2026-12-18, 2027-01-15)"
    with pytest.raises(BrokerError) as none:
        await broker.option_chain("MSFT")
    assert str(none.value) == "IB lists no options on MSFT"


def test_main_py_chain_on_ib_paper_prints_tws_greeks_and_one_line_errors(home):
    with FakeTWS.in_thread(list_chain) as fake:
        home.mkdir(parents=True, exist_ok=True)
        (home / "settings.toml").write_text(f"[profiles.ib-paper]\noptions = {{ port = {fake.port}, client_id = 9 }}\n")
        result = run_cli("chain", "AAPL", "--expiry", "2027-01-15", "--json", "--profile", "ib-paper", home=home)
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert (doc["expiry"], doc["expiries"], doc["greeks_source"], doc["spot"]) == (
            "2027-01-15", ["2026-12-18", "2027-01-15"], "broker", 201.25)
        row = next(r for r in doc["strikes"] if r["strike"] == "190")
        assert (row["call"]["bid"], row["call"]["iv"], row["call"]["delta"], row["call"]["open_interest"]) == (17.95, 0.26, 0.6, 1191.0)
        assert row["put"]["delta"] == -0.4
        bad = run_cli("chain", "AAPL", "--expiry", "2026-12-19", "--profile", "ib-paper", home=home)
        assert bad.returncode != 0 and "Traceback" not in bad.stderr
        assert "IB lists no AAPL options expiring 2026-12-19 (expiries: 2026-12-18, 2027-01-15)" in bad.stderr


async def test_an_index_chain_reads_the_indexs_own_trading_class():
    fake = FakeTWS()
    spx = FakeContract(416904, "SPX", "IND", "CBOE", local_symbol="SPX", trading_class="SPX", long_name="S&P 500 Stock Index")
    fake.contracts = [spx, *option_contracts("SPX", ["20261218"], [6000.0, 6100.0], first_con_id=720_000_000),
                      *option_contracts("SPX", ["20261211", "20261218"], [6000.0, 6050.0], first_con_id=730_000_000,
                                        trading_class="SPXW")]
    for c in fake.contracts[1:]:
        fake.quotes[c.con_id] = dict(bid=40.0, ask=41.0, last=40.5)
        fake.set_greeks(c.con_id, iv=0.15, delta=0.5 if c.right == "C" else -0.5, gamma=0.002, vega=5.1, theta=-1.9,
                        und_price=6012.5)
    await fake.start()
    broker = ib_broker(fake.port)
    await broker.connect()
    try:
        chain = await broker.option_chain("SPX")
        assert chain.expiries == (date(2026, 12, 18),)  # the SPXW weeklies are another trading class
        assert [c.symbol for c in chain.contracts] == [
            "SPX-2026-12-18-6000-C", "SPX-2026-12-18-6000-P", "SPX-2026-12-18-6100-C", "SPX-2026-12-18-6100-P"]
        assert chain.spot == 6012.5 and chain.contracts[0].vega == 5.1
        details = [r for r in fake.requests if r[0] == "9" and r[5] == "IND"]
        assert details and details[0][4] == "SPX" and details[0][10] == "CBOE"  # the index asked for as IND at CBOE
    finally:
        await broker.close()
        await fake.stop()
