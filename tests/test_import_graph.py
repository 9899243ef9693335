"""The import graph of the engine has no circle, and every package says what it holds.

Imports inside functions count (a circle through a lazy import is still a circle); imports
under ``if TYPE_CHECKING:`` do not (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("workstation", "brokers", "plugins", "themes")


def modules() -> dict[str, Path]:
    found = {}
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _owner(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(sub) for stmt in node.body for sub in ast.walk(stmt))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([node.module] if node.module else [])])
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            owner = _owner(target, known)
            if owner is not None and owner != name:
                out.add(owner)
                break
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_another_in_a_circle():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert cycles(graph) == []


def test_the_checker_finds_a_circle_through_a_lazy_import(tmp_path):
    """The test above can fail: a circle made only by an import inside a function is found."""
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from a import x\n")
    (tmp_path / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\n")
    known = {"a": tmp_path / "a.py", "b": tmp_path / "b.py", "c": tmp_path / "c.py"}
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert graph["c"] == set()
    assert cycles(graph) == [["a", "b"]]


def test_every_package_says_what_it_holds():
    bare = []
    for top in PACKAGES:
        for init in (ROOT / top).rglob("__init__.py"):
            doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
            if not doc or len(doc) < 40:
                bare.append(str(init.relative_to(ROOT)))
    assert bare == []


# the wings, lowest first: a module may import its own layer and the ones below, never above
LAYERS = {"core": 0, "trading": 1, "risk": 1, "alerts": 1, "strategies": 2, "research": 3, "api": 4, "serve": 5, "ui": 5, "cli": 6}
BROKERS = 0.5  # adapters use the core only; the session (trading) picks one


def layer(name: str) -> float | None:
    parts = name.split(".")
    if parts[0] == "brokers":
        return BROKERS
    if parts[0] != "workstation" or len(parts) == 1:
        return None
    return LAYERS.get(parts[1])  # the plugin API's aliases (workstation.strategy, ...) sit outside the wings


def upward(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for name, deps in graph.items():
        mine = layer(name)
        if mine is None:
            continue
        for dep in deps:
            theirs = layer(dep)
            if theirs is not None and theirs > mine:
                found.append(f"{name} -> {dep}")
    return sorted(found)


def test_layers_import_downward_only():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert upward(graph) == []


def test_the_layer_check_can_fail():
    assert upward({"workstation.core.config": {"workstation.risk.dataquality"}}) == ["workstation.core.config -> workstation.risk.dataquality"]
    assert upward({"workstation.cli.app": {"workstation.core.model"}}) == []


def test_the_plugin_api_keeps_its_documented_paths():
    """Users' plugins import workstation.strategy, .model, .indicators, .execution, .sizing:
    each is the very module that now lives in its wing."""
    import importlib

    for old, new in (
        ("strategy", "strategies.api"), ("model", "core.model"), ("indicators", "core.indicators"),
        ("execution", "strategies.execution"), ("sizing", "strategies.sizing"),
    ):
        assert importlib.import_module(f"workstation.{old}") is importlib.import_module(f"workstation.{new}")
    from workstation.strategy import Context, Param, Strategy  # noqa: F401 (as a plugin writes it)


def test_a_long_module_says_why_it_is_one():
    """Past ~600 lines a module is split, or its docstring says why it stays one."""
    unexplained = []
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            if len(path.read_text(encoding="utf-8").splitlines()) <= 600:
                continue
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            if "Why one module:" not in doc:
                unexplained.append(str(path.relative_to(ROOT)))
    assert unexplained == []
