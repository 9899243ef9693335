"""Cash indices in the one symbol syntax: SPX, NDX and RUT are indices, their options settle in cash."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from workstation.core.model import AssetClass
from workstation.core.symbols import INDICES, cash_settled, parse_symbol


def test_spx_ndx_rut_are_indices_in_any_case_and_spy_stays_an_equity() -> None:
    for text in ("SPX", "spx", " Ndx ", "RUT"):
        inst = parse_symbol(text)
        assert inst.asset_class is AssetClass.INDEX and inst.symbol == text.strip().upper()
    assert parse_symbol("SPY").asset_class is AssetClass.EQUITY
    assert parse_symbol("SPXL").asset_class is AssetClass.EQUITY


def test_index_options_settle_in_cash_and_stock_options_deliver_shares() -> None:
    spx = parse_symbol("SPX-2026-12-18-6000-C")
    assert spx.asset_class is AssetClass.OPTION and spx.underlying == "SPX" and spx.multiplier == 100
    assert cash_settled(spx)
    assert cash_settled(parse_symbol("NDX261218P21000000"))  # the OCC form too
    assert not cash_settled(parse_symbol("AAPL-2026-12-18-200-C"))
    assert not cash_settled(parse_symbol("SPY-2026-12-18-600-P"))
    assert not cash_settled(parse_symbol("SPX"))  # the index itself is not an option


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6))
def test_a_plain_name_is_an_index_exactly_when_it_is_a_known_index(name: str) -> None:
    expected = AssetClass.INDEX if name in INDICES else AssetClass.EQUITY
    assert parse_symbol(name).asset_class is expected
