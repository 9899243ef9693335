"""Named watchlists, kept in ``<data>/watchlists.json`` between runs (pure: no Textual)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Watchlists:
    path: Path
    lists: dict[str, list[str]] = field(default_factory=dict)
    active: str = "default"

    @classmethod
    def load(cls, path: Path, default: list[str]) -> Watchlists:
        """Read the file; a missing or unreadable one gives a ``default`` list."""
        lists: dict[str, list[str]] = {}
        active = "default"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            lists = {str(k): [str(s) for s in v] for k, v in dict(raw.get("lists", {})).items()}
            active = str(raw.get("active", "default"))
        except (OSError, ValueError, TypeError, AttributeError):
            pass
        if not lists:
            lists = {"default": list(default)}
        if active not in lists:
            active = next(iter(lists))
        return cls(path=path, lists=lists, active=active)

    def save(self) -> None:
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
