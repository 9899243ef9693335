"""Futures on margin in the books: a contract ties up its initial margin, not its notional;
the account shows initial and maintenance margin and excess liquidity; a profile overrides
the contract table in its settings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.core.config import ConfigError, FutureMargin, load_settings
from workstation.core.model import Fill, Side
from workstation.core.symbols import parse_symbol
from workstation.trading.margin import MarginTable
from workstation.trading.portfolio import Portfolio

ES = "ES-2026-12"


def make(cash="100000", margin=True, table: MarginTable | None = None) -> Portfolio:
    return Portfolio(initial_cash=Decimal(cash), instrument=parse_symbol, margin=margin, margins=table)


def fill(sym, side, qty, price, n=[0]):
    n[0] += 1
    return Fill(exec_id=f"m{n[0]}", order_id="1", symbol=sym, side=Side(side), qty=Decimal(qty), price=Decimal(price))


def test_the_contract_table_and_an_unlisted_root():
    table = MarginTable()
    es = table.per_contract(parse_symbol(ES), Decimal(6000))
    assert (es.initial, es.maintenance, es.source) == (Decimal(15_000), Decimal(13_500), "table")
    mes = table.per_contract(parse_symbol("MES-2026-12"), Decimal(6000))
    assert (mes.initial, mes.maintenance) == (es.initial / 10, es.maintenance / 10)  # a micro is a tenth
    # a root the table does not list: 10% / 9% of one contract's notional (multiplier 1 at 250.00)
    odd = table.per_contract(parse_symbol("ZZ-2026-12"), Decimal("250.00"))
    assert (odd.initial, odd.maintenance, odd.source) == (Decimal(25), Decimal("22.5"), "% of notional")


def test_a_profiles_figures_replace_the_tables():
    table = MarginTable({"ES": FutureMargin(initial=Decimal(16_000), maintenance=Decimal(14_500))})
    assert table.initial(parse_symbol(ES), Decimal(-3), Decimal(6000)) == Decimal(48_000)
    assert table.maintenance(parse_symbol(ES), Decimal(3), None) == Decimal(43_500)
    assert table.per_contract(parse_symbol("NQ-2026-12"), None).initial == Decimal(23_000)  # the rest: the table's


def test_one_es_uses_its_margin_of_the_buying_power_not_its_notional():
    p = make()
    assert p.buying_power() == Decimal(200_000)
    p.apply_fill(fill(ES, "buy", "1", "6000.00"))  # $300,000 of notional
    p.mark(ES, 6000.0)
    assert p.buying_power() == Decimal(200_000 - 15_000)
    acct = p.account()
    assert acct.buying_power == Decimal(185_000)
    assert (acct.initial_margin, acct.maintenance_margin) == (Decimal(15_000), Decimal(13_500))
    assert acct.excess_liquidity == Decimal(100_000 - 13_500)
    p.mark(ES, 5990.0)  # -10 points: -$500 of equity, -$1,000 of buying power at 2x
    assert p.account().excess_liquidity == Decimal(99_500 - 13_500)
    assert p.buying_power() == Decimal(199_000 - 15_000)


def test_equities_beside_futures_still_use_their_notional():
    p = make()
    p.apply_fill(fill("AAPL", "buy", "100", "200.00"))
    p.apply_fill(fill(ES, "sell", "2", "6000.00"))  # short: margin all the same
    p.mark("AAPL", 200.0)
    p.mark(ES, 6000.0)
    assert p.buying_power() == Decimal(200_000 - 20_000 - 30_000)
    assert p.gross_exposure() == Decimal(20_000 + 600_000)  # exposure is still the whole notional


def test_a_cash_account_keeps_its_margin_out_of_its_cash():
    p = make(margin=False)
    p.apply_fill(fill(ES, "buy", "1", "6000.00"))
    assert p.buying_power() == Decimal(100_000 - 15_000)


def test_without_futures_the_paper_account_shows_no_margin_figures():
    p = make()
    p.apply_fill(fill("AAPL", "buy", "100", "200.00"))
    acct = p.account()
    assert acct.initial_margin is None and acct.maintenance_margin is None and acct.excess_liquidity is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["ES-2026-12", "NQ-2027-03", "CL-2027-01", "MES-2026-12"]),
                  st.integers(-20, 20).filter(bool), st.integers(1, 400_000)),
        min_size=1, max_size=6,
    ),
    st.integers(-3000, 3000),
)
def test_buying_power_is_equity_times_leverage_less_initial_margin_exactly(trades, move_ticks):
    p = make()
    table = MarginTable()
    held: dict[str, Decimal] = {}
    for sym, qty, cents in trades:
        price = Decimal(cents) / 100
        p.apply_fill(fill(sym, "buy" if qty > 0 else "sell", str(abs(qty)), str(price)))
        held[sym] = held.get(sym, Decimal(0)) + qty
    for sym in held:
        p.mark(sym, float(p.position(sym).avg_price or 1) + move_ticks * 0.25)
    initial = sum((table.initial(parse_symbol(s), q, None) for s, q in held.items()), Decimal(0))
    maintenance = sum((table.maintenance(parse_symbol(s), q, None) for s, q in held.items()), Decimal(0))
    equity = p.equity()
    assert p.buying_power() == max(Decimal(0), equity * 2 - initial)
    acct = p.account()
    if any(held.values()):
        assert (acct.initial_margin, acct.maintenance_margin) == (initial, maintenance)
        assert acct.excess_liquidity == acct.equity - maintenance
    else:
        assert acct.initial_margin is None


def _write(tmp_path, text: str):
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_margins_in_the_settings_file_reach_the_profile(tmp_path):
    s = load_settings(_write(tmp_path, "[profiles.paper.margins]\nES = { initial = 16000, maintenance = 14500 }\n"))
    assert s.profile("paper").margins["ES"] == FutureMargin(initial=Decimal(16_000), maintenance=Decimal(14_500))


@pytest.mark.parametrize("line, says", [
    ("ES = { initial = 14000, maintenance = 15000 }", "margin maintenance 15000 must not exceed initial 14000"),
    ("ES = { initial = -1, maintenance = 0 }", "margin initial must be above 0"),
    ("ES = { initial = 16000 }", "maintenance"),
    ("ES = { initial = 16000, maintenance = 14000, extra = 1 }", "extra"),
    ('"e-s" = { initial = 16000, maintenance = 14000 }', "'e-s' is not a futures root"),
])
def test_a_bad_margin_is_one_line_naming_it(tmp_path, line, says):
    with pytest.raises(ConfigError) as caught:
        load_settings(_write(tmp_path, f"[profiles.paper.margins]\n{line}\n"))
    message = str(caught.value)
    assert says in message and "\n" not in message and "[profiles.paper]" in message
