"""The full portfolio risk report (target < 100 ms): 200 positions with 250 days of history,
50 of them options revalued in full.

The book: 150 equities on 150 symbols, long and short, in six sectors and three strategies;
50 calls and puts on 25 of those symbols (strikes 80-120% of spot, 5 to 300 days, IV 20-60%).
Returns: 251 daily closes per symbol from a one-factor model with fat tails (Student t),
aligned by ``returns_from_bars`` as the engine's bars would be. Timed (20 runs each):

* ``report``: ``risk_report`` with every method (historical, parametric, full revaluation),
  95% and 99%, 1 and 10 days, the decomposition, correlation, betas, diversification ratio;
  the covariance computed inside (not taken from the cache);
* ``report_cached``: the same with the covariance from the cache (what a screen's refresh does
  within a day: ``ReturnCache``);
* ``returns``: building the aligned return matrix from the bars (what a cache miss adds);
* ``incremental``: one order's VaR after the trade (``IncrementalVar.after``; 2,000 runs), what
  a pre-trade VaR check adds to the order round trip, historical and parametric;
* ``whole_report_command``: the whole ``main.py risk report --json`` process (start to exit,
  3 runs: wall and peak RSS, as ``bench_backtest_cli.run`` measures them) on a paper account
  holding ~20 positions (stocks long and short, an ETF, crypto) bought with ``main.py buy``.

Prints JSON: median and p95 in ms, and the load average.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, pct, symbols

from workstation.core.model import Bar
from workstation.risk.incremental import IncrementalVar
from workstation.risk.returns import Exposure, OptionTerms, PortfolioRisk, returns_from_bars
from workstation.risk.var import risk_report

DAYS = 250
EQUITIES = 150
OPTIONS = 50
RUNS = 20


def bars(names: list[str], seed: int = 7) -> dict[str, list[Bar]]:
    rng = np.random.default_rng(seed)
    market = rng.standard_t(5, DAYS) * 0.008
    out = {}
    for j, name in enumerate(["SPY", *names]):
        beta = 1.0 if j == 0 else rng.uniform(0.5, 1.6)
        r = beta * market + (0 if j == 0 else 1) * rng.standard_t(4, DAYS) * 0.01
        closes = 100.0 * np.concatenate([[1.0], np.cumprod(1 + r)])
        out[name] = [Bar(name, (20_000 + d) * 86_400.0, c, c, c, c, 0.0, 86_400) for d, c in enumerate(closes)]
    return out


def book(names: list[str], seed: int = 11) -> tuple[Exposure, ...]:
    rng = np.random.default_rng(seed)
    sectors = ["Tech", "Energy", "Health", "Financials", "Industrials", "Staples"]
    strategies = ["manual", "trend", "pairs"]
    out = []
    for i, name in enumerate(names):
        value = float(rng.choice([-1, 1, 1]) * rng.uniform(5_000, 50_000))
        out.append(Exposure(name, name, value, "equity", sectors[i % 6], strategies[i % 3]))
    for k in range(OPTIONS):
        und = names[k % 25]
        spot = 100.0
        call = bool(k % 2)
        terms = OptionTerms(units=float(rng.choice([-1, 1]) * 100 * rng.integers(1, 10)), spot=spot,
                            strike=spot * rng.uniform(0.8, 1.2), years=rng.uniform(5, 300) / 365, vol=rng.uniform(0.2, 0.6),
                            call=call)
        delta = 0.5 if call else -0.5
        out.append(Exposure(f"{und}-OPT{k}", und, terms.units * delta * spot, "option", sectors[k % 6],
                            strategies[k % 3], option=terms))
    return tuple(out)


def timed(fn, runs: int = RUNS) -> list[float]:
    fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main() -> dict:
    names = symbols(EQUITIES)
    history = bars(names)
    matrix = returns_from_bars(history, DAYS)
    factors = returns_from_bars({n: history[n] for n in names}, DAYS)
    inputs = PortfolioRisk(book(names), factors, benchmark=matrix.column("SPY"), equity=2_000_000.0)
    report_ms = timed(lambda: risk_report(inputs))
    cached = PortfolioRisk(inputs.positions, factors, benchmark=inputs.benchmark, equity=inputs.equity,
                           cov=inputs.covariance())
    cached_ms = timed(lambda: risk_report(cached))
    returns_ms = timed(lambda: returns_from_bars(history, DAYS))
    model = IncrementalVar.of(cached)
    hist_us = [x * 1e3 for x in timed(lambda: model.after(names[3], 10_000.0, "historical"), 2000)]
    para_us = [x * 1e3 for x in timed(lambda: model.after(names[3], 10_000.0, "parametric"), 2000)]
    report = risk_report(inputs)
    full = report.figure("full", 0.99, 1)
    return {
        "benchmark": "portfolio_risk_report",
        "positions": len(inputs.positions),
        "options_revalued": OPTIONS,
        "days": report.days,
        "report_ms_median": round(statistics.median(report_ms), 2),
        "report_ms_p95": round(pct(report_ms, 95), 2),
        "report_cached_cov_ms_median": round(statistics.median(cached_ms), 2),
        "report_cached_cov_ms_p95": round(pct(cached_ms, 95), 2),
        "returns_from_bars_ms_median": round(statistics.median(returns_ms), 2),
        "returns_from_bars_ms_p95": round(pct(returns_ms, 95), 2),
        "incremental_historical_us_median": round(statistics.median(hist_us), 2),
        "incremental_historical_us_p95": round(pct(hist_us, 95), 2),
        "incremental_parametric_us_median": round(statistics.median(para_us), 2),
        "incremental_parametric_us_p95": round(pct(para_us, 95), 2),
        "target_ms": 100,
        "runs": RUNS,
        "historical_var_99_1d": round(report.figure("historical", 0.99, 1).var, 2),
        "full_var_99_1d": round(full.var, 2),
        "parametric_var_99_1d": round(report.figure("parametric", 0.99, 1).var, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


HELD = [("buy", "10", s) for s in ("AAPL", "MSFT", "GOOGL", "AMZN", "META", "JPM", "XOM", "JNJ", "PG", "KO", "PEP",
                                      "WMT", "V", "UNH", "HD", "SPY")] + [
    ("sell", "10", "TSLA"), ("sell", "10", "NVDA"), ("sell", "10", "BAC"), ("buy", "0.05", "BTC/USD")]


def whole_command(runs: int = 3) -> dict:
    """``main.py risk report --json`` as a user runs it, on a paper account holding ``HELD``."""
    from bench_backtest_cli import run

    walls, peaks = [], []
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, PYTHONPATH=str(ROOT), WORKSTATION_HOME=home)
        for side, qty, sym in HELD:
            subprocess.run([sys.executable, str(ROOT / "main.py"), side, qty, sym], env=env, cwd=str(ROOT),
                           stdin=subprocess.DEVNULL, capture_output=True, check=True)
        out = os.path.join(home, "report.json")
        for _ in range(runs):
            wall, peak = run([sys.executable, str(ROOT / "main.py"), "risk", "report", "--json"], env, stdout=Path(out))
            walls.append(wall)
            peaks.append(peak)
        with open(out) as f:
            doc = json.load(f)
    return {
        "command": "main.py risk report --json",
        "positions": len(doc["risk"]["positions"]),
        "stress_scenarios": len(doc["stress"]),
        "wall_median_s": round(statistics.median(walls), 3),
        "wall_each_s": [round(w, 3) for w in walls],
        "peak_rss_median_mb": round(statistics.median(peaks), 1),
    }


if __name__ == "__main__":
    doc = main()
    doc["whole_report_command"] = whole_command()
    print(json.dumps(doc, indent=2))
