"""One engine session for one profile: the parts, wired together, and its start and stop.

``Session`` holds the parts (bus, quote cache, journal, portfolio, risk, order manager,
broker) as attributes; callers use the parts directly. Start-up rebuilds state from the
journal: orders come back into the order manager, fills are replayed into the portfolio
(which therefore matches an independent recomputation), and working paper orders go back
into the simulated market, which matches them against the current quotes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from brokers.base import Broker
from brokers.factory import create_broker
from workstation.bus import Bus
from workstation.clock import Clock, LiveClock
from workstation.config import Profile, Settings, data_dir
from workstation.journal import Journal
from workstation.marketdata import QuoteCache
from workstation.model import ConnectionState, Instrument, OrderStatus, Quote
from workstation.oms import OrderManager
from workstation.portfolio import Portfolio
from workstation.risk import PreTradeRisk, RiskLimits
from workstation.symbols import parse_symbol


CHECKPOINT_S = 10.0


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


@dataclass
class Session:
    profile: Profile
    settings: Settings
    clock: Clock
    bus: Bus
    quotes: QuoteCache
    journal: Journal
    portfolio: Portfolio
    risk: PreTradeRisk
    oms: OrderManager
    broker: Broker
    data_dir: Path
    connection: ConnectionState | None = None
    _tasks: set = field(default_factory=set)

    @classmethod
    def build(
        cls,
        settings: Settings,
        profile_name: str | None = None,
        *,
        data_root: str | Path | None = None,
        clock: Clock | None = None,
        broker: Broker | None = None,
        journal_path: Path | None = None,
    ) -> Session:
        profile = settings.profile(profile_name)
        clock = clock or LiveClock()
        root = data_dir(data_root) / profile.name
        journal = Journal(journal_path or root / "journal.sqlite", synchronous=profile.journal_sync)
        now = clock.time()
        created = float(journal.ensure_meta("created", repr(now)))
        initial = Decimal(journal.ensure_meta("initial_cash", str(profile.initial_cash)))
        prefix = journal.ensure_meta("client_prefix", f"ws{_base36(int(created * 1000))}")
        bus = Bus()
        quotes = QuoteCache(bus, profile.base_currency)
        broker = broker or create_broker(profile, clock)
        oms_ref: list[OrderManager] = []

        def instrument(symbol: str) -> Instrument:
            # the order manager holds the broker's metadata once it has looked a symbol up
            return oms_ref[0].instrument_cached(symbol) if oms_ref else parse_symbol(symbol)

        portfolio = Portfolio(
            base_currency=profile.base_currency, initial_cash=initial, instrument=instrument,
            rate=quotes.rate, margin=profile.account_type == "margin", leverage=profile.leverage,
        )
        for amount, currency, _reason in journal.cash_entries():
            portfolio.adjust_cash(amount, currency)
        risk = PreTradeRisk(portfolio, RiskLimits(), working_orders=lambda: oms_ref[0].working() if oms_ref else [])
        commission = getattr(broker, "estimate_commission", None)
        oms = OrderManager(
            bus=bus, journal=journal, portfolio=portfolio, broker=broker, clock=clock, risk=risk,
            quotes=quotes, client_prefix=prefix, commission=commission,
        )
        oms_ref.append(oms)
        for fill in journal.fills():
            portfolio.apply_fill(fill)
        recent = now - 86_400
        oms.restore([o for o in journal.orders() if not o.status.is_terminal or o.updated >= recent])
        bus.subscribe(Quote, portfolio.on_quote)
        session = cls(
            profile=profile, settings=settings, clock=clock, bus=bus, quotes=quotes, journal=journal,
            portfolio=portfolio, risk=risk, oms=oms, broker=broker, data_dir=root,
        )
        broker.attach(oms.on_report, quotes.on_quote, session._on_state)
        return session

    def _on_state(self, state: ConnectionState) -> None:
        previous = self.connection
        self.connection = state
        self.bus.publish(state)
        # back from a drop (not the first connect: start() resyncs that one itself)
        if state.state == "connected" and previous is not None and previous.state in ("reconnecting", "disconnected"):
            self._spawn(self.resync())

    async def resync(self) -> list[str]:
        """Reconcile orders, fills and positions with the broker (see workstation.reconcile)."""
        from workstation.reconcile import resync

        return await resync(
            broker=self.broker, oms=self.oms, portfolio=self.portfolio, journal=self.journal,
            clock=self.clock, bus=self.bus,
        )

    def held_symbols(self) -> list[str]:
        return [p.symbol for p in self.portfolio.positions()]

    async def start(self, symbols: list[str] | tuple[str, ...] = (), *, feed: bool = True) -> None:
        """Connect the broker, put working orders back in the market, mark positions."""
        if feed or self.broker.keeps_account:
            await self.broker.connect()
        if self.broker.keeps_account:
            await self.resync()
        working = [o for o in self.oms.working() if o.status is not OrderStatus.NEW]
        restore = getattr(self.broker, "restore", None)
        if restore is not None and working:
            restore(working)
        wanted = list(dict.fromkeys([*symbols, *self.held_symbols()]))
        currencies = {self.oms.instrument_cached(s).currency for s in wanted}
        wanted += [s for s in self.quotes.fx_symbols(currencies) if s not in wanted]
        for sym in wanted:
            snap = self.broker.snapshot(sym)
            if snap is not None:
                self.quotes.on_quote(snap)
        if wanted:
            await self.broker.subscribe(wanted)
        await self.oms.drain()
        self._spawn(self._checkpoints())

    def _spawn(self, coro) -> None:
        import asyncio

        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _checkpoints(self, every: float = CHECKPOINT_S) -> None:
        """Fold the journal's write-ahead log into the database, off the trading path."""
        import asyncio

        while True:
            await asyncio.sleep(every)
            await asyncio.to_thread(self.journal.checkpoint)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.oms.drain()
        await self.broker.close()
        self.journal.close()
