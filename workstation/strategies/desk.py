"""The strategies a face (the workstation) manages: rows to show, intents to start, stop,
pause and re-parameterise them. Headless: no Textual here.

Instances come from ``[[strategies]]`` in the settings file. A plugin that fails to load, or
an entry whose plugin or parameters are wrong, becomes an alert naming it; the others run.
Intents that cannot be carried out raise ``IntentError`` with one readable line.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from workstation.core.model import IntentError
from workstation.core.config import StrategySettings
from workstation.core.model import ZERO, AlertRaised, ModelError
from workstation.strategies.api import Param, StrategyState, show_value
from workstation.strategies.plugins import Discovery, discover
from workstation.strategies.runner import StrategyRunner, loop_history


class StrategyRow(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    plugin: str
    state: str
    symbols: tuple[str, ...]
    allocation: str | None
    pnl: Decimal
    trades: int
    message: str = ""


class ParamRow(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    value: str
    kind: str
    range: str
    description: str


def param_range(p: Param) -> str:
    if p.choices:
        return " | ".join(show_value(c) for c in p.choices)
    if p.min is not None and p.max is not None:
        return f"{show_value(p.min)} .. {show_value(p.max)}"
    if p.min is not None:
        return f">= {show_value(p.min)}"
    if p.max is not None:
        return f"<= {show_value(p.max)}"
    return ""


class StrategyDesk:
    def __init__(
        self,
        session: Any,
        configs: list[StrategySettings] | tuple[StrategySettings, ...] = (),
        *,
        discovery: Discovery | None = None,
        config_path: Any = None,
    ) -> None:
        self._s = session
        self._configs = list(configs)
        self._discovery = discovery
        self._config_path = config_path
        self.runner: StrategyRunner | None = None

    async def open(self) -> None:
        """Load plugins, create the configured instances, start the ones marked autostart."""
        import asyncio

        s = self._s
        found = self._discovery or discover(config=self._config_path)
        for err in found.errors:
            self._alert("Strategy plugin not loaded", str(err))
        self.runner = StrategyRunner(
            bus=s.bus, oms=s.oms, portfolio=s.portfolio, clock=s.clock, delivery="thread",
            history=loop_history(s.broker, asyncio.get_running_loop(), s.clock), feed=s.broker.subscribe,
        )
        self.runner.attach()
        self.runner.start_ticker(0.2)
        if s.killswitch.stop_strategies is None:  # the kill switch stops every strategy first
            s.killswitch.stop_strategies = self.runner.stop_all
        for cfg in self._configs:
            spec = found.plugins.get(cfg.plugin)
            if spec is None:
                self._alert("Strategy not created", f"[[strategies]] names plugin {cfg.plugin!r}, which is not loaded")
                continue
            try:
                inst = self.runner.add(
                    spec.cls, cfg.params, symbols=cfg.symbols, name=cfg.name, allocation=cfg.allocation,
                    origin=(spec.module, spec.path, spec.qualname),
                )
            except ModelError as exc:
                self._alert("Strategy not created", f"{cfg.name or cfg.plugin}: {exc}")
                continue
            if cfg.autostart:
                await self.runner.start(inst.name)

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.stop_all(cancel_orders=True)
            self.runner.detach()

    def _alert(self, title: str, message: str) -> None:
        self._s.bus.publish(AlertRaised(title=title, message=message, priority="high", source="strategies", ts=self._s.clock.time()))

    # -- reads
    def rows(self) -> list[StrategyRow]:
        if self.runner is None:
            return []
        out = []
        for st in self.runner.status():
            inst = self.runner.instances[st.name]
            out.append(
                StrategyRow(
                    name=st.name, plugin=st.plugin, state="stopped" if st.state == "created" else st.state, symbols=st.symbols, allocation=st.allocation,
                    pnl=st.pnl, trades=st.trades, message=st.error or (inst.logs[-1] if inst.logs else ""),
                )
            )
        return out

    def params(self, name: str) -> list[ParamRow]:
        inst = self._inst(name)
        return [
            ParamRow(name=p.name, value=show_value(inst.params[p.name]), kind=_kind(p), range=param_range(p), description=p.description)
            for p in inst.cls.parameters().values()
        ]

    def check_params(self, name: str, raw: dict[str, str]) -> str | None:
        """The sentence saying what is wrong with these values, or None when they are valid."""
        inst = self._inst(name)
        try:
            inst.cls.validate_params({**inst.params, **raw})
        except ModelError as exc:
            return str(exc)
        return None

    def _inst(self, name: str):
        if self.runner is None or name not in self.runner.instances:
            raise IntentError(f"no strategy named {name!r}")
        return self.runner.instances[name]

    def pnl(self) -> Decimal:
        return sum((r.pnl for r in self.rows()), ZERO)

    # -- intents
    async def start(self, name: str) -> None:
        inst = self._inst(name)
        if inst.state is StrategyState.PAUSED:
            self.runner.resume(name)
        else:
            await self.runner.start(name)

    async def stop(self, name: str) -> None:
        self._inst(name)
        await self.runner.stop(name)

    def pause(self, name: str) -> str:
        """Pause a running instance, resume a paused one; returns the new state."""
        inst = self._inst(name)
        if inst.state is StrategyState.RUNNING:
            self.runner.pause(name)
        elif inst.state is StrategyState.PAUSED:
            self.runner.resume(name)
        else:
            raise IntentError(f"strategy {name} is {inst.state.value}: start it first")
        return inst.state.value

    async def set_params(self, name: str, raw: dict[str, str]) -> None:
        self._inst(name)
        try:
            await self.runner.set_params(name, raw)
        except ModelError as exc:
            raise IntentError(str(exc)) from None


def _kind(p: Param) -> str:
    from workstation.strategies.api import type_name

    return type_name(p.type)
