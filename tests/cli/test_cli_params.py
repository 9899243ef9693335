"""The plain value reader (workstation.cli.params) takes what Typer's Pydantic reader takes,
gives the same values, and hands everything else to it (same messages)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from workstation.cli import params

params.install()

from typer._click import Context  # noqa: E402
from typer._click.exceptions import BadParameter  # noqa: E402
from typer._coercion import build_runtime_param, resolve_type_descriptor  # noqa: E402
from typer.core import TyperArgument  # noqa: E402
from typer.models import OptionInfo  # noqa: E402


def both(annotation):
    """(the installed reader, Typer's own runtime param) for one parameter of that type."""
    desc = resolve_type_descriptor(annotation, OptionInfo())
    param = TyperArgument(param_decls=["value"], type_descriptor=desc, required=False)
    plain = param.get_runtime_param()
    assert type(plain).__name__ == "PlainFirst"
    return param, plain, build_runtime_param(desc)


def outcome(runtime, param, value):
    ctx = Context(_command())
    try:
        out = runtime.coerce(value, param=param, ctx=ctx)
        return ("ok", type(out), repr(out))  # repr: a NaN equals itself
    except BadParameter as exc:
        return ("bad", exc.format_message())


def _command():
    from typer.core import TyperCommand

    return TyperCommand("x")


TEXT = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"[0-9]{1,20}", fullmatch=True),
    st.from_regex(r"[+-]?[0-9]{0,4}[._]?[0-9]{0,8}", fullmatch=True),
    st.sampled_from(["", "0", "00", "007", "1e3", " 5", "5 ", "inf", "nan", "\udcff", "１２", "-0", "0.1", "9" * 19]),
)


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_plain_strings_numbers_and_paths_read_as_typer_reads_them(value):
    for annotation in (str, int, float, Path):
        param, plain, typer_own = both(annotation)
        assert outcome(plain, param, value) == outcome(typer_own, param, value), (annotation, value)


@settings(max_examples=100, deadline=None)
@given(st.lists(TEXT, max_size=4))
def test_lists_of_strings_read_as_typer_reads_them(values):
    param, plain, typer_own = both(list[str])
    param.multiple = True
    assert outcome(plain, param, tuple(values)) == outcome(typer_own, param, tuple(values))


def test_defaults_and_an_unreadable_path_read_as_typer_reads_them(tmp_path):
    for annotation, value in ((int, 20), (float, 90), (float, 1.5), (bool, True), (str, None), (Path, None)):
        param, plain, typer_own = both(annotation)
        assert outcome(plain, param, value) == outcome(typer_own, param, value)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    try:
        param, plain, typer_own = both(Path)
        assert outcome(plain, param, str(locked)) == outcome(typer_own, param, str(locked))
    finally:
        locked.chmod(0o700)


def test_an_order_command_does_not_import_pydantic(tmp_path):
    code = (
        "import sys, runpy; sys.argv = ['main.py', 'buy', '1', 'AAPL', '--dry-run', '--data-dir', %r];"
        "\ntry:\n    runpy.run_path('main.py', run_name='__main__')\nexcept SystemExit as e:\n    assert e.code == 0, e.code"
        "\nassert 'pydantic' not in sys.modules" % str(tmp_path)
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
