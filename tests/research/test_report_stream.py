"""The backtest's output path: the streamed ``--json`` document, the one-pass figures, the CSV
files and the HTML report, against the whole-list computations they replace."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import tracemalloc
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from workstation.core.model import iso, plain
from workstation.research import analytics as a
from workstation.research import figures, report
from workstation.research.backtest import BacktestConfig, BarSeries, StrategySpec, run_backtest
from workstation.strategies.api import Strategy

T0 = 1_700_000_000.0  # 2023-11-14, a Tuesday


def _walk(symbol: str, n: int, seed: int, start: float) -> BarSeries:
    rng = np.random.default_rng(seed)
    close = np.round(start + np.cumsum(rng.normal(0, 0.2, n)), 2)
    open_ = np.round(np.concatenate([[start], close[:-1]]), 2)
    high, low = np.maximum(open_, close) + 0.05, np.minimum(open_, close) - 0.05
    ts = T0 + np.arange(n) * 60.0
    return BarSeries.from_arrays(symbol, ts, open_, high, low, close, np.full(n, 1000.0), seconds=60,
                                 tick=Decimal("0.01"))


class _Trader(Strategy):
    """Longs and shorts on two symbols, a bracket now and then (so stops and targets fill too)."""

    name = "trader"

    def on_start(self) -> None:
        self.n = {}
        self.ctx.subscribe(self.ctx.symbols, bars=60, quotes=False)

    def on_bar(self, bar) -> None:
        n = self.n[bar.symbol] = self.n.get(bar.symbol, 0) + 1
        k = n % 12
        if bar.symbol == "AAA":
            if k == 1:
                self.ctx.buy("AAA", 30)
            elif k == 5:
                self.ctx.sell("AAA", 70)  # through flat into a short
            elif k == 9:
                self.ctx.buy("AAA", 40)
        elif k == 3:
            price = Decimal(str(bar.close))
            self.ctx.buy("BBB", 25, limit=price + Decimal("0.10"), take_profit=price + Decimal("0.30"),
                         stop_loss=price - Decimal("0.30"))
        elif k == 7:
            self.ctx.sell("BBB", 10)


class _Other(Strategy):
    name = "other"

    def on_start(self) -> None:
        self.n = 0
        self.ctx.subscribe(["AAA"], bars=60, quotes=False)

    def on_bar(self, bar) -> None:
        self.n += 1
        if self.n % 50 == 10:
            self.ctx.sell("AAA", 5)
        elif self.n % 50 == 30:
            self.ctx.buy("AAA", 5)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    journal = tmp_path_factory.mktemp("run") / "journal.sqlite"
    series = [_walk("AAA", 3_000, 1, 100.0), _walk("BBB", 3_000, 2, 50.0)]
    cfg = BacktestConfig(cash=Decimal(100_000), commission_per_share=Decimal("0.005"), slippage_bps=Decimal(2))
    return run_backtest(series, [StrategySpec(_Trader), StrategySpec(_Other)], cfg, journal_path=journal)


def _from_journal(result):
    """The same result as a long run hands it over: fills and orders only in its journal file."""
    return dataclasses.replace(result, kept_fills=None, kept_orders=None)


def _old_figures(result):
    """The whole-list computations the streamed figures replace (lists of every fill and order)."""
    fills, orders = result.fills, {o.id: o for o in result.orders}
    mult = {s: i.multiplier for s, i in result.instruments.items()}
    m = lambda s: mult.get(s, Decimal(1))  # noqa: E731
    last = {s: Decimal(repr(p.last_close)) for s, p in result.prices.items()}
    rows = a.execution_quality(fills, orders, result.arrivals, m)
    return {
        "trades": a.trade_stats(a.round_trips(fills, m)),
        "traded": sum((f.price * f.qty * m(f.symbol) for f in fills), Decimal(0)),
        "commissions": sum((f.commission for f in fills), Decimal(0)),
        "symbol": a.pnl_by(fills, lambda f: f.symbol, last, m),
        "strategy": a.pnl_by(fills, lambda f: f.strategy or "manual", last, m),
        "by_symbol": a.execution_summary(rows, "symbol"),
        "by_strategy": a.execution_summary(rows, "strategy"),
    }


def _old_document(result) -> dict:
    """The ``--json`` document as it was built before: every fill as a dict, then the figures."""
    old = _old_figures(result)
    doc = {
        "fills": [{"ts": iso(f.ts), "symbol": f.symbol, "side": f.side.value, "qty": plain(f.qty),
                   "price": plain(f.price), "commission": plain(f.commission), "strategy": f.strategy,
                   "order_id": f.order_id} for f in result.fills],
        "final_equity": result.final_equity,
        "metrics": figures.metrics(result),
        "positions": dict(result.positions),
        "attribution": {"symbol": old["symbol"], "strategy": old["strategy"],
                        **{k: figures.attribution(result)[k] for k in ("day", "week", "month")}},
        "execution": {"by_symbol": old["by_symbol"], "by_strategy": old["by_strategy"]},
        "execution_algorithms": [],  # (no execution algorithm in this run)
        "strategies": result.strategies,
        "spikes_filtered": result.spikes,
        "refusals": figures.refusals(result),
        "fill_model": {"name": "next_open"}, "costs": figures.costs(result), "capacity": None,
        "journal": result.journal_path,
    }
    return json.loads(json.dumps(report._jsonable(doc)))


def test_the_run_has_what_the_figures_must_get_right(run) -> None:
    fills = run.fills
    assert {f.symbol for f in fills} == {"AAA", "BBB"}
    assert {f.strategy for f in fills} == {"trader", "other"}
    assert any(f.commission > 0 for f in fills)
    assert any(o.parent_id for o in run.orders)  # the bracket's legs
    assert _old_figures(run)["trades"]["trades"] > 10


@pytest.mark.parametrize("batch", [figures.BATCH, 1, 7])  # (1: every batch is one symbol's and strategy's)
@pytest.mark.parametrize("source", ["memory", "journal"])
def test_one_pass_over_the_fills_gives_the_figures_of_the_whole_list_computations(run, source, batch,
                                                                                  monkeypatch) -> None:
    monkeypatch.setattr(figures, "BATCH", batch)
    result = run if source == "memory" else _from_journal(run)
    old = _old_figures(run)
    folded = figures.fold(result)
    assert folded.fills == run.fill_count == len(run.fills)
    assert folded.trades == old["trades"]
    assert (folded.traded, folded.commissions) == (old["traded"], old["commissions"])
    assert folded.by_symbol == old["symbol"] and list(folded.by_symbol) == list(old["symbol"])
    assert folded.by_strategy == old["strategy"] and list(folded.by_strategy) == list(old["strategy"])
    assert folded.execution_by_symbol == old["by_symbol"]
    assert folded.execution_by_strategy == old["by_strategy"]
    assert all(v["vs_decision"] is not None for v in folded.execution_by_symbol.values())
    m = figures.metrics(result)
    assert (m["trades"], m["win_rate"], m["avg_win"], m["avg_loss"]) == (
        old["trades"]["trades"], old["trades"]["win_rate"], old["trades"]["avg_win"], old["trades"]["avg_loss"])
    assert m["fills"] == len(run.fills) and m["commissions"] == old["commissions"]


@pytest.mark.parametrize("source", ["memory", "journal"])
def test_the_streamed_json_reads_as_the_document_built_in_memory(run, source) -> None:
    result = run if source == "memory" else _from_journal(run)
    out = io.BytesIO()
    report.write_json(result, out)
    streamed = json.loads(out.getvalue())
    old = _old_document(run)
    assert list(streamed) == list(old)
    assert streamed == old
    assert json.loads(report.to_json(result)) == old


def test_the_json_is_written_in_batches_as_the_fills_are_read(run, monkeypatch) -> None:
    """A long run's fills never sit in memory as one document: each batch is written as it is read."""
    monkeypatch.setattr(figures, "BATCH", 100)
    writes: list[int] = []

    class Sink(io.BytesIO):
        def write(self, b) -> int:
            writes.append(len(b))
            return super().write(b)

    sink = Sink()
    report.write_json(_from_journal(run), sink)
    assert len(writes) >= run.fill_count // 100
    assert max(writes) < 100 * 300  # a batch of fills, never the whole array
    assert len(json.loads(sink.getvalue())["fills"]) == run.fill_count


