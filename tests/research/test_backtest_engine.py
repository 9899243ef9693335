"""Backtest engine: fill rules on bars, costs, risk, journal, multi-symbol order, determinism."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from plugins.ma_crossover import MaCrossover
from workstation.research.backtest import (
    BacktestConfig,
    BacktestError,
    BarSeries,
    StrategySpec,
    load_series,
    open_limits,
    run_backtest,
)
from workstation.core.model import Bar
from workstation.strategies.api import Strategy

DATA = Path(__file__).parents[1] / "data"
DAY = 86_400.0
T0 = 1_700_000_000.0


def series(rows: list[tuple[float, float, float, float]], symbol: str = "AAA", seconds: int = 60) -> BarSeries:
    """Bars from (open, high, low, close) rows, one per ``seconds``."""
    ts = [T0 + i * seconds for i in range(len(rows))]
    o, h, lo, c = zip(*rows, strict=True)
    return BarSeries.from_arrays(symbol, ts, o, h, lo, c, [1000.0] * len(rows), seconds=seconds, tick=Decimal("0.01"))


def scripted(orders: dict[int, dict]) -> type[Strategy]:
    """A strategy that sends ``orders[k]`` (keyword arguments of ctx.buy/sell) on its k-th bar."""

    class Scripted(Strategy):
        name = "scripted"

        def on_start(self) -> None:
            self.n = 0
            self.seen: list[Bar] = []
            self.ctx.subscribe(self.ctx.symbols, bars=60, quotes=False)

        def on_bar(self, bar: Bar) -> None:
            order = orders.get(self.n)
            self.n += 1
            if order is not None:
                kw = dict(order)
                side = kw.pop("side")
                getattr(self.ctx, side)(kw.pop("symbol", bar.symbol), kw.pop("qty", 10), **kw)

    return Scripted


FLAT = [(10.0, 10.5, 9.5, 10.0)] * 2


def run(rows, orders, **cfg) -> object:
    return run_backtest([series(rows)], [StrategySpec(scripted(orders))], BacktestConfig(**cfg))


def test_a_market_order_sent_on_bar_t_fills_at_the_open_of_bar_t_plus_1() -> None:
    rows = [(10.0, 10.5, 9.5, 10.2), (11.0, 11.5, 10.5, 11.2), (12.0, 12.5, 11.5, 12.2)]
    r = run(rows, {0: {"side": "buy"}})
    assert [(f.side.value, f.qty, f.price, f.ts) for f in r.fills] == [("buy", Decimal(10), Decimal("11.00"), T0 + 60)]
    assert r.final_equity == Decimal(100_000) - Decimal("110.00") + Decimal("122.00")  # marked at the last close
    assert r.positions == {"AAA": Decimal(10)}


def test_a_limit_buy_fills_at_its_price_inside_the_bar_or_at_the_open_when_the_bar_gaps_through_it() -> None:
    inside = [(10.0, 10.5, 9.5, 10.0), (10.0, 10.2, 9.0, 9.8)]
    r = run(inside, {0: {"side": "buy", "limit": "9.50"}})
    assert [f.price for f in r.fills] == [Decimal("9.50")]
    gap = [(10.0, 10.5, 9.5, 10.0), (9.0, 9.2, 8.8, 9.1)]
    r = run(gap, {0: {"side": "buy", "limit": "9.50"}})
    assert [f.price for f in r.fills] == [Decimal("9.00")]
    never = [(10.0, 10.5, 9.5, 10.0), (10.0, 10.2, 9.6, 9.8), (10.0, 10.2, 9.6, 9.8)]
    r = run(never, {0: {"side": "buy", "limit": "9.50", "tif": "gtc"}})
    assert r.fills == []
    assert [o.status.value for o in r.orders] == ["canceled"]  # canceled when the run ends


def test_a_stop_sell_fills_at_the_stop_inside_the_bar_or_at_the_open_on_a_gap() -> None:
    opened = {0: {"side": "buy"}}
    inside = [(10.0, 10.5, 9.5, 10.0), (10.0, 10.2, 9.7, 10.0), (10.0, 10.1, 9.0, 9.2)]
    r = run(inside, {**opened, 1: {"side": "sell", "stop": "9.50"}})
    assert [(f.side.value, f.price) for f in r.fills] == [("buy", Decimal("10.00")), ("sell", Decimal("9.50"))]
    gap = [(10.0, 10.5, 9.5, 10.0), (10.0, 10.2, 9.7, 10.0), (9.0, 9.1, 8.5, 8.8)]
    r = run(gap, {**opened, 1: {"side": "sell", "stop": "9.50"}})
    assert [f.price for f in r.fills][-1] == Decimal("9.00")


def test_commission_per_share_percent_and_slippage_come_from_the_sim_broker_models() -> None:
    rows = [(10.0, 10.5, 9.5, 10.0), (20.0, 20.5, 19.5, 20.0)]
    r = run(rows, {0: {"side": "buy", "qty": 100}}, commission_per_share=Decimal("0.01"))
    assert r.fills[0].commission == Decimal("1.00")
    r = run(rows, {0: {"side": "buy", "qty": 100}}, commission_pct=Decimal("0.1"))
    assert r.fills[0].commission == Decimal("2.00")  # 0.1% of 2,000
    r = run(rows, {0: {"side": "buy", "qty": 100}}, slippage_bps=Decimal(10))
    assert r.fills[0].price == Decimal("20.02")  # 10 bps against the buyer, on the tick


def test_buying_power_always_applies_and_other_limits_only_when_configured() -> None:
    rows = [(10.0, 10.5, 9.5, 10.0)] * 3
    r = run(rows, {0: {"side": "buy", "qty": 20_000}})  # $200,000 of stock with $100,000 cash
    assert r.fills == []
    assert r.orders[0].status.value == "rejected" and "buying power" in (r.orders[0].reason or "")
    r = run(rows, {0: {"side": "buy", "qty": 9_000}})  # $90,000: no notional cap unless asked
    assert len(r.fills) == 1
    r = run(rows, {0: {"side": "buy", "qty": 100}}, limits=open_limits(max_order_qty=Decimal(50)))
    assert r.fills == [] and "max_order_qty" in (r.orders[0].reason or "")


def test_several_symbols_share_one_clock_in_timestamp_order() -> None:
    a = series([(10.0, 10.5, 9.5, 10.0)] * 4, "AAA")
    b = BarSeries.from_arrays("BBB", [T0 + 30 + 60 * i for i in range(4)], [50.0] * 4, [51.0] * 4, [49.0] * 4,
                              [50.0] * 4, seconds=60, tick=Decimal("0.01"))
    seen: list[tuple[str, float]] = []

    class Recorder(Strategy):
        name = "recorder"

        def on_start(self) -> None:
            self.ctx.subscribe(self.ctx.symbols, bars=60, quotes=False)

        def on_bar(self, bar: Bar) -> None:
            seen.append((bar.symbol, bar.ts))

    r = run_backtest([a, b], [StrategySpec(Recorder)])
    assert [s for s, _ in seen] == ["AAA", "BBB"] * 4
    assert [t for _, t in seen] == sorted(t for _, t in seen)
    assert r.bars == 8


def test_two_runs_with_the_same_inputs_give_identical_output(tmp_path: Path) -> None:
    data = load_series(DATA / "nvda-1999-2014.txt")
    spec = [StrategySpec(MaCrossover, {"fast": 5, "slow": 20, "qty": 10})]
    one = run_backtest([data], spec, BacktestConfig(commission_pct=Decimal("0.1")), journal_path=tmp_path / "a.sqlite")
    two = run_backtest([data], spec, BacktestConfig(commission_pct=Decimal("0.1")), journal_path=tmp_path / "b.sqlite")
    assert one.fills == two.fills and len(one.fills) > 20
    assert one.final_equity == two.final_equity
    assert (one.equity == two.equity).all()


def test_a_backtest_keeps_its_own_journal_with_every_order_and_fill(tmp_path: Path) -> None:
    from workstation.core.journal import Journal

    path = tmp_path / "bt.sqlite"
    r = run_backtest([load_series(DATA / "orcl-1995-2014.txt")], [StrategySpec(MaCrossover, {"qty": 100})], journal_path=path)
    j = Journal(path)
    try:
        assert len(j.fills()) == len(r.fills)
        assert len(j.orders()) == len(r.orders)
        assert j.meta("kind") == "backtest"
    finally:
        j.close()


def test_the_batch_journal_writes_the_rows_the_live_journal_derives_from_the_same_records(tmp_path: Path) -> None:
    """The backtest's writer thread inserts fills and orders directly (no triggers): the rows
    must be exactly what the live journal's triggers make of the same order events and fills."""
    import sqlite3

    from workstation.research.backtest import BatchJournal
    from workstation.core.journal import Journal
    from workstation.core.model import Fill, Order, OrderStatus, OrderType, Side, TimeInForce

    order = Order(id="7", client_id="bt-7", symbol="ORCL", side=Side.BUY, qty=Decimal("100"), type=OrderType.LIMIT,
                  tif=TimeInForce.DAY, limit_price=Decimal("12.345678"), strategy="ma", source="strategy",
                  created=T0 + 0.123456789, updated=T0 + 0.123456789)
    accepted = order.__class__(**{**{f: getattr(order, f) for f in order.__struct_fields__}, "status": OrderStatus.ACCEPTED})
    fill = Fill(exec_id="sim-bt-7-100", order_id="7", symbol="ORCL", side=Side.BUY, qty=Decimal("100"),
                price=Decimal("12.3"), commission=Decimal("0.10"), ts=T0 + 60.000001, strategy="ma")
    filled = accepted.__class__(**{**{f: getattr(accepted, f) for f in accepted.__struct_fields__},
                                   "status": OrderStatus.FILLED, "filled_qty": Decimal("100"), "avg_fill_price": Decimal("12.3")})

    live, batch = Journal(tmp_path / "live.sqlite"), BatchJournal(tmp_path / "batch.sqlite")
    for j in (live, batch):
        for data in ({"a": [1, "x"]}, "text", 7, 2.5, True, None, [1, {"b": False}]):  # any JSON value
            j.append("note", data, T0)
        j.record_order("accepted", accepted, T0 + 1.5)
        assert j.record_fill(fill, filled)
        assert not j.record_fill(fill, filled)  # a duplicate is dropped by its exec id
    batch.flush(wait=True)
    rows = {}
    for name in ("live", "batch"):
        db = sqlite3.connect(tmp_path / f"{name}.sqlite")
        rows[name] = (
            db.execute("SELECT exec_id, order_id, symbol, side, qty, price, commission, ts, strategy FROM fills").fetchall(),
            db.execute("SELECT id, client_id, status, symbol, created, updated, CAST(data AS TEXT) FROM orders").fetchall(),
            db.execute("SELECT seq, ts, kind, ref FROM events").fetchall(),
            db.execute("SELECT CAST(data AS TEXT) FROM events WHERE kind = 'note'").fetchall(),
        )
        db.close()
    assert rows["batch"] == rows["live"]
    assert rows["batch"][0] == [("sim-bt-7-100", "7", "ORCL", "buy", "100", "12.3", "0.10", T0 + 60.000001, "ma")]
    assert batch.fills() == live.fills() == [fill]
    assert batch.orders() == live.orders() == [filled]
    live.close()
    batch.close()


