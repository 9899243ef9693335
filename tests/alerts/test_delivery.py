"""Alert delivery for real over loopback: an SMTP server (aiosmtpd) and an HTTP webhook (apprise json://)."""

import json
import socket
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer

import msgspec
import pytest

from tests.risk_helpers import build, order, settings
from workstation.alerts.engine import Alert
from workstation.alerts.delivery import Channel, Dispatcher, channel_label
from workstation.core.model import OrderStatus


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


@pytest.fixture
def webhook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port, received
    server.shutdown()
    server.server_close()


def wait_for(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def with_channels(channels, **alert_settings):
    st = settings()
    return msgspec.structs.replace(
        st, alerts=msgspec.convert({"bell": False, "channels": channels, "retries": 1, "retry_delay": 0.05, **alert_settings}, type(st.alerts))
    )


async def test_delivers_by_email_and_webhook_by_priority(tmp_path, smtp, webhook):
    smtp_port, mails = smtp
    hook_port, posts = webhook
    st = with_channels([
        {"url": f"mailto://127.0.0.1:{smtp_port}?mode=insecure&from=ws@example.com&to=trader@example.com", "min_priority": "high"},
        {"url": f"json://127.0.0.1:{hook_port}/alerts", "min_priority": "low"},
    ])
    s, broker, _ = build(tmp_path, st)
    await s.start(feed=False)
    try:
        broker.set_quote("AAPL", 99.99, 100.01, 100.0)
        s.set_limit("max_order_qty", "5")
        rejected = await s.oms.submit(order(qty=6, limit_price=100))  # high: both channels
        s.alerts.raise_alert("Note", "a low-priority note", priority="low")  # low: the webhook only
        assert s.dispatcher.wait_idle()
    finally:
        await s.stop()
    assert rejected.status is OrderStatus.REJECTED
    assert len(mails) == 1
    rcpt, mail = mails[0]
    assert rcpt == ["trader@example.com"] and mail["Subject"] == "[HIGH] Order rejected"
    assert "order quantity 6 exceeds max_order_qty 5" in mail.get_payload()[0].get_payload(decode=True).decode()
    assert [(p, b["title"]) for p, b in posts] == [("/alerts", "[HIGH] Order rejected"), ("/alerts", "[LOW] Note")]
    assert "order quantity 6 exceeds max_order_qty 5" in posts[0][1]["message"]
    assert posts[0][1]["type"] == "warning"


async def test_a_failing_channel_is_reported_once_and_never_delays_an_order(tmp_path, webhook):
    hook_port, posts = webhook
    dead = free_port()  # nothing listens here
    st = with_channels([
        {"url": f"json://127.0.0.1:{dead}/x", "min_priority": "low"},
        {"url": f"json://127.0.0.1:{hook_port}/ok", "min_priority": "low"},
    ], retries=2, retry_delay=0.05)
    s, broker, _ = build(tmp_path, st)
    await s.start(feed=False)
    try:
        names = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL"]
        for sym in names:
            broker.set_quote(sym, 99.99, 100.01, 100.0)
        s.set_limit("max_order_qty", "1")
        started = time.perf_counter()
        for sym in names:
            await s.oms.submit(order(sym, qty=2, limit_price=100))  # each one rejected, each one alerted
        elapsed = time.perf_counter() - started
        assert elapsed < 0.5  # five alerts with a dead channel (each tried 3 times with backoff) did not slow the orders
        assert s.dispatcher.wait_idle(30)
        import asyncio

        for _ in range(50):  # the failure report hops back to the event loop
            await asyncio.sleep(0.01)
    finally:
        await s.stop()
    failing = [a for a in s.alerts.recent if a.title == "Alert channel failing"]
    assert len(failing) == 1 and failing[0].message.startswith(f"channel 1 (json://127.0.0.1:{dead}/x)")
    assert "after 3 attempts" in failing[0].message
    assert len([p for p in posts if p[1]["title"] == "[HIGH] Order rejected"]) == 5  # the good channel got them all
    # five rejections, and the failure report itself (high), each tried three times: reported once
    assert s.dispatcher.channels[0].failed == 6 and s.dispatcher.channels[0].sent == 0


def test_bell_rings_for_high_and_critical_only():
    rings = []
    d = Dispatcher([], bell=True, ring=lambda: rings.append(1))
    d.start()
    for n, p in enumerate(("low", "normal", "high", "critical")):
        d.deliver(Alert(id=n, ts=0, title="t", message="m", priority=p))
    assert d.wait_idle()
    d.stop()
    assert len(rings) == 2


def test_recovery_is_reported_once():
    reports = []
    outcomes = iter([False, False, True, True])

    class Flaky(Channel):
        def send(self, alert):
            return next(outcomes)

    ch = Flaky("json://127.0.0.1:1/", "low", "flaky")
    d = Dispatcher([ch], report=lambda *a: reports.append(a), retries=0, retry_delay=0)
    d.start()
    for n in range(4):
        d.deliver(Alert(id=n, ts=0, title="t", message="m", priority="high"))
    assert d.wait_idle()
    d.stop()
    assert reports == [("flaky", "delivery failed after 1 attempts", False), ("flaky", "", True)]


def test_channel_labels_hide_secrets():
    assert channel_label("mailto://user:secret@smtp.example.com:587?to=a@b.c", 2) == "channel 2 (mailto://user:****@smtp.example.com:587/)"
    assert "ABCDEFsecret" not in channel_label("tgram://123456:ABCDEFsecret/12345", 1)
    assert channel_label("nonsense://x", 3) == "channel 3 (nonsense://, not a URL apprise can use)"
