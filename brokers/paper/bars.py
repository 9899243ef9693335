"""The simulated broker for backtests: ``SimBroker``'s models, matching on whole bars.

``BarSimBroker`` keeps the paper broker's admission checks, commission model
(``estimate_commission``), slippage model (``slippage_bps`` plus ``slippage_ticks``,
against the trader, on the tick) and reports, and replaces quote-by-quote matching with
bar matching, driven by the backtest engine (``match_bar``) in timestamp order.

Fill rules
----------
* An order arrives at the broker while bar *t* is being processed (or while the engine
  answers a fill); it is never matched against bar *t*. It meets the market on the next
  bar of its symbol, *t+1*.
* **Market**: fills at bar *t+1*'s open, plus slippage.
* **Limit**: a buy fills at the open (plus slippage, never above the limit) when the bar
  opens at or below the limit -- it gapped through it -- else at the limit when the bar's
  low reaches it; a sell mirrors this with the open and the high. Otherwise it rests and
  is matched the same way on later bars (where the open is the first price it meets).
* **Stop**: a buy stop triggers at the open when the bar opens at or above the stop
  (filled at the open plus slippage), else at the stop when the bar's high reaches it
  (filled at the stop plus slippage); a sell stop mirrors this with the low.
  A **stop-limit** triggers the same way and then acts as a limit arriving at the trigger
  price: it fills there when that price is within the limit, else at the limit when the
  bar's range reaches it, else it rests as a limit. A **trailing stop** moves with the
  open, is checked against the bar, then moves with the bar's favourable extreme.
* Quantities fill whole (no partial fills on bars). IOC and FOK orders meet the next
  bar's open only: filled there if marketable, else canceled.
* DAY orders expire at the paper broker's day end, but every order meets at least the
  next bar (so a DAY order on daily bars lives for exactly one bar).
* The market is always open: a file trades whenever it has a bar.

A **fill model** (``brokers.paper.fill_models.FillModel``: spread, volume participation,
square-root impact) changes the last two rules when one is given: a bar fills at most its
share of the volume (the rest carried to later bars, each part its own fill), each fill pays
the half-spread (quoted, estimated from the range, or fixed) and the impact on top of the
price above, and intraday bars of NYSE-listed instruments outside the regular session fill
nothing. Without one (``next_open``) nothing above changes and the matching costs nothing
more.

``arrivals`` holds, per client id, the first price an order met at the broker (the
open of the bar it arrived before): the arrival price for execution-quality figures.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping

import numpy as np
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from brokers.base import BrokerError, BrokerExpired
from brokers.paper.broker import _IOC_FOK, _MARKET, SimBroker, SimConfig, _on_tick, _Working
from brokers.paper.fill_models import FillCosts, FillModel, ModelInputs, cap_quantity, sqrt_impact
from brokers.paper.market import SimMarket
from workstation.core.clock import Clock
from workstation.core.memo import Memo
from workstation.core.model import ModelError, Order, OrderStatus, OrderType, Quote, to_decimal
from workstation.core.symbols import parse_symbol

_BPS = Decimal(10_000)

_STOPS = (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP)
PRICES_KEPT = 100_000  # bar prices remembered as Decimals (then the memory starts again)
FILLS_KEPT = 10_000  # a long backtest need not keep every broker fill report (the journal has them)


class BarSimBroker(SimBroker):
    """A ``SimBroker`` whose book is matched bar by bar (see the module docstring)."""

    def __init__(
        self,
        clock: Clock,
        config: SimConfig | None = None,
        *,
        instruments: Mapping[str, object] | None = None,
        last_price: Callable[[str], float | None] = lambda symbol: None,
        fill_model: FillModel | None = None,
        model_inputs: Mapping[str, ModelInputs] | None = None,
    ) -> None:
        cfg = config or SimConfig(partial_fills=False)
        super().__init__(clock, cfg, market=SimMarket(cfg.seed))
        self._instruments = dict(instruments or {})
        self._last_price = last_price
        self._fills = deque(maxlen=FILLS_KEPT)  # type: ignore[assignment]  # fills_since: the recent ones
        self._fresh: set[str] = set()  # client ids that have not met a bar yet
        self.arrivals: dict[str, Decimal] = {}
        self.by_symbol: dict[str, int] = {}
        self._prices = Memo(PRICES_KEPT)  # (symbol, bar price) -> the Decimal on the tick
        self._next_expiry = math.inf  # no entry of the book expires before this (a bound: may be early)
        self.costs = FillCosts()
        self._model = fill_model if fill_model is not None and fill_model.active else None
        if self._model is not None:  # (the default path is left exactly as it is: no test per bar)
            self._inputs = dict(model_inputs or {})
            self._cap: Decimal | None = None  # what the bar being matched can still fill
            self._at: tuple[ModelInputs, int] | None = None  # (inputs, index) of that bar
            self._fill = self._fill_modeled  # type: ignore[method-assign]
            self.match_bar = self._match_modeled  # type: ignore[method-assign]

    # ------------------------------------------------------------------ instruments and quotes

    def _instrument(self, symbol: str):  # type: ignore[override]
        inst = self._instruments.get(symbol)
        if inst is not None:
            return inst
        try:
            canonical = parse_symbol(symbol)
        except ModelError as e:
            raise BrokerError(str(e)) from None
        inst = self._instruments.get(canonical.symbol) or canonical
        self._instruments[symbol] = inst
        return inst

    async def instrument(self, symbol: str):  # type: ignore[override]
        return self._instrument(symbol)

    def snapshot(self, symbol: str) -> Quote | None:
        """The last bar's close as a quote (the decision price of an order sent now)."""
        price = self._last_price(symbol)
        if price is None:
            return None
        return Quote(symbol, self.clock.time(), price, price, price)

    async def connect(self) -> None:  # no market task: the engine drives the clock
        return None

    async def close(self) -> None:
        return None

    def _is_open(self, inst, t: float) -> bool:  # type: ignore[override]
        return True

    def _open(self, w: _Working, t: float) -> bool:
        return True

    # ------------------------------------------------------------------ admission

    def _admit(self, order: Order, t: float) -> _Working:
        """As the paper broker admits an order, but a bar market is never closed."""
        inst = self._instrument(order.symbol)
        self._check(inst, order)
        w = self._working(order, inst, t)
        w.filled = order.filled_qty
        if w.expires is not None and w.expires < self._next_expiry:
            self._next_expiry = w.expires
        return w

    def _arrive(self, w: _Working, t: float) -> None:
        """Arrival waits for the next bar (never the bar being processed)."""
        self._fresh.add(w.order.client_id)
        sym = w.inst.symbol
        self.by_symbol[sym] = self.by_symbol.get(sym, 0) + 1

    def _finish(self, w: _Working, status) -> None:  # type: ignore[override]
        cid = w.order.client_id
        del self._book[cid]  # (``SimBroker._finish``, inline: once per order)
        self._done[cid] = (w, status)
        self._fresh.discard(cid)
        sym = w.inst.symbol
        left = self.by_symbol.get(sym, 0) - 1
        if left > 0:
            self.by_symbol[sym] = left
        else:
            self.by_symbol.pop(sym, None)

    def _expire(self, t: float) -> None:
        fresh = self._fresh
        for cid, w in list(self._book.items()):
            if cid not in fresh and w.expires is not None and t >= w.expires and self._book.get(cid) is w:
                self._finish(w, OrderStatus.EXPIRED)
                self._emit(BrokerExpired(client_id=cid, ts=t))
        self._next_expiry = min((w.expires for w in self._book.values() if w.expires is not None), default=math.inf)

    # ------------------------------------------------------------------ matching

    def match_bar(self, symbol: str, ts: float, o: float, h: float, lo: float) -> None:
        """Match the working orders of ``symbol`` against one bar (its open, high and low)."""
        if ts >= self._next_expiry:
            self._expire(ts)
        working = [w for w in self._book.values() if w.inst.symbol == symbol]
        if not working:
            return
        inst = working[0].inst
        opened = self._price(inst, o, "open")
        bar: tuple[Decimal, Decimal, Decimal] | None = None
        for w in working:
            cid = w.order.client_id
            if self._book.get(cid) is not w:
                continue
            if cid in self._fresh:
                self._fresh.discard(cid)
                self.arrivals[cid] = opened
                if w.order.tif in _IOC_FOK:
                    self._match_open_only(w, opened, ts)
                    continue
            if w.order.type is _MARKET:  # the common case: no need for the range
                self._fill(w, w.qty - w.filled, self._slipped(w, opened) if self._slips else opened, ts)
                continue
            if bar is None:
                bar = (opened, self._price(inst, h, "high"), self._price(inst, lo, "low"))
            self._match_bar(w, bar, ts)

    # ------------------------------------------------------------------ fill models

    def _match_modeled(self, symbol: str, ts: float, o: float, h: float, lo: float) -> None:
        """``match_bar`` under a fill model: the bar's volume share and its inputs are set,
        then the bar rules run with ``_fill_modeled`` filling."""
        if ts >= self._next_expiry:
            self._expire(ts)
        if symbol not in self.by_symbol:
            return
        inp = self._inputs.get(symbol)
        at = None
        if inp is not None:
            i = int(np.searchsorted(inp.ts, ts))
            if i < len(inp.ts) and inp.ts[i] == ts:
                at = (inp, i)
        self._at = at
        if at is not None and inp is not None and inp.in_session is not None and not inp.in_session[at[1]]:
            self.costs.outside_session_bars += 1  # nothing fills (a fresh order stays fresh)
            return
        self._cap = None
        part = self._model.participation  # type: ignore[union-attr]
        if part is not None:
            volume = float(inp.volume[at[1]]) if at is not None and inp is not None else 0.0
            if volume > 0.0:
                lot = next(w.inst for w in self._book.values() if w.inst.symbol == symbol).lot_size
                self._cap = cap_quantity(part, volume, lot)
            else:
                self.costs.no_volume_bars += 1
        BarSimBroker.match_bar(self, symbol, ts, o, h, lo)

    def _fill_modeled(self, w: _Working, qty: Decimal, price: Decimal, t: float) -> None:
        """A fill under the model: at most the bar's volume share, the half-spread and the
        square-root impact added against the trader (each on the tick, never past a limit)."""
        model = self._model
        assert model is not None
        costs = self.costs
        cap = self._cap
        ioc_fok = w.order.tif in _IOC_FOK
        if cap is not None:
            if qty > cap:
                if ioc_fok and (cap <= 0 or w.order.tif.value == "fok"):
                    self._cancel(w, t, f"{w.order.tif.value.upper()}: the bar's volume share is {cap}")
                    return
                if cap <= 0:
                    return  # carried: the order meets the next bar
                qty = cap
                costs.partial_fills += 1
            self._cap = cap - qty
        buy = w.buy
        inst = w.inst
        at = self._at
        half: Decimal | None = None
        if model.spread_bps is not None:
            half = price * (model.spread_bps / _BPS) / 2
        elif model.spread is not None:
            half = self._half_spread(model.spread, price, at)
        spread_px = price
        if half:
            spread_px = _on_tick(inst, price + half, ROUND_CEILING) if buy else max(
                _on_tick(inst, price - half, ROUND_FLOOR), inst.tick_size)
        final = spread_px
        if model.impact is not None:
            sigma = float(at[0].sigma[at[1]]) if at is not None else math.nan
            adv = float(at[0].adv[at[1]]) if at is not None else math.nan
            if math.isfinite(sigma) and math.isfinite(adv) and adv > 0:
                move = sqrt_impact(model.impact, sigma, qty, adv)
                final = _on_tick(inst, spread_px * (1 + move), ROUND_CEILING) if buy else max(
                    _on_tick(inst, spread_px * (1 - move), ROUND_FLOOR), inst.tick_size)
            else:
                costs.impact_unestimated += 1
        limit = w.limit
        if limit is not None and (w.order.type is OrderType.LIMIT or w.order.type is OrderType.STOP_LIMIT):
            final = min(final, limit) if buy else max(final, limit)
            spread_px = min(spread_px, final) if buy else max(spread_px, final)
        mult = inst.multiplier
        costs.spread += abs(spread_px - price) * qty * mult
        costs.impact += abs(final - spread_px) * qty * mult
        SimBroker._fill(self, w, qty, final, t)
        if ioc_fok and self._book.get(w.order.client_id) is w:
            self._cancel(w, t, f"IOC: {w.remaining} of {w.qty} unfilled (the bar's volume share)")

    def _half_spread(self, source: str, price: Decimal, at: tuple[ModelInputs, int] | None) -> Decimal | None:
        """Half the spread of a fill at ``price``: the quoted one when a quote is known at the
        bar's open, else (``auto``) Corwin-Schultz's estimate; each fill counted by its source."""
        costs = self.costs
        quoted = at[0].quoted if at is not None else None
        if quoted is not None:
            width = float(quoted[at[1]])  # type: ignore[index]
            if width == width:  # (not NaN: a quote is known)
                costs.quoted_spread_fills += 1
                return Decimal(repr(width)) / 2
        if source == "quotes":
            costs.unquoted_fills += 1
            return None
        costs.estimated_spread_fills += 1
        if at is None:
            return None
        return price * Decimal(repr(float(at[0].spread[at[1]]))) / 2

    def _price(self, inst, value: float, what: str) -> Decimal:
        """A bar's float price as the Decimal on the instrument's tick (prices repeat: remembered)."""
        key = (inst.symbol, value)
        d = self._prices.get(key)
        return d if d is not None else self._prices.keep(key, _on_tick(inst, to_decimal(value, what)))

    def _match_open_only(self, w: _Working, o: Decimal, ts: float) -> None:
        kind = w.order.type
        if kind is OrderType.MARKET:
            self._fill(w, w.remaining, self._slipped(w, o), ts)
            return
        assert w.limit is not None
        if o <= w.limit if w.buy else o >= w.limit:
            price = self._slipped(w, o)
            self._fill(w, w.remaining, min(price, w.limit) if w.buy else max(price, w.limit), ts)
        else:
            self._cancel(w, ts, f"{w.order.tif.value.upper()}: the open {o} does not reach the limit {w.limit}")

    def _match_bar(self, w: _Working, bar: tuple[Decimal, Decimal, Decimal], ts: float) -> None:
        o, h, lo = bar
        buy = w.buy
        kind = w.order.type
        if kind in _STOPS and not w.triggered:
            self._trail(w, o, o)
            stop = w.stop
            assert stop is not None
            if o >= stop if buy else o <= stop:
                trigger = o
            elif h >= stop if buy else lo <= stop:
                trigger = stop
            else:
                self._trail(w, h, h) if not buy else self._trail(w, lo, lo)
                return
            w.triggered = True
            if kind is not OrderType.STOP_LIMIT:
                self._fill(w, w.remaining, self._slipped(w, trigger), ts)
                return
            self._limit(w, trigger, h, lo, ts)
            return
        if kind is OrderType.MARKET or (kind is not OrderType.LIMIT and kind is not OrderType.STOP_LIMIT):
            self._fill(w, w.remaining, self._slipped(w, o), ts)
            return
        self._limit(w, o, h, lo, ts)

    def _limit(self, w: _Working, first: Decimal, h: Decimal, lo: Decimal, ts: float) -> None:
        """A limit meeting ``first`` (the open, or a stop-limit's trigger), then the bar's range."""
        limit = w.limit
        assert limit is not None
        if w.buy:
            if first <= limit:
                self._fill(w, w.remaining, min(self._slipped(w, first), limit), ts)
            elif lo <= limit:
                self._fill(w, w.remaining, limit, ts)
        else:
            if first >= limit:
                self._fill(w, w.remaining, max(self._slipped(w, first), limit), ts)
            elif h >= limit:
                self._fill(w, w.remaining, limit, ts)


def tick_from_prices(*columns: object, max_decimals: int = 8) -> Decimal:
    """The coarsest tick (``10**-d``) on which every price of ``columns`` lies: a file's
    precision (``2.179012`` -> ``0.000001``, ``3578.73`` -> ``0.01``)."""
    import numpy as np

    values = np.concatenate([np.asarray(c, dtype=np.float64).ravel() for c in columns])
    for d in range(max_decimals + 1):
        scaled = values * 10.0**d
        err = np.abs(scaled - np.round(scaled))
        if np.all(err <= np.maximum(1e-6, np.abs(scaled) * 1e-12)):
            return Decimal(1).scaleb(-d)
    return Decimal(1).scaleb(-max_decimals)


__all__ = ["BarSimBroker", "SimConfig", "tick_from_prices"]
