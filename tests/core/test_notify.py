"""Notifications through Apprise, delivered to a real HTTP endpoint on 127.0.0.1."""
from __future__ import annotations

from fakes.inbox import Inbox

from toolkit.core.settings import MASK
from toolkit.testing import toolkit_of_app


async def test_settings_validate_urls_and_mask_them(toolkit_client, inbox):
    bad = await toolkit_client.post("/api/toolkit/settings/notifications",
                                    json={"urls": "notaservice://x\n"})
    assert bad.status_code == 422
    assert "line 1" in (await bad.get_json())["error"]["fields"]["urls"]
    ok = await toolkit_client.post("/api/toolkit/settings/notifications", json={"urls": inbox.url})
    assert (await ok.get_json())["values"]["urls"] == MASK


async def test_test_button_delivers_a_short_message_with_a_link(toolkit_client, inbox):
    await toolkit_client.post("/api/toolkit/settings/notifications", json={"urls": inbox.url})
    response = await toolkit_client.post("/api/toolkit/notifications/test")
    assert (await response.get_json()) == {"sent": True, "targets": 1, "skipped": None}
    (message,) = inbox.messages
    assert message["path"] == "/hook"
    assert message["title"] == "Redriva Toolkit: test"
    assert message["message"].splitlines()[-1] == "http://localhost/"


async def test_test_without_urls_is_a_clear_error(toolkit_client):
    response = await toolkit_client.post("/api/toolkit/notifications/test")
    assert response.status_code == 422
    assert (await response.get_json())["error"]["message"] == "no notification URL is configured"


async def test_delivery_failure_is_reported_not_raised(toolkit_client):
    failing = Inbox(status=500)
    try:
        await toolkit_client.post("/api/toolkit/settings/notifications", json={"urls": failing.url})
        response = await toolkit_client.post("/api/toolkit/notifications/test")
        assert response.status_code == 502
        assert (await response.get_json())["error"]["code"] == "delivery_failed"
        assert len(failing.messages) == 1
    finally:
        failing.close()


async def test_event_switches(toolkit_app, inbox):
    tk = toolkit_of_app(toolkit_app)
    await tk.settings.update("notifications", {"urls": inbox.url, "on_problems": False})
    off = await tk.notifier.send("problems", "t", "b")
    assert (off.sent, off.skipped) == (False, "notifications for 'problems' are off")
    on = await tk.notifier.send("failure", "Scan failed", "boom", link="/symlink")
    assert on.sent and inbox.messages[0]["type"] == "failure"
    assert inbox.messages[0]["message"] == "boom\n/symlink"
