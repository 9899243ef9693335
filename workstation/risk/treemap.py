"""A squarified treemap on a character grid: groups of weighted keys laid out as whole cells.

``layout(groups, width, height)`` places each group (a sector) in a rectangle whose area is
its share of the total weight, then each key of the group in a tile of the group's body
whose area is its share of the group (the squarified rows of Bruls, Huizing and van Wijk,
with a cell counted twice as tall as wide so tiles look square on a terminal). Every
coordinate is a whole cell, chosen by rounding cumulative shares, so tiles never overlap and
cover the grid exactly: every cell belongs to one tile or to one group's header row.

Tiles smaller than ``min_w`` x ``min_h`` cannot show a label: the smallest keys of the group
are folded into one "+N more" tile (``Tile.key is None``, ``Tile.hidden`` the keys), and
groups too small for even one tile are folded into one last "+N more" group. No key is
dropped silently. Groups come by total weight (largest first), keys by weight; ties by
name, so the same input always gives the same layout.

Pure Python, no Textual (the Risk screen's heatmap and any other face use it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ASPECT", "Group", "Layout", "MORE_GROUP", "Tile", "layout"]

ASPECT = 2.0  # a character cell is about twice as tall as it is wide
MORE_GROUP = ""  # the name of the group that holds groups too small to show


@dataclass(frozen=True, slots=True)
class Tile:
    key: str | None  # None: a "+N more" tile standing for ``hidden``
    group: str
    x: int
    y: int
    w: int
    h: int
    weight: float
    hidden: tuple[str, ...] = ()  # the keys a "+N more" tile stands for

    @property
    def cells(self) -> int:
        return self.w * self.h


@dataclass(frozen=True, slots=True)
class Group:
    name: str  # MORE_GROUP: the groups too small to show, as one "+N more" tile
    x: int
    y: int
    w: int
    h: int
    weight: float
    header: bool  # the group's first row is its header (its name); tiles fill the rest
    hidden_groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Layout:
    width: int
    height: int
    groups: tuple[Group, ...]
    tiles: tuple[Tile, ...]


_Item = tuple[str | None, float, tuple[str, ...]]  # key, weight, the keys it stands for


def _split(length: int, weights: Sequence[float]) -> list[int]:
    """Cut ``length`` cells into parts in proportion to ``weights`` (cumulative rounding: the
    parts add up exactly and each is within one cell of its share)."""
    total = sum(weights)
    edges, run = [0], 0.0
    for wt in weights:
        run += wt
        edges.append(round(length * run / total) if total > 0 else 0)
    edges[-1] = length
    return [b - a for a, b in zip(edges, edges[1:])]


def _worst(row_max: float, row_min: float, row_sum: float, side: float) -> float:
    """The worst aspect ratio of a row of areas laid along ``side`` (visual units)."""
    s2, l2 = row_sum * row_sum, side * side
    return max(l2 * row_max / s2, s2 / (l2 * row_min))


def _squarify(items: Sequence[_Item], x: int, y: int, w: int, h: int) -> list[tuple[_Item, int, int, int, int]]:
    """Each item's whole-cell rectangle in (x, y, w, h), in squarified rows; the rectangles
    partition the area exactly (an item may get zero cells when it is tiny)."""
    out: list[tuple[_Item, int, int, int, int]] = []
    rest = list(items)
    remaining = sum(it[1] for it in rest)
    while rest:
        if w <= 0 or h <= 0:
            out.extend((it, x, y, 0, 0) for it in rest)
            break
        vis_w, vis_h = float(w), h * ASPECT
        scale = vis_w * vis_h / remaining if remaining > 0 else 0.0
        wide = vis_w >= vis_h  # a wide space takes a column of tiles on its left, a tall one a row on top
        side = vis_h if wide else vis_w
        n, row_sum, best = 1, rest[0][1] * scale, float("inf")
        if scale > 0:
            best = _worst(rest[0][1] * scale, rest[0][1] * scale, row_sum, side)
            while n < len(rest):
                a = rest[n][1] * scale
                candidate = _worst(rest[0][1] * scale, a, row_sum + a, side)
                if candidate > best:
                    break
                best, row_sum, n = candidate, row_sum + a, n + 1
        row, rest = rest[:n], rest[n:]
        row_weight = sum(it[1] for it in row)
        share = row_weight / remaining if remaining > 0 else 1.0
        remaining -= row_weight
        if wide:
            t = w if not rest else min(w, max(1, round(w * share)))
            parts = _split(h, [i[1] for i in row])
            for it, part, offset in zip(row, parts, _offsets(parts)):
                out.append((it, x, y + offset, t, part))
            x, w = x + t, w - t
        else:
            t = h if not rest else min(h, max(1, round(h * share)))
            parts = _split(w, [i[1] for i in row])
            for it, part, offset in zip(row, parts, _offsets(parts)):
                out.append((it, x + offset, y, part, t))
            y, h = y + t, h - t
    return out


def _offsets(parts: Sequence[int]) -> list[int]:
    out, run = [], 0
    for p in parts:
        out.append(run)
        run += p
    return out


def _fit(items: Sequence[_Item], x: int, y: int, w: int, h: int, min_w: int, min_h: int) -> list[tuple[_Item, int, int, int, int]]:
    """``items`` (largest first) laid out with the smallest folded into one "+N more" item
    until every rectangle is at least ``min_w`` x ``min_h`` (one item always fits: it takes
    the whole space)."""
    n = len(items)
    total = sum(it[1] for it in items)
    most = max(1, (w * h) // max(1, min_w * min_h))
    keep = min(n, most)
    while True:
        shown = list(items[:keep])
        if keep < n:
            tail = items[keep:]
            hidden = tuple(k for it in tail for k in it[2])
            # room for its label: at least twice the smallest tile's share of the space
            cells = max(2 * min_w * min_h, min((min_w + 1) * h, w * (min_h + 1)))
            room = total * cells / max(1, w * h)
            shown.append((None, max(sum(it[1] for it in tail), room), hidden))
        placed = _squarify(shown, x, y, w, h)
        if len(placed) == 1 or all(pw >= min_w and ph >= min_h for _, _, _, pw, ph in placed):
            return placed
        # fold at least the one that failed (and everything smaller) into the "+N more" tile
        small = [i for i, (_, _, _, pw, ph) in enumerate(placed) if pw < min_w or ph < min_h]
        first_small = min(small)
        keep = min(keep - 1, first_small) if first_small < keep else keep - 1
        keep = max(keep, 0)


def _sorted(pairs: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    return sorted(((k, float(wt)) for k, wt in pairs), key=lambda p: (-p[1], p[0]))


def layout(
    groups: Mapping[str, Sequence[tuple[str, float]]], width: int, height: int, *,
    min_w: int = 4, min_h: int = 1, header: bool = True,
) -> Layout:
    """The treemap of ``groups`` (name -> [(key, weight > 0)]) on ``width`` x ``height`` cells.

    Each group with room for it (at least ``min_h + 1`` rows) has a header row (``header``);
    keys whose tile would be under ``min_w`` x ``min_h`` become their group's "+N more" tile,
    groups with no room for one tile join a last "+N more" group. Rounding: every edge is a
    rounded cumulative share, so a tile's (and a group's) area is within about one row and one
    column of its exact share (tests/risk/test_treemap.py states the bound it checks).
    ValueError for a weight that is not positive or a key given twice."""
    seen: set[str] = set()
    members: dict[str, list[tuple[str, float]]] = {}
    for name, pairs in groups.items():
        for key, wt in pairs:
            if not (wt > 0 and math.isfinite(wt)):
                raise ValueError(f"the weight of {key} must be positive and finite, got {wt}")
            if key in seen:
                raise ValueError(f"{key} is given twice")
            seen.add(key)
        if pairs:
            members[name] = _sorted(pairs)
    if width <= 0 or height <= 0 or not members:
        return Layout(width=max(0, width), height=max(0, height), groups=(), tiles=())
    order = sorted(members, key=lambda g: (-sum(wt for _, wt in members[g]), g))
    group_items: list[_Item] = [(g, sum(wt for _, wt in members[g]), (g,)) for g in order]
    need_h = min_h + (1 if header else 0)
    placed = _fit(group_items, 0, 0, width, height, min_w, need_h)
    out_groups: list[Group] = []
    tiles: list[Tile] = []
    for (name, weight, names), gx, gy, gw, gh in placed:
        if name is None:  # the groups too small to show: one "+N more" tile
            hidden = tuple(k for g in names for k, _ in members[g])
            weight = sum(wt for g in names for _, wt in members[g])
            out_groups.append(Group(name=MORE_GROUP, x=gx, y=gy, w=gw, h=gh, weight=weight, header=False, hidden_groups=names))
            tiles.append(Tile(key=None, group=MORE_GROUP, x=gx, y=gy, w=gw, h=gh, weight=weight, hidden=hidden))
            continue
        has_header = header and gh >= need_h
        top = 1 if has_header else 0
        out_groups.append(Group(name=name, x=gx, y=gy, w=gw, h=gh, weight=weight, header=has_header))
        items: list[_Item] = [(k, wt, (k,)) for k, wt in members[name]]
        weights = dict(members[name])
        for (key, wt, hidden), tx, ty, tw, th in _fit(items, gx, gy + top, gw, gh - top, min_w, min_h):
            real = wt if key is not None else sum(weights[k] for k in hidden)
            tiles.append(Tile(key=key, group=name, x=tx, y=ty, w=tw, h=th, weight=real, hidden=hidden if key is None else ()))
    return Layout(width=width, height=height, groups=tuple(out_groups), tiles=tuple(tiles))
