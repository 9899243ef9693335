from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workstation.core.model import (
    TRANSITIONS,
    AssetClass,
    IllegalTransition,
    ModelError,
    OrderStatus,
    check_transition,
    plain,
)
from workstation.core.symbols import occ_symbol, parse_symbol, split_symbols


@pytest.mark.parametrize(
    "text,canonical,asset",
    [
        ("AAPL", "AAPL", AssetClass.EQUITY),
        ("aapl", "AAPL", AssetClass.EQUITY),
        ("brk.b", "BRK.B", AssetClass.EQUITY),
        ("BTC/USD", "BTC/USD", AssetClass.CRYPTO),
        ("eth/usdt", "ETH/USDT", AssetClass.CRYPTO),
        ("EUR/USD", "EUR/USD", AssetClass.FOREX),
        ("usd/jpy", "USD/JPY", AssetClass.FOREX),
        ("ES-2026-12", "ES-2026-12", AssetClass.FUTURE),
        ("AAPL-2026-12-18-200-C", "AAPL-2026-12-18-200-C", AssetClass.OPTION),
        ("AAPL261218C00200000", "AAPL-2026-12-18-200-C", AssetClass.OPTION),
        ("spy261218p00412500", "SPY-2026-12-18-412.5-P", AssetClass.OPTION),
    ],
)
def test_symbol_syntax(text, canonical, asset):
    inst = parse_symbol(text)
    assert inst.symbol == canonical
    assert inst.asset_class is asset


def test_instrument_details():
    es = parse_symbol("ES-2026-12")
    assert es.multiplier == 50 and es.tick_size == Decimal("0.25")
    assert str(es.expiry) == "2026-12-18"
    opt = parse_symbol("AAPL-2026-12-18-200-C")
    assert opt.multiplier == 100 and opt.strike == 200 and opt.underlying == "AAPL"
    assert occ_symbol(opt) == "AAPL261218C00200000"
    assert parse_symbol("USD/JPY").tick_size == Decimal("0.001")
    assert parse_symbol("BTC/USD").lot_size == Decimal("0.0001")


@pytest.mark.parametrize("bad", ["", "AA PL", "1ABC", "BTC/", "ES-2026-13", "AAPL-2026-02-30-200-C", "$$$", "EUR/EUR"])
def test_malformed_symbols(bad):
    with pytest.raises(ModelError):
        parse_symbol(bad)


def test_split_symbols_forms():
    assert split_symbols(["AAPL TSLA"]) == ["AAPL", "TSLA"]
    assert split_symbols(["aapl,tsla", "msft"]) == ["AAPL", "TSLA", "MSFT"]
    assert split_symbols(["AAPL", "aapl"]) == ["AAPL"]


def test_tick_and_lot_checks():
    aapl = parse_symbol("AAPL")
    assert aapl.check_price("185.50") == Decimal("185.50")
    with pytest.raises(ModelError, match="off the 0.01 tick"):
        aapl.check_price("185.503", "limit price")
    with pytest.raises(ModelError, match="positive whole number"):
        aapl.check_qty("1.5")
    with pytest.raises(ModelError, match="positive"):
        aapl.check_qty("-5")
    with pytest.raises(ModelError, match="number"):
        aapl.check_qty("ten")
    assert aapl.round_qty(Decimal("54.9")) == 54
    es = parse_symbol("ES-2026-12")
    with pytest.raises(ModelError, match="0.25 tick"):
        es.check_price("6000.10")


def test_plain_never_uses_exponents():
    assert plain(Decimal("1.2E+2")) == "120"
    assert plain(Decimal("185.500")) == "185.5"
    assert plain(Decimal("0.00001")) == "0.00001"
    assert plain(Decimal("0E-8")) == "0"


ALL = list(OrderStatus)


@pytest.mark.parametrize("old", ALL)
@pytest.mark.parametrize("new", ALL)
def test_state_machine_every_transition(old, new):
    if new in TRANSITIONS[old]:
        check_transition(old, new)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(old, new)


def test_terminal_states_are_final():
    for s in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED):
        assert s.is_terminal and not TRANSITIONS[s]


@given(st.text(max_size=30))
def test_symbol_parser_only_raises_model_error(text):
    try:
        parse_symbol(text)
    except ModelError:
        pass


def test_a_memo_forgets_everything_at_once_when_full() -> None:
    from workstation.core.memo import Memo

    memo = Memo(3)
    for k in range(3):
        assert memo.keep(k, str(k)) == str(k)
    assert memo.get(2) == "2" and len(memo) == 3
    assert memo.keep(3, "3") == "3"  # the fourth: the first three are forgotten
    assert dict(memo) == {3: "3"}
