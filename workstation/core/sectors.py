"""Sectors of common US equities, for the per-sector concentration limit.

The table is small on purpose (the most traded names); ``[sectors]`` in the settings file
adds or overrides entries (``TSLA = "Consumer Discretionary"``). A symbol found nowhere is
its own sector ("unclassified"), so an unknown name is still limited by ``max_symbol_pct``.
Crypto and forex pairs are grouped by asset class.
"""

from __future__ import annotations

from collections.abc import Mapping

TECH = "Information Technology"
COMM = "Communication Services"
DISC = "Consumer Discretionary"
STAPLES = "Consumer Staples"
FIN = "Financials"
HEALTH = "Health Care"
ENERGY = "Energy"
INDUSTRIALS = "Industrials"
MATERIALS = "Materials"
UTILITIES = "Utilities"
REAL_ESTATE = "Real Estate"
BROAD = "Broad Market ETF"

SECTORS: Mapping[str, str] = {
    **dict.fromkeys(("AAPL", "MSFT", "NVDA", "AVGO", "ORCL", "CRM", "ADBE", "AMD", "INTC", "CSCO", "QCOM", "TXN", "IBM", "NOW", "INTU", "MU", "AMAT", "XLK"), TECH),
    **dict.fromkeys(("GOOGL", "GOOG", "META", "NFLX", "DIS", "CMCSA", "T", "VZ", "TMUS", "XLC"), COMM),
    **dict.fromkeys(("AMZN", "TSLA", "HD", "MCD", "NKE", "SBUX", "LOW", "BKNG", "TGT", "XLY"), DISC),
    **dict.fromkeys(("WMT", "PG", "KO", "PEP", "COST", "PM", "MO", "CL", "XLP"), STAPLES),
    **dict.fromkeys(("JPM", "BAC", "WFC", "GS", "MS", "C", "BRK.B", "V", "MA", "AXP", "BLK", "SCHW", "XLF"), FIN),
    **dict.fromkeys(("JNJ", "UNH", "LLY", "PFE", "MRK", "ABBV", "TMO", "ABT", "BMY", "AMGN", "CVS", "XLV"), HEALTH),
    **dict.fromkeys(("XOM", "CVX", "COP", "SLB", "EOG", "OXY", "XLE"), ENERGY),
    **dict.fromkeys(("BA", "CAT", "GE", "HON", "UPS", "RTX", "LMT", "DE", "UNP", "XLI"), INDUSTRIALS),
    **dict.fromkeys(("LIN", "APD", "SHW", "FCX", "NEM", "XLB"), MATERIALS),
    **dict.fromkeys(("NEE", "DUK", "SO", "D", "XLU"), UTILITIES),
    **dict.fromkeys(("PLD", "AMT", "CCI", "SPG", "O", "XLRE"), REAL_ESTATE),
    **dict.fromkeys(("SPY", "QQQ", "IWM", "DIA", "VOO", "VTI"), BROAD),
}


class SectorMap:
    """Symbol -> sector, the shipped table plus the user's entries (which win)."""

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        self._table = {**SECTORS, **{k.upper(): v for k, v in (extra or {}).items()}}

    def sector(self, symbol: str) -> str:
        found = self._table.get(symbol.upper())
        if found is not None:
            return found
        if "/" in symbol:
            return "Crypto & FX"
        return f"unclassified ({symbol})"
