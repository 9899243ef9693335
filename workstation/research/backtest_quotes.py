"""The quotes of a backtest's spread model, gathered for a run (``with_quotes``).

Each ``--quotes SYMBOL=FILE`` (``brokers.paper.quotefile.read_quote_file``; a bare ``FILE``
when the run has one symbol), and, for a symbol without one, its bar file's own ``bid`` and
``ask`` columns (``bar_file_quotes``), put into the run's ``FillModel`` by symbol. Only
``--spread auto`` and ``--spread quotes`` read quotes; ``quotes`` without any is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from brokers.paper.quotefile import bar_file_quotes, read_quote_file
from workstation.core.model import ModelError
from workstation.core.symbols import parse_symbol


def with_quotes(cfg: Any, series: Sequence[Any], given: Sequence[str]) -> Any:
    """``cfg`` whose spread model holds the run's quotes: each ``--quotes SYMBOL=FILE`` (a bare
    FILE when the run has one symbol), and the bid/ask columns of a bar file without one.
    Only ``--spread auto`` and ``--spread quotes`` read quotes; a bad one is a ValueError."""
    model = cfg.fill_model
    if model.spread is None:
        if given:
            raise ValueError("--quotes needs --spread auto or --spread quotes (not a spread in bps)")
        return cfg
    symbols = [s.symbol for s in series]
    tables = {}
    for arg in given:
        sym, eq, file = arg.partition("=")
        if not eq:
            if len(symbols) != 1:
                raise ValueError(f"--quotes {arg}: name the symbol (SYMBOL=FILE) when the run has several")
            sym, file = symbols[0], arg
        try:
            key = parse_symbol(sym.strip()).symbol
        except ModelError as e:
            raise ValueError(f"--quotes {arg}: {e}") from None
        if key not in symbols:
            raise ValueError(f"--quotes {arg}: {key} is not a symbol of this run ({', '.join(symbols)})")
        tables[key] = read_quote_file(file.strip())
    for s in series:
        if s.symbol not in tables and Path(str(s.source)).is_file():
            table = bar_file_quotes(s.source, s.symbol)
            if table is not None:
                tables[s.symbol] = table
    if model.spread == "quotes" and not tables:
        raise ValueError("--spread quotes needs quotes: --quotes SYMBOL=FILE (timestamp,bid,ask) or bid/ask columns "
                         "in the bar file")
    if not tables:
        return cfg
    return msgspec.structs.replace(cfg, fill_model=msgspec.structs.replace(model, quotes=tables))


__all__ = ["with_quotes"]
