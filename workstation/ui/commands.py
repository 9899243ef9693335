"""The workstation's command line (``:``): a small grammar, pure (no Textual, no engine).

``parse(text)`` turns one line into a command value or raises ``ParseError`` with a
one-line message naming the problem. Nothing else is ever raised.

Orders::

    buy 100 AAPL                       market
    b 100 aapl @ 185.50                @ means limit
    sell 50 MSFT lmt 410.50 gtc        limit, good till canceled
    buy 100 AAPL stp 180               stop
    buy 100 AAPL stp 180 lmt 179.50    stop-limit
    buy $10000 AAPL                    notional: rounded down to whole lots at the current price
    short 100 TSLA                     a sell that may open a short
    buy 100 AAPL @ 185 tp 195 sl 180   bracket: take-profit and stop-loss
    sell 100 AAPL trail 2%             trailing stop (percent, or an amount: trail 1.50)
    buy 100 AAPL @ 150 ext             extended hours: may fill pre- and post-market (a DAY limit order)

Spreads (one combo order; ``workstation.trading.spreads`` holds the phrase and the legs)::

    buy 1 AAPL 2026-12-18 200/210 call vertical @ 3.10         @ is the net debit (buy) or credit (sell)
    sell 2 SPY 2026-12-18 590/600/610/620 iron condor @ 2.05
    buy 1 AAPL 2026-12-18 230 straddle @ 12.40                 also: 220/240 strangle, 200/210/220 call butterfly
    buy 1 AAPL 2026-12-18/2027-01-15 230 call calendar @ 3.00  ES 2026-12/2027-03 calendar
    buy 1 legs +AAPL-2026-12-18-200-C -2 AAPL-2026-12-18-210-C @ 0.50
    legs                                                       the ticket for legs (workstation.ui.screens.legs)

Other commands: ``cancel ID``, ``cancel all``, ``flatten AAPL``, ``flatten all``,
``watch add TSLA``, ``watch rm TSLA``, ``watch list NAME``, ``theme NAME``, ``help``;
``chain AAPL [2026-12-18] [STRIKES]`` (the option chain screen); ``risk`` (the Risk screen);
``depth AAPL`` (the depth ladder), ``tape AAPL`` (time and sales);
risk: ``kill`` (the kill switch; only the whole word), ``reset-breaker``,
``risk set NAME VALUE``; alert rules: ``alert AAPL > 200``, ``alert AAPL move 3% 5m``,
``alert pnl < -1000``, ``alert spread BTC/USD > 20`` (the grammar of ``workstation.alerts.engine``).

Every verb and keyword may be shortened to any unambiguous prefix (``can all``,
``fl all``, ``buy 100 AAPL lim 185 g``); ``b`` is buy and ``s`` is sell. Symbols are
case-insensitive and use the engine's one symbol syntax (``workstation.core.symbols``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from workstation.core.model import ModelError, OrderType, Side, TimeInForce, infer_order_type, plain, to_decimal
from workstation.core.symbols import parse_symbol
from workstation.trading.spreads import Spread, SpreadError, is_phrase, parse_phrase


class ParseError(ValueError):
    """A command line that cannot be understood; the message is one line for a person."""


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class OrderCommand:
    side: Side
    symbol: str
    qty: Decimal | None = None  # None when the order is given as a notional
    notional: Decimal | None = None
    type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    short: bool = False
    extended: bool = False  # ``ext``: may trade in the pre- and post-market sessions


@dataclass(frozen=True, slots=True)
class SpreadCommand:
    """A combo order: ``qty`` units of ``spread`` (legs for one unit bought) on ``side``."""

    side: Side
    qty: Decimal
    spread: Spread
    limit_price: Decimal | None = None  # net per unit; may be zero or negative (a credit bought)
    tif: TimeInForce = TimeInForce.DAY


@dataclass(frozen=True, slots=True)
class LegsCommand:
    """``legs``: open the ticket for legs (a combo built leg by leg)."""


@dataclass(frozen=True, slots=True)
class CancelCommand:
    order_id: str | None  # None: all working orders


@dataclass(frozen=True, slots=True)
class FlattenCommand:
    symbol: str | None  # None: every position (and every working order is canceled)


@dataclass(frozen=True, slots=True)
class WatchCommand:
    action: str  # "add", "rm" or "list"
    name: str  # a symbol (add, rm) or a list name (list)


@dataclass(frozen=True, slots=True)
class ThemeCommand:
    name: str


@dataclass(frozen=True, slots=True)
class HelpCommand:
    pass


@dataclass(frozen=True, slots=True)
class KillCommand:
    pass


@dataclass(frozen=True, slots=True)
class ResetBreakerCommand:
    pass


@dataclass(frozen=True, slots=True)
class RiskSetCommand:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class AlertCommand:
    rule: str  # the rule as typed (checked by ``workstation.core.alert_rules.parse_rule``)


@dataclass(frozen=True, slots=True)
class ChainCommand:
    """``chain AAPL [2026-12-18] [N]``: open the option chain screen."""

    symbol: str
    expiry: date | None = None  # None: the nearest listed
    strikes: int | None = None  # None: the screen's default count around the money


@dataclass(frozen=True, slots=True)
class DepthCommand:
    """``depth AAPL``: the depth ladder with time and sales; ``tape AAPL``: time and sales alone."""

    symbol: str
    tape_only: bool = False


@dataclass(frozen=True, slots=True)
class RiskScreenCommand:
    """``risk``: open the Risk screen (VaR, decomposition, correlation, stress, heatmap)."""


Command = (
    OrderCommand | SpreadCommand | CancelCommand | FlattenCommand | WatchCommand | ThemeCommand | HelpCommand
    | KillCommand | ResetBreakerCommand | RiskSetCommand | AlertCommand | ChainCommand
    | RiskScreenCommand | DepthCommand
)

# --------------------------------------------------------------------------- vocabulary

VERBS: dict[str, str] = {
    "buy": "buy",
    "b": "buy",
    "sell": "sell",
    "s": "sell",
    "short": "short",
    "cancel": "cancel",
    "flatten": "flatten",
    "watch": "watch",
    "theme": "theme",
    "help": "help",
    "kill": "kill",
    "reset-breaker": "reset-breaker",
    "risk": "risk",
    "alert": "alert",
    "chain": "chain",
    "depth": "depth",
    "tape": "tape",
}

KEYWORDS: dict[str, str] = {
    "@": "limit",
    "lmt": "limit",
    "limit": "limit",
    "stp": "stop",
    "stop": "stop",
    "mkt": "market",
    "market": "market",
    "tp": "tp",
    "sl": "sl",
    "trail": "trail",
    "day": "day",
    "gtc": "gtc",
    "ioc": "ioc",
    "fok": "fok",
    "ext": "ext",
    "extended": "ext",
}

WATCH_ACTIONS = {"add": "add", "rm": "rm", "remove": "rm", "del": "rm", "delete": "rm", "list": "list"}

GRAMMAR_HELP = (
    "buy|sell|short QTY|$AMOUNT SYMBOL [@|lmt PRICE] [stp PRICE] [trail N|N%] [tp PRICE sl PRICE] [day|gtc|ioc|fok] [ext]",
    "buy|sell QTY AAPL 2026-12-18 200/210 call vertical [@ NET]  ·  straddle, strangle, butterfly, iron condor, calendar, legs +SYM -SYM",
    "legs  (a ticket for legs: a spread built leg by leg)",
    "cancel ID|all",
    "flatten SYMBOL|all",
    "watch add|rm SYMBOL  ·  watch list NAME",
    "theme NAME",
    "kill  (asks first)  ·  reset-breaker  ·  risk set NAME VALUE",
    "alert AAPL > 200  ·  alert AAPL move 3% 5m  ·  alert pnl < -1000  ·  alert spread BTC/USD > 20",
    "chain AAPL [2026-12-18] [STRIKES]  (the option chain screen)",
    "depth AAPL  (the depth ladder and time and sales)  ·  tape AAPL  (time and sales alone)",
    "risk  (the Risk screen: VaR, decomposition, correlation, stress, heatmap)",
    "help",
)

_NUMBER = re.compile(r"^[+-]?([0-9][0-9,_]*(\.[0-9]*)?|\.[0-9]+)$")


def resolve(word: str, table: dict[str, str], what: str) -> str:
    """The meaning of ``word`` in ``table``: an exact entry, else an unambiguous prefix."""
    key = word.lower()
    if key in table:
        return table[key]
    meanings = {meaning for name, meaning in table.items() if name.startswith(key) and name.isalpha()}
    if len(meanings) == 1:
        return meanings.pop()
    if meanings:
        options = sorted(name for name in table if name.startswith(key) and name.isalpha())
        raise ParseError(f"{what} {word!r} is ambiguous: {', '.join(options)}")
    raise ParseError(f"unknown {what} {word!r}")


def _tokens(text: str) -> list[str]:
    # "@185.50" and "@ 185.50" mean the same; so do "2 %" and "2%"
    spaced = text.replace("@", " @ ")
    return spaced.split()


def _number(word: str, what: str) -> Decimal:
    """A number by the one rule every face uses (``workstation.core.model.to_decimal``: ASCII
    digits, finite, below 1e15), with the command line's own spelling (no exponent)."""
    try:
        d = to_decimal(word, what)
    except ModelError as exc:
        raise ParseError(str(exc)) from None
    if not _NUMBER.match(word):
        raise ParseError(f"{what} must be written in plain digits (100, 185.50), got {word!r}")
    return d


