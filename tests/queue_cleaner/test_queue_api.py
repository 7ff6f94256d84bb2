"""The queue cleaner end to end through its API, against fake Sonarr/Radarr servers that
check every request against the official OpenAPI documents."""
from __future__ import annotations

from sqlalchemy import text

from toolkit.testing import toolkit_of_app

from .conftest import check, checks, failed_pack


async def test_failed_pack_is_planned_on_the_third_check_with_every_episode(arr, toolkit_client):
    sonarr = arr("sonarr")
    _series, episodes, records = failed_pack(sonarr, messages=[("Show.S01", ["Download failed"])])
    assert (await check(toolkit_client))["entries"] == []
    assert (await check(toolkit_client))["entries"] == []
    plan = await check(toolkit_client)
    [entry] = plan["entries"]
    assert entry["rule"] == "failed" and entry["strikes"] == 3
    assert entry["action"] == "blocklist_search"
    assert entry["episode_ids"] == [e["id"] for e in episodes]
    assert entry["queue_id"] == min(r["id"] for r in records)
    assert sonarr.queue_removals == [] and sonarr.commands == []  # a dry run changes nothing


async def test_apply_blocklists_and_searches_exactly_the_affected_episodes(arr, toolkit_client):
    sonarr = arr("sonarr")
    _series, episodes, records = failed_pack(sonarr)
    plan = await checks(toolkit_client, 3)
    response = await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": plan["token"]})
    [applied] = (await response.get_json())["applied"]
    assert applied["ok"] is True, applied
    [(queue_id, params)] = sonarr.queue_removals
    assert queue_id == records[0]["id"]
    assert params == {"removeFromClient": True, "blocklist": True, "skipRedownload": True}
    assert sonarr.command_calls() == [("EpisodeSearch", {"episodeIds": [e["id"] for e in episodes]})]
    assert sonarr.queue == [] and len(sonarr.blocklist) == 1
    assert applied["blocklist_id"] == sonarr.blocklist[0]["id"]
    [row] = await (await toolkit_client.get("/api/queue/journal")).get_json()
    assert row["rule"] == "failed" and row["strikes"] == 3 and row["ok"] is True
    assert "EpisodeSearch sent" in row["answer"] and row["blocklist_id"] == sonarr.blocklist[0]["id"]


async def test_radarr_searches_exactly_the_movie(arr, toolkit_client):
    radarr = arr("radarr")
    movie, _file = radarr.add_movie("Film", "/movies/Film (2020)", with_file=False)
    radarr.add_queue_item("Film.2020.1080p", movie=movie, status="warning", tracked_status="warning",
                          messages=[("Film.2020.1080p", ["qBittorrent is reporting an error"])])
    plan = await checks(toolkit_client, 3)
    [entry] = plan["entries"]
    assert entry["rule"] == "debrid_error" and entry["movie_id"] == movie["id"]
    await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": plan["token"]})
    assert radarr.command_calls() == [("MoviesSearch", {"movieIds": [movie["id"]]})]


async def test_strikes_reset_when_the_state_changes_and_items_that_leave_are_forgotten(arr, toolkit_client):
    sonarr = arr("sonarr")
    _series, _episodes, records = failed_pack(sonarr)
    download_id = records[0]["downloadId"]
    await checks(toolkit_client, 2)
    sonarr.update_queue(download_id, status="downloading", trackedDownloadStatus="ok",
                        trackedDownloadState="importBlocked",
                        statusMessages=[{"title": "x", "messages": ["No files found are eligible for import"]}])
    plan = await check(toolkit_client)
    [item] = plan["observed"]
    assert item["rule"] == "missing_files" and item["strikes"] == 1  # another problem: from 1 again
    saved = list(sonarr.queue)
    sonarr.queue = []
    assert (await check(toolkit_client))["observed"] == []
    sonarr.queue = saved
    [item] = (await check(toolkit_client))["observed"]
    assert item["strikes"] == 1  # it had left the queue: forgotten


