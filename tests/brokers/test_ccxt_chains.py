"""Option chains from a ccxt exchange: the real ccxt against the binance fake's options API (eapi)."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from brokers.base import BrokerError
from brokers.exchanges.adapter import CcxtBroker, CcxtConfig
from tests.conftest import run_cli
from tests.fakes.binance_session import PROFILE, fake, keys, profile_options, toml_for  # noqa: F401 (fixtures)
from workstation.core.clock import SimClock
from workstation.core.model import Right

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=timezone.utc).timestamp()


def list_options(fake) -> None:  # noqa: F811
    for expiry, extra in (("261225", 0), ("270326", 3000)):
        for strike in (95000, 100000, 105000):
            away = (100000 - strike) // 1000
            fake.list_option(f"BTC-{expiry}-{strike}-C", bid=str(4000 + 500 * away + extra), ask=str(4100 + 500 * away + extra),
                             last=str(4050 + 500 * away + extra), volume="12.5", mark_iv="0.52", bid_iv="0.5", ask_iv="0.54",
                             delta=str(0.5 + away / 100), gamma="0.00004656", theta="-32.1", vega="51.7",
                             open_interest=str(100 + strike // 1000), index="100250.5")
            fake.list_option(f"BTC-{expiry}-{strike}-P", bid=str(3900 - 500 * away + extra), ask=str(4000 - 500 * away + extra),
                             mark_iv="0.55", delta=str(-0.5 + away / 100), gamma="0.00004656", theta="-30.5", vega="51.7",
                             open_interest=str(200 + strike // 1000), index="100250.5")
    fake.list_option("ETH-261225-3000-C", bid="150", ask="160", mark_iv="0.6", delta="0.5", index="3001")


async def connected(fake, **extra) -> CcxtBroker:  # noqa: F811
    broker = CcxtBroker(CcxtConfig.from_options(profile_options(fake, **extra)), SimClock(NOW))
    await broker.connect()
    return broker


@pytest.fixture
async def broker(fake, keys):  # noqa: F811
    list_options(fake)
    b = await connected(fake, sandbox=False)
    yield b
    await b.close()


async def test_expiries_and_the_nearest_expirys_contracts_with_binances_greeks(broker, fake):  # noqa: F811
    chain = await broker.option_chain("BTC/USD")
    assert chain.expiries == (date(2026, 12, 25), date(2027, 3, 26))
    assert chain.expiry == date(2026, 12, 25) and chain.greeks_source == "broker" and chain.multiplier == Decimal(1)
    assert chain.underlying == "BTC/USD" and chain.spot == 100250.5  # binance's index price for its options
    assert [(c.symbol, c.strike, c.right) for c in chain.contracts] == [
        ("BTC-261225-95000-C", Decimal(95000), Right.CALL), ("BTC-261225-95000-P", Decimal(95000), Right.PUT),
        ("BTC-261225-100000-C", Decimal(100000), Right.CALL), ("BTC-261225-100000-P", Decimal(100000), Right.PUT),
        ("BTC-261225-105000-C", Decimal(105000), Right.CALL), ("BTC-261225-105000-P", Decimal(105000), Right.PUT),
    ]
    call = chain.contracts[0]
    assert (call.bid, call.ask, call.last, call.volume, call.open_interest) == (6500.0, 6600.0, 6550.0, 12.5, 195.0)
    assert (call.iv, call.delta, call.gamma, call.theta, call.vega) == (0.52, 0.55, 0.00004656, -32.1, 51.7)
    put = chain.contracts[5]
    assert (put.bid, put.ask, put.open_interest, put.iv, put.delta) == (6400.0, 6500.0, 305.0, 0.55, -0.55)
    interest = [p for m, path, p in fake.requests if path == "eapi/openInterest"]
    assert interest == [{"underlyingAsset": "BTC", "expiration": "261225"}]  # one request for the whole expiry


async def test_a_named_expiry_and_the_spot_markets_untouched(broker, fake):  # noqa: F811
    chain = await broker.option_chain("btc", date(2027, 3, 26))
    assert chain.expiry == date(2027, 3, 26) and chain.underlying == "BTC" and len(chain.contracts) == 6
    assert chain.contracts[2].symbol == "BTC-270326-100000-C" and chain.contracts[2].bid == 7000.0
    await broker.option_chain("ETH")
    assert len([1 for m, path, p in fake.requests if path == "eapi/exchangeInfo"]) == 1  # option markets loaded once
    inst = await broker.instrument("BTC/USD")
    assert inst.symbol == "BTC/USD" and inst.tick_size == Decimal("0.01")  # spot trading as before


async def test_unknown_underlying_and_unlisted_expiry_are_one_line_errors(broker):
    with pytest.raises(BrokerError) as unknown:
        await broker.option_chain("DOGE")
    assert str(unknown.value) == "binance lists no options on DOGE"
    with pytest.raises(BrokerError) as expiry:
        await broker.option_chain("BTC", date(2026, 12, 26))
    assert str(expiry.value) == "binance lists no BTC options expiring 2026-12-26 (expiries: 2026-12-25, 2027-03-26)"


async def test_an_exchange_without_options_says_so(fake, keys):  # noqa: F811
    list_options(fake)  # the venue has them, but ccxt's binance testnet lists no options
    b = await connected(fake)
    try:
        with pytest.raises(BrokerError) as none:
            await b.option_chain("BTC/USD")
        assert str(none.value) == "binance-testnet lists no options"
        assert not [1 for m, path, p in fake.requests if path.startswith("eapi/")]
    finally:
        await b.close()


def test_main_py_chain_on_a_ccxt_profile_prints_the_venues_greeks(fake, keys, home):  # noqa: F811
    list_options(fake)
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text(toml_for(fake, sandbox=False))
    result = run_cli("chain", "BTC/USD", "--json", "--profile", PROFILE, home=home)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["expiry"], doc["greeks_source"], doc["multiplier"]) == ("2026-12-25", "broker", "1")
    assert doc["spot"] == 100250.5  # the venue's index price, not the spot pair's 60,000.50 the command also streams
    row = next(r for r in doc["strikes"] if r["strike"] == "100000")
    assert (row["call"]["symbol"], row["call"]["bid"], row["call"]["iv"], row["call"]["open_interest"]) == (
        "BTC-261225-100000-C", 4000.0, 0.52, 200.0)
    assert doc["atm_strike"] == "100000"
