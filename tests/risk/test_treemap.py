"""The heatmap's treemap layout (``workstation.risk.treemap``), by property: tiles never
overlap and cover the grid (with the groups' header rows), every key has a tile or is counted
in a "+N more" tile, areas follow the weights within the rounding bound below, the order is
by weight, the same input (in any order) gives the same layout.

The rounding bound: every edge is a rounded cumulative share, so a group's area is within
``w + h + 1`` cells of its exact share of the grid (``w``, ``h``: its own size), and a tile's
area within ``w + h + 1`` cells of its exact share of its group's body (when nothing in the
group was folded into "+N more", which takes room for its label from the others).
"""

from __future__ import annotations


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.risk.treemap import MORE_GROUP, layout

weights = st.one_of(st.floats(min_value=0.01, max_value=1e6), st.integers(min_value=1, max_value=100).map(float))


@st.composite
def books(draw):
    """(groups, width, height, min_w, min_h, header): up to 8 sectors of up to 30 keys each."""
    n_groups = draw(st.integers(min_value=1, max_value=8))
    groups: dict[str, list[tuple[str, float]]] = {}
    k = 0
    for g in range(n_groups):
        pairs = []
        for _ in range(draw(st.integers(min_value=1, max_value=30))):
            k += 1
            pairs.append((f"K{k}", draw(weights)))
        groups[f"Sector {g}"] = pairs
    width = draw(st.integers(min_value=1, max_value=200))
    height = draw(st.integers(min_value=1, max_value=60))
    return groups, width, height, draw(st.integers(1, 6)), draw(st.integers(1, 2)), draw(st.booleans())


@st.composite
def roomy_books(draw):
    """Books with room for every key (few keys, a big grid): nothing folds, every area counts."""
    n_groups = draw(st.integers(min_value=1, max_value=4))
    groups = {f"Sector {g}": [(f"K{g}_{i}", draw(st.floats(min_value=1.0, max_value=100.0)))
                              for i in range(draw(st.integers(min_value=1, max_value=6)))] for g in range(n_groups)}
    return groups, draw(st.integers(60, 200)), draw(st.integers(20, 60)), 1, 1, draw(st.booleans())


def run(book):
    groups, width, height, min_w, min_h, header = book
    return layout(groups, width, height, min_w=min_w, min_h=min_h, header=header)


@settings(max_examples=100, deadline=None)
@given(books())
def test_tiles_and_headers_cover_every_cell_exactly_once(book) -> None:
    out = run(book)
    _, width, height, *_ = book
    grid = [[0] * width for _ in range(height)]
    for g in out.groups:
        if g.header:
            for x in range(g.x, g.x + g.w):
                grid[g.y][x] += 1
    for t in out.tiles:
        assert t.w >= 0 and t.h >= 0 and 0 <= t.x and t.x + t.w <= width and 0 <= t.y and t.y + t.h <= height
        for y in range(t.y, t.y + t.h):
            for x in range(t.x, t.x + t.w):
                grid[y][x] += 1
    assert all(cell == 1 for row in grid for cell in row)


@settings(max_examples=100, deadline=None)
@given(books())
def test_every_key_has_a_tile_or_is_counted_in_a_more_tile(book) -> None:
    out = run(book)
    groups = book[0]
    keys = [k for pairs in groups.values() for k, _ in pairs]
    placed = [t.key for t in out.tiles if t.key is not None]
    hidden = [k for t in out.tiles if t.key is None for k in t.hidden]
    assert sorted(placed + hidden) == sorted(keys)  # each exactly once
    assert all(t.hidden for t in out.tiles if t.key is None)  # a "+N more" tile stands for N >= 1
    for t in out.tiles:  # a key stays in its own sector (or in the last "+N more" group)
        if t.key is not None:
            assert t.key in dict(groups[t.group])
        elif t.group != MORE_GROUP:
            assert set(t.hidden) <= set(dict(groups[t.group]))


@settings(max_examples=100, deadline=None)
@given(books())
def test_tiles_are_big_enough_to_label_unless_alone(book) -> None:
    out = run(book)
    _, _, _, min_w, min_h, _ = book
    for g in out.groups:
        tiles = [t for t in out.tiles if t.group == g.name]
        if len(tiles) > 1:
            assert all(t.w >= min_w and t.h >= min_h for t in tiles)


