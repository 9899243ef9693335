"""Alert rules managed through an owning engine over the socket: a face lists them with
their statistics, disables, enables and edits them, and the owner's engine applies it."""

import pytest

from tests.serve.test_serve_limits import served
from workstation.api import IntentError
from workstation.serve.remote import RemoteEngine


async def test_a_face_manages_the_owners_alert_rules(tmp_path):
    async with served(tmp_path) as (_server, session, path, _port):
        session.alerts.add_rule("AAPL > 100000")
        face = RemoteEngine(path, kind="cli", quotes=False, reconnect=False)
        await face.connect()
        try:
            assert (await face.alert_rule("disable", "u1"))["id"] == "u1"
            assert "u1" in session.alerts.disabled
            got = await face.alert_rule("edit", "u1 AAPL cross below sma50 on 5m")
            assert got == {"id": "u1", "text": "AAPL cross below sma50 on 5m"}
            [row] = await face.alert_rules()
            assert (row.id, row.text, row.enabled, row.fired, row.suppressed) == ("u1", "AAPL cross below sma50 on 5m", False, 0, 0)
            with pytest.raises(IntentError, match="no alert rule 'u9'"):
                await face.alert_rule("enable", "u9")
        finally:
            await face.stop()
