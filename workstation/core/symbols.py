"""The engine's one symbol syntax, used by every command, the workstation and every broker.

=============================  =====================================================
``AAPL``, ``BRK.B``            equity (or ETF): 1 to 10 letters/digits, ``.`` allowed
``SPX``, ``NDX``, ``RUT``      cash index: quoted, not traded; its options settle in cash
``BTC/USD``                    crypto when either side is a crypto asset
``EUR/USD``                    forex when both sides are ISO currencies
``ES-2026-12``                 future: root, expiry year and month
``AAPL-2026-12-18-200-C``      option: underlying, expiry date, strike, C or P
``AAPL261218C00200000``        the OCC form of the same option, accepted on input
=============================  =====================================================

Options on an index (``SPX-2026-12-18-6000-C``) are European and cash-settled
(``cash_settled``); options on stocks and ETFs are American and settle in shares.

Symbols are case-insensitive; ``parse_symbol`` returns the canonical upper-case form in
``Instrument.symbol``. Tick and lot sizes here are the simulated market's defaults; a real
broker's adapter replaces them with the venue's own metadata.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from workstation.core.model import AssetClass, Instrument, ModelError, Right, plain

FIAT = frozenset(
    "USD EUR GBP JPY CHF CAD AUD NZD SEK NOK DKK HKD SGD CNH MXN ZAR PLN CZK HUF TRY ILS KRW INR BRL".split()
)
STABLECOINS = frozenset({"USDT", "USDC", "DAI", "BUSD", "FDUSD", "TUSD"})
# Cash indices: quoted, never traded themselves; their options are European and cash-settled.
INDICES = frozenset({"SPX", "NDX", "RUT"})

# Futures roots: (multiplier, tick, currency, exchange).
FUTURES: dict[str, tuple[Decimal, Decimal, str, str]] = {
    "ES": (Decimal(50), Decimal("0.25"), "USD", "CME"),
    "MES": (Decimal(5), Decimal("0.25"), "USD", "CME"),
    "NQ": (Decimal(20), Decimal("0.25"), "USD", "CME"),
    "MNQ": (Decimal(2), Decimal("0.25"), "USD", "CME"),
    "YM": (Decimal(5), Decimal(1), "USD", "CBOT"),
    "RTY": (Decimal(50), Decimal("0.1"), "USD", "CME"),
    "CL": (Decimal(1000), Decimal("0.01"), "USD", "NYMEX"),
    "GC": (Decimal(100), Decimal("0.1"), "USD", "COMEX"),
    "SI": (Decimal(5000), Decimal("0.005"), "USD", "COMEX"),
    "ZN": (Decimal(1000), Decimal("0.015625"), "USD", "CBOT"),
    "ZB": (Decimal(1000), Decimal("0.03125"), "USD", "CBOT"),
    "6E": (Decimal(125000), Decimal("0.00005"), "USD", "CME"),
}

# Futures margin per contract, in the contract's currency: (initial, maintenance). Exchange
# levels as of late 2026, rounded (a broker's own figures differ and change with volatility);
# a profile overrides them in ``[profiles.NAME.margins]``. A root not listed here is margined
# at a share of its notional: ``UNLISTED_MARGIN_PCT``.
FUTURES_MARGIN: dict[str, tuple[Decimal, Decimal]] = {
    "ES": (Decimal(15_000), Decimal(13_500)),
    "MES": (Decimal(1_500), Decimal(1_350)),
    "NQ": (Decimal(23_000), Decimal(21_000)),
    "MNQ": (Decimal(2_300), Decimal(2_100)),
    "YM": (Decimal(11_000), Decimal(10_000)),
    "RTY": (Decimal(7_500), Decimal(6_800)),
    "CL": (Decimal(6_000), Decimal(5_500)),
    "GC": (Decimal(17_000), Decimal(15_500)),
    "SI": (Decimal(18_000), Decimal(16_500)),
    "ZN": (Decimal(2_300), Decimal(2_100)),
    "ZB": (Decimal(4_600), Decimal(4_200)),
    "6E": (Decimal(2_800), Decimal(2_550)),
}
UNLISTED_MARGIN_PCT: tuple[Decimal, Decimal] = (Decimal(10), Decimal(9))  # % of notional: initial, maintenance

_EQUITY = re.compile(r"^[A-Z][A-Z0-9]{0,9}(\.[A-Z]{1,2})?$")
_PAIR = re.compile(r"^([A-Z0-9]{2,10})/([A-Z0-9]{2,10})$")
_FUTURE = re.compile(r"^([A-Z0-9]{1,5})-(\d{4})-(\d{2})$")
_OPTION = re.compile(r"^([A-Z][A-Z0-9.]{0,9})-(\d{4})-(\d{2})-(\d{2})-(\d+(?:\.\d+)?)-([CP])$")
_OCC = re.compile(r"^([A-Z][A-Z0-9.]{0,5})(\d{2})(\d{2})(\d{2})([CP])(\d{8})$")

_STRIKE_CAP = Decimal(100_000)
_STRIKE_TICK = Decimal("0.001")

_cache: dict[str, Instrument] = {}


def parse_symbol(text: str) -> Instrument:
    """Parse a symbol in the one syntax into an Instrument, or raise ModelError saying why."""
    if not isinstance(text, str):
        raise ModelError(f"symbol must be text, got {text!r}")
    key = text.strip().upper()
    hit = _cache.get(key)
    if hit is not None:
        return hit
    inst = _parse(key, text)
    if len(_cache) < 100_000:
        _cache[key] = inst
        _cache[inst.symbol] = inst
    return inst


def _parse(key: str, original: str) -> Instrument:
    if not key:
        raise ModelError("symbol is empty")
    if " " in key:
        raise ModelError(f"symbol {original.strip()!r} must not contain spaces")
    if m := _PAIR.match(key):
        return _pair(m.group(1), m.group(2))
    if m := _OPTION.match(key):
        und, y, mo, d, strike, right = m.groups()
        return _option(und, _date(int(y), int(mo), int(d), original), Decimal(strike), Right(right))
    if m := _FUTURE.match(key):
        root, y, mo = m.groups()
        return _future(root, int(y), int(mo), original)
    if m := _OCC.match(key):
        und, yy, mo, d, right, strike8 = m.groups()
        expiry = _date(2000 + int(yy), int(mo), int(d), original)
        return _option(und, expiry, Decimal(int(strike8)) / 1000, Right(right))
    if key in INDICES:
        return Instrument(symbol=key, asset_class=AssetClass.INDEX, exchange="CBOE")
    if _EQUITY.match(key):
        return Instrument(symbol=key, asset_class=AssetClass.EQUITY)
    raise ModelError(
        f"malformed symbol {original.strip()!r}: expected e.g. AAPL, BTC/USD, EUR/USD, ES-2026-12 or AAPL-2026-12-18-200-C"
    )


def _date(y: int, m: int, d: int, original: str) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        raise ModelError(f"symbol {original.strip()!r} has an impossible date") from None


def _pair(base: str, quote: str) -> Instrument:
    if base == quote:
        raise ModelError(f"symbol {base}/{quote} pairs a currency with itself")
    if base in FIAT and quote in FIAT:
        tick = Decimal("0.001") if quote == "JPY" else Decimal("0.00001")
        return Instrument(
            symbol=f"{base}/{quote}", asset_class=AssetClass.FOREX, base=base, currency=quote,
            tick_size=tick, lot_size=Decimal(1), exchange="IDEALPRO",
        )
    currency = "USD" if quote in STABLECOINS else quote
    return Instrument(
        symbol=f"{base}/{quote}", asset_class=AssetClass.CRYPTO, base=base, currency=currency,
        tick_size=Decimal("0.01"), lot_size=Decimal("0.0001"),
    )


def _future(root: str, year: int, month: int, original: str) -> Instrument:
    if not 1 <= month <= 12:
        raise ModelError(f"symbol {original.strip()!r} has month {month:02d}; expected 01 to 12")
    mult, tick, ccy, exch = FUTURES.get(root, (Decimal(1), Decimal("0.01"), "USD", None))
    return Instrument(
        symbol=f"{root}-{year:04d}-{month:02d}", asset_class=AssetClass.FUTURE, currency=ccy,
        tick_size=tick, lot_size=Decimal(1), multiplier=mult, underlying=root,
        expiry=_third_friday(year, month), exchange=exch,
    )


def _option(und: str, expiry: date, strike: Decimal, right: Right) -> Instrument:
    if strike <= 0:
        raise ModelError(f"option strike must be positive, got {plain(strike)}")
    if strike >= _STRIKE_CAP or strike != strike.quantize(_STRIKE_TICK):
        # the OCC symbol's strike field: eight digits, three of them decimals
        raise ModelError(f"option strike {plain(strike)} is out of range: strikes go up to 99999.999, in thousandths")
    return Instrument(
        symbol=f"{und}-{expiry.isoformat()}-{plain(strike)}-{right.value}", asset_class=AssetClass.OPTION,
        tick_size=Decimal("0.01"), lot_size=Decimal(1), multiplier=Decimal(100), underlying=und,
        expiry=expiry, strike=strike, right=right,
    )


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    offset = (4 - first.weekday()) % 7
    return date(year, month, 1 + offset + 14)


def cash_settled(inst: Instrument) -> bool:
    """Whether an option settles in cash at expiry (an option on a cash index: SPX, NDX, RUT)
    rather than by delivering its underlying (stock and ETF options: 100 shares)."""
    return inst.asset_class is AssetClass.OPTION and inst.underlying in INDICES


def occ_symbol(inst: Instrument) -> str:
    """The OCC form of an option (``AAPL261218C00200000``)."""
    if inst.asset_class is not AssetClass.OPTION or inst.expiry is None or inst.strike is None or inst.right is None:
        raise ModelError(f"{inst.symbol} is not an option")
    return f"{inst.underlying}{inst.expiry:%y%m%d}{inst.right.value}{int(inst.strike * 1000):08d}"


def split_symbols(values: list[str] | tuple[str, ...] | None) -> list[str]:
    """Accept ``-s AAPL TSLA``, ``-s AAPL,TSLA`` and repeated ``-s``; canonical, de-duplicated."""
    out: list[str] = []
    for value in values or ():
        for part in re.split(r"[,\s]+", value):
            if part:
                sym = parse_symbol(part).symbol
                if sym not in out:
                    out.append(sym)
    return out
