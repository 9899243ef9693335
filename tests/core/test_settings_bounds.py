"""Settings are checked once, with bounds, and a bad value is one line naming the file and the key."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from workstation.core.config import ConfigError, load_settings

BAD = [
    ("[profiles.paper.sim]\ntick_hz = 0\n", "tick_hz must be above 0", "[profiles.paper]"),
    ("[profiles.paper.sim]\ntick_hz = inf\n", "tick_hz must be above 0", "[profiles.paper]"),
    ("[profiles.paper.sim]\nslippage_bps = -1\n", "slippage_bps must be a number from 0", "[profiles.paper]"),
    ("[profiles.paper]\ninitial_cash = -5\n", "initial_cash must be above 0", "[profiles.paper]"),
    ('[profiles.paper]\ninitial_cash = "nan"\n', "initial_cash must be above 0", "[profiles.paper]"),
    ("[profiles.paper]\nleverage = -2\n", "leverage must be above 0", "[profiles.paper]"),
    ("[serve]\ntcp_port = 70000\n", "tcp_port must be from 0", "serve"),
]


@pytest.mark.parametrize("text, message, key", BAD)
def test_a_value_out_of_bounds_names_the_file_and_the_key(tmp_path, text, message, key):
    path = tmp_path / "settings.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    said = str(caught.value)
    assert str(path) in said and message in said and key in said and "\n" not in said.strip()


def test_the_command_line_says_it_in_one_line_and_exits_2(home):
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text("[profiles.paper.sim]\ntick_hz = inf\n")
    r = run_cli("status", home=home)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "tick_hz must be above 0" in lines[0] and "settings.toml" in lines[0]


def test_sane_settings_still_load(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[profiles.paper]\ninitial_cash = 250000\nleverage = 4\n[profiles.paper.sim]\ntick_hz = 50\n[serve]\ntcp_port = 7011\ntoken = \"x\"\n")
    s = load_settings(path)
    assert s.profile("paper").leverage == 4 and s.serve.tcp_port == 7011
