"""Option chains from Interactive Brokers: listed expiries, one expiry's contracts, IB's own Greeks.

``reqSecDefOptParams`` names the expiries and strikes IB lists for an underlying, one row
per exchange and trading class; the SMART row of the underlying's own trading class is the
one we read (an index's weeklies, SPXW beside SPX, are another class). The contracts of one
expiry come from contract details (so only strikes really listed for that expiry appear),
then one streaming market data request each, with open interest (generic tick 101): bid,
ask, last and volume from the price ticks, implied volatility and Greeks from TWS's option
model (``tickOptionComputation``, the model tick 13: vega per vol point, theta per day, as
the chain holds them; IB sends no rho). The requests go out in batches of ``MAX_LINES``
(an account's market data lines are limited, 100 by default) and each batch waits at most
``wait`` seconds for its answers; a contract TWS said nothing about keeps blanks. The spot
is the adapter's own quote of the underlying when it streams one, else the underlying price
TWS's option model used.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any

from ib_async import IB, Contract, Ticker

from brokers.base import BrokerError
from brokers.ib.contracts import decimal_of, multiplier_of, order_contract, symbol_for
from workstation.core.chain import OptionChain, OptionQuote
from workstation.core.model import Right

MAX_LINES = 90  # market data lines per batch (IB's default allowance is 100, the watchlist holds some)
OPTION_TICKS = "101"  # open interest

Request = Callable[[Awaitable[Any], str], Awaitable[Any]]


def _value(x: float | None) -> float | None:
    """A tick's value, or None where TWS sent nothing (nan) or its "no value" (-1)."""
    if x is None or isinstance(x, float) and (math.isnan(x) or math.isinf(x)) or x < 0:
        return None
    return float(x)


def _greek(x: float | None) -> float | None:
    """A Greek as sent (negative deltas and thetas are real); None where TWS had none."""
    if x is None or math.isnan(x) or math.isinf(x):
        return None
    return float(x)


def _date(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def _complete(t: Ticker) -> bool:
    oi = t.callOpenInterest if t.contract is not None and t.contract.right == "C" else t.putOpenInterest
    return (_value(t.bid) is not None or _value(t.ask) is not None) and t.modelGreeks is not None and not math.isnan(oi)


async def _stream(ib: IB, contracts: list[Contract], streaming: set[int], wait: float) -> list[Ticker]:
    """Market data for a batch of contracts until each has quotes, Greeks and open interest (or ``wait`` s pass).
    A contract the adapter already streams (``streaming``: conIds) is read from its ticker, neither asked
    for again nor cancelled (the two requests would share one ticker)."""
    asked = [c for c in contracts if c.conId not in streaming]
    fresh = {id(c): ib.reqMktData(c, OPTION_TICKS, False, False) for c in asked}
    tickers = [fresh.get(id(c)) or ib.ticker(c) or Ticker(contract=c) for c in contracts]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    try:
        while loop.time() < deadline and not all(_complete(t) for t in fresh.values()):
            await asyncio.sleep(0.02)
    finally:
        for c in asked:
            ib.cancelMktData(c)
    return tickers


def _spot(known: float | None, tickers: list[Ticker]) -> float | None:
    """The underlying's price: the adapter's own quote, else the one TWS's option model used."""
    if known:
        return known
    for t in tickers:
        if t.modelGreeks is not None and t.modelGreeks.undPrice:
            return float(t.modelGreeks.undPrice)
    return None


def _quote(t: Ticker, symbol: str, expiry: date, strike: Decimal, right: Right) -> OptionQuote:
    g = t.modelGreeks
    oi = t.callOpenInterest if right is Right.CALL else t.putOpenInterest
    return OptionQuote(
        symbol=symbol, expiry=expiry, strike=strike, right=right,
        bid=_value(t.bid), ask=_value(t.ask), last=_value(t.last), volume=_value(t.volume), open_interest=_value(oi),
        iv=_value(g.impliedVol) if g else None, delta=_greek(g.delta) if g else None, gamma=_greek(g.gamma) if g else None,
        theta=_greek(g.theta) if g else None, vega=_greek(g.vega) if g else None,
    )


async def fetch_chain(ib: IB, underlying: str, contract: Contract, expiry: date | None, *, request: Request, now: float,
                      spot: float | None = None, streaming: set[int] = frozenset(), wait: float = 3.0) -> OptionChain:
    """The chain of ``underlying`` (whose qualified contract is ``contract``) for ``expiry`` (None: the nearest).

    ``request`` wraps each awaited request (timeout and connection errors as BrokerErrors); ``spot`` is
    the underlying's price when the adapter streams it."""
    rows = await request(ib.reqSecDefOptParamsAsync(contract.symbol, "", contract.secType, contract.conId),
                         f"option parameters for {underlying}")
    rows = [r for r in rows or [] if r.expirations]
    smart = [r for r in rows if r.exchange == "SMART"] or rows
    own = [r for r in smart if r.tradingClass == contract.tradingClass or r.tradingClass == contract.symbol] or smart
    if not own:
        raise BrokerError(f"IB lists no options on {underlying}")
    expiries = tuple(sorted({_date(e) for r in own for e in r.expirations if len(e) >= 8}))
    if expiry is None:
        expiry = expiries[0]
    elif expiry not in expiries:
        listed = ", ".join(str(d) for d in expiries[:6]) + (" ..." if len(expiries) > 6 else "")
        raise BrokerError(f"IB lists no {underlying} options expiring {expiry} (expiries: {listed})")
    trading_class = own[0].tradingClass
    query = Contract(secType="OPT", symbol=contract.symbol, lastTradeDateOrContractMonth=f"{expiry:%Y%m%d}",
                     exchange="SMART", currency=contract.currency, tradingClass=trading_class)
    details = await request(ib.reqContractDetailsAsync(query), f"{underlying} options expiring {expiry}")
    details = [d for d in details or [] if d.contract is not None and d.contract.tradingClass in ("", trading_class)]
    if not details:
        raise BrokerError(f"IB lists no {underlying} options expiring {expiry}")
    contracts = sorted((order_contract(d) for d in details), key=lambda c: (c.strike, c.right))
    tickers: list[Ticker] = []
    for start in range(0, len(contracts), MAX_LINES):
        tickers += await _stream(ib, contracts[start:start + MAX_LINES], set(streaming), wait)
    quotes = []
    for c, t in zip(contracts, tickers):
        right = Right.CALL if c.right.startswith("C") else Right.PUT
        quotes.append(_quote(t, symbol_for(c), expiry, decimal_of(c.strike), right))
    return OptionChain(
        underlying=underlying, spot=_spot(spot, tickers), ts=now, expiries=expiries, expiry=expiry,
        contracts=tuple(quotes), multiplier=multiplier_of(contracts[0]), greeks_source="broker",
    )
