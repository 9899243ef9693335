"""A broker with option chains for the chain faces' tests: ``InstantBroker`` plus
``option_chain``, priced by Black-Scholes-Merton on a known smile, so the IV the engine
recovers is known. Far out-of-the-money contracts quote no bid: they have no IV."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np

from brokers.base import BrokerError
from tests.fakes.market import InstantBroker
from workstation.core.chain import OptionChain, OptionQuote
from workstation.core.model import Right, plain
from workstation.core.options import bsm_price, year_fraction

EXPIRIES = (date(2026, 10, 16), date(2026, 11, 20), date(2026, 12, 18))
RATE = 0.04


def smile(strike: float, spot: float, expiry: date) -> float:
    """The fake's implied volatility: a smile around the money, higher for nearer expiries."""
    base = 0.22 + 0.02 * (EXPIRIES.index(expiry) if expiry in EXPIRIES else 0)
    return base + 0.6 * (strike / spot - 1.0) ** 2


class ChainBroker(InstantBroker):
    """``option_chain(underlying, expiry)`` for the underlyings in ``chains`` (strike lists)."""

    def __init__(self, *args, strikes: int = 21, step: float = 5.0, **kw) -> None:
        super().__init__(*args, **kw)
        self.strike_count = strikes
        self.step = step
        self.asked: list[tuple[str, date | None]] = []
        self.optionable = {"AAPL", "MSFT", "SPY", "NVDA", "TSLA"}

    async def option_chain(self, underlying: str, expiry: date | None = None) -> OptionChain:
        self.asked.append((underlying, expiry))
        if underlying not in self.optionable:
            raise BrokerError(f"{underlying} lists no options")
        if expiry is not None and expiry not in EXPIRIES:
            raise BrokerError(f"{underlying} has no expiry {expiry.isoformat()}")
        when = expiry or EXPIRIES[0]
        q = self.snapshot(underlying)
        assert q is not None
        spot = (q.bid + q.ask) / 2
        centre = round(spot / self.step) * self.step
        half = self.strike_count // 2
        strikes = [Decimal(repr(centre + self.step * (i - half))) for i in range(self.strike_count)]
        k = np.array([float(x) for x in strikes])
        years = year_fraction(when, self.ts)
        vols = np.array([smile(x, spot, when) for x in k])
        out = []
        for right in (Right.CALL, Right.PUT):
            value = bsm_price(spot, k, years, RATE, 0.0, vols, right is Right.CALL)
            for strike, v in zip(strikes, value.tolist(), strict=True):
                bid = round(v - 0.05, 2)
                ask = round(v + 0.05, 2)
                out.append(OptionQuote(
                    symbol=f"{underlying}-{when.isoformat()}-{plain(strike)}-{right.value}", expiry=when, strike=strike,
                    right=right, bid=bid if bid > 0.05 else 0.0, ask=max(ask, 0.05), last=round(float(v), 2),
                    volume=float(int(1000 * np.exp(-abs(float(strike) - spot) / 20))),
                    open_interest=float(int(5000 * np.exp(-abs(float(strike) - spot) / 30))),
                ))
        out.sort(key=lambda c: (c.strike, c.right.value))
        return OptionChain(underlying=underlying, spot=None, ts=self.ts, expiries=EXPIRIES, expiry=when, contracts=tuple(out), rate=RATE)
