"""Combo orders (spreads) at Interactive Brokers: one BAG contract, one order.

A combo (``Order.legs``, the convention of ``workstation.trading.combos``) goes to TWS as ONE
order on a BAG contract: ``symbol`` the legs' underlying (a futures spread: the root),
``currency`` the legs', ``exchange`` SMART for options (a futures spread: the futures'
exchange), and one ``ComboLeg`` per leg with the leg's qualified ``conId``, its ``ratio`` and
its ``action`` as written for one combo BOUGHT. The order carries the combo's side, its units
as ``totalQuantity`` and, for a limit, the net price per unit as ``lmtPrice``; this is IB's own
BAG convention (a BUY's positive price is a debit paid, a negative one a credit received; a
SELL reverses every leg and its price is the credit taken), so the engine's net limit passes
unchanged.

TWS reports a combo's executions twice over: one ``execDetails`` per leg (the leg's own
contract, side, shares and price, each with its commission report) and one for the BAG
itself (the net price per unit). The engine books legs (``BrokerFill.symbol`` = the leg's
symbol), so the BAG's own line is skipped (``is_bag``), never booked a second time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ib_async import ComboLeg, Contract

from workstation.core.model import BUY, Order

BAG = "BAG"


def is_bag(contract: Contract | None) -> bool:
    """Whether an execution (or an order) is a combo's own BAG line rather than a leg's."""
    return contract is not None and contract.secType == BAG


async def bag_contract(order: Order, contract_of: Callable[[str], Awaitable[Contract]]) -> Contract:
    """The BAG contract for combo ``order``; ``contract_of`` qualifies a leg's symbol (its conId)."""
    legs = [(leg, await contract_of(leg.symbol)) for leg in order.legs]
    first = legs[0][1]
    options = first.secType in ("OPT", "FOP")
    return Contract(
        secType=BAG, symbol=first.symbol, currency=first.currency or "USD",
        exchange="SMART" if options else first.exchange,
        comboLegs=[
            ComboLeg(conId=c.conId, ratio=leg.ratio, action="BUY" if leg.side is BUY else "SELL",
                     exchange="SMART" if options else c.exchange)
            for leg, c in legs
        ],
    )