class _Discard(io.RawIOBase):
    def write(self, b) -> int:
        return len(b)


def test_writing_the_json_holds_a_batch_of_fills_not_all_of_them(run, monkeypatch) -> None:
    monkeypatch.setattr(figures, "BATCH", 100)  # (a long run's batches are a small part of its fills)
    result = _from_journal(run)
    tracemalloc.start()
    try:
        report.write_json(result, io.BytesIO())  # (warm: imports, caches)
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        report.write_json(result, _Discard())
        streamed = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        whole = _old_document(run)
        listed = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert len(whole["fills"]) > 1_500
    assert streamed < listed / 3


def test_the_csv_files_hold_every_fill_and_order_and_the_equity_curve_as_kept(run, tmp_path: Path) -> None:
    step = report.write_csv(_from_journal(run), tmp_path)
    assert step == run.curve.step == 1
    with open(tmp_path / "fills.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["exec_id"], r["price"], r["commission"]) for r in rows] == [
        (f.exec_id, plain(f.price), plain(f.commission)) for f in run.fills]
    with open(tmp_path / "orders.csv", newline="") as fh:
        assert [r["id"] for r in csv.DictReader(fh)] == [o.id for o in run.orders]
    with open(tmp_path / "equity.csv", newline="") as fh:
        eq = list(csv.DictReader(fh))
    assert len(eq) == len(run.curve.ts) and eq[-1]["equity"] == f"{run.curve.equity[-1]:.2f}"


def test_the_html_report_draws_the_kept_samples_and_a_bounded_set_of_fills(run, tmp_path: Path) -> None:
    data = report.html_data(_from_journal(run))
    assert set(data["prices"]) == {"AAA", "BBB"}
    assert data["prices"]["AAA"]["c"][-1] == run.prices["AAA"].close[-1]
    assert len(data["prices"]["BBB"]["fills"]) == sum(1 for f in run.fills if f.symbol == "BBB")
    assert len(data["fills"]) == min(2_000, run.fill_count)
    assert data["fills"][0]["price"] == plain(run.fills[0].price)
    assert data["metrics"]["fills"] == run.fill_count
    report.write_html(_from_journal(run), tmp_path / "r.html")
    assert "const D = {" in (tmp_path / "r.html").read_text()