def _positive(word: str, what: str) -> Decimal:
    d = _number(word, what)
    if d <= 0:
        raise ParseError(f"{what} must be positive, got {word}")
    return d


def _symbol(word: str) -> str:
    try:
        return parse_symbol(word).symbol
    except ModelError as exc:
        raise ParseError(str(exc)) from None
    except (ValueError, ArithmeticError):
        raise ParseError(f"malformed symbol {word!r}") from None


# --------------------------------------------------------------------------- parser


def parse(text: object) -> Command | LegsCommand:
    """Parse one command line; ParseError (with a readable message) for anything malformed."""
    if not isinstance(text, str):
        raise ParseError("a command must be text")
    words = _tokens(text.strip().lstrip(":"))
    if not words:
        raise ParseError("empty command: try 'help'")
    if words[0].lower() == "legs":  # the ticket for legs (a spread built leg by leg)
        if len(words) > 1:
            raise ParseError("legs takes nothing after it: it opens the ticket for legs")
        return LegsCommand()
    verb = resolve(words[0], VERBS, "command")
    rest = words[1:]
    if verb in ("buy", "sell", "short"):
        return _order(verb, rest)
    if verb == "cancel":
        if len(rest) != 1:
            raise ParseError("usage: cancel ID|all")
        if rest[0].lower() == "all":
            return CancelCommand(None)
        if not rest[0].isdigit() or not rest[0].isascii():
            raise ParseError(f"malformed order id {rest[0]!r}: expected a number or 'all'")
        return CancelCommand(rest[0])
    if verb == "flatten":
        if len(rest) != 1:
            raise ParseError("usage: flatten SYMBOL|all")
        return FlattenCommand(None if rest[0].lower() == "all" else _symbol(rest[0]))
    if verb == "watch":
        if len(rest) != 2:
            raise ParseError("usage: watch add|rm SYMBOL, or watch list NAME")
        action = resolve(rest[0], WATCH_ACTIONS, "watch action")
        if action == "list":
            name = rest[1].strip()
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,24}", name):
                raise ParseError(f"list name {name!r} must be 1 to 24 letters, digits, - or _")
            return WatchCommand("list", name.lower())
        return WatchCommand(action, _symbol(rest[1]))
    if verb == "kill":
        if words[0].lower() != "kill" or rest:  # the kill switch is never a typo away
            raise ParseError("usage: kill (the whole word, nothing after it)")
        return KillCommand()
    if verb == "reset-breaker":
        if rest:
            raise ParseError("reset-breaker takes no arguments")
        return ResetBreakerCommand()
    if verb == "risk":
        if not rest:
            return RiskScreenCommand()
        if len(rest) != 3 or rest[0].lower() != "set":
            raise ParseError("usage: risk set NAME VALUE (or risk alone: the Risk screen)")
        return _risk_set(rest[1], rest[2])
    if verb == "alert":
        return _alert(text)
    if verb == "chain":
        return _chain(rest)
    if verb in ("depth", "tape"):
        if len(rest) != 1:
            raise ParseError(f"usage: {verb} SYMBOL")
        return DepthCommand(_symbol(rest[0]), tape_only=verb == "tape")
    if verb == "theme":
        if len(rest) != 1:
            raise ParseError("usage: theme NAME")
        return ThemeCommand(rest[0].lower())
    if rest:
        raise ParseError("help takes no arguments")
    return HelpCommand()