async def test_an_unreachable_arr_counts_no_strike_and_does_not_stop_the_others(arr, toolkit_client):
    sonarr, radarr = arr("sonarr"), arr("radarr")
    failed_pack(sonarr)
    movie, _ = radarr.add_movie("Film", "/movies/Film", with_file=False)
    radarr.add_queue_item("Film.2020", movie=movie, status="failed", tracked_state="failed")
    await checks(toolkit_client, 2)
    sonarr.inject(503, times=2, path="/queue")  # the request and its one retry
    plan = await check(toolkit_client)
    assert any("Sonarr" in e for e in plan["errors"])
    assert [e["app"] for e in plan["entries"]] == ["radarr"]  # radarr reached its third strike
    [item] = [o for o in (await check(toolkit_client))["observed"] if o["app"] == "sonarr"]
    assert item["strikes"] == 3  # 2 before the outage, none during it, 1 now


async def test_no_strike_while_a_known_mount_is_down(arr, toolkit_app, toolkit_client, tmp_path):
    sonarr = arr("sonarr")
    failed_pack(sonarr)
    await checks(toolkit_client, 3)
    tk = toolkit_of_app(toolkit_app)
    async with tk.sessions() as session:  # a mount earlier scans saw, now gone
        await session.execute(text(
            "INSERT INTO symlink_known_mounts (mount_point, fstype, last_seen_healthy) "
            "VALUES (:p, 'fuse.rclone', CURRENT_TIMESTAMP)"), {"p": str(tmp_path / "zurg")})
        await session.commit()
    plan = await check(toolkit_client)
    assert "a mount is down" in plan["held"]
    [entry] = plan["entries"]
    assert entry["strikes"] == 3 and "mount" in entry["guard"]
    response = await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": plan["token"]})
    assert (await response.get_json())["applied"] == [] and sonarr.queue_removals == []


async def test_protected_tags_and_download_ids_are_never_touched(arr, toolkit_client, monkeypatch):
    sonarr = arr("sonarr")
    keep = sonarr.add_tag("keep")
    series, _episodes, _records = failed_pack(sonarr)
    series["tags"] = [keep["id"]]
    _s2, _e2, other = failed_pack(sonarr, "Other.S01.WEB")
    monkeypatch.setenv("TOOLKIT_QUEUE__PROTECTED_TAGS", "Keep, spare")
    monkeypatch.setenv("TOOLKIT_QUEUE__PROTECTED_DOWNLOAD_IDS", other[0]["downloadId"].lower())
    plan = await checks(toolkit_client, 3)
    assert [(e["protected"], e["action"]) for e in plan["entries"]] == [(True, "ignore")] * 2
    response = await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": plan["token"]})
    assert (await response.get_json())["applied"] == [] and sonarr.queue_removals == []


async def test_removal_cap_and_search_budget(arr, toolkit_client, monkeypatch):
    sonarr = arr("sonarr")
    for n in range(3):
        failed_pack(sonarr, f"Show{n}.S01.WEB")
    monkeypatch.setenv("TOOLKIT_QUEUE__MAX_REMOVALS_PER_RUN", "2")
    monkeypatch.setenv("TOOLKIT_QUEUE__MAX_SEARCHES_PER_RUN", "1")
    plan = await checks(toolkit_client, 3)
    guards = [e["guard"] for e in plan["entries"]]
    assert guards[:2] == [None, None] and "removal cap reached (2" in guards[2]
    response = await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": plan["token"]})
    applied = (await response.get_json())["applied"]
    assert len(applied) == 2 and len(sonarr.queue_removals) == 2
    assert sonarr.command_names() == ["EpisodeSearch"]
    assert "budget of 1" in applied[1]["answer"]


