"""Interactive Brokers contracts and the engine's one symbol syntax, both ways.

=============================  ===============================================
``AAPL``, ``BRK.B``            STK AAPL SMART USD (``BRK B`` at IB)
``EUR/USD``                    CASH EUR.USD IDEALPRO
``BTC/USD``                    CRYPTO BTC PAXOS USD
``ES-2026-12``                 FUT ES 202612 (exchange from the root table)
``SPX``                        IND SPX CBOE (an index: quoted, underlies options)
``AAPL-2026-12-18-200-C``      OPT AAPL 20261218 200 C SMART
=============================  ===============================================

Exchange, currency, trading class, multiplier and tick come back from IB's contract
details (``instrument_from_details``); the table above is only what we ask for.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import msgspec
from ib_async import Contract, ContractDetails

from brokers.base import exact

from workstation.core.model import AssetClass, Instrument, plain, to_decimal


def contract_for(inst: Instrument) -> Contract:
    """The contract to ask IB about for an instrument (not yet qualified)."""
    ac = inst.asset_class
    if ac is AssetClass.EQUITY:
        return Contract(secType="STK", symbol=inst.symbol.replace(".", " "), exchange="SMART", currency=inst.currency)
    if ac is AssetClass.FOREX:
        return Contract(secType="CASH", symbol=inst.base or "", currency=inst.currency, exchange="IDEALPRO")
    if ac is AssetClass.CRYPTO:
        return Contract(secType="CRYPTO", symbol=inst.base or "", currency=inst.currency, exchange="PAXOS")
    if ac is AssetClass.INDEX:
        return Contract(secType="IND", symbol=inst.symbol, exchange=inst.exchange or "CBOE", currency=inst.currency)
    if ac is AssetClass.FUTURE:
        assert inst.expiry is not None
        return Contract(
            secType="FUT", symbol=inst.underlying or "", lastTradeDateOrContractMonth=f"{inst.expiry:%Y%m}",
            exchange=inst.exchange or "", currency=inst.currency,
        )
    assert inst.expiry is not None and inst.strike is not None and inst.right is not None
    return Contract(
        secType="OPT", symbol=inst.underlying or "", lastTradeDateOrContractMonth=f"{inst.expiry:%Y%m%d}",
        strike=float(inst.strike), right=inst.right.value, exchange="SMART", currency=inst.currency,
    )


def symbol_for(contract: Contract) -> str:
    """Our symbol for a contract IB reports (positions, executions, orders placed elsewhere)."""
    st = contract.secType
    if st == "STK":
        return contract.symbol.replace(" ", ".")
    if st == "IND":
        return contract.symbol
    if st in ("CASH", "CRYPTO"):
        return f"{contract.symbol}/{contract.currency}"
    when = contract.lastTradeDateOrContractMonth
    if st == "FUT" and len(when) >= 6:
        return f"{contract.symbol}-{when[:4]}-{when[4:6]}"
    if st == "OPT" and len(when) >= 8:
        strike = plain(to_decimal(repr(contract.strike)))
        return f"{contract.symbol}-{when[:4]}-{when[4:6]}-{when[6:8]}-{strike}-{contract.right[:1]}"
    return contract.localSymbol or contract.symbol


def multiplier_of(contract: Contract) -> Decimal:
    text = (contract.multiplier or "").strip()
    if not text:
        return Decimal(1)
    try:
        value = Decimal(text)
    except ArithmeticError:
        return Decimal(1)
    return value.normalize() if value > 0 else Decimal(1)


def decimal_of(x: float) -> Decimal:
    """A float from the wire as the Decimal it was printed as (``185.37``, not its binary
    expansion), binary noise rounded away (``150.29999999999998`` is ``150.3``: ``exact``)."""
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return Decimal(0)
    return exact(float(x)) if x != int(x) else Decimal(int(x))


def instrument_from_details(inst: Instrument, details: ContractDetails) -> Instrument:
    """The engine's instrument with IB's metadata: tick (minTick), multiplier, currency, exchange, lot."""
    c = details.contract
    assert c is not None
    tick = decimal_of(details.minTick) if details.minTick and details.minTick > 0 else inst.tick_size
    lot = inst.lot_size
    if inst.asset_class in (AssetClass.CRYPTO, AssetClass.FOREX):
        increment = decimal_of(details.sizeIncrement) if details.sizeIncrement and details.sizeIncrement > 0 else None
        lot = increment or lot
    expiry = inst.expiry
    if inst.asset_class is AssetClass.FUTURE and len(c.lastTradeDateOrContractMonth) == 8:
        when = c.lastTradeDateOrContractMonth
        expiry = date(int(when[:4]), int(when[4:6]), int(when[6:8]))
    return msgspec.structs.replace(
        inst, tick_size=tick, lot_size=lot, multiplier=multiplier_of(c), currency=c.currency or inst.currency,
        exchange=c.primaryExchange or c.exchange or inst.exchange, expiry=expiry,
    )


def order_contract(details: ContractDetails) -> Contract:
    """The qualified contract to trade and stream: SMART routing for stocks and options."""
    c = details.contract
    assert c is not None
    exchange = "SMART" if c.secType in ("STK", "OPT") else c.exchange
    return Contract(
        conId=c.conId, secType=c.secType, symbol=c.symbol, lastTradeDateOrContractMonth=c.lastTradeDateOrContractMonth,
        strike=c.strike, right=c.right, multiplier=c.multiplier, exchange=exchange, primaryExchange=c.primaryExchange,
        currency=c.currency, localSymbol=c.localSymbol, tradingClass=c.tradingClass,
    )