def _chain(rest: list[str]) -> ChainCommand:
    if not 1 <= len(rest) <= 3:
        raise ParseError("usage: chain SYMBOL [YYYY-MM-DD] [STRIKES]")
    symbol = _symbol(rest[0])
    expiry: date | None = None
    strikes: int | None = None
    for word in rest[1:]:
        if "-" in word and expiry is None:
            try:
                expiry = date.fromisoformat(word)
            except ValueError:
                raise ParseError(f"malformed expiry {word!r}: expected a date such as 2026-12-18") from None
        elif word.isdigit() and word.isascii() and strikes is None:
            strikes = int(word)
            if not 1 <= strikes <= 1000:
                raise ParseError(f"strikes must be 1 to 1000, got {word}")
        else:
            raise ParseError(f"cannot read {word!r}: usage: chain SYMBOL [YYYY-MM-DD] [STRIKES]")
    return ChainCommand(symbol, expiry, strikes)


def _risk_set(name: str, value: str) -> RiskSetCommand:
    """Checked here as the engine will check it (the error shows as the line is typed)."""
    from workstation.core.limits import LIMIT_NAMES, parse_value

    name = name.lower()
    if name not in LIMIT_NAMES:
        raise ParseError(f"unknown risk limit {name!r} (known: {', '.join(LIMIT_NAMES)})")
    if value.lower() != "default":
        try:
            parse_value(name, value)
        except ModelError as exc:
            raise ParseError(str(exc)) from None
        except (ValueError, ArithmeticError, TypeError, KeyError, IndexError) as exc:
            raise ParseError(f"malformed value {value!r} for {name}: {exc}") from None
    return RiskSetCommand(name, value)


