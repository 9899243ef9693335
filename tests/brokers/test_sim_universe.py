"""The paper market's universe: what it lists quotes at realistic levels; anything else is one line."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from brokers.base import BrokerError, BrokerRejected
from brokers.paper.broker import SimBroker
from brokers.paper.market import shipped_universe
from brokers.paper.replay import ReplayFeed
from workstation.cli.app import main
from workstation.core.clock import SimClock
from workstation.core.model import ModelError, Order, OrderType, Side, TimeInForce
from workstation.core.symbols import parse_symbol

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 6, 10, 11, 0, tzinfo=NY).timestamp()  # a Wednesday morning
TODAY = date(2026, 6, 10)
DATA = Path(__file__).parents[1] / "data"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def journal_rows(home: Path) -> dict[str, int]:
    path = home / "data" / "paper" / "journal.sqlite"
    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'") if r[0] != "meta"]
        return {t: db.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}


async def refusal(symbol: str) -> str:
    broker = SimBroker(SimClock(T0))
    with pytest.raises(BrokerError) as err:
        await broker.instrument(symbol)
    return str(err.value)


# ------------------------------------------------------------------ the command line


@pytest.mark.parametrize(
    ("symbol", "says"),
    [
        ("APPL", "APPL is not in the paper market's universe; did you mean AAPL?"),
        ("ES-9999-12", "ES-9999-12 is not listed; ES contracts open now:"),
        ("AAPL-1999-01-01-200-C", "AAPL-1999-01-01-200-C expired on 1999-01-01"),
        ("AAPL-2026-12-18-100000000000000000000000000000000-C", "option strike 100000000000000000000000000000000 is out of range"),
    ],
)
def test_a_typo_an_unlisted_future_an_expired_option_an_absurd_strike_are_one_line_exit_2_nothing_written(
    capsys, home, symbol, says
) -> None:
    code, out, err = cli(capsys, "buy", "1", symbol)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], err
    assert "Traceback" not in out + err
    assert not any(journal_rows(home).values())  # no order, no event, no alert, no fill


def test_a_symbol_the_user_adds_in_the_settings_trades_at_its_reference_price(capsys, home) -> None:
    home.mkdir(parents=True, exist_ok=True)
    extra = home / "mine.toml"
    extra.write_text('[stocks]\nWIDG = { price = "12.40", sector = "Industrials" }\n', encoding="utf-8")
    (home / "settings.toml").write_text(
        f'[paper]\nuniverse = "{extra}"\n\n[paper.symbols]\nACME = {{ price = "42.50", sector = "Industrials" }}\n',
        encoding="utf-8",
    )
    for symbol, level in (("ACME", 42.5), ("WIDG", 12.4)):
        code, out, err = cli(capsys, "buy", "5", symbol, "--json")
        assert code == 0, err
        assert '"status": "filled"' in out or '"status":"filled"' in out, out
        price = float(out.split('"avg_fill_price"')[1].split('"')[1])
        assert 0.6 * level < price < 1.6 * level


def test_a_bad_paper_symbols_file_is_one_line_naming_it(capsys, home) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text('[paper.symbols]\nACME = { price = "-3" }\n', encoding="utf-8")
    code, _, err = cli(capsys, "buy", "1", "AAPL")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "price" in err


# ------------------------------------------------------------------ the broker's door


async def test_unlisted_expiries_and_off_increment_strikes_are_refused_naming_the_listed_ones() -> None:
    assert "AAPL options do not expire on 2026-12-17 (nearest listed: " in await refusal("AAPL-2026-12-17-200-C")
    assert "strike 201 is off the 5 increment (nearest listed: 200 or 205)" in await refusal("AAPL-2026-12-18-201-C")
    assert "strike 2000 is not listed; AAPL strikes run from 115 to 345" in await refusal("AAPL-2026-12-18-2000-C")
    assert "ES-2020-03 expired on 2020-03-20" in await refusal("ES-2020-03")
    assert "PEPE/USD is not in the paper market's universe" in await refusal("PEPE/USD")
    assert "XX is not a futures contract of the paper market" in await refusal("XX-2026-12")


async def test_an_order_for_an_unlisted_symbol_sent_straight_to_the_broker_is_rejected_with_the_reason() -> None:
    broker = SimBroker(SimClock(T0))
    reports: list[object] = []
    broker.attach(reports.append, lambda q: None, lambda s: None)
    order = Order(id="1", client_id="c1", symbol="APPL", side=Side.BUY, qty=D(1), type=OrderType.MARKET, tif=TimeInForce.DAY)
    await broker.submit(order)
    assert isinstance(reports[0], BrokerRejected) and "did you mean AAPL?" in reports[0].reason
    assert broker.snapshot("APPL") is None


def test_every_shipped_symbol_quotes_near_its_reference_price() -> None:
    universe = shipped_universe()
    broker = SimBroker(SimClock(T0))
    symbols = universe.symbols(TODAY)
    assert len(universe.listings) >= 60 and {"IBM", "KO", "PLTR", "PEP", "BRK.B", "SPX"} <= set(universe.listings)
    assert {"BTC/USD", "ETH/USDT", "BTC/FDUSD", "EUR/USDT", "EUR/USD", "USD/JPY", "ES-2026-06", "CL-2026-07"} <= set(symbols)
    for name, listing in universe.listings.items():
        # an at-the-money option of every listed expiry quotes too
        for expiry in universe.expiries(name, TODAY)[:3]:
            strikes = universe.strikes(name)
            atm = min(strikes, key=lambda k: abs(k - listing.price))
            symbols.append(f"{name}-{expiry.isoformat()}-{atm.normalize():f}-C")
    for symbol in symbols:
        q = broker.snapshot(symbol)
        assert q is not None, symbol
        assert 0 < q.bid < q.ask, symbol
    for name in ("IBM", "KO", "AAPL", "SPY"):
        ref = float(universe.listings[name].price)
        assert 0.8 * ref < broker.snapshot(name).last < 1.25 * ref, name  # not a level hashed from the name


def test_option_expiries_are_fridays_third_fridays_and_leaps_moved_before_holidays() -> None:
    universe = shipped_universe()
    aapl = universe.expiries("AAPL", date(2026, 3, 30))
    assert date(2026, 4, 2) in aapl and date(2026, 4, 3) not in aapl  # Good Friday: the Thursday before
    assert date(2026, 4, 10) in aapl  # weeklies
    ko = universe.expiries("KO", date(2026, 3, 30))
    assert date(2026, 4, 10) not in ko and date(2026, 4, 17) in ko  # no weeklies: the third Friday
    assert date(2028, 1, 21) in ko  # a January LEAPS


def test_strike_increments_follow_the_price_bands() -> None:
    universe = shipped_universe()
    f = universe.strikes("F")  # a $12 stock: $1 strikes
    assert f[0] == D(6) and f[1] == D(7)
    ko = universe.strikes("KO")  # $70: $2.50
    assert D("72.5") in ko and D(71) not in ko
    spy = universe.strikes("SPY")  # ETFs: $1 everywhere
    assert D(601) in spy


def test_an_absurd_strike_does_not_even_parse() -> None:
    with pytest.raises(ModelError, match="out of range"):
        parse_symbol("AAPL-2026-12-18-1000000-C")
    with pytest.raises(ModelError, match="thousandths"):
        parse_symbol("AAPL-2026-12-18-200.0001-C")


async def test_a_replayed_file_keeps_its_own_symbol_even_an_expired_contract() -> None:
    feed = ReplayFeed.from_file(DATA / "2006-min-005.txt", symbol="ES-2006-03")
    broker = SimBroker(SimClock(T0), feed=feed)
    assert (await broker.instrument("ES-2006-03")).symbol == "ES-2006-03"
    assert broker.snapshot("ES-2006-03") is not None