def test_a_failed_batch_write_is_raised_on_the_engines_thread_and_writes_nothing(tmp_path: Path) -> None:
    import sqlite3

    from workstation.research.backtest import BatchJournal
    from workstation.core.model import Fill, Side

    path = tmp_path / "bt.sqlite"
    batch = BatchJournal(path)
    fill = Fill(exec_id="x-1", order_id="1", symbol="AAA", side=Side.BUY, qty=Decimal(1), price=Decimal(10), ts=T0)
    assert batch.record_fill(fill, None)
    other = sqlite3.connect(path)  # the same execution id already there: the batch's insert must fail
    other.execute("INSERT INTO fills(exec_id, order_id, symbol, side, qty, price, commission, ts, seq) "
                  "VALUES('x-1', '1', 'AAA', 'buy', '1', '10', '0', 0, 99)")
    other.commit()
    batch.flush()  # handed to the writer thread
    with pytest.raises(sqlite3.IntegrityError):
        batch.flush(wait=True)
    assert other.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0  # rolled back whole
    other.close()
    batch.close()


def test_a_run_leaves_the_garbage_collector_as_it_found_it() -> None:
    import gc

    before = gc.get_threshold()
    run(FLAT * 5, {0: {"side": "buy"}})
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_instrument_from_a_file_takes_its_tick_from_the_prices_precision() -> None:
    assert load_series(DATA / "orcl-1995-2014.txt").tick == Decimal("0.000001")
    assert load_series(DATA / "2006-min-005.txt", "ES").tick == Decimal("0.01")
    r = run_backtest([load_series(DATA / "orcl-1995-2014.txt")], [StrategySpec(MaCrossover, {"qty": 100})])
    assert r.fills[0].price == Decimal("2.370370")  # the file's open, not rounded to cents


