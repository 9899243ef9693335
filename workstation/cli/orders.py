"""``main.py buy``, ``sell`` and ``cancel``: orders from the command line, through the account's one order manager."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from workstation.core.config import ConfigError
from workstation.core.model import (
    Leg,
    ModelError,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    infer_order_type,
    Side,
    TimeInForce,
    plain,
    to_decimal,
)

from workstation.cli.common import (
    MARKET_WAIT_S,
    CliError,
    ConfigOpt,
    DataDirOpt,
    JsonOpt,
    ProfileOpt,
    check_live,
    confirm_live,
    console,
    emit_json,
    money,
    profile_of,
    read_settings,
)

from workstation.cli.account import with_session
from workstation.trading.status import order_row


# --------------------------------------------------------------------------- orders


def build_request(
    side: Side,
    qty: str,
    symbol: str,
    *,
    limit: str | None = None,
    stop: str | None = None,
    trail: str | None = None,
    take_profit: str | None = None,
    stop_loss: str | None = None,
    tif: str = "day",
    source: str = "cli",
    extended: bool = False,
) -> OrderRequest:
    """Turn command-line words into an OrderRequest; ModelError for malformed ones."""
    from workstation.core.symbols import parse_symbol

    inst = parse_symbol(symbol)
    quantity = to_decimal(qty, "quantity")
    if quantity <= 0:
        raise ModelError(f"quantity must be positive, got {qty}")
    try:
        time_in_force = TimeInForce(tif.lower())
    except ValueError:
        raise ModelError(f"unknown time in force {tif!r}: use day, gtc, ioc or fok") from None
    trail_amount = trail_percent = None
    if trail is not None:
        text = trail.strip()
        if text.endswith("%"):
            trail_percent = to_decimal(text[:-1], "trail percent")
        else:
            trail_amount = to_decimal(text, "trail amount")
        if limit is not None or stop is not None:
            raise ModelError("a trailing stop takes no --limit or --stop")
    otype = infer_order_type(limit, stop, trail is not None)
    return OrderRequest(
        symbol=inst.symbol, side=side, qty=quantity, type=otype,
        limit_price=to_decimal(limit, "limit price") if limit is not None else None,
        stop_price=to_decimal(stop, "stop price") if stop is not None else None,
        trail_amount=trail_amount, trail_percent=trail_percent, tif=time_in_force,
        take_profit=to_decimal(take_profit, "take-profit price") if take_profit is not None else None,
        stop_loss=to_decimal(stop_loss, "stop-loss price") if stop_loss is not None else None,
        source=source, extended=extended,
    )


EXIT_UNKNOWN = 3  # the order went out and nothing proves what became of it: do not resend


def describe(order: Order) -> str:
    price = ""
    if order.type is OrderType.LIMIT:
        price = f" @ {plain(order.limit_price)}"
    elif order.type is OrderType.STOP:
        price = f" stop {plain(order.stop_price)}"
    elif order.type is OrderType.STOP_LIMIT:
        price = f" stop {plain(order.stop_price)} limit {plain(order.limit_price)}"
    elif order.type is OrderType.TRAILING_STOP:
        price = f" trail {plain(order.trail_percent)}%" if order.trail_percent is not None else f" trail {plain(order.trail_amount)}"
    ext = " extended hours" if order.extended else ""
    text = f"order {order.id} {order.side.value} {plain(order.qty)} {order.symbol} {order.type.value.replace('_', '-')}{price} {order.tif.value}{ext}: {order.status.value.replace('_', ' ')}"
    if order.filled_qty:
        text += f" {plain(order.filled_qty)} @ {plain(order.avg_fill_price.quantize(Decimal('0.0001')) if order.avg_fill_price else None)}"
    if order.reason:
        text += f" ({order.reason})"
    return text


def _place(
    side: Side, qty: str, symbol: str, limit: str | None, stop: str | None, trail: str | None,
    take_profit: str | None, stop_loss: str | None, tif: str, dry_run: bool, json_out: bool,
    profile: str | None, config: Path | None, data: Path | None, yes: bool = False, extended: bool = False,
) -> None:
    try:
        req = build_request(side, qty, symbol, limit=limit, stop=stop, trail=trail, take_profit=take_profit, stop_loss=stop_loss, tif=tif,
                            extended=extended)
    except ModelError as exc:
        raise CliError(str(exc), 2) from None
    try:
        prof = read_settings(config).profile(profile)
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None
    check_live(prof)
    if not dry_run:
        confirm_live(prof, yes, f"{side.value} {plain(req.qty)} {req.symbol}")
    warned: list[str] = []  # risk warnings (a possible wash sale) never block, but are shown

    async def remote(engine) -> Any:
        if dry_run:
            result = await engine.review(req)
        else:
            result = await engine.submit(req, wait=True)
        warned.extend(getattr(result, "warnings", ()) or ())
        return result

    async def local(session) -> Any:
        return await _place_here(session, req, dry_run, warned)

    result = with_session(
        profile, config, data, local, remote=remote, mode="read" if dry_run else "write", feed=not dry_run,
        symbols=[req.symbol], refused_code=2,
    )
    _show_placed(result, dry_run, json_out, prof.live, warned)


async def _place_here(session, req: OrderRequest, dry_run: bool, warned: list[str]) -> Any:
    """The order placed by this process, which owns the account for the run."""
    from workstation.core.model import AlertRaised
    from workstation.trading.oms import OrderError

    session.bus.subscribe(AlertRaised, lambda a: warned.append(a.message) if a.title == "Risk warning" else None)
    try:
        if dry_run:
            return await session.oms.review(req)
        order = await session.oms.submit(req)
        await session.oms.drain()
        # a marketable order that filled in part (more than the displayed size) completes
        # on the next quotes: give it a few seconds, as a trader at a screen would
        deadline = session.clock.monotonic() + MARKET_WAIT_S
        while (
            session.oms.orders[order.id].status.is_working
            and order.type is OrderType.MARKET
            and session.clock.monotonic() < deadline
        ):
            await asyncio.sleep(0.05)
        await session.oms.drain()
        return session.oms.orders[order.id]
    except OrderError as exc:
        raise CliError(str(exc), 2) from None


def _show_placed(result: Any, dry_run: bool, json_out: bool, live: bool = False, warned: list[str] | None = None) -> None:
    for warning in dict.fromkeys([*(warned or ()), *(result.warnings if dry_run else ())]):
        console(stderr=True).print(f"[yellow]warning: {warning}[/]")
    if dry_run:
        review = result
        if json_out:
            emit_json(msgspec.structs.asdict(review))
        else:
            verdict = "[green]would be accepted[/]" if review.ok else f"[red]would be rejected: {review.reason}[/]"
            colour = "green" if review.side is Side.BUY else "red"
            console().print(
                f"[{colour}]{review.side.value.upper()}[/] {plain(review.qty)} {review.symbol} {review.type.value.replace('_', '-')} {review.tif.value}"
                + (" extended hours" if review.extended else "")
                + f" at ~{plain(review.price)}: notional {money(review.notional)}, commission {money(review.commission)}, "
                + (f"initial margin {money(review.margin)}, " if review.margin is not None else "")
                + f"buying power after {money(review.buying_power_after)}; {verdict} (dry run: nothing sent)"
            )
            if review.session_note:
                console().print(review.session_note)
        return
    order: Order = result
    if json_out:
        emit_json(order_row(order))
    if order.status is OrderStatus.REJECTED:
        raise CliError(f"rejected: {order.reason}", 1)
    if order.status is OrderStatus.UNKNOWN:
        raise CliError(
            f"order {order.id} {order.side.value} {plain(order.qty)} {order.symbol}: state UNKNOWN, {order.reason}. "
            f"`main.py orders` shows it once settled", EXIT_UNKNOWN,
        )
    if not json_out:
        console().print(("[bold white on red] LIVE [/] " if live else "") + describe(order))


def _order_command(side: Side):
    def command(
        qty: Annotated[str, typer.Argument(help="Quantity (positive, whole lots).")],
        symbol: Annotated[str, typer.Argument(help="Symbol: AAPL, BTC/USD, EUR/USD, ES-2026-12, AAPL-2026-12-18-200-C.")],
        limit: Annotated[str | None, typer.Option("--limit", help="Limit price.")] = None,
        stop: Annotated[str | None, typer.Option("--stop", help="Stop (trigger) price.")] = None,
        trail: Annotated[str | None, typer.Option("--trail", help="Trailing stop: an amount (1.50) or a percent (2%).")] = None,
        take_profit: Annotated[str | None, typer.Option("--take-profit", help="Bracket: take-profit limit price.")] = None,
        stop_loss: Annotated[str | None, typer.Option("--stop-loss", help="Bracket: stop-loss price.")] = None,
        tif: Annotated[str, typer.Option("--tif", help="Time in force: day, gtc, ioc, fok.")] = "day",
        extended: Annotated[bool, typer.Option("--extended", help="Extended hours: may fill pre- and post-market (a DAY limit order).")] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the review and the risk verdict; send nothing.")] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="On a live profile, do not ask for confirmation.")] = False,
        json_out: JsonOpt = False,
        profile: ProfileOpt = None,
        config: ConfigOpt = None,
        data_dir_: DataDirOpt = None,
    ) -> None:
        _place(side, qty, symbol, limit, stop, trail, take_profit, stop_loss, tif, dry_run, json_out, profile, config, data_dir_, yes, extended)

    command.__doc__ = f"{side.value.capitalize()} through the order manager and the risk checks."
    return command




def cancel(
    order_id: Annotated[str, typer.Argument(metavar="ID|all", help="An order id, or 'all'.")],
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Cancel one working order, or all of them."""
    from workstation.trading.oms import OrderError

    if order_id.lower() != "all" and not (order_id.isascii() and order_id.isdigit() and len(order_id) <= 18):
        raise CliError(f"malformed order id {order_id!r}: expected a number or 'all'", 2)

    async def body(session) -> list[Order]:
        try:
            if order_id.lower() == "all":
                done = await session.oms.cancel_all()
            else:
                done = [await session.oms.cancel(order_id)]
            await session.oms.drain()
            return [session.oms.orders.get(o.id, o) for o in done]
        except OrderError as exc:
            raise CliError(str(exc), 2) from None

    async def remote(engine) -> list[Order]:
        if order_id.lower() == "all":
            return await engine.cancel_all(wait=True)
        return [await engine.cancel(order_id)]

    done = with_session(profile, config, data_dir_, body, remote=remote, refused_code=2)
    if json_out:
        emit_json([order_row(o) for o in done])
        return
    if not done:
        console().print("no working orders")
    for o in done:
        console().print(describe(o))