@settings(max_examples=150, deadline=None)
@given(st.one_of(books(), roomy_books()))
def test_areas_follow_the_weights_within_rounding(book) -> None:
    groups, width, height, *_ = book
    out = run(book)
    total = sum(wt for pairs in groups.values() for _, wt in pairs)
    if any(g.name == MORE_GROUP for g in out.groups):
        return  # groups were folded: the "+N more" group took room for its label
    for g in out.groups:
        assert g.weight == pytest.approx(sum(wt for _, wt in groups[g.name]))
        exact = g.weight / total * width * height
        assert abs(g.w * g.h - exact) <= g.w + g.h + 1, (g, exact)
        tiles = [t for t in out.tiles if t.group == g.name]
        if any(t.key is None for t in tiles):
            continue
        body = g.w * (g.h - (1 if g.header else 0))
        for t in tiles:
            exact = t.weight / g.weight * body
            assert abs(t.cells - exact) <= t.w + t.h + 1, (t, exact)


@settings(max_examples=100, deadline=None)
@given(books(), st.randoms(use_true_random=False))
def test_the_same_book_in_any_order_gives_the_same_layout(book, rnd) -> None:
    groups, width, height, min_w, min_h, header = book
    first = run(book)
    assert run(book) == first
    names = list(groups)
    rnd.shuffle(names)
    shuffled = {}
    for name in names:
        pairs = list(groups[name])
        rnd.shuffle(pairs)
        shuffled[name] = pairs
    assert layout(shuffled, width, height, min_w=min_w, min_h=min_h, header=header) == first


@settings(max_examples=100, deadline=None)
@given(books())
def test_largest_sector_first_and_largest_key_first(book) -> None:
    out = run(book)
    named = [g for g in out.groups if g.name != MORE_GROUP]
    assert [g.weight for g in named] == sorted((g.weight for g in named), reverse=True)
    assert all(g.name == MORE_GROUP for g in out.groups[len(named):])  # the folded groups come last
    for g in named:
        tiles = [t for t in out.tiles if t.group == g.name]
        keyed = [t for t in tiles if t.key is not None]
        assert [t.weight for t in keyed] == sorted((t.weight for t in keyed), reverse=True)
        assert all(t.key is None for t in tiles[len(keyed):])  # "+N more" last
        if keyed:
            smallest = min(t.weight for t in keyed)
            assert all(wt <= smallest for t in tiles if t.key is None for wt in [dict(book[0][g.name])[k] for k in t.hidden])


def test_a_small_sector_keeps_its_largest_key_and_folds_the_rest() -> None:
    groups = {"Technology": [("AAPL", 50.0), ("MSFT", 40.0), ("NVDA", 30.0), ("GOOGL", 10.0)],
              "Financials": [("JPM", 30.0), ("BAC", 5.0)], "Energy": [("XOM", 8.0), ("CVX", 1.0)]}
    out = layout(groups, 80, 20)
    assert [g.name for g in out.groups] == ["Technology", "Financials", "Energy"]
    assert all(g.header for g in out.groups)
    energy = [t for t in out.tiles if t.group == "Energy"]
    assert [t.key for t in energy] == ["XOM", None] and energy[1].hidden == ("CVX",)
    assert {t.key for t in out.tiles} >= {"AAPL", "MSFT", "NVDA", "GOOGL", "JPM", "BAC"}


def test_sectors_with_no_room_become_one_more_tile() -> None:
    groups = {"Big": [("A", 1000.0)]} | {f"Tiny {i}": [(f"T{i}", 1.0)] for i in range(5)}
    out = layout(groups, 20, 4)
    assert out.groups[0].name == "Big"
    more = [t for t in out.tiles if t.group == MORE_GROUP]
    assert len(more) == 1 and sorted(more[0].hidden) == [f"T{i}" for i in range(5)]
    assert out.groups[-1].hidden_groups == tuple(f"Tiny {i}" for i in range(5))


def test_bad_input_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="positive"):
        layout({"A": [("X", 0.0)]}, 10, 10)
    with pytest.raises(ValueError, match="finite"):
        layout({"A": [("X", float("inf"))]}, 10, 10)
    with pytest.raises(ValueError, match="twice"):
        layout({"A": [("X", 1.0)], "B": [("X", 2.0)]}, 10, 10)
    assert layout({}, 10, 10).tiles == ()
    assert layout({"A": [("X", 1.0)]}, 0, 10).tiles == ()
