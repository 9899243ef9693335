"""``main.py status``: whose buying power it is, and the broker's own figures when it has them."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.alpaca_support import write_settings
from tests.conftest import run_cli
from tests.fakes.alpaca_fake import KEY, SECRET, AlpacaFake, FakePosition

KEYS = {"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


@pytest.mark.slow
def test_paper_status_says_its_buying_power_is_local_and_shows_no_broker_figures(home):
    r = run_cli("status", "--json", home=home)
    assert r.returncode == 0, r.stderr
    acct = json.loads(r.stdout)["account"]
    assert acct["buying_power"] == "200000" and acct["buying_power_source"] == "local"
    assert acct["initial_margin"] is None and acct["day_trades_left"] is None  # unknown, not 0
    text = run_cli("status", home=home)
    assert "buying power 200,000.00 (local)" in text.stdout
    assert "margin" not in text.stdout and "day trades left" not in text.stdout  # no broker figures
    # (the engine's own pattern-day-trader row is there, off above $25,000 of equity)
    assert any("day trades (5d)" in line and "equity ≥ $25k" in line and "off" in line for line in text.stdout.splitlines())


class _IbLikeFake(AlpacaFake):
    """The Alpaca fake, saying a buying power no local formula gives (as IB did: 395,439 for 200,000)."""

    async def _account(self, request):
        from aiohttp import web

        answer = await super()._account(request)
        if answer.status != 200:
            return answer
        doc = json.loads(answer.text)
        doc["buying_power"] = "395439.12"
        return web.json_response(doc)


@pytest.fixture
def ib_like():
    f = _IbLikeFake().start()
    yield f
    f.stop()


@pytest.mark.slow
def test_status_on_a_broker_shows_the_brokers_buying_power(ib_like, home):
    ib_like.positions["AAPL"] = FakePosition("AAPL", Decimal(100), Decimal(150))
    write_settings(home, ib_like)
    r = run_cli("status", "--profile", "alpaca-paper", "--json", home=home, env=KEYS)
    assert r.returncode == 0, r.stderr
    acct = json.loads(r.stdout)["account"]
    assert acct["buying_power"] == "395439.12" and acct["buying_power_source"] == "broker"
    text = run_cli("status", "--profile", "alpaca-paper", home=home, env=KEYS)
    assert "buying power 395,439.12 (broker)" in text.stdout


def test_status_text_shows_margin_and_day_trades_only_when_the_broker_gave_them(capsys, monkeypatch, tmp_path):
    import asyncio

    from tests.fakes.scripted import ScriptedBroker
    from tests.risk_helpers import build
    from workstation.cli import listings
    from workstation.cli.app import main
    from workstation.core.model import Account

    class Broker(ScriptedBroker):
        name = "ib-test"
        keeps_account = True

        async def account(self):
            return Account(
                currency="USD", cash=Decimal(100_000), equity=Decimal(100_000), buying_power=Decimal("395439.5"),
                from_broker=True, initial_margin=Decimal("12000"), maintenance_margin=Decimal("9000.25"), day_trades_left=3,
            )

    def through_the_session(profile, config, data, body, **_kw):
        async def run():
            s, _, _ = build(tmp_path, broker=Broker())
            await s.start(feed=False)
            try:
                return await body(s)
            finally:
                await s.stop()

        return asyncio.run(run())

    monkeypatch.setattr(listings, "with_session", through_the_session)
    with pytest.raises(SystemExit) as done:
        main(["status"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert "buying power 395,439.50 (broker)" in out
    assert "initial margin 12,000.00   maintenance margin 9,000.25   day trades left 3" in out
    assert "excess liquidity" not in out  # the broker did not say: not shown as 0