# --------------------------------------------------------------------------- combos


def _place_combo(
    what: str, build_local: Any, build_remote: Any, json_out: bool, profile: str | None, config: Path | None,
    data: Path | None, yes: bool, symbols: list[str],
) -> None:
    """Send the combo a command builds, as ``buy``/``sell`` send an order: through the account's
    owner or as its owner, one order through the order manager and the risk checks."""
    from workstation.api import IntentError

    prof = profile_of(read_settings(config), profile)
    check_live(prof)
    confirm_live(prof, yes, what)
    warned: list[str] = []

    async def local(session) -> Any:
        try:
            req = build_local(session)
        except (IntentError, ModelError) as exc:
            raise CliError(str(exc), 2) from None
        return await _place_here(session, req, False, warned)

    async def remote(engine) -> Any:
        try:
            req = build_remote(engine)
        except (IntentError, ModelError) as exc:
            raise CliError(str(exc), 2) from None
        return await engine.submit(req, wait=True)

    result = with_session(profile, config, data, local, remote=remote, mode="write", feed=True, symbols=symbols, refused_code=2)
    _show_placed(result, False, json_out, prof.live, warned)


def _net(limit: str | None) -> Decimal | None:
    try:
        return to_decimal(limit, "net price") if limit is not None else None
    except ModelError as exc:
        raise CliError(str(exc), 2) from None


