"""The ``--json`` document of a run is the same whether its figures come from the fills the
run kept in memory (with each order's decision price) or are read back from its journal."""

from __future__ import annotations

from pathlib import Path

import workstation.research.backtest as bt_module
from plugins.ma_crossover import MaCrossover
from workstation.research.backtest import BacktestConfig, StrategySpec, load_series, run_backtest
from workstation.research.report import document

DATA = Path(__file__).parents[1] / "data"


def _doc(tmp_path: Path, name: str) -> dict:
    series = load_series(DATA / "orcl-1995-2014.txt", stream=False)
    spec = StrategySpec(MaCrossover, {"fast": 5, "slow": 20, "qty": 100, "bar_seconds": series.seconds})
    result = run_backtest([series], [spec], BacktestConfig(slippage_bps=5), journal_path=tmp_path / f"{name}.sqlite")
    doc = document(result)
    doc["metrics"].pop("bars_per_second")
    doc.pop("journal")
    return doc, result


def test_kept_fills_and_the_journal_give_the_same_document(tmp_path: Path, monkeypatch) -> None:
    kept, result = _doc(tmp_path, "kept")
    assert result.kept_fills is not None and result.kept_decisions  # figures from memory
    monkeypatch.setattr(bt_module, "KEEP_FILLS", 10)
    read, result = _doc(tmp_path, "read")
    assert result.kept_fills is None and result.kept_decisions is None  # figures from the journal
    assert len(kept["fills"]) > 50
    assert kept["execution"]["by_symbol"]["ORCL"]["vs_decision"] not in (None, "0")  # decision prices were found
    assert kept == read
