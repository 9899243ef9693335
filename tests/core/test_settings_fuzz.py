"""Whatever settings.toml holds, the loader gives Settings or one line naming the file.

Hypothesis writes settings files shaped like real ones (the real tables and keys) holding
values of the wrong type, absurd numbers, NaN, infinity, huge or odd strings and nested
tables, plus bytes that are not TOML at all. ``load_settings`` either loads the file or
raises ``ConfigError`` with one line that names the file: never another exception.
"""

from __future__ import annotations

import math
import string

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import run_cli
from workstation.core.config import ConfigError, Settings, load_settings

KEYS = {
    "": ["default_profile", "watchlist", "sectors", "strategies", "junk"],
    "profile": ["broker", "base_currency", "initial_cash", "account_type", "leverage", "live", "journal_sync", "options", "strategy_risk"],
    "sim": ["seed", "tick_hz", "calendar", "slippage_bps", "commission_per_share", "commission_min", "commission_pct", "partial_fills"],
    "risk": ["max_order_qty", "max_order_notional", "price_collar_pct", "max_open_orders", "max_orders_per_second", "max_daily_loss_pct", "near_pct", "day_roll", "day_timezone"],
    "ui": ["theme", "confirm_orders", "bindings", "repaint_hz"],
    "alerts": ["bell", "cooldown", "rules", "channels", "retries", "retry_delay"],
    "data_quality": ["stale_after", "spike_sigma", "spike_min_pct", "min_samples", "window", "badge_ttl", "gap_bars"],
    "serve": ["tcp_port", "tcp_host", "token"],
    "web": ["token"],
}

numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e308, -1e308, 5e-324, 2**63, 2**64, -(2**63) - 1, 70000, float("nan"), float("inf")]),
)
texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "١٠٠", "１００", "25%", "1e9999%", "", " ", "AAPL > 1e400", "sNaN", "0x10", "-0", "NORMAL", "cash", "sim", "nyse", "25:99"]),
    st.integers(min_value=1, max_value=200_000).map(lambda n: "9" * n),
)
scalars = st.one_of(numbers, texts, st.booleans())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=8), inner, max_size=3)), max_leaves=8)


def table(kind: str) -> st.SearchStrategy[dict]:
    return st.dictionaries(st.sampled_from(KEYS[kind] + ["bogus"]), values, max_size=4)


@st.composite
def settings_files(draw) -> dict:
    doc: dict = draw(table(""))
    for kind in ("ui", "alerts", "data_quality", "serve", "web"):
        if draw(st.booleans()):
            doc[kind] = draw(st.one_of(table(kind), values))
    if draw(st.booleans()):
        profiles = {}
        for name in draw(st.lists(st.sampled_from(["paper", "ib-paper", "binance", "mine"]), max_size=2, unique=True)):
            prof = draw(table("profile"))
            if draw(st.booleans()):
                prof["sim"] = draw(st.one_of(table("sim"), values))
            if draw(st.booleans()):
                prof["risk"] = draw(st.one_of(table("risk"), values))
            profiles[name] = prof
        doc["profiles"] = draw(st.one_of(st.just(profiles), values))
    return doc


def _assert_loads_or_one_line(path) -> None:
    try:
        loaded = load_settings(path)
    except ConfigError as exc:
        message = str(exc)
        assert str(path) in message, message
        assert "\n" not in message and len(message) <= 400, message
    else:
        assert isinstance(loaded, Settings)
        for name in loaded.profiles:
            prof = loaded.profile(name)
            assert prof.initial_cash.is_finite() and prof.initial_cash > 0 and math.isfinite(prof.sim.tick_hz)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=settings_files())
def test_any_settings_file_loads_or_is_one_line_naming_the_file(tmp_path, doc):
    path = tmp_path / "settings.toml"
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    _assert_loads_or_one_line(path)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.integers(min_value=1, max_value=20_000).map(lambda n: b"a = " + b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=20_000).map(lambda n: b"a = " + b"{b=" * n + b"1" + b"}" * n),
    st.integers(min_value=1, max_value=2_000).map(lambda n: b"[profiles.paper]\noptions = " + b"[" * n + b"]" * n),
))
def test_any_bytes_load_or_are_one_line_naming_the_file(tmp_path, data):
    path = tmp_path / "settings.toml"
    path.write_bytes(data)
    _assert_loads_or_one_line(path)


FOUND = [  # what the fuzzing found, kept as plain cases
    ("a = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    ("[profiles.ib-paper]\noptions = 5\n", "options"),
    ("[profiles.paper.risk]\nmax_order_qty = nan\n", "profiles.paper.risk.max_order_qty must be a number, not nan"),
    ('[profiles.paper.risk]\nmax_order_qty = "nan"\n', "max_order_qty must be a number below 1e15"),
    ("[ui]\nrepaint_hz = 0\n", "repaint_hz must be from 1 to 60"),
    ("[data_quality]\nstale_after = inf\n", "stale_after must be from 0"),
    ("[alerts]\ncooldown = -1\n", "cooldown must be from 0 to 86400"),
    ('[[strategies]]\nplugin = "x"\nallocation = "1e400"\n', "allocation 1e400 is out of range"),
    ('[profiles.paper]\njournal_sync = "SOMETIMES"\n', "journal_sync must be NORMAL, FULL or OFF"),
    ('[profiles.paper.sim]\ncalendar = "mars"\n', "calendar must be always, exchange or nyse"),
    ('default_profile = "nope"\n', "unknown profile 'nope'"),
    ('[alerts]\nrules = ["' + "x" * 100_000 + '"]\n', "alert rule"),
]


@pytest.mark.parametrize("text, needle", FOUND)
def test_what_the_fuzzing_found_is_one_line_naming_the_file_and_key(tmp_path, text, needle):
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    said = str(caught.value)
    assert needle in said and str(path) in said and "\n" not in said and len(said) <= 400


@pytest.mark.parametrize("text, needle", [
    ("a = " + "[" * 10_000 + "]" * 10_000 + "\n", "nested too deeply"),
    ("[profiles.paper.risk]\nmax_order_qty = nan\n", "max_order_qty"),
])
def test_status_with_a_bad_settings_file_is_one_line_and_exit_2(home, text, needle):
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text(text)
    r = run_cli("status", home=home)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "settings.toml" in lines[0] and "Traceback" not in r.stderr
