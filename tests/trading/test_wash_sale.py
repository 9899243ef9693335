"""The wash-sale rule both ways on FIFO tax lots: crafted fill sequences, and properties of
any sequence (disallowed losses never exceed the losses; over a full round trip the tax
lots and the average-cost book realize the same money)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings as hyp_settings, strategies as st

from workstation.core.model import Fill, Side
from workstation.trading.portfolio import Book
from workstation.trading.tax_report import build_report
from workstation.trading.taxlots import TaxLots, trade_date

DAY = 86_400.0
T0 = 1_767_625_200.0  # 2026-01-05 15:00 UTC, 10:00 in New York


class Tape:
    """Fills of one account, each its own order unless told."""

    def __init__(self) -> None:
        self.lots = TaxLots(keep_closed=True)
        self.fills: list[Fill] = []

    def __call__(self, side: str, qty, price, day: float, symbol: str = "AAPL", order: str | None = None, fee="0") -> None:
        n = len(self.fills) + 1
        fill = Fill(
            exec_id=f"e{n}", order_id=order or f"o{n}", symbol=symbol, side=Side(side), qty=Decimal(str(qty)),
            price=Decimal(str(price)), commission=Decimal(fee), ts=T0 + day * DAY,
        )
        self.fills.append(fill)
        self.lots.apply(fill)

    def lot(self, symbol: str = "AAPL", i: int = 0):
        return self.lots.open_lots(symbol)[i]


def day(n: float):
    return trade_date(T0 + n * DAY)


def test_a_buy_after_a_loss_sale_takes_the_loss_into_its_basis_and_the_holding_period():
    t = Tape()
    t("buy", 100, 50, 0)
    t("sell", 100, 40, 10)  # a 1,000 loss
    sale = t.lots.closed[0]
    assert sale.gain == Decimal(-1000) and sale.disallowed == 0  # nothing bought yet
    t("buy", 100, 42, 15)  # within 30 days after
    assert sale.disallowed == Decimal(1000) and sale.reported == 0
    repl = t.lot()
    assert repl.qty == 100 and (repl.qty * repl.price + repl.adjustment) / repl.qty == Decimal(52)  # basis 52 a share
    # held 10 days before the sale: the replacement counts as acquired 10 days before it was bought
    assert trade_date(repl.ts) == day(5) and trade_date(repl.bought) == day(15)
    t("sell", 100, 45, 20)
    last = t.lots.closed[-1]
    assert last.basis == Decimal(5200) and last.gain == Decimal(-700) and last.adjusted
    assert sum(c.reported for c in t.lots.closed) == Decimal(-700)  # the 1,000 was deferred, not lost


def test_a_replacement_bought_before_the_loss_sale_is_matched_too():
    t = Tape()
    t("buy", 100, 50, 0)
    t("buy", 100, 45, 20)  # 10 days before the loss sale, still held when it happens
    t("sell", 100, 40, 30)  # FIFO sells the first lot: a 1,000 loss
    sale = t.lots.closed[0]
    assert sale.disallowed == Decimal(1000) and sale.unmatched == 0
    repl = t.lot()
    assert repl.replacement and repl.price == 45 and repl.adjustment == Decimal(1000)
    assert trade_date(repl.ts) == day(-10)  # bought on day 20, plus the 30 days the sold lot was held
    assert t.lots.wash_sale("AAPL", T0 + 31 * DAY) is None  # the loss is already fully replaced


def test_fewer_shares_bought_than_sold_disallow_a_pro_rata_share():
    t = Tape()
    t("buy", 100, 50, 0)
    t("sell", 100, 40, 10)
    t("buy", 50, 42, 12)
    sale = t.lots.closed[0]
    assert sale.disallowed == Decimal(500) and sale.reported == Decimal(-500) and sale.unmatched == 50
    assert t.lot().adjustment == Decimal(500)
    assert t.lots.wash_sale("AAPL", T0 + 13 * DAY) is not None  # 50 shares of the loss can still be washed


def test_a_buy_31_days_after_is_no_wash_and_30_days_is():
    t = Tape()
    t("buy", 100, 50, 0)
    t("sell", 100, 40, 10)
    t("buy", 100, 42, 41)
    assert t.lots.closed[0].disallowed == 0 and t.lot().adjustment == 0 and not t.lot().replacement
    u = Tape()
    u("buy", 100, 50, 0)
    u("sell", 100, 40, 10)
    u("buy", 100, 42, 40)
    assert u.lots.closed[0].disallowed == Decimal(1000)


def test_each_replacement_share_absorbs_one_loss_and_a_purchase_never_replaces_itself():
    t = Tape()
    t("buy", 200, 50, 0, order="one")
    t("sell", 100, 40, 5)  # a loss; the other 100 shares are of the same purchase: no wash
    assert t.lots.closed[0].disallowed == 0
    t("sell", 100, 40, 6)
    t("buy", 100, 42, 10)  # replaces the first loss sale only
    first, second = t.lots.closed
    assert first.disallowed == Decimal(1000) and second.disallowed == 0
    t("buy", 100, 43, 11)  # the next 100 replace the second
    assert second.disallowed == Decimal(1000)
    assert [lot.adjustment for lot in t.lots.open_lots("AAPL")] == [Decimal(1000), Decimal(1000)]
    t("buy", 100, 44, 12)  # nothing left to wash
    assert t.lots.open_lots("AAPL")[-1].adjustment == 0


def test_a_gain_is_never_washed_and_other_symbols_are_not_identical():
    t = Tape()
    t("buy", 100, 50, 0)
    t("sell", 100, 60, 5)
    t("buy", 100, 55, 6)
    assert t.lots.closed[0].disallowed == 0
    t("buy", 100, 50, 0, symbol="MSFT")
    t("sell", 100, 40, 10, symbol="MSFT")
    t("buy", 100, 40, 11, symbol="AAPL")
    assert t.lots.closed[-1].disallowed == 0 and t.lots.closed[-1].unmatched == 100


def test_a_replacement_held_long_enough_turns_long_term_sooner():
    t = Tape()
    t("buy", 100, 50, 0)
    t("sell", 100, 40, 200)  # held 200 days
    t("buy", 100, 42, 210)  # counts as acquired on day 10
    t("sell", 100, 60, 10 + 366)  # 166 days after it was bought, but more than a year with the washed lot's
    assert t.lots.closed[-1].long_term
    report = build_report(t.fills, 2027, lambda s: Decimal(1), T0 + 400 * DAY)
    row = report.rows[-1]
    assert row.term == "long" and row.acquired == day(10).isoformat() and report.totals.long_term == row.reported


def test_the_report_splits_the_year_and_counts_disallowed_losses():
    t = Tape()
    t("buy", 100, 50, 0, fee="1")
    t("sell", 100, 40, 10, fee="1")
    t("buy", 100, 42, 15, fee="1")
    t("sell", 100, 45, 400, fee="1")  # in 2027
    r26 = build_report(t.fills, 2026, lambda s: Decimal(1), T0 + 500 * DAY)
    assert [(r.code, r.disallowed, r.gain, r.reported) for r in r26.rows] == [("W", Decimal(1002), Decimal(-1002), 0)]
    assert r26.totals.disallowed == Decimal(1002) and r26.totals.short_term == 0 and r26.method == "FIFO tax lots"
    r27 = build_report(t.fills, 2027, lambda s: Decimal(1), T0 + 500 * DAY)
    assert r27.rows[0].basis == Decimal(42 * 100 + 1 + 1002) and r27.rows[0].reported == Decimal(4499 - 5203)
    assert r26.average_cost_realized + r27.average_cost_realized == Decimal(-700)


# --------------------------------------------------------------------------- properties

trades = st.lists(
    st.tuples(
        st.sampled_from(["AAPL", "MSFT"]),
        st.integers(-60, 60).filter(bool),  # signed quantity: a sell past the holding goes short
        st.integers(100, 9_000),  # price in cents
        st.integers(0, 40),  # days since the previous fill
        st.integers(0, 300),  # commission in cents
    ),
    min_size=1, max_size=40,
)


@hyp_settings(max_examples=200, deadline=None)
@given(trades)
def test_disallowed_never_exceeds_the_losses_and_a_round_trip_realizes_the_average_cost_pnl(seq):
    lots, book = TaxLots(keep_closed=True), Book()
    engine = TaxLots()  # what the engine keeps: the same lots, without the closed ones
    held: dict[str, Decimal] = {}
    days = 0
    commissions = Decimal(0)
    fills = []
    for symbol, qty, cents, gap, fee in seq:
        days += gap
        fills.append((symbol, Decimal(qty), Decimal(cents) / 100, days, Decimal(fee) / 100))
        held[symbol] = held.get(symbol, Decimal(0)) + qty
    days += 1
    for symbol, qty in held.items():  # a full round trip of every position
        if qty:
            fills.append((symbol, -qty, Decimal("50.00"), days, Decimal("0.37")))
    for n, (symbol, qty, price, d, fee) in enumerate(fills):
        fill = Fill(
            exec_id=str(n), order_id=str(n), symbol=symbol, side=Side.BUY if qty > 0 else Side.SELL, qty=abs(qty),
            price=price, commission=fee, ts=T0 + d * DAY,
        )
        lots.apply(fill)
        engine.apply(fill)
        book.apply(fill, Decimal(1))
        assert engine.open_lots(symbol) == lots.open_lots(symbol)
        commissions += fee
    rows = lots.closed
    for r in rows:
        assert 0 <= r.disallowed <= max(-r.gain, Decimal(0))  # never more than the lot's own loss
    assert sum(r.disallowed for r in rows) <= sum(-r.gain for r in rows if r.gain < 0)
    assert all(not lots.open_lots(s) for s in held)
    # the tax lots are exact; the average-cost book divides (its 28-digit residue is rounded off)
    assert sum(r.gain + r.disallowed for r in rows) == (book.realized - commissions).quantize(Decimal("0.01"))


def test_a_restart_rebuilds_the_washed_lots_from_the_journal(tmp_path):
    from workstation.core.config import Settings
    from workstation.core.journal import Journal
    from workstation.trading.session import Session

    t = Tape()
    t("buy", 100, 50, 0)
    t("sell", 100, 40, 10)
    t("buy", 50, 42, 15)  # half the loss replaced
    (tmp_path / "paper").mkdir()
    journal = Journal(tmp_path / "paper" / "journal.sqlite")
    for fill in t.fills:
        journal.record_fill(fill, None)
    journal.close()
    session = Session.build(Settings(), "paper", data_root=tmp_path, readonly=True)
    try:
        lots = session.risk.lots
        (lot,) = lots.open_lots("AAPL")
        assert (lot.qty, lot.adjustment, trade_date(lot.ts)) == (50, Decimal(500), day(5))
        # the other 50 shares of the loss can still be washed: the ticket still warns
        assert lots.wash_sale("AAPL", T0 + 20 * DAY) is not None and lots.wash_sale("AAPL", T0 + 41 * DAY) is None
    finally:
        session.journal.close()