def test_intraday_files_run_with_the_strategy_on_the_files_bar_size() -> None:
    r = run_backtest([load_series(DATA / "2006-min-005.txt", "ES")], [StrategySpec(MaCrossover, {"qty": 1})])
    assert r.strategies["ma_crossover"]["params"]["bar_seconds"] == "300"
    assert len(r.fills) > 10


def test_bad_input_is_refused_before_anything_runs() -> None:
    with pytest.raises(BacktestError, match="no data"):
        run_backtest([], [StrategySpec(MaCrossover)])
    s = series(FLAT)
    with pytest.raises(BacktestError, match="given twice"):
        run_backtest([s, s], [StrategySpec(MaCrossover)])


def test_only_configured_limits_apply_the_live_defaults_do_not() -> None:
    from workstation.core.limits import RiskLimits

    live = RiskLimits()
    assert live.max_orders_per_second is not None and live.price_collar_pct is not None  # live has them on
    # 300 round trips, one order per one-minute bar, limit orders far from the price: none refused
    rows = [(10.0, 10.5, 9.5, 10.0)] * 602
    orders = {k: {"side": "buy" if k % 2 == 0 else "sell", "qty": 1} for k in range(600)}
    orders[600] = {"side": "buy", "qty": 1, "limit": "5.00"}  # 50% below: a live price collar refuses it
    r = run(rows, orders)
    assert not [o for o in r.orders if o.status.value == "rejected"]
    assert len(r.fills) == 600
    r = run(rows, {0: {"side": "buy", "qty": 1, "limit": "5.00"}}, limits=open_limits(price_collar_pct=Decimal(10)))
    assert r.orders[0].status.value == "rejected" and "price_collar_pct" in (r.orders[0].reason or "")


