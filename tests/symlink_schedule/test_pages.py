"""The Schedules tab and the Notifications section through the real app's htmx endpoints."""
from __future__ import annotations

from urllib.parse import urlencode

from toolkit.core.settings import MASK
from toolkit.testing import toolkit_of_app

from .conftest import run_schedule, save_schedule

HX = {"HX-Request": "true"}


async def post_form(client, url: str, pairs: list[tuple[str, str]]):
    """A form with repeated names (a hidden "false" then the checkbox's "true")."""
    return await client.post(url, data=urlencode(pairs),
                             headers={**HX, "Content-Type": "application/x-www-form-urlencoded"})


async def test_schedules_tab_is_in_the_url_and_starts_with_a_nightly_dry_run_form(toolkit_client, media_env):
    html = await (await toolkit_client.get("/symlink?tab=schedules")).get_data(as_text=True)
    assert 'aria-selected="true"' in html.split('id="tab-schedules"')[1].split(">")[0]
    assert 'id="sl-schedule-form"' in html and 'value="nightly"' in html
    assert 'name="mode" value="dry-run" checked' in html
    assert "needs “Scheduled deletions” turned on" in html  # real mode: the opt-in is off
    assert "symlink-weekly-dry-run" in html  # the plugin's default schedule, disabled
    assert "weekly on Sunday at 04:00" in html


async def test_saving_a_schedule_shows_its_next_run_and_errors_per_field(toolkit_client, media_env):
    bad = await toolkit_client.post("/symlink/schedules", headers=HX, form={
        "name": "night!", "frequency": "cron", "cron": "61 * * * *", "paths": "../etc\nShow 1",
        "mode": "real", "verification_depth": "basic", "enabled": "true"})
    html = await bad.get_data(as_text=True)
    for field in ("name", "cron", "paths", "mode"):
        assert f'id="sched-err-{field}"' in html, field
    assert "is not allowed" in html and 'value="61 * * * *"' in html  # what was typed stays
    listed = await (await toolkit_client.get("/api/symlink/schedules")).get_json()
    assert [s["name"] for s in listed] == ["symlink-weekly-dry-run"]  # nothing saved

    good = await toolkit_client.post("/symlink/schedules", headers=HX, form={
        "name": "nightly", "frequency": "daily", "time": "01:15", "paths": "Show 1",
        "mode": "dry-run", "verification_depth": "basic", "enabled": "true"})
    html = await good.get_data(as_text=True)
    (saved,) = [s for s in await (await toolkit_client.get("/api/symlink/schedules")).get_json()
                if s["name"] == "nightly"]
    assert saved["paths"] == [str(media_env.media / "Show 1")] and saved["cron"] == "15 1 * * *"
    assert f"Schedule “nightly” saved: daily at 01:15, next run {saved['next_run']}." in html

    off = await toolkit_client.post("/symlink/schedules/nightly/enabled", headers=HX, form={"enabled": "false"})
    assert "Schedule “nightly” disabled." in await off.get_data(as_text=True)
    listed = {s["name"]: s for s in await (await toolkit_client.get("/api/symlink/schedules")).get_json()}
    assert listed["nightly"]["enabled"] is False and listed["nightly"]["next_run_at"] is None

    edit = await (await toolkit_client.get("/symlink?tab=schedules&edit=nightly", headers=HX)).get_data(as_text=True)
    assert "Edit “nightly”" in edit and 'value="01:15"' in edit
    assert f'placeholder="TV Shows">{media_env.media / "Show 1"}</textarea>' in edit
    gone = await toolkit_client.post("/symlink/schedules/nightly/delete", headers=HX)
    assert "Schedule “nightly” deleted." in await gone.get_data(as_text=True)
    assert "nightly" not in {s["name"] for s in await (await toolkit_client.get("/api/symlink/schedules")).get_json()}


async def test_weekly_and_rename_through_the_api(toolkit_client, media_env):
    await save_schedule(toolkit_client, name="sunday", frequency="weekly", weekday=6, time="23:59")
    renamed = await save_schedule(toolkit_client, name="saturday", original="sunday", frequency="weekly",
                                  weekday=6, time="23:59")
    assert renamed["description"] == "weekly on Saturday at 23:59"
    names = {s["name"] for s in await (await toolkit_client.get("/api/symlink/schedules")).get_json()}
    assert "saturday" in names and "sunday" not in names
    taken = await toolkit_client.post("/api/symlink/schedules", json={"name": "symlink-weekly-dry-run"})
    assert (await taken.get_json())["error"]["fields"]["name"] == "another schedule has this name"
    missing = await toolkit_client.delete("/api/symlink/schedules/nope")
    assert missing.status_code == 404


async def test_history_marks_scheduled_scans(toolkit_app, toolkit_client, media_env):
    await save_schedule(toolkit_client)
    await run_schedule(toolkit_of_app(toolkit_app), "nightly")
    html = await (await toolkit_client.get("/symlink?tab=dashboard")).get_data(as_text=True)
    assert "⏰ nightly" in html
    schedules_tab = await (await toolkit_client.get("/symlink?tab=schedules")).get_data(as_text=True)
    assert "sl-status-completed" in schedules_tab.split('data-schedule="nightly"')[1]


async def test_notification_settings_autosave_masked_and_test_button(toolkit_client, inbox):
    html = await (await toolkit_client.get("/symlink?tab=settings")).get_data(as_text=True)
    assert 'id="sl-notifications"' in html and 'id="sl-notify-test"' in html
    empty = await toolkit_client.post("/symlink/settings/notifications/test", headers=HX)
    assert "no notification URL is configured" in await empty.get_data(as_text=True)

    bad = await toolkit_client.post("/symlink/settings/notifications", headers=HX, form={"urls": "nope://x"})
    html = await bad.get_data(as_text=True)
    assert 'data-state="error"' in html and "line 1" in html.split('id="notify-err-urls"')[1]
    ok = await post_form(toolkit_client, "/symlink/settings/notifications", [
        ("urls", inbox.url), ("on_problems", "false"), ("on_problems", "true"), ("on_failure", "false")])
    assert 'data-state="saved"' in await ok.get_data(as_text=True)
    html = await (await toolkit_client.get("/symlink?tab=settings")).get_data(as_text=True)
    assert inbox.url not in html and f">{MASK}</textarea>" in html  # stored, never shown
    stored = await (await toolkit_client.get("/api/toolkit/settings/notifications")).get_json()
    assert stored["values"]["on_problems"] is True and stored["values"]["on_failure"] is False
    # the mask sent back keeps the stored URLs
    await toolkit_client.post("/symlink/settings/notifications", headers=HX, form={"urls": MASK})

    sent = await toolkit_client.post("/symlink/settings/notifications/test", headers=HX)
    assert 'data-sent="true"' in await sent.get_data(as_text=True)
    (message,) = inbox.wait_for(1)
    assert message["title"] == "Redriva Toolkit: test"
    assert message["message"].splitlines()[-1] == "http://localhost/symlink?tab=settings"


async def test_scheduled_deletions_opt_in_is_a_setting(toolkit_client, media_env):
    response = await post_form(toolkit_client, "/symlink/settings",
                               [("scheduled_deletions", "false"), ("scheduled_deletions", "true")])
    assert 'data-state="saved"' in await response.get_data(as_text=True)
    assert (await (await toolkit_client.get("/api/symlink/config")).get_json())["scheduled_deletions"] is True
    html = await (await toolkit_client.get("/symlink?tab=schedules")).get_data(as_text=True)
    assert "Deletes only when no mount was down" in html
