"""Option chains from Alpaca: the contract list for expiries and open interest, the options
data API's chain snapshots for quotes, implied volatility and Greeks.

Alpaca's contracts endpoint (``TradingClient.get_option_contracts``, ``GET /v2/options/contracts``)
lists every active contract of an underlying with its expiry, strike, type, multiplier and
open interest (as of the last close). Without an expiry filter Alpaca stops at the next
weekend, so the request names a window: today to ``HORIZON_DAYS`` ahead. The chain endpoint
(``OptionHistoricalDataClient.get_option_chain``, ``GET /v1beta1/options/snapshots/{underlying}``)
gives each contract of one expiry its latest quote and trade, its implied volatility and
Greeks (Alpaca's own: theta per day, vega per vol point), kept as sent
(``greeks_source="broker"``). Both are paged; every page is read. OCC symbols
(``AAPL261218C00200000``) become the engine's (``AAPL-2026-12-18-200-C``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from alpaca.data.historical.option import OptionHistoricalDataClient
from alpaca.data.requests import OptionChainRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import GetOptionContractsRequest

from brokers.base import BrokerError
from workstation.core.chain import OptionChain, OptionQuote
from workstation.core.model import ModelError, Right
from workstation.core.symbols import parse_symbol

HORIZON_DAYS = 3 * 366  # LEAPS run to about three years
PAGE = 10_000  # Alpaca's largest page of contracts
NEW_YORK = ZoneInfo("America/New_York")

Rest = Callable[..., Awaitable[Any]]  # the adapter's _rest(what, fn, *args): paced, errors as BrokerErrors


def option_data_client(keys: tuple[str, str], url: str | None, timeout: float) -> OptionHistoricalDataClient:
    """The options data client, set up as the adapter sets up its others: no SDK retries (429 is the
    adapter's to back off from), a timeout on every request."""
    client = OptionHistoricalDataClient(keys[0], keys[1], raw_data=True, url_override=url)
    client._retry = 0
    client._session.request = functools.partial(client._session.request, timeout=timeout)
    return client


def _float(x: Any) -> float | None:
    try:
        return None if x is None or x == "" else float(x)
    except (TypeError, ValueError):
        return None


async def _contracts(rest: Rest, trading: TradingClient, underlying: str, today: date) -> list[dict]:
    rows: list[dict] = []
    token: str | None = None
    while True:
        req = GetOptionContractsRequest(underlying_symbols=[underlying], expiration_date_gte=today,
                                        expiration_date_lte=today + timedelta(days=HORIZON_DAYS), limit=PAGE, page_token=token)
        raw = await rest(f"option contracts of {underlying}", trading.get_option_contracts, req) or {}
        rows += raw.get("option_contracts") or []
        token = raw.get("next_page_token")
        if not token:
            return rows


def _quote(contract: dict, snap: dict) -> OptionQuote | None:
    try:
        inst = parse_symbol(contract["symbol"])
    except (ModelError, KeyError):
        return None
    if inst.expiry is None or inst.strike is None or inst.right is None:
        return None
    q, t, day = snap.get("latestQuote") or {}, snap.get("latestTrade") or {}, snap.get("dailyBar") or {}
    g = snap.get("greeks") or {}
    return OptionQuote(
        symbol=inst.symbol, expiry=inst.expiry, strike=inst.strike, right=inst.right,
        bid=_float(q.get("bp")), ask=_float(q.get("ap")), last=_float(t.get("p")), volume=_float(day.get("v")),
        open_interest=_float(contract.get("open_interest")), iv=_float(snap.get("impliedVolatility")),
        delta=_float(g.get("delta")), gamma=_float(g.get("gamma")), theta=_float(g.get("theta")),
        vega=_float(g.get("vega")), rho=_float(g.get("rho")),
    )


async def fetch_chain(rest: Rest, trading: TradingClient, data: OptionHistoricalDataClient, underlying: str,
                      expiry: date | None, *, now: float, spot: float | None) -> OptionChain:
    """The chain of ``underlying`` for ``expiry`` (None: the nearest listed)."""
    today = datetime.fromtimestamp(now, timezone.utc).astimezone(NEW_YORK).date()
    listed = await _contracts(rest, trading, underlying, today)
    if not listed:
        raise BrokerError(f"Alpaca lists no options on {underlying}")
    expiries = tuple(sorted({date.fromisoformat(c["expiration_date"]) for c in listed if c.get("expiration_date")}))
    if expiry is None:
        expiry = expiries[0]
    elif expiry not in expiries:
        shown = ", ".join(str(d) for d in expiries[:6]) + (" ..." if len(expiries) > 6 else "")
        raise BrokerError(f"Alpaca lists no {underlying} options expiring {expiry} (expiries: {shown})")
    snaps = await rest(f"option chain of {underlying} {expiry}", data.get_option_chain,
                       OptionChainRequest(underlying_symbol=underlying, expiration_date=expiry)) or {}
    quotes = [_quote(c, snaps.get(c["symbol"]) or {}) for c in listed if c.get("expiration_date") == str(expiry)]
    contracts = tuple(sorted((q for q in quotes if q is not None), key=lambda q: (q.strike, q.right is Right.PUT)))
    multiplier = next((Decimal(str(c["multiplier"])) for c in listed if c.get("multiplier")), Decimal(100))
    return OptionChain(underlying=underlying, spot=spot, ts=now, expiries=expiries, expiry=expiry, contracts=contracts,
                       multiplier=multiplier, greeks_source="broker")
