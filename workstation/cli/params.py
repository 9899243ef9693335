"""Command-line values read without Pydantic where nothing can go wrong.

Typer (0.29) turns every parameter's value into its type through a Pydantic ``TypeAdapter``,
built on first use. Importing Pydantic and building the adapters costs about a fifth of a
second, on every ``main.py buy``, ``status`` or ``orders``, for values that are already
what they should be: a string option that is a string, a whole number in plain ASCII
digits, a path. ``install`` puts a plain reader in front of Typer's for those cases only;
anything else (an empty path, a number with a sign, a dot or a leading zero, a string
that cannot be encoded, a parser, bounds, choices, files) goes to Typer's own adapter, so
every value Typer would refuse is refused with Typer's own message, and every value it
takes comes out the same (``tests/cli/test_cli_params.py`` checks the two against each
other).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

_DIGITS = re.compile(r"[1-9][0-9]{0,17}|0", re.ASCII)
_DECIMAL = re.compile(r"(?:[1-9][0-9]{0,14}|0)(?:\.[0-9]{1,6})?", re.ASCII)
_MISSING = object()


def _text(value: Any) -> bool:
    """A str Pydantic takes as it is (no lone surrogates from an undecodable argv byte)."""
    if not isinstance(value, str):
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _plain_info(info: Any) -> bool:
    """No parser, bounds, clamp or path checks beyond Typer's defaults."""
    return (
        info.parser is None and info.min is None and info.max is None and not info.clamp
        and not info.exists and not info.resolve_path and not info.writable and not info.allow_dash
        and info.path_type is None and info.file_okay and info.dir_okay
    )


def _reader(descriptor: Any):
    """A plain reader for this parameter: value -> converted value, or _MISSING to let Typer
    read it. None when the parameter is not one of the plain kinds."""
    if descriptor.file_annotation is not None or descriptor.is_choice or not _plain_info(descriptor.parameter_info):
        return None
    annotation = descriptor.annotation
    if annotation is str:
        return lambda v: v if _text(v) else _MISSING
    if annotation is bool:
        return lambda v: v if isinstance(v, bool) else _MISSING
    if annotation is int:
        def read_int(v: Any) -> Any:
            if isinstance(v, int) and not isinstance(v, bool):
                return v
            return int(v) if isinstance(v, str) and _DIGITS.fullmatch(v) else _MISSING
        return read_int
    if annotation is float:
        def read_float(v: Any) -> Any:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)
            return float(v) if isinstance(v, str) and _DECIMAL.fullmatch(v) else _MISSING
        return read_float
    if annotation is Path:
        def read_path(v: Any) -> Any:
            if isinstance(v, Path):
                return v
            if not _text(v) or v == "" or "\x00" in v:
                return _MISSING
            path = Path(v)
            if os.path.exists(path) and not os.access(path, os.R_OK):
                return _MISSING  # Typer names it: "... is not readable."
            return path
        return read_path
    if annotation == list[str]:
        def read_strs(v: Any) -> Any:
            if isinstance(v, (list, tuple)) and all(_text(x) for x in v):
                return list(v)
            return _MISSING
        return read_strs
    return None


def install() -> None:
    """Put the plain reader in front of Typer's for every parameter (idempotent). Without the
    Typer internals it expects, it changes nothing."""
    try:
        from typer._coercion import RuntimeParam
        from typer.core import _TyperParameter
    except ImportError:  # another Typer: its own reading stands
        return
    original = getattr(_TyperParameter, "get_runtime_param", None)
    if original is None or getattr(original, "_plain_first", False):
        return

    class PlainFirst(RuntimeParam):
        """Reads a plain value itself; hands anything else to Typer's own runtime param."""

        def __init__(self, owner: Any, read: Any) -> None:
            object.__setattr__(self, "parameter_info", owner.type_descriptor.parameter_info)
            object.__setattr__(self, "annotation", owner.type_descriptor.annotation)
            object.__setattr__(self, "_owner", owner)
            object.__setattr__(self, "_read", read)
            object.__setattr__(self, "_typer", None)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            out = self._read(value)
            if out is not _MISSING:
                return out
            if self._typer is None:
                from typer._coercion import build_runtime_param

                object.__setattr__(self, "_typer", build_runtime_param(self._owner.type_descriptor))
            return self._typer._coerce_value(value, param=param, ctx=ctx)

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            read = _reader(self.type_descriptor)
            if read is None:
                return original(self)
            self._runtime_param = PlainFirst(self, read)
        return self._runtime_param

    get_runtime_param._plain_first = True  # type: ignore[attr-defined]
    _TyperParameter.get_runtime_param = get_runtime_param
