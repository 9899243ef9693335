"""The quote cache: the latest quote per symbol, published on the bus as it arrives."""

from __future__ import annotations

from decimal import Decimal

from workstation.core.bus import Bus
from workstation.core.model import Quote, to_decimal


class QuoteCache:
    def __init__(self, bus: Bus, base_currency: str = "USD") -> None:
        self._bus = bus
        self.base = base_currency
        self.quotes: dict[str, Quote] = {}
        self.count = 0

    def on_quote(self, quote: Quote) -> None:
        """Sink for broker quotes: store, then publish."""
        self.quotes[quote.symbol] = quote
        self.count += 1
        self._bus.publish(quote)

    def get(self, symbol: str) -> Quote | None:
        return self.quotes.get(symbol)

    def last(self, symbol: str) -> Decimal | None:
        q = self.quotes.get(symbol)
        if q is None:
            return None
        price = q.last or q.mid
        return to_decimal(price) if price > 0 else None

    def rate(self, currency: str) -> Decimal | None:
        """Units of base currency per unit of ``currency``, from the feed (mid prices)."""
        if currency == self.base:
            return Decimal(1)
        direct = self.quotes.get(f"{currency}/{self.base}")
        if direct is not None and direct.mid > 0:
            return to_decimal(direct.mid)
        inverse = self.quotes.get(f"{self.base}/{currency}")
        if inverse is not None and inverse.mid > 0:
            return Decimal(1) / to_decimal(inverse.mid)
        return None

    def fx_symbols(self, currencies: set[str]) -> list[str]:
        """The pairs to subscribe to so that ``rate`` can value these currencies (market convention:
        EUR/USD and GBP/USD, but USD/JPY and USD/CHF)."""
        out = []
        for c in sorted(currencies):
            if c == self.base:
                continue
            if c not in _RANK or _RANK[c] < _RANK.get(self.base, 99):
                out.append(f"{c}/{self.base}")
            else:
                out.append(f"{self.base}/{c}")
        return out


# Currency priority in pair names (the first named is the base of the pair).
_RANK = {c: i for i, c in enumerate(["EUR", "GBP", "AUD", "NZD", "USD", "CAD", "CHF", "JPY"])}
