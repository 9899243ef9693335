"""Quotes from the fake TWS through ib_async into the workstation's quote cache (the watchlist's source)."""

from decimal import Decimal

from tests.fakes.ib_harness import ib_session, until

AAPL = 265598
EURUSD = 12087792


async def test_bid_ask_last_and_volume_reach_the_quote_cache(home):
    async with ib_session(home, ["AAPL", "EUR/USD"]) as (session, fake):
        fake.push_quote(AAPL, 184.9, 185.1, 185.0, bid_size=300, ask_size=200, volume=123456)
        fake.push_quote(EURUSD, 1.08495, 1.08505, 1.085)
        await until(lambda: session.quotes.get("AAPL") and session.quotes.get("EUR/USD"), what="quotes")
        q = session.quotes.get("AAPL")
        assert (q.bid, q.ask, q.last, q.bid_size, q.ask_size, q.volume) == (184.9, 185.1, 185.0, 300, 200, 123456)
        fx = session.quotes.get("EUR/USD")
        assert (fx.bid, fx.ask) == (1.08495, 1.08505)
        assert session.quotes.rate("EUR") == Decimal("1.085")
        eur = await session.oms.instrument("EUR/USD")
        assert eur.tick_size == Decimal("0.00005") and eur.exchange == "IDEALPRO"


async def test_historical_bars_come_from_tws(home):
    async with ib_session(home) as (session, fake):
        now = session.clock.time()
        bars = await session.broker.history("AAPL", 60, now - 600, now)
        assert len(bars) == 5 and all(b.symbol == "AAPL" and b.seconds == 60 for b in bars)
        assert bars[0].ts < bars[-1].ts and bars[0].high > bars[0].low
