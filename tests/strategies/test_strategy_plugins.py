"""Plugin discovery: shipped, user folder, entry points; a broken plugin is one clear error."""

import json
import textwrap

import pytest

from tests.conftest import run_cli
from workstation.strategies.plugins import discover, load_class, shipped_dir

GOOD = '''
from workstation.strategies.api import Param, Strategy


class Mine(Strategy):
    """My own strategy."""

    name = "mine"
    size = Param(5, min=1, description="units")
'''


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))
    return folder / name


def test_shipped_plugins_are_found():
    found = discover(entry_points=False)
    assert {"ma_crossover", "rsi_reversion", "donchian_breakout", "twap", "vwap"} <= set(found.plugins)
    assert found.errors == []
    spec = found.plugins["ma_crossover"]
    assert spec.source == "shipped" and spec.path.endswith("plugins/ma_crossover.py")
    assert list(spec.cls.parameters()) == ["fast", "slow", "qty", "bar_seconds", "fraction"]


def test_broken_plugins_give_file_and_line_and_do_not_stop_the_others(tmp_path):
    user = tmp_path / "strategies"
    write(user, "good.py", GOOD)
    syntax = write(user, "a_syntax.py", "from workstation.strategies.api import Strategy\n\nclass Bad(Strategy:\n    pass\n")
    raises = write(user, "b_raises.py", "from workstation.strategies.api import Strategy\nimport math\nx = 1 / 0\n")
    bounds = write(user, "c_bounds.py", """
        from workstation.strategies.api import Param, Strategy


        class OutOfBounds(Strategy):
            n = Param(0, min=1)
    """)
    write(user, "_helper.py", "raise RuntimeError('never imported')\n")
    found = discover([("shipped", shipped_dir()), ("user", user)], entry_points=False)
    assert "mine" in found.plugins and "ma_crossover" in found.plugins
    errors = {e.file.rsplit("/", 1)[-1]: e for e in found.errors}
    assert set(errors) == {"a_syntax.py", "b_raises.py", "c_bounds.py"}
    assert errors["a_syntax.py"].line == 3 and "SyntaxError" in errors["a_syntax.py"].message
    assert errors["b_raises.py"].line == 3 and "ZeroDivisionError: division by zero" in errors["b_raises.py"].message
    assert errors["c_bounds.py"].line == 5 and "n must be at least 1, got 0" in errors["c_bounds.py"].message
    assert str(errors["b_raises.py"]).endswith("b_raises.py:3: ZeroDivisionError: division by zero")
    assert str(syntax) and str(raises) and str(bounds)


def test_a_taken_name_is_refused(tmp_path):
    user = tmp_path / "strategies"
    write(user, "clash.py", GOOD.replace('"mine"', '"ma_crossover"'))
    found = discover([("shipped", shipped_dir()), ("user", user)], entry_points=False)
    assert found.plugins["ma_crossover"].source == "shipped"
    assert "already taken" in found.errors[0].message


def test_entry_point_plugins(tmp_path, monkeypatch):
    import importlib.metadata as md
    import sys

    pkg = tmp_path / "ep_pkg"
    write(pkg, "__init__.py", "")
    write(pkg, "algo.py", GOOD.replace('"mine"', '"from_ep"'))
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = md.EntryPoints([
        md.EntryPoint(name="from_ep", value="ep_pkg.algo:Mine", group="workstation.strategies"),
        md.EntryPoint(name="missing", value="ep_pkg.nothere:X", group="workstation.strategies"),
    ])
    monkeypatch.setattr(md, "entry_points", lambda group=None: eps if group == "workstation.strategies" else md.EntryPoints([]))
    found = discover([], entry_points=True)
    assert found.plugins["from_ep"].source == "entry point"
    assert len(found.errors) == 1 and "entry point missing = ep_pkg.nothere:X" in str(found.errors[0])
    assert load_class("ep_pkg.algo", None, "Mine") is found.plugins["from_ep"].cls
    sys.modules.pop("ep_pkg.algo", None)


@pytest.mark.slow
def test_main_py_strategies_lists_plugins_and_reports_a_broken_one(home):
    write(home / "strategies", "good.py", GOOD)
    write(home / "strategies", "broken.py", "import nonexistent_module_xyz\n")
    r = run_cli("strategies", "--json", home=home)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    names = [s["name"] for s in doc["strategies"]]
    assert {"ma_crossover", "twap", "vwap", "mine"} <= set(names)
    mine = next(s for s in doc["strategies"] if s["name"] == "mine")
    assert mine["parameters"][0] == {"name": "size", "type": "a whole number", "default": 5, "min": 1, "max": None,
                                     "choices": None, "description": "units"}
    err_lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err_lines) == 1
    assert "broken.py:1: ModuleNotFoundError: No module named 'nonexistent_module_xyz'" in err_lines[0]
    assert "Traceback" not in r.stderr
    r = run_cli("strategies", home=home)
    assert r.returncode == 0 and "ma_crossover" in r.stdout and "fast SMA length" in r.stdout
