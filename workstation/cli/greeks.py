"""``main.py positions --greeks``: each position's Greeks in money terms, a total per
underlying that has options, the account's total and its beta-weighted delta to SPY.

The rows are the status document's (``workstation.trading.status``: ``position_rows(...,
greeks=True)`` and ``greek_totals``), from the account's owner when one runs, so the figures
are the ones the Positions pane shows. A figure that cannot be worked out prints blank.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from workstation.cli.common import Col, fitted_table, fmt
from workstation.core import formatting

_COLS = [
    Col("Symbol"), Col("Qty", 0, right=True), Col("Delta", 0, right=True), Col("$Delta", 2, right=True),
    Col("Gamma", 3, right=True), Col("$Gamma 1%", 5, right=True), Col("Theta/day", 1, right=True),
    Col("Vega/pt", 1, right=True), Col("IV", 4, right=True),
]


def _f(value: Any, places: int) -> str:
    if value is None or value == "":
        return ""
    return formatting.ratio(Decimal(str(value)), places)


def greeks_table(rows: list[dict[str, Any]], totals: list[dict[str, Any]], wide: bool = False):
    out = []
    for r in rows:
        iv = r.get("iv")
        out.append([
            r["symbol"], fmt(r["qty"]), _f(r.get("delta"), 1), _f(r.get("dollar_delta"), 0), _f(r.get("gamma"), 2),
            _f(r.get("dollar_gamma"), 0), _f(r.get("theta"), 2), _f(r.get("vega"), 2),
            formatting.percent(Decimal(str(iv)) * 100, 1) if iv is not None else "",
        ])
    account = next((t for t in totals if t.get("underlying") is None), None)
    for t in totals:
        if t.get("underlying") is None or not t.get("has_options"):
            continue
        out.append([
            f"[bold]{t['underlying']} total[/]", "", _f(t["delta_shares"], 1), _f(t["dollar_delta"], 0),
            _f(t["gamma_shares"], 2), _f(t["dollar_gamma"], 0), _f(t["theta"], 2), _f(t["vega"], 2),
            f"{t['unknown']} unknown" if t.get("unknown") else "",
        ])
    if account is not None:
        out.append([
            "[bold]Total[/]", "", "", _f(account["dollar_delta"], 0), "", _f(account["dollar_gamma"], 0),
            _f(account["theta"], 2), _f(account["vega"], 2), f"{account['unknown']} unknown" if account.get("unknown") else "",
        ])
    return fitted_table("Position Greeks", _COLS, out, wide)


def beta_line(totals: list[dict[str, Any]]) -> str:
    """The account's beta-weighted delta in SPY shares, and which betas fell back to 1."""
    account = next((t for t in totals if t.get("underlying") is None), None)
    if account is None or account.get("beta_delta_spy") is None:
        return ""
    source = account.get("beta_source") or ""
    fallback = f" ({source.replace('fallback 1 for', 'beta 1 for')}: no daily history)" if source.startswith("fallback") else ""
    return f"beta-weighted delta {_f(account['beta_delta_spy'], 1)} SPY shares{fallback}"