def _alert(text: str) -> AlertCommand:
    from workstation.core.alert_rules import parse_rule

    parts = text.strip().lstrip(":").split(None, 1)
    rule = parts[1].strip() if len(parts) > 1 else ""
    if not rule:
        raise ParseError("usage: alert AAPL > 200, alert AAPL move 3% 5m, alert pnl < -1000, alert spread BTC/USD > 20")
    try:
        parse_rule(rule)
    except ModelError as exc:
        raise ParseError(str(exc)) from None
    except (ValueError, ArithmeticError, TypeError, KeyError, IndexError) as exc:
        raise ParseError(f"malformed alert rule {rule!r}: {exc}") from None
    return AlertCommand(rule)


def _order(verb: str, words: list[str]) -> OrderCommand | SpreadCommand:
    if len(words) < 2:
        raise ParseError(f"usage: {verb} QTY SYMBOL [@ PRICE] ... (for example: {verb} 100 AAPL)")
    if is_phrase(words[1:]):
        return _spread(verb, words)
    amount, sym = words[0], words[1]
    qty = notional = None
    if amount.startswith("$"):
        notional = _positive(amount[1:], "notional amount")
    else:
        qty = _positive(amount, "quantity")
    symbol = _symbol(sym)
    fields: dict[str, Decimal] = {}
    trail_amount = trail_percent = None
    tif: TimeInForce | None = None
    market = extended = False
    i = 2
    while i < len(words):
        word = words[i]
        key = resolve(word, KEYWORDS, "keyword")
        if key in ("day", "gtc", "ioc", "fok"):
            if tif is not None:
                raise ParseError("time in force given twice")
            tif = TimeInForce(key)
            i += 1
            continue
        if key == "ext":
            extended = True
            i += 1
            continue
        if key == "market":
            market = True
            i += 1
            continue
        if i + 1 >= len(words):
            raise ParseError(f"{word!r} needs a value")
        value = words[i + 1]
        if key == "trail":
            if trail_amount is not None or trail_percent is not None:
                raise ParseError("trail given twice")
            if value.endswith("%"):
                trail_percent = _positive(value[:-1], "trail percent")
            elif i + 2 < len(words) and words[i + 2] == "%":
                trail_percent = _positive(value, "trail percent")
                i += 1
            else:
                trail_amount = _positive(value, "trail amount")
        else:
            what = {"limit": "limit price", "stop": "stop price", "tp": "take-profit price", "sl": "stop-loss price"}[key]
            if key in fields:
                raise ParseError(f"{what} given twice")
            fields[key] = _positive(value, what)
        i += 2
    limit, stop = fields.get("limit"), fields.get("stop")
    trailing = trail_amount is not None or trail_percent is not None
    if trailing and (limit is not None or stop is not None):
        raise ParseError("a trailing stop takes no limit or stop price")
    if market and (limit is not None or stop is not None or trailing):
        raise ParseError("a market order takes no limit, stop or trail")
    if ("tp" in fields) != ("sl" in fields):
        raise ParseError("a bracket needs both tp and sl")
    otype = infer_order_type(limit, stop, trailing)
    return OrderCommand(
        side=Side.BUY if verb == "buy" else Side.SELL, symbol=symbol, qty=qty, notional=notional, type=otype,
        limit_price=limit, stop_price=stop, trail_amount=trail_amount, trail_percent=trail_percent,
        tif=tif or TimeInForce.DAY, take_profit=fields.get("tp"), stop_loss=fields.get("sl"), short=verb == "short",
        extended=extended,
    )


