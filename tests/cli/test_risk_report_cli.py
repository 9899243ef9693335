"""``main.py risk report``, as a user runs it (subprocesses on the paper profile)."""

import json
from decimal import Decimal

import pytest

from tests.conftest import run_cli


@pytest.fixture
def held(home):
    for args in (("buy", "10", "AAPL"), ("buy", "5", "MSFT"), ("sell", "3", "NVDA"), ("buy", "0.1", "BTC/USD")):
        r = run_cli(*args, home=home)
        assert r.returncode == 0 and "filled" in r.stdout, (args, r.stdout, r.stderr)
    return home


def test_json_has_var_figures_decomposition_and_stress_rows(held):
    r = run_cli("risk", "report", "--json", home=held)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    risk = doc["risk"]
    assert doc["methods"] == ["historical", "parametric", "full"] and risk["days"] == 250
    figures = {(f["method"], f["confidence"], f["horizon"]): f for f in risk["figures"]}
    assert len(figures) == 12
    one = figures[("historical", 0.99, 1)]
    assert 0 < one["var"] <= one["cvar"]
    assert figures[("parametric", 0.99, 10)]["var"] > figures[("parametric", 0.99, 1)]["var"]
    assert {p["symbol"] for p in risk["positions"]} == {"AAPL", "MSFT", "NVDA", "BTC/USD"}
    comp = sum(p["component_var"]["parametric"] for p in risk["positions"])
    assert comp == pytest.approx(figures[("parametric", 0.99, 1)]["var"], rel=1e-6)  # the parts sum to the whole
    assert len(risk["correlation"]) == len(risk["correlation_symbols"]) == 4
    rows = {s["scenario"]: s for s in doc["stress"]}
    assert {"equities -10%", "crypto -30%", "risk-off"} <= set(rows)
    crash = rows["crypto -30%"]
    assert Decimal(crash["pnl"]) < 0 and [w["symbol"] for w in crash["worst"]] == ["BTC/USD"]
    assert {t["symbol"] for t in doc["heatmap"]} == {"AAPL", "MSFT", "NVDA", "BTC/USD"}
    nvda = next(t for t in doc["heatmap"] if t["symbol"] == "NVDA")
    assert nvda["exposure"] < 0 and nvda["sector"] == "Information Technology"


def test_table_one_method_and_the_html_page(held, tmp_path):
    page = tmp_path / "risk.html"
    r = run_cli("risk", "report", "--method", "parametric", "--ewma", "0.94", "--html", str(page), home=held)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "VaR and CVaR" in out and "parametric" in out and "historical" not in out
    assert "Top positions by component VaR" in out and "BTC/USD" in out and "Stress scenarios" in out
    assert "crypto -30%" in out and "beta to SPY" in out and f"HTML report written to {page}" in out
    text = page.read_text()
    for part in ("Value at risk", "Positions by component VaR", "Sectors", "Stress scenarios", "Heatmap",
                 "Correlation", 'class="tile short"', 'class="corr"', "crypto -30%", "EWMA lambda 0.94"):
        assert part in text, part
    assert "http" not in text.lower() and "<script" not in text and "src=" not in text  # self-contained, no network
    r = run_cli("risk", "report", "--html", str(tmp_path / "no" / "such" / "dir.html"), home=held)
    assert r.returncode == 2 and "cannot write the report to" in r.stderr and r.stderr.count("\n") == 1


def test_bad_input_is_one_line_exit_2_and_no_positions_exit_1(home, tmp_path):
    for args, message in [
        (("--method", "montecarlo"), "unknown method montecarlo"),
        (("--ewma", "1.5"), "EWMA decay (lambda) is between 0 and 1"),
        (("--lookback", "5"), "lookback is a number of days between 20 and 5000"),
    ]:
        r = run_cli("risk", "report", *args, home=home)
        assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1, (args, r.stderr)
    r = run_cli("risk", "report", home=home)
    assert r.returncode == 1 and "no open positions" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1


def test_replay_windows_are_rows_after_the_scenarios_and_a_bad_window_is_one_line_exit_2(held):
    r = run_cli("risk", "report", "--json", "--replay", "2020-03-09..2020-03-13", "--replay", "2099-01-05..2099-01-09", home=held)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["stress"]
    names = [s["scenario"] for s in rows]
    assert names[-2:] == ["replay 2020-03-09..2020-03-13", "replay 2099-01-05..2099-01-09"] and "risk-off" in names[:-2]
    past, future = rows[-2:]
    assert past["window"] == "2020-03-09..2020-03-13" and past["measured"] and Decimal(past["pnl"]) != 0
    assert not future["measured"] and future["pnl_pct"] is None
    assert future["notes"] == ["no daily bars in 2099-01-05..2099-01-09 for any held symbol: not measured"]
    r = run_cli("risk", "report", "--replay", "2099-01-05..2099-01-09", home=held)
    assert r.returncode == 0 and "replay 2099-01-05..2099-01-09" in r.stdout and "not measured" in r.stdout
    for bad, message in [("2020-03-09", "window must read START..END"), ("2020-03-13..2020-03-09", "window ends (2020-03-09) before it starts")]:
        r = run_cli("risk", "report", "--replay", bad, home=held)
        assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_a_configured_replay_is_in_the_table(held):
    (held / "settings.toml").write_text('[[stress.replays]]\nname = "Covid week"\nwindow = "2020-03-09..2020-03-13"\n')
    r = run_cli("risk", "report", "--method", "historical", home=held)
    assert r.returncode == 0, r.stderr
    assert "Covid week" in r.stdout