def test_the_spike_filter_is_off_a_bar_far_from_the_others_trades() -> None:
    rows = [(10.0, 10.5, 9.5, 10.0)] * 40 + [(10.0, 30.0, 9.5, 10.0), (30.0, 30.5, 29.5, 30.0), (10.0, 10.5, 9.5, 10.0)]
    r = run(rows, {40: {"side": "buy", "qty": 1}})
    assert [f.price for f in r.fills] == [Decimal("30.00")]  # the outlier bar's open is traded as published


def test_the_spike_filter_when_asked_drops_the_bars_the_live_monitor_calls_spikes() -> None:
    from workstation.research.backtest import spikes

    calm = [(10.0 + 0.01 * (i % 3), 10.05 + 0.01 * (i % 3), 9.95, 10.0 + 0.01 * (i % 3)) for i in range(40)]
    rows = calm + [(10.0, 30.0, 9.95, 30.0), (10.0, 10.05, 9.95, 10.01), (10.0, 10.05, 9.95, 10.02)]
    s = series(rows)
    assert spikes(s).nonzero()[0].tolist() == [40]  # the close at 30 that came straight back
    moved = series(calm + [(10.0, 30.0, 9.95, 30.0), (30.0, 30.05, 29.95, 30.01)])
    assert not spikes(moved).any()  # a level the next bar confirms is real
    seen: list[float] = []

    class Closes(Strategy):
        name = "closes"

        def on_start(self) -> None:
            self.ctx.subscribe(self.ctx.symbols, bars=60, quotes=False)

        def on_bar(self, bar: Bar) -> None:
            seen.append(bar.close)

    run_backtest([s], [StrategySpec(Closes)])
    assert 30.0 in seen  # off by default
    seen.clear()
    r = run_backtest([s], [StrategySpec(Closes)], BacktestConfig(spike_filter=True))
    assert 30.0 not in seen and len(seen) == len(rows) - 1
    assert r.spikes == {"AAA": 1}


