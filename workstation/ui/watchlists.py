"""Named watchlists, kept in ``<data>/watchlists.json`` between runs (pure: no Textual)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


MAX_BYTES = 1_000_000
"""A watchlists file bigger than this is not read (hundreds of lists fit in a few kilobytes)."""


class BadWatchlists(ValueError):
    """What is wrong with a watchlists file, in one line."""


@dataclass
class Watchlists:
    path: Path
    lists: dict[str, list[str]] = field(default_factory=dict)
    active: str = "default"
    problem: str | None = None
    """One line saying why the file could not be used (the default list was taken instead)."""
    keep_file: bool = False
    """A bad file that could not be moved aside: changes stay in memory, the file is never overwritten."""

    @classmethod
    def load(cls, path: Path, default: list[str]) -> Watchlists:
        """Read the file; a missing one gives a ``default`` list.

        Anything else that cannot be used (not JSON, nested without end, wrong types, a bad
        symbol, too big, binary, empty) also gives the default list, with ``problem`` saying
        why in one line; the file is moved aside to ``watchlists.json.bad``, never overwritten."""
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_BYTES + 1)
        except FileNotFoundError:
            return cls(path=path, lists={"default": list(default)})
        except OSError as exc:
            return cls._bad(path, default, f"cannot be read ({exc.strerror or exc})", move=False)
        try:
            lists, active = _parse(data)
        except BadWatchlists as exc:
            return cls._bad(path, default, str(exc), move=True)
        if not lists:
            lists = {"default": list(default)}
        if active not in lists:
            active = next(iter(lists))
        return cls(path=path, lists=lists, active=active)

    @classmethod
    def _bad(cls, path: Path, default: list[str], why: str, *, move: bool) -> Watchlists:
        kept = path.with_name(path.name + ".bad")
        moved = False
        if move:
            try:
                path.replace(kept)
                moved = True
            except OSError:
                pass
        where = f"moved aside to {kept.name}" if moved else "left as it is and not saved over"
        return cls(path=path, lists={"default": list(default)}, keep_file=not moved,
                   problem=f"watchlists file {path} {why}: using the default list; the file is {where}")

    def save(self) -> None:
        if self.keep_file:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"active": self.active, "lists": self.lists}, indent=2), encoding="utf-8")
        tmp.replace(self.path)

    @property
    def symbols(self) -> list[str]:
        return self.lists[self.active]

    @property
    def names(self) -> list[str]:
        return list(self.lists)

    def add(self, symbol: str) -> bool:
        if symbol in self.symbols:
            return False
        self.symbols.append(symbol)
        self.save()
        return True

    def remove(self, symbol: str) -> bool:
        if symbol not in self.symbols:
            return False
        self.symbols.remove(symbol)
        self.save()
        return True

    def switch(self, name: str) -> None:
        """Make ``name`` the active list (created empty if new)."""
        self.lists.setdefault(name, [])
        self.active = name
        self.save()

    def cycle(self, step: int) -> str:
        names = self.names
        self.active = names[(names.index(self.active) + step) % len(names)]
        self.save()
        return self.active


def _parse(data: bytes) -> tuple[dict[str, list[str]], str]:
    """The lists and the active name in a file's bytes, or BadWatchlists saying what is wrong."""
    if len(data) > MAX_BYTES:
        raise BadWatchlists(f"is larger than {MAX_BYTES:,} bytes")
    if not data.strip():
        raise BadWatchlists("is empty")
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadWatchlists("is not text (UTF-8)") from None
    except RecursionError:
        raise BadWatchlists("is nested too deeply") from None
    except ValueError as exc:
        raise BadWatchlists(f"is not valid JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise BadWatchlists('must be an object like {"active": "default", "lists": {"default": ["AAPL"]}}')
    active, lists = raw.get("active", "default"), raw.get("lists", {})
    if not isinstance(active, str) or not isinstance(lists, dict):
        raise BadWatchlists('must have "active" as text and "lists" as an object of lists of symbols')
    out: dict[str, list[str]] = {}
    for name, symbols in lists.items():
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise BadWatchlists(f"list {name[:40]!r} must be a list of symbols")
        if not _word(name):
            raise BadWatchlists(f"has a list name {name[:40]!r} that is not 1 to 64 printable characters")
        odd = next((s for s in symbols if not _word(s)), None)
        if odd is not None:
            raise BadWatchlists(f"list {name!r} holds {odd[:40]!r}, which is not a symbol")
        out[name] = list(dict.fromkeys(symbols))
    return out, active


def _word(text: str) -> bool:
    return 0 < len(text) <= 64 and text.isprintable() and not text.isspace()
