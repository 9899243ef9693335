"""Alpaca (alpaca-py): US equities and crypto, paper and live, behind ``brokers.base.Broker``.

How it works
------------
* REST (account, positions, orders, assets, bars) goes through alpaca-py's synchronous
  clients, always off the event loop (``asyncio.to_thread``), through a per-minute rate
  limiter, with exponential backoff and jitter on HTTP 429.
* The ``trade_updates`` stream and the market-data streams are alpaca-py's own stream
  objects, driven by this adapter in the engine's event loop (their ``run()`` would start a
  private loop and reconnect behind our back). Each stream has a supervisor that connects
  (the trading stream: until the server says "listening"), consumes, and on any drop
  reconnects with exponential backoff and jitter, resubscribes, and reports the
  connection state; the session resynchronises when the state goes back to "connected".
  The trading socket is pinged every 10 s (a silent-but-dead socket closes after 20 s);
  a market-data stream that stays silent for ``stale_after`` seconds is restarted.
* Money is exact: the clients run with ``raw_data=True``, so every price and quantity from
  Alpaca goes from its JSON (strings; a JSON number by its shortest text) into a ``Decimal``.
  The SDK's request models carry floats; a Decimal goes out only if its float's shortest
  text is the same number (else a BrokerError names the value).
* Our client order id is Alpaca's ``client_order_id``. A replacement needs a fresh one,
  so it gets ``<ours>.r<hex>``; everything before ``.r`` maps events back to our order.
* A fill's ``exec_id`` is ``<alpaca order id>@<cumulative filled qty>``: the same text
  whether the fill arrives on the stream or is found later in the FILL activities after
  a reconnect, so a fill seen both ways is booked exactly once.
* A bracket's two exits (sent by the order manager once the entry fills) go out as one
  native OCO order, ``client_order_id`` ``<take-profit>+<stop-loss>``; its stop leg, whose
  id Alpaca chooses, is mapped back through the parent (``nested=true`` order listings).

Settings (``Profile.options``; users need none of them): ``feed`` ("iex" or "sip"),
``stale_after`` (s), ``request_timeout`` (s), ``connect_timeout`` (s), ``ping_interval`` and
``ping_timeout`` (s), ``rate_limit``
(requests per minute), ``backoff_min``/``backoff_max`` (s), and base-URL overrides
``trading_url``, ``data_url``, ``trading_stream_url``, ``stock_stream_url``,
``crypto_stream_url`` (how the tests point the real SDK at a loopback fake).
Keys come from ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY`` or the OS keyring
(service ``workstation-alpaca``), never from settings; they are never logged.
"""

from brokers.alpaca.adapter import AlpacaBroker
from brokers.alpaca.keys import KEY_VAR, KEYRING_SERVICE, SECRET_VAR, find_keys
from brokers.alpaca.streams import Backoff, RateLimiter
from brokers.alpaca.translate import (
    dec,
    instrument_from_asset,
    oco_request,
    order_request,
    our_client_id,
    our_symbol,
    parse_time,
    report_from_update,
    to_float,
)

__all__ = [
    "KEYRING_SERVICE", "KEY_VAR", "SECRET_VAR", "AlpacaBroker", "Backoff", "RateLimiter", "dec", "find_keys",
    "instrument_from_asset", "oco_request", "order_request", "our_client_id", "our_symbol", "parse_time",
    "report_from_update", "to_float",
]
