"""Accounting: exact to the cent against an independent recomputation."""

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.core.model import Fill, Quote, Side
from workstation.trading.portfolio import Portfolio
from workstation.core.symbols import parse_symbol

SYMBOLS = ["AAPL", "ES-2026-12", "AAPL-2026-12-18-200-C", "BTC/USD"]


def make(cash="100000", margin=True):
    return Portfolio(initial_cash=Decimal(cash), instrument=parse_symbol, margin=margin)


def fill(sym, side, qty, price, commission="0", strategy=None, n=[0]):
    n[0] += 1
    return Fill(exec_id=f"e{n[0]}", order_id="1", symbol=sym, side=Side(side), qty=Decimal(qty), price=Decimal(price), commission=Decimal(commission), strategy=strategy)


def test_long_then_close_realizes():
    p = make()
    p.apply_fill(fill("AAPL", "buy", "100", "10.00"))
    p.apply_fill(fill("AAPL", "buy", "100", "12.00"))
    assert p.position("AAPL").avg_price == Decimal("11")
    realized = p.apply_fill(fill("AAPL", "sell", "150", "13.00", commission="1.50"))
    assert realized == Decimal("300")
    assert p.qty("AAPL") == 50
    assert p.cash["USD"] == Decimal("100000") - 2200 + 1950 - Decimal("1.50")


def test_short_and_flip_through_zero():
    p = make()
    p.apply_fill(fill("AAPL", "sell", "100", "50"))
    assert p.qty("AAPL") == -100
    r = p.apply_fill(fill("AAPL", "buy", "150", "40"))  # covers 100 at +10 each, then long 50 at 40
    assert r == Decimal("1000")
    pos = p.position("AAPL")
    assert pos.qty == 50 and pos.avg_price == 40


def test_future_settles_pnl_only():
    p = make()
    p.apply_fill(fill("ES-2026-12", "buy", "2", "6000.00"))
    assert p.cash["USD"] == Decimal("100000")  # no notional paid
    p.mark("ES-2026-12", 6010.0)
    assert p.unrealized("ES-2026-12") == Decimal("1000")  # 10 points * 50 * 2
    assert p.equity() == Decimal("101000")
    p.apply_fill(fill("ES-2026-12", "sell", "2", "6005.00", commission="4"))
    assert p.cash["USD"] == Decimal("100000") + 500 - 4


def test_option_multiplier_in_cash_and_value():
    p = make()
    p.apply_fill(fill("AAPL-2026-12-18-200-C", "buy", "3", "5.10"))
    assert p.cash["USD"] == Decimal("100000") - Decimal("1530")
    p.mark("AAPL-2026-12-18-200-C", 6.10)
    assert p.market_value("AAPL-2026-12-18-200-C") == Decimal("1830")
    assert p.unrealized("AAPL-2026-12-18-200-C") == Decimal("300")


def test_foreign_currency_valued_at_feed_rate():
    rates = {"EUR": Decimal("1.10")}
    p = Portfolio(initial_cash=Decimal(1000), instrument=parse_symbol, rate=rates.get)
    p.apply_fill(fill("BTC/EUR", "buy", "0.01", "50000"))
    assert p.cash["EUR"] == Decimal("-500")
    p.mark("BTC/EUR", 60000.0)
    # cash: 1000 USD - 500 EUR*1.1 = 450; position 600 EUR*1.1 = 660
    assert p.equity() == Decimal("1110.0")


def test_strategy_books_and_counts():
    p = make()
    p.apply_fill(fill("AAPL", "buy", "10", "100", strategy="ma"))
    p.apply_fill(fill("AAPL", "sell", "10", "110", strategy="ma"))
    p.apply_fill(fill("AAPL", "buy", "5", "100"))
    assert p.books["ma"].realized == 100 and p.books["ma"].wins == 1 and p.books["ma"].trades == 2
    assert p.books["manual"].positions["AAPL"].qty == 5
    assert p.qty("AAPL") == 5


def test_buying_power_margin_and_cash():
    m = make("10000", margin=True)
    m.apply_fill(fill("AAPL", "buy", "100", "50"))
    m.on_quote(Quote(symbol="AAPL", ts=0, bid=50, ask=50, last=50))
    assert m.account().buying_power == Decimal("10000") * 2 - 5000
    c = make("10000", margin=False)
    c.apply_fill(fill("AAPL", "buy", "100", "50"))
    assert c.account().buying_power == Decimal("5000")


prices = st.decimals(min_value=Decimal("0.25"), max_value=Decimal("500"), places=2)
qtys = st.integers(min_value=1, max_value=500)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(["buy", "sell"]), qtys, prices, st.decimals(min_value=0, max_value=5, places=2)), max_size=60))
def test_random_fills_match_independent_recomputation(trades):
    """Cash, positions and realized P&L equal a Fraction-based average-cost ledger to the cent."""
    p = make()
    qty = {}
    avg = {}
    realized = {}
    cash = Fraction(100000)
    for sym, side, q, px, comm in trades:
        if sym == "ES-2026-12":
            px = (px * 4).to_integral_value() / 4  # on the 0.25 tick
        p.apply_fill(fill(sym, side, str(q), str(px), str(comm)))
        inst = parse_symbol(sym)
        mult = Fraction(inst.multiplier)
        s = q if side == "buy" else -q
        price = Fraction(px)
        old = qty.get(sym, 0)
        a = avg.get(sym, Fraction(0))
        r = Fraction(0)
        if old == 0 or (old > 0) == (s > 0):
            a = (a * abs(old) + price * abs(s)) / abs(old + s)
        else:
            closed = min(abs(s), abs(old))
            r = closed * (price - a) * mult * (1 if old > 0 else -1)
            new = old + s
            if new == 0:
                a = Fraction(0)
            elif (new > 0) != (old > 0):
                a = price
        qty[sym] = old + s
        avg[sym] = a
        realized[sym] = realized.get(sym, 0) + r
        if inst.settles_notional:
            cash -= s * price * mult
        else:
            cash += r
        cash -= Fraction(comm)
    cent = Fraction(1, 100)
    assert abs(Fraction(p.cash["USD"]) - cash) < cent
    for sym in SYMBOLS:
        pos = p.position(sym)
        assert pos.qty == qty.get(sym, 0)
        assert abs(Fraction(pos.realized_pnl) - realized.get(sym, 0)) < cent
        assert abs(Fraction(pos.avg_price) - avg.get(sym, 0)) < cent
    assert abs(Fraction(p.book.realized) - sum(realized.values(), Fraction(0))) < cent
