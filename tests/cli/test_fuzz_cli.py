"""Hostile numbers on every numeric option of the command line: exit 0, 1 for a refusal, or 2
with exactly one line on stderr; never a traceback, and nothing written on bad input.

Hypothesis feeds generated strings (huge, tiny, NaN, infinity, -0, exponents, Unicode
digits, whitespace, empty, 1e309, 40-digit numbers, control characters) to the same
``main`` that ``main.py`` runs, in this process (a subprocess per example would take
minutes); two real subprocesses check the same rule end to end.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import run_cli
from workstation.cli.app import main

HOSTILE = st.one_of(
    st.sampled_from([
        "", " ", "\t", "nan", "NaN", "-nan", "sNaN", "inf", "-inf", "Infinity", "-0", "0", "+0", "1e309", "-1e309",
        "1e-309", "1e15", "1e14", "9" * 40, "1" + "0" * 40, "0." + "0" * 40 + "1", "1e999999999", "1E+2", "0x10",
        "١٠٠", "１００", "١", "𝟙𝟘𝟘", "100\u2003", "\u00a0100", "1\x00", "1\n2", "\x1b[31m1", "1,000", "1_000", "1..2",
        "2%", "%", "1e309%", "١٠%", "5bps", "1e309bps", "2ticks", "١ticks", "0001-01-01", "9999-12-31", "2024-02-30",
        "２０２４-01-01", "1" * 30, "1" * 18, "all", "-", "--", "-1", "10.5", "3",
    ]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    st.from_regex(r"[+-]?[0-9]{0,45}(\.[0-9]{0,45})?([eE][+-]?[0-9]{1,10})?(%|bps|ticks)?", fullmatch=True),
)

ORDER_FORMS = [
    lambda v: ["buy", v, "AAPL"],
    lambda v: ["sell", v, "AAPL"],
    lambda v: ["buy", "1", "AAPL", "--limit", v],
    lambda v: ["buy", "1", "AAPL", "--stop", v],
    lambda v: ["sell", "1", "AAPL", "--trail", v],
    lambda v: ["buy", "1", "AAPL", "--take-profit", v, "--stop-loss", "1"],
    lambda v: ["buy", "1", "AAPL", "--take-profit", "1000", "--stop-loss", v],
    lambda v: ["cancel", v],
    lambda v: ["fills", "--since", v],
    lambda v: ["paper", "reset", "--yes", "--cash", v],
]
RESEARCH_FORMS = [
    lambda v: ["realtime", "-s", "AAPL", "-d", "1s", "--json", "-c", v],
    lambda v: ["backtest", "-s", "AAPL", "-d", "1", "--strategy", "ma_crossover", "--json", "--slippage", v],
    lambda v: ["backtest", "-s", "AAPL", "-d", "1", "--strategy", "ma_crossover", "--json", "--commission", v],
    lambda v: ["backtest", "-s", "AAPL", "-d", "1", "--strategy", "ma_crossover", "--json", "--cash", v],
]


def _rows(home: Path) -> int:
    """Every row of the paper account's journal but its schema bookkeeping (``meta``): 0
    before it exists, and still 0 when a first command opened it and was refused."""
    path = home / "data" / "paper" / "journal.sqlite"
    if not path.exists():
        return 0
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type = 'table' and name != 'meta'")]
        return sum(con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables)
    finally:
        con.close()


def _run(argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:
        code = 0
    return code, capsys.readouterr().err


def _check(argv: list[str], home: Path, capsys) -> None:
    before = _rows(home)
    code, err = _run(argv, capsys)
    assert "Traceback" not in err, (argv, err)
    assert code in (0, 1, 2), (argv, code, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1, (argv, err)
        assert _rows(home) == before, f"{argv} wrote to the journal on bad input"


FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@settings(FUZZ, max_examples=30)
@given(form=st.sampled_from(ORDER_FORMS), value=HOSTILE)
def test_order_options_take_any_string_without_a_traceback(home, capsys, form, value):
    _check(form(value), home, capsys)


@settings(FUZZ, max_examples=8)
@given(form=st.sampled_from(RESEARCH_FORMS), value=HOSTILE)
def test_realtime_and_backtest_numbers_take_any_string_without_a_traceback(home, capsys, form, value):
    _check(form(value), home, capsys)


@pytest.mark.parametrize("argv, needle", [
    (["buy", "١٠٠", "AAPL"], "U+0661 ARABIC-INDIC DIGIT ONE"),
    (["buy", "１００", "AAPL"], "U+FF11 FULLWIDTH DIGIT ONE"),
    (["buy", "1", "AAPL", "--limit", "١٠٠"], "ASCII digits"),
    (["paper", "reset", "--yes", "--cash", "１００"], "ASCII digits"),
    (["realtime", "-s", "AAPL", "-d", "١٠s"], "malformed duration"),
])
def test_unicode_digits_are_refused_naming_the_character(home, capsys, argv, needle):
    code, err = _run(argv, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, err
    assert _rows(home) == 0


@pytest.mark.parametrize("args", [("buy", "١٠٠", "AAPL"), ("buy", "1", "AAPL", "--trail", "1e309%")])
def test_a_real_process_says_one_line_and_exits_2(home, args):
    r = run_cli(*args, home=home)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    assert _rows(home) == 0
