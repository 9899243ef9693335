"""The shipped rebalance strategy in a backtest over several symbols: it reaches its target
weights within one lot, keeps a sector cap, and trades again only when the drift says so."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from plugins.rebalance import Rebalance
from workstation.research.backtest import BacktestConfig, BarSeries, StrategySpec, run_backtest

DAY = 86_400
T0 = 1_700_000_000 // DAY * DAY + 15 * 3600  # a day's 15:00 UTC


def daily(symbol: str, closes: list[float]) -> BarSeries:
    ts = [T0 + i * DAY for i in range(len(closes))]
    c = np.array(closes)
    return BarSeries.from_arrays(symbol, ts, c, c * 1.001, c * 0.999, c, [1e6] * len(c), seconds=DAY, tick=Decimal("0.01"))


def walk(seed: int, start: float, vol: float, n: int = 80) -> list[float]:
    """A random walk of closes that ends flat for its last 5 days (so the last rebalance's
    fills and the final marks are at the same prices)."""
    rng = np.random.default_rng(seed)
    moved = list(np.round(start * np.cumprod(1 + rng.normal(0, vol, n - 5)), 2))
    return moved + [moved[-1]] * 5


def weights_at_end(result, closes: dict[str, list[float]]) -> dict[str, float]:
    value = {s: float(q) * closes[s][-1] for s, q in result.positions.items()}
    return {s: v / float(result.final_equity) for s, v in value.items()}


def run(closes: dict[str, list[float]], **params) -> object:
    series = [daily(s, c) for s, c in closes.items()]
    spec = StrategySpec(Rebalance, params=params)
    return run_backtest(series, [spec], BacktestConfig(cash=Decimal(100_000)))


def test_equal_weights_over_three_symbols_end_within_one_lot_of_a_third_each() -> None:
    closes = {"AAPL": walk(1, 190, 0.01), "XOM": walk(2, 110, 0.01), "JPM": walk(3, 150, 0.01)}
    r = run(closes, method="equal", schedule="daily")
    assert r.strategies["rebalance"]["error"] is None
    w = weights_at_end(r, closes)
    for s in closes:
        lot = closes[s][-1] / float(r.final_equity)  # one share's weight
        assert abs(w[s] - 1 / 3) <= lot, (s, w)
    assert float(r.cash) >= 0


def test_a_sector_cap_holds_the_two_tech_names_to_forty_percent_together() -> None:
    closes = {"AAPL": walk(1, 190, 0.01), "MSFT": walk(4, 400, 0.01), "XOM": walk(2, 110, 0.01), "JPM": walk(3, 150, 0.01)}
    r = run(closes, method="inverse_vol", schedule="weekly", sector_cap=0.4, lookback=40)
    w = weights_at_end(r, closes)
    assert w["AAPL"] + w["MSFT"] <= 0.4 + 0.005  # (uncapped, inverse volatility gives them about half)
    assert w["AAPL"] > 0.1 and w["MSFT"] > 0.1
    assert w["XOM"] <= 0.4 + 0.005 and w["JPM"] <= 0.4 + 0.005
    assert sum(w.values()) == pytest.approx(1.0, abs=0.01)


def test_minimum_variance_backtest_holds_the_calm_symbol_most() -> None:
    closes = {"AAPL": walk(1, 190, 0.03), "XOM": walk(2, 110, 0.005), "JPM": walk(3, 150, 0.02)}
    r = run(closes, method="min_variance", schedule="monthly", lookback=40)
    w = weights_at_end(r, closes)
    assert w["XOM"] > 0.6
    assert sum(w.values()) == pytest.approx(1.0, abs=0.01)


def test_with_no_schedule_a_drift_threshold_alone_triggers_trades() -> None:
    up = [100.0 * (1.01 ** i) for i in range(80)]  # one symbol doubles; the other stays flat
    flat = [100.0] * 80
    drift_only = run({"AAPL": up, "JPM": flat}, method="equal", schedule="never", drift=0.05)
    rebalances = {f.ts for f in drift_only.fills if f.side.value == "sell"}
    assert len(rebalances) >= 3  # each time AAPL's weight ran 5 points ahead
    w = weights_at_end(drift_only, {"AAPL": up, "JPM": flat})
    assert abs(w["AAPL"] - 0.5) <= 0.05 + 0.01


def _csv(path, closes: list[float]) -> str:
    lines = ["Date,Open,High,Low,Close,Volume"]
    day = np.datetime64("2025-01-02")
    for c in closes:
        while np.is_busday(day) is np.False_:
            day += 1
        lines.append(f"{day},{c},{c},{c},{c},1000000")
        day += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.slow
def test_the_backtest_command_runs_rebalance_over_two_files(tmp_path):
    import json

    from tests.conftest import run_cli

    calm, wild = walk(2, 110, 0.004, 90), walk(1, 190, 0.03, 90)
    r = run_cli("backtest", "--data", _csv(tmp_path / "xom.csv", calm), "--data", _csv(tmp_path / "aapl.csv", wild),
                "-s", "XOM", "-s", "AAPL", "--strategy", "rebalance", "--param", "method=min_variance",
                "--param", "lookback=30", "--param", "schedule=weekly", "--json", home=tmp_path / "home", timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    held = {s: Decimal(q) for s, q in doc["positions"].items()}
    value = {"XOM": float(held.get("XOM", 0)) * calm[-1], "AAPL": float(held.get("AAPL", 0)) * wild[-1]}
    total = float(doc["final_equity"])
    assert value["XOM"] / total > 0.8  # the calm one carries the portfolio
    assert sum(value.values()) / total == pytest.approx(1.0, abs=0.01)


def test_a_file_of_weights_is_held_in_a_backtest(tmp_path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text("[weights]\nAAPL = 0.7\nJPM = 0.3\n", encoding="utf-8")
    closes = {"AAPL": walk(1, 190, 0.01), "JPM": walk(3, 150, 0.01)}
    r = run(closes, method="file", weights=str(path), schedule="weekly")
    w = weights_at_end(r, closes)
    assert abs(w["AAPL"] - 0.7) <= closes["AAPL"][-1] / float(r.final_equity)
    assert abs(w["JPM"] - 0.3) <= closes["JPM"][-1] / float(r.final_equity)


def test_method_file_without_a_file_is_refused_before_the_run() -> None:
    from workstation.strategies.api import ParamError

    with pytest.raises(ParamError, match="method=file needs weights=FILE"):
        Rebalance.validate_params({"method": "file"})
