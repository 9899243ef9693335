"""Finding strategy plugins: the shipped ``plugins/`` folder, the user's folder, entry points.

Sources, in order (a later plugin with a taken name is refused, not silently preferred):

1. ``plugins/*.py`` shipped with the workstation;
2. ``<config dir>/strategies/*.py`` (next to ``settings.toml``; ``$WORKSTATION_HOME/strategies``);
3. the ``workstation.strategies`` entry-point group of installed packages
   (``[project.entry-points."workstation.strategies"] my_algo = "my_pkg.algo:MyAlgo"``).

Each ``Strategy`` subclass defined in a plugin module is one plugin. A module that fails to
import, or a class whose parameters do not validate, becomes one ``PluginError`` naming the
file and line; the other plugins still load. Files whose names start with ``_`` are skipped.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workstation.core.model import ModelError
from workstation.strategies.api import Strategy

ENTRY_POINT_GROUP = "workstation.strategies"
PROBE_TIMEOUT = 5.0  # seconds a plugin file may take to import in the probe
_PROBES = "workstation-probes.json"
# the probe: the parent's import path, then the plugin file imported as discovery imports it
_PROBE = (
    "import json, sys\n"
    "sys.path[:0] = json.loads(sys.argv[1])\n"
    "from pathlib import Path\n"
    "from workstation.strategies.plugins import _load_file\n"
    "import workstation.strategy\n"
    "sys.stdout.write('r'); sys.stdout.flush()\n"
    "try:\n"
    "    _load_file(sys.argv[2], Path(sys.argv[3]))\n"
    "except BaseException:\n"
    "    pass  # an import error is reported by the real import, with its file and line\n"
    "sys.stdout.write('d'); sys.stdout.flush()\n"
)
_PROBE_START = 120.0  # seconds a child may take to start before it is ready to import a plugin


@dataclass(frozen=True, slots=True)
class PluginSpec:
    name: str
    cls: type[Strategy]
    source: str  # "shipped", "user", "entry point"
    module: str
    path: str | None  # the file it came from, when it came from a file
    qualname: str

    @property
    def description(self) -> str:
        doc = self.cls.description or (inspect.getdoc(self.cls) or "").split("\n\n")[0]
        return " ".join(doc.replace("``", "").split())


@dataclass(frozen=True, slots=True)
class PluginError:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass
class Discovery:
    plugins: dict[str, PluginSpec] = field(default_factory=dict)
    errors: list[PluginError] = field(default_factory=list)

    def get(self, name: str) -> PluginSpec:
        spec = self.plugins.get(name)
        if spec is None:
            known = ", ".join(sorted(self.plugins)) or "none"
            raise ModelError(f"unknown strategy {name!r} (available: {known})")
        return spec


def shipped_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "plugins"


def user_dir(config: str | Path | None = None) -> Path:
    from workstation.core.config import config_path

    return config_path(config).parent / "strategies"


def discover(
    dirs: Sequence[tuple[str, Path]] | None = None, *, entry_points: bool = True, config: str | Path | None = None,
    probe_timeout: float = PROBE_TIMEOUT,
) -> Discovery:
    """Load every plugin; ``dirs`` is ``[(source, folder), ...]`` (default: shipped, then user).
    Files not shipped are imported only once a child process has imported them within
    ``probe_timeout`` seconds (see the module's docstring)."""
    found = Discovery()
    folders = dirs if dirs is not None else [("shipped", shipped_dir()), ("user", user_dir(config))]
    for source, folder in folders:
        if not folder.is_dir():
            continue
        files = [p for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")]
        hung = {} if source == "shipped" else _probed(folder, [(_module_name(source, p), p) for p in files], probe_timeout)
        for path in files:
            module_name = _module_name(source, path)
            if path in hung:
                found.errors.append(PluginError(_show(path), None, hung[path]))
                continue
            try:
                module = _load_file(module_name, path)
            except BaseException as exc:  # noqa: BLE001 - any failure is this plugin's, not ours
                if isinstance(exc, KeyboardInterrupt):
                    raise
                found.errors.append(_import_error(exc, path))
                continue
            classes = [
                c for c in vars(module).values()
                if inspect.isclass(c) and issubclass(c, Strategy) and c is not Strategy and c.__module__ == module.__name__
            ]
            if not classes:
                found.errors.append(PluginError(_show(path), None, "defines no Strategy subclass"))
            for cls in classes:
                _add(found, cls, source, module.__name__, str(path))
    if entry_points:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                obj = ep.load()
            except BaseException as exc:  # noqa: BLE001
                if isinstance(exc, KeyboardInterrupt):
                    raise
                found.errors.append(_import_error(exc, None, f"entry point {ep.name} = {ep.value}"))
                continue
            if not (inspect.isclass(obj) and issubclass(obj, Strategy)):
                found.errors.append(PluginError(f"entry point {ep.name} = {ep.value}", None, "is not a Strategy subclass"))
                continue
            _add(found, obj, "entry point", obj.__module__, inspect.getsourcefile(obj))
    return found


def _probed(folder: Path, files: list[tuple[str, Path]], timeout: float) -> dict[Path, str]:
    """The files of ``folder`` that do not finish importing within ``timeout`` seconds, each
    with the reason; new or changed files are probed in child processes, all at once."""
    cache_path = folder / "__pycache__" / _PROBES
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
        if not isinstance(cache, dict):
            cache = {}
    except (OSError, ValueError):
        cache = {}
    verdicts: dict[str, dict[str, object]] = {}
    unprobed: list[tuple[str, Path, list[int]]] = []
    for module_name, path in files:
        try:
            st = path.stat()
        except OSError:
            continue
        stamp = [st.st_mtime_ns, st.st_size]
        known = cache.get(str(path))
        if isinstance(known, dict) and known.get("stamp") == stamp:
            verdicts[str(path)] = known
        else:
            unprobed.append((module_name, path, stamp))
    if unprobed:
        for (_, path, stamp), problem in zip(unprobed, _probe([(m, p) for m, p, _ in unprobed], timeout), strict=True):
            verdicts[str(path)] = {"stamp": stamp, "problem": problem}
        try:
            cache_path.parent.mkdir(exist_ok=True)
            cache_path.write_text(json.dumps(verdicts), encoding="utf-8")
        except OSError:  # a read-only folder: probed again next time
            pass
    return {Path(k): str(v["problem"]) for k, v in verdicts.items() if v.get("problem")}


def _probe(files: list[tuple[str, Path]], timeout: float) -> list[str | None]:
    """Import each file in a child process of its own, all at once; for each, None when its
    import finished within ``timeout`` seconds, else why it is not loaded (the child is
    killed). The time counts from when the child is ready to import the file: starting an
    interpreter on a busy machine is not the plugin's fault."""
    import selectors

    from workstation.core.clock import perf_ns

    path_json = json.dumps([p for p in sys.path if p])
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _PROBE, path_json, module_name, str(path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        for module_name, path in files
    ]
    out: list[str | None] = [None] * len(children)
    began = perf_ns()
    limits = [began + int(_PROBE_START * 1e9)] * len(children)  # until ready, then ready + timeout
    waiting = set(range(len(children)))
    with selectors.DefaultSelector() as sel:
        for i, child in enumerate(children):
            sel.register(child.stdout, selectors.EVENT_READ, i)  # type: ignore[arg-type]
        while waiting:
            now = perf_ns()
            for i in [i for i in waiting if now >= limits[i]]:
                children[i].kill()
                out[i] = f"did not finish loading within {timeout:g} s (a loop at import time?); not loaded"
                waiting.discard(i)
                sel.unregister(children[i].stdout)  # type: ignore[arg-type]
            if not waiting:
                break
            for key, _ in sel.select(max(0.0, (min(limits[i] for i in waiting) - now) / 1e9)):
                i = key.data
                data = os.read(key.fd, 64)
                if b"r" in data:
                    limits[i] = perf_ns() + int(timeout * 1e9)
                if not data or b"d" in data:  # imported (or the child ended: an import error)
                    waiting.discard(i)
                    sel.unregister(key.fileobj)
    for child in children:
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    return out


def _module_name(source: str, path: Path) -> str:
    if source == "shipped":
        return f"plugins.{path.stem}"
    return f"workstation_user_strategies.{path.stem}"


def _load_file(module_name: str, path: Path):
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _add(found: Discovery, cls: type[Strategy], source: str, module: str, path: str | None) -> None:
    name = cls.plugin_name() if cls.name else (Path(path).stem if path else cls.__name__)
    where = _show(Path(path)) if path else module
    if name in found.plugins:  # (the class's line is looked up only for an error: inspect reads the whole file)
        other = found.plugins[name]
        found.errors.append(PluginError(where, _line_of(cls), f"strategy name {name!r} is already taken by {other.path or other.module}"))
        return
    try:
        cls.validate_params({})
    except ModelError as exc:
        found.errors.append(PluginError(where, _line_of(cls), f"{cls.__name__}: default parameters do not validate: {exc}"))
        return
    found.plugins[name] = PluginSpec(name=name, cls=cls, source=source, module=module, path=path, qualname=cls.__qualname__)


def _line_of(cls: type) -> int | None:
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return None


def _import_error(exc: BaseException, path: Path | None, label: str | None = None) -> PluginError:
    what = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError):
        file = exc.filename or (str(path) if path else label or "?")
        return PluginError(_show(Path(file)), exc.lineno, f"SyntaxError: {exc.msg}")
    frames = traceback.extract_tb(exc.__traceback__)
    line = None
    file = str(path) if path else None
    for frame in frames:
        if path is not None and Path(frame.filename) == path:
            line = frame.lineno
    if path is None and frames:
        file, line = frames[-1].filename, frames[-1].lineno
    shown = _show(Path(file)) if file else (label or "?")
    if label and path is None:
        what = f"{label}: {what}"
    return PluginError(shown, line, what)


def _show(path: Path) -> str:
    """A path as short as still unambiguous: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_class(module: str, path: str | None, qualname: str) -> type[Strategy]:
    """Load a plugin class again (in a process worker): by module name, else from its file."""
    if module in sys.modules:
        mod = sys.modules[module]
    else:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            if path is None:
                raise
            mod = _load_file(module, Path(path))
    obj: object = mod
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[return-value]


def describe(spec: PluginSpec) -> dict[str, object]:
    return {
        "name": spec.name,
        "description": spec.description,
        "source": spec.source,
        "path": spec.path,
        "process": spec.cls.process,
        "parameters": [p.describe() for p in spec.cls.parameters().values()],
    }


def names(found: Discovery) -> Iterable[str]:
    return sorted(found.plugins)
