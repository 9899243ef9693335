"""The paper market's option chains: one underlying's listed contracts for one expiry, quoted.

``paper_chain`` answers ``SimBroker.option_chain``: the listed expiries
(``brokers.paper.listings``), the strikes around the underlying's price, and for each strike a
call and a put with the bid, ask, last and day volume the market quotes at that moment and
the day's open interest. Implied volatility and Greeks are left for the engine
(``workstation.core.chain.with_greeks``); the chain carries the rate and dividend yield the
paper market prices with, so the engine's IV is the surface's (less the American
early-exercise premium, which the display's Black-Scholes-Merton does not know).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from brokers.paper import listings, surface
from brokers.paper.market import RATE, SimMarket
from brokers.paper.universe import Universe
from workstation.core.chain import OptionChain, OptionQuote
from workstation.core.model import Quote, Right, plain
from workstation.core.options import year_fraction


def paper_chain(
    market: SimMarket, universe: Universe, underlying: str, expiry: date | None, today: date, t: float,
    quotes: Callable[[Sequence[str]], list[Quote]],
) -> OptionChain:
    """The chain of ``underlying`` for ``expiry`` (None: the nearest listed) at ``t``; ``quotes``
    gives the quotes of symbols at ``t`` (the broker's, so the chain agrees with its book).
    After 16:00 New York on an expiry day, that day's expiry is no longer listed nor the default
    (it can still be asked for by date until midnight).
    UniverseError (one line) for an underlying without options or an unlisted expiry."""
    when, listed = listings.check_expiry(universe, underlying, expiry, today)
    live = [d for d in listed if year_fraction(d, t) > 0.0]  # today's expiry leaves the list at its close
    if expiry is None and live and when not in live:
        when = live[0]
    und = universe.check(underlying, today).symbol
    spot_quote = quotes([und])[0]
    spot = spot_quote.mid if spot_quote.bid > 0 and spot_quote.ask >= spot_quote.bid else spot_quote.last
    strikes = listings.strikes(universe, und, spot, when, today)
    day = when.isoformat()
    symbols = [f"{und}-{day}-{plain(k)}-{r.value}" for k in strikes for r in (Right.CALL, Right.PUT)]
    got = quotes(symbols)
    interest = market.open_interest(symbols, t)
    contracts = tuple(
        OptionQuote(
            symbol=sym, expiry=when, strike=strikes[i // 2], right=Right.CALL if i % 2 == 0 else Right.PUT,
            bid=q.bid, ask=q.ask, last=q.last, volume=q.volume, open_interest=oi,
        )
        for i, (sym, q, oi) in enumerate(zip(symbols, got, interest, strict=True))
    )
    return OptionChain(
        underlying=und, spot=spot, ts=t, expiries=tuple(live or listed), expiry=when, contracts=contracts,
        rate=RATE, dividend_yield=surface.dividend_yield(und),
    )
