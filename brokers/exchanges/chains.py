"""Option chains from ccxt exchanges that list options (binance's eapi, tested; deribit, okx...).

Option markets are loaded once, beside the spot ones: an exchange that loads only some
market types by default (binance: the adapter asks for spot) is asked for its ``option``
markets too, and ccxt's market table gains them (a testnet lists none: ccxt skips options
in sandbox mode). The chain of one expiry is read with ccxt's unified calls: the option
tickers (bid, ask, last, volume; ``fetch_tickers``) and the exchange's own Greeks
(``fetch_all_greeks``, else ``fetch_greeks`` per contract: mark IV, delta, gamma, theta,
vega as the venue computes them; binance sends vega per vol point and theta per day, in the
settlement currency per one unit of the underlying), kept as sent (``greeks_source="broker"``).
Binance's open interest comes in one call per expiry (``/eapi/v1/openInterest``); on other
venues it stays blank.

Symbols: the engine's syntax has no name for a crypto option (``BTC-2026-12-25-100000-C``
would read as an equity option of 100 shares), so a contract keeps the exchange's own id
(``BTC-261225-100000-C``) and the chain's multiplier is the venue's contract size (1 BTC).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from brokers.base import BrokerError
from workstation.core.chain import OptionChain, OptionQuote
from workstation.core.model import Right


def _float(x: Any) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None


def _decimal(x: Any) -> Decimal:
    """``100000.0`` as 100000, ``0.5`` as 0.5 (no exponent, no trailing zeros)."""
    d = Decimal(str(x))
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()


def _expiry(m: dict[str, Any]) -> date | None:
    ms = m.get("expiry")
    return datetime.fromtimestamp(ms / 1000, timezone.utc).date() if ms else None


async def option_markets(ex: Any) -> list[dict[str, Any]]:
    """The exchange's option markets, loaded into its market table the first time they are asked for."""
    found = [m for m in (ex.markets or {}).values() if m.get("option")]
    if found:
        return found
    setting = ex.options.get("fetchMarkets")
    if not isinstance(setting, dict) or "option" in (setting.get("types") or []):
        return []
    ex.options["fetchMarkets"] = {**setting, "types": ["option"]}
    try:
        fetched = [m for m in await ex.fetch_markets() if m and m.get("option")]
    finally:
        ex.options["fetchMarkets"] = setting
    if fetched:
        ex.set_markets(list(ex.markets.values()) + fetched, ex.currencies)
    return fetched


async def _greeks(ex: Any, symbols: list[str]) -> dict[str, dict[str, Any]]:
    if ex.has.get("fetchAllGreeks"):
        return await ex.fetch_all_greeks(symbols)
    if ex.has.get("fetchGreeks"):
        rows = await asyncio.gather(*(ex.fetch_greeks(s) for s in symbols))
        return {r["symbol"]: r for r in rows}
    return {}


async def _open_interest(ex: Any, market: dict[str, Any], expiry: date) -> dict[str, float]:
    """Open interest of every contract of one expiry, by market id (binance: one request)."""
    if not hasattr(ex, "eapiPublicGetOpenInterest"):
        return {}
    rows = await ex.eapiPublicGetOpenInterest({"underlyingAsset": market["baseId"], "expiration": f"{expiry:%y%m%d}"})
    return {r.get("symbol"): v for r in rows or [] if (v := _float(r.get("sumOpenInterest"))) is not None}


async def fetch_chain(ex: Any, venue: str, underlying: str, expiry: date | None, *, now: float, spot: float | None) -> OptionChain:
    """The chain of ``underlying`` (``BTC`` or ``BTC/USD``: its base asset counts) for ``expiry`` (None: the nearest);
    ``spot`` (the adapter's quote of the asset) counts where the venue gives no index price."""
    markets = await option_markets(ex)
    if not markets:
        raise BrokerError(f"{venue} lists no options")
    base = underlying.split("/")[0].upper()
    mine = [m for m in markets if m.get("base") == base and m.get("active") is not False and _expiry(m)]
    if not mine:
        raise BrokerError(f"{venue} lists no options on {base}")
    expiries = tuple(sorted({_expiry(m) for m in mine}))
    if expiry is None:
        expiry = expiries[0]
    elif expiry not in expiries:
        shown = ", ".join(str(d) for d in expiries[:6]) + (" ..." if len(expiries) > 6 else "")
        raise BrokerError(f"{venue} lists no {base} options expiring {expiry} (expiries: {shown})")
    chosen = sorted((m for m in mine if _expiry(m) == expiry), key=lambda m: (float(m["strike"]), m.get("optionType") != "call"))
    symbols = [m["symbol"] for m in chosen]
    # every option ticker in one request (binance's fetch_tickers, given option symbols, would ask its
    # futures API: it takes a linear option for a future)
    tickers, greeks, interest = await asyncio.gather(
        ex.fetch_tickers(None, {"type": "option"}), _greeks(ex, symbols), _open_interest(ex, chosen[0], expiry))
    quotes = []
    for m in chosen:
        t, g = tickers.get(m["symbol"]) or {}, greeks.get(m["symbol"]) or {}
        quotes.append(OptionQuote(
            symbol=m["id"], expiry=expiry, strike=_decimal(m["strike"]), right=Right.CALL if m.get("optionType") == "call" else Right.PUT,
            bid=_float(t.get("bid")), ask=_float(t.get("ask")), last=_float(t.get("last")), volume=_float(t.get("baseVolume")),
            open_interest=interest.get(m["id"]), iv=_float(g.get("markImpliedVolatility")), delta=_float(g.get("delta")),
            gamma=_float(g.get("gamma")), theta=_float(g.get("theta")), vega=_float(g.get("vega")), rho=_float(g.get("rho")),
        ))
    # the index price the venue prices its options against (its Greeks use it), else our quote of the asset
    index = next((v for s in symbols if (v := _float(((tickers.get(s) or {}).get("info") or {}).get("exercisePrice")))), None)
    spot = index or next((v for s in symbols if (v := _float((greeks.get(s) or {}).get("underlyingPrice")))), None) or spot
    return OptionChain(underlying=f"{base}/{underlying.split('/')[1].upper()}" if "/" in underlying else base, spot=spot,
                       ts=now, expiries=expiries, expiry=expiry, contracts=tuple(quotes),
                       multiplier=_decimal(chosen[0].get("contractSize") or 1), greeks_source="broker")
