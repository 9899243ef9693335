"""The status documents every face shows: the account, positions, orders, fills, risk.

``status_document`` is what ``main.py status --json`` prints and what an owning engine
answers a ``status`` request with; the rows are the ones the command line prints and the
wire carries. Amounts stay ``Decimal``.

Positions carry their Greeks in money terms (``workstation.trading.greeks``: ``delta`` in
shares of the underlying, ``dollar_delta``, ``gamma`` in shares per $1, ``dollar_gamma`` per
1% move, ``theta`` per day, ``vega`` per vol point, ``iv``) when asked (``greeks=True``; the
status document always asks), null where unknown; ``greek_totals`` sums them per underlying
and for the account (``underlying`` null), with its beta-weighted delta in SPY shares. The
figures are model outputs rounded to a few places, written as exact decimals (no exponent).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from workstation.core.model import Account, Fill, Order, iso, plain


GREEK_PLACES = {"delta": 4, "dollar_delta": 2, "gamma": 4, "dollar_gamma": 2, "theta": 2, "vega": 2, "iv": 4}
_TOTAL_PLACES = {
    "delta_shares": 4, "dollar_delta": 2, "gamma_shares": 4, "dollar_gamma": 2, "theta": 2, "vega": 2, "beta": 4,
    "beta_delta_spy": 2, "spy_price": 2,
}


def _figure(x: float | None, places: int) -> Decimal | None:
    """A model figure as an exact decimal at ``places`` (None stays None; never -0)."""
    if x is None or x != x:
        return None
    d = Decimal(repr(round(x, places)))
    return d if d else Decimal(0)


def _greeks(session) -> dict[str, dict[str, Decimal | None]]:
    book = getattr(session, "greeks", None)
    if book is None:
        return {}
    out = {}
    for g in book.positions():
        known = g.known
        values = {
            "delta": g.delta_shares, "dollar_delta": g.dollar_delta, "gamma": g.gamma_shares,
            "dollar_gamma": g.dollar_gamma, "theta": g.theta, "vega": g.vega, "iv": g.unit.iv if known else None,
        }
        out[g.symbol] = {k: _figure(v, GREEK_PLACES[k]) for k, v in values.items()}
    return out


def greek_totals(session) -> list[dict[str, Any]]:
    """The Greeks summed per underlying (those held), then the account's (``underlying`` None)."""
    book = getattr(session, "greeks", None)
    if book is None:
        return []
    rows = book.positions()
    if not rows:
        return []
    per, account = book.totals(rows)
    out = []
    for t in (*per, account):
        doc = msgspec.structs.asdict(t)
        out.append({k: _figure(v, _TOTAL_PLACES[k]) if k in _TOTAL_PLACES else v for k, v in doc.items()})
    return out


def position_rows(session, greeks: bool = False) -> list[dict[str, Any]]:
    pf = session.portfolio
    equity = pf.equity()
    rows = []
    figures = _greeks(session) if greeks else {}
    blank = dict.fromkeys(GREEK_PLACES)
    for p in pf.positions():
        last = pf.last(p.symbol)
        mv = pf.market_value(p.symbol)
        rows.append(
            {
                "symbol": p.symbol,
                "qty": p.qty,
                "avg_price": p.avg_price,
                "last": last,
                "market_value": mv,
                "unrealized_pnl": pf.unrealized(p.symbol),
                "realized_pnl": p.realized_pnl,
                "currency": p.currency,
                "pct_of_equity": (pf.exposure(p.symbol) / equity * 100).quantize(Decimal("0.01")) if equity else Decimal(0),
                **(figures.get(p.symbol, blank) if greeks else {}),
            }
        )
    return rows


def order_row(o: Order) -> dict[str, Any]:
    return {
        "id": o.id,
        "client_id": o.client_id,
        "symbol": o.symbol,
        "side": o.side.value,
        "qty": o.qty,
        "type": o.type.value,
        "limit_price": o.limit_price,
        "stop_price": o.stop_price,
        "trail": (f"{plain(o.trail_percent)}%" if o.trail_percent is not None else o.trail_amount),
        "tif": o.tif.value,
        "status": o.status.value,
        "filled_qty": o.filled_qty,
        "avg_fill_price": o.avg_fill_price,
        "reason": o.reason,
        "strategy": o.strategy,
        "parent_id": o.parent_id,
        "role": o.role,
        "extended": o.extended,
        "created": iso(o.created),
    }


def fill_row(f: Fill) -> dict[str, Any]:
    return {
        "ts": iso(f.ts), "exec_id": f.exec_id, "order_id": f.order_id, "symbol": f.symbol, "side": f.side.value,
        "qty": f.qty, "price": f.price, "commission": f.commission, "strategy": f.strategy,
    }


def recent_rejections(journal, limit: int = 5) -> list[str]:
    """The last few refused orders, one line each (newest last)."""
    out = []
    for _seq, ts, _kind, ref, data in journal.events("order.rejected", limit=limit):
        out.append(f"{iso(ts)} order {ref}: {data.get('reason', '')}")
    return out


def account_fields(acct: Account) -> dict[str, Any]:
    """The account as ``status`` shows it. ``buying_power_source`` says whose figure it is:
    ``broker`` (a broker that keeps the account, refreshed after fills and periodically) or
    ``local`` (equity x leverage, or the cash of a cash account: the paper market). Figures only
    a broker knows (margin, excess liquidity, day trades) are null when it has not said them."""
    return {
        "currency": acct.currency, "cash": acct.cash, "equity": acct.equity, "buying_power": acct.buying_power,
        "buying_power_source": "broker" if acct.from_broker else "local",
        "market_value": acct.market_value, "unrealized_pnl": acct.unrealized_pnl, "realized_pnl": acct.realized_pnl,
        "commissions": acct.commissions,
        "initial_margin": acct.initial_margin, "maintenance_margin": acct.maintenance_margin,
        "excess_liquidity": acct.excess_liquidity, "day_trades_left": acct.day_trades_left,
        "day_trade_count": acct.day_trade_count, "pattern_day_trader": acct.pattern_day_trader,
    }


def status_document(session, socket: str = "") -> dict[str, Any]:
    """What ``status --json`` prints; the account's owner answers the same document.
    ``socket``: where the owner listens (the faces name it)."""
    acct = session.portfolio.account()
    conn = session.connection
    return {
        "profile": session.profile.name,
        "live": session.profile.live,
        "broker": session.broker.name,
        "connection": conn.state if conn else "offline (in-process simulated market)" if session.profile.broker == "sim" else "disconnected",
        "connection_detail": conn.detail if conn else "",
        "account": account_fields(acct),
        "positions": position_rows(session, greeks=True),
        "greeks": greek_totals(session),
        "open_orders": [order_row(o) for o in session.oms.working()],
        "data_dir": str(session.data_dir),
        "journal": str(session.journal.path),
        "socket": socket,
        "risk": session.monitor.status(),
        "rejections": recent_rejections(session.journal),
    }
