"""Intraday backtests of NYSE-listed files keep to the exchange's regular sessions: bars in
pre- and post-market, on holidays and after an early close are not traded."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from workstation.cli.app import main
from workstation.research.series import BarSeries, regular_session_only

NY = ZoneInfo("America/New_York")


def ny(*a: int) -> float:
    return datetime(*a, tzinfo=NY).timestamp()


def minutes(symbol: str, days: list[tuple[int, int, int]], seconds: int = 60) -> BarSeries:
    """Bars every ``seconds`` from 04:00 to 20:00 New York on each day, on a wave that crosses often."""
    ts = [t for d in days for t in range(int(ny(*d, 4)), int(ny(*d, 20)), seconds)]
    close = [100 + 3 * math.sin(i / 37) + math.sin(i / 5) for i in range(len(ts))]
    opens = [close[0], *close[:-1]]
    return BarSeries.from_arrays(symbol, ts, opens, [max(a, b) + 0.05 for a, b in zip(opens, close)],
                                 [min(a, b) - 0.05 for a, b in zip(opens, close)], close, [1000] * len(ts), seconds=seconds)


def test_equity_minutes_keep_the_regular_session_with_holidays_and_early_closes() -> None:
    days = [(2028, 11, 22), (2028, 11, 23), (2028, 11, 24)]  # a full day, Thanksgiving, its early close
    kept, dropped = regular_session_only(minutes("AAPL", days))
    assert len(kept) == 390 + 210 and dropped == 3 * 16 * 60 - 600
    assert kept.ts[0] == ny(2028, 11, 22, 9, 30) and kept.ts[389] == ny(2028, 11, 22, 15, 59)
    assert kept.ts[390] == ny(2028, 11, 24, 9, 30) and kept.ts[-1] == ny(2028, 11, 24, 12, 59)
    hourly, _ = regular_session_only(minutes("SPY", [(2028, 11, 22)], seconds=3600))
    assert [datetime.fromtimestamp(t, NY).hour for t in hourly.ts] == list(range(9, 16))  # 09:00 holds 09:30


@pytest.mark.parametrize("symbol", ["BTC/USD", "EUR/USD", "ES-2028-12"])
def test_other_venues_and_daily_bars_come_back_whole(symbol: str) -> None:
    series = minutes(symbol, [(2028, 11, 23)])
    assert regular_session_only(series) == (series, 0)
    daily = BarSeries.from_arrays("AAPL", [ny(2028, 11, 23, 0)], [1.0], [1.0], [1.0], [1.0], seconds=86_400)
    assert regular_session_only(daily) == (daily, 0)


def test_a_backtest_of_an_equity_file_fills_only_in_the_regular_session(capsys, tmp_path: Path) -> None:
    s = minutes("AAPL", [(2028, 11, 22), (2028, 11, 23), (2028, 11, 24), (2028, 11, 27)])
    path = tmp_path / "aapl-1m.csv"
    rows = zip(s.ts.tolist(), s.open.tolist(), s.high.tolist(), s.low.tolist(), s.close.tolist(), s.volume.tolist())
    path.write_text("timestamp,open,high,low,close,volume\n" + "".join(
        f"{datetime.fromtimestamp(t, NY).isoformat()},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{v:.0f}\n" for t, o, h, lo, c, v in rows))
    with pytest.raises(SystemExit) as exit_:
        main(["backtest", "--data", str(path), "--symbol", "AAPL", "--strategy", "ma_crossover", "--param", "fast=5",
              "--param", "slow=20", "--qty", "10", "--json"])
    out, err = capsys.readouterr()
    assert exit_.value.code == 0, err
    assert "AAPL: 2,850 bars outside the NYSE regular session left out" in err
    fills = json.loads(out)["fills"]
    assert len(fills) > 10
    for f in fills:
        t = datetime.fromisoformat(f["ts"].replace("Z", "+00:00")).astimezone(NY)
        assert t.date().isoformat() in ("2028-11-22", "2028-11-24", "2028-11-27"), f
        close = (13, 0) if t.day == 24 else (16, 0)
        assert (9, 30) <= (t.hour, t.minute) < close, f


def test_all_sessions_keeps_the_bars_outside_the_regular_session(capsys, tmp_path: Path) -> None:
    """``--all-sessions``: a file's pre- and post-market bars (and its holiday's) stay in the run."""
    s = minutes("AAPL", [(2028, 11, 22), (2028, 11, 23), (2028, 11, 24), (2028, 11, 27)])
    path = tmp_path / "aapl-1m.csv"
    rows = zip(s.ts.tolist(), s.open.tolist(), s.high.tolist(), s.low.tolist(), s.close.tolist(), s.volume.tolist())
    path.write_text("timestamp,open,high,low,close,volume\n" + "".join(
        f"{datetime.fromtimestamp(t, NY).isoformat()},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{v:.0f}\n" for t, o, h, lo, c, v in rows))
    with pytest.raises(SystemExit) as exit_:
        main(["backtest", "--data", str(path), "--symbol", "AAPL", "--strategy", "ma_crossover", "--param", "fast=5",
              "--param", "slow=20", "--qty", "10", "--json", "--all-sessions"])
    out, err = capsys.readouterr()
    assert exit_.value.code == 0, err
    assert "outside the NYSE regular session" not in err
    days = {datetime.fromisoformat(f["ts"].replace("Z", "+00:00")).astimezone(NY).date().isoformat() for f in json.loads(out)["fills"]}
    hours = {datetime.fromisoformat(f["ts"].replace("Z", "+00:00")).astimezone(NY).hour for f in json.loads(out)["fills"]}
    assert "2028-11-23" in days  # Thanksgiving's bars traded too
    assert hours - set(range(9, 16))  # and some outside 09:30-16:00
