"""Historical replays on today's book: ``[[stress.replays]]`` and ad-hoc windows.

A replay is a named window of days (``2008-10-06..2008-10-10``, both inclusive). Each held
symbol (an option: its underlying) moves as it did over the window, from the close before it
starts to the close of its last day, measured on the broker's daily bars
(``Broker.history``: the same source the VaR model reads: the paper market's simulated days,
replay files or the broker's history); ``workstation.risk.stress.replay`` builds the scenario
(a held symbol without bars in the window takes its index family's, its sector's or every
measured symbol's move, said in the row's notes) and ``stress.run`` prices it like any other
scenario (options revalued by the model).

A window where no held symbol has a bar is still a row: P&L 0, no share of equity, and a note
saying it was not measured (``StressResult.measured`` False); it never fails the report.

``stress_results(session)`` is what every face and the stress-loss limit see: the shipped
scenarios, the user's, then the configured replays (``max_stress_loss`` counts them).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from workstation.core.model import ZERO, AssetClass, Bar
from workstation.core.sectors import SectorMap
from workstation.risk.stress import (
    ETF_OF_INDEX, INDEX_OF_FUTURE, StressError, StressInputs, StressResult, inputs_from_session, parse_window, replay,
    run, run_all, scenarios,
)

__all__ = ["Replay", "ad_hoc", "configured", "run_replays", "stress_results"]

DAY = 86_400
BEFORE = 10  # calendar days asked for before a window's start (the close before it)
WINDOW_BARS = 256  # (symbol, window) entries a cache keeps


@dataclass(frozen=True, slots=True)
class Replay:
    """A named window of days to replay, both inclusive."""

    name: str
    start: date
    end: date
    description: str = ""

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def configured(settings: Any) -> list[Replay]:
    """The user's ``[[stress.replays]]`` (already validated), in order."""
    out = []
    for r in settings.stress.replays:
        start, end = parse_window(r.window)
        out.append(Replay(r.name, start, end, r.description))
    return out


def ad_hoc(text: str) -> Replay:
    """A replay named for its window (``replay 2008-10-06..2008-10-10``); StressError, one line, for a bad window."""
    start, end = parse_window(text)
    return Replay(f"replay {start.isoformat()}..{end.isoformat()}", start, end)


def _symbols(inputs: StressInputs) -> list[str]:
    """The symbols whose moves the book takes (an option's underlying, not the option)."""
    out = []
    for h in inputs.holdings:
        inst = h.underlying if h.instrument.asset_class is AssetClass.OPTION and h.underlying is not None else h.instrument
        out.append(inst.symbol)
    return list(dict.fromkeys(out))


def _family(symbol: str) -> str | None:
    """An index future's ETF (asked for when the contract itself has no bars in the window)."""
    index = INDEX_OF_FUTURE.get(symbol.split("-", 1)[0])
    return ETF_OF_INDEX[index] if index else None


async def run_replays(
    inputs: StressInputs, chosen: Iterable[Replay], history: Any, *, sectors: SectorMap | None = None,
    cache: MutableMapping[tuple[str, date, date, float], list[Bar]] | None = None, now: float | None = None,
) -> list[StressResult]:
    """Each replay of ``chosen`` applied to ``inputs``, in order; ``history`` is
    ``Broker.history``; ``cache`` keeps each (symbol, window)'s bars (a past window's bars do
    not change) so a monitor that measures every minute asks the broker once; ``now``: the
    engine's clock (no bar is asked for after it: a window still to come has none)."""
    held = _symbols(inputs)
    out = []
    for r in chosen:
        lo = datetime.combine(r.start - timedelta(days=BEFORE), time(), UTC).timestamp()
        hi = datetime.combine(r.end + timedelta(days=1), time(), UTC).timestamp()
        if now is not None:
            hi = min(hi, now)

        async def bars_of(symbol: str, r: Replay = r, lo: float = lo, hi: float = hi) -> list[Bar]:
            key = (symbol, r.start, r.end, hi)
            if cache is not None and key in cache:
                return cache[key]
            try:
                got = list(await history(symbol, DAY, lo, hi))
            except Exception:  # (any adapter's failure: the symbol has no bars in the window, and is said so)
                got = []
            if cache is not None:
                cache[key] = got
                while len(cache) > WINDOW_BARS:
                    del cache[next(iter(cache))]
            return got

        bars: dict[str, list[Bar]] = {}
        for sym in held:
            got = await bars_of(sym)
            etf = _family(sym)
            if not got and etf is not None and etf not in bars:
                bars[etf] = await bars_of(etf)
            bars[sym] = got
        try:
            scenario = replay(bars, (r.start, r.end), held=held, sectors=sectors, name=r.name)
        except StressError:
            out.append(_unmeasured(inputs, r))
            continue
        result = run(inputs, scenario)
        out.append(_with(result, r, r.description or scenario.description))
    return out


def _with(result: StressResult, r: Replay, description: str) -> StressResult:
    from dataclasses import replace

    return replace(result, description=description, window=r.label)


def _unmeasured(inputs: StressInputs, r: Replay) -> StressResult:
    return StressResult(
        scenario=r.name, description=r.description or f"each symbol's move over {r.label}", base=inputs.base,
        equity=inputs.equity, pnl=ZERO, pnl_pct=None, positions=(), by_sector=(), by_asset_class=(),
        notes=(f"no daily bars in {r.label} for any held symbol: not measured",), window=r.label, measured=False,
    )


async def stress_results(session: Any, extra: Sequence[Replay] = (), *, cache: Any = None) -> list[StressResult]:
    """A ``Session``'s book under the shipped scenarios, the user's, its configured replays and
    ``extra`` replays (ad-hoc windows), in that order. ``cache``: a ``ReturnCache`` (its
    ``windows`` keep the replays' bars)."""
    inputs = inputs_from_session(session)
    results = run_all(inputs, scenarios(session.settings))
    chosen = [*configured(session.settings), *extra]
    if chosen:
        windows = cache.windows if cache is not None else None
        results += await run_replays(inputs, chosen, session.broker.history,
                                     sectors=SectorMap(session.settings.sectors), cache=windows,
                                     now=session.clock.time())
    return results