def _equity_by_hand(result, s: BarSeries) -> tuple[list[float], list[float]]:
    """Each bar's close marked with the cash and position after the fills booked up to it (fills
    come at a bar's open or inside it), in the float operations the engine documents."""
    fills = sorted(result.fills, key=lambda f: f.ts)
    cash, qty, k = result.initial_cash, Decimal(0), 0
    equity, gross = [], []
    for t, c in zip(s.ts.tolist(), s.close.tolist(), strict=True):
        while k < len(fills) and fills[k].ts <= t:
            f = fills[k]
            signed = f.qty if f.side.value == "buy" else -f.qty
            cash -= signed * f.price + f.commission
            qty += signed
            k += 1
        mv = float(qty) * c * 1.0
        equity.append(float(cash) + mv)
        gross.append(abs(mv))
    return equity, gross


def test_the_equity_curve_marks_every_close_with_the_cash_and_position_after_that_bars_fills() -> None:
    """Over several of the engine's chunks of bars, with commissions (cash moves at every fill)
    and with a limit order resting for many bars: each sample is exactly the hand-made one."""
    import numpy as np

    rng = np.random.default_rng(3)
    n = 40_000
    close = np.round(100 + np.cumsum(rng.normal(0, 0.05, n)), 2)
    open_ = np.concatenate([[100.0], close[:-1]])
    s = BarSeries.from_arrays(
        "AAA", T0 + 60.0 * np.arange(n), open_, np.maximum(open_, close) + 0.01, np.minimum(open_, close) - 0.01, close,
        np.full(n, 1000.0), seconds=60, tick=Decimal("0.01"),
    )
    crossing = run_backtest(
        [s], [StrategySpec(MaCrossover, {"fast": 5, "slow": 20, "qty": 10})], BacktestConfig(commission_pct=Decimal("0.1")),
    )
    resting = run_backtest(
        [s], [StrategySpec(scripted({0: {"side": "buy", "qty": 10, "limit": float(close.min()) + 0.5}, 30_000: {"side": "sell", "qty": 10}}))],
        BacktestConfig(commission_per_share=Decimal("0.01")),
    )
    for r in (crossing, resting):
        assert len(r.fills) >= 2
        equity, gross = _equity_by_hand(r, s)
        assert r.equity[:-1].tolist() == equity[:-1]  # (the last sample is the exact final equity)
        assert r.gross.tolist() == gross
        assert r.equity[-1] == float(r.final_equity)