async def test_download_client_health_error_holds_its_items(arr, toolkit_client):
    sonarr = arr("sonarr")
    failed_pack(sonarr)
    sonarr.health_items = [{"id": 1, "source": "DownloadClientCheck", "type": "error",
                            "message": "Unable to communicate with qBittorrent"}]
    plan = await checks(toolkit_client, 3)
    [entry] = plan["entries"]
    assert "download client error" in entry["guard"]


async def test_apply_is_bound_to_the_plan_and_its_token(arr, toolkit_client):
    sonarr = arr("sonarr")
    failed_pack(sonarr)
    plan = await checks(toolkit_client, 3)
    wrong = await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": "guess"})
    assert wrong.status_code == 403
    failed_pack(sonarr, "Late.S01.WEB")  # appears after the plan was made: not in it
    ok = await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": plan["token"]})
    assert [a["title"] for a in (await ok.get_json())["applied"]] == ["Show.S01.1080p.WEB-GRP"]
    assert [r["title"] for r in sonarr.queue] == ["Late.S01.WEB"] * 2
    again = await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": plan["token"]})
    assert again.status_code == 409 and (await again.get_json())["error"]["code"] == "plan_applied"
    missing = await toolkit_client.post("/api/queue/apply", json={"plan_id": 999, "token": "x"})
    assert missing.status_code == 404
    bad = await toolkit_client.post("/api/queue/apply", json={"plan_id": "one"})
    assert bad.status_code == 422


async def test_an_item_gone_before_apply_is_left_alone(arr, toolkit_client):
    sonarr = arr("sonarr")
    failed_pack(sonarr)
    plan = await checks(toolkit_client, 3)
    sonarr.queue = []
    response = await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": plan["token"]})
    [applied] = (await response.get_json())["applied"]
    assert applied["ok"] is False and "no longer in the queue" in applied["answer"]


async def test_undo_removes_the_blocklist_entry_and_searches_again(arr, toolkit_client):
    sonarr = arr("sonarr")
    _series, episodes, _records = failed_pack(sonarr)
    plan = await checks(toolkit_client, 3)
    await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": plan["token"]})
    [row] = await (await toolkit_client.get("/api/queue/journal")).get_json()
    response = await toolkit_client.post(f"/api/queue/journal/{row['id']}/undo")
    assert response.status_code == 200, await response.get_json()
    assert sonarr.blocklist == []
    ids = [e["id"] for e in episodes]
    assert sonarr.command_calls() == [("EpisodeSearch", {"episodeIds": ids})] * 2
    again = await toolkit_client.post(f"/api/queue/journal/{row['id']}/undo")
    assert again.status_code == 409
    assert (await toolkit_client.post("/api/queue/journal/12345/undo")).status_code == 404


async def test_the_same_release_grabbed_again_is_flagged(arr, toolkit_client):
    sonarr = arr("sonarr")
    series, episodes, _records = failed_pack(sonarr)
    plan = await checks(toolkit_client, 3)
    await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": plan["token"]})
    sonarr.add_queue_item("Show.S01.1080p.WEB-GRP", series=series, episodes=episodes)
    [item] = (await check(toolkit_client))["observed"]
    assert item["regrabbed"] is True


async def test_min_age_waits_for_young_downloads(arr, toolkit_client):
    sonarr = arr("sonarr")
    failed_pack(sonarr, added="2999-01-01T00:00:00Z")
    plan = await checks(toolkit_client, 4)
    assert plan["entries"] == [] and plan["observed"][0]["strikes"] == 4


async def test_nothing_configured_is_an_error_in_the_plan(toolkit_client):
    plan = await check(toolkit_client)
    assert plan["errors"] and "no Sonarr, Radarr or Lidarr" in plan["errors"][0]