def _spread(verb: str, words: list[str]) -> SpreadCommand:
    """``QTY`` then the spread phrase, then the order's own words: ``@ NET`` and a time in force."""
    if verb == "short":
        raise ParseError("a spread is bought or sold: sell it to take the other side")
    if words[0].startswith("$"):
        raise ParseError("a spread is ordered in whole units, not an amount of money")
    qty = _positive(words[0], "quantity")
    if qty != qty.to_integral_value():
        raise ParseError(f"a spread is ordered in whole units, got {words[0]}")
    end = len(words)
    for i in range(2, len(words)):
        try:
            resolve(words[i], KEYWORDS, "keyword")
        except ParseError:
            continue
        end = i
        break
    try:
        spread = parse_phrase(words[1:end])
    except SpreadError as exc:
        raise ParseError(str(exc)) from None
    limit: Decimal | None = None
    tif: TimeInForce | None = None
    i = end
    while i < len(words):
        key = resolve(words[i], KEYWORDS, "keyword")
        if key in ("day", "gtc", "ioc", "fok"):
            if tif is not None:
                raise ParseError("time in force given twice")
            tif = TimeInForce(key)
            i += 1
        elif key == "limit":
            if limit is not None:
                raise ParseError("net price given twice")
            if i + 1 >= len(words):
                raise ParseError(f"{words[i]!r} needs the net price")
            limit = _number(words[i + 1], "net price")  # a combo's may be zero or negative
            i += 2
        elif key == "market":
            i += 1
        else:
            raise ParseError(f"a spread takes a net price (@ 3.10) and a time in force, not {words[i]!r}")
    return SpreadCommand(side=Side.BUY if verb == "buy" else Side.SELL, qty=qty, spread=spread, limit_price=limit,
                         tif=tif or TimeInForce.DAY)


def notional_qty(amount: Decimal, price: Decimal, lot: Decimal) -> Decimal:
    """Whole lots that ``amount`` buys at ``price`` (rounded down); ParseError if none."""
    if price <= 0:
        raise ParseError("no price yet to turn a notional into a quantity")
    lots = (amount / price / lot).quantize(Decimal(1), rounding=ROUND_DOWN)
    if lots <= 0:
        raise ParseError(f"${plain(amount)} buys less than one lot at {plain(price)}")
    return lots * lot


def describe(cmd: OrderCommand) -> str:
    """The command written back in its canonical form (the ticket, the log)."""
    parts = ["short" if cmd.short else cmd.side.value]
    parts.append(f"${plain(cmd.notional)}" if cmd.notional is not None else plain(cmd.qty) or "0")
    parts.append(cmd.symbol)
    if cmd.stop_price is not None:
        parts += ["stp", plain(cmd.stop_price) or ""]
    if cmd.limit_price is not None:
        parts += ["lmt", plain(cmd.limit_price) or ""]
    if cmd.trail_percent is not None:
        parts += ["trail", f"{plain(cmd.trail_percent)}%"]
    if cmd.trail_amount is not None:
        parts += ["trail", plain(cmd.trail_amount) or ""]
    if cmd.take_profit is not None:
        parts += ["tp", plain(cmd.take_profit) or "", "sl", plain(cmd.stop_loss) or ""]
    if cmd.tif is not TimeInForce.DAY:
        parts.append(cmd.tif.value)
    if cmd.extended:
        parts.append("ext")
    return " ".join(parts)
