"""``main.py spread``: a spread typed in the shell, as one combo order through the order manager.

    main.py spread buy 1 AAPL 2026-12-18 200/210 call vertical --limit 3.10 --dry-run
    main.py spread sell 2 SPY 2026-12-18 590/600/610/620 iron condor --limit 2.05
    main.py spread buy 1 legs +AAPL-2026-12-18-200-C -AAPL-2026-12-18-210-C --limit=-0.50

The phrase is the command line's (``workstation.trading.spreads``); ``--dry-run`` prints the
review: each leg with its quote, the net debit or credit, max profit, max loss, break-evens,
net Greeks and the risk verdict.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import typer

from workstation.cli.common import (
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
    read_settings,
)
from workstation.core import formatting as fmt
from workstation.core.config import ConfigError
from workstation.core.model import ModelError, OrderRequest, OrderType, Side, TimeInForce, plain, to_decimal


def spread_request(side: str, qty: str, words: list[str], limit: str | None, tif: str) -> tuple[OrderRequest, str]:
    """The combo OrderRequest and the spread's description; ModelError for anything malformed."""
    from workstation.trading.spreads import parse_phrase

    try:
        order_side = Side(side.lower())
    except ValueError:
        raise ModelError(f"a spread is bought or sold: 'buy' or 'sell', got {side!r}") from None
    quantity = to_decimal(qty, "quantity")
    if quantity <= 0 or quantity != quantity.to_integral_value():
        raise ModelError(f"a spread is ordered in whole units (1, 2, ...), got {qty}")
    try:
        time_in_force = TimeInForce(tif.lower())
    except ValueError:
        raise ModelError(f"unknown time in force {tif!r}: use day, gtc, ioc or fok") from None
    spread = parse_phrase([w for word in words for w in word.split()])  # a quoted phrase reads as its words
    net = to_decimal(limit, "net price") if limit is not None else None
    request = OrderRequest(
        symbol=spread.underlying, side=order_side, qty=quantity, type=OrderType.LIMIT if net is not None else OrderType.MARKET,
        limit_price=net, tif=time_in_force, legs=spread.legs,
    )
    return request, spread.describe()


def review_lines(review: Any) -> list[str]:
    """The review of a combo as the shell prints it (markup for the console)."""
    c = review.combo
    colour = "green" if review.side is Side.BUY else "red"
    kind = review.type.value.replace("_", "-")
    head = f"[{colour}]{review.side.value.upper()}[/] {plain(review.qty)} {c.description if c else review.symbol} {kind}"
    if review.limit_price is not None:
        head += f" {fmt.price(review.limit_price, 2)}"
    lines = [head + f" {review.tif.value}"]
    if c is None:
        lines.append(f"net ~{plain(review.price)}")
    else:
        for leg in c.legs:
            quote = f"  {leg.bid:.2f} x {leg.ask:.2f}" if leg.bid is not None and leg.ask is not None else ""
            lines.append(f"  {leg.side.value:<4} {plain(leg.qty)} {leg.symbol}{quote}")
        if c.cash is not None and c.net_price is not None:
            what = "debit" if c.cash > 0 else "credit" if c.cash < 0 else "even"
            mid = f" (mid {fmt.price(c.net_mid, 2)})" if c.net_mid is not None else ""
            lines.append(f"net {fmt.price(abs(c.net_price), 2)} {what}: {money(abs(c.cash))} {'paid' if c.cash > 0 else 'received'}{mid}")
        if c.payoff == "none":
            lines.append(f"payoff: {c.note}")
        else:
            est = " (estimated)" if c.payoff == "estimated" else ""
            profit = "unlimited" if c.max_profit is None else money(c.max_profit)
            loss = "unlimited" if c.max_loss is None else money(c.max_loss)
            bes = ", ".join(fmt.price(b, 2) for b in c.breakevens) or "none"
            lines.append(f"max profit {profit} · max loss {loss} · break-even {bes}{est}")
            if c.note:
                lines.append(c.note)
        if c.delta is not None:
            lines.append(f"net greeks: delta {c.delta:+.1f} sh · gamma {c.gamma:+.2f} · theta {c.theta:+.2f}/day · vega {c.vega:+.2f}/pt")
    verdict = "[green]would be accepted[/]" if review.ok else f"[red]would be rejected: {review.reason}[/]"
    lines.append(f"commission {money(review.commission)}, buying power after {money(review.buying_power_after)}; {verdict} (dry run: nothing sent)")
    return lines


def spread(
    side: Annotated[str, typer.Argument(metavar="buy|sell", help="Buy or sell the spread (selling reverses every leg).")],
    qty: Annotated[str, typer.Argument(help="Units of the spread (whole).")],
    words: Annotated[list[str], typer.Argument(metavar="PHRASE...", help="AAPL 2026-12-18 200/210 call vertical, ... (see docs/options.md).")],
    limit: Annotated[str | None, typer.Option("--limit", help="Net price per unit: the most debit a buy pays, the least credit a sell takes (--limit=-0.50 for a credit bought).")] = None,
    tif: Annotated[str, typer.Option("--tif", help="Time in force: day, gtc, ioc, fok.")] = "day",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the review (payoff, break-evens, Greeks, risk verdict); send nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="On a live profile, do not ask for confirmation.")] = False,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    config: ConfigOpt = None,
    data_dir_: DataDirOpt = None,
) -> None:
    """Buy or sell a spread as one combo order: vertical, straddle, strangle, butterfly, iron condor, calendar, legs."""
    from workstation.cli.account import with_session
    from workstation.cli.orders import _place_here, _show_placed

    try:
        req, description = spread_request(side, qty, words, limit, tif)
        prof = read_settings(config).profile(profile)
    except (ModelError, ConfigError) as exc:
        raise CliError(str(exc), 2) from None
    check_live(prof)
    if not dry_run:
        confirm_live(prof, yes, f"{req.side.value} {plain(req.qty)} {description}")
    warned: list[str] = []

    async def remote(engine) -> Any:
        result = await (engine.review(req) if dry_run else engine.submit(req, wait=True))
        warned.extend(getattr(result, "warnings", ()) or ())
        return result

    async def local(session) -> Any:
        from workstation.api import combo_review_on
        from workstation.trading.oms import OrderError

        if not dry_run:
            return await _place_here(session, req, False, warned)
        try:
            return combo_review_on(session, req, await session.oms.review(req))
        except OrderError as exc:
            raise CliError(str(exc), 2) from None

    symbols = [leg.symbol for leg in req.legs]
    result = with_session(
        profile, config, data_dir_, local, remote=remote, mode="read" if dry_run else "write", feed=not dry_run,
        symbols=symbols, refused_code=2,
    )
    if not dry_run:
        _show_placed(result, False, json_out, prof.live, warned)
        return
    for warning in dict.fromkeys([*warned, *result.warnings]):
        console(stderr=True).print(f"[yellow]warning: {warning}[/]")
    if json_out:
        emit_json(msgspec.to_builtins(result, enc_hook=str))
        return
    for line in review_lines(result):
        console().print(line, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("spread", context_settings={"ignore_unknown_options": True})(spread)  # signed legs: -AAPL-..., -2
