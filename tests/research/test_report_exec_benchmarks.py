"""The HTML report's "Execution vs benchmarks" table: each execution algorithm's parent order
with the figures of the --json document, and no such section for a run without one."""

import json
from decimal import Decimal

from plugins.ma_crossover import MaCrossover
from plugins.pov import Pov
from plugins.twap import Twap
from tests.strategies.test_pov import minute_bars
from workstation.research import report
from workstation.research.backtest import BacktestConfig, StrategySpec, run_backtest


def _cells(page: str, name: str) -> list[str]:
    """The cells of the section's row whose first cell is ``name``."""
    section = page[page.index('id="algos"'):]
    row = section[section.index(f"<tr><td>{name}</td>"):]
    row = row[:row.index("</tr>")]
    return [c.split("</td>")[0] for c in row.split("<td>")[1:]]


def test_a_pov_and_a_twap_run_shows_the_table_with_the_json_figures(tmp_path):
    s = minute_bars()
    result = run_backtest(
        [s], [StrategySpec(Pov, {"qty": 100_000, "rate": 0.1, "duration": 3600}),
              StrategySpec(Twap, {"qty": 1000, "duration": 600, "slices": 5, "side": "sell"})],
        BacktestConfig(cash=Decimal(10_000_000)),
    )
    doc = {r["strategy"]: r for r in json.loads(report.to_json(result))["execution_algorithms"]}
    path = tmp_path / "report.html"
    report.write_html(result, path)
    page = path.read_text(encoding="utf-8")
    assert page.count("Execution vs benchmarks") == 1
    pov, twap = _cells(page, "pov"), _cells(page, "twap")
    p, t = doc["pov"], doc["twap"]
    assert pov[:4] == ["pov", "SPY", "buy", f"{Decimal(p['filled']):,} of 100,000"]
    assert pov[4:9] == [f"{Decimal(p['avg_price']):,.4f}", f"{Decimal(p['arrival']):,.4f}", f"{p['vs_arrival_bps']:+,.2f}",
                        f"{p['interval_vwap']:,.4f}", f"{p['vs_vwap_bps']:+,.2f}"]
    # participation achieved: the quantity filled over the volume of the interval's bars, near its 10% target
    first = min(o.created for o in result.orders if o.strategy == "pov")
    keep = (s.ts >= first) & (s.ts <= max(f.ts for f in result.fills if f.strategy == "pov"))
    achieved = float(Decimal(p["filled"])) / float(s.volume[keep].sum())
    assert abs(p["participation"] - achieved) < 1e-12 and abs(achieved - 0.1) < 0.01
    assert pov[9] == f"{achieved * 100:.2f}% (target 10%)"
    assert twap[:5] == ["twap", "SPY", "sell", "1,000 of 1,000", f"{Decimal(t['avg_price']):,.4f}"]
    assert twap[6] == f"{t['vs_arrival_bps']:+,.2f}" and twap[8] == f"{t['vs_vwap_bps']:+,.2f}"
    assert t["target_rate"] is None and twap[9] == f"{t['participation'] * 100:.2f}%"


def test_a_run_without_execution_algorithms_has_no_such_section(tmp_path):
    result = run_backtest([minute_bars()], [StrategySpec(MaCrossover, {"fast": 3, "slow": 8, "qty": 10})],
                          BacktestConfig(cash=Decimal(10**7)))
    assert result.fills
    path = tmp_path / "report.html"
    report.write_html(result, path)
    page = path.read_text(encoding="utf-8")
    assert "Execution vs benchmarks" not in page and 'id="algos"' not in page
    assert "Execution quality" in page  # the rest of the report is there
