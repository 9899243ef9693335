"""Commands for risk, the kill switch and alerts: ``risk show|set|reset-breaker|report``, ``kill``,
``alert add|list|enable|disable|edit|rm|log|ack|test``; and the risk section of ``status``.

Hooked into the main app by ``register(app)`` (see ``workstation.cli.app``).
"""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Annotated, Any

import msgspec
import typer

from workstation.cli.account import with_session

from workstation.cli.common import (
    CliError, Col, ConfigOpt, DataDirOpt, JsonOpt, ProfileOpt, WideOpt, console, emit_json, escape, fitted_table, open_view, print_table,
)
from workstation.core.model import ModelError, iso, plain
from workstation.trading.status import recent_rejections  # noqa: F401 (status prints them)

CENT = Decimal("0.01")
from workstation.risk.checks import RiskRow, RiskStatus, fmt_money

risk_app = typer.Typer(help="Risk limits and the circuit breaker.", rich_markup_mode=None)
alert_app = typer.Typer(help="Alert rules and the alert log.", rich_markup_mode=None)

YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (for scripts).")]
StrategyOpt = Annotated[str | None, typer.Option("--strategy", help="Per-strategy limits of this strategy tag.")]


def _confirm(question: str, what: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{what} needs confirmation: run it in a terminal or pass --yes", 2)
    if not typer.confirm(question):
        raise CliError(f"{what} canceled", 1)


# --------------------------------------------------------------------------- status rows


def show_number(r: RiskRow, value: Any) -> str:
    if value is None:
        return "off"
    if r.unit == "$":
        return fmt_money(value)
    if r.unit == "%":
        return f"{value:.2f}%"
    return plain(value) or "0"


def status_doc(status: RiskStatus) -> dict[str, Any]:
    return {
        "breaker": {"tripped": status.breaker.tripped, "reason": status.breaker.reason,
                    "since": iso(status.breaker.since) if status.breaker.tripped else None},
        "trading_halted": status.trading_halted,
        "equity": status.equity,
        "start_of_day_equity": status.start_of_day_equity,
        "day_pnl": status.day_pnl,
        "daily_loss_limit": status.daily_loss_limit,
        "drawdown_pct": status.drawdown_pct.quantize(CENT),
        "orders_per_minute": status.orders_per_minute,
        "filtered_quotes": status.filtered_quotes,
        "limits": [
            {"name": r.name, "used": r.used.quantize(CENT), "limit": r.limit, "unit": r.unit, "state": r.state, "detail": r.detail}
            for r in status.rows
        ],
    }


_RISK_COLS = [Col("Limit", 0, wrap=True), Col("Used", right=True), Col("Max", right=True), Col("Use", 1, right=True), Col("State")]


def print_status(status: RiskStatus, rejections: list[str] | None = None, wide: bool = False) -> None:
    con = console()
    b = status.breaker
    if b.tripped:
        con.print(f"[bold white on red] CIRCUIT BREAKER TRIPPED [/] {b.reason} (since {iso(b.since)}): opening orders are refused")
    else:
        con.print("circuit breaker [green]ok[/]" + ("   [bold red]trading halted[/]" if status.trading_halted else ""))
    con.print(
        f"day P&L {fmt_money(status.day_pnl)} (start of day {fmt_money(status.start_of_day_equity)}"
        + (f", loss limit {fmt_money(status.daily_loss_limit)})" if status.daily_loss_limit is not None else ")")
        + f"   drawdown {status.drawdown_pct:.2f}%   orders/min {status.orders_per_minute}"
        + (f"   filtered quotes {status.filtered_quotes}" if status.filtered_quotes else "")
    )
    colours = {"ok": "green", "near": "yellow", "breach": "bold red", "off": "dim"}
    rows = []
    for r in status.rows:
        frac = r.fraction
        name = f"{r.name} ({r.detail})" if r.detail else r.name
        rows.append([
            escape(name), show_number(r, r.used), show_number(r, r.limit), f"{frac * 100:.0f}%" if frac is not None else "",
            f"[{colours[r.state]}]{r.state}[/]",
        ])
    print_table(fitted_table("Risk", _RISK_COLS, rows, wide), wide)
    if rejections:
        con.print("recent rejections:")
        for line in rejections:
            con.print(f"  [red]{line}[/]")


# --------------------------------------------------------------------------- risk


@risk_app.command("show")
def risk_show(
    strategy: StrategyOpt = None,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Every limit (value and where it comes from), current use, breaker state."""

    async def body(session) -> dict[str, Any]:
        return {
            "profile": session.profile.name,
            "strategy": strategy,
            "settings": [{"name": n, "value": v, "source": src} for n, v, src in session.limits.rows(strategy)],
            "strategies": session.limits.strategies(),
            "status": session.monitor.status(),
        }

    doc = with_session(profile, config, data_dir_, body, mode="view")
    status: RiskStatus = doc.pop("status")
    if json_out:
        emit_json({**doc, "status": status_doc(status)})
        return
    table = fitted_table(
        f"Risk limits: profile {doc['profile']}" + (f", strategy {strategy}" if strategy else ""),
        [Col("Name"), Col("Value", right=True), Col("Source", wrap=True)],
        [[escape(item["name"]), escape(str(item["value"])), escape(item["source"])] for item in doc["settings"]], wide,
    )
    con = console()
    print_table(table, wide)
    if doc["strategies"]:
        con.print("strategies with their own limits: " + ", ".join(doc["strategies"]))
    print_status(status, wide=wide)


@risk_app.command("set")
def risk_set(
    name: Annotated[str, typer.Argument(help="Limit name (see `risk show`).")],
    value: Annotated[str, typer.Argument(help="New value; 'off' removes the limit, 'default' returns to the settings file.")],
    strategy: StrategyOpt = None,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Change one limit now; journaled, and in force for every later command."""

    async def body(session) -> str:
        try:
            session.set_limit(name, value, strategy)
        except ModelError as exc:
            raise CliError(str(exc), 2) from None
        limits = session.limits.limits_for(strategy)
        from workstation.core.limits import show

        return show(getattr(limits, name))

    async def remote(engine) -> str:
        return await engine.risk_set(name, value, strategy)

    shown = with_session(profile, config, data_dir_, body, remote=remote, refused_code=2)
    console().print(f"{name} = {shown}" + (f" for strategy {strategy}" if strategy else "") + " (journaled)")


@risk_app.command("reset-breaker")
def risk_reset_breaker(
    yes: YesOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Reset a tripped circuit breaker (refused while the breach persists)."""
    from workstation.risk.breaker import RiskError

    async def remote(engine) -> str:
        doc = await engine.status()
        risk = doc.get("risk", {})
        if not risk.get("breaker", {}).get("tripped"):
            raise CliError("the circuit breaker is not tripped", 1)
        _confirm(f"The breaker tripped on: {risk['breaker'].get('reason', '')}. Reset it and accept opening orders again?", "reset-breaker", yes)
        return await engine.reset_breaker()

    async def body(session) -> str:
        try:
            if not session.breaker.tripped:
                raise CliError("the circuit breaker is not tripped", 1)
            reason = session.breaker.info.reason
            breaches = session.monitor.breaches()
            if breaches:
                raise CliError(f"cannot reset the circuit breaker while the breach persists: {breaches[0]} (raise the limit first)", 1)
            _confirm(f"The breaker tripped on: {reason}. Reset it and accept opening orders again?", "reset-breaker", yes)
            session.reset_breaker(confirmed=True, who="cli")
            return reason
        except RiskError as exc:
            raise CliError(str(exc), 1) from None

    reason = with_session(profile, config, data_dir_, body, remote=remote)
    console().print(f"circuit breaker reset (it had tripped on: {reason})")


# --------------------------------------------------------------------------- kill


def kill(
    yes: YesOpt = False,
    reason: Annotated[str, typer.Option("--reason", help="Why (journaled).")] = "kill switch from the command line",
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Cancel every working order, flatten every position at market, trip the breaker."""
    _confirm("Cancel every order, flatten every position at market and trip the circuit breaker?", "kill", yes)

    async def body(session):
        return await session.kill(reason, who="cli")

    async def remote(engine):  # a serving engine: the kill switch runs there
        from workstation.risk.killswitch import KillReport

        return msgspec.convert(await engine.kill(reason), KillReport, strict=False)

    report = with_session(profile, config, data_dir_, body, remote=remote)
    if json_out:
        emit_json(msgspec.structs.asdict(report))
    else:
        con = console()
        con.print(
            f"[bold white on red] KILLED [/] {len(report.canceled)} orders canceled, "
            f"{len(report.flatten_orders)} flatten orders sent; circuit breaker tripped"
        )
        for err in report.errors:
            con.print(f"[red]problem: {err}[/]")
    if report.errors:
        raise CliError(f"kill switch finished with {len(report.errors)} problem(s): {report.errors[0]}", 1)


# --------------------------------------------------------------------------- alerts


def _alerts_view(profile, config, data_dir_, fn):
    """``fn(view)`` on a read-only view of the account (the journal's alerts and rules)."""

    async def body(session):
        return fn(session)

    return with_session(profile, config, data_dir_, body, mode="view")


def _alerts_owned(profile, config, data_dir_, fn, remote):
    """``fn(session)`` as the account's owner, or ``remote(engine)`` through it."""

    async def body(session):
        return fn(session)

    return with_session(profile, config, data_dir_, body, remote=remote, refused_code=2)


@alert_app.command("add")
def alert_add(
    rule: Annotated[str, typer.Argument(help="e.g. \"AAPL > 200\", \"AAPL move 3% 5m\", \"pnl < -1000 priority high\".")],
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Add an alert rule (journaled; in force for the workstation and every later command)."""
    from workstation.core.alert_rules import AlertRuleError, parse_rule

    try:
        parse_rule(rule)
    except AlertRuleError as exc:
        raise CliError(str(exc), 2) from None
    async def remote(engine):
        return await engine.alert_rule("add", rule)

    def add(session):
        added = session.alerts.add_rule(rule)
        return {"id": added.id, "text": added.text}

    added = _alerts_owned(profile, config, data_dir_, add, remote)
    console().print(f"alert {added['id']}: {added['text']}")


@alert_app.command("list")
def alert_list(
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """The alert rules (settings file and added ones, enabled or not), each with its statistics
    from the journal: times fired, when it last fired, firings held back by its cooldown, and
    whether it waits for its condition to be false before it can fire again."""
    rules = _alerts_view(profile, config, data_dir_, lambda s: s.alerts.statuses())
    if json_out:
        emit_json([
            {"id": r.id, "rule": r.text, "origin": r.origin, "enabled": r.enabled, "fired": r.fired,
             "last_fired": iso(r.last_fired) if r.last_fired is not None else None, "suppressed": r.suppressed, "armed": r.armed}
            for r in rules
        ])
        return
    con = console()
    if not rules:
        con.print("no alert rules (add one: main.py alert add \"AAPL > 200\")")
        return
    print_table(fitted_table("Alert rules", [
        Col("id"), Col("state"), Col("rule", wrap=True), Col("fired", right=True), Col("last fired", keep=2),
        Col("suppressed", keep=1, right=True),
    ], [
        [r.id, ("on" if r.enabled else "off") + ("" if r.armed else " (re-arms once false)"),
         escape(r.text) + ("  (settings file)" if r.origin == "settings" else ""), str(r.fired),
         iso(r.last_fired) if r.last_fired is not None else "-", str(r.suppressed)]
        for r in rules
    ], wide), wide)


def _rule_op(op: str, text: str, profile, config, data_dir_) -> dict[str, str]:
    """Enable, disable or edit a rule as the account's owner, or through it when one runs."""
    from workstation.core.alert_rules import AlertRuleError

    def local(session):
        try:
            if op == "edit":
                rule_id, _, new = text.partition(" ")
                rule = session.alerts.edit_rule(rule_id, new)
            else:
                rule = session.alerts.set_enabled(text, op == "enable")
        except AlertRuleError as exc:
            raise CliError(str(exc), 2) from None
        return {"id": rule.id, "text": rule.text}

    async def remote(engine):
        return await engine.alert_rule(op, text)

    return _alerts_owned(profile, config, data_dir_, local, remote)


RuleIdArg = Annotated[str, typer.Argument(metavar="ID", help="A rule id from `alert list` (u1, s1...).")]


@alert_app.command("disable")
def alert_disable(rule_id: RuleIdArg, profile: ProfileOpt = None, config: ConfigOpt = None, data_dir_: DataDirOpt = None) -> None:
    """Stop a rule from firing without deleting it (it keeps its id and statistics); journaled."""
    done = _rule_op("disable", rule_id.strip(), profile, config, data_dir_)
    console().print(f"disabled alert {done['id']}: {done['text']}")


@alert_app.command("enable")
def alert_enable(rule_id: RuleIdArg, profile: ProfileOpt = None, config: ConfigOpt = None, data_dir_: DataDirOpt = None) -> None:
    """Let a disabled rule fire again; journaled."""
    done = _rule_op("enable", rule_id.strip(), profile, config, data_dir_)
    console().print(f"enabled alert {done['id']}: {done['text']}")


@alert_app.command("edit")
def alert_edit(
    rule_id: RuleIdArg,
    rule: Annotated[str, typer.Argument(help="The new rule, e.g. \"AAPL > 210\" or \"AAPL rsi14 < 25 priority high\".")],
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Change a rule's condition (or priority, cooldown, bars), keeping its id and statistics; journaled."""
    from workstation.core.alert_rules import AlertRuleError, parse_rule

    try:
        parse_rule(rule)
    except AlertRuleError as exc:
        raise CliError(str(exc), 2) from None
    done = _rule_op("edit", f"{rule_id.strip()} {rule}", profile, config, data_dir_)
    console().print(f"alert {done['id']}: {done['text']}")


@alert_app.command("rm")
def alert_rm(
    rule_id: Annotated[str, typer.Argument(metavar="ID", help="A rule id from `alert list` (u1, u2...).")],
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Remove an alert rule."""
    from workstation.core.alert_rules import AlertRuleError

    def remove(session):
        try:
            removed = session.alerts.remove_rule(rule_id.strip())
        except AlertRuleError as exc:
            raise CliError(str(exc), 2) from None
        return {"id": removed.id, "text": removed.text}

    async def remote(engine):
        return await engine.alert_rule("rm", rule_id)

    removed = _alerts_owned(profile, config, data_dir_, remove, remote)
    console().print(f"removed alert {removed['id']}: {removed['text']}")


@alert_app.command("log")
def alert_log(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many of the newest.")] = 20,
    unacked: Annotated[bool, typer.Option("--unacked", help="Only alerts not yet acknowledged.")] = False,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """The latest alerts from the journal, newest first (``*``: not acknowledged yet)."""
    alerts = _alerts_view(profile, config, data_dir_, lambda s: list(s.alerts.recent))
    if unacked:
        alerts = [a for a in alerts if not a.acked]
    alerts = sorted(alerts, key=lambda a: (a.ts, a.id), reverse=True)
    alerts = alerts[:limit] if limit > 0 else alerts
    if json_out:
        emit_json([{**msgspec.structs.asdict(a), "ts": iso(a.ts)} for a in alerts])
        return
    con = console()
    if not alerts:
        con.print("no alerts")
    colours = {"low": "dim", "normal": "white", "high": "yellow", "critical": "bold red"}
    for a in alerts:
        mark, level = (" ", "acked") if a.acked else ("*", a.priority)
        con.print(f"{mark} {a.id:>5} {iso(a.ts)} [{colours.get(a.priority, 'white')}]{level:<8} {a.title}[/]: {a.message}")


@alert_app.command("ack")
def alert_ack(
    alert_id: Annotated[str, typer.Argument(metavar="ID|all", help="An alert id from `alert log`, or 'all'.")],
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Acknowledge an alert (or all of them); journaled."""
    from workstation.core.alert_rules import AlertRuleError

    if alert_id.lower() != "all" and not alert_id.isdigit():
        raise CliError(f"malformed alert id {alert_id!r}: expected a number or 'all'", 2)

    def ack(session):
        try:
            return session.alerts.ack(None if alert_id.lower() == "all" else [int(alert_id)])
        except AlertRuleError as exc:
            raise CliError(str(exc), 2) from None

    async def remote(engine):
        return await engine.alert_ack(None if alert_id.lower() == "all" else [int(alert_id)])

    done = _alerts_owned(profile, config, data_dir_, ack, remote)
    console().print(f"acknowledged {len(done)} alert(s)")


@alert_app.command("test")
def alert_test(
    priority: Annotated[str, typer.Option("--priority", help="low, normal, high or critical.")] = "critical",
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Send a test alert through every configured channel and say which ones delivered."""
    from workstation.alerts.engine import Alert
    from workstation.core.alert_rules import PRIORITIES

    if priority not in PRIORITIES:
        raise CliError(f"unknown priority {priority!r} (use {', '.join(PRIORITIES)})", 2)
    session = open_view(profile, config, data_dir_)
    session.journal.close()
    channels = session.dispatcher.channels
    if not channels:
        raise CliError("no alert channels in the settings file ([[alerts.channels]] url = ...)", 1)
    alert = Alert(id=0, ts=session.clock.time(), title="Test alert", message="a test from main.py alert test", priority=priority, source="cli")
    failed = 0
    con = console()
    for channel in channels:
        try:
            ok = channel.send(alert)
        except Exception as exc:
            ok, why = False, f"{type(exc).__name__}: {exc}"
        else:
            why = "" if ok else "delivery failed"
        failed += not ok
        con.print(f"{channel.label}: " + ("[green]delivered[/]" if ok else f"[red]{why}[/]"))
    if failed:
        raise CliError(f"{failed} of {len(channels)} channel(s) failed", 1)


# --------------------------------------------------------------------------- hook


def register(app: typer.Typer) -> None:
    from workstation.cli.risk_report import risk_report

    risk_app.command("report")(risk_report)
    app.add_typer(risk_app, name="risk")
    app.add_typer(alert_app, name="alert")
    app.command("kill")(kill)