def close_combo(
    order_id: Annotated[str, typer.Argument(metavar="ID", help="The combo order whose legs to close.")],
    limit: Annotated[str | None, typer.Option("--limit", help="Net price (per unit, as the combo is quoted); default: market.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="On a live profile, do not ask for confirmation.")] = False,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Close what a combo order opened: its legs still held, the other way, as ONE order."""
    from workstation.api import close_combo_request
    from workstation.trading.oms import OrderError

    if not (order_id.isascii() and order_id.isdigit() and len(order_id) <= 18):
        raise CliError(f"malformed order id {order_id!r}: expected a number", 2)
    net = _net(limit)

    def here(session) -> OrderRequest:
        try:
            order = session.oms.get(order_id)
        except OrderError as exc:
            raise ModelError(str(exc)) from None
        return close_combo_request(order, session.portfolio.qty, "cli", net)

    def there(engine) -> OrderRequest:
        order = next((o for o in engine.orders() if o.id == order_id), None)
        if order is None:
            raise ModelError(f"order {order_id} is not among the account owner's orders of the last day")
        held = {p.symbol: p.qty for p in engine.snapshot().positions}
        return close_combo_request(order, lambda s: held.get(s, Decimal(0)), "cli", net)

    _place_combo(f"close combo {order_id}", here, there, json_out, profile, config, data_dir_, yes, [])


def roll(
    front: Annotated[str, typer.Argument(help="The contract held: ES-2026-12 (or an option).")],
    back: Annotated[str, typer.Argument(help="The contract to roll into: ES-2027-03.")],
    qty: Annotated[str | None, typer.Option("--qty", help="Contracts to roll (default: the whole position).")] = None,
    limit: Annotated[str | None, typer.Option("--limit", help="Net price front minus back per contract: the least the roll takes in (long) or the most it pays (short); default: market.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="On a live profile, do not ask for confirmation.")] = False,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Roll a position into another contract as ONE calendar order: close the held one, open the other."""
    from workstation.core.symbols import parse_symbol

    try:
        near, far = parse_symbol(front).symbol, parse_symbol(back).symbol
        size = to_decimal(qty, "quantity") if qty is not None else None
    except ModelError as exc:
        raise CliError(str(exc), 2) from None
    net = _net(limit)

    def build(held: Decimal) -> OrderRequest:
        return roll_request(near, far, held, size, net)

    def here(session) -> OrderRequest:
        return build(session.portfolio.qty(near))

    def there(engine) -> OrderRequest:
        return build(next((p.qty for p in engine.snapshot().positions if p.symbol == near), Decimal(0)))

    _place_combo(f"roll {near} into {far}", here, there, json_out, profile, config, data_dir_, yes, [near, far])


def roll_request(front: str, back: str, held: Decimal, qty: Decimal | None, limit: Decimal | None) -> OrderRequest:
    """The calendar that rolls ``held`` of ``front`` into ``back``: legs +front -back (the
    exchange's way), sold to roll a long position, bought to roll a short one; ModelError, one line."""
    if front == back:
        raise ModelError(f"cannot roll {front} into itself")
    if held == 0:
        raise ModelError(f"no position in {front} to roll")
    units = abs(held) if qty is None else qty
    if units <= 0 or units != units.to_integral_value():
        raise ModelError(f"quantity must be a positive whole number, got {plain(units)}")
    if units > abs(held):
        raise ModelError(f"--qty {plain(units)} is more than the {plain(abs(held))} held in {front}")
    legs = (Leg(symbol=front, side=Side.BUY), Leg(symbol=back, side=Side.SELL))
    return OrderRequest(
        symbol=front, side=Side.SELL if held > 0 else Side.BUY, qty=units, legs=legs, source="cli",
        type=OrderType.MARKET if limit is None else OrderType.LIMIT, limit_price=limit,
    )


def register(app: typer.Typer) -> None:
    app.command("buy")(_order_command(Side.BUY))
    app.command("sell")(_order_command(Side.SELL))
    app.command()(cancel)
    app.command("close-combo")(close_combo)
    app.command()(roll)
