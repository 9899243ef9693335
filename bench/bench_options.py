"""Implied volatility and every Greek for a 2,000-contract chain, vectorized (target < 20 ms),
the American price the paper market fills at, and the whole ``main.py chain`` command.

The chain: one underlying at 100, 25 expiries from 1 day to 2 years, 40 strikes from 60 to
160, calls and puts, priced by Black-Scholes-Merton at a skewed vol; the solver then recovers
each IV from its price and computes the Greeks at it, as ``workstation.core.chain.with_greeks``
does. Prints JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
from _common import ROOT, pct
from bench_backtest_cli import run

from workstation.core.options import american_price, bsm_greeks, bsm_price, implied_vol


def chain(n_exp: int = 25, n_strikes: int = 40) -> tuple[np.ndarray, ...]:
    years = np.geomspace(1 / 365, 2.0, n_exp)
    strikes = np.linspace(60.0, 160.0, n_strikes)
    y, k, c = (a.ravel() for a in np.meshgrid(years, strikes, [True, False], indexing="ij"))
    vol = 0.25 - 0.1 * np.log(k / 100.0) + 0.02 / np.sqrt(y + 0.05)
    price = np.round(bsm_price(100.0, k, y, 0.04, 0.01, vol, c), 2)  # quoted to the cent
    return price, k, y, c.astype(bool)


def time_it(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main() -> dict:
    price, k, y, c = chain()

    def iv_and_greeks() -> None:
        iv = implied_vol(price, 100.0, k, y, 0.04, 0.01, c)
        bsm_greeks(100.0, k, y, 0.04, 0.01, np.where(np.isnan(iv), 0.2, iv), c)

    iv_and_greeks()
    loop = time_it(iv_and_greeks, 50)
    iv = implied_vol(price, 100.0, k, y, 0.04, 0.01, c)
    sel = slice(0, 80)  # one expiry's 40 strikes x 2 sides, as the paper market quotes them
    amer = time_it(lambda: american_price(100.0, k[sel], y[sel] + 0.1, 0.04, 0.01, 0.3, c[sel]), 20)
    out = {
        "benchmark": "options_chain_greeks",
        "contracts": int(len(price)),
        "with_iv": int(np.count_nonzero(~np.isnan(iv))),
        "iv_and_greeks_ms_median": round(statistics.median(loop), 2),
        "iv_and_greeks_ms_p95": round(pct(loop, 95), 2),
        "target_ms": 20,
        "american_80_contracts_200_steps_ms_median": round(statistics.median(amer), 2),
        "load_average": round(os.getloadavg()[0], 2),
    }
    walls, peaks = [], []
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, PYTHONPATH=str(ROOT), WORKSTATION_HOME=home)
        for _ in range(3):
            wall, peak = run([sys.executable, str(ROOT / "main.py"), "chain", "AAPL", "--strikes", "40", "--json"], env)
            walls.append(wall)
            peaks.append(peak)
    out["whole_chain_command"] = {
        "command": "main.py chain AAPL --strikes 40 --json",
        "wall_median_s": round(statistics.median(walls), 3),
        "peak_rss_median_mb": round(statistics.median(peaks), 1),
    }
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
