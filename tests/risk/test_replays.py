"""Historical replays (workstation.risk.replays): ``[[stress.replays]]`` in the settings, each a
stress row of the risk report priced from the broker's daily bars (here ORCL and NVDA's real
October 2008), a window without bars as a row that says so, the stress-loss limit counting
them, and bad settings lines."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from brokers.paper.broker import SimBroker
from workstation.core.clock import SimClock
from workstation.core.config import ConfigError, Settings, StressReplaySettings, StressSettings, load_settings
from workstation.core.model import Bar, Position, Quote
from workstation.risk.report_doc import report_on
from workstation.trading.session import Session

D = Decimal
DATA = Path(__file__).resolve().parents[1] / "data"
NOW = datetime(2026, 11, 18, 15, tzinfo=UTC).timestamp()
OLD = datetime(2009, 1, 1, tzinfo=UTC).timestamp()


def read_bars(path: Path, symbol: str) -> list[Bar]:
    with path.open() as f:
        return [
            Bar(symbol, datetime.fromisoformat(r["Date"]).replace(tzinfo=UTC).timestamp(), float(r["Open"]),
                float(r["High"]), float(r["Low"]), float(r["Close"]), float(r["Volume"]), 86_400)
            for r in csv.DictReader(f)
        ]


class Oct2008(SimBroker):
    """The paper market, except that ORCL and NVDA answer October 2008 with their real bars."""

    REAL = {"ORCL": "orcl-2008-10.csv", "NVDA": "nvda-2008-10.csv"}

    async def history(self, symbol: str, seconds: int, start: float, end: float) -> list[Bar]:
        if end <= OLD:
            if symbol not in self.REAL:
                return []
            return [b for b in read_bars(DATA / self.REAL[symbol], symbol) if start <= b.ts < end]
        return await super().history(symbol, seconds, start, end)


LEHMAN = StressReplaySettings(name="Lehman week", window="2008-10-06..2008-10-10", description="the week after Lehman")


BOOK = (("ORCL", 100, 20.0), ("NVDA", -50, 10.0), ("MSFT", 10, 400.0))


def session(tmp_path, *replays: StressReplaySettings, book=BOOK) -> Session:
    clock = SimClock(NOW)
    settings = Settings(stress=StressSettings(replays=list(replays)))
    s = Session.build(settings, "paper", data_root=tmp_path, clock=clock, broker=Oct2008(clock=clock))
    s.portfolio.adopt([Position(symbol=sym, qty=D(qty), avg_price=D(repr(px))) for sym, qty, px in book])
    for sym, _, px in book:
        q = Quote(sym, NOW, px - 0.01, px + 0.01, px)
        s.quotes.on_quote(q)
        s.portfolio.on_quote(q)
    return s


async def test_a_configured_replay_is_a_stress_row_with_the_hand_pnl(tmp_path):
    s = session(tmp_path, LEHMAN)
    try:
        report = await report_on(s, methods=["historical"])
        names = [r.scenario for r in report.stress]
        assert names[-1] == "Lehman week" and names.index("risk-off") < names.index("Lehman week")
        row = report.stress[-1]
        # ORCL 16.68 / 19.48 - 1 = -14.3737%; NVDA 6.81 / 9.03 - 1 = -24.5847%;
        # MSFT (no bars in 2008 here) takes the two's Information Technology average, -19.4792%.
        orcl = D(100) * D(20) * D("-0.143737")  # -287.474
        nvda = D(-50) * D(10) * D("-0.245847")  # +122.9235
        msft = D(10) * D(400) * D("-0.194792")  # -779.168
        assert row.pnl == orcl + nvda + msft == D("-943.7185")
        assert row.window == "2008-10-06..2008-10-10" and row.measured and row.description == "the week after Lehman"
        assert [(w.symbol, w.pnl) for w in row.worst] == [("MSFT", msft), ("ORCL", orcl)]
        assert any(n.startswith("MSFT: no bars") for n in row.notes)
        assert msgspec.json.decode(msgspec.json.encode(report), type=type(report)).stress[-1] == row  # the socket's form
    finally:
        s.journal.close()


async def test_a_window_with_no_bars_for_any_holding_is_a_row_that_says_so(tmp_path):
    s = session(tmp_path, StressReplaySettings(name="1987", window="1987-10-19..1987-10-19"))
    try:
        report = await report_on(s, methods=["historical"], replays=["2008-10-06..2008-10-10", "2099-01-05..2099-01-09"])
        rows = {r.scenario: r for r in report.stress}
        crash = rows["1987"]
        assert not crash.measured and crash.pnl == 0 and crash.pnl_pct is None and crash.worst == []
        assert crash.notes == ["no daily bars in 1987-10-19..1987-10-19 for any held symbol: not measured"]
        assert rows["replay 2008-10-06..2008-10-10"].pnl == D("-943.7185")  # ad hoc, after the configured one
        assert not rows["replay 2099-01-05..2099-01-09"].measured  # a window still to come has no bars
        assert report.risk.figures  # the rest of the report is there
    finally:
        s.journal.close()


async def test_the_stress_loss_limit_counts_configured_replays(tmp_path):
    """Long NVDA only: its first ten days of October 2008 (10.71 -> 6.81, -36.4146%) lose more
    than the shipped equities -20%, so the replay is the worst loss the limit holds."""
    s = session(tmp_path, StressReplaySettings(name="NVDA crash", window="2008-10-01..2008-10-10"),
                book=(("NVDA", 100, 10.0),))
    try:
        s.set_limit("max_stress_loss", "300")
        await s.refresh_var()
        st = s.var_limits.state
        assert (st.stress_scenario, st.stress_loss) == ("NVDA crash", D("364.15"))  # 100 x 10 x 36.4146%, to the cent
        assert s.breaker.tripped
        assert s.breaker.reason() == "stress loss $364.15 (NVDA crash) exceeds max_stress_loss $300.00"
    finally:
        s.journal.close()


@pytest.mark.parametrize(("toml", "message"), [
    ('[[stress.replays]]\nname = "Lehman"\nwindow = "2008-10-06"\n',
     "stress replay 'Lehman': window must read START..END (e.g. 2008-10-06..2008-10-10), got '2008-10-06'"),
    ('[[stress.replays]]\nname = "Lehman"\nwindow = "2008-10-10..2008-10-06"\n',
     "stress replay 'Lehman': window ends (2008-10-06) before it starts (2008-10-10)"),
    ('[[stress.replays]]\nname = " "\nwindow = "2008-10-06..2008-10-10"\n', "replay name must not be empty"),
    ('[[stress.replays]]\nname = "Lehman"\n', "window"),
    ('[[stress.replays]]\nname = "Lehman"\nwindow = "2008-10-06..2008-10-10"\nshock = 1\n', "shock"),
    ('[[stress.scenarios]]\nname = "Lehman"\nequity = -0.1\n[[stress.replays]]\nname = "lehman"\nwindow = "2008-10-06..2008-10-10"\n',
     "stress replay 'lehman' is named twice"),
])
def test_a_bad_replay_line_is_one_error_naming_the_replay_and_the_key(tmp_path, toml, message):
    path = tmp_path / "settings.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert "stress.replays" in str(err.value) or "stress" in str(err.value)
