"""A plugin that loops at import time: discovery is bounded in time, names the file, loads the rest."""

import os
import time

from tests.conftest import run_cli
from workstation.strategies import plugins

GOOD = '''
from workstation.strategy import Strategy


class Good(Strategy):
    name = "good"
'''


def _folder(tmp_path):
    folder = tmp_path / "strategies"
    folder.mkdir(parents=True)
    (folder / "spin.py").write_text("while True:\n    pass\n")
    (folder / "good.py").write_text(GOOD)
    return folder


def test_a_plugin_looping_at_import_is_one_error_and_the_others_load(tmp_path, monkeypatch):
    folder = _folder(tmp_path)
    began = time.monotonic()
    found = plugins.discover([("user", folder)], entry_points=False, probe_timeout=1.0)
    assert time.monotonic() - began < 10
    assert "good" in found.plugins
    assert [e.file.endswith("spin.py") for e in found.errors] == [True]
    assert "did not finish loading within 1 s" in str(found.errors[0]) and "\n" not in str(found.errors[0])

    probes = []
    real = plugins._probe
    monkeypatch.setattr(plugins, "_probe", lambda files, timeout: probes.append(files) or real(files, timeout))
    again = plugins.discover([("user", folder)], entry_points=False, probe_timeout=1.0)
    assert probes == []  # unchanged files are not probed again: the verdicts are kept
    assert "good" in again.plugins and len(again.errors) == 1

    (folder / "spin.py").write_text("X = 1\n")  # fixed: changed, so probed again, and loads
    os.utime(folder / "spin.py", ns=(time.time_ns(), time.time_ns() + 10**9))
    fixed = plugins.discover([("user", folder)], entry_points=False, probe_timeout=1.0)
    assert [p.name for _, p in probes[0]] == ["spin.py"]
    assert [str(e) for e in fixed.errors] == [f"{plugins._show(folder / 'spin.py')}: defines no Strategy subclass"]


def test_main_py_strategies_does_not_hang_on_a_looping_plugin(home):
    _folder(home)
    run = run_cli("strategies", "--json", home=home, timeout=60)
    assert run.returncode == 0
    assert '"good"' in run.stdout and '"twap"' in run.stdout
    lines = [line for line in run.stderr.splitlines() if "spin.py" in line]
    assert len(lines) == 1 and "did not finish loading" in lines[0]
    assert "Traceback" not in run.stderr
