"""The position heatmap (``workstation.ui.heatmap.Heatmap``) on a tiny App hosting only it:
tiles with symbols and signed day P&L %, grouped by sector with the sector's name shown,
keyboard navigation to the geometric neighbour (``selected`` and ``Heatmap.Selected``), the
selection kept across a refresh, the empty state, labels that read without colour, and a
book of 200 positions at 160x45 (its speed: bench/bench_heatmap.py)."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from workstation.risk.report_doc import HeatTile
from workstation.ui.heatmap import Heatmap, band, compact_money, tile_lines


def tile(symbol: str, sector: str, exposure: float, pct: float | None, asset_class: str = "equity") -> HeatTile:
    return HeatTile(symbol=symbol, sector=sector, asset_class=asset_class, exposure=exposure, day_pnl_pct=pct)


# three sectors, twelve positions, gains and losses, one short (TSLA), one without a close (PLTR)
TILES = [
    tile("AAPL", "Technology", 52_000.0, 1.24),
    tile("MSFT", "Technology", 41_000.0, -0.62),
    tile("NVDA", "Technology", 30_500.0, 3.4),
    tile("GOOGL", "Technology", 12_000.0, 0.1),
    tile("PLTR", "Technology", 6_200.0, None),
    tile("JPM", "Financials", 28_000.0, -2.7),
    tile("BAC", "Financials", 9_800.0, 0.8),
    tile("GS", "Financials", 7_400.0, -1.1),
    tile("TSLA", "Consumer Discretionary", -22_000.0, 2.3),
    tile("AMZN", "Consumer Discretionary", 19_000.0, -0.2),
    tile("HD", "Consumer Discretionary", 8_100.0, 0.6),
    tile("NKE", "Consumer Discretionary", 4_300.0, -3.9),
]


class HeatmapApp(App):
    def __init__(self, tiles: list[HeatTile] | None = None) -> None:
        super().__init__()
        self.tiles = TILES if tiles is None else tiles
        self.selections: list[str] = []

    def compose(self) -> ComposeResult:
        yield Heatmap(id="heatmap")

    def on_mount(self) -> None:
        self.query_one(Heatmap).show(self.tiles, "USD")

    def on_heatmap_selected(self, message: Heatmap.Selected) -> None:
        self.selections.append(message.symbol)


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.pause()


def screen_text(app: App) -> str:
    heatmap = app.query_one(Heatmap)
    return "\n".join(heatmap.render_line(y).text for y in range(heatmap.size.height))


SIZES = [(80, 24), (160, 45)]


@pytest.mark.parametrize("size", SIZES)
async def test_every_position_shows_its_symbol_and_signed_day_pnl(size) -> None:
    app = HeatmapApp()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        text = screen_text(app)
        for symbol, pct in [("AAPL", "+1.2%"), ("MSFT", "-0.6%"), ("NVDA", "+3.4%"), ("JPM", "-2.7%")]:
            assert symbol in text and pct in text
        assert "-TSLA" in text  # the short, marked in its label
        assert "PLTR" in text and "—" in text  # no previous close: a dash, not a number
        for sector in ("Technology", "Financials"):
            assert sector in text
        assert "$52.0k" in text  # the largest tile has room for its exposure


async def test_arrows_move_to_the_geometric_neighbour_and_post_selected() -> None:
    app = HeatmapApp()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        heatmap = app.query_one(Heatmap)
        assert heatmap.selected == "AAPL"  # the largest position is selected first
        cells = {c.symbol: c for c in heatmap._laid_out() if c.symbol}
        start = cells["AAPL"]
        await pilot.press("right")
        await settle(pilot)
        moved = cells[heatmap.selected]
        assert moved.x >= start.x + start.w  # to the right of AAPL's tile
        assert moved.y < start.y + start.h and start.y < moved.y + moved.h  # on the same rows
        assert app.selections[-1] == heatmap.selected
        await pilot.press("h")  # and back to the left
        await settle(pilot)
        assert heatmap.selected == "AAPL"
        await pilot.press("end")
        await settle(pilot)
        assert heatmap.selected == heatmap.symbols[-1] != "AAPL"
        await pilot.press("home")
        await settle(pilot)
        assert heatmap.selected == "AAPL"
        assert app.selections[-3:] == ["AAPL", heatmap.symbols[-1], "AAPL"]


async def test_a_click_selects_the_tile_under_the_pointer() -> None:
    app = HeatmapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        heatmap = app.query_one(Heatmap)
        jpm = next(c for c in heatmap._laid_out() if c.symbol == "JPM")
        await pilot.click(Heatmap, offset=(jpm.x + 1, jpm.y + jpm.h - 1))
        await settle(pilot)
        assert heatmap.selected == "JPM" and app.selections[-1] == "JPM"


@pytest.mark.parametrize("size", SIZES)
async def test_every_direction_key_reaches_a_tile_on_that_side(size) -> None:
    app = HeatmapApp()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        heatmap = app.query_one(Heatmap)
        for key, vim, side in [("down", "j", "below"), ("up", "k", "above"), ("right", "l", "right"), ("left", "h", "left")]:
            for press in (key, vim):
                cells = {c.symbol: c for c in heatmap._laid_out() if c.symbol}
                before = cells[heatmap.selected]
                await pilot.press(press)
                await settle(pilot)
                after = cells[heatmap.selected]
                if after is before:
                    continue  # nothing on that side
                if side == "below":
                    assert after.y >= before.y + before.h
                elif side == "above":
                    assert after.y + after.h <= before.y
                elif side == "right":
                    assert after.x >= before.x + before.w
                else:
                    assert after.x + after.w <= before.x
        assert len(set(app.selections)) >= 3  # the keys did move the cursor around


async def test_the_selection_survives_a_refresh_with_new_figures() -> None:
    app = HeatmapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        heatmap = app.query_one(Heatmap)
        await pilot.press("right")
        await settle(pilot)
        chosen = heatmap.selected
        assert chosen != "AAPL"
        fresh = [tile(t.symbol, t.sector, t.exposure * 1.5 if t.symbol == "NKE" else t.exposure, (t.day_pnl_pct or 0) - 5) for t in TILES]
        heatmap.show(fresh, "USD")
        await settle(pilot)
        assert heatmap.selected == chosen
        assert "-3.8%" in screen_text(app)  # AAPL's new figure is drawn (1.24 - 5)
        # the selected position is sold: the cursor goes to the largest tile left
        heatmap.show([t for t in fresh if t.symbol != chosen], "USD")
        await settle(pilot)
        assert heatmap.selected == "AAPL"
        assert chosen not in screen_text(app).split()


async def test_no_positions_is_one_quiet_line() -> None:
    app = HeatmapApp(tiles=[])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        heatmap = app.query_one(Heatmap)
        assert heatmap.selected is None
        lines = [line for line in screen_text(app).splitlines() if line.strip()]
        assert [line.strip() for line in lines] == ["no positions"]
        await pilot.press("right", "end")  # keys on an empty map do nothing (and raise nothing)
        await settle(pilot)
        assert heatmap.selected is None
        heatmap.show(TILES, "USD")
        await settle(pilot)
        assert heatmap.selected == "AAPL"


async def test_figures_the_model_could_not_measure_change_nothing_else() -> None:
    odd = TILES + [tile("NAN", "Technology", float("nan"), 1.0), tile("INF", "Technology", float("inf"), 1.0),
                   tile("FLAT", "Technology", 0.0, 1.0), tile("QQQ", "Technology", 9_000.0, float("nan"))]
    app = HeatmapApp(tiles=odd)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        heatmap = app.query_one(Heatmap)
        text = screen_text(app)
        assert "AAPL" in text and "QQQ" in text and "nan%" not in text and "inf" not in text
        assert not {"NAN", "INF", "FLAT"} & set(heatmap.symbols)


async def test_small_positions_fold_into_a_more_tile_rather_than_vanish() -> None:
    many = [tile("BIG", "Technology", 1_000_000.0, 1.0)] + [tile(f"S{i:02d}", "Technology", 1_000.0, -1.0) for i in range(40)]
    app = HeatmapApp(tiles=many)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        heatmap = app.query_one(Heatmap)
        shown = set(heatmap.symbols)
        assert "BIG" in shown
        hidden = 41 - len(shown)
        assert hidden > 0
        assert f"+{hidden} more" in screen_text(app) or f"+{hidden}" in screen_text(app)


def test_labels_read_without_colour() -> None:
    """In 16 colours (or none) the sign, the short mark and the dash carry the meaning."""
    up, down, short, unknown = (tile("AAPL", "T", 12_345.0, 1.25), tile("MSFT", "T", 1e6, -2.5),
                                tile("TSLA", "T", -9_000.0, 0.0), tile("PLTR", "T", 500.0, None))
    assert tile_lines(up, 0, 20, 1, "USD") == ["AAPL +1.2% $12.3k"]
    assert tile_lines(down, 0, 12, 3, "USD") == ["MSFT", "-2.5%", "$1.0M"]
    assert tile_lines(short, 0, 20, 2, "USD") == ["-TSLA", "+0.0% $9.0k"]
    assert tile_lines(unknown, 0, 4, 1, "USD") == ["PLTR"]  # a short tile: the symbol first
    assert tile_lines(unknown, 0, 9, 1, "USD") == ["PLTR —"]
    assert tile_lines(None, 7, 9, 1, "USD") == ["+7 more"] and tile_lines(None, 7, 3, 1, "USD") == ["+7"]
    assert [band(p) for p in (-3.0, -1.0, -0.2, 0.0, 0.5, 1.0, 2.5, None)] == [0, 1, 2, 2, 2, 3, 4, None]
    assert band(float("nan")) is None and tile_lines(tile("X", "T", 1.0, float("nan")), 0, 9, 1, "USD") == ["X — $1"]
    assert compact_money(-950.0, "EUR") == "€950" and compact_money(2.5e9, "CHF") == "2.5B CHF"


async def test_the_colours_are_the_theme_pairs_kept_readable_in_16_colours() -> None:
    app = HeatmapApp()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        heatmap = app.query_one(Heatmap)
        styles = {}
        for y in range(heatmap.size.height):
            for seg in heatmap.render_line(y):
                for symbol in ("NVDA", "JPM", "BAC", "GS", "GOOGL"):
                    if seg.text.startswith(symbol):
                        styles[symbol] = seg.style
        from themes import DEFAULT, load_themes

        p = load_themes()[DEFAULT].palette
        assert styles["NVDA"].bgcolor.name == p.flash_up and styles["NVDA"].bold  # above +2%: strong
        assert styles["JPM"].bgcolor.name == p.flash_down and styles["JPM"].bold  # below -2%
        assert styles["BAC"].color.name == p.up  # +0.8%: the up text colour
        assert styles["GS"].color.name == p.down  # -1.1%
        assert styles["GOOGL"].color is None or styles["GOOGL"].color.name not in (p.up, p.down)  # flat
        cursor = [seg.style for seg in heatmap.render_line(1) if seg.text.startswith("AAPL")][0]
        assert cursor.reverse and cursor.bold  # the cursor shows in monochrome too


async def test_200_positions_at_160x45_show_most_of_them_and_move_the_cursor() -> None:
    """A big book still reads: most positions get a tile of their own and the cursor moves
    between them (speed: bench/bench_heatmap.py)."""
    sectors = ["Technology", "Financials", "Energy", "Health Care", "Industrials", "Utilities", "Materials", "Real Estate"]
    many = [tile(f"S{i:03d}", sectors[i % len(sectors)], (1 + (i * 7919) % 97) * 1_000.0 * (-1 if i % 11 == 0 else 1),
                 ((i * 37) % 90 - 45) / 10) for i in range(200)]
    app = HeatmapApp(tiles=many)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        heatmap = app.query_one(Heatmap)
        assert len(heatmap.symbols) > 100
        first = heatmap.selected
        heatmap.action_move("right")
        await settle(pilot)
        assert heatmap.selected not in (None, first)
