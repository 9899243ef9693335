"""The command-line grammar (pure): every form the workstation accepts, and nothing raises
but ParseError."""

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.core.model import OrderType, Side, TimeInForce
from workstation.ui.commands import (
    AlertCommand,
    CancelCommand,
    FlattenCommand,
    HelpCommand,
    KillCommand,
    OrderCommand,
    ParseError,
    ResetBreakerCommand,
    RiskSetCommand,
    ThemeCommand,
    WatchCommand,
    describe,
    notional_qty,
    parse,
)

D = Decimal


@pytest.mark.parametrize(
    "text, expected",
    [
        ("buy 100 AAPL", OrderCommand(Side.BUY, "AAPL", qty=D(100))),
        ("sell 50 MSFT lmt 410.50 gtc", OrderCommand(Side.SELL, "MSFT", qty=D(50), type=OrderType.LIMIT, limit_price=D("410.50"), tif=TimeInForce.GTC)),
        ("b 100 aapl @ 185.50", OrderCommand(Side.BUY, "AAPL", qty=D(100), type=OrderType.LIMIT, limit_price=D("185.50"))),
        ("b 100 aapl @185.50", OrderCommand(Side.BUY, "AAPL", qty=D(100), type=OrderType.LIMIT, limit_price=D("185.50"))),
        ("buy 100 AAPL stp 180", OrderCommand(Side.BUY, "AAPL", qty=D(100), type=OrderType.STOP, stop_price=D(180))),
        ("buy 100 AAPL stp 180 lmt 179.50", OrderCommand(Side.BUY, "AAPL", qty=D(100), type=OrderType.STOP_LIMIT, stop_price=D(180), limit_price=D("179.50"))),
        ("buy $10000 AAPL", OrderCommand(Side.BUY, "AAPL", notional=D(10000))),
        ("short 100 TSLA", OrderCommand(Side.SELL, "TSLA", qty=D(100), short=True)),
        ("buy 100 AAPL @ 185 tp 195 sl 180", OrderCommand(Side.BUY, "AAPL", qty=D(100), type=OrderType.LIMIT, limit_price=D(185), take_profit=D(195), stop_loss=D(180))),
        ("sell 100 AAPL trail 2%", OrderCommand(Side.SELL, "AAPL", qty=D(100), type=OrderType.TRAILING_STOP, trail_percent=D(2))),
        ("sell 100 AAPL trail 1.50", OrderCommand(Side.SELL, "AAPL", qty=D(100), type=OrderType.TRAILING_STOP, trail_amount=D("1.50"))),
        ("buy 1 btc/usd", OrderCommand(Side.BUY, "BTC/USD", qty=D(1))),
        ("buy 2 es-2026-12 mkt ioc", OrderCommand(Side.BUY, "ES-2026-12", qty=D(2), tif=TimeInForce.IOC)),
        ("cancel 12", CancelCommand("12")),
        ("cancel all", CancelCommand(None)),
        ("flatten AAPL", FlattenCommand("AAPL")),
        ("flatten all", FlattenCommand(None)),
        ("watch add TSLA", WatchCommand("add", "TSLA")),
        ("watch rm tsla", WatchCommand("rm", "TSLA")),
        ("watch list Tech", WatchCommand("list", "tech")),
        ("theme amber", ThemeCommand("amber")),
        ("help", HelpCommand()),
        (":help", HelpCommand()),
        # unambiguous prefixes
        ("bu 10 AAPL lim 185 g", OrderCommand(Side.BUY, "AAPL", qty=D(10), type=OrderType.LIMIT, limit_price=D(185), tif=TimeInForce.GTC)),
        ("can all", CancelCommand(None)),
        ("fl all", FlattenCommand(None)),
        ("w a nvda", WatchCommand("add", "NVDA")),
        ("th light", ThemeCommand("light")),
        ("sh 5 TSLA", OrderCommand(Side.SELL, "TSLA", qty=D(5), short=True)),
    ],
)
def test_accepted_forms(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty command"),
        ("buy", "usage: buy QTY SYMBOL"),
        ("buy -5 AAPL", "quantity must be positive"),
        ("buy 0 AAPL", "quantity must be positive"),
        ("buy ten AAPL", "quantity must be a number"),
        ("buy 100 AA PL", "unknown keyword 'PL'"),
        ("buy 100 $$$", "malformed symbol"),
        ("buy 100 AAPL lmt", "'lmt' needs a value"),
        ("buy 100 AAPL @ abc", "limit price must be a number"),
        ("buy 100 AAPL tp 195", "a bracket needs both tp and sl"),
        ("buy 100 AAPL trail 2% lmt 5", "a trailing stop takes no limit"),
        ("buy 100 AAPL gtc day", "time in force given twice"),
        ("sell 100 AAPL s 5", "ambiguous"),
        ("frobnicate", "unknown command 'frobnicate'"),
        ("cancel", "usage: cancel ID|all"),
        ("cancel x1", "malformed order id"),
        ("watch", "usage: watch"),
        ("watch list bad/name", "list name"),
        ("help me", "help takes no arguments"),
    ],
)
def test_rejected_forms_name_the_problem(text, message):
    with pytest.raises(ParseError, match=None) as err:
        parse(text)
    assert message in str(err.value)