def test_a_day_order_that_does_not_fill_expires_at_the_day_end_and_a_gtc_one_works_on() -> None:
    """Minute bars over three days: a DAY limit far from the market expires at its day's end
    (and not before); a GTC one keeps working until the run ends (then it is canceled)."""
    n = 3 * 1440
    r = run_backtest([series([(10.0, 10.5, 9.5, 10.0)] * n)], [StrategySpec(scripted({1: {"side": "buy", "limit": 5.0}, 2: {"side": "buy", "limit": 5.0, "tif": "gtc"}}))])
    day, gtc = r.orders
    assert (day.tif.value, day.status.value, gtc.tif.value, gtc.status.value) == ("day", "expired", "gtc", "canceled")
    assert T0 + 3600 < day.updated < T0 + DAY + 60  # the first day's end, not sooner
    assert gtc.updated >= T0 + (n - 1) * 60
    assert r.fills == []


def test_two_strategies_on_one_symbol_each_trade_as_they_would_alone() -> None:
    """Two crossovers with different windows on one symbol share the run: each one's fills are
    exactly the fills of a run with it alone (no shared state, no order missed)."""
    data = load_series(DATA / "nvda-1999-2014.txt")
    a = StrategySpec(MaCrossover, {"fast": 5, "slow": 20, "qty": 10}, name="a")
    b = StrategySpec(MaCrossover, {"fast": 10, "slow": 40, "qty": 10}, name="b")
    both = run_backtest([data], [a, b])
    for spec in (a, b):
        alone = run_backtest([data], [spec])
        mine = [(f.ts, f.side, f.qty, f.price) for f in both.fills if f.strategy == spec.name]
        assert mine == [(f.ts, f.side, f.qty, f.price) for f in alone.fills] and len(mine) > 20


def test_history_in_a_backtest_is_the_warm_up_then_every_bar_handed_out_so_far() -> None:
    """A one-series run keeps no bars in the strategy's context: ``ctx.history`` rebuilds them
    from the columns. In ``on_bar`` it ends with that bar; in ``on_fill`` (at the next bar's
    open) with the bar before; warm-up bars come first; no count gives the last 5,000."""
    import numpy as np

    n, warm_n = 6_000, 50
    close = np.round(100 + np.cumsum(np.random.default_rng(9).normal(0, 0.05, n + warm_n)), 2)
    ts = T0 + 60.0 * np.arange(n + warm_n)

    def cols(a, b):
        c = close[a:b]
        return BarSeries.from_arrays("AAA", ts[a:b], c, c + 0.01, c - 0.01, c, np.full(b - a, 10.0), seconds=60, tick=Decimal("0.01"))

    warm, live = cols(0, warm_n), cols(warm_n, n + warm_n)
    seen: dict[str, list] = {"bar": [], "fill": [], "all": []}

    class Reader(Strategy):
        name = "reader"

        def on_start(self) -> None:
            self.k = 0
            self.ctx.subscribe(self.ctx.symbols, bars=60, quotes=False)

        def on_bar(self, bar: Bar) -> None:
            if self.k % 997 == 0 or self.k == n - 1:
                seen["bar"].append((self.k, [b.ts for b in self.ctx.history("AAA", 60, 7)]))
                seen["all"].append((self.k, [b.close for b in self.ctx.history("AAA", 60)]))
            if self.k in (3, 4_000):
                self.ctx.buy("AAA", 1)
            self.k += 1

        def on_fill(self, fill) -> None:
            seen["fill"].append((fill.ts, [b.ts for b in self.ctx.history("AAA", 60, 3)]))

    run_backtest([live], [StrategySpec(Reader)], warmup=[warm])
    every_ts, every_close = ts.tolist(), close.tolist()
    for k, got in seen["bar"]:
        assert got == every_ts[warm_n + k + 1 - 7 : warm_n + k + 1]
    for k, got in seen["all"]:
        assert got == every_close[max(0, warm_n + k + 1 - 5_000) : warm_n + k + 1]
    assert len(seen["fill"]) == 2
    for fill_ts, got in seen["fill"]:
        i = every_ts.index(fill_ts)  # the bar whose open filled it: not handed out yet
        assert got == every_ts[i - 3 : i]