async def test_wrong_input_is_a_clear_4xx_or_a_message_never_a_500(toolkit_client):
    huge = 2**64
    response = await toolkit_client.post("/api/queue/apply", json={"plan_id": huge, "token": "x"})
    assert response.status_code == 422 and "body.plan_id" in (await response.get_json())["error"]["fields"]
    assert (await toolkit_client.post(f"/api/queue/journal/{huge}/undo")).status_code == 404
    page = await toolkit_client.post("/queue/apply", form={"plan_id": str(huge), "token": "x"})
    assert page.status_code == 200 and "does not name a plan" in await page.get_data(as_text=True)
    rules = await toolkit_client.post("/queue/rules", form={"strikes": "many", "message_rules": "no arrow"})
    text = await rules.get_data(as_text=True)
    assert rules.status_code == 422 and "write  name: pattern =&gt; action" in text


async def test_notifications_say_each_new_plan_once_and_each_apply(arr, toolkit_client, monkeypatch):
    from fakes.inbox import Inbox

    inbox = Inbox()
    try:
        monkeypatch.setenv("TOOLKIT_NOTIFICATIONS__URLS", inbox.url)
        sonarr = arr("sonarr")
        failed_pack(sonarr)
        plan = await checks(toolkit_client, 4)  # planned on the 3rd check, still on the 4th
        [planned] = inbox.wait_for(1)
        assert planned["title"] == "Queue: 1 download(s) to clean up"
        assert "Show.S01.1080p.WEB-GRP: failed -> blocklist_search" in planned["message"]
        await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": plan["token"]})
        messages = inbox.wait_for(2)
        assert [m["title"] for m in messages] == ["Queue: 1 download(s) to clean up",
                                                  "Queue: 1 download(s) cleaned up"]
        assert "/queue?tab=journal" in messages[1]["message"]
    finally:
        inbox.close()


async def test_a_stalled_download_is_blocklisted_without_a_search(arr, toolkit_client):
    sonarr = arr("sonarr")
    series = sonarr.add_series("Slow", "/tv/Slow")
    episodes = sonarr.add_episodes(series, 1, [1])
    sonarr.add_queue_item("Slow.S01E01", series=series, episodes=episodes, sizeleft=5_000_000)
    plan = await checks(toolkit_client, 3)
    assert plan["entries"] == [] and plan["observed"][0]["rule"] == "stalled"  # 2 strikes
    plan = await check(toolkit_client)
    [entry] = plan["entries"]
    assert (entry["rule"], entry["strikes"], entry["action"]) == ("stalled", 3, "blocklist")
    await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": plan["token"]})
    assert sonarr.queue_removals[0][1]["blocklist"] is True and sonarr.commands == []


async def test_the_page_speaks_french_to_a_french_browser(toolkit_client):
    french = {"Accept-Language": "fr-FR,fr;q=0.9"}
    plan = await (await toolkit_client.get("/queue?tab=plan", headers=french)).get_data(as_text=True)
    assert "Nettoyage des files" in plan and "Vérifier maintenant" in plan and "Rien à faire" in plan
    rules = await (await toolkit_client.get("/queue?tab=rules", headers=french)).get_data(as_text=True)
    assert "Avertissements" in rules and "Quand le téléchargement a échoué" in rules
    assert "Enregistrer les règles" in rules and "Strikes" not in rules


async def test_a_search_that_fails_after_the_blocklist_keeps_the_undo(arr, toolkit_client):
    sonarr = arr("sonarr")
    failed_pack(sonarr)
    plan = await checks(toolkit_client, 3)
    sonarr.inject(500, times=1, method="POST", path="/command")  # a POST answered 500 is not repeated
    response = await toolkit_client.post("/api/queue/apply", json={"plan_id": plan["id"], "token": plan["token"]})
    [applied] = (await response.get_json())["applied"]
    assert applied["ok"] is True and "then:" in applied["answer"] and sonarr.commands == []
    assert applied["blocklist_id"] == sonarr.blocklist[0]["id"]
    [row] = await (await toolkit_client.get("/api/queue/journal")).get_json()
    assert (await toolkit_client.post(f"/api/queue/journal/{row['id']}/undo")).status_code == 200
    assert sonarr.blocklist == [] and sonarr.command_names() == ["EpisodeSearch"]