def test_notional_rounds_down_to_whole_lots():
    assert notional_qty(D(10000), D("185.02"), D(1)) == D(54)
    assert notional_qty(D(1000), D("65000"), D("0.0001")) == D("0.0153")
    with pytest.raises(ParseError, match="less than one lot"):
        notional_qty(D(100), D(185), D(1))


def test_describe_round_trips():
    for text in ("buy 100 AAPL stp 180 lmt 179.5", "sell 100 AAPL trail 2%", "short $5000 TSLA gtc", "buy 100 AAPL lmt 185 tp 195 sl 180"):
        assert parse(describe(parse(text))) == parse(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("kill", KillCommand()),
        ("reset-breaker", ResetBreakerCommand()),
        ("risk set max_order_qty 500", RiskSetCommand("max_order_qty", "500")),
        ("risk set MAX_DAILY_LOSS off", RiskSetCommand("max_daily_loss", "off")),
        ("alert AAPL > 200", AlertCommand("AAPL > 200")),
        (":alert AAPL move 3% 5m", AlertCommand("AAPL move 3% 5m")),
        ("alert pnl < -1000", AlertCommand("pnl < -1000")),
        ("alert spread BTC/USD > 20", AlertCommand("spread BTC/USD > 20")),
    ],
)
def test_risk_and_alert_commands(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("k", "usage: kill"),  # never a prefix away
        ("kill all", "usage: kill"),
        ("risk set nope 5", "unknown risk limit 'nope'"),
        ("risk set max_order_qty abc", "max_order_qty must be a number"),
        ("risk show", "usage: risk set NAME VALUE"),
        ("alert AAPL sideways", "alert rule"),
        ("alert", "usage: alert"),
    ],
)
def test_risk_and_alert_command_errors(text, message):
    with pytest.raises(ParseError, match=re.escape(message)):
        parse(text)


WORDS = st.sampled_from(
    ["buy", "b", "sell", "s", "short", "cancel", "all", "flatten", "watch", "add", "rm", "list", "theme", "help",
     "@", "lmt", "stp", "tp", "sl", "trail", "gtc", "day", "ioc", "fok", "mkt", "100", "$10000", "-5", "0", "1e9",
     "185.50", "2%", "%", "AAPL", "btc/usd", "ES-2026-12", "AAPL-2026-12-18-200-C", "AAPL261218C00200000", "NaN",
     "Infinity", "1,000", "1_0", ".5", "9" * 40, "ß", "٣", "", ":", "$", "AAPL-2026-02-30-1-C",
     "kill", "reset-breaker", "risk", "set", "max_order_qty", "max_daily_loss_pct", "trading_halted", "day_roll",
     "day_timezone", "off", "default", "alert", "move", "5m", "pnl", "spread", ">", "<", ">=", "priority", "high",
     "cooldown", "true"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(WORDS, max_size=9).map(" ".join))
def test_grammar_never_raises_but_parse_error_on_words(text):
    try:
        parse(text)
    except ParseError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_grammar_never_raises_but_parse_error_on_any_text(text):
    try:
        parse(text)
    except ParseError:
        pass
