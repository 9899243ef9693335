"""Build the broker a profile names. SDK adapters are imported only when chosen."""

from __future__ import annotations

from brokers.base import Broker
from workstation.core.clock import Clock
from workstation.core.config import ConfigError, Profile


def create_broker(profile: Profile, clock: Clock) -> Broker:
    if profile.broker == "sim":
        from brokers.paper.broker import SimBroker, SimConfig

        s = profile.sim
        config = SimConfig(
            seed=s.seed, tick_hz=s.tick_hz, calendar=s.calendar, slippage_bps=s.slippage_bps,
            commission_per_share=s.commission_per_share, commission_min=s.commission_min,
            commission_pct=s.commission_pct, partial_fills=s.partial_fills, depth=s.depth,
        )
        from brokers.paper.market import shipped_universe
        from brokers.paper.universe import UniverseError

        try:
            universe = shipped_universe().extended_by(s.universe.universe, s.universe.symbols)
        except UniverseError as exc:
            raise ConfigError(f"[paper] {exc}") from None
        return SimBroker(clock, config, universe=universe)
    if profile.broker == "ccxt":
        from brokers.exchanges.adapter import CcxtBroker, CcxtConfig

        return CcxtBroker(CcxtConfig.from_options(profile.options), clock, name=profile.name, base_currency=profile.base_currency)
    if profile.broker == "alpaca":
        from brokers.alpaca import AlpacaBroker

        return AlpacaBroker(profile, clock)
    if profile.broker == "ib":
        from brokers.ib.adapter import IBBroker, IBConfig

        return IBBroker(IBConfig.from_profile(profile), clock)
    raise ConfigError(f"profile {profile.name!r} names broker {profile.broker!r}, which this version does not have (available: sim, alpaca, ib, ccxt)")
