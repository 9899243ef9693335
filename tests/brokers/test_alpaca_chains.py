"""Option chains from Alpaca: alpaca-py's TradingClient (contracts) and OptionHistoricalDataClient
(chain snapshots with IV and Greeks) against the loopback fake."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from brokers.alpaca.adapter import AlpacaBroker
from brokers.base import BrokerError
from tests.alpaca_support import fake, keys, settings_for, write_settings  # noqa: F401 (fixtures)
from tests.conftest import run_cli
from workstation.core.clock import SimClock
from workstation.core.model import Right

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=timezone.utc).timestamp()


EXPIRIES = ("2026-12-18", "2027-01-15", "2028-12-15")


def list_chain(fake, expiries: tuple[str, str, str] = EXPIRIES) -> None:  # noqa: F811
    for expiry, extra in zip(expiries, (0.0, 2.0, 9.0), strict=True):
        for strike in ("185", "190", "195"):
            k = float(strike)
            fake.list_option("AAPL", expiry, strike, "call", open_interest=int(1000 + k), bid=190 - k + 6 + extra,
                             ask=190 - k + 6.2 + extra, last=190 - k + 6.1 + extra, volume=int(k),
                             iv=0.3 + (190 - k) / 1000, greeks={"delta": 0.5 + (190 - k) / 100, "gamma": 0.03, "rho": 0.07,
                                                               "theta": -0.06, "vega": 0.22})
            fake.list_option("AAPL", expiry, strike, "put", open_interest=int(2000 + k), bid=k - 190 + 6 + extra,
                             ask=k - 190 + 6.2 + extra, last=None, iv=0.3, greeks={"delta": -0.5 + (190 - k) / 100,
                                                                                  "gamma": 0.03, "rho": -0.05, "theta": -0.05, "vega": 0.22})
    fake.list_option("AAPL", expiries[0], "250", "call", open_interest=0)  # listed, never quoted


@pytest.fixture
async def broker(fake, keys):  # noqa: F811
    list_chain(fake)
    b = AlpacaBroker(settings_for(fake).profile("alpaca-paper"), SimClock(NOW))
    await b.connect()
    yield b
    await b.close()


async def test_expiries_and_the_nearest_expirys_contracts_with_alpacas_greeks(broker, fake):  # noqa: F811
    chain = await broker.option_chain("AAPL")
    assert chain.expiries == (date(2026, 12, 18), date(2027, 1, 15), date(2028, 12, 15))  # past the next weekend too
    assert chain.expiry == date(2026, 12, 18) and chain.greeks_source == "broker" and chain.multiplier == Decimal(100)
    assert chain.spot == pytest.approx(190.0)  # the stock snapshot's mid
    assert [(c.symbol, c.strike, c.right) for c in chain.contracts[:2]] == [
        ("AAPL-2026-12-18-185-C", Decimal(185), Right.CALL), ("AAPL-2026-12-18-185-P", Decimal(185), Right.PUT)]
    assert len(chain.contracts) == 7
    call = next(c for c in chain.contracts if c.symbol == "AAPL-2026-12-18-185-C")
    assert (call.bid, call.ask, call.last, call.volume, call.open_interest) == (11.0, 11.2, 11.1, 185.0, 1185.0)
    assert (call.iv, call.delta, call.gamma, call.theta, call.vega, call.rho) == (0.305, 0.55, 0.03, -0.06, 0.22, 0.07)
    put = next(c for c in chain.contracts if c.symbol == "AAPL-2026-12-18-195-P")
    assert (put.bid, put.ask, put.last, put.open_interest, put.delta) == (11.0, 11.2, None, 2195.0, -0.55)
    far = chain.contracts[-1]
    assert (far.symbol, far.bid, far.iv, far.delta, far.open_interest) == ("AAPL-2026-12-18-250-C", None, None, None, 0.0)
    snap = [r for r in fake.requests if r[1] == "/v1beta1/options/snapshots/AAPL"]
    assert snap and snap[-1][2]["expiration_date"] == "2026-12-18"


async def test_a_named_expiry_read_across_pages(broker, fake):  # noqa: F811
    fake.options_page = 4
    chain = await broker.option_chain("aapl", date(2027, 1, 15))
    assert len([r for r in fake.requests if r[1] == "/v2/options/contracts"]) == 5  # 19 contracts, 4 a page
    assert len([r for r in fake.requests if r[1].startswith("/v1beta1/options/snapshots")]) == 2
    assert chain.expiry == date(2027, 1, 15) and len(chain.contracts) == 6
    assert chain.contracts[2].symbol == "AAPL-2027-01-15-190-C" and chain.contracts[2].bid == 8.0


async def test_unknown_underlying_and_unlisted_expiry_are_one_line_errors(broker):
    with pytest.raises(BrokerError) as unknown:
        await broker.option_chain("ZZZZ")
    assert str(unknown.value) == "Alpaca lists no options on ZZZZ"
    with pytest.raises(BrokerError) as expiry:
        await broker.option_chain("AAPL", date(2026, 12, 19))
    assert str(expiry.value) == "Alpaca lists no AAPL options expiring 2026-12-19 (expiries: 2026-12-18, 2027-01-15, 2028-12-15)"
    with pytest.raises(BrokerError) as crypto:
        await broker.option_chain("BTC/USD")
    assert str(crypto.value) == "Alpaca lists options on US stocks and ETFs only, not on BTC/USD"


def test_main_py_chain_on_alpaca_paper_prints_alpacas_greeks(fake, keys, home):  # noqa: F811
    # the command runs on the real clock: expiries ahead of today, whatever day the suite runs
    today = date.today()
    expiries = tuple((today + timedelta(days=n)).isoformat() for n in (15, 43, 743))
    list_chain(fake, expiries)
    write_settings(home, fake)
    result = run_cli("chain", "AAPL", "--json", "--profile", "alpaca-paper", home=home)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["expiry"], doc["greeks_source"], doc["spot"]) == (expiries[0], "broker", 190.0)
    row = next(r for r in doc["strikes"] if r["strike"] == "185")
    assert (row["call"]["bid"], row["call"]["iv"], row["call"]["rho"], row["call"]["open_interest"]) == (11.0, 0.305, 0.07, 1185.0)
    bad = run_cli("chain", "ZZZZ", "--profile", "alpaca-paper", home=home)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "Alpaca lists no options on ZZZZ" in bad.stderr
