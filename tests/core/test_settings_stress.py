"""``[[stress.scenarios]]``: a user's own stress scenario, from the settings file to its P&L;
a bad one is one line naming the file, the scenario and the key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import run_cli
from workstation.core.config import ConfigError, load_settings
from workstation.core.sectors import SectorMap
from workstation.core.symbols import parse_symbol
from workstation.risk.stress import SHIPPED, Holding, StressInputs, run, scenarios

D = Decimal

TECH_WRECK = """
[sectors]
PLTR = "Software"

[[stress.scenarios]]
name = "tech wreck"
description = "chips and software sell off"
equity = -0.05
vol = 0.3
sectors = { "Information Technology" = -0.25, Software = -0.3 }
symbols = { nvda = -0.4 }
asset_classes = { crypto = -0.5 }
"""


def test_a_user_scenario_from_the_settings_file_comes_after_the_shipped_ones_and_applies(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text(TECH_WRECK)
    settings = load_settings(path)
    every = scenarios(settings)
    assert [s.name for s in every[: len(SHIPPED)]] == [s.name for s in SHIPPED]
    mine = every[-1]
    assert mine.name == "tech wreck" and mine.vol == D("0.3") and mine.symbols == {"NVDA": D("-0.4")}
    smap = SectorMap(settings.sectors)
    inputs = StressInputs(base="USD", equity=D(50_000), holdings=tuple(
        Holding(parse_symbol(s), D(10), D(100), smap.sector(s)) for s in ("NVDA", "AAPL", "PLTR", "JPM", "BTC/USD")
    ))
    r = run(inputs, mine)
    pnl = {p.symbol: p.pnl for p in r.positions}
    assert pnl == {"NVDA": D("-400"), "AAPL": D("-250"), "PLTR": D("-300"), "JPM": D("-50"), "BTC/USD": D("-500")}
    assert r.pnl == D("-1500") and r.pnl_pct == D("-3.00")


BAD = [
    ('[[stress.scenarios]]\nname = "x"\nequity = -1.5\n', "stress scenario 'x': equity must be from -1 to 10"),
    ('[[stress.scenarios]]\nname = "x"\nsymbols = { NVDA = -2 }\n', "stress scenario 'x': symbols.NVDA must be from -1 to 10"),
    ('[[stress.scenarios]]\nname = "x"\nvol = -1\n', "stress scenario 'x': vol must be from -0.99 to 10"),
    ('[[stress.scenarios]]\nname = "x"\ndollar = 3\n', "stress scenario 'x': dollar must be from -0.5 to 1"),
    ('[[stress.scenarios]]\nname = "x"\nasset_classes = { bonds = -0.1 }\n', "asset_classes key 'bonds' must be equity, crypto, forex, future or index"),
    ('[[stress.scenarios]]\nname = "x"\nsectors = { Technology = -0.25 }\n', "stress scenario 'x': sectors.Technology is not a sector"),
    ('[[stress.scenarios]]\nname = "x"\nshocks = { equity = -0.1 }\n', "unknown field `shocks`"),
    ('[[stress.scenarios]]\nequity = -0.1\n', "missing required field `name`"),
    ('[[stress.scenarios]]\nname = "x"\n[[stress.scenarios]]\nname = "X"\n', "stress scenario 'X' is named twice"),
    ('[[stress.scenarios]]\nname = "x"\nequity = "lots"\n', "Invalid decimal string - at `$.stress.scenarios[0].equity`"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_a_bad_scenario_is_one_line_naming_the_file_and_the_key(tmp_path, text, message):
    path = tmp_path / "settings.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    said = str(caught.value)
    assert str(path) in said and message in said and "\n" not in said


def test_the_command_line_refuses_a_bad_scenario_in_one_line(home):
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text('[[stress.scenarios]]\nname = "x"\nsymbols = { NVDA = -2 }\n')
    r = run_cli("status", home=home)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "symbols.NVDA must be from -1 to 10" in lines[0]
