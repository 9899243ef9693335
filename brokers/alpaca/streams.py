"""Pacing and supervision: a per-minute rate limiter, backoff with jitter, and the supervised
websocket links that drive alpaca-py's stream objects in the engine's event loop."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import websockets
from alpaca.trading.stream import TradingStream

from brokers.base import redact
from workstation.core.clock import Clock

log = logging.getLogger("brokers.alpaca")


class LinkOwner(Protocol):
    stale_after: float
    backoff: Backoff

    def link_changed(self, link: Link, reason: str) -> None: ...


class RateLimiter:
    """A token bucket: at most ``per_minute`` requests in any minute, bursts allowed up to it."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self.capacity = float(per_minute)
        self.tokens = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.stamp = clock.monotonic()
        self.lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self.lock:
            while True:
                now = self.clock.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class Backoff:
    """Exponential backoff with equal jitter: attempt n waits in [d/2, d], d = min(max, base * 2**(n-1))."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self.base, self.cap = base, cap
        self.rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        d = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        return d / 2 + self.rng.random() * d / 2



class ListeningTradingStream(TradingStream):
    """alpaca-py's trading stream, telling us when the server says "listening"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listening = asyncio.Event()

    async def _dispatch(self, msg: dict) -> None:
        if msg.get("stream") == "listening":
            self.listening.set()
            return
        await super()._dispatch(msg)


class Link:
    """One supervised websocket: connect, consume, and on any drop back off and reconnect."""

    def __init__(self, name: str, owner: LinkOwner, open_: Callable[[], Awaitable[Any]]) -> None:
        self.name = name
        self.owner = owner
        self.open = open_
        self.state = "connecting"  # connecting (first attempt), up, down
        self.stream: Any = None
        self.up = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.restarts = 0
        self.stopping = False

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run(), name=f"alpaca-{self.name}")

    async def run(self) -> None:
        attempt = 0
        restarted = ""  # why a healthy connection was restarted (silence), for the state's detail
        while not self.stopping:
            try:
                self.stream = await self.open()
                self.state = "up"
                self.up.set()
                attempt = 0
                self.owner.link_changed(self, restarted)
                restarted = ""
                stale = await self.stream._consume()
                if not stale:
                    return  # stopped on purpose
                # connected but silent: restart quietly; only a failed reconnect counts as down
                restarted = f"no market data for {self.owner.stale_after:g}s"
                self.restarts += 1
                log.warning("alpaca %s stream silent for %gs; restarting it", self.name, self.owner.stale_after)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a closed socket, a refused one, a malformed frame: reconnect
                if self.stopping:
                    return
                reason = _ws_reason(exc)
                log.warning("alpaca %s stream dropped: %s", self.name, reason)
                if self.state == "up" or attempt > 0:
                    self.state = "down"
                    self.up.clear()
                    self.owner.link_changed(self, reason)
            finally:
                await self.close_stream()
            attempt += 1
            await asyncio.sleep(self.owner.backoff.delay(attempt))

    async def close_stream(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            try:
                await stream.close()
            except Exception as exc:  # closing a broken socket may fail; it is gone either way
                log.debug("closing alpaca %s stream: %s", self.name, exc)

    async def stop(self) -> None:
        """Stop for good. Python 3.11's wait_for can swallow a cancel (the SDK's consume loop
        uses it), so the loop is also told through the SDK's stop queue and its socket is
        closed, and the wait is bounded."""
        self.stopping = True
        if self.stream is not None:
            self.stream._stop_stream_queue.put_nowait({"should_stop": True})
        if self.task is not None:
            self.task.cancel()
        await self.close_stream()
        if self.task is not None:
            await asyncio.wait({self.task}, timeout=2.0)


def _ws_reason(exc: BaseException) -> str:
    if not isinstance(exc, (websockets.WebSocketException, OSError, TimeoutError)):
        log.warning("alpaca stream error", exc_info=exc)
    text = str(exc) or type(exc).__name__
    return redact(text.splitlines()[0])[:200]

