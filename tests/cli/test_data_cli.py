"""``main.py data fetch`` and ``data list`` in a subprocess: the paper market and the Alpaca fake
into a temporary data directory, merges, refusals, and ``backtest -s`` reading the cache."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import pytest

from tests.alpaca_support import fake, write_settings  # noqa: F401 (fixture)
from tests.conftest import run_cli
from tests.fakes.alpaca_fake import KEY, SECRET

KEYS = {"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


def _listed(home) -> list[dict]:
    r = run_cli("data", "list", "--json", home=home)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _one_line_error(r) -> str:
    assert "Traceback" not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def _epoch(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp()


def test_fetch_on_paper_then_list(home):
    r = run_cli("data", "fetch", "-s", "AAPL", "MSFT", "--bar", "5m", "--from", "2026-01-05", "--to", "2026-01-07", home=home)
    assert r.returncode == 0, r.stderr
    assert "AAPL 5m:" in r.stdout and "MSFT 5m:" in r.stdout
    rows = _listed(home)
    assert [(x["symbol"], x["bar"], x["source"]) for x in rows] == [("AAPL", "5m", "paper (sim)"), ("MSFT", "5m", "paper (sim)")]
    for x in rows:
        assert x["bars"] > 0 and x["bytes"] > 0
        assert x["path"].endswith(f"bars/{x['symbol']}/5m.parquet")
        assert "2026-01-05T05:00" <= x["first"] and x["last"] < "2026-01-07T05:00"  # New York midnights
    from brokers.paper.replay import ReplayFeed

    feed = ReplayFeed.from_file(rows[0]["path"], "AAPL")  # any bar-file reader takes the cache
    assert len(feed.bars) == rows[0]["bars"] and feed.bars[0].seconds == 300
    text = run_cli("data", "list", home=home)
    assert text.returncode == 0 and "AAPL" in text.stdout and "MSFT" in text.stdout and "paper (sim)" in text.stdout


def test_second_fetch_merges_without_duplicates(home, tmp_path):
    for span in (("2026-01-05", "2026-01-07"), ("2026-01-06", "2026-01-08")):
        r = run_cli("data", "fetch", "-s", "AAPL", "--bar", "5m", "--from", span[0], "--to", span[1], home=home)
        assert r.returncode == 0, r.stderr
    assert "AAPL 5m: 576 bars (288 new) from paper, 2026-01-06 to 2026-01-08" in r.stdout  # 2026-01-06 was cached
    once = tmp_path / "once"
    r = run_cli("data", "fetch", "-s", "AAPL", "--bar", "5m", "--from", "2026-01-05", "--to", "2026-01-08", "--data-dir", str(once), home=home)
    assert r.returncode == 0, r.stderr
    merged, direct = _listed(home)[0], json.loads(run_cli("data", "list", "--json", "--data-dir", str(once), home=home).stdout)[0]
    assert (merged["bars"], merged["first"], merged["last"]) == (direct["bars"], direct["first"], direct["last"])
    import pyarrow.parquet as pq

    ts = pq.read_table(merged["path"]).column("timestamp").to_pylist()
    assert ts == sorted(set(ts))


@pytest.mark.parametrize("args, says", [
    (["-s", "AAPL", "--bar", "2m", "--from", "2026-01-05"], "unknown bar size '2m'"),
    (["-s", "AAPL", "--from", "2026-01-07", "--to", "2026-01-05"], "--to must be after --from"),
    (["-s", "AA$PL", "--from", "2026-01-05"], "malformed symbol"),
    (["-s", "AAPL", "--from", "2026-31-01"], "--from must be a date"),
])
def test_bad_input_is_one_line_and_writes_nothing(home, args, says):
    r = run_cli("data", "fetch", *args, home=home)
    assert r.returncode == 2
    assert says in _one_line_error(r)
    assert not (home / "data" / "bars").exists()


def test_a_damaged_cache_file_is_named_with_how_to_remove_it(home):
    bad = home / "data" / "bars" / "AAPL" / "1m.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"timestamp,open\n1,2\n")
    r = run_cli("data", "fetch", "-s", "AAPL", "--from", "2026-01-05", "--to", "2026-01-06", home=home)
    assert r.returncode == 2
    line = _one_line_error(r)
    assert str(bad) in line and f"rm {bad}" in line
    assert bad.read_bytes() == b"timestamp,open\n1,2\n"
    r = run_cli("backtest", "-s", "AAPL", "--from", "2026-01-05", "--to", "2026-01-06", home=home)
    assert r.returncode == 2 and str(bad) in _one_line_error(r)
    r = run_cli("data", "list", home=home)
    assert r.returncode == 1 and f"rm {bad}" in r.stderr and "Traceback" not in r.stderr


def _write_path(home, symbol: str, closes: list[float], start: float) -> None:
    """A cache file as ``data fetch`` writes it, holding a price path no simulation makes."""
    import numpy as np

    from workstation.research import datacache as dc

    c = np.array(closes)
    o = np.concatenate([[c[0]], c[:-1]])
    cols = {
        "timestamp": np.arange(len(c), dtype=np.int64) * 60 + int(start), "open": o,
        "high": np.maximum(o, c) + 0.05, "low": np.minimum(o, c) - 0.05, "close": c, "volume": np.full(len(c), 1000.0),
    }
    dc.write_atomic(dc.cache_path(home / "data", symbol, "1m"), cols, {"symbol": symbol, "bar": "1m", "sources": []})


def test_backtest_and_optimize_read_the_cached_bars(home, tmp_path):
    start = _epoch("2026-01-05T15:00")
    closes = [round(1000 + 50 * math.sin(i / 15), 2) for i in range(600)]  # around 1,000: the paper AAPL is near 200
    args = ["backtest", "-s", "AAPL", "--from", "2026-01-05", "--to", "2026-01-06", "--strategy", "ma_crossover",
            "--param", "fast=5", "--param", "slow=20", "--qty", "1", "--json"]
    simulated = run_cli(*args, "--data-dir", str(tmp_path / "empty"), home=home)
    assert simulated.returncode == 0, simulated.stderr
    assert "from the cache" not in simulated.stderr
    _write_path(home, "AAPL", closes, start)
    cached = run_cli(*args, home=home)
    assert cached.returncode == 0, cached.stderr
    path = home / "data" / "bars" / "AAPL" / "1m.parquet"
    assert f"AAPL: 1m bars from the cache {path}" in cached.stderr
    fills = json.loads(cached.stdout)["fills"]
    assert fills and {f["price"] for f in fills} != {f["price"] for f in json.loads(simulated.stdout)["fills"]}
    assert all(940 < float(f["price"]) < 1060 for f in fills)  # every fill on the cached path
    assert all(start <= datetime.fromisoformat(f["ts"].replace("Z", "+00:00")).timestamp() < start + 600 * 60 for f in fills)
    out = run_cli("backtest", "-s", "AAPL", "--from", "2026-02-01", "--to", "2026-02-02", home=home)
    assert out.returncode == 2 and "data fetch -s AAPL" in _one_line_error(out)
    opt = run_cli("optimize", "-s", "AAPL", "--strategy", "ma_crossover", "--param", "fast=5:6:1", "--param", "slow=20",
                  "--from", "2026-01-05", "--to", "2026-01-06", "--workers", "1", "--json", home=home)
    assert opt.returncode == 0, opt.stderr
    assert f"AAPL: 1m bars from the cache {path}" in opt.stderr


@pytest.mark.slow
def test_fetch_through_alpaca_pages_and_records_the_source(fake, home):  # noqa: F811
    t0 = _epoch("2026-01-05T14:30")
    fake.set_bars("AAPL", [(t0 + 60 * i, 190 + i / 100, 190.5 + i / 100, 189.5 + i / 100, 190.2 + i / 100, 100 + i) for i in range(2_500)])
    fake.bars_page = 1_000  # the client follows next_page_token
    write_settings(home, fake)
    r = run_cli("data", "fetch", "-s", "AAPL", "--from", "2026-01-05", "--to", "2026-01-08", "--profile", "alpaca-paper", home=home, env=KEYS)
    assert r.returncode == 0, r.stderr
    assert "AAPL 1m: 2,500 bars (2,500 new) from alpaca-paper, 2026-01-05 to 2026-01-07" in r.stdout
    bar_calls = [q for m, p, q in fake.requests if p == "/v2/stocks/bars"]
    assert len(bar_calls) >= 3 and any(q.get("page_token") for q in bar_calls)
    (row,) = _listed(home)
    assert (row["symbol"], row["bars"], row["source"]) == ("AAPL", 2_500, "alpaca-paper (alpaca)")
    assert row["first"] == "2026-01-05T14:30:00.000Z"
    unknown = run_cli("data", "fetch", "-s", "ZZZZ", "--from", "2026-01-05", "--profile", "alpaca-paper", home=home, env=KEYS)
    assert unknown.returncode == 1 and "ZZZZ" in _one_line_error(unknown)
    assert not (home / "data" / "bars" / "ZZZZ").exists()
    for secret in (KEY, SECRET):
        assert secret not in r.stdout + r.stderr
