"""Extended hours: which orders a trading session takes (the order manager's validation).

The rules real brokers apply (Alpaca's ``extended_hours``, IB's ``outsideRth``), for
venues with a regular session and extended ones around it (US equities: pre-market
04:00-09:30, regular 09:30-16:00, post-market 16:00-20:00 New York):

- an order marked ``extended`` must be a LIMIT order with TIF DAY, and not an option's (listed
  options trade only in the regular session);
- in the pre- or post-market, an order that cannot wait (a market order, an IOC or FOK
  order) is refused: it trades only in the regular session;
- a limit (or stop) order not marked ``extended`` is accepted outside the regular session
  and waits for the open, as real brokers queue it; the review says so;
- when the market is closed (overnight, weekend, holiday) an ``extended`` limit order is
  accepted and waits for the next pre-market (Alpaca queues it for the next session's
  pre-market; IB holds it until the next session it may trade in).

Venues that trade around the clock (crypto, 24/7) or their own week (FX), and futures
(CME Globex, nearly round the clock), ignore ``extended``: accepted, no effect.

Pure: the session is given (``session_of`` asks the broker: the paper market says; a real
broker judges its own sessions and queues what waits for the open).
"""

from __future__ import annotations

from typing import Any

from workstation.core.model import AssetClass, Instrument, OrderRequest, OrderType, TimeInForce

EXTENDED_VENUES = frozenset({"XNYS"})  # venues whose sessions ``extended`` opts into
EXTENDED_ONLY = "extended-hours orders must be limit orders with TIF DAY"
NO_EXTENDED_OPTIONS = "options trade only in the regular session (09:30-16:00 New York): an option order cannot be extended"
REGULAR_HOURS = "09:30-16:00 New York"
_NAMES = {"pre": "pre-market", "post": "post-market", "closed": "market closed"}
_SESSIONS = ("pre", "regular", "post", "closed")


def session_of(broker: Any, inst: Instrument, t: float) -> str:
    """The session ``inst`` trades in at ``t``, as the broker says (the paper market's
    ``SimBroker.session``, which follows its calendar setting). A broker that does not say
    (Alpaca, IB, ccxt) judges its own sessions: it receives ``extended`` as its own flag, and
    it queues what waits for the open, so here its orders count as in the regular session."""
    ask = getattr(broker, "session", None)
    if callable(ask):
        found = ask(inst.symbol, t)
        return found if found in _SESSIONS else "regular"
    return "regular"


def applies(inst: Instrument) -> bool:
    """Whether ``extended`` means anything for ``inst`` (its venue has extended sessions)."""
    from workstation.core.sessions import venue_of

    return venue_of(inst) in EXTENDED_VENUES


def refusal(req: OrderRequest, inst: Instrument, session: str) -> str | None:
    """Why ``req`` cannot be placed in ``session`` (one line), or None."""
    if not req.extended and session == "regular":
        return None  # (most orders: nothing to ask)
    if not applies(inst):
        return None
    if req.extended and inst.asset_class is AssetClass.OPTION:
        return NO_EXTENDED_OPTIONS
    if req.extended and (req.type is not OrderType.LIMIT or req.tif is not TimeInForce.DAY):
        return EXTENDED_ONLY
    if session in ("pre", "post"):
        name = _NAMES[session]
        if req.type is OrderType.MARKET:
            return (f"{name}: market orders trade only in the regular session ({REGULAR_HOURS}); "
                    "send a limit order marked extended")
        if req.tif in (TimeInForce.IOC, TimeInForce.FOK):
            return (f"{name}: {req.tif.value.upper()} orders cannot wait for the regular session ({REGULAR_HOURS}); "
                    "send a DAY limit order marked extended")
    return None


def note(req: OrderRequest, inst: Instrument, session: str) -> str | None:
    """What the review says of the order's session (None: nothing to say)."""
    if not applies(inst):
        return f"extended hours: no effect, {inst.symbol} has no separate sessions" if req.extended else None
    if req.extended:
        if session == "closed":
            return "extended hours: the market is closed; it waits for the next pre-market (04:00 New York)"
        return "extended hours: may fill in the pre-market (04:00-09:30) and post-market (16:00-20:00 New York)"
    if session in ("pre", "post", "closed"):
        return f"{_NAMES[session]}: it waits for the regular session ({REGULAR_HOURS})"
    return None
